"""A thread that receives the Supvisors events over the websocket event link (event_link = WS) and hands them to
the same on_* callbacks as SupvisorsZmqEventInterface.

Standard library only (no PyZMQ, no websocket package). Typical use::

    from supvisors.client.wssubscriber import SupvisorsWsEventInterface, create_logger

    class MyInterface(SupvisorsWsEventInterface):
        def on_process_status(self, data):
            ...

    iface = MyInterface(60002, create_logger(), topics=['process', 'application'])
    iface.start()
    ...
    iface.stop()
    iface.join()

The topics are chosen at connection time, through the URI path (see supvisors.adapters.ws_publisher):
``ws://127.0.0.1:<event_port>/all`` by default. The thread connects again (every _Retry_period seconds) whenever
the server is not there or goes away, so it can be started before Supvisors; a refused selection (HTTP 404) ends
the thread. Run as a script, the module prints every event received during a few seconds:
``python -m supvisors.client.wssubscriber -p 60002 -s 10``.
"""

import argparse
import json
import select
import socket
import threading
import time
from typing import Any, Iterable, List, Optional

from supvisors.client.clientutils import (EVENT_HEADERS, EventCallbacks, EventHeaders,  # noqa: F401 - re-exported
                                         create_logger)
from supvisors.wsframing import (CLOSE_GOING_AWAY, CLOSE_NORMAL, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, FrameDecoder,
                                 ProtocolError, accept_key, close_payload, encode_frame, new_key, parse_http_head)


class HandshakeRefused(Exception):
    """ The server answered the opening handshake with something else than 101: retrying would not help. """


