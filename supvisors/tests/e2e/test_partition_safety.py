"""Partition safety on a real network: three supervisord in network namespaces, s3 cut from s1 and s2, then back.

Loopback cannot be partitioned, so each instance runs in its own network namespace, linked to the others through a
bridge (see netns.py); the test reaches every instance through a management link that the partition leaves alone.
Root is needed: the test is skipped otherwise, or when ``ip netns`` does not work.

Scenario, with ``partition_safety`` and ``conciliation_strategy = SENICIDE``:

* the DEPLOYMENT starts ``pinned`` on s3 (its first identifier) and ``roamer`` on s1, both RESTART_PROCESS;
* s3 is cut: the majority {s1, s2} restarts ``pinned`` on s1; the minority s3 loses its Master, elects itself,
  keeps its copy of ``pinned`` running and starts nothing (0.15 would start ``roamer`` there), and refuses start
  requests;
* the link is back: the two sides meet, a single Master remains, the two copies of ``pinned`` are a conflict
  that SENICIDE resolves by stopping the oldest one (the copy kept by s3); ``roamer`` runs once;
* no supervisord died.

The timings (detection of the partition on each side; after the heal, first contact, conciliation, and every link
back) are printed.
"""

import time
import xmlrpc.client
from typing import Dict, List

import pytest

from supvisors.tests.e2e.netns import NetnsFleet, NetnsLab, unavailable_reason
from supvisors.tools.localfleet import wait_for

pytestmark = pytest.mark.e2e

IDS = ['s1', 's2', 's3']
OPTIONS = {'partition_safety': 'true', 'conciliation_strategy': 'SENICIDE', 'tick_period': '0.5',
           'inactivity_ticks': '2'}
PROGRAMS = """
[program:pinned]
command=sleep 600
autostart=false
startsecs=0
stopwaitsecs=2

[program:roamer]
command=sleep 600
autostart=false
startsecs=0
stopwaitsecs=2
"""
RULES = """<?xml version="1.0" encoding="UTF-8"?>
<root>
    <application name="pinned">
        <start_sequence>1</start_sequence>
        <running_failure_strategy>RESTART_PROCESS</running_failure_strategy>
        <programs>
            <program name="pinned"><identifiers>s3,s1,s2</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>
    <application name="roamer">
        <start_sequence>1</start_sequence>
        <running_failure_strategy>RESTART_PROCESS</running_failure_strategy>
        <programs>
            <program name="roamer"><identifiers>s1,s2,s3</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>
</root>
"""
RUNNING_STATES = ('STARTING', 'RUNNING', 'BACKOFF')


@pytest.fixture
def lab():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    netns_lab = NetnsLab(IDS)
    try:
        netns_lab.setup()  # deletes what it created when it fails
    except RuntimeError as exc:
        pytest.skip(f'network namespaces lab unusable here: {exc}')
    try:
        yield netns_lab
    finally:
        netns_lab.teardown()


@pytest.fixture
def fleet(lab, tmp_path, request):
    """ The fleet, started; stopped whatever happens (before the namespaces are deleted), with its diagnostics
    printed when the test failed. """
    netns_fleet = NetnsFleet(lab, str(tmp_path / 'fleet'), options=OPTIONS, programs=PROGRAMS, rules=RULES)
    try:
        netns_fleet.start()
        yield netns_fleet
        if any(getattr(getattr(request.node, f'rep_{when}', None), 'failed', False) for when in ('setup', 'call')):
            print(f'\n######## diagnostics of fleet {netns_fleet.basedir}\n{netns_fleet.diagnostics(80)}')
    finally:
        netns_fleet.stop()


def supvisors(fleet, viewer: str):
    return fleet[viewer].rpc(timeout=3).supvisors


def fsm(fleet, viewer: str) -> str:
    return supvisors(fleet, viewer).get_supvisors_state()['fsm_statename']


def seen(fleet, viewer: str) -> Dict[str, str]:
    """ The state of every instance as seen by the viewer. """
    return {x['identifier']: x['statename'] for x in supvisors(fleet, viewer).get_all_instances_info()}


def local_state(fleet, identifier: str, name: str) -> str:
    """ The state of a process in the supervisord of the instance (not the view of Supvisors). """
    return fleet[identifier].rpc(timeout=3).supervisor.getProcessInfo(f'{name}:{name}')['statename']


def hosts(fleet, name: str) -> List[str]:
    """ The instances where the supervisord runs the program. """
    return [x for x in IDS if local_state(fleet, x, name) in RUNNING_STATES]


def log_count(fleet, identifier: str, text: str) -> int:
    with open(fleet[identifier].logfile, errors='replace') as stream:
        return stream.read().count(text)


