"""Statistics at run time on real supervisord: collection every stats_collecting_period, sharing over the internal
bus, and robustness to malformed STATISTICS frames from a peer."""

import socket
import time

import pytest

from supvisors.bus import framing
from supvisors.tools.localfleet import wait_for
from supvisors.ttypes import InternalMessages

pytestmark = pytest.mark.e2e

PROGRAMS = """
[program:sleeper]
command=sleep 1000
startsecs=0
"""

STATS_OPTIONS = {'stats_collecting_period': '1', 'stats_periods': '5'}


def state(instance):
    return instance.rpc(timeout=2).supvisors.get_supvisors_state()['fsm_statename']


def assert_clean_log(instance):
    """ No traceback, no critical from the plugin (Supervisor's own CRIT lines about root and authentication are
    expected in these fleets). """
    log = instance.log()
    assert 'Traceback' not in log, instance.diagnostics()
    plugin_criticals = [line for line in log.splitlines() if 'CRIT' in line
                        and any(name in line for name in ('Supvisors', 'InternalBus', 'Statistics'))]
    assert plugin_criticals == [], instance.diagnostics()


def test_statistics_collected_and_shared(fleet_factory):
    fleet = fleet_factory(2, options=STATS_OPTIONS, programs=PROGRAMS)
    fleet.start()
    fleet.wait_rpc_ready(timeout=10)
    wait_for(lambda: all(state(x) == 'OPERATION' for x in fleet), timeout=5, what='OPERATION everywhere')
    for instance in fleet:
        assert 'StatisticsService.start: collecting every 1.0 s for the periods [5]' in instance.log()
    # every instance compiles its own samples and those of the other one, received on the bus
    wait_for(lambda: all(f'first statistics compiled for {identifier}' in instance.log()
                         for instance in fleet for identifier in fleet.identifiers),
             timeout=8, what='local and remote statistics compiled everywhere')
    # a few more collections (1 s each), then the fleet is still sound
    counter = fleet['s1'].rpc().supvisors.get_instance_info('s2')['sequence_counter']
    wait_for(lambda: fleet['s1'].rpc().supvisors.get_instance_info('s2')['sequence_counter'] > counter,
             timeout=8, what='ticks from s2 still received')
    for instance in fleet:
        assert state(instance) == 'OPERATION'
        assert 'invalid statistics' not in instance.log()
        assert_clean_log(instance)


def test_malformed_statistics_from_a_peer_are_dropped(fleet_factory):
    """ The test plays s2: s1 subscribes to it and receives garbage STATISTICS bodies, then a valid one. """
    fleet = fleet_factory(2, options=STATS_OPTIONS)
    fake_peer = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fake_peer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    fake_peer.bind(('127.0.0.1', fleet['s2'].internal_port))
    fake_peer.listen(4)
    fake_peer.settimeout(10)
    target = fleet['s1']
    try:
        fleet.start(['s1'])
        fleet.wait_rpc_ready(timeout=10, identifiers=['s1'])
        link, _ = fake_peer.accept()  # the subscriber link of s1 to s2
        with link:
            bodies = ['garbage', None, [1, 2], {'cpu': 'x'},
                      {'now': 1.0, 'cpu': [[1, 2]], 'mem': 'high', 'io': {}, 'proc': []},
                      {'now': 1.0, 'cpu': [], 'mem': 1.0, 'io': {}, 'proc': [['p', 'pid', 0, 0]]}]
            valid = {'now': time.time(), 'cpu': [[10.0, 90.0], [10.0, 90.0]], 'mem': 12.5,
                     'io': {'lo': [1000, 2000]}, 'proc': [['sleeper', 1234, 0.5, 0.1]]}
            link.sendall(b''.join(framing.encode(InternalMessages.STATISTICS, 's2', body)
                                  for body in bodies + [valid]))
            wait_for(lambda: 'first statistics compiled for s2' in target.log(), timeout=5,
                     what='valid statistics of s2 compiled')
            log = target.log()
            assert log.count('invalid statistics from s2 dropped') == len(bodies)
            # s1 still works: still collecting its own statistics and answering
            wait_for(lambda: 'first statistics compiled for s1' in target.log(), timeout=5,
                     what='local statistics compiled')
            assert target.alive
            assert state(target) in ('INITIALIZATION', 'OPERATION', 'DEPLOYMENT')
            assert_clean_log(target)
    finally:
        fake_peer.close()