class SupvisorsWsEventInterface(threading.Thread, EventCallbacks):
    """ Receive the events of one Supvisors instance over a websocket and dispatch them to the on_* callbacks. """

    _Poll_timeout = 500  # milliseconds: the longest time stop() waits for
    _Retry_period = 0.1  # seconds between connection attempts (the server holds its first events 0.5 s back)
    _Connect_timeout = 5.0  # seconds for TCP connection and handshake

    def __init__(self, event_port: int, logger: Any, topics: Optional[Iterable[str]] = None,
                 host: str = '127.0.0.1'):
        threading.Thread.__init__(self)
        self.event_port = event_port
        self.logger = logger
        self.host = host
        self.topics: List[str] = list(topics) if topics else ['all']
        self.path = '/' + ','.join(self.topics)
        self.url = f'ws://{host}:{event_port}{self.path}'
        self.stop_event = threading.Event()
        self.connected = threading.Event()  # set while a connection is established

    def stop(self) -> None:
        """ Ask the thread to end (within _Poll_timeout). """
        self.stop_event.set()

    def run(self) -> None:
        self.logger.info(f'SupvisorsWsEventInterface.run: entering main loop on {self.url}')
        failures = 0
        while not self.stop_event.is_set():
            try:
                sock, leftover = self._connect()
            except HandshakeRefused as exc:
                self.logger.error(f'SupvisorsWsEventInterface: {self.url} refused: {exc}')
                break
            except (OSError, ProtocolError) as exc:
                failures += 1
                if failures == 1:
                    self.logger.warn(f'SupvisorsWsEventInterface: cannot connect to {self.url}: {exc}'
                                     ' (trying again)')
                self.stop_event.wait(self._Retry_period)
                continue
            failures = 0
            self.logger.info(f'SupvisorsWsEventInterface: connected to {self.url}')
            self.connected.set()
            try:
                self._receive_loop(sock, leftover)
            finally:
                self.connected.clear()
                sock.close()
        self.logger.info('SupvisorsWsEventInterface.run: exiting main loop')

    # ------------------------------------------------------------------ connection
    def _connect(self):
        """ TCP connection and opening handshake. Return the socket and the bytes already read after the head. """
        sock = socket.create_connection((self.host, self.event_port), timeout=self._Connect_timeout)
        try:
            key = new_key()
            sock.sendall((f'GET {self.path} HTTP/1.1\r\n'
                          f'Host: {self.host}:{self.event_port}\r\n'
                          'Upgrade: websocket\r\n'
                          'Connection: Upgrade\r\n'
                          f'Sec-WebSocket-Key: {key}\r\n'
                          'Sec-WebSocket-Version: 13\r\n'
                          '\r\n').encode('ascii'))
            data = b''
            while b'\r\n\r\n' not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ProtocolError('connection closed during the handshake')
                data += chunk
                if len(data) > 65536:
                    raise ProtocolError('handshake answer too long')
            head, leftover = data.split(b'\r\n\r\n', 1)
            status_line, headers = parse_http_head(head)
            status = status_line.split(' ', 2)
            if len(status) < 2 or status[1] != '101':
                raise HandshakeRefused(status_line)
            if headers.get('sec-websocket-accept') != accept_key(key):
                raise ProtocolError('invalid Sec-WebSocket-Accept')
            sock.settimeout(None)
            return sock, leftover
        except BaseException:
            sock.close()
            raise

    def _receive_loop(self, sock: socket.socket, leftover: bytes) -> None:
        decoder = FrameDecoder(require_mask=False)
        data = leftover
        try:
            while True:
                if data and not self._handle(sock, decoder.feed(data)):
                    return
                data = b''
                if self.stop_event.is_set():
                    self._send(sock, encode_frame(OP_CLOSE, close_payload(CLOSE_GOING_AWAY), mask=True))
                    return
                readable, _, _ = select.select([sock], [], [], self._Poll_timeout / 1000.0)
                if readable:
                    data = sock.recv(65536)
                    if not data:
                        self.logger.warn(f'SupvisorsWsEventInterface: {self.url} closed the connection')
                        return
        except ProtocolError as exc:
            self.logger.error(f'SupvisorsWsEventInterface: protocol error from {self.url}: {exc}')
            self._send(sock, encode_frame(OP_CLOSE, close_payload(exc.code), mask=True))
        except OSError as exc:
            self.logger.warn(f'SupvisorsWsEventInterface: connection to {self.url} lost: {exc}')

    def _handle(self, sock: socket.socket, messages) -> bool:
        """ Dispatch the events; return False when the server closes the connection. """
        for opcode, payload in messages:
            if opcode == OP_TEXT:
                try:
                    message = json.loads(payload.decode('utf-8'))
                    topic, body = message['topic'], message['payload']
                except (ValueError, KeyError, TypeError) as exc:
                    self.logger.error(f'SupvisorsWsEventInterface: invalid message received: {exc!r}')
                    continue
                self.dispatch(topic, body)
            elif opcode == OP_PING:
                self._send(sock, encode_frame(OP_PONG, payload, mask=True))
            elif opcode == OP_CLOSE:
                self._send(sock, encode_frame(OP_CLOSE, close_payload(CLOSE_NORMAL), mask=True))
                self.logger.info(f'SupvisorsWsEventInterface: {self.url} closed the websocket')
                return False
        return True

    @staticmethod
    def _send(sock: socket.socket, frame: bytes) -> None:
        try:
            sock.sendall(frame)
        except OSError:
            pass


def main(args: Optional[List[str]] = None) -> None:
    """ Print every event published on the port for a while. """
    parser = argparse.ArgumentParser(description='Start a websocket subscriber to Supvisors events.')
    parser.add_argument('-p', '--port', type=int, default=60002, help='the event port of Supvisors')
    parser.add_argument('-s', '--sleep', type=int, metavar='SEC', default=10,
                        help='the duration of the subscription')
    parser.add_argument('-t', '--topics', nargs='*', metavar='TOPIC', default=None,
                        help=f'the topics to subscribe to, among: {", ".join(EVENT_HEADERS)} (all by default)')
    options = parser.parse_args(args)
    interface = SupvisorsWsEventInterface(options.port, create_logger(), options.topics)
    interface.start()
    time.sleep(options.sleep)
    interface.stop()
    interface.join()


if __name__ == '__main__':
    main()
