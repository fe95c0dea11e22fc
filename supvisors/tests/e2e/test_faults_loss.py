"""Fault injection on real fleets: loss of whole instances.

* power-down of a server (its supervisord and every process of its session SIGKILLed at once) in OPERATION, for a
  slave and for the Master, then power-up again;
* power-down of a server while a staged DEPLOYMENT is starting a process on it;
* freeze (SIGSTOP) of an instance long enough to be declared lost, then thaw: the copies started meanwhile are
  conciliated by the configured strategy (INFANTICIDE keeps the oldest copy, SENICIDE the youngest);
* loss of the Master in the middle of a DEPLOYMENT: a new Master is elected and completes it.

What users care about is checked on the processes that really run (operating system view, see faults.py): nothing
runs twice (beyond the conciliation of a frozen instance), nothing expected stays down, no supervisord dies, and
the data files (configurations, rules, disabilities files) are not modified. The time to recovery is measured and
reported (never asserted).
"""

import time
from typing import Dict, List

import pytest

from supvisors.tools.localfleet import LocalFleet, wait_for

from .faults import (FileGuard, Sampler, assert_supervisords_alive, census, disabilities_file, fsm_state, launch,
                     no_traceback, pids, report, restarted, rules_xml, settle, supvisors, wait_exactly_once,
                     wait_operation)

pytestmark = pytest.mark.e2e

IDS = ['s1', 's2', 's3']
# short ticks: a frozen instance is declared lost after 2 silent ticks (about 3 s)
FAST = {'core_identifiers': 's1,s2,s3', 'tick_period': '1', 'inactivity_ticks': '2'}


def programs(startsecs: Dict[str, int]) -> str:
    """ svc (db, web, gui) and batch (2 workers) move when their instance is lost; side:bystander stays on s3. """
    def program(name: str, extra: str = '') -> str:
        return (f'[program:{name}]\ncommand=sleep 1000\nautostart=false\nstartsecs={startsecs.get(name, 0)}\n'
                f'stopwaitsecs=2\n{extra}\n')
    return ('[group:svc]\nprograms=db,web,gui\n\n[group:batch]\nprograms=worker\n\n[group:side]\nprograms=bystander\n\n'
            + program('db') + program('web') + program('gui')
            + program('worker', 'process_name=worker_%(process_num)d\nnumprocs=2\n') + program('bystander'))


RULES = rules_xml("""
    <application name="svc">
        <start_sequence>1</start_sequence>
        <running_failure_strategy>RESTART_PROCESS</running_failure_strategy>
        <programs>
            <program name="db"><identifiers>s2,s3</identifiers><start_sequence>1</start_sequence>
                <required>true</required></program>
            <program name="web"><identifiers>s2,s3</identifiers><start_sequence>2</start_sequence>
                <required>true</required></program>
            <program name="gui"><identifiers>s2,s3</identifiers><start_sequence>3</start_sequence></program>
        </programs>
    </application>
    <application name="batch">
        <start_sequence>2</start_sequence>
        <running_failure_strategy>RESTART_APPLICATION</running_failure_strategy>
        <programs>
            <program pattern="^worker_"><identifiers>s1,s3</identifiers><start_sequence>1</start_sequence>
                <required>true</required></program>
        </programs>
    </application>
    <application name="side">
        <start_sequence>1</start_sequence>
        <programs><program name="bystander"><identifiers>s3</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>
""")
EXPECTED = ['svc:db', 'svc:web', 'svc:gui', 'batch:worker_0', 'batch:worker_1', 'side:bystander']
# where CONFIG puts them at the first DEPLOYMENT
HOME = {'svc:db': 's2', 'svc:web': 's2', 'svc:gui': 's2', 'batch:worker_0': 's1', 'batch:worker_1': 's1',
        'side:bystander': 's3'}


