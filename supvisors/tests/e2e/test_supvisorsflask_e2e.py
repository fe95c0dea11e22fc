"""The REST front supvisorsflask against a real 2-instance fleet: every route is called once through the Flask test
client and its answer is checked against the live fleet (routes with global effects on a dedicated fleet)."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any, Iterator, Set, Tuple

import pytest

pytest.importorskip('flask_restx')

import supvisors  # noqa: E402
from supvisors.tools.localfleet import LocalFleet, find_free_ports, wait_for  # noqa: E402
from supvisors.tools.supvisorsflask import create_app  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# startsecs=1 where Supvisors starts the program: a start that completes within the XML-RPC call is not
# reported as in progress by the Starter (start_application answers False, start_process ABNORMAL_TERMINATION)
PROGRAMS = """
[program:sleeper]
command=sleep 1000
autostart=false
startsecs=1

[program:echo]
command=cat
autostart=false
startsecs=0

[program:member]
command=sleep 1000
autostart=false
startsecs=1

[group:grp]
programs=member

[program:worker]
command=sleep 1000
process_name=worker_%(process_num)02d
numprocs=2
numprocs_start=1
autostart=false
startsecs=1

[program:spare]
command=sleep 1000
autostart=false
startsecs=0
"""

RULES = """<?xml version="1.0" encoding="UTF-8"?>
<root>
    <application name="grp">
        <programs>
            <program name="member"><start_sequence>1</start_sequence></program>
        </programs>
    </application>
