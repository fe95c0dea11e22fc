"""Tests of the authentication of the internal bus with a shared secret (option internal_secret): tags, handshake,
replay protection, and what buses and third parties connected to them see."""

import random
import socket
import struct
import time
from typing import Any, List, Optional, Tuple

import pytest

from supvisors.bus import framing
from supvisors.bus.framing import AuthError, LinkAuth
from supvisors.bus.node import CheckRequested, PeerConnected, PeerDown, Received, RequestFailed
from supvisors.tests.unit import test_bus
from supvisors.tests.unit.test_bus import IM, HOST, free_port, frame, never, raw_frame, wait_until
from supvisors.tests.wire import BusWire

make_node = test_bus.make_node  # the fixture building real buses on 127.0.0.1

SECRET = b'a secret shared by the fleet members'
OTHER_SECRET = b'another secret, not the fleet one'


# ---------------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------------

def payload_of(data: bytes) -> bytes:
    """ The payload of one complete frame. """
    (size,) = framing.HEADER.unpack_from(data)
    assert len(data) == framing.HEADER.size + size
    return data[framing.HEADER.size:]


def keyed_pair(publisher: str = 'A', secret: bytes = SECRET) -> Tuple[LinkAuth, LinkAuth]:
    """ Both ends of one connection, once the handshakes are exchanged. """
    pub = LinkAuth(secret, publisher, is_publisher=True)
    sub = LinkAuth(secret, publisher, is_publisher=False)
    assert pub.open(payload_of(sub.hello())) is None
    assert sub.open(payload_of(pub.hello())) is None
    return pub, sub


class AuthClient(BusWire):
    """ A third party (or a correct subscriber, with the right secret) connected to a bus publisher. """

    def __init__(self, port: int, publisher: str, secret: bytes = SECRET, nonce: Optional[bytes] = None):
        super().__init__(socket.create_connection((HOST, port), timeout=2.0))
        self.auth = LinkAuth(secret, publisher, is_publisher=False, nonce=nonce)

    def handshake(self, send_hello: bool = True) -> None:
        """ Wait for the publisher's handshake, then answer it (authenticating this client with a heartbeat). """
        wait_until(lambda: self.read(0.05), what='handshake of the publisher')
        assert self.payloads[0].startswith(framing.HELLO_MAGIC) and len(self.payloads[0]) == 20
        self.hello = self.payloads.pop(0)
        assert self.auth.open(self.hello) is None
        if send_hello:
            self.send(self.auth.hello())

    def only_heartbeats(self, publisher: str, hello: bytes) -> bool:
        """ True if everything received after the handshake is the handshake again or a heartbeat tagged for this
        connection (checked with the fleet secret, whatever the secret of this client). """
        checker = LinkAuth(SECRET, publisher, is_publisher=False, nonce=self.auth.local_nonce)
        checker.open(hello)
        for payload in self.payloads:
            if payload == hello:
                continue
            code, _, _ = framing.decode(checker.open(payload))
            if code != IM.HEARTBEAT:
                return False
        return True

    def messages(self) -> List[Tuple[int, str, Any]]:
        """ The messages received after the handshake, checked with this client's secret. """
        return [framing.decode(self.auth.open(payload)) for payload in self.payloads]


@pytest.fixture
def clients():
    opened: List[AuthClient] = []

    def factory(*args: Any, **kwargs: Any) -> AuthClient:
        client = AuthClient(*args, **kwargs)
        opened.append(client)
        return client

    yield factory
    for client in opened:
        client.close()


@pytest.fixture
def auth_pair(make_node):
    """ Two buses A and B sharing the secret, connected to each other. """
    port_a, port_b = free_port(), free_port()
    node_a = make_node('A', port_a, {'B': port_b}, secret=SECRET)
    node_b = make_node('B', port_b, {'A': port_a}, secret=SECRET)
    wait_until(lambda: node_a.events.of(PeerConnected, identifier='B'), what='A connected to B')
    wait_until(lambda: node_b.events.of(PeerConnected, identifier='A'), what='B connected to A')
    return node_a, node_b


def warns(node, text: str) -> int:
    return node.logger.count('warn', text)


# ---------------------------------------------------------------------------------------------------------------------
# Tags and handshake (no socket)
# ---------------------------------------------------------------------------------------------------------------------

