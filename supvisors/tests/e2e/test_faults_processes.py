"""Fault injection on real fleets: processes that misbehave.

* crash loops of a required process: Supervisor's own retries (startretries, then FATAL), Supervisor's endless
  autorestart, and the application-level strategies STOP_APPLICATION (the loop stops at once) and
  RESTART_APPLICATION (the loop goes on at the pace of the crashes, and a user stop ends it): the application shows
  the failure, the fleet stays in OPERATION, supervisord stays up, and the number of spawns stays bounded;
* a ``wait_exit`` program that never exits: its exit is awaited for as many ticks as its start, then the sequence
  goes on (DEPLOYMENT ends, the later rank starts, and a start_application with wait returns).

One fleet of two instances for the module: s1 is the Master, every process runs on s2.
"""

import re
import time
import xmlrpc.client
from typing import Iterator, Set

import pytest

from supvisors.tools.localfleet import LocalFleet, wait_for

from .faults import (FileGuard, assert_supervisords_alive, census, fsm_state, no_traceback, report, rules_xml,
                     supvisors, wait_operation, wait_ticks)

pytestmark = pytest.mark.e2e

PROGRAMS = """
[group:seq]
programs=init,after

[program:init]
command=sleep 1000
autostart=false
startsecs=0

[program:after]
command=sleep 1000
autostart=false
startsecs=0

[group:stop_loop]
programs=flap_stop,steady

[group:restart_loop]
programs=flap_restart,steady

[group:sup_loop]
programs=flap_sup

[group:retry_loop]
programs=crasher

[program:flap_stop]
command=sh -c "sleep 1; exit 3"
autostart=false
startsecs=0
autorestart=true

[program:flap_restart]
command=sh -c "sleep 1; exit 3"
autostart=false
startsecs=0
autorestart=true

[program:flap_sup]
command=sh -c "sleep 1; exit 3"
autostart=false
startsecs=0
autorestart=true

[program:crasher]
command=sh -c "exit 3"
autostart=false
startsecs=1
startretries=2
autorestart=unexpected

[program:steady]
command=sleep 1000
autostart=false
startsecs=0
stopwaitsecs=2
"""

RULES = rules_xml("""
    <application name="seq">
        <start_sequence>1</start_sequence>
        <programs>
            <program name="init"><identifiers>s2</identifiers><start_sequence>1</start_sequence>
                <required>true</required><wait_exit>true</wait_exit></program>
            <program name="after"><identifiers>s2</identifiers><start_sequence>2</start_sequence>
                <required>true</required></program>
        </programs>
    </application>
    <model name="looping">
        <identifiers>s2</identifiers><start_sequence>1</start_sequence><required>true</required>
    </model>
    <application name="stop_loop">
        <running_failure_strategy>STOP_APPLICATION</running_failure_strategy>
        <programs><program pattern=""><reference>looping</reference></program></programs>
    </application>
    <application name="restart_loop">
        <running_failure_strategy>RESTART_APPLICATION</running_failure_strategy>
        <programs><program pattern=""><reference>looping</reference></program></programs>
    </application>
    <application name="sup_loop">
        <running_failure_strategy>RESTART_PROCESS</running_failure_strategy>
        <programs><program pattern=""><reference>looping</reference></program></programs>
    </application>
    <application name="retry_loop">
        <starting_failure_strategy>CONTINUE</starting_failure_strategy>
        <programs><program pattern=""><reference>looping</reference></program></programs>
    </application>
""")


@pytest.fixture(scope='module')
def fleet(tmp_path_factory) -> Iterator[LocalFleet]:
    """ Launched here: the DEPLOYMENT (seq, with its wait_exit program) is timed from the first poll. """
    fleet = LocalFleet(['s1', 's2'], str(tmp_path_factory.mktemp('processes')),
                       options={'core_identifiers': 's1,s2', 'tick_period': '1'}, programs=PROGRAMS, rules=RULES)
    fleet.guard = FileGuard.of_fleet(fleet)
    try:
        start = time.monotonic()
        fleet.start()
        fleet.wait_rpc_ready(timeout=30)
        seen = set()

        def operation() -> bool:
            state = fsm_state(fleet['s1'])
            seen.add(state)
            return state == 'OPERATION'
        wait_for(operation, 60, interval=0.05, what='end of DEPLOYMENT')
        fleet.deployment = (time.monotonic() - start, seen)
        wait_operation(fleet, timeout=30)
        yield fleet
    except Exception:
        print(f'\n######## diagnostics of fleet {fleet.basedir}\n{fleet.diagnostics(80)}')
        raise
    finally:
        for instance in fleet:
            instance.kill()


