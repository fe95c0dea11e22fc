"""Websocket event link (event_link = WS): the events of the event interface, pushed to websocket clients.

Server: ``ws://127.0.0.1:<event_port>/<selection>`` (loopback only, as the PyZMQ link), RFC 6455 version 13, on
the standard library (no third-party package). The path selects the topics:

* ``/`` or ``/all``: every topic (including topics that later versions may add);
* ``/<topic>``, or several topics separated by commas (``/process,application``): those topics only, among
  ``supvisors``, ``instance``, ``application``, ``process`` and ``event``.

Another path is refused with ``404 Not Found``. Every event is one text message holding the JSON object
``{"topic": <topic string>, "payload": <payload object>}``, the payload being exactly the body of the PyZMQ link's
JSON frame. Clients are not expected to send anything (pings are answered, a close is acknowledged).

Delivery is best effort, as with the PUB socket: a client connecting late misses the earlier events, and a client
that does not read fast enough loses the events beyond QUEUE_SIZE pending messages (it stays connected). As with
the PUB socket, the events of the first HOLD_BACK seconds after the bind are held back, then sent in order, so that
the clients waiting for the instance to start (SupvisorsWsEventInterface tries again every 0.1 s) get them.

Threading: the server runs an asyncio loop in its own daemon thread. send() only serializes the payload and hands
the message to that loop, so it never blocks the caller (supervisord's thread); the constructor waits only for the
listening socket to be bound (so that a bind error is logged at once, as the PyZMQ publisher does).
"""

import asyncio
import json
import threading
from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple
from urllib.parse import unquote, urlsplit

from ..client.clientutils import EVENT_HEADERS
from ..wsframing import (CLOSE_GOING_AWAY, CLOSE_NORMAL, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT,
                         FrameDecoder, ProtocolError, accept_key, close_payload, encode_frame, parse_http_head)

HOLD_BACK = 0.5  # seconds, as the PyZMQ publisher's
QUEUE_SIZE = 10000  # pending messages per client before dropping
MAX_HEAD_SIZE = 8192  # HTTP handshake request
HANDSHAKE_TIMEOUT = 5.0  # seconds given to a client to send its opening handshake
BIND_TIMEOUT = 5.0  # seconds the constructor waits for the server thread to bind
MAX_CLIENT_MESSAGE = 65536  # clients only send control frames
ALL_TOPICS: FrozenSet[str] = frozenset(EVENT_HEADERS)


def topics_of(path: str) -> Optional[FrozenSet[str]]:
    """ The topics selected by a request path (ALL_TOPICS itself for all), None if the path is not valid. """
    selection = unquote(urlsplit(path).path).strip('/')
    if selection in ('', 'all'):
        return ALL_TOPICS
    topics = {x.strip() for x in selection.split(',')}
    if 'all' in topics:
        return ALL_TOPICS
    return frozenset(topics) if topics <= ALL_TOPICS else None


def message_text(topic: str, payload: Any) -> str:
    """ The text message of an event. """
    return json.dumps({'topic': topic, 'payload': payload})


class _Client:
    """ One connected websocket client and its queue of frames to write. """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, topics: FrozenSet[str]):
        self.reader = reader
        self.writer = writer
        self.topics = topics
        self.queue: 'asyncio.Queue[Optional[bytes]]' = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0
        self.peer = writer.get_extra_info('peername')

    def wants(self, topic: str) -> bool:
        return self.topics is ALL_TOPICS or topic in self.topics