def test_hello_layout():
    auth = LinkAuth(SECRET, 'A', is_publisher=True, nonce=b'N' * 16)
    assert auth.hello() == struct.pack('>I', 20) + b'SVH1' + b'N' * 16
    assert not auth.keyed and not auth.can_send and not auth.authenticated
    assert len(LinkAuth(SECRET, 'A', is_publisher=False).local_nonce) == 16
    assert LinkAuth(SECRET, 'A', True).local_nonce != LinkAuth(SECRET, 'A', True).local_nonce
    with pytest.raises(ValueError):
        LinkAuth(b'', 'A', is_publisher=True)


def test_tag_computation():
    """ The tag is the HMAC-SHA256 of context + sequence + JSON, the context binding direction, publisher, nonces. """
    pub = LinkAuth(SECRET, 'A', is_publisher=True, nonce=b'P' * 16)
    sub = LinkAuth(SECRET, 'A', is_publisher=False, nonce=b'S' * 16)
    pub.open(payload_of(sub.hello()))
    sub.open(payload_of(pub.hello()))
    plain = framing.encode(IM.TICK, 'A', {'when': 1.5})
    json_payload = payload_of(plain)
    sealed = pub.seal(plain)
    payload = payload_of(sealed)
    assert payload[:4] == b'SVA1'
    assert payload[4:12] == struct.pack('>Q', 1)
    context = b'supvisors-internal-bus-1' + b'P' + struct.pack('>H', 1) + b'A' + b'P' * 16 + b'S' * 16
    assert context == framing.link_context(framing.TO_SUBSCRIBER, 'A', b'P' * 16, b'S' * 16)
    assert payload[12:44] == framing.make_tag(SECRET, context, 1, json_payload)
    assert payload[44:] == json_payload
    # the subscriber direction has its own context, its own sequence
    sealed_up = payload_of(sub.seal(framing.encode(IM.HEARTBEAT, 'B', {})))
    up_context = framing.link_context(framing.TO_PUBLISHER, 'A', b'P' * 16, b'S' * 16)
    assert sealed_up[4:12] == struct.pack('>Q', 1)
    assert sealed_up[12:44] == framing.make_tag(SECRET, up_context, 1, sealed_up[44:])
    # sequences go on
    assert payload_of(pub.seal(plain))[4:12] == struct.pack('>Q', 2)


def test_valid_frames_accepted_both_ways():
    pub, sub = keyed_pair()
    assert sub.can_send and not pub.can_send  # the publisher waits for a proof from the client
    up = framing.encode(IM.CHECK_REQUEST, 'B', {'check_id': 3})
    assert framing.decode(pub.open(payload_of(sub.seal(up)))) == (IM.CHECK_REQUEST, 'B', {'check_id': 3})
    assert pub.authenticated and pub.can_send
    for idx in range(5):
        down = framing.encode(IM.PROCESS, 'A', {'n': idx, 'text': 'é' * idx})
        assert framing.decode(sub.open(payload_of(pub.seal(down)))) == (IM.PROCESS, 'A',
                                                                          {'n': idx, 'text': 'é' * idx})
    assert sub.recv_sequence == 5 and pub.send_sequence == 5


def test_untagged_frame_dropped():
    pub, sub = keyed_pair()
    with pytest.raises(AuthError, match='frame without authentication tag: internal_secret is set here'):
        sub.open(payload_of(framing.encode(IM.TICK, 'A', {'when': 1.0})))
    with pytest.raises(AuthError, match='without authentication tag'):
        pub.open(b'')
    assert not pub.authenticated and sub.recv_sequence == 0


def test_tampered_frames_dropped():
    pub, sub = keyed_pair()
    payload = bytearray(payload_of(pub.seal(framing.encode(IM.STATE, 'A', {'fsm_statecode': 3}))))
    for position in (5, 11, 12, 43, 44, len(payload) - 1):  # sequence, tag, JSON
        altered = bytearray(payload)
        altered[position] ^= 0x01
        with pytest.raises(AuthError, match='invalid authentication tag'):
            sub.open(bytes(altered))
    with pytest.raises(AuthError, match='invalid authentication tag'):
        sub.open(bytes(payload) + b' ')
    # the genuine frame is still accepted after the failed attempts
    assert framing.decode(sub.open(bytes(payload))) == (IM.STATE, 'A', {'fsm_statecode': 3})


