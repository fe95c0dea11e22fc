"""Scenario 2 (servers + consoles) on a real local fleet: one test per requirement of the use case."""

import os
import re
import signal
import threading
import xmlrpc.client
from configparser import ConfigParser

import pytest

from supvisors.tools.localfleet import wait_for
from supvisors.tools.usecases.scenario2 import (HCI_DATA_BUS, SRV_DATA_BUS, SRV_PROGRAMS, console_ids, hci_group,
                                                scenario2_fleet, server_ids, srv_group)

pytestmark = pytest.mark.e2e

SRV = [srv_group(n) for n in (1, 2, 3)]
HCI = [hci_group(n) for n in (1, 2, 3)]


# ---------------------------------------------------------------------------------------------------------------- helpers
def make_fleet(tmp_path, items=3, edit=None, **kwargs):
    """ The shipped configuration, bred for the items; edit(fleet) may change the files of the fleet before start. """
    fleet = scenario2_fleet(str(tmp_path), items=items, **kwargs)
    if edit:
        edit(fleet)
    return fleet


def start(fleet, timeout=30):
    fleet.start()
    fleet.wait_rpc_ready(timeout=30)
    wait_for(lambda: all(x.rpc().supvisors.get_supvisors_state()['fsm_statename'] == 'OPERATION' for x in fleet),
             timeout=timeout, what='OPERATION everywhere')


@pytest.fixture
def fleet_builder(tmp_path):
    fleets = []

    def build(*args, **kwargs):
        fleet = make_fleet(tmp_path / f'fleet{len(fleets)}', *args, **kwargs)
        fleets.append(fleet)
        return fleet
    yield build
    for fleet in fleets:
        fleet.stop()


def proxy(fleet, identifier=None):
    return (fleet[identifier] if identifier else next(iter(fleet))).rpc()


def app_state(fleet, application, identifier=None):
    return proxy(fleet, identifier).supvisors.get_application_info(application)


def processes(fleet, application, identifier=None):
    return proxy(fleet, identifier).supvisors.get_process_info(f'{application}:*')


def hosts(fleet, application, identifier=None):
    """ Instances where the processes of the application run. """
    return {x for info in processes(fleet, application, identifier) for x in info['identifiers']}


def wait_running(fleet, application, timeout=20, identifier=None):
    def running():
        info = app_state(fleet, application, identifier)
        return info['statename'] == 'RUNNING' and not info['major_failure'] and \
            all(p['statename'] in ('RUNNING', 'EXITED') for p in processes(fleet, application, identifier))
    wait_for(running, timeout=timeout, what=f'{application} RUNNING')


def spawn_order(instance, programs):
    """ Processes spawned by an instance among programs, in spawn order (from the supervisord log, that gives the
    process names only: the instance must run a single application of these programs). """
    names = re.findall(r"spawned: '([^']+)'", instance.log())
    return [name for name in names if name in programs]


def srv_pids(fleet, application):
    host = hosts(fleet, application).pop()
    return {x['name']: x['pid'] for x in fleet[host].rpc().supvisors.get_all_local_process_info()
            if x['group'] == application and x['statename'] == 'RUNNING'}


class DuplicateWatcher(threading.Thread):
    """ Polls the synthetic view and records any moment where a process runs on two instances. """

    def __init__(self, fleet, applications):
        super().__init__(daemon=True)
        self.fleet = fleet
        self.applications = applications
        self.stop_event = threading.Event()
        self.duplicates = []

    def run(self):
        viewers = [x for x in self.fleet if x.alive]
        while not self.stop_event.is_set():
            for viewer in viewers:
                try:
                    for info in viewer.rpc(timeout=2).supvisors.get_all_process_info():
                        if info['application_name'] in self.applications and len(info['identifiers']) > 1:
                            self.duplicates.append((viewer.identifier, info['process_name'], info['identifiers']))
                    hosts_of = {}
                    for info in viewer.rpc(timeout=2).supvisors.get_all_process_info():
                        if info['application_name'] in self.applications and info['identifiers']:
                            hosts_of.setdefault(info['application_name'], set()).update(info['identifiers'])
                    for application, instances in hosts_of.items():
                        if len(instances) > 1:
                            self.duplicates.append((viewer.identifier, application, sorted(instances)))
                except (OSError, xmlrpc.client.Error):
                    pass
            self.stop_event.wait(0.05)

    def stop(self):
        self.stop_event.set()
        self.join(5)


