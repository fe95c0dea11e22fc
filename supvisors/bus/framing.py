"""Wire format of the internal bus: a 4-byte big-endian length, then the UTF-8 JSON array
``[message_code, [sender_identifier, body]]``.

Decoding is defensive: anything received from the network may be garbage, truncated or oversized, and must never
raise anything but the two errors below, which the bus logs before dropping the frame or the connection.

With a shared secret (option ``internal_secret``), each TCP connection starts with a handshake frame from each
side, ``b'SVH1' + nonce`` (16 random bytes drawn for this connection), and every other frame becomes
``b'SVA1' + sequence (8 bytes, big-endian) + tag (32 bytes) + JSON``, where the tag is the HMAC-SHA256 with the
secret of a context, the sequence number and the JSON. The context holds the direction of the frame, the
identifier of the publisher and both nonces, so a frame is valid on one connection, in one direction, once:

* a frame captured on another connection, before a restart of its sender or of its receiver, fails the tag (the
  receiver's nonce is new), which needs neither synchronised clocks nor persistent counters;
* a frame replayed on the same connection fails the sequence check (strictly increasing per direction);
* a frame sent back to its sender fails the tag (the direction differs);
* a subscriber's frames are bound to the identifier of the publisher it meant to reach, so they cannot be
  relayed to another member by someone listening on the address of a member that is down.

The lengths of the frames still come first and are not covered: the tag is checked once the frame is complete.
Without a secret the wire format is the plain one above.
"""

import hashlib
import hmac
import json
import os
import struct
from typing import Any, List, Optional, Tuple

HEADER = struct.Struct('>I')

# Largest frame accepted: a process list of a few thousand processes fits well below it.
MAX_FRAME_SIZE = 16 * 1024 * 1024


class FrameError(Exception):
    """ The byte stream cannot be trusted any more (oversized length): the connection must be dropped. """


class MessageError(Exception):
    """ One frame holds something that is not a valid message: the frame is dropped, the connection kept. """


def encode(code: int, sender: str, body: Any) -> bytes:
    payload = json.dumps([int(code), [sender, body]], separators=(',', ':')).encode('utf-8')
    if len(payload) > MAX_FRAME_SIZE:
        raise ValueError(f'message too large to be published: {len(payload)} bytes')
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> Tuple[int, str, Any]:
    """ Turn a frame payload into (code, sender, body) or raise MessageError. """
    if payload.startswith(AUTH_MAGICS):
        raise MessageError('authenticated frame: the sender has an internal_secret and this instance has none'
                           ' (both must share the same internal_secret)')
    try:
        message = json.loads(payload.decode('utf-8'))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: too deeply nested
        raise MessageError(f'not a JSON message: {exc}')
    if not (isinstance(message, list) and len(message) == 2 and isinstance(message[0], int)
            and not isinstance(message[0], bool) and isinstance(message[1], list) and 1 <= len(message[1]) <= 2
            and isinstance(message[1][0], str)):
        raise MessageError(f'unexpected message structure: {_excerpt(payload)}')
    code = message[0]
    sender = message[1][0]
    body = message[1][1] if len(message[1]) == 2 else None
    return code, sender, body


def _excerpt(payload: bytes, size: int = 80) -> str:
    text = repr(payload[:size])
    return text + ('...' if len(payload) > size else '')


class FrameDecoder:
    """ Reassembles frames from the chunks read on one TCP stream. """

    def __init__(self, max_size: int = MAX_FRAME_SIZE):
        self.max_size = max_size
        self.buffer = bytearray()

    def feed(self, data: bytes) -> List[bytes]:
        """ Return the complete frame payloads; raise FrameError when a header announces an oversized frame. """
        self.buffer.extend(data)
        frames = []
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if size > self.max_size:
                self.buffer.clear()
                raise FrameError(f'oversized frame announced: {size} bytes (max {self.max_size})')
            if len(self.buffer) < HEADER.size + size:
                break
            frames.append(bytes(self.buffer[HEADER.size:HEADER.size + size]))
            del self.buffer[:HEADER.size + size]
        return frames

    @property
    def pending(self) -> int:
        """ Number of bytes of an incomplete frame (non-zero at EOF means a truncated frame). """
        return len(self.buffer)


# ---------------------------------------------------------------------------------------------------------------------
# Authentication of the frames with a shared secret
# ---------------------------------------------------------------------------------------------------------------------
HELLO_MAGIC = b'SVH1'
TAGGED_MAGIC = b'SVA1'
AUTH_MAGICS = (HELLO_MAGIC, TAGGED_MAGIC)
NONCE_SIZE = 16
SEQUENCE = struct.Struct('>Q')
TAG_SIZE = hashlib.sha256().digest_size
TAGGED_HEADER_SIZE = len(TAGGED_MAGIC) + SEQUENCE.size + TAG_SIZE
CONTEXT_LABEL = b'supvisors-internal-bus-1'
TO_SUBSCRIBER = b'P'  # frames written by the publisher
TO_PUBLISHER = b'S'  # frames written by a subscriber


class AuthError(MessageError):
    """ A frame fails authentication: it is dropped and logged like any invalid message. """


