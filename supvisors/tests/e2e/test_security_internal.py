"""Authentication of the internal communication (internal_secret): a fleet sharing the secret works, while third
parties connected to an internal port, a fake publisher listening on the address of a member that is down, and
replays of captured frames have no effect and are logged."""

import socket
import time
from typing import List

import pytest

from supvisors.bus import framing
from supvisors.tools.localfleet import LocalFleet, LocalInstance, wait_for
from supvisors.ttypes import InternalMessages

from ..wire import BusWire

pytestmark = pytest.mark.e2e

IM = InternalMessages
SECRET = 'the secret of the e2e fleet'
HOST = '127.0.0.1'

PROGRAMS = """
[program:sleeper]
command=sleep 1000
startsecs=0
"""


class Wire(BusWire):
    """ A raw TCP connection speaking the framing of the internal bus. """

    @classmethod
    def connect(cls, port: int) -> 'Wire':  # type: ignore[override]
        return cls(socket.create_connection((HOST, port), timeout=2.0))


def nothing_but_heartbeats(payloads: List[bytes], publisher: str, subscriber_nonce: bytes) -> bool:
    """ True if a publisher sent nothing but its handshake (again) and tagged heartbeats: what an unauthenticated
    client may receive. The tagged frames are checked with the fleet secret (known to this test). """
    hello = payloads[0]
    checker = framing.LinkAuth(SECRET.encode(), publisher, is_publisher=False, nonce=subscriber_nonce)
    checker.open(hello)
    for payload in payloads[1:]:
        if payload != hello and framing.decode(checker.open(payload))[0] != IM.HEARTBEAT:
            return False
    return True


def frame(code: int, sender: str, body) -> bytes:
    return framing.encode(code, sender, body)


def info(viewer: LocalInstance, identifier: str) -> dict:
    return viewer.rpc(timeout=2).supvisors.get_instance_info(identifier)


def fsm_state(instance: LocalInstance) -> str:
    return instance.rpc(timeout=2).supvisors.get_supvisors_state()['fsm_statename']


def count(instance: LocalInstance, text: str) -> int:
    return instance.log().count(text)


@pytest.fixture
def fleet(fleet_factory, tmp_path) -> LocalFleet:
    """ s1 and s2 share the secret (from a file for s1, inline for s2); s3 is a member never started. """
    secret_file = tmp_path / 'internal.secret'
    secret_file.write_text(SECRET + '\n')
    secret_file.chmod(0o600)
    fleet = fleet_factory(3, options={'core_identifiers': 's1,s2', 'tick_period': '1',
                                                    'synchro_timeout': '60'}, programs=PROGRAMS,
                          per_instance_options={'s1': {'internal_secret_file': str(secret_file)},
                                                's2': {'internal_secret': SECRET}})
    fleet.start(['s1', 's2'])
    fleet.wait_rpc_ready(timeout=20, identifiers=['s1', 's2'])
    wait_for(lambda: fsm_state(fleet['s1']) == 'OPERATION' and fsm_state(fleet['s2']) == 'OPERATION', timeout=10,
             what='s1 and s2 in OPERATION')
    return fleet


def snapshot(fleet: LocalFleet) -> dict:
    """ What a successful forgery would change: states, Master, s3 as seen by s1 and s2, the processes. """
    result = {}
    for identifier in ('s1', 's2'):
        proxy = fleet[identifier].rpc(timeout=2)
        result[identifier] = (proxy.supvisors.get_supvisors_state()['fsm_statename'],
                              proxy.supvisors.get_master_identifier(),
                              [(x['identifier'], x['statename']) for x in proxy.supvisors.get_all_instances_info()],
                              info(fleet[identifier], 's3')['sequence_counter'],
                              sorted((x['application_name'], x['process_name'], x['statename'])
                                     for x in proxy.supvisors.get_all_process_info()))
    return result