def make_fleet(fleet_factory, tmp_path, options=None, startsecs=None) -> LocalFleet:
    """ The fleet, each instance with a disabilities file of its own (never written here: it must stay as is). """
    folder = tmp_path / 'disabilities'
    folder.mkdir(exist_ok=True)
    per_instance = {x: {'disabilities_file': disabilities_file(str(folder), x, {'db': False, 'unused': True})}
                    for x in IDS}
    fleet = fleet_factory(IDS, options={**FAST, **(options or {})}, per_instance_options=per_instance,
                          programs=programs(startsecs or {}), rules=RULES)
    fleet.guard = FileGuard.of_fleet(fleet, [x['disabilities_file'] for x in per_instance.values()])
    return fleet


def where(fleet: LocalFleet) -> Dict[str, str]:
    return {namespec: ','.join(hosts) for namespec, hosts in sorted(census(fleet).items())}


def check_end(fleet: LocalFleet, alive: List[str]) -> None:
    """ No supervisord died, no traceback, data files untouched. """
    assert_supervisords_alive(fleet, alive)
    for identifier in alive:
        no_traceback(fleet[identifier])
    fleet.guard.check()


def power_up(fleet: LocalFleet, victim: str, sampler: Sampler) -> float:
    """ The server comes back: it rejoins, and nothing runs twice (its supervisord starts nothing by itself). """
    start = time.monotonic()
    fleet.restart_instance(victim)
    fleet.wait_rpc_ready(identifiers=[victim])
    wait_operation(fleet, timeout=30)
    rejoined = time.monotonic() - start
    settle(fleet, EXPECTED)
    sampler.sample_now()
    return rejoined


@pytest.mark.parametrize('victim', ['s2', 's1'], ids=['slave', 'master'])
def test_power_down_in_operation(fleet_factory, tmp_path, victim):
    """ s2 runs svc (RESTART_PROCESS), s1 (the Master) runs batch (RESTART_APPLICATION): everything the victim ran
    is restarted on s3 once, nothing else is touched. For the Master, the processes lost with it are restarted by
    the DEPLOYMENT of the new Master (they are auto-started applications in failure). """
    fleet = make_fleet(fleet_factory, tmp_path)
    launch(fleet)
    settle(fleet, EXPECTED)
    assert {namespec: hosts[0] for namespec, hosts in census(fleet).items()} == HOME
    lost_here = sorted(namespec for namespec, home in HOME.items() if home == victim)
    survivors = [x for x in IDS if x != victim]
    before = pids(fleet)
    with Sampler(fleet) as sampler:
        start = time.monotonic()
        fleet[victim].kill()
        recovery = wait_exactly_once(fleet, EXPECTED, 60, since=start)
        settle(fleet, EXPECTED, survivors)
        sampler.sample_now()
        after = pids(fleet)
        moved = {namespec: census(fleet)[namespec][0] for namespec in lost_here}
        rejoined = power_up(fleet, victim, sampler)
    # only the processes of the victim were restarted, on s3 (the only other candidate)
    assert restarted(before, after) == lost_here
    assert set(moved.values()) == {'s3'}, moved
    assert sampler.duplicates() == [], 'a process ran twice'
    if victim == 's1':
        assert supvisors(fleet['s2']).get_master_identifier() == 's2'
    check_end(fleet, IDS)
    report(f'power-down of the {"Master" if victim == "s1" else "slave"} {victim} in OPERATION',
           f'SIGKILL of the session of {victim} (supervisord + {len(lost_here)} processes)', recovery,
           f'{", ".join(lost_here)} killed and restarted on s3 (process state and uptime lost); no duplicate; '
           f'{victim} powered up again rejoined in {rejoined:.2f} s without any duplicate')