# ---------------------------------------------------------------------------------------------------------------- nominal
@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    fleet = make_fleet(tmp_path_factory.mktemp('scenario2'))
    try:
        start(fleet)
        for application in SRV:
            wait_running(fleet, application)
        yield fleet
    finally:
        fleet.stop()


def test_req01_x_instances_of_the_application(fleet):
    names = {x['application_name']: x['managed'] for x in proxy(fleet).supvisors.get_all_applications_info()}
    assert all(names[x] for x in SRV + HCI)
    assert names['common_data_bus'] is False


def test_req02_req10_srv_not_distributed_and_on_servers_only(fleet):
    for application in SRV:
        instances = hosts(fleet, application)
        assert len(instances) == 1 and instances <= set(server_ids(fleet))


def test_req11_srv_started_automatically(fleet):
    for application in SRV:
        assert app_state(fleet, application)['statename'] == 'RUNNING'
    for application in HCI:
        assert app_state(fleet, application)['statename'] == 'STOPPED'


def test_req04_req17_staged_start_sequence(fleet):
    """ Internal data bus, then its check, then the services with the common data bus check (both rank 3 in the
    rules), then the common bus interface. """
    placed = [hosts(fleet, application).pop() for application in SRV]
    assert len(set(placed)) == len(placed)  # one scen2_srv per server: the log of a server tells about it only
    for host in placed:
        order = spawn_order(fleet[host], SRV_PROGRAMS)
        phases = [['internal_data_bus'],
                  ['internal_check_data_bus'],
                  ['config_manager', 'data_processing', 'sensor_acquisition', 'common_check_data_bus'],
                  ['common_bus_interface']]
        positions = [[order.index(name) for name in phase] for phase in phases]
        for before, after in zip(positions, positions[1:]):
            assert max(before) < min(after), order


def test_req12_srv_started_once_at_most(fleet):
    for application in SRV:
        assert all(len(x['identifiers']) <= 1 for x in processes(fleet, application))
        with pytest.raises(xmlrpc.client.Fault) as exc:
            proxy(fleet).supvisors.start_application('LESS_LOADED', application)
        assert exc.value.faultString == f'ALREADY_STARTED: {application}'
    assert proxy(fleet).supvisors.get_conflicts() == []


def test_req13_load_balancing_over_the_servers(fleet):
    placed = [hosts(fleet, application).pop() for application in SRV]
    assert sorted(placed) == sorted(server_ids(fleet))  # LESS_LOADED: one per server
    assert all(x['loading'] == 42 for x in proxy(fleet).supvisors.get_all_instances_info()
               if x['identifier'] in server_ids(fleet))


def test_req03_operational_status(fleet):
    for application in SRV:
        info = app_state(fleet, application)
        assert (info['statename'], info['major_failure'], info['minor_failure']) == ('RUNNING', False, False)


def test_req20_req21_req22_req23_req27_hci_on_user_request(fleet):
    consoles = console_ids(fleet)
    # the user of the second console chooses the item 1: it starts there, and only there
    assert proxy(fleet, consoles[1]).supvisors.start_application('LOCAL', HCI[0]) is True
    assert hosts(fleet, HCI[0]) == {consoles[1]}
    wait_running(fleet, HCI[0])
    # nobody can start the same item again, from any console
    for console in consoles:
        with pytest.raises(xmlrpc.client.Fault) as exc:
            proxy(fleet, console).supvisors.start_application('LOCAL', HCI[0])
        assert exc.value.faultCode == 60
    # another item from the first console
    assert proxy(fleet, consoles[0]).supvisors.start_application('LOCAL', HCI[1]) is True
    assert hosts(fleet, HCI[1]) == {consoles[0]}
    # stop upon user request
    assert proxy(fleet, consoles[1]).supvisors.stop_application(HCI[0]) is True
    # the instance that answered has seen the application stopped
    assert app_state(fleet, HCI[0], consoles[1])['statename'] == 'STOPPED'
    assert hosts(fleet, HCI[0], consoles[1]) == set()
    assert proxy(fleet, consoles[0]).supvisors.stop_application(HCI[1]) is True