@pytest.fixture(autouse=True)
def healthy(request, fleet):
    """ Every test ends with both supervisord alive, in OPERATION, no traceback, files unchanged. """
    yield
    if any(getattr(getattr(request.node, f'rep_{when}', None), 'failed', False) for when in ('setup', 'call')):
        print(f'\n######## diagnostics of fleet {fleet.basedir}\n{fleet.diagnostics(80)}')
        return
    assert_supervisords_alive(fleet)
    wait_operation(fleet, timeout=30)
    for instance in fleet:
        no_traceback(instance)
    fleet.guard.check()


def spawns(fleet: LocalFleet, program: str) -> int:
    with open(fleet['s2'].logfile, errors='replace') as stream:
        return len(re.findall(rf"spawned: '{program}' with pid", stream.read()))


def application(fleet: LocalFleet, name: str) -> dict:
    return supvisors(fleet['s1'], 5).get_application_info(name)


def observe(fleet: LocalFleet, ticks: int) -> Set[str]:
    """ Watch for `ticks` ticks of the Master: the Supvisors states seen on both instances during that time. """
    states: Set[str] = set()
    target = supvisors(fleet['s1'], 3).get_instance_info('s1')['sequence_counter'] + ticks

    def done() -> bool:
        states.update(fsm_state(x) for x in fleet)
        return supvisors(fleet['s1'], 3).get_instance_info('s1')['sequence_counter'] >= target
    wait_for(done, ticks * 5 + 30, interval=0.1, what=f'{ticks} ticks')
    return states


def nothing_running(fleet: LocalFleet, application_name: str) -> bool:
    return not any(namespec.startswith(f'{application_name}:') for namespec in census(fleet))


def stop_for_good(fleet: LocalFleet, application_name: str) -> float:
    """ A user stop of the application, retried while a failure-handling job is between its stop and its start;
    return how long it took until nothing runs and the application is STOPPED. """
    start = time.monotonic()
    proxy = supvisors(fleet['s1'], 30)

    def stopped() -> bool:
        if not nothing_running(fleet, application_name) or application(fleet, application_name)['statename'] != \
                'STOPPED':
            try:
                proxy.stop_application(application_name)
            except xmlrpc.client.Fault as exc:
                assert exc.faultCode in (40, 70), exc  # ABNORMAL_TERMINATION (restarted meanwhile), NOT_RUNNING
            return False
        return True
    wait_for(stopped, 60, interval=0.2, what=f'{application_name} stopped for good')
    return time.monotonic() - start


def test_wait_exit_program_that_never_exits_does_not_block(fleet):
    """ seq: init (wait_exit, never exits) at rank 1, after at rank 2. DEPLOYMENT ended, after runs, init is left
    running; a start_application with wait returns too. """
    duration, states = fleet.deployment
    assert 'OPERATION' in states
    proxy = supvisors(fleet['s1'], 60)
    infos = {info['process_name']: info for info in proxy.get_process_info('seq:*')}
    assert (infos['init']['statename'], infos['init']['identifiers']) == ('RUNNING', ['s2'])
    assert (infos['after']['statename'], infos['after']['identifiers']) == ('RUNNING', ['s2'])
    assert 'Starter: seq:init on s2: process exit not received in time' in fleet['s1'].log()
    # the same through an explicit start with wait
    assert proxy.stop_application('seq') is True
    start = time.monotonic()
    assert proxy.start_application('CONFIG', 'seq', True) is True
    explicit = time.monotonic() - start
    assert {info['process_name']: info['statename'] for info in proxy.get_process_info('seq:*')} == \
        {'init': 'RUNNING', 'after': 'RUNNING'}
    report('wait_exit program that never exits', 'seq:init (wait_exit, rank 1) runs forever', explicit,
           f'nothing: DEPLOYMENT ended {duration:.2f} s after the launch (states seen: {sorted(states)}), '
           f'seq:after started; start_application(wait) returned in {explicit:.2f} s')


def test_crash_loop_stop_application(fleet):
    """ flap_stop crashes 1 s after each start; STOP_APPLICATION: the first crash stops the whole application
    (steady included), Supervisor's autorestart is disabled for it: one spawn, no loop. """
    proxy = supvisors(fleet['s1'], 30)
    spawned = spawns(fleet, 'flap_stop')
    start = time.monotonic()
    assert proxy.start_application('CONFIG', 'stop_loop') is True
    wait_for(lambda: nothing_running(fleet, 'stop_loop') and
             application(fleet, 'stop_loop')['statename'] == 'STOPPED', 30, interval=0.05,
             what='stop_loop stopped after the crash')
    reaction = time.monotonic() - start
    states = observe(fleet, 3)
    assert states == {'OPERATION'}
    assert spawns(fleet, 'flap_stop') == spawned + 1
    info = application(fleet, 'stop_loop')
    assert (info['statename'], info['major_failure']) == ('STOPPED', True)
    report('crash loop of a required process, STOP_APPLICATION', 'stop_loop:flap_stop exits (3) 1 s after each start',
           reaction, 'the application (steady too) stopped after the first crash; 1 spawn; major failure shown')