def make_tag(secret: bytes, context: bytes, sequence: int, payload: bytes) -> bytes:
    """ The tag of one frame (reference implementation of what LinkAuth computes incrementally). """
    return hmac.new(secret, context + SEQUENCE.pack(sequence) + payload, hashlib.sha256).digest()


def link_context(direction: bytes, publisher: str, publisher_nonce: bytes, subscriber_nonce: bytes) -> bytes:
    """ What binds a tag to one connection and one direction; every field has a fixed or announced size. """
    identifier = publisher.encode('utf-8')
    return (CONTEXT_LABEL + direction + struct.pack('>H', len(identifier)) + identifier
            + publisher_nonce + subscriber_nonce)


class LinkAuth:
    """ Authentication state of one TCP connection of the internal bus.

    Each side sends hello() first. Once the peer's handshake is received (keyed), frames are sealed and opened.
    ``authenticated`` tells that the peer proved it knows the secret (one valid tagged frame received): the
    publisher sends nothing but its handshake to a client before that.
    """

    def __init__(self, secret: bytes, publisher: str, is_publisher: bool, nonce: Optional[bytes] = None):
        if not secret:
            raise ValueError('empty secret')
        self.secret = secret
        self.publisher = publisher
        self.is_publisher = is_publisher
        self.local_nonce = nonce if nonce is not None else os.urandom(NONCE_SIZE)
        self.peer_nonce: Optional[bytes] = None
        self._send_mac: Optional[Any] = None
        self._recv_mac: Optional[Any] = None
        self.send_sequence = 0
        self.recv_sequence = 0
        self.authenticated = False

    @property
    def keyed(self) -> bool:
        return self._send_mac is not None

    @property
    def can_send(self) -> bool:
        """ Tagged frames can be sent: the handshake is done and, for a publisher, the client proved itself. """
        return self.keyed and (self.authenticated or not self.is_publisher)

    def hello(self) -> bytes:
        payload = HELLO_MAGIC + self.local_nonce
        return HEADER.pack(len(payload)) + payload

    def _contexts(self) -> Tuple[bytes, bytes]:
        """ (send context, receive context) of this side. """
        if self.is_publisher:
            publisher_nonce, subscriber_nonce = self.local_nonce, self.peer_nonce
            out, into = TO_SUBSCRIBER, TO_PUBLISHER
        else:
            publisher_nonce, subscriber_nonce = self.peer_nonce, self.local_nonce
            out, into = TO_PUBLISHER, TO_SUBSCRIBER
        return (link_context(out, self.publisher, publisher_nonce, subscriber_nonce),
                link_context(into, self.publisher, publisher_nonce, subscriber_nonce))

    def seal(self, frame: bytes) -> bytes:
        """ The tagged version of a frame made by encode(). """
        if not self.keyed:
            raise ValueError('handshake not done')
        payload = memoryview(frame)[HEADER.size:]
        self.send_sequence += 1
        sequence = SEQUENCE.pack(self.send_sequence)
        mac = self._send_mac.copy()
        mac.update(sequence)
        mac.update(payload)
        return b''.join((HEADER.pack(TAGGED_HEADER_SIZE + len(payload)), TAGGED_MAGIC, sequence, mac.digest(),
                         payload))

    def open(self, payload: bytes) -> Optional[bytes]:
        """ The JSON payload of a valid tagged frame, None for the peer's handshake; AuthError otherwise. """
        if payload.startswith(HELLO_MAGIC):
            nonce = payload[len(HELLO_MAGIC):]
            if self.keyed:
                if nonce == self.peer_nonce:
                    return None  # repeated as a heartbeat while this side had not answered: nothing changes
                raise AuthError('unexpected authentication handshake (the connection is already keyed)')
            if len(nonce) != NONCE_SIZE:
                raise AuthError(f'invalid authentication handshake ({len(payload)} bytes)')
            self.peer_nonce = bytes(nonce)
            send_context, recv_context = self._contexts()
            self._send_mac = hmac.new(self.secret, send_context, hashlib.sha256)
            self._recv_mac = hmac.new(self.secret, recv_context, hashlib.sha256)
            return None
        if not payload.startswith(TAGGED_MAGIC):
            raise AuthError('frame without authentication tag: internal_secret is set here, not on the sender'
                            ' (or the frame is forged)')
        if not self.keyed:
            raise AuthError('tagged frame before the authentication handshake')
        if len(payload) < TAGGED_HEADER_SIZE:
            raise AuthError(f'truncated authenticated frame ({len(payload)} bytes)')
        start = len(TAGGED_MAGIC)
        sequence_bytes = payload[start:start + SEQUENCE.size]
        tag = payload[start + SEQUENCE.size:TAGGED_HEADER_SIZE]
        body = payload[TAGGED_HEADER_SIZE:]
        mac = self._recv_mac.copy()
        mac.update(sequence_bytes)
        mac.update(body)
        if not hmac.compare_digest(mac.digest(), tag):
            raise AuthError('invalid authentication tag (another internal_secret, a frame of another connection,'
                            ' or a forged or altered frame)')
        (sequence,) = SEQUENCE.unpack(sequence_bytes)
        if sequence <= self.recv_sequence:
            raise AuthError(f'replayed frame (sequence {sequence}, last accepted {self.recv_sequence})')
        self.recv_sequence = sequence
        self.authenticated = True
        return bytes(body)
