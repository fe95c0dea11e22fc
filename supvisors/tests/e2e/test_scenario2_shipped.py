"""The Scenario 2 example as shipped, run as the README says, with the requirements that can be checked on it.

README: ``./tools/demo start --background --dir DIR``, then ``./tools/demo status --dir DIR`` and
``./tools/demo stop --dir DIR``.  ``./tools/demo`` first installs the project in ``.venv`` (creating it on the first
run), then runs ``.venv/bin/python -m supvisors.tools.demo <arguments>`` from the root of the repository with
``SUPVISORS_DEMO_COMMAND=./tools/demo``.  Creating a virtualenv is not something a test should do, so this test runs
that same entry point with the same arguments and environment, from the same folder, with the interpreter of the
tests.  The demo fleet is always stopped at teardown, by the pids (sessions) recorded in its state file.

The full per-requirement checks (including the ones that need a modified configuration: 5, 14, 24) are in
test_scenario2.py, on fleets built from the same shipped files.
"""

import filecmp
import os
import signal
import subprocess
import sys
import urllib.request
import xmlrpc.client
from collections import OrderedDict
from typing import Dict, Iterator, List

import psutil
import pytest

from supvisors.tests.e2e.test_scenario2 import app_state, hosts, proxy, spawn_order, srv_pids, wait_running
from supvisors.tools import breed as supvisors_breed
from supvisors.tools.localfleet import LocalFleet, LocalInstance, session_pids, stop_instances, wait_for
from supvisors.tools.usecases.scenario2 import (BIN_DIR, CONSOLE_CONF, ETC_DIR, HCI_DATA_BUS, RULES_FILE, SERVER_CONF,
                                                SRV_DATA_BUS, SRV_PROGRAMS, TEMPLATE_DIR, console_ids, hci_group,
                                                server_ids, srv_group)

pytestmark = pytest.mark.e2e

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ITEMS = 3  # the default of the demo
SRV = [srv_group(n) for n in range(1, ITEMS + 1)]
HCI = [hci_group(n) for n in range(1, ITEMS + 1)]
SERVERS = ['server_1', 'server_2', 'server_3']
CONSOLES = ['console_1', 'console_2']