def test_crash_loop_restart_application(fleet):
    """ flap_restart crashes 1 s after each start; RESTART_APPLICATION: the application is restarted after each
    crash, at the pace of the crashes (bounded), the fleet stays in OPERATION; a user stop ends the loop. """
    proxy = supvisors(fleet['s1'], 30)
    spawned = spawns(fleet, 'flap_restart')
    start = time.monotonic()
    assert proxy.start_application('CONFIG', 'restart_loop') is True
    states = observe(fleet, 6)
    window = time.monotonic() - start
    loops = spawns(fleet, 'flap_restart') - spawned
    # at least one restart by Supvisors; at most one spawn per second of run time (each copy lives 1 s)
    assert 2 <= loops <= window + 2, (loops, window)
    assert states <= {'OPERATION'}, states
    stopping = stop_for_good(fleet, 'restart_loop')
    after_stop = spawns(fleet, 'flap_restart')
    assert observe(fleet, 3) == {'OPERATION'}
    assert spawns(fleet, 'flap_restart') == after_stop, 'restarted after the user stop'
    assert nothing_running(fleet, 'restart_loop')
    report('crash loop of a required process, RESTART_APPLICATION',
           'restart_loop:flap_restart exits (3) 1 s after each start', None,
           f'{loops} spawns in {window:.1f} s (application restarted after each crash, OPERATION kept); '
           f'a user stop_application ended the loop in {stopping:.2f} s, no spawn afterwards')


def test_crash_loop_left_to_supervisor_autorestart(fleet):
    """ flap_sup (RESTART_PROCESS, autorestart=true) crashes 1 s after each start: Supervisor respawns it in place
    forever (Supvisors does not replace autorestart): bounded pace, fleet in OPERATION; a stop_process ends it. """
    proxy = supvisors(fleet['s1'], 30)
    spawned = spawns(fleet, 'flap_sup')
    start = time.monotonic()
    assert proxy.start_process('CONFIG', 'sup_loop:flap_sup') is True
    states = observe(fleet, 5)
    window = time.monotonic() - start
    loops = spawns(fleet, 'flap_sup') - spawned
    assert 2 <= loops <= window + 2, (loops, window)
    assert states <= {'OPERATION'}, states
    assert set(census(fleet).get('sup_loop:flap_sup', ['s2'])) == {'s2'}  # never moved, never twice

    def stopped() -> bool:
        try:
            proxy.stop_process('sup_loop:flap_sup')
        except xmlrpc.client.Fault as exc:
            assert exc.faultCode in (40, 70), exc
        return nothing_running(fleet, 'sup_loop') and \
            supvisors(fleet['s2'], 5).get_local_process_info('sup_loop:flap_sup')['statename'] == 'STOPPED'
    wait_for(stopped, 30, interval=0.2, what='flap_sup stopped')
    after_stop = spawns(fleet, 'flap_sup')
    wait_ticks(fleet['s1'], 's1', 3)
    assert spawns(fleet, 'flap_sup') == after_stop
    report('crash loop left to Supervisor (autorestart=true)', 'sup_loop:flap_sup exits (3) 1 s after each start',
           None, f'{loops} spawns in {window:.1f} s on s2 only, OPERATION kept; stop_process ended it')


def test_crash_loop_exhausting_start_retries(fleet):
    """ crasher exits at once (startsecs=1, startretries=2, autorestart=unexpected): BACKOFF, then FATAL after 3
    spawns; its application shows a major failure, the fleet stays in OPERATION, nothing is retried later. """
    proxy = supvisors(fleet['s1'], 30)
    spawned = spawns(fleet, 'crasher')
    start = time.monotonic()
    assert proxy.start_application('CONFIG', 'retry_loop', False) is True

    def fatal() -> bool:
        info = proxy.get_process_info('retry_loop:crasher')[0]
        return info['statename'] == 'FATAL' and application(fleet, 'retry_loop')['major_failure']
    wait_for(fatal, 60, interval=0.1, what='crasher FATAL with a major failure')
    reaction = time.monotonic() - start
    assert observe(fleet, 3) == {'OPERATION'}
    assert spawns(fleet, 'crasher') == spawned + 3
    info = application(fleet, 'retry_loop')
    assert (info['statename'], info['major_failure']) == ('STOPPED', True)
    report('crash loop exhausting Supervisor start retries', 'retry_loop:crasher exits at once (startretries=2)',
           reaction, 'FATAL after 3 spawns, major failure of retry_loop, no later retry, OPERATION kept')
