"""Every strategy value, proven on real supervisord fleets on loopback through the XML-RPC API.

* starting strategies (``CONFIG``, ``LESS_LOADED``, ``MOST_LOADED``, ``LOCAL``, ``LESS_LOADED_NODE``,
  ``MOST_LOADED_NODE``), given by name and by value, with loads declared in a rules file and two instances sharing
  a node; the admission limit of 100 % per node; the strategy fault texts;
* distribution rules (``ALL_INSTANCES``, ``SINGLE_INSTANCE``, ``SINGLE_NODE``);
* starting failure strategies (``ABORT``, ``STOP``, ``CONTINUE``);
* running failure strategies (``CONTINUE``, ``RESTART_PROCESS``, ``STOP_APPLICATION``, ``RESTART_APPLICATION``,
  ``SHUTDOWN``, ``RESTART``);
* conciliation strategies (``USER``, ``SENICIDE``, ``INFANTICIDE``, ``STOP``, ``RESTART``, ``RUNNING_FAILURE``),
  on demand and automatic;
* ``restart_sequence``, ``start_any_process``, ``restart_process`` and ``start_args`` with extra arguments.

Each class owns one fleet (built once for its tests, always killed at the end); every test leaves the fleet as it
found it. Nothing waits for a fixed delay: every wait polls a state with a deadline.

Several tests pin defects they found (named in their docstrings or comments): a local start answered as a
failure, uptimes of local copies, the conciliation_strategy option ignored, reactions inside Supervisor's own
state changes, stale extra arguments after a move, and events missed during a handshake.
"""

import os
import re
import signal
import time
import xmlrpc.client
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set

import psutil
import pytest

from supvisors.tools.localfleet import LocalFleet, wait_for

pytestmark = pytest.mark.e2e

STRATEGY_NAMES = ['CONFIG', 'LESS_LOADED', 'MOST_LOADED', 'LOCAL', 'LESS_LOADED_NODE', 'MOST_LOADED_NODE']
CONCILIATION_NAMES = ['SENICIDE', 'INFANTICIDE', 'USER', 'STOP', 'RESTART', 'RUNNING_FAILURE']
RUNNING_STATES = ('STARTING', 'RUNNING', 'BACKOFF')
# short ticks where uptimes or "nothing happened" barriers are needed; loss detection kept above 5 s
FAST_TICKS = {'tick_period': '1', 'inactivity_ticks': '5'}


