"""Fleets of real supervisord with the plugin, on loopback: synchronisation, election, liveness, status API."""

import socket
import struct
import time
import xmlrpc.client

import pytest

from supvisors.tools.localfleet import wait_for

pytestmark = pytest.mark.e2e

INSTANCE_INFO_TYPES = {'identifier': str, 'node_name': str, 'port': int, 'statecode': int, 'statename': str,
                       'sequence_counter': int, 'remote_time': int, 'local_time': int, 'loading': int,
                       'fsm_statecode': int, 'fsm_statename': str, 'starting_jobs': bool, 'stopping_jobs': bool}
LOCAL_PROCESS_INFO_TYPES = {'name': str, 'group': str, 'state': int, 'statename': str, 'start': int, 'stop': int,
                            'now': float, 'pid': int, 'description': str, 'spawnerr': str, 'expected': bool,
                            'startsecs': int, 'stopwaitsecs': int, 'extra_args': str, 'disabled': bool}

PROGRAMS = """
[program:sleeper]
command=sleep 1000
startsecs=0
"""


def state(instance):
    return instance.rpc(timeout=2).supvisors.get_supvisors_state()['fsm_statename']


def master(instance):
    return instance.rpc(timeout=2).supvisors.get_master_identifier()


def instance_state(viewer, identifier):
    return viewer.rpc(timeout=2).supvisors.get_instance_info(identifier)['statename']


def wait_operation(fleet, identifiers, expected_master, timeout):
    def ready():
        return all(state(fleet[x]) == 'OPERATION' and master(fleet[x]) == expected_master for x in identifiers)
    wait_for(ready, timeout, what=f'{identifiers} in OPERATION with Master {expected_master}')


def wait_instance_state(fleet, viewers, identifier, expected, timeout):
    def seen():
        return all(instance_state(fleet[x], identifier) == expected for x in viewers)
    wait_for(seen, timeout, interval=0.02, what=f'{identifier} {expected} as seen by {viewers}')


@pytest.fixture
def fleet3(fleet_factory):
    fleet = fleet_factory(3, options={'core_identifiers': 's1,s2,s3'}, programs=PROGRAMS)
    launch = time.monotonic()
    fleet.start()
    fleet.wait_rpc_ready(timeout=20)
    wait_operation(fleet, fleet.identifiers, 's1', timeout=max(0.5, 3.0 - (time.monotonic() - launch)))
    return fleet


def test_three_instances_reach_operation_with_the_same_master_quickly(fleet3):
    """ Acceptance: OPERATION everywhere, same Master, in under 3 s from launch (deadline in the fixture). """
    for instance in fleet3:
        assert state(instance) == 'OPERATION'
        assert master(instance) == 's1'


def test_status_methods_answer_the_contract_fields(fleet3):
    # views converge once the last STATE messages are received
    wait_for(lambda: all(x['fsm_statename'] == 'OPERATION' for instance in fleet3
                         for x in instance.rpc().supvisors.get_all_instances_info()), timeout=5, what='views')
    for instance in fleet3:
        proxy = instance.rpc()
        infos = proxy.supvisors.get_all_instances_info()
        assert [info['identifier'] for info in infos] == ['s1', 's2', 's3']
        for info in infos:
            assert list(info) == list(INSTANCE_INFO_TYPES)
            assert {key: type(value) for key, value in info.items()} == INSTANCE_INFO_TYPES
            assert info['statename'] == 'RUNNING' and info['statecode'] == 2
            assert info['node_name'] == '127.0.0.1'
            assert info['port'] == fleet3[info['identifier']].http_port
            assert info['fsm_statename'] == 'OPERATION' and info['fsm_statecode'] == 3
            assert info['remote_time'] > 1600000000 and info['local_time'] > 1600000000
        assert proxy.supvisors.get_instance_info('s2')['identifier'] == 's2'
        assert proxy.supvisors.get_api_version() == '0.15'
        assert proxy.supvisors.get_strategies() == {'auto-fencing': False, 'starting': 'CONFIG',
                                                    'conciliation': 'USER'}
        sv_state = proxy.supvisors.get_supvisors_state()
        assert sv_state == {'fsm_statecode': 3, 'fsm_statename': 'OPERATION', 'starting_jobs': [],
                            'stopping_jobs': []}
        with pytest.raises(xmlrpc.client.Fault) as exc:
            proxy.supvisors.get_instance_info('dummy')
        assert exc.value.faultCode == 2
        assert exc.value.faultString == 'INCORRECT_PARAMETERS: dummy unknown to Supvisors'
        # local process information
        processes = proxy.supvisors.get_all_local_process_info()
        assert [(x['group'], x['name']) for x in processes] == [('sleeper', 'sleeper')]
        assert {key: type(value) for key, value in processes[0].items()} == LOCAL_PROCESS_INFO_TYPES
        assert processes[0]['expected'] is True and processes[0]['extra_args'] == ''
        assert proxy.supvisors.get_local_process_info('sleeper:sleeper')['name'] == 'sleeper'
        for bad in ('dummy', 'sleeper:*', 'sleeper:dummy'):
            with pytest.raises(xmlrpc.client.Fault) as exc:
                proxy.supvisors.get_local_process_info(bad)
            assert exc.value.faultString == f'BAD_NAME: {bad}'
        # arity errors are Supervisor's INCORRECT_PARAMETERS without detail
        with pytest.raises(xmlrpc.client.Fault) as exc:
            proxy.supvisors.get_instance_info()
        assert exc.value.faultString == 'INCORRECT_PARAMETERS'