def test_fleet_with_a_secret_reaches_operation(fleet):
    for identifier in ('s1', 's2'):
        instance = fleet[identifier]
        assert [(x['identifier'], x['statename']) for x in instance.rpc().supvisors.get_all_instances_info()][:2] == \
            [('s1', 'RUNNING'), ('s2', 'RUNNING')]
        assert instance.rpc().supvisors.get_master_identifier() == 's1'
        assert count(instance, 'the internal communication is authenticated (internal_secret)') == 1
        assert SECRET not in instance.log()
        assert 'InternalBus: dropped data' not in instance.log()
    # ticks keep flowing between them
    counter = info(fleet['s1'], 's2')['sequence_counter']
    wait_for(lambda: info(fleet['s1'], 's2')['sequence_counter'] > counter, timeout=5, what='ticks from s2')


def test_third_party_on_an_internal_port(fleet):
    """ A client of s1's publisher without the secret gets the handshake only, and what it sends is dropped. """
    s1 = fleet['s1']
    before = snapshot(fleet)
    wire = Wire.connect(s1.internal_port)
    try:
        hello = wire.wait(1)[0]
        assert hello.startswith(framing.HELLO_MAGIC)
        # untagged: a handshake request (answered with the processes before), forged events claiming to be s2
        wire.send(frame(IM.HEARTBEAT, 's2', {}) + frame(IM.CHECK_REQUEST, 's2', {'check_id': 1})
                  + frame(IM.TICK, 's2', {'when': time.time(), 'sequence_counter': 1})
                  + frame(IM.STATE, 's2', {'fsm_statecode': 6, 'fsm_statename': 'SHUTTING_DOWN',
                                           'starting_jobs': False, 'stopping_jobs': False}))
        # tagged with a wrong secret, after a handshake
        forger = framing.LinkAuth(b'a guessed secret', 's1', is_publisher=False)
        forger.open(hello)
        wire.send(forger.hello() + forger.seal(frame(IM.HEARTBEAT, 's2', {}))
                  + forger.seal(frame(IM.CHECK_REQUEST, 's2', {'check_id': 2})))
        wait_for(lambda: count(s1, 'frame without authentication tag') == 4
                 and count(s1, 'invalid authentication tag') == 2, timeout=5, what='forged frames logged')
        # 1.5 tick periods: neither the last tick and state, nor any publication, nor a check answer
        assert nothing_but_heartbeats(wire.read(1.5), 's1', forger.local_nonce)
    finally:
        wire.close()
    assert snapshot(fleet) == before
    assert count(s1, 'InternalBus: dropped data from 127.0.0.1:') == 6


def test_fake_publisher_on_the_address_of_a_missing_member(fleet):
    """ Someone listens on the internal port of s3 (never started): s1 and s2 connect to it as subscribers, and
    every forged frame claiming to come from s3 is dropped. """
    before = snapshot(fleet)
    assert before['s1'][3] == 0 and dict(before['s1'][2])['s3'] in ('UNKNOWN', 'SILENT')
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, fleet['s3'].internal_port))
    server.listen(4)
    server.settimeout(5.0)
    wires: List[Wire] = []
    try:
        for _ in range(2):  # s1 and s2
            wires.append(Wire(server.accept()[0]))
        forged_tick = frame(IM.TICK, 's3', {'when': time.time(), 'sequence_counter': 100, 'fsm_statecode': 3,
                                            'fsm_statename': 'OPERATION', 'starting_jobs': False,
                                            'stopping_jobs': False})
        forged_process = frame(IM.PROCESS, 's3', {'group': 'sleeper', 'name': 'sleeper', 'state': 200,
                                                  'expected': False, 'now': time.time(), 'pid': 0})
        for wire in wires:
            subscriber_hello = wire.wait(1)[0]
            assert subscriber_hello.startswith(framing.HELLO_MAGIC)
            wire.send(forged_tick + forged_process)  # untagged
            forger = framing.LinkAuth(b'a guessed secret', 's3', is_publisher=True)
            forger.open(subscriber_hello)
            wire.send(forger.hello() + forger.seal(forged_tick) + forger.seal(forged_process))
        for identifier in ('s1', 's2'):
            wait_for(lambda identifier=identifier:
                     count(fleet[identifier], 'dropped data from s3: frame without authentication tag') == 2
                     and count(fleet[identifier], 'dropped data from s3: invalid authentication tag') == 2,
                     timeout=5, what=f'forged frames logged by {identifier}')
        time.sleep(1.0)  # a tick period, for anything accepted to show
        assert snapshot(fleet) == before
    finally:
        for wire in wires:
            wire.close()
        server.close()


