"""A fleet with a rules file answers the read-only API with the contract's fields and values, and its model stays
consistent while processes start, crash and stop on several instances at once."""

import subprocess
import sys
import xmlrpc.client

import pytest

from supvisors.tools.localfleet import wait_for

from .helpers import operational_fleet

pytestmark = pytest.mark.e2e

PROGRAMS = """
[program:web]
command=sleep 1000
autostart=false
startsecs=0

[program:db]
command=sleep 1000
autostart=false
startsecs=0

[group:shop_01]
programs=web,db

[program:worker]
command=sleep 1000
process_name=worker_%(process_num)02d
numprocs=4
numprocs_start=1
autostart=false
startsecs=0

[program:lone]
command=sleep 1000
autostart=false
startsecs=0

[program:crasher]
command=sh -c "sleep 0.2; exit 3"
autostart=false
startsecs=0
autorestart=false
"""

HELPER = """
[program:helper]
command=sleep 1000
autostart=false
"""

RULES = """<?xml version="1.0" encoding="UTF-8"?>
<root>
    <alias name="front">s2,s1</alias>
    <model name="svc">
        <start_sequence>2</start_sequence>
        <required>true</required>
        <expected_loading>10</expected_loading>
    </model>
    <model name="deep">
        <reference>svc</reference>
        <wait_exit>true</wait_exit>
    </model>
    <application name="shop_01">
        <stop_sequence>2</stop_sequence>
        <distribution>SINGLE_INSTANCE</distribution>
        <identifiers>front</identifiers>
        <starting_failure_strategy>CONTINUE</starting_failure_strategy>
        <running_failure_strategy>STOP_APPLICATION</running_failure_strategy>
        <programs>
            <program name="web"><reference>svc</reference><identifiers>front</identifiers></program>
            <program pattern="d"><reference>deep</reference><start_sequence>3</start_sequence></program>
        </programs>
    </application>
    <application pattern="^work">
        <starting_strategy>LESS_LOADED</starting_strategy>
        <programs>
            <program pattern="^worker_"><identifiers>#</identifiers><expected_loading>5</expected_loading></program>
        </programs>
    </application>
    <application name="crasher">
        <programs><program name="crasher"><stop_sequence>1</stop_sequence></program></programs>
    </application>
</root>
"""


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    from supvisors.tools.localfleet import LocalFleet
    fleet = LocalFleet(3, str(tmp_path_factory.mktemp('model')), options={'core_identifiers': 's1,s2,s3'},
                       programs=PROGRAMS, per_instance_programs={'s2': HELPER}, rules=RULES)
    with operational_fleet(fleet, timeout=10):
        yield fleet


def rules_of(proxy, namespec):
    return proxy.supvisors.get_process_rules(namespec)


def test_application_rules(fleet):
    proxy = fleet['s3'].rpc()
    assert proxy.supvisors.get_application_rules('shop_01') == {
        'managed': True, 'distribution': 'SINGLE_INSTANCE', 'identifiers': ['s2', 's1'], 'start_sequence': 0,
        'stop_sequence': 2, 'starting_strategy': 'CONFIG', 'starting_failure_strategy': 'CONTINUE',
        'running_failure_strategy': 'STOP_APPLICATION', 'application_name': 'shop_01'}
    assert list(proxy.supvisors.get_application_rules('shop_01')) == [
        'managed', 'distribution', 'identifiers', 'start_sequence', 'stop_sequence', 'starting_strategy',
        'starting_failure_strategy', 'running_failure_strategy', 'application_name']
    assert proxy.supvisors.get_application_rules('worker') == {
        'managed': True, 'distribution': 'ALL_INSTANCES', 'identifiers': ['*'], 'start_sequence': 0,
        'stop_sequence': 0, 'starting_strategy': 'LESS_LOADED', 'starting_failure_strategy': 'ABORT',
        'running_failure_strategy': 'CONTINUE', 'application_name': 'worker'}
    assert proxy.supvisors.get_application_rules('lone') == {'managed': False, 'application_name': 'lone'}