</root>
"""

# routes whose effect reaches beyond the instance called: exercised on a dedicated fleet
GLOBAL_ENDPOINTS = {'supervisor_shutdown', 'supervisor_restart', 'supvisors_restart', 'supvisors_shutdown'}
RESTART_MARKER = 'supervisord is RUNNING: starting communications'
OK = {'status': 80, 'description': 'OK'}


class Rest:
    """Flask test client of the REST front of one instance, remembering which routes were called."""

    def __init__(self, url: str) -> None:
        self.app = create_app(url)
        self.client = self.app.test_client()
        self.adapter = self.app.url_map.bind('localhost')
        self.called: Set[str] = set()

    def call(self, method: str, path: str, status: int = 200) -> Any:
        if status != 404:
            self.called.add(self.adapter.match(path.split('?')[0], method=method)[0])
        response = self.client.open(path, method=method)
        assert response.status_code == status, f'{method} {path}: {response.status_code} {response.data!r}'
        return response.get_json()

    def get(self, path: str, status: int = 200) -> Any:
        return self.call('GET', path, status)

    def post(self, path: str, status: int = 200) -> Any:
        return self.call('POST', path, status)

    @property
    def endpoints(self) -> Set[str]:
        return {rule.endpoint for rule in self.app.url_map.iter_rules()
                if rule.rule.startswith(('/system/', '/supervisor/', '/supvisors/'))}


def wait_operation(rest: Rest, timeout: float) -> None:
    """Wait until the instance called is in OPERATION and sees every instance RUNNING in OPERATION."""
    def ready() -> bool:
        infos = rest.get('/supvisors/all_instances_info')
        return (rest.get('/supvisors/supvisors_state')['fsm_statename'] == 'OPERATION'
                and all(info['statename'] == 'RUNNING' and info['fsm_statename'] == 'OPERATION' for info in infos))
    wait_for(ready, timeout, interval=0.1, what='OPERATION through the REST front')


def process_state(rest: Rest, namespec: str) -> str:
    return rest.get(f'/supvisors/process_info/{namespec}')[0]['statename']


def wait_process_state(rest: Rest, namespec: str, expected: str, timeout: float = 10) -> None:
    wait_for(lambda: process_state(rest, namespec) == expected, timeout, interval=0.1,
             what=f'{namespec} {expected} in Supvisors')


def supervisor_state(rest: Rest, name: str) -> str:
    return rest.get(f'/supervisor/getProcessInfo/{name}')['statename']


@pytest.fixture
def fleet(fleet_factory) -> LocalFleet:
    fleet = fleet_factory(2, options={'core_identifiers': 's1,s2'}, programs=PROGRAMS, rules=RULES)
    fleet.start()
    fleet.wait_rpc_ready(timeout=20)
    return fleet


def test_every_route_on_a_live_fleet(fleet):
    rest = Rest(fleet['s1'].url)
    direct = fleet['s1'].rpc()
    wait_operation(rest, timeout=20)

    # ---- system
    assert rest.get('/system/listMethods') == direct.system.listMethods()
    assert rest.get('/system/methodHelp/supervisor.getState') == direct.system.methodHelp('supervisor.getState')
    assert rest.get('/system/methodSignature/supervisor.startProcess') == ['boolean', 'string', 'boolean']
    assert rest.get('/system/methodHelp/supvisors.nothing', status=400) == {'message': 'SIGNATURE_UNSUPPORTED',
                                                                          'code': 4}

    # ---- supervisor: status
    assert rest.get('/supervisor/getAPIVersion') == direct.supervisor.getAPIVersion()
    assert rest.get('/supervisor/getSupervisorVersion') == direct.supervisor.getSupervisorVersion()
    assert rest.get('/supervisor/getIdentification') == 's1'
    assert rest.get('/supervisor/getState') == {'statecode': 1, 'statename': 'RUNNING'}
    assert rest.get('/supervisor/getPID') == fleet['s1'].pid
    with open(fleet['s1'].logfile, 'rb') as stream:
        head = stream.read(100).decode()
    assert rest.get('/supervisor/readLog/0/100') == head
    assert len(rest.get('/supervisor/readLog/-50/0')) == 50
    config_names = {info['name'] for info in rest.get('/supervisor/getAllConfigInfo')}
    assert config_names == {'sleeper', 'echo', 'member', 'worker_01', 'worker_02', 'spare'}
    assert ({(info['group'], info['name']) for info in rest.get('/supervisor/getAllProcessInfo')}
            == {(info['group'], info['name']) for info in direct.supervisor.getAllProcessInfo()})
    info = rest.get('/supervisor/getProcessInfo/grp:member')
    assert (info['group'], info['name'], info['statename']) == ('grp', 'member', 'STOPPED')
    assert rest.get('/supervisor/getProcessInfo/unknown', status=400) == {'message': 'BAD_NAME: unknown',
                                                                         'code': 10}

    # ---- supervisor: process control
    assert rest.post('/supervisor/startProcess/sleeper') is True
    assert supervisor_state(rest, 'sleeper') == 'RUNNING'
    assert rest.post('/supervisor/signalProcess/sleeper/CONT') is True
    assert rest.post('/supervisor/stopProcess/sleeper?wait=false') is True
    wait_for(lambda: supervisor_state(rest, 'sleeper') == 'STOPPED', 10, what='sleeper STOPPED')
    assert rest.post('/supervisor/startProcessGroup/grp') == [{'name': 'member', 'group': 'grp', **OK}]
    assert rest.post('/supervisor/signalProcessGroup/grp/CONT') == [{'name': 'member', 'group': 'grp', **OK}]
    assert rest.post('/supervisor/stopProcessGroup/grp?wait=true') == [{'name': 'member', 'group': 'grp', **OK}]
    started = rest.post('/supervisor/startAllProcesses?wait=true')
    assert {(result['name'], result['status']) for result in started} == {(name, 80) for name in config_names}
    signalled = rest.post('/supervisor/signalAllProcesses/CONT')
    assert {(result['name'], result['status']) for result in signalled} == {(name, 80) for name in config_names}
    stopped = rest.post('/supervisor/stopAllProcesses?wait=1')
    assert {(result['name'], result['status']) for result in stopped} == {(name, 80) for name in config_names}
    assert all(info['statename'] == 'STOPPED' for info in rest.get('/supervisor/getAllProcessInfo'))

    # ---- supervisor: process logs and stdin
    assert rest.post('/supervisor/startProcess/echo?wait=true') is True
    assert rest.post('/supervisor/sendProcessStdin/echo/hello%0A') is True
    wait_for(lambda: rest.get('/supervisor/readProcessStdoutLog/echo/0/100') == 'hello\n', 10,
             what='echo stdout log')
    assert rest.get('/supervisor/readProcessStdoutLog/echo/-3/0') == 'lo\n'
    assert rest.get('/supervisor/readProcessStderrLog/echo/0/100') == ''
    assert rest.get('/supervisor/tailProcessStdoutLog/echo/0/100') == ['hello\n', 6, False]
    assert rest.get('/supervisor/tailProcessStderrLog/echo/0/100') == ['', 0, False]
    assert rest.post('/supervisor/clearProcessLogs/echo') is True
    assert rest.get('/supervisor/readProcessStdoutLog/echo/0/100') == ''
    cleared = rest.post('/supervisor/clearAllProcessLogs')
    assert {(result['name'], result['status']) for result in cleared} == {(name, 80) for name in config_names}
    assert rest.post('/supervisor/stopProcess/echo') is True
    assert rest.post('/supervisor/sendRemoteCommEvent/test_type/test_data') is True

    # ---- supervisor: configuration
    assert rest.post('/supervisor/reloadConfig') == [[[], [], []]]
    assert rest.post('/supervisor/removeProcessGroup/spare') is True
    assert rest.get('/supervisor/getProcessInfo/spare', status=400)['code'] == 10
    assert rest.post('/supervisor/addProcessGroup/spare') is True
    assert supervisor_state(rest, 'spare') == 'STOPPED'
    assert rest.post('/supervisor/addProcessGroup/spare', status=400) == {'message': 'ALREADY_ADDED: spare',
                                                                          'code': 90}

    # ---- supvisors: status
    wait_operation(rest, timeout=10)
    assert rest.get('/supvisors/api_version') == '0.15'
    wait_for(lambda: rest.get('/supvisors/supvisors_state') == {
        'fsm_statecode': 3, 'fsm_statename': 'OPERATION', 'starting_jobs': [], 'stopping_jobs': []}, 10,
        what='no job in progress')
    assert rest.get('/supvisors/master_identifier') == 's1'
    assert rest.get('/supvisors/strategies') == {'auto-fencing': False, 'starting': 'CONFIG',
                                                 'conciliation': 'USER'}
    infos = rest.get('/supvisors/all_instances_info')
    assert [info['identifier'] for info in infos] == ['s1', 's2']
    info = rest.get('/supvisors/instance_info/s2')
    assert (info['identifier'], info['port'], info['statename']) == ('s2', fleet['s2'].http_port, 'RUNNING')
    assert rest.get('/supvisors/instance_info/s3', status=400)['code'] == 2
    applications = {info['application_name']: info for info in rest.get('/supvisors/all_applications_info')}
    assert set(applications) == {'sleeper', 'echo', 'grp', 'worker', 'spare'}
    assert applications['grp']['managed'] is True and applications['sleeper']['managed'] is False
    info = rest.get('/supvisors/application_info/grp')
    assert (info['application_name'], info['managed'], info['statename']) == ('grp', True, 'STOPPED')
    assert rest.get('/supvisors/application_info/dummy', status=400) == {
        'message': 'BAD_NAME: application dummy unknown to Supvisors', 'code': 10}
    rules = rest.get('/supvisors/application_rules/grp')
    assert (rules['application_name'], rules['managed'], rules['distribution']) == ('grp', True, 'ALL_INSTANCES')
    assert ({(info['application_name'], info['process_name']) for info in rest.get('/supvisors/all_process_info')}
            == {(info['application_name'], info['process_name'])
                for info in direct.supvisors.get_all_process_info()})
    assert [info['process_name'] for info in rest.get('/supvisors/process_info/worker:*')] == ['worker_01',
                                                                                             'worker_02']
    assert ({(info['group'], info['name']) for info in rest.get('/supvisors/all_local_process_info')}
            == {(info['group'], info['name']) for info in direct.supervisor.getAllProcessInfo()})
    info = rest.get('/supvisors/local_process_info/grp:member')
    assert (info['group'], info['name'], info['statename'], info['disabled']) == ('grp', 'member', 'STOPPED', False)
    rules = rest.get('/supvisors/process_rules/grp:member')
    assert [(rule['process_name'], rule['start_sequence']) for rule in rules] == [('member', 1)]
    assert rest.get('/supvisors/conflicts') == []

    # ---- supvisors: applications
    assert rest.post('/supvisors/start_application/LESS_LOADED/grp') is True
    assert rest.get('/supvisors/application_info/grp')['statename'] == 'RUNNING'
    assert rest.post('/supvisors/start_application/CONFIG/grp', status=400) == {'message': 'ALREADY_STARTED: grp',
                                                                                'code': 60}
    assert rest.post('/supvisors/stop_application/grp?wait=true') is True
    assert rest.get('/supvisors/application_info/grp')['statename'] == 'STOPPED'
    assert rest.post('/supvisors/restart_application/CONFIG/grp') is True
    assert rest.get('/supvisors/application_info/grp')['statename'] == 'RUNNING'
    assert rest.post('/supvisors/stop_application/grp?wait=false') is True
    wait_for(lambda: rest.get('/supvisors/application_info/grp')['statename'] == 'STOPPED', 10,
             what='grp STOPPED')
    assert rest.post('/supvisors/start_application/CONFIG/sleeper', status=400)['code'] == 102

    # ---- supvisors: processes
    assert rest.post('/supvisors/start_args/sleeper/5') is True
    info = rest.get('/supvisors/local_process_info/sleeper')
    assert (info['statename'], info['extra_args']) == ('RUNNING', '5')
    assert rest.post('/supvisors/stop_process/sleeper') is True
    assert process_state(rest, 'sleeper') == 'STOPPED'
    assert rest.post('/supvisors/start_process/LOCAL/sleeper?extra_args=7&wait=true') is True
    info = rest.get('/supvisors/process_info/sleeper')[0]
    assert (info['statename'], info['identifiers'], info['extra_args']) == ('RUNNING', ['s1'], '7')
    assert rest.post('/supvisors/restart_process/MOST_LOADED/sleeper?extra_args=8') is True
    info = rest.get('/supvisors/process_info/sleeper')[0]
    assert (info['statename'], info['extra_args']) == ('RUNNING', '8')
    assert rest.post('/supvisors/stop_process/sleeper?wait=false') is True
    wait_process_state(rest, 'sleeper', 'STOPPED')
    assert rest.post('/supvisors/start_any_process/LOCAL/%5Eworker%3Aworker_0?wait=true') == 'worker:worker_01'
    assert process_state(rest, 'worker:worker_01') == 'RUNNING'
    assert rest.post('/supvisors/stop_process/worker:*') is True
    assert rest.post('/supvisors/start_process/LOCAL/dummy', status=400) == {
        'message': 'BAD_NAME: application dummy unknown to Supvisors', 'code': 10}

    # ---- supvisors: programs
    assert rest.post('/supvisors/update_numprocs/worker/3') is True
    assert rest.get('/supvisors/local_process_info/worker:worker_03')['statename'] == 'STOPPED'
    assert len(rest.get('/supvisors/process_info/worker:*')) == 3
    assert rest.post('/supvisors/update_numprocs/worker/2?wait=true') is True
    assert rest.get('/supvisors/local_process_info/worker:worker_03', status=400)['code'] == 10
    assert rest.post('/supvisors/disable/worker') is True
    assert rest.get('/supvisors/local_process_info/worker:worker_01')['disabled'] is True
    assert rest.post('/supervisor/startProcess/worker:worker_01', status=400) == {
        'message': 'DISABLED: worker:worker_01', 'code': 103}
    assert rest.post('/supvisors/enable/worker?wait=true') is True
    assert rest.get('/supvisors/local_process_info/worker:worker_01')['disabled'] is False

    # ---- supvisors: conciliation, logger, sequence
    assert rest.post('/supvisors/conciliate/USER', status=400) == {
        'message': "BAD_SUPVISORS_STATE: Supvisors (state=OPERATION) not in state ['CONCILIATION'] to perform request",
        'code': 101}
    assert rest.post('/supvisors/change_log_level/debug') is True
    assert rest.post('/supvisors/change_log_level/info') is True
    assert rest.post('/supvisors/change_log_level/DEBUG', status=404) is None
    assert rest.post('/supervisor/clearLog') is True
    assert 'SupvisorsCore: OPERATION -> DEPLOYMENT' not in fleet['s1'].log()
    assert rest.post('/supvisors/restart_sequence?wait=false') is True
    wait_for(lambda: 'SupvisorsCore: DEPLOYMENT -> OPERATION' in fleet['s1'].log(), 20,
             what='forced DEPLOYMENT over')
    wait_operation(rest, timeout=10)

    assert rest.called == rest.endpoints - GLOBAL_ENDPOINTS


def instance_restarts(fleet: LocalFleet, identifier: str) -> int:
    return fleet[identifier].log().count(RESTART_MARKER)


def test_routes_with_global_effects(fleet):
    """supervisor.restart / shutdown act on the instance called, supvisors.restart / shutdown on the whole fleet."""
    rest1, rest2 = Rest(fleet['s1'].url), Rest(fleet['s2'].url)
    wait_operation(rest1, timeout=20)
    wait_operation(rest2, timeout=10)
    # Supervisor restart of s2 only
    assert rest2.post('/supervisor/restart') is True
    wait_for(lambda: instance_restarts(fleet, 's2') == 2, 20, what='s2 restarted')
    wait_operation(rest2, timeout=20)
    wait_operation(rest1, timeout=10)
    assert instance_restarts(fleet, 's1') == 1
    # Supvisors restart of the whole fleet, requested to s2 (forwarded to the Master s1)
    assert rest2.post('/supvisors/restart') is True
    wait_for(lambda: instance_restarts(fleet, 's1') == 2 and instance_restarts(fleet, 's2') == 3, 30,
             what='every supervisord restarted')
    wait_operation(rest1, timeout=20)
    wait_operation(rest2, timeout=10)
    # Supervisor shutdown of s2 only
    assert rest2.post('/supervisor/shutdown') is True
    wait_for(lambda: not fleet['s2'].alive, 20, what='s2 stopped')
    assert fleet['s1'].alive
    assert rest2.get('/supervisor/getState', status=500)['message'] == '[Errno 111] Connection refused'
    wait_for(lambda: rest1.get('/supvisors/instance_info/s2')['statename'] == 'SILENT', 20, what='s2 SILENT')
    # Supvisors shutdown of what remains of the fleet
    assert rest1.post('/supvisors/shutdown') is True
    wait_for(lambda: not fleet['s1'].alive, 20, what='s1 stopped')

    assert rest1.called | rest2.called >= GLOBAL_ENDPOINTS


def http(method: str, url: str) -> Tuple[int, Any]:
    """(status, decoded JSON body) of a real HTTP request."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def served(fleet) -> Iterator[str]:
    """The supvisorsflask command serving the REST front of s1 on a free loopback port, stopped at teardown."""
    port = find_free_ports(1)[0]
    env = dict(os.environ, SUPERVISOR_SERVER_URL=fleet['s1'].url)
    source_root = os.path.dirname(os.path.dirname(os.path.abspath(supvisors.__file__)))
    env['PYTHONPATH'] = source_root + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    process = subprocess.Popen([sys.executable, '-m', 'supvisors.tools.supvisorsflask', '-h', '127.0.0.1',
                                '-p', str(port)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        yield f'http://127.0.0.1:{port}'
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_served_command(fleet, served):
    """The command line serves the REST front over HTTP, the Supervisor URL coming from the environment."""
    wait_for(lambda: http('GET', f'{served}/supvisors/supvisors_state')[1]['fsm_statename'] == 'OPERATION', 20,
             interval=0.1, what='REST front serving OPERATION')
    assert http('GET', f'{served}/supvisors/api_version') == (200, '0.15')
    assert http('GET', f'{served}/supervisor/getIdentification') == (200, 's1')
    assert http('POST', f'{served}/supvisors/start_process/LOCAL/dummy?wait=false') == (
        400, {'message': 'BAD_NAME: application dummy unknown to Supvisors', 'code': 10})
    status, document = http('GET', f'{served}/swagger.json')
    assert status == 200 and document['info'] == {'title': 'Supvisors Flask interface', 'version': '0.15',
                                                  'description': document['info']['description']}
    with urllib.request.urlopen(f'{served}/', timeout=10) as response:
        assert b'<title>Supvisors Flask interface</title>' in response.read()