def test_change_log_level(fleet3):
    proxy = fleet3['s1'].rpc()
    assert proxy.supvisors.change_log_level('debug') is True
    assert proxy.supvisors.change_log_level(20) is True
    for bad, text in [('DEBUG', "invalid logger level: DEBUG (string expected in ['critical', 'error', 'warn',"
                                " 'info', 'debug', 'trace', 'blather'])"),
                      (12, 'invalid logger level: 12 (integer expected in [50, 40, 30, 20, 10, 5, 3])'),
                      (True, 'invalid logger level: True (string or integer expected)')]:
        with pytest.raises(xmlrpc.client.Fault) as exc:
            proxy.supvisors.change_log_level(bad)
        assert exc.value.faultString == f'INCORRECT_PARAMETERS: {text}'


def test_killed_slave_is_silent_within_one_second_and_comes_back(fleet3):
    fleet3['s2'].kill()
    wait_instance_state(fleet3, ['s1', 's3'], 's2', 'SILENT', timeout=1.0)
    assert state(fleet3['s1']) == 'OPERATION' and state(fleet3['s3']) == 'OPERATION'
    fleet3.restart_instance('s2')
    wait_instance_state(fleet3, ['s1', 's3'], 's2', 'RUNNING', timeout=15)
    wait_operation(fleet3, fleet3.identifiers, 's1', timeout=15)


def test_killed_master_is_replaced(fleet3):
    fleet3['s1'].kill()
    wait_instance_state(fleet3, ['s2', 's3'], 's1', 'SILENT', timeout=1.0)
    wait_operation(fleet3, ['s2', 's3'], 's2', timeout=5)
    # the former Master comes back as a slave of the new one
    fleet3.restart_instance('s1')
    wait_operation(fleet3, fleet3.identifiers, 's2', timeout=15)


@pytest.mark.parametrize('auto_fence', [False, True])
def test_frozen_instance_is_detected_by_inactivity(fleet_factory, auto_fence):
    fleet = fleet_factory(3, options={'core_identifiers': 's1,s2,s3', 'tick_period': '1', 'inactivity_ticks': '2',
                                      'auto_fence': str(auto_fence).lower()})
    fleet.start()
    fleet.wait_rpc_ready(timeout=20)
    wait_operation(fleet, fleet.identifiers, 's1', timeout=10)
    fleet['s3'].freeze()
    try:
        expected = 'ISOLATED' if auto_fence else 'SILENT'
        wait_instance_state(fleet, ['s1', 's2'], 's3', expected, timeout=4.0)
        assert state(fleet['s1']) == 'OPERATION'
    finally:
        fleet['s3'].thaw()
    if auto_fence:
        # isolated for good: its ticks are not heard any more
        counter = fleet['s1'].rpc().supvisors.get_instance_info('s3')['sequence_counter']
        wait_for(lambda: fleet['s3'].rpc().supvisors.get_instance_info('s3')['sequence_counter'] > counter + 2,
                 timeout=10, what='s3 ticking again')
        assert instance_state(fleet['s1'], 's3') == 'ISOLATED'
        assert fleet['s1'].rpc().supvisors.get_instance_info('s3')['sequence_counter'] == counter
    else:
        wait_instance_state(fleet, ['s1', 's2'], 's3', 'RUNNING', timeout=10)
        wait_operation(fleet, fleet.identifiers, 's1', timeout=10)


