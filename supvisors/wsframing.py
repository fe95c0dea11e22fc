"""The small part of the WebSocket protocol (RFC 6455) used by the websocket event link, on the standard library
only, so that event_link = WS needs no third-party package on either side.

Supported: the opening handshake (HTTP/1.1 upgrade, version 13), text/binary messages, fragmented messages,
ping/pong and close. Not supported (not needed by an event stream): extensions (no compression), subprotocols.
"""

import base64
import hashlib
import os
import struct
from typing import List, Optional, Tuple

GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_BIG = 1009


class ProtocolError(Exception):
    """ The peer does not speak the protocol (or exceeds the size limit): the connection must be dropped. """

    def __init__(self, reason: str, code: int = CLOSE_PROTOCOL_ERROR):
        super().__init__(reason)
        self.code = code


def accept_key(key: str) -> str:
    """ The Sec-WebSocket-Accept value that proves to the client that the server understood its handshake. """
    return base64.b64encode(hashlib.sha1((key + GUID).encode('ascii')).digest()).decode('ascii')


def new_key() -> str:
    """ A Sec-WebSocket-Key for a client handshake. """
    return base64.b64encode(os.urandom(16)).decode('ascii')


def encode_frame(opcode: int, payload: bytes = b'', mask: bool = False, fin: bool = True) -> bytes:
    """ One frame. A client must mask what it sends; a server must not. """
    head = bytearray([(0x80 if fin else 0) | opcode])
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head.append(mask_bit | length)
    elif length < 1 << 16:
        head.append(mask_bit | 126)
        head += struct.pack('!H', length)
    else:
        head.append(mask_bit | 127)
        head += struct.pack('!Q', length)
    if mask:
        key = os.urandom(4)
        head += key
        payload = _apply_mask(payload, key)
    return bytes(head) + payload


def close_payload(code: int = CLOSE_NORMAL, reason: str = '') -> bytes:
    return struct.pack('!H', code) + reason.encode('utf-8')[:120]


def _apply_mask(data: bytes, key: bytes) -> bytes:
    # XOR of the whole payload at once through big integers: fast enough for event-sized messages
    length = len(data)
    if not length:
        return b''
    repeated = (key * (length // 4 + 1))[:length]
    return (int.from_bytes(data, 'big') ^ int.from_bytes(repeated, 'big')).to_bytes(length, 'big')


class FrameDecoder:
    """ Incremental decoder: bytes in, complete messages out (fragments reassembled, control frames apart).

    require_mask is True on the server side (RFC 6455: a client frame must be masked). max_size bounds the size of
    a message, against a peer that would make the other side buffer without end.
    """

    def __init__(self, require_mask: bool, max_size: int = 1 << 26):
        self.require_mask = require_mask
        self.max_size = max_size
        self._buffer = bytearray()
        self._fragments: Optional[Tuple[int, bytearray]] = None

    def feed(self, data: bytes) -> List[Tuple[int, bytes]]:
        """ Return the (opcode, payload) of the messages completed by data; raise ProtocolError on bad input. """
        self._buffer += data
        messages: List[Tuple[int, bytes]] = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return messages
            fin, opcode, payload = frame
            if opcode >= 0x8:  # control frames may come between the fragments of a message
                if not fin or len(payload) > 125:
                    raise ProtocolError('invalid control frame')
                messages.append((opcode, payload))
            elif opcode == OP_CONTINUATION:
                if self._fragments is None:
                    raise ProtocolError('continuation frame without a message start')
                self._fragments[1].extend(payload)
                if len(self._fragments[1]) > self.max_size:
                    raise ProtocolError('message too big', CLOSE_TOO_BIG)
                if fin:
                    messages.append((self._fragments[0], bytes(self._fragments[1])))
                    self._fragments = None
            elif opcode in (OP_TEXT, OP_BINARY):
                if self._fragments is not None:
                    raise ProtocolError('new message while a fragmented message is incomplete')
                if fin:
                    messages.append((opcode, payload))
                else:
                    self._fragments = (opcode, bytearray(payload))
            else:
                raise ProtocolError(f'unknown opcode {opcode}')

    def _next_frame(self) -> Optional[Tuple[bool, int, bytes]]:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise ProtocolError('reserved bits set without a negotiated extension')
        masked = bool(second & 0x80)
        if self.require_mask and not masked:
            raise ProtocolError('unmasked client frame')
        length = second & 0x7F
        offset = 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length = struct.unpack_from('!H', buffer, 2)[0]
            offset = 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length = struct.unpack_from('!Q', buffer, 2)[0]
            offset = 10
        if length > self.max_size:
            raise ProtocolError('message too big', CLOSE_TOO_BIG)
        key = b''
        if masked:
            if len(buffer) < offset + 4:
                return None
            key = bytes(buffer[offset:offset + 4])
            offset += 4
        if len(buffer) < offset + length:
            return None
        payload = bytes(buffer[offset:offset + length])
        del buffer[:offset + length]
        if masked:
            payload = _apply_mask(payload, key)
        return bool(first & 0x80), first & 0x0F, payload


def parse_http_head(data: bytes) -> Tuple[str, dict]:
    """ Split an HTTP head (up to the blank line) into its first line and its headers (names lower-cased). """
    lines = data.decode('iso-8859-1').split('\r\n')
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(':')
        if not sep:
            raise ProtocolError(f'invalid header line: {line!r}')
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers
