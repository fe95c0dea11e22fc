"""Fault injection on real fleets: junk on the internal port of a live instance.

A client connects to the internal port of the Master (as a subscriber does) and sends garbage, truncated,
oversized and malformed frames, handshake requests with absurd bodies, a flood of connections, and replays of valid
frames captured on the publishers of the fleet. The instance stays in OPERATION, its view of the fleet and of the
processes is unchanged, every drop is logged, its file descriptors are released, and supervisord is alive.

With ``internal_secret``, a client that knows the secret replays its own tagged frames on the same connection
(the sequence check) and sends altered and truncated tagged frames: all dropped and logged, nothing answered twice.

(The bus itself is unit-tested in unit/test_bus.py and unit/test_bus_auth.py, the relays and replays across
connections in test_security_internal.py; here the whole instance is checked.)
"""

import os
import socket
import struct
import time
from typing import Any, Dict, List

import pytest

from supvisors.bus import framing
from supvisors.tests.wire import BusWire
from supvisors.tools.localfleet import LocalFleet, LocalInstance, wait_for
from supvisors.ttypes import InternalMessages as IM

from .faults import (FileGuard, assert_supervisords_alive, fsm_state, launch, no_traceback, report, rules_xml,
                     supvisors, wait_ticks)

pytestmark = pytest.mark.e2e

PROGRAMS = """
[group:svc]
programs=sleeper

[program:sleeper]
command=sleep 1000
autostart=false
startsecs=0
"""
RULES = rules_xml("""
    <application name="svc">
        <start_sequence>1</start_sequence>
        <programs><program name="sleeper"><identifiers>s2</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>
""")
SECRET = 'fault injection secret'


class Wire(BusWire):
    """ A raw client of the internal port of an instance, that can end its connection cleanly. """

    @classmethod
    def to(cls, instance: LocalInstance) -> 'Wire':
        return cls(socket.create_connection((instance.host, instance.internal_port), timeout=3.0))

    def finish(self, timeout: float = 5.0) -> None:
        """ End of what is sent (FIN), then read until the bus closes the connection: everything sent was read by
        the bus (a close with unread data would reset the connection and lose what is in flight). """
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.sock.recv(65536):
                    break
        except OSError:
            pass  # closed (or reset) by the bus: fine
        self.close()


def raw(payload: bytes) -> bytes:
    return framing.HEADER.pack(len(payload)) + payload


def frame(code: int, sender: str, body: Any) -> bytes:
    return framing.encode(code, sender, body)


def view(instance: LocalInstance) -> Dict[str, Any]:
    """ What junk must not change: state, Master, instances, processes, as seen by the instance. """
    proxy = supvisors(instance, 5)
    return {'state': proxy.get_supvisors_state(),
            'master': proxy.get_master_identifier(),
            'instances': [(x['identifier'], x['statename'], x['fsm_statename'])
                          for x in proxy.get_all_instances_info()],
            'processes': sorted((x['application_name'], x['process_name'], x['statename'], tuple(x['identifiers']))
                                for x in proxy.get_all_process_info())}


def fds(instance: LocalInstance) -> int:
    return len(os.listdir(f'/proc/{instance.pid}/fd'))


def count(instance: LocalInstance, text: str) -> int:
    with open(instance.logfile, errors='replace') as stream:
        return stream.read().count(text)


@pytest.fixture
def fleet(fleet_factory) -> LocalFleet:
    fleet = fleet_factory(3, options={'core_identifiers': 's1,s2,s3', 'tick_period': '1'}, programs=PROGRAMS,
                          rules=RULES)
    fleet.guard = FileGuard.of_fleet(fleet)
    launch(fleet)
    wait_for(lambda: view(fleet['s1'])['processes'] == [('svc', 'sleeper', 'RUNNING', ('s2',))], 20,
             what='svc deployed')
    return fleet


def captured_frames(instance: LocalInstance) -> List[bytes]:
    """ Valid frames published by the instance (its last TICK and STATE, sent to any new subscriber), as bytes. """
    wire = Wire.to(instance)
    try:
        wire.send(frame(IM.HEARTBEAT, 'spy', {}))
        payloads = wire.wait(2)
        return [raw(payload) for payload in payloads if framing.decode(payload)[0] in (IM.TICK, IM.STATE)]
    finally:
        wire.close()