def test_truncated_frames_dropped():
    pub, sub = keyed_pair()
    payload = payload_of(pub.seal(framing.encode(IM.TICK, 'A', {'when': 1.0})))
    for size in (4, 12, 43):
        with pytest.raises(AuthError, match=f'truncated authenticated frame \\({size} bytes\\)'):
            sub.open(payload[:size])
    with pytest.raises(AuthError, match='invalid authentication tag'):
        sub.open(payload[:-1])


def test_replayed_frames_dropped():
    pub, sub = keyed_pair()
    first = payload_of(pub.seal(framing.encode(IM.TICK, 'A', {'when': 1.0})))
    second = payload_of(pub.seal(framing.encode(IM.TICK, 'A', {'when': 2.0})))
    assert sub.open(first) and sub.open(second)
    for payload in (second, first):
        with pytest.raises(AuthError, match='replayed frame'):
            sub.open(payload)
    # a frame of another connection (other nonces, e.g. before a restart of either side) fails its tag
    pub2, sub2 = keyed_pair()
    with pytest.raises(AuthError, match='invalid authentication tag'):
        sub2.open(first)
    # so does a frame sent back to its sender (other direction)
    up = payload_of(sub.seal(framing.encode(IM.HEARTBEAT, 'B', {})))
    with pytest.raises(AuthError, match='invalid authentication tag'):
        sub.open(up)
    assert pub.open(up) is not None


def test_frames_bound_to_the_publisher_identity():
    """ What a subscriber sends to the publisher it expects (C) is worthless to another publisher (B). """
    fake_c = LinkAuth(SECRET, 'B', is_publisher=True)  # B's publisher, whose handshake is relayed by a fake C
    victim = LinkAuth(SECRET, 'C', is_publisher=False)
    fake_c.open(payload_of(victim.hello()))
    victim.open(payload_of(fake_c.hello()))
    with pytest.raises(AuthError, match='invalid authentication tag'):
        fake_c.open(payload_of(victim.seal(framing.encode(IM.HEARTBEAT, 'A', {}))))
    assert not fake_c.authenticated


def test_other_secret_dropped():
    pub = LinkAuth(SECRET, 'A', is_publisher=True)
    sub = LinkAuth(OTHER_SECRET, 'A', is_publisher=False)
    pub.open(payload_of(sub.hello()))
    sub.open(payload_of(pub.hello()))
    with pytest.raises(AuthError, match='another internal_secret'):
        pub.open(payload_of(sub.seal(framing.encode(IM.HEARTBEAT, 'B', {}))))


def test_handshake_errors():
    pub, sub = keyed_pair()
    # the same handshake again (sent as a heartbeat) changes nothing
    assert sub.open(payload_of(pub.hello())) is None and sub.keyed
    with pytest.raises(AuthError, match='already keyed'):
        sub.open(payload_of(LinkAuth(SECRET, 'A', True).hello()))
    fresh = LinkAuth(SECRET, 'A', is_publisher=False)
    for payload in (b'SVH1', b'SVH1' + b'x' * 15, b'SVH1' + b'x' * 17):
        with pytest.raises(AuthError, match='invalid authentication handshake'):
            fresh.open(payload)
    with pytest.raises(AuthError, match='tagged frame before the authentication handshake'):
        fresh.open(payload_of(pub.seal(framing.encode(IM.TICK, 'A', {}))))
    with pytest.raises(ValueError):
        fresh.seal(framing.encode(IM.TICK, 'B', {}))
    assert not fresh.keyed


def test_plain_decoder_explains_authenticated_frames():
    pub, sub = keyed_pair()
    for data in (pub.hello(), sub.seal(framing.encode(IM.HEARTBEAT, 'B', {}))):
        with pytest.raises(framing.MessageError, match='the sender has an internal_secret and this instance has'
                                                       ' none'):
            framing.decode(payload_of(data))