def test_partition_minority_starts_nothing_and_heal_conciliates(fleet, lab):
    timings: Dict[str, float] = {}
    fleet.wait_rpc_ready(timeout=20)
    wait_for(lambda: all(fsm(fleet, x) == 'OPERATION' for x in IDS), 20, what='OPERATION everywhere')
    wait_for(lambda: hosts(fleet, 'pinned') == ['s3'] and hosts(fleet, 'roamer') == ['s1'], 10,
             what='pinned on s3 and roamer on s1')
    assert {supvisors(fleet, x).get_master_identifier() for x in IDS} == {'s1'}
    pids = {x: fleet[x].pid for x in IDS}

    # ---------------------------------------------------------------- partition {s1, s2} | {s3}
    cut = time.monotonic()
    lab.cut('s3')
    wait_for(lambda: seen(fleet, 's1')['s3'] == 'SILENT', 10, interval=0.02, what='s3 lost by s1')
    timings['majority detects'] = time.monotonic() - cut
    wait_for(lambda: seen(fleet, 's3')['s1'] == 'SILENT' and seen(fleet, 's3')['s2'] == 'SILENT', 10,
             interval=0.02, what='s1 and s2 lost by s3')
    timings['minority detects'] = time.monotonic() - cut
    # the majority restarts pinned (on s1, next in its identifiers); the minority keeps its copy
    wait_for(lambda: hosts(fleet, 'pinned') == ['s1', 's3'], 10, what='pinned restarted on s1')
    timings['majority restarted pinned'] = time.monotonic() - cut
    wait_for(lambda: fsm(fleet, 's3') == 'OPERATION' and supvisors(fleet, 's3').get_master_identifier() == 's3',
             10, what='s3 its own Master')
    wait_for(lambda: log_count(fleet, 's3', 'partition safety: no quorum (1 of 3 instances RUNNING, 2 needed)'),
             5, what='quorum loss logged by s3')
    # held for a few more ticks of s3: nothing is started there (0.15 restarts roamer on s3 at its DEPLOYMENT)
    time.sleep(2.0)
    assert local_state(fleet, 's3', 'roamer') in ('STOPPED', 'EXITED')
    assert local_state(fleet, 's3', 'pinned') == 'RUNNING'
    assert hosts(fleet, 'roamer') == ['s1']
    assert log_count(fleet, 's3', 'Starter: DEPLOYMENT: applications not started: no quorum') == 1
    assert log_count(fleet, 's1', 'partition safety') == 0
    with pytest.raises(xmlrpc.client.Fault) as exc:
        supvisors(fleet, 's3').start_process('CONFIG', 'roamer:roamer')
    assert exc.value.faultCode == 101
    assert 'partition_safety: Supvisors instance s3 has no quorum (1 of 3 instances RUNNING, 2 needed)' \
        in exc.value.faultString
    assert local_state(fleet, 's3', 'roamer') in ('STOPPED', 'EXITED')

    # ---------------------------------------------------------------- heal
    heal = time.monotonic()
    lab.heal('s3')

    def rejoined() -> bool:
        return all(set(seen(fleet, x).values()) == {'RUNNING'} for x in IDS) and \
            len({supvisors(fleet, x).get_master_identifier() for x in IDS}) == 1

    def conciliated() -> bool:
        return hosts(fleet, 'pinned') == ['s1'] and all(fsm(fleet, x) == 'OPERATION' for x in IDS) \
            and supvisors(fleet, 's1').get_conflicts() == []

    # each milestone timed on its own: a link may take longer than the others to come back (TCP retransmission)
    milestones = {'first contact': lambda: 'RUNNING' in (seen(fleet, 's3')['s1'], seen(fleet, 's3')['s2']),
                  'conciliated': conciliated, 'rejoined': rejoined}

    def all_reached() -> bool:
        for key, predicate in milestones.items():
            if key not in timings:
                try:
                    if predicate():
                        timings[key] = time.monotonic() - heal
                except (OSError, xmlrpc.client.Error):
                    pass
        return all(key in timings for key in milestones)
    wait_for(all_reached, 30, interval=0.05, what=f'{list(milestones)} after the heal')
    # one Master: s1 elected again, or s3 when the others questioned it while they were back in INITIALIZATION
    # (they adopt the Master it reports); either way it conciliated with the strategy of the fleet
    masters = {supvisors(fleet, x).get_master_identifier() for x in IDS}
    assert len(masters) == 1 and masters <= {'s1', 's3'}
    master = masters.pop()
    assert log_count(fleet, master, 'Conciliation: SENICIDE keeps pinned on s1') == 1
    assert hosts(fleet, 'roamer') == ['s1']
    assert log_count(fleet, 's3', 'partition safety: quorum regained') == 1
    # nothing was restarted or killed
    assert all(fleet[x].alive and fleet[x].pid == pids[x] for x in IDS)
    print('\npartition timings (s): ' + ', '.join(f'{key} {value:.2f}' for key, value in timings.items())
          + f'; Master after the heal: {master}')