JUNK = [
    # (what, bytes, expected log text)
    ('random bytes', os.urandom(4096), 'InternalBus: dropped data from'),
    ('text that is not a frame', b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'oversized frame announced'),
    ('invalid JSON', raw(b'{not json'), 'not a JSON message'),
    ('not UTF-8', raw(b'\xff\xfe\xfd\x00'), 'not a JSON message'),
    ('JSON of the wrong structure', raw(b'{"a": [1, 2]}') + raw(b'[1, "x"]') + raw(b'[true, ["s2", {}]]')
     + raw(b'[1, [2, {}]]') + raw(b'"text"') + raw(b'[]'), 'unexpected message structure'),
    ('deeply nested JSON', raw(b'[' * 200000 + b']' * 200000), 'maximum recursion depth'),
    ('huge integer', raw(b'[8, ["s2", {"check_id": ' + b'9' * 5000 + b'}]]'), 'Exceeds the limit'),
    ('zero-length frame', raw(b''), 'not a JSON message'),
    ('oversized frame', struct.pack('>I', 1 << 30) + b'x' * 1000, 'oversized frame announced'),
    ('truncated frame', struct.pack('>I', 100) + b'[1, ["s2", {"when"', 'truncated frame (22 bytes)'),
    ('unexpected codes', frame(IM.TICK, 's2', {'when': time.time(), 'sequence_counter': 1000})
     + frame(IM.PROCESS, 's2', {'group': 'svc', 'name': 'sleeper', 'state': 200, 'now': time.time()})
     + frame(IM.STATE, 's2', {'fsm_statecode': 7, 'fsm_statename': 'SHUTTING_DOWN', 'starting_jobs': False,
                              'stopping_jobs': False})
     + frame(99, 's2', {}) + frame(-1, 's2', {}), 'unexpected message code='),
    ('absurd handshake requests', frame(IM.CHECK_REQUEST, 's2', {'check_id': 'x'})
     + frame(IM.CHECK_REQUEST, 's2', [1]) + frame(IM.CHECK_REQUEST, 's2', None)
     + frame(IM.CHECK_REQUEST, 's2', {'check_id': float('nan')}), 'invalid check request from s2'),
]


def test_junk_on_the_internal_port(fleet):
    s1 = fleet['s1']
    before = view(s1)
    others = {x: view(fleet[x]) for x in ('s2', 's3')}
    fds_before = fds(s1)
    replays = captured_frames(fleet['s2']) + captured_frames(s1)
    assert len(replays) >= 4  # the last TICK and STATE of each (a new TICK may come meanwhile)
    start = time.monotonic()
    expected: Dict[str, int] = {}
    for what, data, text in JUNK:
        wire = Wire.to(s1)
        try:
            wire.send(data)
        except OSError:
            pass  # the bus may close the connection before everything is sent (oversized frames)
        finally:
            wire.finish()
        expected[text] = expected.get(text, 0) + 1
    # replays of valid frames of s2 and of s1 itself, sent to the publisher of s1
    wire = Wire.to(s1)
    wire.send(b''.join(replays) * 3)
    wire.finish()
    expected['unexpected message code=1 from s2'] = 1
    expected['unexpected message code=1 from s1'] = 1
    # a flood of 100 connections at once, each with garbage
    flood = [Wire.to(s1) for _ in range(100)]
    for wire in flood:
        try:
            wire.send(raw(b'flood'))
        except OSError:
            pass
    for wire in flood:
        wire.finish()
    expected['not a JSON message'] += 1

    def logged() -> bool:
        return all(count(s1, text) >= number for text, number in expected.items())
    wait_for(logged, 20, what=f'every drop logged: {expected}')
    wait_for(lambda: count(s1, 'not a JSON message') >= 100, 20, what='the flood logged')
    handled = time.monotonic() - start
    # the instance keeps working: new ticks of the others, same view, file descriptors released
    wait_ticks(s1, 's2', 2)
    wait_ticks(s1, 's3', 2)
    assert view(s1) == before
    assert {x: view(fleet[x]) for x in ('s2', 's3')} == others
    wait_for(lambda: fds(s1) <= fds_before + 2, 20, what=f'file descriptors back to {fds_before}')
    assert fsm_state(s1) == 'OPERATION'
    assert_supervisords_alive(fleet)
    for instance in fleet:
        no_traceback(instance)
        assert count(instance, 'CRIT;SupvisorsRuntime') == 0
    fleet.guard.check()
    report('junk on the internal port of the Master',
           f'{len(JUNK)} kinds of invalid data, {3 * len(replays)} replayed valid frames, 100 connections at once',
           handled,
           'nothing: every drop logged, same view of the fleet, OPERATION kept, file descriptors released')