def test_garbage_raises_only_auth_errors():
    rng = random.Random(7)
    pub, sub = keyed_pair()
    genuine = payload_of(pub.seal(framing.encode(IM.TICK, 'A', {'when': 1.0})))
    for _ in range(2000):
        kind = rng.randrange(4)
        if kind == 0:
            payload = bytes(rng.getrandbits(8) for _ in range(rng.randrange(80)))
        elif kind == 1:
            payload = b'SVA1' + bytes(rng.getrandbits(8) for _ in range(rng.randrange(80)))
        elif kind == 2:
            payload = b'SVH1' + bytes(rng.getrandbits(8) for _ in range(rng.randrange(30)))
        else:
            altered = bytearray(genuine)
            altered[rng.randrange(len(altered))] = rng.getrandbits(8)
            payload = bytes(altered)
            if payload == genuine:
                continue
        for auth in (pub, sub):
            try:
                auth.open(payload)
            except AuthError:
                pass
    # nothing was accepted: the genuine frame is still the next one
    assert sub.recv_sequence == 0 and not pub.authenticated
    assert sub.open(genuine)


# ---------------------------------------------------------------------------------------------------------------------
# Buses sharing the secret
# ---------------------------------------------------------------------------------------------------------------------

def test_exchange_between_authenticated_buses(auth_pair, make_node):
    node_a, node_b = auth_pair
    node_a.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    node_b.publish(IM.STATE, {'fsm_statecode': 1}, 'state')
    for idx in range(20):
        node_a.publish(IM.PROCESS, {'n': idx})
    wait_until(lambda: len(node_b.events.received('A', IM.PROCESS)) == 20, what='20 frames on B')
    assert node_b.events.received('A', IM.TICK) == [{'when': 1.0, 'sequence_counter': 0}]
    assert [body['n'] for body in node_b.events.received('A', IM.PROCESS)] == list(range(20))
    wait_until(lambda: node_a.events.received('B', IM.STATE), what='state on A')
    # handshake over the link, answer to the requester only
    node_b.bus.request('A', frame(IM.CHECK_REQUEST, 'B', {'check_id': 4}), 4)
    requested = wait_until(lambda: node_a.events.of(CheckRequested, identifier='B'), what='check request')
    node_a.bus.send_to(requested[0].link_id, frame(IM.CHECK_ANSWER, 'A', {'check_id': 4}))
    assert wait_until(lambda: node_b.events.received('A', IM.CHECK_ANSWER), what='answer') == [{'check_id': 4}]
    # a subscriber that connects later gets the sticky frames once authenticated
    node_c = make_node('C', peers={'A': node_a.port}, secret=SECRET)
    wait_until(lambda: node_c.events.received('A', IM.TICK), what='sticky tick on C')
    for node in (node_a, node_b, node_c):
        assert node.logger.levels('warn') == [] and node.events.of(PeerDown) == []


def test_request_before_the_handshake_fails(make_node):
    """ A link connected but not yet keyed cannot carry a request: the caller falls back to XML-RPC. """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind((HOST, 0))
        server.listen(1)
        node = make_node('A', peers={'B': server.getsockname()[1]}, secret=SECRET)
        wait_until(lambda: node.events.of(PeerConnected, identifier='B'), what='A connected')
        node.bus.request('B', frame(IM.CHECK_REQUEST, 'A', {'check_id': 1}), 1)
        assert wait_until(lambda: node.events.of(RequestFailed), what='request failed') == [RequestFailed('B', 1)]


# ---------------------------------------------------------------------------------------------------------------------
# Third parties connected to a publisher
# ---------------------------------------------------------------------------------------------------------------------

def test_unauthenticated_client_gets_nothing(auth_pair, clients):
    node_a, node_b = auth_pair
    node_a.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    wait_until(lambda: node_b.events.received('A', IM.TICK), what='tick on B')
    client = clients(node_a.port, 'A')
    client.handshake(send_hello=False)
    # untagged frames, including a handshake request, are dropped and logged
    client.send(frame(IM.HEARTBEAT, 'X', {}) + frame(IM.CHECK_REQUEST, 'B', {'check_id': 1}))
    wait_until(lambda: warns(node_a, 'frame without authentication tag') == 2, what='untagged frames logged')
    node_a.publish(IM.PROCESS, {'n': 1})
    wait_until(lambda: node_b.events.received('A', IM.PROCESS), what='process on B')
    # neither the sticky frames nor the publications: the handshake again, as a heartbeat
    assert all(payload == client.hello for payload in client.read(0.3))
    assert node_a.events.of(CheckRequested) == []
    # the log names the connection
    assert warns(node_a, 'InternalBus: dropped data from 127.0.0.1:') == 2