def test_req15_internal_data_bus_crash_restarts_the_whole_srv(fleet):
    application = SRV[0]
    before = srv_pids(fleet, application)
    os.kill(before[SRV_DATA_BUS], signal.SIGKILL)

    def restarted():
        after = srv_pids(fleet, application)
        return len(after) == 5 and all(after.get(name) != pid for name, pid in before.items())
    wait_for(restarted, timeout=30, what='every process of the application restarted')
    wait_running(fleet, application)


def test_req25_hci_internal_data_bus_crash_stops_the_hci(fleet):
    console = console_ids(fleet)[0]
    application = HCI[2]
    assert proxy(fleet, console).supvisors.start_application('LOCAL', application) is True
    wait_running(fleet, application)
    pids = {x['name']: x['pid'] for x in fleet[console].rpc().supvisors.get_all_local_process_info()
            if x['group'] == application}
    os.kill(pids[HCI_DATA_BUS], signal.SIGKILL)
    wait_for(lambda: app_state(fleet, application)['statename'] == 'STOPPED' and not hosts(fleet, application),
             timeout=20, what='hci stopped')
    assert fleet[console].rpc().supervisor.getProcessInfo(
        f'{application}:{HCI_DATA_BUS}')['statename'] == 'EXITED'


# ---------------------------------------------------------------------------------------------------------------- resources
def test_req05_number_of_applications_limited_by_resources(fleet_builder):
    """ 2 scen2_srv fit on a server (84 %), not 3 (126 %): with 3 servers, 6 of 7 items run. """
    fleet = fleet_builder(items=7)
    start(fleet)
    srv = [srv_group(n) for n in range(1, 8)]

    def settled():
        states = [app_state(fleet, x) for x in srv]
        return sum(x['statename'] == 'RUNNING' for x in states) == 6 and \
            not proxy(fleet).supvisors.get_supvisors_state()['starting_jobs']
    wait_for(settled, timeout=40, what='6 scen2_srv running')
    refused = [x for x in srv if app_state(fleet, x)['statename'] != 'RUNNING']
    assert len(refused) == 1
    reasons = {x['statename'] for x in processes(fleet, refused[0])}
    assert reasons <= {'FATAL', 'STOPPED'}
    assert all(x['loading'] == 84 for x in proxy(fleet).supvisors.get_all_instances_info()
               if x['identifier'] in server_ids(fleet))
    # consoles: a scen2_hci needs 26 %: 3 fit on a console, the 4th is refused
    console = console_ids(fleet)[0]
    hci = [hci_group(n) for n in range(1, 5)]
    for application in hci[:3]:
        assert proxy(fleet, console).supvisors.start_application('LOCAL', application) is True
    assert proxy(fleet, console).supvisors.start_application('LOCAL', hci[3]) is False
    assert hosts(fleet, hci[3]) == set()


# ---------------------------------------------------------------------------------------------------------------- failures
def _break_program(group, name):
    """ In the bred configuration, give the group its own copy of the program, with a command that cannot be
    spawned (the other groups keep the shipped definition). """
    def edit(fleet):
        for path in fleet.program_files():
            config = ConfigParser(interpolation=None)
            config.read(path)
            if config.has_section(f'group:{group}'):
                break
        else:
            raise AssertionError(f'no group {group} in {fleet.program_files()}')
        own = f'{name}_{group}'
        config.add_section(f'program:{own}')
        for key, value in config.items(f'program:{name}'):
            config.set(f'program:{own}', key, value)
        config.set(f'program:{own}', 'process_name', name)
        config.set(f'program:{own}', 'command', '/nonexistent/command')
        programs = config.get(f'group:{group}', 'programs').split(',')
        config.set(f'group:{group}', 'programs', ','.join(own if x == name else x for x in programs))
        with open(path, 'w') as stream:
            config.write(stream)
    return edit