def test_process_rules(fleet):
    proxy = fleet['s1'].rpc()
    db, web = rules_of(proxy, 'shop_01:*')
    assert web == {'identifiers': ['s2', 's1'], 'start_sequence': 2, 'stop_sequence': 2, 'required': True,
                   'wait_exit': False, 'expected_loading': 10, 'starting_failure_strategy': 'CONTINUE',
                   'running_failure_strategy': 'STOP_APPLICATION', 'application_name': 'shop_01',
                   'process_name': 'web'}
    assert list(web) == ['identifiers', 'start_sequence', 'stop_sequence', 'required', 'wait_exit',
                         'expected_loading', 'starting_failure_strategy', 'running_failure_strategy',
                         'application_name', 'process_name']
    assert (db['process_name'], db['start_sequence'], db['wait_exit'], db['required'], db['identifiers']) == \
        ('db', 3, True, True, ['*'])
    # '#' over all instances, numprocs_start does not shift the assignment, roll-over after s3
    workers = rules_of(proxy, 'worker:*')
    assert [(x['process_name'], x['identifiers']) for x in workers] == [
        ('worker_01', ['s1']), ('worker_02', ['s2']), ('worker_03', ['s3']), ('worker_04', ['s1'])]
    assert all(x['expected_loading'] == 5 and x['required'] is False for x in workers)
    # unmanaged: defaults, stop_sequence from start_sequence since a rules parser exists
    assert rules_of(proxy, 'lone') == [{'identifiers': ['*'], 'start_sequence': 0, 'stop_sequence': 0,
                                        'required': False, 'wait_exit': False, 'expected_loading': 0,
                                        'starting_failure_strategy': 'ABORT', 'running_failure_strategy': 'CONTINUE',
                                        'application_name': 'lone', 'process_name': 'lone'}]


def test_applications_and_processes_info(fleet):
    for instance in fleet:
        proxy = instance.rpc()
        applications = proxy.supvisors.get_all_applications_info()
        assert sorted(x['application_name'] for x in applications) == ['crasher', 'helper', 'lone', 'shop_01',
                                                                         'worker']
        by_name = {x['application_name']: x for x in applications}
        assert by_name['shop_01'] == {'application_name': 'shop_01', 'managed': True, 'statecode': 0,
                                      'statename': 'STOPPED', 'major_failure': False, 'minor_failure': False}
        assert by_name['helper']['managed'] is False
        assert proxy.supvisors.get_application_info('lone') == by_name['lone']
        processes = proxy.supvisors.get_process_info('worker:*')
        assert [x['process_name'] for x in processes] == ['worker_01', 'worker_02', 'worker_03', 'worker_04']
        assert set(processes[0]) == {'application_name', 'process_name', 'statecode', 'statename', 'expected_exit',
                                     'last_event_time', 'identifiers', 'extra_args'}
        assert isinstance(processes[0]['last_event_time'], float)
        assert len(proxy.supvisors.get_all_process_info()) == 9


@pytest.mark.parametrize('method, args, text', [
    ('get_application_info', ['dummy'], 'BAD_NAME: application dummy unknown to Supvisors'),
    ('get_application_rules', ['dummy'], 'BAD_NAME: application dummy unknown to Supvisors'),
    ('get_process_info', ['dummy:*'], 'BAD_NAME: application dummy unknown to Supvisors'),
    ('get_process_info', ['worker:dummy'], 'BAD_NAME: process=dummy unknown in application=worker'),
    ('get_process_rules', ['dummy'], 'BAD_NAME: application dummy unknown to Supvisors'),
    ('get_process_rules', ['shop_01:dummy'], 'BAD_NAME: process=dummy unknown in application=shop_01'),
])
def test_unknown_names(fleet, method, args, text):
    with pytest.raises(xmlrpc.client.Fault) as exc:
        getattr(fleet['s1'].rpc().supvisors, method)(*args)
    assert exc.value.faultCode == 10 and exc.value.faultString == text