def test_power_down_during_deployment(fleet_factory, tmp_path):
    """ The DEPLOYMENT of svc is staged (db, then web, then gui, startsecs=2): s2 is powered down while web is
    STARTING there. web (required, ABORT) fails to start, db is lost: the application is restarted on s3 by the
    Master, and batch goes on with its own start. In the end, everything runs once. """
    fleet = make_fleet(fleet_factory, tmp_path, startsecs={'db': 2, 'web': 2, 'gui': 1, 'worker': 1})
    fleet.start()
    fleet.wait_rpc_ready(timeout=30)

    def web_starting_on_s2() -> bool:
        return supvisors(fleet['s2'], 3).get_local_process_info('svc:web')['statename'] == 'STARTING'
    wait_for(web_starting_on_s2, 30, interval=0.02, what='svc:web STARTING on s2')
    assert fsm_state(fleet['s1']) == 'DEPLOYMENT'
    at_kill = where(fleet)
    with Sampler(fleet) as sampler:
        start = time.monotonic()
        fleet['s2'].kill()
        recovery = settle(fleet, EXPECTED, ['s1', 's3'], since=start)
        sampler.sample_now()
        placed = where(fleet)
        rejoined = power_up(fleet, 's2', sampler)
    assert {namespec for namespec, hosts in placed.items() if hosts == 's3'} >= {'svc:db', 'svc:web', 'svc:gui'}
    assert sampler.duplicates() == [], 'a process ran twice'
    check_end(fleet, IDS)
    report('power-down of a slave during DEPLOYMENT',
           f'SIGKILL of the session of s2 while svc:web was STARTING there (running then: {at_kill})', recovery,
           'svc:db killed, the start of svc:web dropped (starting failure), svc restarted on s3 by the Master; '
           f'DEPLOYMENT completed; no duplicate; s2 rejoined in {rejoined:.2f} s')


@pytest.mark.parametrize('strategy, keeps', [('INFANTICIDE', 's2'), ('SENICIDE', 's3')])
def test_freeze_until_lost_then_thaw(fleet_factory, tmp_path, strategy, keeps):
    """ s2 is frozen (SIGSTOP of its supervisord: its processes keep running) until declared lost: svc is started
    again on s3. Thawed, s2 comes back with its copies still running: the conflicts are conciliated by the
    configured strategy, and every process ends up running once. """
    fleet = make_fleet(fleet_factory, tmp_path, options={'conciliation_strategy': strategy})
    launch(fleet)
    settle(fleet, EXPECTED)
    moving = ['svc:db', 'svc:web', 'svc:gui']
    before = pids(fleet)
    with Sampler(fleet) as sampler:
        start = time.monotonic()
        fleet['s2'].freeze()
        try:
            def copies_on_s3() -> bool:
                hosts = census(fleet)
                return all(sorted(hosts.get(namespec, [])) == ['s2', 's3'] for namespec in moving) and \
                    all(info['identifiers'] == ['s3'] for info in supvisors(fleet['s1'], 3).get_process_info('svc:*'))
            wait_for(copies_on_s3, 60, interval=0.02, what='svc started again on s3 while s2 is frozen')
            lost_after = time.monotonic() - start
            assert supvisors(fleet['s1']).get_instance_info('s2')['statename'] == 'SILENT'
            assert fsm_state(fleet['s1']) == 'OPERATION'
        finally:
            fleet['s2'].thaw()
        thawed = time.monotonic()
        conciliated = settle(fleet, EXPECTED, since=thawed)
        sampler.sample_now()
    kept = {namespec: census(fleet)[namespec][0] for namespec in moving}
    assert set(kept.values()) == {keeps}, f'{strategy} kept {kept}'
    # duplicates existed only between the restart on s3 and the end of the conciliation
    duplicates = sampler.duplicates()
    assert all(namespec in moving and last <= thawed + conciliated + 0.5 for namespec, _, last, _ in duplicates), \
        duplicates
    if keeps == 's2':
        assert restarted(before, pids(fleet)) == [], 'the original copies should have been kept'
    check_end(fleet, IDS)
    log = fleet['s1'].log()
    assert f'Conciliation: {strategy} keeps svc:db on {keeps}' in log
    report(f'freeze of a slave until lost, then thaw ({strategy})',
           f'SIGSTOP of the supervisord of s2 for {lost_after:.2f} s (its 3 processes kept running), SIGCONT',
           lost_after,
           f'svc started again on s3 {lost_after:.2f} s after the freeze; after the thaw, duplicates conciliated in '
           f'{conciliated:.2f} s, the copies on {keeps} kept; nothing else lost')