def _frame(payload: bytes) -> bytes:
    return struct.pack('>I', len(payload)) + payload


def test_garbage_on_the_internal_port_is_dropped(fleet3):
    target = fleet3['s1']
    junk = [b'\x00\x01garbage that is not a frame at all' * 10,
            _frame(b'{not json'),
            _frame(b'[1, "wrong structure"]'),
            _frame(b'\xff\xfe\xfd'),
            struct.pack('>I', 1 << 30) + b'oversized',
            struct.pack('>I', 100) + b'truncated']
    for data in junk:
        with socket.create_connection(('127.0.0.1', target.internal_port), timeout=2) as sock:
            sock.sendall(data)
    wait_for(lambda: 'InternalBus: dropped data' in target.log(), timeout=5, what='garbage logged')
    # the instance keeps working: still ticking, still seeing the others
    counter = target.rpc().supvisors.get_instance_info('s2')['sequence_counter']
    wait_for(lambda: target.rpc().supvisors.get_instance_info('s2')['sequence_counter'] > counter, timeout=12,
             what='ticks from s2 still received')
    assert state(target) == 'OPERATION'
    assert [x['statename'] for x in target.rpc().supvisors.get_all_instances_info()] == ['RUNNING'] * 3


def test_shutdown_requested_on_a_slave_stops_the_whole_fleet(fleet3):
    assert fleet3['s3'].rpc().supvisors.shutdown() is True
    wait_for(lambda: not any(instance.alive for instance in fleet3), timeout=20, what='all supervisord stopped')


def test_restart_restarts_every_supervisord_and_the_fleet_comes_back(fleet3):
    marker = 'supervisord is RUNNING: starting communications'
    assert fleet3['s1'].rpc().supvisors.restart() is True
    wait_for(lambda: all(instance.log().count(marker) == 2 for instance in fleet3), timeout=20,
             what='every supervisord restarted')
    wait_operation(fleet3, fleet3.identifiers, 's1', timeout=15)


def test_restart_is_refused_outside_working_states(fleet_factory):
    """ A lone instance waiting for missing peers stays in INITIALIZATION: the FROM_DEPLOYMENT gate refuses. """
    fleet = fleet_factory(2, options={'synchro_timeout': '60'})
    fleet.start(['s1'])
    fleet.wait_rpc_ready(timeout=20, identifiers=['s1'])
    proxy = fleet['s1'].rpc()
    assert state(fleet['s1']) == 'INITIALIZATION'
    with pytest.raises(xmlrpc.client.Fault) as exc:
        proxy.supvisors.restart()
    assert exc.value.faultCode == 101
    assert exc.value.faultString == ("BAD_SUPVISORS_STATE: Supvisors (state=INITIALIZATION) not in state"
                                     " ['DEPLOYMENT', 'OPERATION', 'CONCILIATION', 'RESTARTING', 'SHUTTING_DOWN']"
                                     " to perform request")
    # the missing peer arrives: synchronisation completes without waiting for synchro_timeout
    fleet.start(['s2'])
    wait_operation(fleet, fleet.identifiers, 's1', timeout=10)


def test_fleet_with_http_credentials(fleet_factory):
    """ Handshakes use the local username/password (identical on every instance, as the contract requires). """
    fleet = fleet_factory(2)
    for instance in fleet:
        with open(instance.conf_path) as stream:
            text = stream.read()
        text = text.replace('[inet_http_server]\n', '[inet_http_server]\nusername = admin\npassword = p@ss:word\n')
        with open(instance.conf_path, 'w') as stream:
            stream.write(text)
    fleet.start()

    def operation():
        for instance in fleet:
            proxy = xmlrpc.client.ServerProxy(f'http://admin:p%40ss%3Aword@127.0.0.1:{instance.http_port}/RPC2')
            if proxy.supvisors.get_supvisors_state()['fsm_statename'] != 'OPERATION':
                return False
        return True
    wait_for(operation, timeout=15, what='OPERATION with credentials')
    with pytest.raises(xmlrpc.client.ProtocolError):
        fleet['s1'].rpc().supvisors.get_supvisors_state()