def ctl(instance, *args):
    return subprocess.Popen([sys.executable, '-m', 'supervisor.supervisorctl', '-s', instance.url, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def views_agree(fleet):
    """ Every instance has the same synthetic view, and it matches what each supervisord reports. """
    views = [sorted((x['application_name'], x['process_name'], x['statename'], tuple(x['identifiers']))
                    for x in instance.rpc().supvisors.get_all_process_info()) for instance in fleet]
    if views[0] != views[1] or views[0] != views[2]:
        return False
    running = {}
    for instance in fleet:
        for info in instance.rpc().supvisors.get_all_local_process_info():
            if info['statename'] in ('STARTING', 'RUNNING', 'BACKOFF'):
                running.setdefault((info['group'], info['name']), []).append(instance.identifier)
    synthetic = {(app, proc): list(ids) for app, proc, _, ids in views[0] if ids}
    return synthetic == {key: sorted(value) for key, value in running.items()}


def test_model_consistent_under_concurrent_changes(fleet):
    # several instances start, crash and stop processes at the same time
    procs = []
    for instance in fleet:
        procs.append(ctl(instance, 'start', 'worker:*', 'lone', 'crasher'))
    for proc in procs:
        proc.wait(timeout=30)
    wait_for(lambda: views_agree(fleet), timeout=10, what='views agree after starts')
    proxy = fleet['s1'].rpc()
    wait_for(lambda: proxy.supvisors.get_process_info('crasher')[0]['statename'] == 'EXITED', timeout=10,
             what='crasher exited')
    # worker_01 runs on the 3 instances: a conflict in a managed application; lone is unmanaged
    conflicts = proxy.supvisors.get_conflicts()
    assert {x['process_name'] for x in conflicts} == {'worker_01', 'worker_02', 'worker_03', 'worker_04'}
    assert all(sorted(x['identifiers']) == ['s1', 's2', 's3'] for x in conflicts)
    # crasher exited with an unexpected code on every instance: minor failure of a STOPPED managed application
    crasher = proxy.supvisors.get_process_info('crasher')[0]
    assert crasher['expected_exit'] is False
    assert proxy.supvisors.get_application_info('crasher')['minor_failure'] is True
    # loading of running managed processes: 4 workers x 5 on every instance
    assert all(x['loading'] == 20 for x in proxy.supvisors.get_all_instances_info())
    procs = [ctl(fleet['s1'], 'stop', 'worker:*'), ctl(fleet['s2'], 'stop', 'lone', 'worker:worker_01'),
             ctl(fleet['s3'], 'stop', 'all')]
    for proc in procs:
        proc.wait(timeout=30)
    wait_for(lambda: views_agree(fleet), timeout=10, what='views agree after stops')
    assert [x['process_name'] for x in proxy.supvisors.get_conflicts()] == []
    remaining = {(x['application_name'], x['process_name']): x['identifiers']
                 for x in proxy.supvisors.get_all_process_info() if x['identifiers']}
    assert remaining == {('worker', 'worker_02'): ['s2'], ('worker', 'worker_03'): ['s2'],
                         ('worker', 'worker_04'): ['s2'], ('lone', 'lone'): ['s1']}


def test_autorestart_disabled_for_application_level_strategies(fleet):
    """ STOP_APPLICATION (inherited from the application) disables Supervisor's autorestart of shop_01:web. """
    import os
    import signal
    instance = fleet['s3']
    proxy = instance.rpc()
    for namespec in ('shop_01:web', 'lone'):
        proxy.supervisor.startProcess(namespec)
    pids = {namespec: proxy.supervisor.getProcessInfo(namespec)['pid'] for namespec in ('shop_01:web', 'lone')}
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    # lone (autorestart unexpected) comes back with a new pid: by then web would have been respawned too
    wait_for(lambda: proxy.supervisor.getProcessInfo('lone')['pid'] not in (0, pids['lone']), timeout=10,
             what='lone respawned')
    web = proxy.supervisor.getProcessInfo('shop_01:web')
    assert web['statename'] == 'EXITED' and web['pid'] == 0
    for namespec in ('lone',):
        proxy.supervisor.stopProcess(namespec)
    wait_for(lambda: views_agree(fleet), timeout=10, what='views agree')
