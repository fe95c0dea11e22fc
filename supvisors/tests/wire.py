"""A raw TCP client speaking the framing of the internal bus, for tests that play a peer or an intruder."""

import socket
import time
from typing import List

from supvisors.bus import framing
from supvisors.tools.localfleet import wait_for


class BusWire:
    """ One connection to an internal port: what is sent is kept, what is received is decoded into payloads. """

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.decoder = framing.FrameDecoder()
        self.payloads: List[bytes] = []
        self.sent: List[bytes] = []

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 2.0) -> 'BusWire':
        return cls(socket.create_connection((host, port), timeout=timeout))

    def send(self, data: bytes) -> None:
        self.sent.append(data)
        self.sock.sendall(data)

    def read(self, duration: float) -> List[bytes]:
        """ Every payload received so far, after reading for duration seconds (or until the connection closes). """
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not data:
                break
            self.payloads.extend(self.decoder.feed(data))
        return self.payloads

    def wait(self, count: int, timeout: float = 3.0) -> List[bytes]:
        """ The payloads once at least count of them are received. """
        return wait_for(lambda: len(self.read(0.05)) >= count and self.payloads, timeout, what=f'{count} frames')

    def close(self) -> None:
        self.sock.close()
