"""Wire format of the internal bus: a 4-byte big-endian length, then the UTF-8 JSON array
``[message_code, [sender_identifier, body]]``.

Decoding is defensive: anything received from the network may be garbage, truncated or oversized, and must never
raise anything but the two errors below, which the bus logs before dropping the frame or the connection.
"""

import json
import struct
from typing import Any, List, Tuple

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