# ----------------------------------------------------------------------------------------------------------- helpers
def rules_xml(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<root>\n{body}\n</root>\n'


def eventually(predicate: Callable[[], Any], timeout: float, what: str = '') -> bool:
    """ Like wait_for, but answers False on expiry, for an assertion that names the expected behaviour. """
    try:
        wait_for(predicate, timeout, what=what)
        return True
    except TimeoutError:
        return False


def fault(method: Callable, *args: Any) -> xmlrpc.client.Fault:
    """ The XML-RPC fault raised by the call (fails the test if it succeeds). """
    with pytest.raises(xmlrpc.client.Fault) as exc:
        method(*args)
    return exc.value


def supvisors(fleet: LocalFleet, identifier: str, timeout: float = 30.0) -> Any:
    """ The supvisors namespace of an instance; deferred answers may take a few seconds. """
    return fleet[identifier].rpc(timeout=timeout).supvisors


def fsm_state(fleet: LocalFleet, identifier: str) -> str:
    return supvisors(fleet, identifier, 3).get_supvisors_state()['fsm_statename']


def wait_fsm(fleet: LocalFleet, state: str) -> None:
    """ Every instance reports the Supvisors state (slaves follow the Master with some lag). """
    wait_for(lambda: all(fsm_state(fleet, x) == state for x in fleet.identifiers), 20,
             what=f'every instance in {state}')


def share_node(fleet: LocalFleet, moved: str, target: str) -> None:
    """ Before start: put instance `moved` on the address (hence the node) of instance `target`. """
    old, new = fleet[moved].host, fleet[target].host
    for instance in fleet:
        with open(instance.conf_path) as stream:
            text = stream.read()
        text = text.replace(f'>{old}:', f'>{new}:')
        if instance.identifier == moved:
            text = text.replace(f'port={old}:', f'port={new}:').replace(f'http://{old}:', f'http://{new}:')
        with open(instance.conf_path, 'w') as stream:
            stream.write(text)
    fleet[moved].host = new


def wait_synchronised(fleet: LocalFleet, identifiers: Optional[Sequence[str]] = None, timeout: float = 30.0) -> None:
    """ OPERATION everywhere, and every instance sees every other one RUNNING (no handshake left anywhere). """
    identifiers = list(identifiers or fleet.identifiers)

    def synchronised() -> bool:
        for identifier in identifiers:
            proxy = supvisors(fleet, identifier, 3)
            if proxy.get_supvisors_state()['fsm_statename'] != 'OPERATION':
                return False
            if any(info['statename'] != 'RUNNING' for info in proxy.get_all_instances_info()
                   if info['identifier'] in identifiers):
                return False
        return True
    wait_for(synchronised, timeout, interval=0.1, what=f'{identifiers} synchronised in OPERATION')


def launch(fleet: LocalFleet, timeout: float = 30.0) -> None:
    fleet.start()
    fleet.wait_rpc_ready(timeout=timeout)
    wait_synchronised(fleet, timeout=timeout)


def process_info(fleet: LocalFleet, viewer: str, namespec: str) -> Dict[str, Any]:
    return supvisors(fleet, viewer, 5).get_process_info(namespec)[0]


def hosts(fleet: LocalFleet, viewer: str, namespec: str) -> Set[str]:
    """ Instances where the process runs, as seen by the viewer. """
    return set(process_info(fleet, viewer, namespec)['identifiers'])


def placement(fleet: LocalFleet, viewer: str, application: str) -> Dict[str, Set[str]]:
    """ process name -> instances where it runs, for every process of the application. """
    return {info['process_name']: set(info['identifiers'])
            for info in supvisors(fleet, viewer, 5).get_process_info(f'{application}:*')}


def wait_process(fleet: LocalFleet, namespec: str, statename: str, on: Optional[Set[str]] = None,
                 viewers: Optional[Iterable[str]] = None, timeout: float = 20.0) -> None:
    """ Every viewer (all instances by default) sees the process in statename (and running exactly on `on`). """
    viewers = list(viewers or fleet.identifiers)

    def reached() -> bool:
        for viewer in viewers:
            info = process_info(fleet, viewer, namespec)
            if info['statename'] != statename or (on is not None and set(info['identifiers']) != on):
                return False
        return True
    wait_for(reached, timeout, interval=0.05, what=f'{namespec} {statename} on {on} as seen by {viewers}')


def wait_views(fleet: LocalFleet, namespec: str, check: Callable[[Dict[str, Any]], bool], what: str,
               viewers: Optional[Iterable[str]] = None, timeout: float = 10.0) -> None:
    """ Every viewer's ProcessInfo of the process passes the check; on expiry, the last views are reported. """
    viewers = list(viewers or fleet.identifiers)
    last: Dict[str, Any] = {}

    def passed() -> bool:
        last.update({viewer: process_info(fleet, viewer, namespec) for viewer in viewers})
        return all(check(info) for info in last.values())
    if not eventually(passed, timeout):
        pytest.fail(f'{namespec}: {what} not seen by every instance within {timeout}s; last views: {last}')


def local_info(fleet: LocalFleet, identifier: str, namespec: str) -> Dict[str, Any]:
    return supvisors(fleet, identifier, 5).get_local_process_info(namespec)


def wait_local(fleet: LocalFleet, identifier: str, namespec: str, predicate: Callable[[Dict[str, Any]], bool],
               what: str, timeout: float = 20.0) -> Dict[str, Any]:
    """ The LocalProcessInfo of the process on the instance, once it passes the predicate. """
    def passed() -> Optional[Dict[str, Any]]:
        info = local_info(fleet, identifier, namespec)
        return info if predicate(info) else None
    return wait_for(passed, timeout, what=f'{namespec} on {identifier}: {what}')


def crash(fleet: LocalFleet, identifier: str, namespec: str) -> int:
    """ SIGKILL the process on the instance (a crash that Supervisor did not ask for); return its pid. """
    info = local_info(fleet, identifier, namespec)
    assert info['statename'] == 'RUNNING' and info['pid'] > 0, info
    os.kill(info['pid'], signal.SIGKILL)
    return info['pid']


def assert_command_line(pid: int, expected: List[str]) -> None:
    """ The command line of the process ends with the expected words (polled: the child may still be between fork
    and exec when Supervisor reports RUNNING with startsecs=0). """
    last: List[List[str]] = [[]]

    def matches() -> bool:
        last[0] = psutil.Process(pid).cmdline()
        return last[0][-len(expected):] == expected
    assert eventually(matches, 5), f'command line of {pid}: {last[0]} does not end with {expected}'


def ticks_of(fleet: LocalFleet, viewer: str, identifier: str) -> int:
    return supvisors(fleet, viewer, 3).get_instance_info(identifier)['sequence_counter']


def wait_ticks(fleet: LocalFleet, viewer: str, identifiers: Iterable[str], count: int = 2,
               timeout: float = 20.0) -> None:
    """ Barrier: the viewer has received `count` new ticks from each instance (periodic work has run since). """
    targets = {x: ticks_of(fleet, viewer, x) + count for x in identifiers}
    wait_for(lambda: all(ticks_of(fleet, viewer, x) >= n for x, n in targets.items()), timeout,
             what=f'{count} new ticks of {sorted(targets)} seen by {viewer}')


def stop_everywhere(fleet: LocalFleet, namespec: str, viewer: str) -> None:
    """ Stop a process wherever the viewer sees it running, through an instance where it does not run. """
    running_on = hosts(fleet, viewer, namespec)
    if not running_on:
        return
    callers = [x for x in fleet.identifiers if x not in running_on and fleet[x].alive]
    try:
        assert supvisors(fleet, (callers or [viewer])[0]).stop_process(namespec, False) is True
    except xmlrpc.client.Fault as exc:
        # only when it runs everywhere: a stop that completes at once on the instance receiving the request may be
        # answered NOT_RUNNING (same defect as test_local_start_running_at_once_answers_true); the wait below decides
        assert not callers and exc.faultCode == 70, exc
    wait_process(fleet, namespec, 'STOPPED', set(), viewers=[x for x in fleet.identifiers if fleet[x].alive])


def stop_application(fleet: LocalFleet, application: str, caller: str) -> None:
    """ Stop an application if it has running processes (cleanup). """
    proxy = supvisors(fleet, caller)
    if any(info['statename'] in RUNNING_STATES for info in proxy.get_process_info(f'{application}:*')):
        assert proxy.stop_application(application, False) is True
    wait_for(lambda: all(all(info['statename'] not in RUNNING_STATES + ('STOPPING',)
                             for info in supvisors(fleet, x, 5).get_process_info(f'{application}:*'))
                         for x in fleet.identifiers), 20, what=f'{application} stopped everywhere')


def log_count(fleet: LocalFleet, identifier: str, pattern: str) -> int:
    with open(fleet[identifier].logfile, errors='replace') as stream:
        return len(re.findall(pattern, stream.read()))


@pytest.fixture(autouse=True)
def _diagnostics_on_failure(request: pytest.FixtureRequest):
    """ Print the logs of the fleets used by a failed test (class fleets outlive the test). """
    yield
    if any(getattr(getattr(request.node, f'rep_{when}', None), 'failed', False) for when in ('setup', 'call')):
        for value in request.node.funcargs.values():
            if isinstance(value, LocalFleet):
                print(f'\n######## diagnostics of fleet {value.basedir}\n{value.diagnostics(80)}')


def class_fleet(tmp_path_factory: pytest.TempPathFactory, name: str, identifiers: Sequence[str],
                prepare: Optional[Callable[[LocalFleet], None]] = None, **kwargs: Any):
    """ Build, launch and yield a fleet; always killed at the end (logs printed if the launch failed). """
    fleet = LocalFleet(list(identifiers), str(tmp_path_factory.mktemp(name)),
                       options={'core_identifiers': ','.join(identifiers), **kwargs.pop('options', {})}, **kwargs)
    if prepare:
        prepare(fleet)
    try:
        try:
            launch(fleet)
        except Exception:
            print(f'\n######## diagnostics of fleet {fleet.basedir}\n{fleet.diagnostics(80)}')
            raise
        yield fleet
    finally:
        # nothing to learn from a graceful stop here: kill every session at once
        for instance in fleet:
            instance.kill()


# ============================================================================================ starting strategies
# Five instances on four nodes: s1 and s2 share node 127.0.10.1; s3, s4 and s5 are alone on theirs.
# Running loads (expected_loading of load_N on sN):   s1=25  s2=5  s3=28  s4=10  s5=20
# Node loads:                                         N1(s1+s2)=30  N3=28  N4=10  N5=20
# With the probe candidates in the order s5,s4,s3,s2,s1, every strategy has its own answer:
#   CONFIG -> s5 (first candidate)            LESS_LOADED -> s2 (5)        MOST_LOADED -> s3 (28)
#   LESS_LOADED_NODE -> s4 (node 10)          MOST_LOADED_NODE -> s1 (node 30, then the most loaded of it)
#   LOCAL -> the instance receiving the call
PLACEMENT_IDS = ['s1', 's2', 's3', 's4', 's5']
LOADS = {'s1': 25, 's2': 5, 's3': 28, 's4': 10, 's5': 20}
NODE_OF = {'s1': '127.0.10.1', 's2': '127.0.10.1', 's3': '127.0.10.3', 's4': '127.0.10.4', 's5': '127.0.10.5'}

PLACEMENT_PROGRAMS = """
[program:load]
command=sleep 1000
process_name=load_%(process_num)d
numprocs=5
numprocs_start=1
autostart=false
startsecs=0

[program:probe]
command=sleep 1000
autostart=false
startsecs=0

[program:probe_local]
command=sleep 1000
autostart=false
startsecs=1

[program:big]
command=sleep 1000
autostart=false
startsecs=0

[program:hog]
command=sleep 1000
autostart=false
startsecs=0

[group:place]
programs=probe,probe_local,big,hog

[program:a]
command=sleep 1000
process_name=a_%(process_num)02d
numprocs=3
numprocs_start=1
autostart=false
startsecs=0

[group:spread]
programs=a

[program:m]
command=sleep 1000
process_name=m_%(process_num)02d
numprocs=3
numprocs_start=1
autostart=false
startsecs=0

[group:mono]
programs=m

[program:d]
command=sleep 1000
process_name=d_%(process_num)02d
numprocs=3
numprocs_start=1
autostart=false
startsecs=0

[group:duo]
programs=d

[program:ok]
command=sleep 1000
autostart=false
startsecs=0

[program:fail_exit]
command=sh -c "exit 1"
autostart=false
startsecs=5
startretries=0

[program:fail_missing]
command=/nonexistent/supvisors/e2e/command
autostart=false
startsecs=1
startretries=0

[program:after]
command=sleep 1000
autostart=false
startsecs=0

[group:abort_app]
programs=ok,fail_exit,after

[group:stop_app]
programs=ok,fail_missing,after

[group:cont_app]
programs=ok,fail_exit,after

[program:xargs]
command=sleep 1000
autostart=false
startsecs=0

[group:extra]
programs=xargs

[program:auto]
command=sleep 1000
autostart=false
startsecs=0
"""

PLACEMENT_RULES = rules_xml("""
    <application name="load">
        <programs>
            <program name="load_1"><identifiers>s1</identifiers><start_sequence>1</start_sequence>
                <expected_loading>25</expected_loading></program>
            <program name="load_2"><identifiers>s2</identifiers><start_sequence>1</start_sequence>
                <expected_loading>5</expected_loading></program>
            <program name="load_3"><identifiers>s3</identifiers><start_sequence>1</start_sequence>
                <expected_loading>28</expected_loading></program>
            <program name="load_4"><identifiers>s4</identifiers><start_sequence>1</start_sequence>
                <expected_loading>10</expected_loading></program>
            <program name="load_5"><identifiers>s5</identifiers><start_sequence>1</start_sequence>
                <expected_loading>20</expected_loading></program>
        </programs>
    </application>
    <application name="place">
        <programs>
            <program pattern="^probe"><identifiers>s5,s4,s3,s2,s1</identifiers>
                <expected_loading>2</expected_loading></program>
            <program name="big"><identifiers>s5,s4,s3,s2,s1</identifiers>
                <expected_loading>90</expected_loading></program>
            <program name="hog"><expected_loading>100</expected_loading></program>
        </programs>
    </application>
    <model name="part">
        <start_sequence>1</start_sequence>
        <expected_loading>10</expected_loading>
    </model>
    <application name="spread">
        <distribution>ALL_INSTANCES</distribution>
        <programs><program pattern="^a_"><reference>part</reference></program></programs>
    </application>
    <application name="mono">
        <distribution>SINGLE_INSTANCE</distribution>
        <programs><program pattern="^m_"><reference>part</reference></program></programs>
    </application>
    <application name="duo">
        <distribution>SINGLE_NODE</distribution>
        <programs>
            <program pattern="^d_"><start_sequence>1</start_sequence><expected_loading>15</expected_loading></program>
        </programs>
    </application>
    <model name="first"><identifiers>s5</identifiers><start_sequence>1</start_sequence></model>
    <model name="failing">
        <identifiers>s5</identifiers><start_sequence>2</start_sequence><required>true</required>
    </model>
    <model name="last"><identifiers>s5</identifiers><start_sequence>3</start_sequence></model>
    <application name="abort_app">
        <starting_failure_strategy>ABORT</starting_failure_strategy>
        <programs>
            <program name="ok"><reference>first</reference></program>
            <program pattern="^fail_"><reference>failing</reference></program>
            <program name="after"><reference>last</reference></program>
        </programs>
    </application>
    <application name="stop_app">
        <starting_failure_strategy>STOP</starting_failure_strategy>
        <programs>
            <program name="ok"><reference>first</reference></program>
            <program pattern="^fail_"><reference>failing</reference></program>
            <program name="after"><reference>last</reference></program>
        </programs>
    </application>
    <application name="cont_app">
        <starting_failure_strategy>CONTINUE</starting_failure_strategy>
        <programs>
            <program name="ok"><reference>first</reference></program>
            <program pattern="^fail_"><reference>failing</reference></program>
            <program name="after"><reference>last</reference></program>
        </programs>
    </application>
    <application name="extra">
        <programs><program name="xargs"><identifiers>s5,s4</identifiers></program></programs>
    </application>
    <application name="auto">
        <start_sequence>1</start_sequence>
        <programs>
            <program name="auto"><identifiers>s5</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>
""")


def loads_seen_by(fleet: LocalFleet, viewer: str) -> Dict[str, int]:
    return {info['identifier']: info['loading'] for info in supvisors(fleet, viewer, 5).get_all_instances_info()}


class TestStartingStrategies:
    """ Placement by every starting strategy, admission, distribution rules and starting failure strategies. """

    @pytest.fixture(scope='class')
    @classmethod
    def fleet(cls, tmp_path_factory):
        yield from class_fleet(tmp_path_factory, 'placement', PLACEMENT_IDS, prepare=cls._on_shared_node,
                               programs=PLACEMENT_PROGRAMS, rules=PLACEMENT_RULES, distinct_hosts=True)

    @staticmethod
    def _on_shared_node(fleet: LocalFleet) -> None:
        share_node(fleet, 's2', 's1')

    @pytest.fixture(scope='class', autouse=True)
    @classmethod
    def loaded(cls, fleet):
        """ Start the loads once the whole fleet is synchronised, so that every instance sees every start. """
        assert supvisors(fleet, 's1').start_application('CONFIG', 'load') is True
        wait_for(lambda: all(loads_seen_by(fleet, x) == LOADS for x in PLACEMENT_IDS), 20,
                 what=f'every instance sees the loads {LOADS}')

    @staticmethod
    def start_and_check(fleet: LocalFleet, strategy: Any, caller: str, expected: str,
                        namespec: str = 'place:probe', wait: bool = True) -> None:
        """ Start through caller with the strategy and check where the process runs; then stop it. """
        assert loads_seen_by(fleet, caller) == LOADS
        assert supvisors(fleet, caller).start_process(strategy, namespec, '', wait) is True
        if not wait:
            wait_process(fleet, namespec, 'RUNNING', viewers=[caller])
        assert hosts(fleet, caller, namespec) == {expected}
        assert process_info(fleet, caller, namespec)['statename'] == 'RUNNING'
        assert local_info(fleet, expected, namespec)['statename'] == 'RUNNING'
        stop_everywhere(fleet, namespec, caller)

    def test_fleet_layout_nodes_and_loads(self, fleet):
        for viewer in PLACEMENT_IDS:
            infos = supvisors(fleet, viewer).get_all_instances_info()
            assert {info['identifier']: info['node_name'] for info in infos} == NODE_OF
            assert {info['identifier']: info['loading'] for info in infos} == LOADS
        rules = supvisors(fleet, 's3').get_process_rules('place:probe')[0]
        assert rules['identifiers'] == ['s5', 's4', 's3', 's2', 's1'] and rules['expected_loading'] == 2

    def test_first_deployment_is_seen_by_every_instance(self, fleet):
        # auto (start_sequence 1) was started by the Master as soon as it saw every instance RUNNING
        wait_views(fleet, 'auto', lambda x: x['statename'] == 'RUNNING' and x['identifiers'] == ['s5'],
                   'auto RUNNING on s5', timeout=5)

    def test_config_picks_the_first_program_identifier(self, fleet):
        self.start_and_check(fleet, 'CONFIG', 's1', 's5')
        self.start_and_check(fleet, 0, 's2', 's5', wait=False)

    def test_less_loaded_picks_the_least_loaded_instance(self, fleet):
        self.start_and_check(fleet, 'LESS_LOADED', 's3', 's2')
        self.start_and_check(fleet, 1, 's5', 's2', wait=False)

    def test_most_loaded_picks_the_most_loaded_instance(self, fleet):
        self.start_and_check(fleet, 'MOST_LOADED', 's1', 's3')
        self.start_and_check(fleet, 2, 's4', 's3', wait=False)

    def test_less_loaded_node_picks_an_instance_of_the_least_loaded_node(self, fleet):
        # s2 is the least loaded instance, but its node (s1+s2=30) is the most loaded one
        self.start_and_check(fleet, 'LESS_LOADED_NODE', 's1', 's4')
        self.start_and_check(fleet, 4, 's3', 's4', wait=False)

    def test_most_loaded_node_picks_the_most_loaded_instance_of_the_most_loaded_node(self, fleet):
        # s3 is the most loaded instance, but node 127.0.10.1 (s1+s2=30) is the most loaded node
        self.start_and_check(fleet, 'MOST_LOADED_NODE', 's3', 's1')
        self.start_and_check(fleet, 5, 's2', 's1', wait=False)

    def test_local_picks_the_instance_receiving_the_call(self, fleet):
        # probe_local has startsecs=1: its start is still in progress when the call returns to wait
        self.start_and_check(fleet, 'LOCAL', 's4', 's4', 'place:probe_local')
        self.start_and_check(fleet, 3, 's1', 's1', 'place:probe_local', wait=False)

    def test_local_start_running_at_once_answers_true(self, fleet):
        try:
            assert supvisors(fleet, 's4').start_process('LOCAL', 'place:probe') is True
        finally:
            wait_process(fleet, 'place:probe', 'RUNNING', {'s4'})
            stop_everywhere(fleet, 'place:probe', 's1')

    def test_strategy_parameter_faults(self, fleet):
        proxy = supvisors(fleet, 's3')
        names = str(STRATEGY_NAMES)
        cases = [('DUMMY', f"invalid <enum 'StartingStrategies'>: DUMMY (string expected in {names})"),
                 ('config', f"invalid <enum 'StartingStrategies'>: config (string expected in {names})"),
                 (6, 'incorrect strategy: 6 (integer expected in [0, 1, 2, 3, 4, 5]'),
                 (-1, 'incorrect strategy: -1 (integer expected in [0, 1, 2, 3, 4, 5]'),
                 (True, "invalid <enum 'StartingStrategies'>: True (string or integer expected)"),
                 (1.5, "invalid <enum 'StartingStrategies'>: 1.5 (string or integer expected)"),
                 ([], "invalid <enum 'StartingStrategies'>: [] (string or integer expected)")]
        calls = [(proxy.start_process, ('place:probe',)), (proxy.start_application, ('spread',)),
                 (proxy.restart_process, ('place:probe',)), (proxy.restart_application, ('spread',)),
                 (proxy.start_any_process, ('probe',))]
        for value, text in cases:
            for method, args in calls:
                error = fault(method, value, *args)
                assert (error.faultCode, error.faultString) == (2, f'INCORRECT_PARAMETERS: {text}'), (method, value)
        # nothing was started by any of these calls
        assert all(info['statename'] == 'STOPPED' for info in proxy.get_process_info('spread:*'))
        assert process_info(fleet, 's3', 'place:probe')['statename'] == 'STOPPED'

    def test_admission_no_resource_available(self, fleet):
        # 100 % fits on no node: forced FATAL, and start_process cannot queue anything
        error = fault(supvisors(fleet, 's3').start_process, 'CONFIG', 'place:hog')
        assert (error.faultCode, error.faultString) == (40, 'ABNORMAL_TERMINATION: place:hog')
        wait_process(fleet, 'place:hog', 'FATAL', set())
        assert any('no resource available' in line and 'place:hog' in line
                   for line in open(fleet['s3'].logfile).read().splitlines())
        error = fault(supvisors(fleet, 's3').start_any_process, 'CONFIG', 'hog')
        assert (error.faultCode, error.faultString) == (10, 'BAD_NAME: no candidate process matching "hog"')
        # 90 % fits only on the node of s4 (10 %): even MOST_LOADED has to go there
        self.start_and_check(fleet, 'MOST_LOADED', 's1', 's4', 'place:big')

    def test_distribution_all_instances_places_each_process_independently(self, fleet):
        # LESS_LOADED by value, with the load reserved by each start seen by the next one
        try:
            assert supvisors(fleet, 's3').get_application_rules('spread')['distribution'] == 'ALL_INSTANCES'
            assert supvisors(fleet, 's3').start_application(1, 'spread') is True
            assert placement(fleet, 's3', 'spread') == {'a_01': {'s2'}, 'a_02': {'s4'}, 'a_03': {'s2'}}
            assert supvisors(fleet, 's3').get_application_info('spread')['statename'] == 'RUNNING'
        finally:
            stop_application(fleet, 'spread', 's3')

    def test_distribution_single_instance_puts_all_processes_on_one_instance(self, fleet):
        try:
            assert supvisors(fleet, 's3').get_application_rules('mono')['distribution'] == 'SINGLE_INSTANCE'
            assert supvisors(fleet, 's3').start_application('LESS_LOADED', 'mono') is True
            assert placement(fleet, 's3', 'mono') == {'m_01': {'s2'}, 'm_02': {'s2'}, 'm_03': {'s2'}}
        finally:
            stop_application(fleet, 'mono', 's3')

    def test_distribution_single_node_puts_all_processes_on_the_instances_of_one_node(self, fleet):
        # the least loaded instance (s2) designates node 127.0.10.1; then each process goes to the least loaded
        # instance of that node: d_01 -> s2 (5), d_02 -> s2 (20 < 25), d_03 -> s1 (25 < 35)
        try:
            assert supvisors(fleet, 's3').get_application_rules('duo')['distribution'] == 'SINGLE_NODE'
            assert supvisors(fleet, 's3').start_application('LESS_LOADED', 'duo') is True
            assert placement(fleet, 's3', 'duo') == {'d_01': {'s2'}, 'd_02': {'s2'}, 'd_03': {'s1'}}
        finally:
            stop_application(fleet, 'duo', 's3')

    def test_starting_failure_abort_drops_the_remaining_sequence(self, fleet):
        proxy = supvisors(fleet, 's3')
        try:
            assert proxy.get_process_rules('abort_app:fail_exit')[0]['starting_failure_strategy'] == 'ABORT'
            # the application is RUNNING when the Starter is idle (ok runs): True, with a major failure
            assert proxy.start_application('CONFIG', 'abort_app') is True
            states = {info['process_name']: info['statename'] for info in proxy.get_process_info('abort_app:*')}
            assert states == {'ok': 'RUNNING', 'fail_exit': 'FATAL', 'after': 'STOPPED'}
            assert local_info(fleet, 's5', 'abort_app:after')['start'] == 0  # never spawned
            info = proxy.get_application_info('abort_app')
            assert (info['statename'], info['major_failure']) == ('RUNNING', True)
        finally:
            stop_application(fleet, 'abort_app', 's3')

    def test_starting_failure_stop_stops_the_application(self, fleet):
        proxy = supvisors(fleet, 's3')
        try:
            assert proxy.get_process_rules('stop_app:fail_missing')[0]['starting_failure_strategy'] == 'STOP'
            assert proxy.start_application('CONFIG', 'stop_app', False) is True

            def stopped_after_failure():
                states = {info['process_name']: info['statename'] for info in proxy.get_process_info('stop_app:*')}
                return states == {'ok': 'STOPPED', 'fail_missing': 'FATAL', 'after': 'STOPPED'} and \
                    proxy.get_application_info('stop_app')['statename'] == 'STOPPED' and \
                    local_info(fleet, 's5', 'stop_app:ok')['start'] > 0
            wait_for(stopped_after_failure, 20, what='stop_app stopped after the failure of fail_missing')
            assert local_info(fleet, 's5', 'stop_app:after')['start'] == 0  # never spawned
        finally:
            stop_application(fleet, 'stop_app', 's3')

    def test_starting_failure_continue_goes_on_with_the_sequence(self, fleet):
        proxy = supvisors(fleet, 's3')
        try:
            assert proxy.get_process_rules('cont_app:fail_exit')[0]['starting_failure_strategy'] == 'CONTINUE'
            assert proxy.start_application('CONFIG', 'cont_app') is True
            states = {info['process_name']: info['statename'] for info in proxy.get_process_info('cont_app:*')}
            assert states == {'ok': 'RUNNING', 'fail_exit': 'FATAL', 'after': 'RUNNING'}
            assert hosts(fleet, 's3', 'cont_app:after') == {'s5'}
        finally:
            stop_application(fleet, 'cont_app', 's3')

    def test_start_any_process_picks_the_first_startable_match(self, fleet):
        proxy = supvisors(fleet, 's3')
        regex = r'^spread:a_0[12]$'
        try:
            assert proxy.start_any_process('LESS_LOADED', regex) == 'spread:a_01'
            assert hosts(fleet, 's3', 'spread:a_01') == {'s2'}
            # a_01 runs now: the next match is a_02, and s2 (15) is no longer the least loaded one (s4: 10)
            assert proxy.start_any_process(1, regex, '', True) == 'spread:a_02'
            assert hosts(fleet, 's3', 'spread:a_02') == {'s4'}
            error = fault(proxy.start_any_process, 'LESS_LOADED', regex)
            assert (error.faultCode, error.faultString) == (10, f'BAD_NAME: no candidate process matching "{regex}"')
            assert process_info(fleet, 's3', 'spread:a_03')['statename'] == 'STOPPED'
        finally:
            stop_application(fleet, 'spread', 's3')

    def test_restart_process_keeps_extra_args_and_reevaluates_placement(self, fleet):
        proxy = supvisors(fleet, 's1')
        try:
            assert proxy.start_process('CONFIG', 'extra:xargs', '2000') is True
            first = local_info(fleet, 's5', 'extra:xargs')
            assert first['extra_args'] == '2000'
            assert_command_line(first['pid'], ['sleep', '1000', '2000'])
            wait_views(fleet, 'extra:xargs', lambda x: x['extra_args'] == '2000' and x['identifiers'] == ['s5'],
                       'extra args 2000 on s5')
            # restarted with the same extra arguments; LESS_LOADED moves it from s5 (20) to s4 (10)
            assert proxy.restart_process('LESS_LOADED', 'extra:xargs', '2000') is True
            info = process_info(fleet, 's1', 'extra:xargs')
            assert (info['statename'], info['identifiers'], info['extra_args']) == ('RUNNING', ['s4'], '2000')
            second = local_info(fleet, 's4', 'extra:xargs')
            assert second['statename'] == 'RUNNING' and second['extra_args'] == '2000'
            assert_command_line(second['pid'], ['sleep', '1000', '2000'])
            assert local_info(fleet, 's5', 'extra:xargs')['statename'] == 'STOPPED'
            # restarted with other extra arguments, back on the first candidate
            assert proxy.restart_process(0, 'extra:xargs', '3000') is True
            info = process_info(fleet, 's1', 'extra:xargs')
            assert (info['statename'], info['identifiers'], info['extra_args']) == ('RUNNING', ['s5'], '3000')
            third = local_info(fleet, 's5', 'extra:xargs')
            assert third['extra_args'] == '3000' and third['pid'] != first['pid']
            assert_command_line(third['pid'], ['sleep', '1000', '3000'])
        finally:
            stop_everywhere(fleet, 'extra:xargs', 's1')

    def test_restart_process_moving_extra_args_are_shared_by_every_instance(self, fleet):
        proxy = supvisors(fleet, 's1')
        try:
            assert proxy.start_process('CONFIG', 'extra:xargs', '100') is True
            for index, (strategy, target) in enumerate([('LESS_LOADED', 's4'), ('CONFIG', 's5')] * 2):
                extra_args = str(101 + index)
                assert proxy.restart_process(strategy, 'extra:xargs', extra_args) is True
                wait_views(fleet, 'extra:xargs', lambda x: x['identifiers'] == [target] and
                           x['extra_args'] == extra_args, f'extra args {extra_args} on {target}')
                assert local_info(fleet, target, 'extra:xargs')['extra_args'] == extra_args
        finally:
            stop_everywhere(fleet, 'extra:xargs', 's1')

    def test_start_args_extra_args_visible_locally_and_in_the_synthesis(self, fleet):
        proxy = supvisors(fleet, 's4')
        try:
            error = fault(proxy.start_args, 'extra:xargs')  # extra_args has no default
            assert (error.faultCode, error.faultString) == (2, 'INCORRECT_PARAMETERS')
            assert proxy.start_args('extra:xargs', '4000') is True
            info = local_info(fleet, 's4', 'extra:xargs')
            assert info['statename'] == 'RUNNING' and info['extra_args'] == '4000'
            assert_command_line(info['pid'], ['sleep', '1000', '4000'])
            wait_views(fleet, 'extra:xargs', lambda x: x['extra_args'] == '4000' and x['identifiers'] == ['s4'],
                       'extra args 4000 on s4')
            error = fault(proxy.start_args, 'extra:xargs', '4000')
            assert (error.faultCode, error.faultString) == (60, 'ALREADY_STARTED: extra:xargs')
        finally:
            stop_everywhere(fleet, 'extra:xargs', 's1')

    def test_restart_sequence_with_wait_returns_when_nothing_is_to_be_started(self, fleet):
        # auto (start_sequence 1) was started by the first DEPLOYMENT: a forced DEPLOYMENT has nothing to do
        wait_process(fleet, 'auto', 'RUNNING', {'s5'}, viewers=['s1'])
        deployments = log_count(fleet, 's1', r'OPERATION -> DEPLOYMENT')
        assert supvisors(fleet, 's1', 15).restart_sequence() is True  # on the Master
        assert fsm_state(fleet, 's1') == 'OPERATION'
        wait_fsm(fleet, 'OPERATION')  # the slaves follow the Master through DEPLOYMENT
        assert supvisors(fleet, 's3', 15).restart_sequence(True) is True  # forwarded to the Master
        assert fsm_state(fleet, 's3') == 'OPERATION'
        assert log_count(fleet, 's1', r'OPERATION -> DEPLOYMENT') == deployments + 2
        assert process_info(fleet, 's1', 'auto')['identifiers'] == ['s5']
        wait_fsm(fleet, 'OPERATION')

    def test_restart_sequence_restarts_an_application_stopped_on_purpose(self, fleet):
        master = supvisors(fleet, 's1')
        wait_process(fleet, 'auto', 'RUNNING', {'s5'}, viewers=['s1'])
        assert master.stop_application('auto') is True
        assert master.get_application_info('auto')['statename'] == 'STOPPED'
        wait_fsm(fleet, 'OPERATION')
        assert supvisors(fleet, 's3', 15).restart_sequence() is True
        wait_process(fleet, 'auto', 'RUNNING', {'s5'}, viewers=['s1'])
        assert fsm_state(fleet, 's3') == 'OPERATION'
        wait_fsm(fleet, 'OPERATION')


# ============================================================================================ running failures
FAILURE_IDS = ['s1', 's2', 's3']

FAILURE_PROGRAMS = """
[program:worker]
command=sleep 1000
autostart=false
startsecs=0
autorestart=false

[group:rf_continue]
programs=worker

[program:respawn]
command=sleep 1000
autostart=false
startsecs=0
autorestart=true

[group:rf_process]
programs=respawn

[program:mover]
command=sleep 1000
autostart=false
startsecs=0
autorestart=true

[group:rf_lost]
programs=mover

[program:victim]
command=sleep 1000
autostart=false
startsecs=0
autorestart=true

[program:sibling]
command=sleep 1000
autostart=false
startsecs=0
autorestart=true

[group:rf_stop_app]
programs=victim,sibling

[group:rf_restart_app]
programs=victim,sibling
"""

FAILURE_RULES = rules_xml("""
    <application name="rf_continue">
        <programs><program name="worker"><identifiers>s2</identifiers></program></programs>
    </application>
    <application name="rf_process">
        <running_failure_strategy>RESTART_PROCESS</running_failure_strategy>
        <programs><program name="respawn"><identifiers>s2,s3</identifiers></program></programs>
    </application>
    <application name="rf_lost">
        <programs>
            <program name="mover"><identifiers>s2,s3</identifiers>
                <running_failure_strategy>RESTART_PROCESS</running_failure_strategy></program>
        </programs>
    </application>
    <application name="rf_stop_app">
        <running_failure_strategy>STOP_APPLICATION</running_failure_strategy>
        <programs>
            <program pattern=""><identifiers>s2</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>
    <application name="rf_restart_app">
        <running_failure_strategy>RESTART_APPLICATION</running_failure_strategy>
        <programs>
            <program pattern=""><identifiers>s2</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>
""")


class TestRunningFailures:
    """ Running failure strategies on a crash (SIGKILL of the process) and on the loss of an instance.

    The Master is s1; the processes run on s2 (and s3), so that the Master survives every failure.
    """

    @pytest.fixture(scope='class')
    @classmethod
    def fleet(cls, tmp_path_factory):
        yield from class_fleet(tmp_path_factory, 'failures', FAILURE_IDS, options=FAST_TICKS,
                               programs=FAILURE_PROGRAMS, rules=FAILURE_RULES)

    def test_master_and_rules(self, fleet):
        assert supvisors(fleet, 's2').get_master_identifier() == 's1'
        rules = {namespec: supvisors(fleet, 's2').get_process_rules(namespec)[0]['running_failure_strategy']
                 for namespec in ('rf_continue:worker', 'rf_process:respawn', 'rf_lost:mover',
                                  'rf_stop_app:victim', 'rf_restart_app:sibling')}
        assert rules == {'rf_continue:worker': 'CONTINUE', 'rf_process:respawn': 'RESTART_PROCESS',
                         'rf_lost:mover': 'RESTART_PROCESS', 'rf_stop_app:victim': 'STOP_APPLICATION',
                         'rf_restart_app:sibling': 'RESTART_APPLICATION'}

    def test_continue_leaves_the_crashed_process_alone(self, fleet):
        assert supvisors(fleet, 's1').start_process('CONFIG', 'rf_continue:worker') is True
        assert hosts(fleet, 's1', 'rf_continue:worker') == {'s2'}
        crash(fleet, 's2', 'rf_continue:worker')
        wait_process(fleet, 'rf_continue:worker', 'EXITED', set())
        # barrier: the Master has ticked twice since it saw the crash (any pending failure job would have run)
        wait_ticks(fleet, 's1', ['s1'])
        for viewer in FAILURE_IDS:
            info = process_info(fleet, viewer, 'rf_continue:worker')
            assert (info['statename'], info['expected_exit'], info['identifiers']) == ('EXITED', False, [])
        assert {x: local_info(fleet, x, 'rf_continue:worker')['statename'] for x in FAILURE_IDS} == \
            {'s1': 'STOPPED', 's2': 'EXITED', 's3': 'STOPPED'}
        assert supvisors(fleet, 's1').get_application_info('rf_continue')['minor_failure'] is True

    def test_restart_process_on_a_crash_is_left_to_supervisor_autorestart(self, fleet):
        try:
            assert supvisors(fleet, 's1').start_process('CONFIG', 'rf_process:respawn') is True
            assert hosts(fleet, 's1', 'rf_process:respawn') == {'s2'}
            pid = crash(fleet, 's2', 'rf_process:respawn')
            # Supervisor's autorestart brings it back on the same instance
            info = wait_local(fleet, 's2', 'rf_process:respawn',
                              lambda x: x['statename'] == 'RUNNING' and x['pid'] not in (0, pid), 'respawned')
            wait_ticks(fleet, 's1', ['s1'])
            wait_process(fleet, 'rf_process:respawn', 'RUNNING', {'s2'})
            assert local_info(fleet, 's2', 'rf_process:respawn')['pid'] == info['pid']
            assert local_info(fleet, 's3', 'rf_process:respawn')['statename'] == 'STOPPED'
            assert supvisors(fleet, 's1').get_conflicts() == []
        finally:
            stop_everywhere(fleet, 'rf_process:respawn', 's1')

    def test_stop_application_on_a_crash_stops_the_application_without_autorestart(self, fleet):
        try:
            assert supvisors(fleet, 's1').start_application('CONFIG', 'rf_stop_app') is True
            assert placement(fleet, 's1', 'rf_stop_app') == {'victim': {'s2'}, 'sibling': {'s2'}}
            sibling_pid = local_info(fleet, 's2', 'rf_stop_app:sibling')['pid']
            crash(fleet, 's2', 'rf_stop_app:victim')
            wait_process(fleet, 'rf_stop_app:sibling', 'STOPPED', set())
            assert supvisors(fleet, 's1').get_application_info('rf_stop_app')['statename'] == 'STOPPED'
            # autorestart=true in the configuration, but disabled for this strategy: the victim stays down
            victim = local_info(fleet, 's2', 'rf_stop_app:victim')
            assert (victim['statename'], victim['pid']) == ('EXITED', 0)
            sibling = local_info(fleet, 's2', 'rf_stop_app:sibling')
            assert sibling['statename'] == 'STOPPED' and sibling['stop'] >= sibling['start'] > 0
            assert not psutil.pid_exists(sibling_pid) or \
                psutil.Process(sibling_pid).status() == psutil.STATUS_ZOMBIE
        finally:
            stop_application(fleet, 'rf_stop_app', 's1')

    def test_restart_application_on_a_crash_restarts_the_whole_application(self, fleet):
        try:
            assert supvisors(fleet, 's1').start_application('CONFIG', 'rf_restart_app') is True
            before = {name: local_info(fleet, 's2', f'rf_restart_app:{name}')['pid'] for name in ('victim', 'sibling')}
            spawns, stops = log_count(fleet, 's2', r"spawned: 'victim'"), log_count(fleet, 's2', r'stopped: sibling')
            crash(fleet, 's2', 'rf_restart_app:victim')

            def restarted() -> bool:
                infos = {name: local_info(fleet, 's2', f'rf_restart_app:{name}') for name in before}
                return all(info['statename'] == 'RUNNING' and info['pid'] not in (0, before[name])
                           for name, info in infos.items())
            wait_for(restarted, 20, what='victim and sibling restarted with new pids')
            wait_process(fleet, 'rf_restart_app:victim', 'RUNNING', {'s2'})
            wait_process(fleet, 'rf_restart_app:sibling', 'RUNNING', {'s2'})
            info = supvisors(fleet, 's1').get_application_info('rf_restart_app')
            assert (info['statename'], info['major_failure'], info['minor_failure']) == ('RUNNING', False, False)
            # restarted once by Supvisors (stop of the application, then start), never by Supervisor's autorestart
            assert log_count(fleet, 's2', r"spawned: 'victim'") == spawns + 1
            assert log_count(fleet, 's2', r'stopped: sibling') == stops + 1
        finally:
            stop_application(fleet, 'rf_restart_app', 's1')

    def test_restart_process_on_instance_loss_restarts_it_elsewhere_with_its_extra_args(self, fleet):
        try:
            assert supvisors(fleet, 's1').start_process('CONFIG', 'rf_lost:mover', '2000') is True
            assert hosts(fleet, 's1', 'rf_lost:mover') == {'s2'}
            fleet['s2'].kill()
            wait_process(fleet, 'rf_lost:mover', 'RUNNING', {'s3'}, viewers=['s1', 's3'])
            info = local_info(fleet, 's3', 'rf_lost:mover')
            assert info['extra_args'] == '2000'
            assert_command_line(info['pid'], ['sleep', '1000', '2000'])
            assert process_info(fleet, 's1', 'rf_lost:mover')['extra_args'] == '2000'
            assert supvisors(fleet, 's1').get_instance_info('s2')['statename'] == 'SILENT'
        finally:
            if not fleet['s2'].alive:
                fleet.restart_instance('s2')
                fleet.wait_rpc_ready(identifiers=['s2'])
                wait_synchronised(fleet)
            stop_everywhere(fleet, 'rf_lost:mover', 's1')


SHUTDOWN_PROGRAMS = """
[program:fatal]
command=sleep 1000
autostart=false
startsecs=0
autorestart=false

[program:bystander]
command=sleep 1000
autostart=false
startsecs=0
"""


def final_rules(strategy: str) -> str:
    return rules_xml(f"""
    <application name="fatal">
        <programs><program name="fatal"><identifiers>s2</identifiers>
            <running_failure_strategy>{strategy}</running_failure_strategy></program></programs>
    </application>
    <application name="bystander"/>
""")


def test_running_failure_shutdown_shuts_the_whole_fleet_down(fleet_factory):
    fleet = fleet_factory(['s1', 's2'], options={'core_identifiers': 's1,s2'}, programs=SHUTDOWN_PROGRAMS,
                          rules=final_rules('SHUTDOWN'))
    launch(fleet)
    assert supvisors(fleet, 's1').start_process('CONFIG', 'fatal') is True
    assert hosts(fleet, 's1', 'fatal') == {'s2'}
    assert supvisors(fleet, 's2').start_process('CONFIG', 'bystander') is True
    bystander_pid = local_info(fleet, 's1', 'bystander')['pid']
    crash(fleet, 's2', 'fatal')
    wait_for(lambda: not any(instance.alive for instance in fleet), 30, what='every supervisord exited')
    assert [instance.returncode for instance in fleet] == [0, 0]
    assert log_count(fleet, 's1', r'-> SHUTTING_DOWN') == 1
    assert log_count(fleet, 's1', r'stopped: bystander') == 1  # stopped by the global stop before the shutdown
    assert not psutil.pid_exists(bystander_pid)


def test_running_failure_restart_restarts_every_supervisord_and_comes_back(fleet_factory):
    fleet = fleet_factory(['s1', 's2'], options={'core_identifiers': 's1,s2'}, programs=SHUTDOWN_PROGRAMS,
                          rules=final_rules('RESTART'))
    launch(fleet)
    pids = [instance.pid for instance in fleet]
    assert supvisors(fleet, 's1').start_process('CONFIG', 'fatal') is True
    assert hosts(fleet, 's1', 'fatal') == {'s2'}
    crash(fleet, 's2', 'fatal')
    # supervisord restarts in place (same pid): each log shows a second start
    wait_for(lambda: all(log_count(fleet, x, r'supervisord started with pid') == 2 for x in fleet.identifiers), 30,
             what='every supervisord restarted')
    assert log_count(fleet, 's1', r'-> RESTARTING') == 1
    fleet.wait_rpc_ready()
    wait_synchronised(fleet)
    assert [instance.pid for instance in fleet] == pids and all(instance.alive for instance in fleet)
    assert supvisors(fleet, 's2').get_master_identifier() == 's1'
    for viewer in fleet.identifiers:
        info = process_info(fleet, viewer, 'fatal')
        assert info['statename'] in ('STOPPED', 'EXITED') and info['identifiers'] == []


# ============================================================================================ conciliation
CONCILIATION_PROGRAMS = """
[program:dup]
command=sleep 1000
autostart=false
startsecs=0
autorestart=false

[program:dup_restart]
command=sleep 1000
autostart=false
startsecs=0
autorestart=false

[program:dup_continue]
command=sleep 1000
autostart=false
startsecs=0
autorestart=false

[program:dup_here]
command=sleep 1000
autostart=false
startsecs=0
autorestart=false

[program:bystander]
command=sleep 1000
autostart=false
startsecs=0

[group:conc]
programs=dup,dup_restart,dup_continue,dup_here,bystander
"""

# a restarted copy goes to s2 (CONFIG), except dup_here that goes to s1
CONCILIATION_RULES = rules_xml("""
    <application name="conc">
        <programs>
            <program name="dup"><identifiers>s2,s1</identifiers></program>
            <program name="dup_restart"><identifiers>s2,s1</identifiers>
                <running_failure_strategy>RESTART_PROCESS</running_failure_strategy></program>
            <program name="dup_continue"><running_failure_strategy>CONTINUE</running_failure_strategy></program>
        </programs>
    </application>
""")
CONCILIATION_IDS = ['s1', 's2']


def start_directly(fleet: LocalFleet, identifier: str, namespec: str) -> Dict[str, Any]:
    """ Start a process through Supervisor itself, behind the back of Supvisors; return its local info. """
    assert fleet[identifier].rpc().supervisor.startProcess(namespec) is True
    return wait_local(fleet, identifier, namespec, lambda x: x['statename'] == 'RUNNING', 'RUNNING')


def make_conflict(fleet: LocalFleet, namespec: str, older: str, younger: str, gap: float = 0.0) -> Dict[str, Any]:
    """ Start the process on `older`, then (gap seconds later at least) on `younger`; return their local infos. """
    first = start_directly(fleet, older, namespec)
    if gap:
        wait_for(lambda: time.time() >= first['start'] + gap, gap + 5, what=f'{gap} seconds of uptime difference')
    second = start_directly(fleet, younger, namespec)
    assert second['start'] >= first['start'] + gap
    wait_process(fleet, namespec, 'RUNNING', {older, younger})
    return {older: first, younger: second}


def wait_uptimes_apart(fleet: LocalFleet, viewer: str, infos: Dict[str, Dict[str, Any]]) -> None:
    """ Barrier: the viewer has received from every other instance a tick dated 2 seconds at least after the
    youngest start, so that the uptime it computes for any remote copy is 2 seconds at least. """
    youngest = max(info['start'] for info in infos.values())
    wait_for(lambda: all(supvisors(fleet, viewer, 3).get_instance_info(x)['remote_time'] >= youngest + 2
                         for x in fleet.identifiers if x != viewer), 10, what='ticks dated after the uptimes apart')


def single_copy(fleet: LocalFleet, namespec: str) -> Optional[Set[str]]:
    """ Where the process runs once the conflict is over, as seen by every instance (None while not settled). """
    views = [hosts(fleet, x, namespec) for x in fleet.identifiers]
    return views[0] if all(view == views[0] and len(view) == 1 for view in views) else None


class TestConciliation:
    """ Conflicts created by starting a managed process through Supervisor on two instances (the Master is s1);
    default USER strategy, then each strategy applied on demand through conciliate. """

    @pytest.fixture(scope='class')
    @classmethod
    def fleet(cls, tmp_path_factory):
        yield from class_fleet(tmp_path_factory, 'conciliation', CONCILIATION_IDS, options=FAST_TICKS,
                               programs=CONCILIATION_PROGRAMS, rules=CONCILIATION_RULES)

    @pytest.fixture(autouse=True)
    def resolved(self, fleet):
        """ Each test starts and ends in OPERATION with nothing running. """
        wait_fsm(fleet, 'OPERATION')
        yield
        for info in supvisors(fleet, 's1').get_all_process_info():
            if info['identifiers']:
                stop_everywhere(fleet, f"{info['application_name']}:{info['process_name']}", 's1')
        wait_fsm(fleet, 'OPERATION')

    def test_user_strategy_keeps_the_fleet_in_conciliation(self, fleet):
        master = supvisors(fleet, 's1')
        assert master.get_strategies() == {'auto-fencing': False, 'starting': 'CONFIG', 'conciliation': 'USER'}
        error = fault(master.conciliate, 'SENICIDE')  # refused outside CONCILIATION
        assert (error.faultCode, error.faultString) == \
            (101, "BAD_SUPVISORS_STATE: Supvisors (state=OPERATION) not in state ['CONCILIATION'] to perform request")
        assert supvisors(fleet, 's2').start_process('CONFIG', 'conc:bystander') is True
        assert hosts(fleet, 's1', 'conc:bystander') == {'s1'}
        infos = make_conflict(fleet, 'conc:dup', 's1', 's2')
        wait_fsm(fleet, 'CONCILIATION')
        for viewer in CONCILIATION_IDS:
            conflicts = supvisors(fleet, viewer).get_conflicts()
            assert [(x['application_name'], x['process_name'], x['statename'], set(x['identifiers']))
                    for x in conflicts] == [('conc', 'dup', 'RUNNING', {'s1', 's2'})]
        assert master.conciliate('USER') is False
        assert supvisors(fleet, 's2').conciliate(2) is False
        wait_ticks(fleet, 's1', ['s1'])  # barrier: the Master has evaluated its state twice since
        assert fsm_state(fleet, 's1') == 'CONCILIATION' and fsm_state(fleet, 's2') == 'CONCILIATION'
        assert {x: local_info(fleet, x, 'conc:dup')['pid'] for x in CONCILIATION_IDS} == \
            {x: info['pid'] for x, info in infos.items()}
        names = str(CONCILIATION_NAMES)
        for value, text in [('DUMMY', f"invalid <enum 'ConciliationStrategies'>: DUMMY (string expected in {names})"),
                            (6, 'incorrect strategy: 6 (integer expected in [0, 1, 2, 3, 4, 5]'),
                            (False, "invalid <enum 'ConciliationStrategies'>: False (string or integer expected)")]:
            error = fault(master.conciliate, value)
            assert (error.faultCode, error.faultString) == (2, f'INCORRECT_PARAMETERS: {text}')
        # start requests are refused, stop requests accepted
        refused = "BAD_SUPVISORS_STATE: Supvisors (state=CONCILIATION) not in state ['OPERATION'] to perform request"
        for viewer in CONCILIATION_IDS:
            proxy = supvisors(fleet, viewer)
            for method, args in ((proxy.start_process, ('CONFIG', 'conc:dup_continue')),
                                 (proxy.start_any_process, ('CONFIG', 'dup_')),
                                 (proxy.restart_process, ('CONFIG', 'conc:bystander')),
                                 (proxy.start_application, ('CONFIG', 'conc')),
                                 (proxy.restart_application, ('CONFIG', 'conc')),
                                 (proxy.restart_sequence, ())):
                error = fault(method, *args)
                assert (error.faultCode, error.faultString) == (101, refused), method
        assert supvisors(fleet, 's2').stop_process('conc:bystander') is True
        wait_process(fleet, 'conc:bystander', 'STOPPED', set())
        assert fsm_state(fleet, 's1') == 'CONCILIATION'
        # a user stop of one copy resolves the conflict
        assert fleet['s2'].rpc().supervisor.stopProcess('conc:dup') is True
        wait_fsm(fleet, 'OPERATION')
        assert supvisors(fleet, 's2').get_conflicts() == []
        wait_process(fleet, 'conc:dup', 'RUNNING', {'s1'})

    @staticmethod
    def conciliate(fleet: LocalFleet, caller: str, strategy: Any) -> None:
        wait_fsm(fleet, 'CONCILIATION')
        assert supvisors(fleet, caller).conciliate(strategy) is True
        wait_fsm(fleet, 'OPERATION')
        for viewer in CONCILIATION_IDS:
            assert supvisors(fleet, viewer).get_conflicts() == []

    def check_uptime_strategy(self, fleet: LocalFleet, strategy: Any, older: str, younger: str, caller: str,
                              keep: str) -> None:
        infos = make_conflict(fleet, 'conc:dup', older, younger, gap=2.0)
        wait_uptimes_apart(fleet, caller, infos)
        self.conciliate(fleet, caller, strategy)
        kept = wait_for(lambda: single_copy(fleet, 'conc:dup'), 10, what='a single copy left')
        assert kept == {keep}, f'{strategy} conciliated by {caller} kept the copy of {kept} instead of {keep}'
        assert local_info(fleet, keep, 'conc:dup')['pid'] == infos[keep]['pid']
        other = older if keep == younger else younger
        assert local_info(fleet, other, 'conc:dup')['statename'] == 'STOPPED'

    @pytest.mark.parametrize('caller', ['s2', 's1'])
    def test_senicide_keeps_the_youngest(self, fleet, caller):
        # the older copy runs on s1 and the younger one on s2, whoever conciliates
        self.check_uptime_strategy(fleet, 'SENICIDE', 's1', 's2', caller, keep='s2')

    @pytest.mark.parametrize('caller', ['s1', 's2'])
    def test_infanticide_keeps_the_oldest(self, fleet, caller):
        # the older copy runs on s2 and the younger one on s1, whoever conciliates
        self.check_uptime_strategy(fleet, 1, 's2', 's1', caller, keep='s2')

    def test_stop_stops_every_copy(self, fleet):
        make_conflict(fleet, 'conc:dup', 's1', 's2')
        self.conciliate(fleet, 's2', 'STOP')
        wait_process(fleet, 'conc:dup', 'STOPPED', set())
        assert {x: local_info(fleet, x, 'conc:dup')['statename'] for x in CONCILIATION_IDS} == \
            {'s1': 'STOPPED', 's2': 'STOPPED'}

    def test_restart_stops_every_copy_then_runs_it_once(self, fleet):
        infos = make_conflict(fleet, 'conc:dup', 's1', 's2')
        self.conciliate(fleet, 's1', 4)
        # started again once, with the application's starting strategy (CONFIG: s2 first)
        wait_process(fleet, 'conc:dup', 'RUNNING', {'s2'})
        assert local_info(fleet, 's2', 'conc:dup')['pid'] not in {info['pid'] for info in infos.values()}
        assert local_info(fleet, 's1', 'conc:dup')['statename'] == 'STOPPED'

    def test_restart_runs_it_once_on_the_conciliating_instance(self, fleet):
        infos = make_conflict(fleet, 'conc:dup_here', 's2', 's1')
        self.conciliate(fleet, 's1', 'RESTART')
        # started again once, with the application's starting strategy (CONFIG: s1 first), by s1 itself
        assert eventually(lambda: single_copy(fleet, 'conc:dup_here') == {'s1'}, 10), 'not restarted on s1'
        assert local_info(fleet, 's1', 'conc:dup_here')['pid'] not in {info['pid'] for info in infos.values()}
        assert local_info(fleet, 's2', 'conc:dup_here')['statename'] == 'STOPPED'

    def test_running_failure_applies_the_running_failure_strategy_of_each_process(self, fleet):
        restart_infos = make_conflict(fleet, 'conc:dup_restart', 's1', 's2')
        make_conflict(fleet, 'conc:dup_continue', 's1', 's2')
        self.conciliate(fleet, 's1', 'RUNNING_FAILURE')
        # RESTART_PROCESS: stopped everywhere, then started once (CONFIG: s2 first); CONTINUE: stopped everywhere
        wait_process(fleet, 'conc:dup_restart', 'RUNNING', {'s2'})
        assert local_info(fleet, 's2', 'conc:dup_restart')['pid'] not in \
            {info['pid'] for info in restart_infos.values()}
        assert local_info(fleet, 's1', 'conc:dup_restart')['statename'] == 'STOPPED'
        wait_process(fleet, 'conc:dup_continue', 'STOPPED', set())
        assert all(local_info(fleet, x, 'conc:dup_continue')['pid'] == 0 for x in CONCILIATION_IDS)


def test_automatic_conciliation_infanticide(fleet_factory):
    fleet = fleet_factory(CONCILIATION_IDS, options={'core_identifiers': 's1,s2',
                                                     'conciliation_strategy': 'INFANTICIDE', **FAST_TICKS},
                          programs=CONCILIATION_PROGRAMS, rules=CONCILIATION_RULES)
    launch(fleet)
    assert supvisors(fleet, 's1').get_strategies()['conciliation'] == 'INFANTICIDE'
    older = start_directly(fleet, 's2', 'conc:dup')
    wait_process(fleet, 'conc:dup', 'RUNNING', {'s2'})
    wait_for(lambda: time.time() >= older['start'] + 2.0, 5, what='two seconds of uptime')
    wait_uptimes_apart(fleet, 's1', {'s2': older})
    # the younger copy may be stopped at once: do not wait for it to be RUNNING
    assert fleet['s1'].rpc().supervisor.startProcess('conc:dup') is True
    # the Master enters CONCILIATION and resolves the conflict by itself: the oldest copy (s2) is kept
    wait_for(lambda: log_count(fleet, 's1', r'OPERATION -> CONCILIATION') == 1, 20, what='CONCILIATION entered')
    assert eventually(lambda: single_copy(fleet, 'conc:dup'), 15, 'a single copy left'), \
        'the conflict was not resolved by the automatic INFANTICIDE strategy'
    assert single_copy(fleet, 'conc:dup') == {'s2'}
    wait_fsm(fleet, 'OPERATION')
    assert local_info(fleet, 's2', 'conc:dup')['pid'] == older['pid']
    assert local_info(fleet, 's1', 'conc:dup')['statename'] == 'STOPPED'
    assert supvisors(fleet, 's1').get_conflicts() == []
