"""Tests of the internal bus: the wire format (framing) and the bus thread with real sockets on 127.0.0.1
(behaviour contract 1.3 and 1.4)."""

import random
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import pytest

from supvisors.bus import framing
from supvisors.bus.node import (BusFailure, CheckRequested, InternalBus, LocalTick, PeerConnected, PeerDown, Received,
                                RequestFailed)
from supvisors.ttypes import InternalMessages
from supvisors.tests.unit.fakes import FakeLogger

IM = InternalMessages
HOST = '127.0.0.1'


# ---------------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------------


class Events:
    """ The deliver callback: records every event handed by the bus thread. """

    def __init__(self) -> None:
        self.items: List[Any] = []
        self.lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self.lock:
            self.items.append(event)

    def snapshot(self) -> List[Any]:
        with self.lock:
            return list(self.items)

    def of(self, klass: type, **attrs: Any) -> List[Any]:
        return [event for event in self.snapshot()
                if isinstance(event, klass) and all(getattr(event, k) == v for k, v in attrs.items())]

    def received(self, identifier: str, code: Optional[int] = None) -> List[Any]:
        return [event.body for event in self.of(Received, identifier=identifier)
                if code is None or event.code == code]


def wait_until(predicate: Callable[[], Any], timeout: float = 2.0, what: str = 'condition') -> Any:
    """ Poll predicate until it returns something truthy; fail after timeout seconds. """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timeout ({timeout} s) waiting for {what}')
        time.sleep(0.005)