class WsEventPublisher:
    """ Same interface as ZmqEventPublisher: send(topic, payload) and close(). """

    def __init__(self, port: int, logger: Any, host: str = '127.0.0.1', hold_back: float = HOLD_BACK):
        self.port = port
        self.host = host
        self.logger = logger
        self.hold_back = hold_back
        self._held: Optional[List[Tuple[str, bytes]]] = [] if hold_back > 0 else None  # loop thread only
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.clients: Set[_Client] = set()  # used in the loop thread only
        self._stopping: Optional[asyncio.Event] = None
        self._ready = threading.Event()
        self._bound = False
        self.thread = threading.Thread(target=self._run, name='supvisors-ws-publisher', daemon=True)
        self.thread.start()
        self._ready.wait(BIND_TIMEOUT)
        if not self._bound:
            self.loop = None  # nothing will ever be published

    @property
    def bound(self) -> bool:
        """ Whether the server listens (False after a bind error or close). """
        return self._bound and self.loop is not None

    # ------------------------------------------------------------------ caller side (any thread)
    def send(self, topic: str, payload: Dict[str, Any]) -> None:
        """ Queue the event for the clients that selected its topic. Never blocks. """
        loop = self.loop
        if loop is None:
            return
        try:
            frame = encode_frame(OP_TEXT, message_text(topic, payload).encode('utf-8'))
        except (TypeError, ValueError) as exc:
            self.logger.error(f'WsEventPublisher: event {topic} cannot be serialized: {exc}')
            return
        try:
            loop.call_soon_threadsafe(self._broadcast, topic, frame)
        except RuntimeError:  # loop closed meanwhile
            pass

    def close(self, timeout: float = 2.0) -> None:
        """ Say goodbye to the clients, stop the server and its thread. """
        loop, self.loop = self.loop, None
        if loop is not None and self._stopping is not None:
            try:
                loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:
                pass
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout)

    # ------------------------------------------------------------------ loop thread
    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # noqa: BLE001 - a dying publisher must not take supervisord down
            self.logger.error(f'WsEventPublisher: server stopped on error: {exc!r}')
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        try:
            server = await asyncio.start_server(self._handle, self.host, self.port, reuse_address=True,
                                                limit=MAX_HEAD_SIZE)
        except OSError as exc:
            self.logger.error(f'WsEventPublisher: cannot bind the event port {self.port}: {exc}')
            return
        self.loop = asyncio.get_running_loop()
        self._bound = True
        self.logger.info(f'WsEventPublisher: listening on ws://{self.host}:{self.port}/')
        if self._held is not None:
            self.loop.call_later(self.hold_back, self._release)
        self._ready.set()
        await self._stopping.wait()
        server.close()
        # each writer sends the close frame, then closes its connection, which ends the reader of the client
        for client in list(self.clients):
            self._enqueue(client, encode_frame(OP_CLOSE, close_payload(CLOSE_GOING_AWAY)), force=True)
            self._enqueue(client, None, force=True)
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        for client in list(self.clients):  # writers stuck on a peer that does not read
            client.writer.transport.abort()
        self._bound = False

    def _release(self) -> None:
        """ End of the hold-back: send what was held, in order. """
        held, self._held = self._held, None
        for topic, frame in held or []:
            self._broadcast(topic, frame)

    def _broadcast(self, topic: str, frame: bytes) -> None:
        if self._held is not None:
            self._held.append((topic, frame))
            return
        for client in self.clients:
            if client.wants(topic):
                self._enqueue(client, frame)

    def _enqueue(self, client: _Client, frame: Optional[bytes], force: bool = False) -> None:
        try:
            client.queue.put_nowait(frame)
        except asyncio.QueueFull:
            if force:  # make room for the end of the connection
                client.queue.get_nowait()
                client.queue.put_nowait(frame)
                return
            client.dropped += 1
            if client.dropped == 1 or client.dropped % 1000 == 0:
                self.logger.warn(f'WsEventPublisher: client {client.peer} too slow: {client.dropped} events lost')

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            topics = await asyncio.wait_for(self._handshake(reader, writer), HANDSHAKE_TIMEOUT)
        except (asyncio.TimeoutError, ConnectionError, OSError, ProtocolError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, UnicodeError) as exc:
            self.logger.debug(f'WsEventPublisher: handshake failed: {exc!r}')
            topics = None
        if topics is None or self.loop is None:
            writer.close()
            return
        client = _Client(reader, writer, topics)
        self.clients.add(client)
        self.logger.debug(f'WsEventPublisher: client {client.peer} connected for {sorted(topics)}')
        writing = asyncio.ensure_future(self._write(client))
        await self._read(client)
        self.clients.discard(client)
        self._enqueue(client, None, force=True)
        try:
            await asyncio.wait_for(writing, 1.0)
        except asyncio.TimeoutError:
            writer.transport.abort()
        self.logger.debug(f'WsEventPublisher: client {client.peer} disconnected')

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                         ) -> Optional[FrozenSet[str]]:
        head = await reader.readuntil(b'\r\n\r\n')
        if len(head) > MAX_HEAD_SIZE:
            raise ProtocolError('handshake too long')
        request_line, headers = parse_http_head(head[:-4])
        parts = request_line.split()
        if len(parts) != 3 or parts[0] != 'GET' or not parts[2].startswith('HTTP/1.'):
            await self._refuse(writer, '400 Bad Request')
            return None
        if 'websocket' not in headers.get('upgrade', '').lower() \
                or 'upgrade' not in headers.get('connection', '').lower() or 'sec-websocket-key' not in headers:
            await self._refuse(writer, '400 Bad Request')
            return None
        if headers.get('sec-websocket-version') != '13':
            await self._refuse(writer, '426 Upgrade Required', 'Sec-WebSocket-Version: 13\r\n')
            return None
        topics = topics_of(parts[1])
        if topics is None:
            await self._refuse(writer, '404 Not Found')
            return None
        writer.write(('HTTP/1.1 101 Switching Protocols\r\n'
                      'Upgrade: websocket\r\n'
                      'Connection: Upgrade\r\n'
                      f'Sec-WebSocket-Accept: {accept_key(headers["sec-websocket-key"])}\r\n'
                      '\r\n').encode('ascii'))
        await writer.drain()
        return topics

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, status: str, extra_headers: str = '') -> None:
        writer.write(f'HTTP/1.1 {status}\r\n{extra_headers}Content-Length: 0\r\nConnection: close\r\n\r\n'
                     .encode('ascii'))
        await writer.drain()

    async def _write(self, client: _Client) -> None:
        try:
            while True:
                frame = await client.queue.get()
                if frame is None:
                    break
                client.writer.write(frame)
                await client.writer.drain()
        except (ConnectionError, OSError):
            pass
        # closing the connection also ends the reading side (end of file)
        client.writer.close()

    async def _read(self, client: _Client) -> None:
        """ Answer pings, acknowledge a close, drop a client that breaks the protocol. """
        decoder = FrameDecoder(require_mask=True, max_size=MAX_CLIENT_MESSAGE)
        try:
            while True:
                data = await client.reader.read(65536)
                if not data:
                    return
                for opcode, payload in decoder.feed(data):
                    if opcode == OP_PING:
                        self._enqueue(client, encode_frame(OP_PONG, payload), force=True)
                    elif opcode == OP_CLOSE:
                        self._enqueue(client, encode_frame(OP_CLOSE, close_payload(CLOSE_NORMAL)), force=True)
                        return
                    elif opcode in (OP_TEXT, OP_BINARY):
                        pass  # nothing is expected from clients
        except ProtocolError as exc:
            self.logger.debug(f'WsEventPublisher: client {client.peer}: {exc}')
            self._enqueue(client, encode_frame(OP_CLOSE, close_payload(exc.code)), force=True)
        except (ConnectionError, OSError):
            pass