def run_demo(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """ What ./tools/demo runs once its .venv is ready (see the module docstring). """
    env = dict(os.environ, SUPVISORS_DEMO_COMMAND='./tools/demo')
    return subprocess.run([sys.executable, '-m', 'supvisors.tools.demo', *args], cwd=REPOSITORY, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


class DemoFleet:
    """ The instances of the running demo, attached from its state file: what the helpers of test_scenario2 use. """

    def __init__(self, directory: str, output: str, instances: List[LocalInstance]):
        self.directory = directory
        self.output = output
        self.instances: 'OrderedDict[str, LocalInstance]' = OrderedDict((x.identifier, x) for x in instances)
        # kept after stop (which removes the state file), to check that nothing is left
        self.records = [x.to_dict() for x in instances]

    def __getitem__(self, identifier: str) -> LocalInstance:
        return self.instances[identifier]

    def __iter__(self) -> Iterator[LocalInstance]:
        return iter(self.instances.values())

    @property
    def identifiers(self) -> List[str]:
        return list(self.instances)

    @property
    def state_file(self) -> str:
        return os.path.join(self.directory, 'fleet.json')

    def leftovers(self) -> Dict[str, List[int]]:
        """ Processes still alive in the session of each supervisord started by the demo. """
        left = {record['identifier']: session_pids(record['pid']) for record in self.records if record['pid']}
        return {identifier: pids for identifier, pids in left.items() if pids}


@pytest.fixture(scope='module')
def demo(tmp_path_factory) -> Iterator[DemoFleet]:
    directory = str(tmp_path_factory.mktemp('shipped') / 'demo')
    result = run_demo('start', '--background', '--dir', directory)
    fleet = None
    try:
        assert result.returncode == 0, f'{result.stdout}\n{result.stderr}'
        fleet = DemoFleet(directory, result.stdout, LocalFleet.load_instances(os.path.join(directory, 'fleet.json')))
        wait_for(lambda: all(x.rpc(timeout=2).supvisors.get_supvisors_state()['fsm_statename'] == 'OPERATION'
                             for x in fleet), timeout=30, what='OPERATION everywhere')
        for application in SRV:
            wait_running(fleet, application, timeout=30)
        yield fleet
    finally:
        # whatever happened: stop what the state file knows, then sweep the sessions of what was recorded
        state = os.path.join(directory, 'fleet.json')
        instances = LocalFleet.load_instances(state) if os.path.exists(state) else []
        if fleet is not None:
            instances += [LocalInstance.from_dict(record) for record in fleet.records]
        stop_instances(instances)


# ---------------------------------------------------------------------------------------------------------------- the demo
def test_start_prints_the_dashboard_of_server_1(demo):
    lines = demo.output.splitlines()
    urls = dict(line.split(': ', 1) for line in lines if line.split(':', 1)[0] in SERVERS + CONSOLES)
    assert list(urls) == SERVERS + CONSOLES
    assert all(urls[x.identifier] == x.url for x in demo)
    dashboard = f"{urls['server_1']}/index.html"
    assert f'Dashboard: {dashboard}' in lines
    assert f'Files: {demo.directory}' in lines
    assert f'Running in the background; stop with: ./tools/demo stop --dir {demo.directory}' in lines
    with urllib.request.urlopen(dashboard, timeout=10) as response:
        assert response.status == 200


def test_the_demo_runs_the_shipped_files(demo):
    etc = os.path.join(demo.directory, 'etc')
    # copies of the shipped files
    for name in (SERVER_CONF, CONSOLE_CONF, RULES_FILE, os.path.join('common', 'services.ini')):
        assert filecmp.cmp(os.path.join(ETC_DIR, name), os.path.join(etc, name), shallow=False), name
    for name in os.listdir(BIN_DIR):
        assert filecmp.cmp(os.path.join(BIN_DIR, name), os.path.join(demo.directory, 'bin', name), shallow=False)
    # the output of supvisors_breed on the shipped templates, for 3 items
    reference = os.path.join(os.path.dirname(demo.directory), 'reference')
    supvisors_breed.main(['-t', TEMPLATE_DIR, '-d', reference, '-b', 'scen2_srv=3', 'scen2_hci=3'])
    for name in (os.path.join('server', 'group_server.ini'), os.path.join('console', 'group_hci.ini')):
        assert filecmp.cmp(os.path.join(reference, name), os.path.join(etc, name), shallow=False), name
    # every supervisord runs one of the 2 configuration files
    for instance in demo:
        conf = SERVER_CONF if instance.identifier in SERVERS else CONSOLE_CONF
        assert instance.conf_path == os.path.join(etc, conf)
        assert psutil.Process(instance.pid).cmdline()[-4:] == ['supervisor.supervisord', '-n', '-c',
                                                              os.path.join(etc, conf)]


# ---------------------------------------------------------------------------------------------------------------- requirements
def test_req01_x_instances_of_the_application(demo):
    managed = {x['application_name']: x['managed'] for x in proxy(demo).supvisors.get_all_applications_info()}
    assert managed == {**{x: True for x in SRV + HCI}, 'common_data_bus': False}


def test_req02_req10_srv_not_distributed_and_on_servers_only(demo):
    assert server_ids(demo) == SERVERS and console_ids(demo) == CONSOLES
    for application in SRV:
        instances = hosts(demo, application)
        assert len(instances) == 1 and instances <= set(SERVERS)


def test_req11_req03_srv_started_automatically_with_an_operational_status(demo):
    for application in SRV:
        info = app_state(demo, application)
        assert (info['statename'], info['major_failure'], info['minor_failure']) == ('RUNNING', False, False)
    for application in HCI:
        assert app_state(demo, application)['statename'] == 'STOPPED'


def test_req04_req17_staged_start_sequence(demo):
    placed = [hosts(demo, application).pop() for application in SRV]
    assert len(set(placed)) == len(placed)
    for host in placed:
        order = spawn_order(demo[host], SRV_PROGRAMS)
        phases = [['internal_data_bus'], ['internal_check_data_bus'],
                  ['config_manager', 'data_processing', 'sensor_acquisition', 'common_check_data_bus'],
                  ['common_bus_interface']]
        positions = [[order.index(name) for name in phase] for phase in phases]
        for before, after in zip(positions, positions[1:]):
            assert max(before) < min(after), order


def test_req12_req13_srv_once_at_most_and_load_balanced(demo):
    for application in SRV:
        with pytest.raises(xmlrpc.client.Fault) as exc:
            proxy(demo).supvisors.start_application('LESS_LOADED', application)
        assert exc.value.faultString == f'ALREADY_STARTED: {application}'
    assert sorted(hosts(demo, application).pop() for application in SRV) == SERVERS
    assert {x['identifier']: x['loading'] for x in proxy(demo).supvisors.get_all_instances_info()} == \
        {**{x: 42 for x in SERVERS}, **{x: 0 for x in CONSOLES}}


def test_req20_req21_req22_req23_req27_hci_on_user_request(demo):
    # the user of console_2 chooses the item 2: it starts there, and only there
    assert proxy(demo, 'console_2').supvisors.start_application('LOCAL', HCI[1]) is True
    assert hosts(demo, HCI[1]) == {'console_2'}
    wait_running(demo, HCI[1])
    for console in CONSOLES:
        with pytest.raises(xmlrpc.client.Fault):
            proxy(demo, console).supvisors.start_application('LOCAL', HCI[1])
    assert proxy(demo, 'console_2').supvisors.stop_application(HCI[1]) is True
    assert app_state(demo, HCI[1], 'console_2')['statename'] == 'STOPPED'
    assert hosts(demo, HCI[1], 'console_2') == set()


def test_req15_internal_data_bus_crash_restarts_the_whole_srv(demo):
    application = SRV[0]
    before = srv_pids(demo, application)
    os.kill(before[SRV_DATA_BUS], signal.SIGKILL)

    def restarted():
        after = srv_pids(demo, application)
        return len(after) == 5 and all(after.get(name) != pid for name, pid in before.items())
    wait_for(restarted, timeout=30, what='every process of the application restarted')
    wait_running(demo, application)


def test_req25_hci_internal_data_bus_crash_stops_the_hci(demo):
    application = HCI[2]
    assert proxy(demo, 'console_1').supvisors.start_application('LOCAL', application) is True
    wait_running(demo, application)
    pids = {x['name']: x['pid'] for x in demo['console_1'].rpc().supvisors.get_all_local_process_info()
            if x['group'] == application}
    os.kill(pids[HCI_DATA_BUS], signal.SIGKILL)
    wait_for(lambda: app_state(demo, application)['statename'] == 'STOPPED' and not hosts(demo, application),
             timeout=20, what='hci stopped')


def test_status(demo):
    result = run_demo('status', '--dir', demo.directory)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    for line, instance in zip(lines, demo):
        assert line.startswith(f'{instance.identifier}: {instance.url} pid={instance.pid} RUNNING, '
                               f'Supvisors OPERATION [common_data_bus:common_data_bus RUNNING'), line


def test_req16_srv_restarted_on_another_server_upon_server_failure(demo):
    application = SRV[1]
    victim = hosts(demo, application).pop()
    demo[victim].kill()  # the server goes down with its processes

    def moved():
        instances = hosts(demo, application, 'console_1')
        return instances and victim not in instances and \
            app_state(demo, application, 'console_1')['statename'] == 'RUNNING'
    wait_for(moved, timeout=30, what=f'{application} running on another server')
    wait_running(demo, application, identifier='console_1')
    assert hosts(demo, application, 'console_1') < set(SERVERS)


def test_req26_hci_not_restarted_upon_console_failure(demo):
    assert proxy(demo, 'console_2').supvisors.start_application('LOCAL', HCI[0]) is True
    wait_running(demo, HCI[0], identifier='console_2')
    demo['console_2'].kill()
    viewer = 'console_1'
    wait_for(lambda: demo[viewer].rpc().supvisors.get_instance_info('console_2')['statename'] == 'SILENT',
             timeout=10, what='console lost')
    wait_for(lambda: not demo[viewer].rpc().supvisors.get_supvisors_state()['starting_jobs'], timeout=5,
             what='no start in progress')
    assert hosts(demo, HCI[0], viewer) == set()
    assert app_state(demo, HCI[0], viewer)['statename'] == 'STOPPED'


# ---------------------------------------------------------------------------------------------------------------- stop
def test_stop_leaves_nothing_behind(demo):
    result = run_demo('stop', '--dir', demo.directory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f'demo fleet of {demo.directory} stopped'
    assert not os.path.exists(demo.state_file)
    assert demo.leftovers() == {}
    result = run_demo('status', '--dir', demo.directory)
    assert (result.returncode, result.stdout.strip()) == (1, f'no demo fleet found in {demo.directory}')