def never(predicate: Callable[[], Any], duration: float, what: str = 'condition') -> None:
    """ Check that predicate stays falsy for duration seconds. """
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert not predicate(), f'unexpected {what}'
        time.sleep(0.01)
    assert not predicate(), f'unexpected {what}'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def connection_refused(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


def frame(code: int, sender: str, body: Any) -> bytes:
    return framing.encode(code, sender, body)


def raw_frame(payload: bytes) -> bytes:
    return framing.HEADER.pack(len(payload)) + payload


@dataclass
class Node:
    identifier: str
    port: int
    bus: InternalBus
    events: Events
    logger: FakeLogger

    def publish(self, code: int, body: Any, sticky: Optional[str] = None) -> bytes:
        data = frame(code, self.identifier, body)
        self.bus.publish(data, sticky)
        return data


class RawClient:
    """ A plain TCP client of a bus publisher. """

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=2.0)
        self.decoder = framing.FrameDecoder()
        self.frames: Deque[Tuple[int, str, Any]] = deque()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next(self, timeout: float = 2.0, skip_heartbeats: bool = True) -> Tuple[int, str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while self.frames:
                message = self.frames.popleft()
                if not (skip_heartbeats and message[0] == IM.HEARTBEAT):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError('no frame received in time')
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError('connection closed by the bus')
            self.frames.extend(framing.decode(payload) for payload in self.decoder.feed(data))

    def closed_by_peer(self, timeout: float = 2.0) -> bool:
        """ Read (and drop) until EOF; True if the bus closed the connection within timeout. """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not data:
                return True
            self.frames.extend(framing.decode(payload) for payload in self.decoder.feed(data))
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def make_node():
    """ Build (and start) buses on 127.0.0.1; every bus is stopped at teardown. """
    nodes: List[Node] = []

    def factory(identifier: str, port: Optional[int] = None, peers: Optional[Dict[str, int]] = None,
                start: bool = True, **kwargs: Any) -> Node:
        port = free_port() if port is None else port
        events, logger = Events(), FakeLogger()
        kwargs.setdefault('tick_period', 5.0)
        bus = InternalBus(identifier, port, {x: (HOST, p) for x, p in (peers or {}).items()}, events, logger,
                          bind_host=HOST, **kwargs)
        node = Node(identifier, port, bus, events, logger)
        nodes.append(node)
        if start:
            bus.start()
            # the first tick is delivered once the internal port is bound (or failed to)
            wait_until(lambda: events.of(LocalTick), what=f'first tick of {identifier}')
        return node

    yield factory
    for node in nodes:
        node.bus.stop(flush_timeout=0.2)
    for node in nodes:
        assert not node.bus.is_alive()


@pytest.fixture
def raw_clients():
    clients: List[RawClient] = []

    def factory(port: int) -> RawClient:
        client = RawClient(port)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def pair(make_node):
    """ Two connected buses A and B, peers of each other. """
    port_a, port_b = free_port(), free_port()
    node_a = make_node('A', port_a, {'B': port_b})
    node_b = make_node('B', port_b, {'A': port_a})
    wait_until(lambda: node_a.events.of(PeerConnected, identifier='B'), what='A connected to B')
    wait_until(lambda: node_b.events.of(PeerConnected, identifier='A'), what='B connected to A')
    return node_a, node_b


# ---------------------------------------------------------------------------------------------------------------------
# Framing
# ---------------------------------------------------------------------------------------------------------------------

def test_encode_layout():
    data = framing.encode(IM.TICK, 'alpha', {'when': 1.5, 'sequence_counter': 3})
    payload = b'[1,["alpha",{"when":1.5,"sequence_counter":3}]]'
    assert data == struct.pack('>I', len(payload)) + payload
    assert framing.HEADER.size == 4


@pytest.mark.parametrize('code, sender, body', [
    (IM.HEARTBEAT, 'A', {}),
    (IM.TICK, 'server_1', {'when': 1700000000.25, 'sequence_counter': 12}),
    (IM.STATE, '10.0.0.1:60000', {'fsm_statecode': 3, 'fsm_statename': 'OPERATION', 'starting_jobs': False,
                                  'stopping_jobs': True}),
    (IM.PROCESS_ADDED, 'é', [{'name': 'ü', 'group': '中文', 'state': 20, 'now': 1.0}]),
    (IM.PROCESS, 'A', None),
    (99, 'A', 'text'),
    (7, '', [1, [2, [3, None]]]),
])
def test_round_trip(code, sender, body):
    data = framing.encode(code, sender, body)
    decoder = framing.FrameDecoder()
    payloads = decoder.feed(data)
    assert len(payloads) == 1 and decoder.pending == 0
    decoded = framing.decode(payloads[0])
    assert decoded == (int(code), sender, body)
    assert type(decoded[0]) is int


def test_decode_without_body():
    assert framing.decode(b'[0,["A"]]') == (0, 'A', None)


def test_encode_too_large(monkeypatch):
    monkeypatch.setattr(framing, 'MAX_FRAME_SIZE', 100)
    framing.encode(IM.STATE, 'A', 'x' * 50)
    with pytest.raises(ValueError):
        framing.encode(IM.STATE, 'A', 'x' * 100)


def test_decoder_byte_by_byte():
    messages = [(IM.TICK, 'A', {'when': 1.0, 'sequence_counter': n}) for n in range(3)]
    stream = b''.join(framing.encode(*message) for message in messages)
    decoder = framing.FrameDecoder()
    payloads = []
    for idx in range(len(stream)):
        new = decoder.feed(stream[idx:idx + 1])
        payloads.extend(new)
        if idx == 2:
            assert decoder.pending == 3 and new == []
    assert decoder.pending == 0
    assert [framing.decode(p) for p in payloads] == [(1, 'A', body) for _, _, body in messages]


def test_decoder_random_chunks():
    rng = random.Random(7)
    messages = [(IM.PROCESS, 'A', {'name': 'p' * rng.randint(0, 300), 'n': n}) for n in range(50)]
    stream = b''.join(framing.encode(*message) for message in messages)
    decoder = framing.FrameDecoder()
    payloads = []
    pos = 0
    while pos < len(stream):
        size = rng.randint(1, 700)
        payloads.extend(decoder.feed(stream[pos:pos + size]))
        pos += size
    assert decoder.pending == 0
    assert [framing.decode(p)[2]['n'] for p in payloads] == list(range(50))


def test_decoder_several_frames_in_one_chunk():
    frames = [framing.encode(IM.STATE, 'A', {'n': n}) for n in range(3)]
    decoder = framing.FrameDecoder()
    payloads = decoder.feed(frames[0] + frames[1] + frames[2][:5])
    assert [framing.decode(p)[2] for p in payloads] == [{'n': 0}, {'n': 1}]
    assert decoder.pending == 5
    payloads = decoder.feed(frames[2][5:])
    assert [framing.decode(p)[2] for p in payloads] == [{'n': 2}]
    assert decoder.pending == 0
    assert decoder.feed(b'') == []


def test_decoder_pending_bytes():
    decoder = framing.FrameDecoder()
    assert decoder.pending == 0
    assert decoder.feed(b'\x00\x00') == []
    assert decoder.pending == 2  # incomplete header
    assert decoder.feed(b'\x00\x10abc') == []
    assert decoder.pending == 7  # header of a 16-byte frame and 3 bytes of it


def test_decoder_zero_length_frame():
    decoder = framing.FrameDecoder()
    assert decoder.feed(framing.HEADER.pack(0) + framing.HEADER.pack(0)) == [b'', b'']
    with pytest.raises(framing.MessageError):
        framing.decode(b'')


def test_decoder_oversized_header():
    decoder = framing.FrameDecoder(max_size=10)
    assert decoder.feed(framing.HEADER.pack(10)) == []  # the maximum itself is accepted
    decoder = framing.FrameDecoder(max_size=10)
    with pytest.raises(framing.FrameError):
        decoder.feed(framing.HEADER.pack(11) + b'x' * 11)
    assert decoder.pending == 0
    decoder = framing.FrameDecoder()
    with pytest.raises(framing.FrameError):
        decoder.feed(b'\xff\xff\xff\xff')
    with pytest.raises(framing.FrameError):
        framing.FrameDecoder().feed(framing.HEADER.pack(framing.MAX_FRAME_SIZE + 1))
    # an HTTP request is not mistaken for a frame
    with pytest.raises(framing.FrameError):
        framing.FrameDecoder().feed(b'GET / HTTP/1.0\r\n\r\n')


@pytest.mark.parametrize('payload', [
    b'', b'not json', b'\xff\xfe\xfd', b'{"a": 1}', b'[]', b'[1]', b'[1, ["A"], 3]', b'"text"', b'12', b'null',
    b'["1", ["A", {}]]', b'[true, ["A", {}]]', b'[1.0, ["A", {}]]', b'[null, ["A", {}]]', b'[1, "A"]',
    b'[1, []]', b'[1, ["A", {}, 3]]', b'[1, [2, {}]]', b'[1, [null, {}]]', b'[1, {"A": {}}]', b'[1, ["A", {}]',
    b'[' * 100000, b'{"a":' * 100000, b'[1, ["A", ' + b'[' * 100000 + b']' * 100000 + b']]',
])
def test_decode_errors(payload):
    with pytest.raises(framing.MessageError):
        framing.decode(payload)


def test_garbage_raises_only_framing_errors():
    rng = random.Random(1234)
    alphabet = b'[]{}",:0123456789.-eAtrunlfs \\\xff\x00'
    for _ in range(2000):
        size = rng.randint(0, 60)
        if rng.random() < 0.5:
            data = bytes(rng.getrandbits(8) for _ in range(size))
        else:
            data = bytes(rng.choice(alphabet) for _ in range(size))
        decoder = framing.FrameDecoder(max_size=64)
        try:
            payloads = decoder.feed(framing.HEADER.pack(len(data)) + data + data)
        except framing.FrameError:
            continue
        for payload in payloads:
            try:
                framing.decode(payload)
            except framing.MessageError:
                pass


# ---------------------------------------------------------------------------------------------------------------------
# Bus: ticks
# ---------------------------------------------------------------------------------------------------------------------

def test_local_ticks(make_node):
    node = make_node('A', tick_period=0.5, start=False)
    before = time.time()
    node.bus.start()
    # the first tick is immediate
    first = wait_until(lambda: node.events.of(LocalTick), timeout=0.4, what='first tick')[0]
    assert before <= first.now < before + 0.3
    ticks = wait_until(lambda: len(node.events.of(LocalTick)) >= 3 and node.events.of(LocalTick), timeout=2.0,
                       what='3 ticks')
    # the next ones follow the tick period, aligned on its multiples of the wall clock
    for tick in ticks[1:3]:
        assert (tick.now % 0.5) < 0.15, tick.now
    assert ticks[1].now - ticks[0].now <= 0.5 + 0.15
    assert 0.5 - 0.15 < ticks[2].now - ticks[1].now < 0.5 + 0.15
    assert all(isinstance(event, LocalTick) for event in node.events.snapshot())


def test_deliver_failure_does_not_stop_the_bus(make_node):
    calls = []

    def deliver(event):
        calls.append(event)
        raise RuntimeError('owner thread gone')

    node = make_node('A', tick_period=0.2, start=False)
    node.bus.deliver = deliver
    node.bus.start()
    wait_until(lambda: len(calls) >= 2, timeout=1.5, what='2 ticks')
    assert node.bus.is_alive()
    assert node.logger.count('error', 'cannot deliver') >= 2


# ---------------------------------------------------------------------------------------------------------------------
# Bus: exchanges between two buses
# ---------------------------------------------------------------------------------------------------------------------

def test_exchange_between_two_buses(pair):
    node_a, node_b = pair
    node_a.publish(IM.TICK, {'when': 10.5, 'sequence_counter': 0}, 'tick')
    assert wait_until(lambda: node_b.events.of(Received, identifier='A'), what='tick from A') == \
        [Received('A', IM.TICK, {'when': 10.5, 'sequence_counter': 0})]
    node_b.publish(IM.STATE, {'fsm_statecode': 1, 'fsm_statename': 'INITIALIZATION', 'starting_jobs': False,
                              'stopping_jobs': False}, 'state')
    received = wait_until(lambda: node_a.events.of(Received, identifier='B'), what='state from B')
    assert received[0].code == IM.STATE and received[0].body['fsm_statename'] == 'INITIALIZATION'
    # order preserved
    for idx in range(50):
        node_a.publish(IM.PROCESS, {'n': idx})
    wait_until(lambda: len(node_b.events.received('A', IM.PROCESS)) == 50, what='50 frames')
    assert [body['n'] for body in node_b.events.received('A', IM.PROCESS)] == list(range(50))
    # heartbeats are never delivered, nothing is looped back to the publisher itself
    for node in (node_a, node_b):
        assert all(event.code != IM.HEARTBEAT for event in node.events.of(Received))
        assert node.events.of(Received, identifier=node.identifier) == []
        assert node.events.of(PeerDown) == [] and node.events.of(BusFailure) == []
        assert len(node.events.of(PeerConnected)) == 1
        assert node.logger.levels('warn') == [] and node.logger.levels('critical') == []


def test_large_frame(pair):
    node_a, node_b = pair
    body = [{'name': f'process_{idx}', 'group': 'group', 'description': 'x' * 200} for idx in range(5000)]
    node_a.publish(IM.PROCESS_ADDED, body)
    received = wait_until(lambda: node_b.events.received('A', IM.PROCESS_ADDED), timeout=5.0, what='large frame')
    assert received == [body]


def test_sticky_frames_replayed_to_new_subscribers(make_node, raw_clients):
    node_a = make_node('A')
    tick0 = node_a.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    state0 = node_a.publish(IM.STATE, {'fsm_statecode': 1}, 'state')
    node_a.publish(IM.PROCESS, {'name': 'p'})
    tick1 = node_a.publish(IM.TICK, {'when': 2.0, 'sequence_counter': 1}, 'tick')
    wait_until(lambda: not node_a.bus.outgoing and node_a.bus.sticky_counter == 3, what='frames processed')
    # a raw subscriber gets the last frame of each sticky kind at once, in publication order
    client = raw_clients(node_a.port)
    assert client.next() == framing.decode(state0[4:])
    assert client.next() == framing.decode(tick1[4:])
    marker = node_a.publish(IM.STATISTICS, {'marker': True})
    assert client.next() == framing.decode(marker[4:])  # neither the PROCESS frame nor the first tick
    assert tick0 != tick1
    # a bus that connects later gets them too
    node_b = make_node('B', peers={'A': node_a.port})
    wait_until(lambda: len(node_b.events.of(Received)) >= 2, what='sticky frames on B')
    assert node_b.events.of(Received)[:2] == [Received('A', IM.STATE, {'fsm_statecode': 1}),
                                              Received('A', IM.TICK, {'when': 2.0, 'sequence_counter': 1})]


def test_frame_from_unexpected_sender_dropped(pair):
    node_a, node_b = pair
    node_b.bus.publish(frame(IM.STATE, 'C', {'n': 1}))
    node_b.bus.publish(frame(IM.STATE, 'A', {'n': 2}))
    node_b.publish(IM.STATE, {'n': 3})
    wait_until(lambda: node_a.events.of(Received, identifier='B'), what='frame from B')
    assert [(event.identifier, event.body) for event in node_a.events.of(Received)] == [('B', {'n': 3})]
    assert node_a.logger.count('warn', 'message from C received on the link to B') == 1
    assert node_a.logger.count('warn', 'message from A received on the link to B') == 1
    # the link is kept
    node_b.publish(IM.STATE, {'n': 4})
    wait_until(lambda: len(node_a.events.of(Received)) == 2, what='second frame from B')
    assert len(node_a.events.of(PeerConnected)) == 1


# ---------------------------------------------------------------------------------------------------------------------
# Bus: loss and reconnection
# ---------------------------------------------------------------------------------------------------------------------

def test_peer_down_when_peer_stops(pair, make_node):
    node_a, node_b = pair
    start = time.monotonic()
    node_b.bus.stop(flush_timeout=0.2)
    wait_until(lambda: node_a.events.of(PeerDown, identifier='B'), timeout=1.0, what='PeerDown B')
    assert time.monotonic() - start < 1.0
    assert connection_refused(node_b.port)
    assert node_a.bus.is_alive()
    # reported once
    never(lambda: len(node_a.events.of(PeerDown)) > 1, 0.3, 'second PeerDown')
    # B restarted on the same port: A reconnects and gets its frames
    node_b2 = make_node('B', node_b.port, {'A': node_a.port})
    wait_until(lambda: len(node_a.events.of(PeerConnected, identifier='B')) == 2, timeout=3.0,
               what='A reconnected to B')
    node_b2.publish(IM.TICK, {'when': 5.0, 'sequence_counter': 0}, 'tick')
    wait_until(lambda: node_a.events.received('B', IM.TICK), what='tick from the new B')
    assert node_a.events.received('B', IM.TICK) == [{'when': 5.0, 'sequence_counter': 0}]
    assert len(node_a.events.of(PeerDown)) == 1


def test_no_peer_down_for_peer_never_connected(make_node):
    node_a = make_node('A', peers={'C': free_port()})
    never(lambda: node_a.events.of(PeerDown) or node_a.events.of(PeerConnected), 1.2, 'event about C')
    assert node_a.events.of(LocalTick)
    assert node_a.bus.is_alive()


def test_peer_started_later(make_node):
    port_b = free_port()
    node_a = make_node('A', peers={'B': port_b})
    wait_until(lambda: node_a.bus.peers['B'].backoff >= 0.4, what='a few refused attempts')
    node_b = make_node('B', port_b, {'A': node_a.port})
    wait_until(lambda: node_a.events.of(PeerConnected, identifier='B'), timeout=2.0, what='A connected to B')
    node_b.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    wait_until(lambda: node_a.events.received('B'), what='tick from B')
    assert node_a.events.of(PeerDown) == []


def test_isolate(pair):
    node_a, node_b = pair
    node_b.publish(IM.STATE, {'n': 0})
    wait_until(lambda: node_a.events.received('B'), what='first frame from B')
    node_a.bus.isolate(['B'])
    # the subscription of A to B is closed: B sees its client leave
    wait_until(lambda: not node_b.bus.clients, what='A unsubscribed from B')
    count = len(node_a.events.of(Received))
    deadline = time.monotonic() + 1.2  # longer than the reconnection back-off
    idx = 1
    while time.monotonic() < deadline:
        node_b.publish(IM.STATE, {'n': idx}, 'state')
        idx += 1
        time.sleep(0.05)
    assert len(node_a.events.of(Received)) == count
    assert len(node_a.events.of(PeerConnected, identifier='B')) == 1
    # the other direction is not affected: A still publishes to B
    node_a.publish(IM.STATE, {'from': 'A'})
    wait_until(lambda: node_b.events.received('A'), what='frame from A')
    # B gone: nothing reported about an isolated peer
    node_b.bus.stop(flush_timeout=0.2)
    never(lambda: node_a.events.of(PeerDown), 0.3, 'PeerDown of an isolated peer')
    # isolating an unknown peer or twice is harmless
    node_a.bus.isolate(['B', 'nobody'])
    node_a.publish(IM.TICK, {}, 'tick')
    wait_until(lambda: not node_a.bus.outgoing and not node_a.bus.pending_isolations, what='isolations done')
    assert node_a.bus.is_alive()


# ---------------------------------------------------------------------------------------------------------------------
# Bus: garbage
# ---------------------------------------------------------------------------------------------------------------------

def test_garbage_from_raw_clients(pair, raw_clients):
    node_a, node_b = pair
    logger = node_a.logger

    def new_warns(before: int) -> List[str]:
        return logger.levels('warn')[before:]

    # random bytes
    before = len(logger.levels('warn'))
    client = raw_clients(node_a.port)
    client.send(bytes(random.Random(42).getrandbits(8) for _ in range(512)))
    client.close()
    wait_until(lambda: new_warns(before), what='random bytes logged')
    assert all('dropped data from 127.0.0.1:' in msg for msg in new_warns(before))
    # a valid header announcing an oversized frame: the connection is dropped
    before = len(logger.levels('warn'))
    client = raw_clients(node_a.port)
    client.send(framing.HEADER.pack(0x7FFFFFFF) + b'xxxx')
    wait_until(lambda: any('oversized frame' in msg for msg in new_warns(before)), what='oversized logged')
    assert client.closed_by_peer()
    # a truncated frame, then close
    before = len(logger.levels('warn'))
    client = raw_clients(node_a.port)
    client.send(framing.HEADER.pack(100) + b'[0,["X",')
    client.close()
    wait_until(lambda: any('truncated frame (12 bytes)' in msg for msg in new_warns(before)),
               what='truncated frame logged')
    # valid frames with invalid content: dropped one by one, the connection is kept
    before = len(logger.levels('warn'))
    client = raw_clients(node_a.port)
    client.send(raw_frame(b'{not json'))
    wait_until(lambda: any('not a JSON message' in msg for msg in new_warns(before)), what='invalid JSON logged')
    client.send(raw_frame(b'\xff\xfe'))
    client.send(raw_frame(b'{"a": 1}'))
    client.send(raw_frame(b'[' * 100000))
    client.send(frame(IM.HEARTBEAT, 'X', {}))  # what subscribers send: fine
    client.send(frame(IM.TICK, 'X', {'when': 1.0, 'sequence_counter': 0}))
    wait_until(lambda: any('unexpected message code=1 from X' in msg for msg in new_warns(before)),
               what='unexpected code logged')
    assert sum('not a JSON message' in msg for msg in new_warns(before)) == 3
    assert sum('unexpected message structure' in msg for msg in new_warns(before)) == 1
    assert len(new_warns(before)) == 5
    assert not client.closed_by_peer(timeout=0.05)
    # after all that, A still delivers the frames of B, and still publishes
    node_b.publish(IM.TICK, {'when': 3.0, 'sequence_counter': 3})
    wait_until(lambda: node_a.events.received('B', IM.TICK), what='tick from B')
    node_a.publish(IM.TICK, {'when': 4.0, 'sequence_counter': 4})
    wait_until(lambda: node_b.events.received('A', IM.TICK), what='tick from A')
    assert node_a.bus.is_alive()
    assert node_a.events.of(BusFailure) == [] and logger.levels('critical') == []


def test_garbage_flood_log_limited(make_node, raw_clients):
    node_a = make_node('A')
    client = raw_clients(node_a.port)
    client.send(raw_frame(b'garbage') * 30)
    wait_until(lambda: node_a.logger.count('warn', 'too much invalid data'), what='flood logged')
    client.send(raw_frame(b'garbage') * 5)
    client.send(framing.HEADER.pack(0xFFFFFFF0))
    assert client.closed_by_peer()
    assert node_a.logger.count('warn', 'dropped data from') == 20
    assert node_a.logger.count('warn', 'too much invalid data') == 1


def test_garbage_from_a_peer_publisher(make_node):
    """ B is a fake publisher: what A reads on its subscriber link is checked the same way. """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((HOST, 0))
        server.listen(8)
        server.settimeout(2.0)
        node_a = make_node('A', peers={'B': server.getsockname()[1]})
        conn, _ = server.accept()
        with conn:
            conn.settimeout(2.0)
            wait_until(lambda: node_a.events.of(PeerConnected, identifier='B'), what='A connected')
            # the subscriber starts with a heartbeat
            decoder = framing.FrameDecoder()
            payloads = wait_until(lambda: decoder.feed(conn.recv(4096)), what='heartbeat from A')
            assert framing.decode(payloads[0]) == (IM.HEARTBEAT, 'A', {})
            conn.sendall(frame(IM.HEARTBEAT, 'B', {}) + raw_frame(b'[1, oops') + raw_frame(b'[' * 100000)
                         + frame(IM.TICK, 'C', {'when': 1.0}) + frame(IM.TICK, 'B', {'when': 2.0}))
            wait_until(lambda: node_a.events.of(Received), what='frame from B')
            assert node_a.events.of(Received) == [Received('B', IM.TICK, {'when': 2.0})]
            assert node_a.logger.count('warn', 'dropped data from B: not a JSON message') == 2
            assert node_a.logger.count('warn', 'message from C received on the link to B') == 1
            # an oversized frame: the link is dropped and re-established at once (B still listens: no PeerDown)
            conn.sendall(framing.HEADER.pack(0xFFFFFFFF))
            conn2, _ = server.accept()
        with conn2:
            wait_until(lambda: len(node_a.events.of(PeerConnected, identifier='B')) == 2, what='reconnection')
            assert node_a.events.of(PeerDown) == []
            # then B's supervisord disappears for real
            server.close()
        wait_until(lambda: node_a.events.of(PeerDown, identifier='B'), timeout=1.0, what='PeerDown B')
        assert node_a.bus.is_alive()


# ---------------------------------------------------------------------------------------------------------------------
# Bus: bind failure, heartbeats, stop
# ---------------------------------------------------------------------------------------------------------------------

def test_bind_failure(make_node):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind((HOST, 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        node = make_node('A', port, tick_period=0.5)
        failure = wait_until(lambda: node.events.of(BusFailure), what='BusFailure')[0]
        assert f'cannot bind the internal port {port}' in failure.reason
        assert node.logger.count('critical', f'cannot bind the internal port {port}') == 1
        # the tick timer still runs
        wait_until(lambda: len(node.events.of(LocalTick)) >= 2, timeout=1.5, what='2 ticks')
        assert node.bus.is_alive()
        node.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')  # nowhere to go, no error
        wait_until(lambda: not node.bus.outgoing, what='publish processed')
        assert node.bus.is_alive()


def test_heartbeats(make_node, raw_clients):
    port_a, port_b = free_port(), free_port()
    kwargs = {'heartbeat_period': 0.1, 'heartbeat_timeout': 0.5}
    node_a = make_node('A', port_a, {'B': port_b}, **kwargs)
    node_b = make_node('B', port_b, {'A': port_a}, **kwargs)
    wait_until(lambda: node_a.events.of(PeerConnected) and node_b.events.of(PeerConnected), what='connections')
    client = raw_clients(port_a)
    # the publisher sends heartbeats to its clients
    assert client.next(skip_heartbeats=False) == (IM.HEARTBEAT, 'A', {})
    # a client that sends nothing is dropped after heartbeat_timeout
    start = time.monotonic()
    assert client.closed_by_peer(timeout=2.0)
    assert 0.2 < time.monotonic() - start < 1.5
    # buses exchange heartbeats both ways: their links survive
    assert len(node_a.events.of(PeerConnected)) == 1 and len(node_b.events.of(PeerConnected)) == 1
    assert node_a.events.of(PeerDown) == [] and node_b.events.of(PeerDown) == []
    assert len(node_a.bus.clients) == 1 and len(node_b.bus.clients) == 1


def test_stop_is_prompt_and_closes_the_port(pair, raw_clients):
    node_a, node_b = pair
    client = raw_clients(node_a.port)
    wait_until(lambda: len(node_a.bus.clients) == 2, what='raw client accepted')
    last = node_a.publish(IM.STATE, {'fsm_statename': 'SHUTDOWN'})
    start = time.monotonic()
    node_a.bus.stop()
    assert time.monotonic() - start < 0.5
    assert not node_a.bus.is_alive()
    assert connection_refused(node_a.port)
    # what was published before stop() was flushed to the subscribers
    assert client.next() == framing.decode(last[4:])
    assert client.closed_by_peer()
    wait_until(lambda: node_b.events.received('A'), what='last frame on B')
    # stopping twice is harmless
    node_a.bus.stop()


def test_fast_xmlrpc_loads_matches_the_standard_library():
    import xmlrpc.client
    from supvisors.adapters.peers import fast_loads
    value = [{'name': 'a&b <c>', 'state': 20, 'now': 1.5, 'expected': True, 'empty': '', 'list': [1, 'x', False],
              'nested': {'k': -3}}, 'plain', 2 ** 31 - 1]
    data = xmlrpc.client.dumps((value,), methodresponse=True).encode()
    assert fast_loads(data) == xmlrpc.client.loads(data)[0]
    fault = xmlrpc.client.dumps(xmlrpc.client.Fault(10, 'BAD_NAME: x'), methodresponse=True).encode()
    with pytest.raises(xmlrpc.client.Fault) as exc:
        fast_loads(fault)
    assert (exc.value.faultCode, exc.value.faultString) == (10, 'BAD_NAME: x')
    untyped = b'<?xml version="1.0"?><methodResponse><params><param><value>text</value></param></params>' \
              b'</methodResponse>'
    assert fast_loads(untyped) == ('text',)


def test_check_request_and_targeted_answer(pair, make_node):
    """ A subscriber asks a publisher; the answer goes to that subscriber only, in order with the broadcasts. """
    node_a, node_b = pair
    port_c = free_port()
    node_c = make_node('C', port_c, {'A': node_a.port})
    wait_until(lambda: node_c.events.of(PeerConnected, identifier='A'), what='C connected to A')
    node_b.bus.request('A', frame(IM.CHECK_REQUEST, 'B', {'check_id': 7}), 7)
    requested = wait_until(lambda: node_a.events.of(CheckRequested, identifier='B'), what='request received')
    assert requested[0].body == {'check_id': 7}
    node_a.publish(IM.PROCESS, {'n': 1})
    node_a.bus.send_to(requested[0].link_id, frame(IM.CHECK_ANSWER, 'A', {'check_id': 7}))
    node_a.publish(IM.PROCESS, {'n': 2})
    wait_until(lambda: len(node_b.events.received('A', IM.PROCESS)) == 2, what='broadcasts to B')
    wait_until(lambda: len(node_c.events.received('A', IM.PROCESS)) == 2, what='broadcasts to C')
    assert [(e.code, e.body) for e in node_b.events.of(Received, identifier='A') if e.code != IM.TICK] == \
        [(IM.PROCESS, {'n': 1}), (IM.CHECK_ANSWER, {'check_id': 7}), (IM.PROCESS, {'n': 2})]
    assert node_c.events.received('A', IM.CHECK_ANSWER) == []


def test_request_to_a_peer_not_connected_fails(make_node):
    node = make_node('A', free_port(), {'B': free_port()})
    node.bus.request('B', frame(IM.CHECK_REQUEST, 'A', {'check_id': 3}), 3)
    assert wait_until(lambda: node.events.of(RequestFailed), what='request failed') == [RequestFailed('B', 3)]
