"""The internal bus: one thread that owns every socket of the instance's internal communication.

* a publisher: TCP server on the local internal port; every published frame goes to every connected client;
  a newly connected client first gets the last TICK and STATE, so a peer learns at once that this instance is
  alive and where it stands;
* one subscriber link per remote instance, reconnecting with a short back-off;
* heartbeats in both directions (a transport matter only: liveness of instances is judged on ticks);
* the tick timer, aligned on wall-clock multiples of the tick period, the first tick being immediate;
* fast loss detection: when an established link breaks and the peer then refuses the connection, its
  supervisord is gone, which is reported at once instead of waiting for missing ticks;
* with a shared secret, the authentication of every connection (see framing): the publisher sends nothing but
  its handshake to a client until that client has sent a valid tagged frame, and every frame that fails
  authentication is dropped and logged like any invalid message.

The thread never decides anything: it turns the network and the clock into events handed to ``deliver``
(which passes them to the thread that owns the state) and turns published frames into bytes on sockets.
``publish``, ``isolate`` and ``stop`` are the only methods called from other threads.
"""

import errno
import math
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Tuple

from . import framing
from ..ttypes import InternalMessages


# Events handed to the owner thread
@dataclass
class LocalTick:
    now: float


@dataclass
class Received:
    identifier: str
    code: int
    body: Any


@dataclass
class PeerConnected:
    identifier: str


@dataclass
class PeerDown:
    """ An established link to the peer broke and the peer now refuses connections: its supervisord is gone. """
    identifier: str


@dataclass
class BusFailure:
    reason: str


@dataclass
class CheckRequested:
    """ A subscriber asks for the handshake answer of this instance (to be sent with send_to(link_id)). """
    link_id: int
    identifier: str
    body: Any


@dataclass
class RequestFailed:
    """ A request could not be sent to a peer (link not connected). """
    identifier: str
    body: Any


DOWN_ERRORS = (errno.ECONNREFUSED, errno.ECONNRESET)
MAX_BACKLOG = 64 * 1024 * 1024  # bytes queued to one slow client before it is dropped
MAX_LOGGED_GARBAGE = 20  # per connection, to keep a flood of garbage out of the log


class _Link:
    """ One TCP connection: input reassembly and output buffering. """

    def __init__(self, sock: socket.socket, name: str, now: float):
        self.sock = sock
        self.name = name
        self.decoder = framing.FrameDecoder()
        self.out = bytearray()
        self.last_recv = now
        self.last_heartbeat = now
        self.garbage_logged = 0
        self.closed = False
        self.link_id = 0
        self.auth: Optional[framing.LinkAuth] = None
        self.welcomed = False  # publisher side: the sticky frames were sent (authenticated client)


class _Peer:
    """ Subscriber side state for one remote instance. """

    def __init__(self, identifier: str, address: Tuple[str, int]):
        self.identifier = identifier
        self.address = address
        self.link: Optional[_Link] = None
        self.connecting = False
        self.lost = False  # the established link just broke: the next refusal means the peer is down
        self.next_attempt = 0.0
        self.backoff = 0.05
        self.isolated = False