def test_badly_tagged_client_gets_nothing(auth_pair, clients):
    node_a, node_b = auth_pair
    node_a.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    client = clients(node_a.port, 'A', secret=OTHER_SECRET)
    client.handshake()
    client.send(client.auth.seal(frame(IM.HEARTBEAT, 'B', {})))
    client.send(client.auth.seal(frame(IM.CHECK_REQUEST, 'B', {'check_id': 2})))
    # garbage after the handshake: truncated tagged frames, tagged before... anything
    client.send(raw_frame(b'SVA1' + b'\x00' * 10) + raw_frame(b'SVH1' + b'n' * 16) + raw_frame(b'[' * 1000))
    wait_until(lambda: warns(node_a, 'invalid authentication tag') == 2, what='bad tags logged')
    wait_until(lambda: warns(node_a, 'truncated authenticated frame') == 1, what='truncated frame logged')
    wait_until(lambda: warns(node_a, 'unexpected authentication handshake') == 1, what='second hello logged')
    wait_until(lambda: warns(node_a, 'frame without authentication tag') == 1, what='untagged logged')
    client.read(0.3)
    assert client.only_heartbeats('A', client.hello)
    assert node_a.events.of(CheckRequested) == []
    assert node_a.bus.is_alive() and node_b.bus.is_alive()


def test_replayed_client_frames_dropped(auth_pair, clients):
    """ A correct subscriber session, captured, then replayed on new connections: the publisher's new nonce makes
    every captured tag invalid. """
    node_a, _ = auth_pair
    node_a.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    genuine = clients(node_a.port, 'A')
    genuine.handshake()
    genuine.send(genuine.auth.seal(frame(IM.HEARTBEAT, 'B', {})))
    genuine.send(genuine.auth.seal(frame(IM.CHECK_REQUEST, 'B', {'check_id': 5})))
    wait_until(lambda: node_a.events.of(CheckRequested, identifier='B'), what='genuine request')
    genuine.read(0.2)
    assert (IM.TICK, 'A', {'when': 1.0, 'sequence_counter': 0}) in genuine.messages()
    captured = list(genuine.sent)
    # replay on the same connection: sequence numbers already seen
    for data in captured[1:]:
        genuine.send(data)
    wait_until(lambda: warns(node_a, 'replayed frame') == 2, what='replay on the same connection logged')
    # replay of the whole session on a new connection
    replay = clients(node_a.port, 'A')
    replay.read(0.1)
    for data in captured:
        replay.send(data)
    wait_until(lambda: warns(node_a, 'invalid authentication tag') == 2, what='replayed session logged')
    hello = replay.read(0.3)[0]
    assert all(payload == hello for payload in replay.payloads[1:])  # handshake or tagged heartbeats only
    replay.auth.local_nonce = payload_of(captured[0])[4:]
    assert replay.only_heartbeats('A', hello)
    assert len(node_a.events.of(CheckRequested)) == 1


# ---------------------------------------------------------------------------------------------------------------------
# Fake publishers and mixed configurations
# ---------------------------------------------------------------------------------------------------------------------