# Master loss mid-deployment: six programs over three ranks, each with two candidates, one of them s1 (the Master)
MASTER_PROGRAMS = {'a': ('s1,s2', 1), 'b': ('s2,s3', 1), 'c': ('s3,s1', 2), 'd': ('s1,s3', 2), 'e': ('s1,s2', 3),
                   'f': ('s2,s1', 3)}
MASTER_EXPECTED = [f'app:{name}' for name in MASTER_PROGRAMS] + ['other:o1']


def master_loss_fleet(fleet_factory) -> LocalFleet:
    text = '[group:app]\nprograms=' + ','.join(MASTER_PROGRAMS) + '\n\n[group:other]\nprograms=o1\n\n'
    text += ''.join(f'[program:{name}]\ncommand=sleep 1000\nautostart=false\nstartsecs=1\nstopwaitsecs=2\n\n'
                    for name in [*MASTER_PROGRAMS, 'o1'])
    rules = rules_xml("""
    <application name="app">
        <start_sequence>1</start_sequence>
        <starting_failure_strategy>CONTINUE</starting_failure_strategy>
        <running_failure_strategy>RESTART_PROCESS</running_failure_strategy>
        <programs>""" + ''.join(
        f'<program name="{name}"><identifiers>{identifiers}</identifiers><start_sequence>{rank}</start_sequence>'
        '<required>true</required></program>' for name, (identifiers, rank) in MASTER_PROGRAMS.items()) + """
        </programs>
    </application>
    <application name="other">
        <start_sequence>2</start_sequence>
        <programs><program name="o1"><identifiers>s1,s3</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>""")
    fleet = fleet_factory(IDS, options=FAST, programs=text, rules=rules)
    fleet.guard = FileGuard.of_fleet(fleet)
    return fleet


def test_master_lost_during_deployment(fleet_factory):
    """ The Master s1 is powered down once the second rank of app is being started (some processes run on s1, some
    starts are in flight): s2 is elected, its DEPLOYMENT starts what is missing, and every auto-started program
    ends up running exactly once, on s2 or s3. """
    fleet = master_loss_fleet(fleet_factory)
    fleet.start()
    fleet.wait_rpc_ready(timeout=30)
    wait_for(lambda: {'app:c', 'app:d'} & set(census(fleet)), 30, interval=0.02, what='second rank starting')
    assert fsm_state(fleet['s2']) == 'DEPLOYMENT'
    at_kill = where(fleet)
    with Sampler(fleet) as sampler:
        start = time.monotonic()
        fleet['s1'].kill()
        wait_operation(fleet, ['s2', 's3'], timeout=60)
        elected = time.monotonic() - start
        recovery = settle(fleet, MASTER_EXPECTED, ['s2', 's3'], since=start)
        sampler.sample_now()
    assert supvisors(fleet['s3']).get_master_identifier() == 's2'
    assert set(where(fleet).values()) <= {'s2', 's3'}
    assert sampler.duplicates() == [], 'a process ran twice'
    check_end(fleet, ['s2', 's3'])
    report('loss of the Master during DEPLOYMENT',
           f'SIGKILL of the session of the Master s1 during the second rank (running then: {at_kill})', recovery,
           f'the processes of s1 and its pending starts; new Master s2 in OPERATION after {elected:.2f} s; '
           'every auto-started program restarted once on s2/s3, no duplicate')