class InternalBus(threading.Thread):

    MIN_BACKOFF = 0.05
    MAX_BACKOFF = 1.0

    def __init__(self, local_identifier: str, bind_port: int, peers: Dict[str, Tuple[str, int]],
                 deliver: Callable[[Any], None], logger, tick_period: float = 5.0,
                 heartbeat_period: float = 2.0, heartbeat_timeout: float = 10.0, bind_host: str = '',
                 secret: Optional[bytes] = None):
        """ With a secret, every connection is authenticated and every frame tagged (see framing.LinkAuth). """
        super().__init__(name='supvisors-bus', daemon=True)
        self.local_identifier = local_identifier
        self.secret = secret or None
        self.bind_address = (bind_host, bind_port)
        self.deliver = deliver
        self.logger = logger
        self.tick_period = tick_period
        self.heartbeat_period = heartbeat_period
        self.heartbeat_timeout = heartbeat_timeout
        self.peers = {identifier: _Peer(identifier, address) for identifier, address in peers.items()}
        self.selector = selectors.DefaultSelector()
        self.server: Optional[socket.socket] = None
        self.clients: Dict[socket.socket, _Link] = {}
        self.outgoing: Deque[Tuple[bytes, Optional[str]]] = deque()
        self.targeted: Deque[Tuple[int, bytes]] = deque()  # frames for one publisher client
        self.requests: Deque[Tuple[str, bytes, Any]] = deque()  # frames for one peer (subscriber side)
        self.link_ids = 0
        self.pending_isolations: Deque[str] = deque()
        self.sticky_frames: Dict[str, Tuple[int, bytes]] = {}
        self.sticky_counter = 0
        self.heartbeat_frame = framing.encode(InternalMessages.HEARTBEAT, local_identifier, {})
        self.stopping = threading.Event()
        self.flush_timeout = 1.0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.next_tick = 0.0

    # ---------------------------------------------------------------- API for other threads
    def publish(self, frame: bytes, sticky: Optional[str] = None) -> None:
        """ Queue a frame for every connected subscriber. Never blocks.

        The last frame of each sticky kind (e.g. the last tick, the last state) is replayed to new subscribers.
        """
        self.outgoing.append((frame, sticky))
        self._wake()

    def send_to(self, link_id: int, frame: bytes) -> None:
        """ Queue a frame for one publisher client only, in order with the published frames. """
        self.outgoing.append((b'', None))  # keeps the order: targeted frames are sent at their turn
        self.targeted.append((link_id, frame))
        self._wake()

    def request(self, identifier: str, frame: bytes, body: Any = None) -> None:
        """ Send a frame to the publisher of a peer; RequestFailed is delivered if the link is not up. """
        self.requests.append((identifier, frame, body))
        self._wake()

    def isolate(self, identifiers: Iterable[str]) -> None:
        """ Close the links to these instances for good. """
        self.pending_isolations.extend(identifiers)
        self._wake()

    def stop(self, flush_timeout: float = 1.0) -> None:
        """ Flush what was published (within flush_timeout), close every socket and wait for the thread. """
        self.flush_timeout = flush_timeout
        self.stopping.set()
        self._wake()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(flush_timeout + 2.0)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b'\0')
        except (BlockingIOError, OSError):
            pass  # already awake (buffer full) or closing

    # ---------------------------------------------------------------- thread body
    def run(self) -> None:
        try:
            self._setup()
            while not self.stopping.is_set():
                self._loop_once()
            self._flush()
        except Exception as exc:  # the bus must never take supervisord down
            self.logger.critical(f'InternalBus: unexpected error: {exc!r}')
            self._safe_deliver(BusFailure(f'unexpected error: {exc!r}'))
        finally:
            self._close_all()

    def _setup(self) -> None:
        self.selector.register(self._wake_r, selectors.EVENT_READ, ('wake', None))
        try:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(self.bind_address)
            server.listen(64)
            server.setblocking(False)
            self.server = server
            self.selector.register(server, selectors.EVENT_READ, ('server', None))
        except OSError as exc:
            self.logger.critical(f'InternalBus: cannot bind the internal port {self.bind_address[1]}: {exc}')
            self._safe_deliver(BusFailure(f'cannot bind the internal port {self.bind_address[1]}: {exc}'))
        self.next_tick = time.time()  # first tick at once

    def _loop_once(self) -> None:
        now = time.time()
        timeout = self._timers(now)
        for key, mask in self.selector.select(timeout):
            kind, obj = key.data
            if kind == 'wake':
                self._drain_wake()
            elif kind == 'server':
                self._accept(time.time())
            elif kind == 'client':
                self._client_event(key.fileobj, mask)
            elif kind == 'peer':
                self._peer_event(obj, mask)
        self._process_outgoing()
        self._process_isolations()

    def _timers(self, now: float) -> float:
        """ Run what is due and return the time to wait before the next due thing. """
        if now >= self.next_tick:
            self._safe_deliver(LocalTick(now))
            self.next_tick = (math.floor(now / self.tick_period) + 1) * self.tick_period
        elif self.next_tick - now > self.tick_period:  # wall clock stepped backwards
            self.next_tick = (math.floor(now / self.tick_period) + 1) * self.tick_period
        due = [self.next_tick]
        # subscriber side: connection attempts and heartbeats
        for peer in self.peers.values():
            if peer.isolated:
                continue
            if peer.link is None and not peer.connecting:
                if now >= peer.next_attempt:
                    self._connect(peer, now)
                else:
                    due.append(peer.next_attempt)
            if peer.link is not None and not peer.connecting:
                link = peer.link
                if now - link.last_recv > self.heartbeat_timeout:
                    self.logger.debug(f'InternalBus: no heartbeat from {peer.identifier}: reconnecting')
                    self._drop_peer(peer, lost=False, now=now)
                    continue
                if now - link.last_heartbeat >= self.heartbeat_period:
                    link.last_heartbeat = now
                    self._heartbeat(link, ('peer', peer))
                due.append(link.last_heartbeat + self.heartbeat_period)
        # publisher side: heartbeats and silent clients
        for sock, link in list(self.clients.items()):
            if now - link.last_recv > self.heartbeat_timeout:
                self.logger.debug(f'InternalBus: no heartbeat from client {link.name}: dropped')
                self._close_client(sock)
                continue
            if now - link.last_heartbeat >= self.heartbeat_period:
                link.last_heartbeat = now
                self._heartbeat(link, ('client', None))
            due.append(link.last_heartbeat + self.heartbeat_period)
        return max(0.0, min(min(due) - time.time(), 1.0))

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    # ---------------------------------------------------------------- publisher side
    def _accept(self, now: float) -> None:
        while True:
            try:
                sock, address = self.server.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.logger.warn(f'InternalBus: accept failed: {exc}')
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(sock, f'{address[0]}:{address[1]}', now)
            self.link_ids += 1
            link.link_id = self.link_ids
            self.clients[sock] = link
            self.selector.register(sock, selectors.EVENT_READ, ('client', None))
            if self.secret is not None:
                # nothing else until the client proves it knows the secret
                link.auth = framing.LinkAuth(self.secret, self.local_identifier, is_publisher=True)
                self._queue(link, link.auth.hello(), ('client', None), raw=True)
            else:
                self._welcome(link)

    def _welcome(self, link: _Link) -> None:
        """ A new (authenticated) subscriber gets the last frame of each sticky kind at once. """
        link.welcomed = True
        for _, frame in sorted(self.sticky_frames.values()):
            self._queue(link, frame, ('client', None))

    def _client_event(self, sock: socket.socket, mask: int) -> None:
        link = self.clients.get(sock)
        if link is None:
            return
        if mask & selectors.EVENT_WRITE and not self._send(link, ('client', None)):
            self._close_client(sock)
            return
        if mask & selectors.EVENT_READ:
            for payload in self._receive(link) or []:
                message = self._open(link, payload)
                if link.auth is not None and link.auth.authenticated and not link.welcomed:
                    self._welcome(link)
                if message is None:
                    continue
                code, sender, body = message
                if code == InternalMessages.CHECK_REQUEST:
                    self._safe_deliver(CheckRequested(link.link_id, sender, body))
                elif code != InternalMessages.HEARTBEAT:
                    self._log_garbage(link, f'unexpected message code={code} from {sender}')
        if link.closed:
            self._close_client(sock)

    def _close_client(self, sock: socket.socket) -> None:
        self.clients.pop(sock, None)
        self._unregister(sock)
        try:
            sock.close()
        except OSError:
            pass

    # ---------------------------------------------------------------- subscriber side
    def _connect(self, peer: _Peer, now: float) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            err = sock.connect_ex(peer.address)
        except OSError as exc:  # e.g. name resolution failure
            err = exc.errno or errno.EHOSTUNREACH
        if err in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            peer.link = _Link(sock, peer.identifier, now)
            if self.secret is not None:
                peer.link.auth = framing.LinkAuth(self.secret, peer.identifier, is_publisher=False)
            if err == 0:
                self._connected(peer, now)
            else:
                peer.connecting = True
                self.selector.register(sock, selectors.EVENT_WRITE, ('peer', peer))
        else:
            sock.close()
            self._connect_failed(peer, err, now)

    def _connected(self, peer: _Peer, now: float) -> None:
        peer.connecting = False
        peer.lost = False
        peer.backoff = self.MIN_BACKOFF
        link = peer.link
        link.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link.last_recv = link.last_heartbeat = now
        self._register(link.sock, selectors.EVENT_READ, ('peer', peer))
        if link.auth is not None:
            # the first heartbeat goes once the publisher's handshake is received: it authenticates this side
            self._queue(link, link.auth.hello(), ('peer', peer), raw=True)
        else:
            self._queue(link, self.heartbeat_frame, ('peer', peer))
        self._safe_deliver(PeerConnected(peer.identifier))

    def _connect_failed(self, peer: _Peer, err: int, now: float) -> None:
        if peer.lost and err in DOWN_ERRORS:
            peer.lost = False
            self._safe_deliver(PeerDown(peer.identifier))
        peer.next_attempt = now + peer.backoff
        peer.backoff = min(peer.backoff * 2, self.MAX_BACKOFF)

    def _peer_event(self, peer: _Peer, mask: int) -> None:
        link = peer.link
        if link is None:
            return
        now = time.time()
        if peer.connecting:
            err = link.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                self._connected(peer, now)
            else:
                self._unregister(link.sock)
                link.sock.close()
                peer.link = None
                peer.connecting = False
                self._connect_failed(peer, err, now)
            return
        if mask & selectors.EVENT_WRITE and not self._send(link, ('peer', peer)):
            self._drop_peer(peer, lost=True, now=now)
            return
        if mask & selectors.EVENT_READ:
            payloads = self._receive(link)
            for payload in payloads or []:
                keyed = link.auth is not None and link.auth.keyed
                message = self._open(link, payload)
                if not keyed and link.auth is not None and link.auth.keyed:
                    link.last_heartbeat = now
                    self._queue(link, self.heartbeat_frame, ('peer', peer))
                if message is None:
                    continue
                code, sender, body = message
                if sender != peer.identifier:
                    self._log_garbage(link, f'message from {sender} received on the link to {peer.identifier}')
                    continue
                if code != InternalMessages.HEARTBEAT:
                    self._safe_deliver(Received(peer.identifier, code, body))
            if link.closed:
                self._drop_peer(peer, lost=True, now=now)

    def _drop_peer(self, peer: _Peer, lost: bool, now: float) -> None:
        """ Close the link; when it broke (not our decision), retry at once to tell a dead peer from a glitch. """
        if peer.link is not None:
            self._unregister(peer.link.sock)
            try:
                peer.link.sock.close()
            except OSError:
                pass
        peer.link = None
        peer.connecting = False
        peer.lost = lost
        peer.backoff = self.MIN_BACKOFF
        peer.next_attempt = now if lost else now + self.MIN_BACKOFF
        if lost and not peer.isolated and not self.stopping.is_set():
            self._connect(peer, now)

    def _process_isolations(self) -> None:
        while self.pending_isolations:
            identifier = self.pending_isolations.popleft()
            peer = self.peers.get(identifier)
            if peer and not peer.isolated:
                self._drop_peer(peer, lost=False, now=time.time())
                peer.isolated = True

    # ---------------------------------------------------------------- common I/O
    def _open(self, link: _Link, payload: bytes) -> Optional[Tuple[int, str, Any]]:
        """ (code, sender, body) of a valid message; None for a handshake or a dropped (logged) frame. """
        try:
            if link.auth is not None:
                payload = link.auth.open(payload)
                if payload is None:
                    return None
            return framing.decode(payload)
        except framing.MessageError as exc:
            self._log_garbage(link, str(exc))
        except Exception as exc:  # whatever the data, the bus goes on
            self._log_garbage(link, f'undecodable frame: {exc!r}')
        return None

    def _receive(self, link: _Link) -> Optional[List[bytes]]:
        """ Read what is available; mark the link closed on EOF/error. """
        frames: List[bytes] = []
        while True:
            try:
                data = link.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return frames
            except OSError:
                link.closed = True
                return frames
            if not data:
                if link.decoder.pending:
                    self._log_garbage(link, f'truncated frame ({link.decoder.pending} bytes) at end of stream')
                link.closed = True
                return frames
            link.last_recv = time.time()
            try:
                frames.extend(link.decoder.feed(data))
            except framing.FrameError as exc:
                self._log_garbage(link, str(exc))
                link.closed = True
                return frames

    def _heartbeat(self, link: _Link, data: Tuple[str, Any]) -> None:
        """ Heartbeats flow on every link, authenticated or not: a link to a misconfigured peer (no secret, another
        secret) stays open, so that the reasons are logged within the limit of one connection instead of again at
        every reconnection. Before the authentication, a heartbeat is the handshake again, or a tagged heartbeat
        (which tells nothing but the publisher's identifier). """
        auth = link.auth
        if auth is None or auth.can_send:
            self._queue(link, self.heartbeat_frame, data)
        elif auth.keyed:
            self._queue(link, auth.seal(self.heartbeat_frame), data, raw=True)
        else:
            self._queue(link, auth.hello(), data, raw=True)

    def _queue(self, link: _Link, frame: bytes, data: Tuple[str, Any], raw: bool = False) -> None:
        """ Buffer a frame for the link and send what the socket accepts.

        On an authenticated connection the frame is tagged here (raw: the handshake, sent as is); a frame for a
        link that cannot send tagged frames yet is dropped, like a frame published before a subscriber connects.
        """
        if link.auth is not None and not raw:
            if not link.auth.can_send:
                return
            frame = link.auth.seal(frame)
        if len(link.out) + len(frame) > MAX_BACKLOG:
            self.logger.warn(f'InternalBus: {link.name} does not read its messages: link closed')
            link.closed = True
            link.out.clear()
            return
        was_empty = not link.out
        link.out.extend(frame)
        if was_empty and not self._send(link, data):
            link.closed = True

    def _send(self, link: _Link, data: Tuple[str, Any]) -> bool:
        """ Send what the socket accepts; (un)register write interest. False if the link is broken. """
        try:
            while link.out:
                sent = link.sock.send(link.out)
                if sent <= 0:
                    break
                del link.out[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return False
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if link.out else 0)
        self._register(link.sock, events, data)
        return True

    def _process_outgoing(self) -> None:
        while self.requests:
            identifier, frame, body = self.requests.popleft()
            peer = self.peers.get(identifier)
            if (peer is None or peer.link is None or peer.connecting or peer.isolated
                    or (peer.link.auth is not None and not peer.link.auth.keyed)):
                self._safe_deliver(RequestFailed(identifier, body))
            else:
                self._queue(peer.link, frame, ('peer', peer))
        while self.outgoing:
            frame, sticky = self.outgoing.popleft()
            if not frame:
                link_id, frame = self.targeted.popleft()
                for sock, link in list(self.clients.items()):
                    if link.link_id == link_id:
                        self._queue(link, frame, ('client', None))
                        if link.closed:
                            self._close_client(sock)
                continue
            if sticky:
                self.sticky_counter += 1
                self.sticky_frames[sticky] = (self.sticky_counter, frame)
            for sock, link in list(self.clients.items()):
                self._queue(link, frame, ('client', None))
                if link.closed:
                    self._close_client(sock)
        # links broken while writing
        for peer in self.peers.values():
            if peer.link is not None and peer.link.closed:
                self._drop_peer(peer, lost=True, now=time.time())

    def _log_garbage(self, link: _Link, reason: str) -> None:
        link.garbage_logged += 1
        if link.garbage_logged <= MAX_LOGGED_GARBAGE:
            self.logger.warn(f'InternalBus: dropped data from {link.name}: {reason}')
        elif link.garbage_logged == MAX_LOGGED_GARBAGE + 1:
            self.logger.warn(f'InternalBus: too much invalid data from {link.name}: no more logged')

    def _register(self, sock: socket.socket, events: int, data: Tuple[str, Any]) -> None:
        try:
            self.selector.modify(sock, events, data)
        except KeyError:
            self.selector.register(sock, events, data)
        except (ValueError, OSError):
            pass

    def _unregister(self, sock: socket.socket) -> None:
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass

    def _safe_deliver(self, event: Any) -> None:
        try:
            self.deliver(event)
        except Exception as exc:
            self.logger.error(f'InternalBus: cannot deliver {event!r}: {exc!r}')

    # ---------------------------------------------------------------- shutdown
    def _flush(self) -> None:
        """ Give the last published frames (e.g. the final state) a chance to reach the subscribers. """
        self._process_outgoing()
        deadline = time.time() + self.flush_timeout
        for sock, link in list(self.clients.items()):
            remaining = deadline - time.time()
            if not link.out or remaining <= 0:
                continue
            try:
                sock.setblocking(True)
                sock.settimeout(remaining)
                sock.sendall(link.out)
            except OSError:
                pass

    def _close_all(self) -> None:
        for sock in list(self.clients):
            self._close_client(sock)
        for peer in self.peers.values():
            if peer.link is not None:
                try:
                    peer.link.sock.close()
                except OSError:
                    pass
                peer.link = None
        for sock in (self.server, self._wake_r, self._wake_w):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        try:
            self.selector.close()
        except Exception:
            pass