def test_handshake_request_with_an_infinite_id_is_dropped_quietly(fleet):
    """ JSON accepts Infinity: a handshake request with an infinite check_id is an invalid request like any other
    (a WARN line), not an error with a traceback. """
    s1 = fleet['s1']
    before = view(s1)
    wire = Wire.to(s1)
    wire.send(raw(b'[8, ["s2", {"check_id": Infinity}]]') + raw(b'[8, ["s2", {"check_id": 1e999}]]'))
    wire.finish()
    wait_for(lambda: count(s1, "{'check_id': inf}") >= 2, 10, what='requests logged')
    assert view(s1) == before and fsm_state(s1) == 'OPERATION'
    assert count(s1, 'invalid check request from s2') == 2
    no_traceback(s1)


def test_replays_with_internal_secret(fleet_factory):
    """ A client that knows the secret: its replays on the same connection fail the sequence check, altered and
    truncated tagged frames fail the tag, and a replayed handshake request is not answered twice. """
    fleet = fleet_factory(2, options={'core_identifiers': 's1,s2', 'tick_period': '1', 'internal_secret': SECRET},
                          programs=PROGRAMS, rules=RULES.replace('s2', 's1'))
    fleet.guard = FileGuard.of_fleet(fleet)
    launch(fleet)
    s1 = fleet['s1']
    before = view(s1)
    wire = Wire.to(s1)
    try:
        hello = wire.wait(1)[0]
        auth = framing.LinkAuth(SECRET.encode(), 's1', is_publisher=False)
        assert auth.open(hello) is None
        heartbeat = auth.seal(frame(IM.HEARTBEAT, 's2', {}))
        request = auth.seal(frame(IM.CHECK_REQUEST, 's2', {'check_id': 4242}))
        wire.send(auth.hello() + heartbeat + request)

        messages: List[Any] = []

        def answers() -> int:
            """ The answers to the handshake request among the frames received (each frame opened once). """
            payloads = wire.read(0.1)
            while len(messages) < len(payloads) - 1:
                body = auth.open(payloads[len(messages) + 1])
                messages.append(None if body is None else framing.decode(body))
            return sum(1 for message in messages if message and message[0] == IM.CHECK_ANSWER
                       and message[2]['check_id'] == 4242)
        wait_for(lambda: answers() == 1, 10, what='one answer to the handshake request')
        start = time.monotonic()
        altered = bytearray(auth.seal(frame(IM.HEARTBEAT, 's2', {})))
        altered[-3] ^= 0x01
        truncated = auth.seal(frame(IM.HEARTBEAT, 's2', {}))
        truncated = framing.HEADER.pack(20) + truncated[4:24]
        wire.send(heartbeat + request + request + bytes(altered) + truncated)
        wait_for(lambda: count(s1, 'replayed frame (sequence') >= 3 and count(s1, 'invalid authentication tag') >= 1
                 and count(s1, 'truncated authenticated frame') >= 1, 10, what='replays logged')
        handled = time.monotonic() - start
        wire.read(1.5)
        assert answers() == 1, 'a replayed handshake request was answered'
    finally:
        wire.close()
    wait_ticks(s1, 's2', 2)
    assert view(s1) == before
    assert_supervisords_alive(fleet)
    for instance in fleet:
        no_traceback(instance)
    fleet.guard.check()
    report('replayed, altered and truncated frames with internal_secret',
           'a client knowing the secret replays its tagged heartbeat and handshake request on the same connection',
           handled, 'nothing: replays dropped by the sequence check, no second answer, same view, OPERATION kept')