def test_fake_publisher_cannot_inject(make_node):
    """ Someone listening on the address of member B: untagged or badly tagged frames claiming to be B are dropped,
    the subscriber link is kept and keeps working when genuine frames come. """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((HOST, 0))
        server.listen(4)
        server.settimeout(2.0)
        node_a = make_node('A', peers={'B': server.getsockname()[1]}, secret=SECRET)
        conn, _ = server.accept()
        with conn:
            conn.settimeout(2.0)
            decoder = framing.FrameDecoder()
            hello = wait_until(lambda: decoder.feed(conn.recv(4096)), what='handshake of A')[0]
            assert hello.startswith(b'SVH1')
            # untagged frames before any handshake
            conn.sendall(frame(IM.TICK, 'B', {'when': 1.0, 'sequence_counter': 0}) + frame(IM.STATE, 'B', {}))
            wait_until(lambda: warns(node_a, 'dropped data from B: frame without authentication tag') == 2,
                       what='untagged frames logged')
            # a handshake, then frames tagged with another secret
            forger = LinkAuth(OTHER_SECRET, 'B', is_publisher=True)
            forger.open(hello)
            conn.sendall(forger.hello() + forger.seal(frame(IM.TICK, 'B', {'when': 2.0, 'sequence_counter': 1})))
            wait_until(lambda: warns(node_a, 'dropped data from B: invalid authentication tag') == 1,
                       what='bad tag logged')
            # A authenticated itself with a heartbeat once keyed: fine, it proves nothing to a forger
            tagged = wait_until(lambda: decoder.feed(conn.recv(4096)), what='heartbeat of A')
            assert tagged[0].startswith(b'SVA1')
            assert node_a.events.of(Received) == []
            assert node_a.events.of(PeerDown) == [] and node_a.bus.is_alive()


def test_mixed_configurations_do_not_talk(make_node):
    """ A has a secret, B has none: no message goes through, both logs say why, nothing breaks. """
    port_a, port_b = free_port(), free_port()
    node_a = make_node('A', port_a, {'B': port_b}, secret=SECRET)
    node_b = make_node('B', port_b, {'A': port_a})
    node_a.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    node_b.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    # B's publisher: untagged tick to A; A's subscriber link: handshake then nothing
    wait_until(lambda: warns(node_a, 'dropped data from B: frame without authentication tag: internal_secret is'
                                     ' set here, not on the sender'), what='A explains')
    wait_until(lambda: warns(node_b, 'the sender has an internal_secret and this instance has none'),
               what='B explains')
    never(lambda: node_a.events.of(Received) or node_b.events.of(Received), 0.3, 'message across')
    for node in (node_a, node_b):
        assert node.bus.is_alive() and node.events.of(PeerDown) == []
        assert node.logger.levels('critical') == [] and node.logger.levels('error') == []


def test_different_secrets_do_not_talk(make_node):
    port_a, port_b = free_port(), free_port()
    node_a = make_node('A', port_a, {'B': port_b}, secret=SECRET)
    node_b = make_node('B', port_b, {'A': port_a}, secret=OTHER_SECRET)
    node_a.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    node_b.publish(IM.TICK, {'when': 1.0, 'sequence_counter': 0}, 'tick')
    for node in (node_a, node_b):
        wait_until(lambda node=node: warns(node, 'another internal_secret'), what=f'{node.identifier} explains')
    never(lambda: node_a.events.of(Received) or node_b.events.of(Received), 0.3, 'message across')


def test_flood_of_bad_frames_log_limited(make_node, clients):
    node_a = make_node('A', secret=SECRET)
    client = clients(node_a.port, 'A', secret=OTHER_SECRET)
    client.handshake()
    client.send(b''.join(client.auth.seal(frame(IM.HEARTBEAT, 'X', {})) for _ in range(40)))
    wait_until(lambda: warns(node_a, 'too much invalid data'), what='flood logged')
    assert warns(node_a, 'dropped data from') == 20
    assert node_a.bus.is_alive()


@pytest.mark.parametrize('secret_b', [None, OTHER_SECRET])
def test_misconfigured_links_stay_open_and_logs_stay_bounded(make_node, secret_b):
    """ Heartbeats keep the links open, so the reasons are logged within the limit of one connection each. """
    port_a, port_b = free_port(), free_port()
    timing = {'heartbeat_period': 0.02, 'heartbeat_timeout': 0.2}
    node_a = make_node('A', port_a, {'B': port_b}, secret=SECRET, **timing)
    node_b = make_node('B', port_b, {'A': port_a}, secret=secret_b, **timing)
    time.sleep(1.5)
    for node in (node_a, node_b):
        assert len(node.events.of(PeerConnected)) == 1, node.identifier
        assert node.logger.count('debug', 'no heartbeat') == 0, node.identifier
        assert warns(node, 'dropped data from') <= 2 * 20, node.identifier
        assert node.events.of(Received) == []
    assert warns(node_a, 'too much invalid data') >= 1
    assert warns(node_b, 'too much invalid data') >= 1