def test_relayed_and_replayed_frames(fleet):
    """ Frames of a member, captured, are worthless elsewhere or later:
    * relay: a fake s3 forwards the handshake of s2's publisher to a member, and the member's tagged answer to s2
      (what a subscriber sends is bound to the publisher it meant to reach);
    * replay: a session of a genuine subscriber of s1, captured, then replayed later on a new connection. """
    s1, s2 = fleet['s1'], fleet['s2']
    before = snapshot(fleet)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, fleet['s3'].internal_port))
    server.listen(4)
    server.settimeout(5.0)
    wires: List[Wire] = []
    try:
        # relay: the first member that connects to the fake s3 gets the handshake of s2's publisher, and its
        # handshake and tagged heartbeat are passed on to s2
        to_s2 = Wire.connect(s2.internal_port)
        wires.append(to_s2)
        s2_hello = to_s2.wait(1)[0]
        victim = Wire(server.accept()[0])
        wires.append(victim)
        victim.wait(1)
        victim.send(framing.HEADER.pack(len(s2_hello)) + s2_hello)
        relayed = victim.wait(2)[:2]
        assert relayed[1].startswith(framing.TAGGED_MAGIC)
        to_s2.send(b''.join(framing.HEADER.pack(len(payload)) + payload for payload in relayed))
        wait_for(lambda: count(s2, 'invalid authentication tag') == 1, timeout=5, what='relayed frame logged')
        # s2 did not accept the relayed subscriber
        assert nothing_but_heartbeats(to_s2.read(1.5), 's2', relayed[0][len(framing.HELLO_MAGIC):])
        # replay: a genuine session (this test knows the secret), then the same bytes on a new connection
        genuine = Wire.connect(s1.internal_port)
        wires.append(genuine)
        auth = framing.LinkAuth(SECRET.encode(), 's1', is_publisher=False)
        auth.open(genuine.wait(1)[0])
        genuine.send(auth.hello() + auth.seal(frame(IM.HEARTBEAT, 's2', {})))
        messages = [framing.decode(auth.open(payload)) for payload in genuine.wait(3)[1:]]
        assert {code for code, _, _ in messages} >= {IM.TICK, IM.STATE}  # the sticky frames, once authenticated
        genuine.close()
        time.sleep(1.0)
        replay = Wire.connect(s1.internal_port)
        wires.append(replay)
        replay_hello = replay.wait(1)[0]
        for data in genuine.sent:
            replay.send(data)
        wait_for(lambda: count(s1, 'invalid authentication tag') == 1, timeout=5, what='replayed session logged')
        assert replay.payloads[0] == replay_hello
        assert nothing_but_heartbeats(replay.read(1.5), 's1', auth.local_nonce)
    finally:
        for wire in wires:
            wire.close()
        server.close()
    assert snapshot(fleet) == before
    for identifier in ('s1', 's2'):
        assert fleet[identifier].alive


def test_member_without_the_secret_does_not_talk(fleet):
    """ s3 has no internal_secret: neither side accepts the other's frames, and both logs say why. """
    fleet.start(['s3'])
    fleet.wait_rpc_ready(timeout=20, identifiers=['s3'])
    s3 = fleet['s3']
    for identifier in ('s1', 's2'):
        wait_for(lambda identifier=identifier:
                 count(fleet[identifier], 'dropped data from s3: frame without authentication tag: internal_secret'
                                          ' is set here, not on the sender') >= 1,
                 timeout=5, what=f'{identifier} explains')
    wait_for(lambda: count(s3, 'authenticated frame: the sender has an internal_secret and this instance has'
                               ' none') >= 2, timeout=5, what='s3 explains')
    time.sleep(1.0)
    for identifier in ('s1', 's2'):
        assert info(fleet[identifier], 's3')['sequence_counter'] == 0
        assert fsm_state(fleet[identifier]) == 'OPERATION'
    assert [x['statename'] for x in s3.rpc().supvisors.get_all_instances_info()] == ['UNKNOWN', 'UNKNOWN', 'RUNNING']
    assert fsm_state(s3) == 'INITIALIZATION'