def test_req14_srv_stopped_upon_starting_failure(fleet_builder):
    broken = 'config_manager'
    fleet = fleet_builder(edit=_break_program(SRV[2], broken))
    start(fleet)
    wait_running(fleet, SRV[0])
    wait_running(fleet, SRV[1])

    def stopped():
        states = {x['process_name']: x['statename'] for x in processes(fleet, SRV[2])}
        return states[broken] == 'FATAL' and all(state in ('STOPPED', 'EXITED', 'FATAL')
                                                 for state in states.values()) and not hosts(fleet, SRV[2])
    wait_for(stopped, timeout=30, what='scen2_srv_03 stopped after its starting failure')


def test_req24_hci_starting_sequence_continues_upon_failure(fleet_builder):
    broken = 'chart_view'
    fleet = fleet_builder(edit=_break_program(HCI[0], broken))
    start(fleet)
    console = console_ids(fleet)[0]
    proxy(fleet, console).supvisors.start_application('LOCAL', HCI[0])
    # the instance that answered has seen the whole sequence
    states = {x['process_name']: x['statename'] for x in processes(fleet, HCI[0], console)}
    assert states[broken] == 'FATAL'
    assert all(state in ('RUNNING', 'EXITED') for name, state in states.items() if name != broken)
    info = app_state(fleet, HCI[0], console)
    assert info['statename'] == 'RUNNING' and info['minor_failure'] is True


def test_req16_srv_restarted_on_another_server_upon_server_failure(fleet_builder):
    fleet = fleet_builder()
    start(fleet)
    for application in SRV:
        wait_running(fleet, application)
    victim = hosts(fleet, SRV[1]).pop()
    watcher = DuplicateWatcher(fleet, SRV)
    watcher.start()
    try:
        fleet[victim].kill()  # the server goes down with its processes
        viewer = console_ids(fleet)[0]

        def moved():
            instances = hosts(fleet, SRV[1], viewer)
            return instances and victim not in instances and \
                app_state(fleet, SRV[1], viewer)['statename'] == 'RUNNING'
        wait_for(moved, timeout=30, what='scen2_srv_02 running on another server')
        wait_running(fleet, SRV[1], identifier=viewer)
        # the server comes back: nothing runs twice
        fleet.restart_instance(victim)
        wait_for(lambda: fleet[viewer].rpc().supvisors.get_instance_info(victim)['statename'] == 'RUNNING',
                 timeout=30, what='server back')
        wait_for(lambda: all(x.rpc().supvisors.get_supvisors_state()['fsm_statename'] == 'OPERATION'
                             for x in fleet), timeout=30, what='OPERATION again')
    finally:
        watcher.stop()
    assert watcher.duplicates == []
    assert hosts(fleet, SRV[1], viewer) <= set(server_ids(fleet)) - {victim} or \
        len(hosts(fleet, SRV[1], viewer)) == 1


def test_req26_hci_not_restarted_upon_console_failure(fleet_builder):
    fleet = fleet_builder()
    start(fleet)
    consoles = console_ids(fleet)
    proxy(fleet, consoles[1]).supvisors.start_application('LOCAL', HCI[0])
    wait_running(fleet, HCI[0])
    fleet[consoles[1]].kill()
    viewer = server_ids(fleet)[0]
    wait_for(lambda: fleet[viewer].rpc().supvisors.get_instance_info(consoles[1])['statename'] == 'SILENT',
             timeout=5, what='console lost')
    wait_for(lambda: not fleet[viewer].rpc().supvisors.get_supvisors_state()['starting_jobs'], timeout=5,
             what='no start in progress')
    assert hosts(fleet, HCI[0], viewer) == set()
    assert app_state(fleet, HCI[0], viewer)['statename'] == 'STOPPED'
