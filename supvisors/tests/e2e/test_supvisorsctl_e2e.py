"""supervisorctl (with ``[ctlplugin:supvisors]``) and supvisorsctl run as commands against real fleets.

Outputs are compared line by line, trailing spaces included; only volatile values (clock times, tick counters,
pids, unordered identifier lists) are masked.  Control commands are sent to s3 while the rules place processes on
s1 and s2, so that every start goes through a remote instance as in a real fleet.
"""

import os
import re
import subprocess
import sys
from typing import Iterator, List, Optional, Sequence, Tuple

import pytest

import supvisors
from supvisors.tools.localfleet import LocalFleet, LocalInstance, find_free_ports, wait_for

pytestmark = pytest.mark.e2e

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(supvisors.__file__)))

PROGRAMS = """
[group:web]
programs=server,cache

[program:server]
command=sleep 1000
autostart=false
startsecs=0

[program:cache]
command=sleep 1000
autostart=false
startsecs=0

[program:worker]
command=sleep 1000
process_name=worker_%(process_num)d
numprocs=2
autostart=false
startsecs=0

[program:lone]
command=sleep 1000
autostart=false
startsecs=0

[program:tool]
command=sleep 1000
autostart=false
startsecs=0
"""

RULES = """<?xml version="1.0" encoding="UTF-8"?>
<root>
    <application name="web">
        <stop_sequence>2</stop_sequence>
        <starting_failure_strategy>CONTINUE</starting_failure_strategy>
        <programs>
            <program name="server">
                <identifiers>s1</identifiers><start_sequence>1</start_sequence><required>true</required>
                <expected_loading>10</expected_loading>
            </program>
            <program name="cache">
                <identifiers>s2</identifiers><start_sequence>2</start_sequence><expected_loading>5</expected_loading>
                <running_failure_strategy>RESTART_PROCESS</running_failure_strategy>
            </program>
        </programs>
    </application>
    <application name="worker">
        <starting_strategy>LESS_LOADED</starting_strategy>
        <programs>
            <program pattern="worker_"><identifiers>s2</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>
    <application name="tool">
        <programs><program name="tool"><identifiers>s2</identifiers></program></programs>
    </application>
</root>
"""

NAMESPECS = ['lone', 'tool', 'web:cache', 'web:server', 'worker:worker_0', 'worker:worker_1']
STRATEGIES = "['CONFIG', 'LESS_LOADED', 'MOST_LOADED', 'LOCAL', 'LESS_LOADED_NODE', 'MOST_LOADED_NODE']"
TIME = re.compile(r'\d\d:\d\d:\d\d')


# ----------------------------------------------------------------------------------------------------------------
# running the commands
# ----------------------------------------------------------------------------------------------------------------
def _run(args: Sequence[str], stdin: Optional[str] = None) -> Tuple[int, List[str]]:
    env = dict(os.environ)
    env['PYTHONPATH'] = SOURCE_ROOT + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    completed = subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True, timeout=120,
                               env=env, stdin=None if stdin is not None else subprocess.DEVNULL)
    assert not completed.stderr, completed.stderr
    return completed.returncode, completed.stdout.splitlines()


def ctl(instance: LocalInstance, line: str) -> Tuple[int, List[str]]:
    """supervisorctl with the configuration of the instance (its [ctlplugin:supvisors] and serverurl)."""
    return _run(['-m', 'supervisor.supervisorctl', '-c', instance.conf_path, *line.split()])


def sctl(url: str, line: str, stdin: Optional[str] = None) -> Tuple[int, List[str]]:
    """supvisorsctl on a server URL, no configuration."""
    return _run(['-m', 'supvisors.supvisorsctl', '-s', url, *line.split()], stdin)


TOOLS = {'supervisorctl': lambda instance, line: ctl(instance, line),
         'supvisorsctl': lambda instance, line: sctl(instance.url, line)}


@pytest.fixture(params=sorted(TOOLS))
def tool(request):
    return TOOLS[request.param]


# ----------------------------------------------------------------------------------------------------------------
# masking volatile values
# ----------------------------------------------------------------------------------------------------------------
def mask_times(lines: List[str]) -> List[str]:
    """HH:MM:SS values have a fixed width: masking them keeps the column layout checked."""
    return [TIME.sub('HH:MM:SS', line) for line in lines]


def mask_column(lines: List[str], title: str, width: int, placeholder: str) -> List[str]:
    """Replace the numbers of a fixed-width column (found by its title on the first line) with placeholder."""
    start = lines[0].index(title)
    masked = [lines[0]]
    for line in lines[1:]:
        value = line[start:start + width]
        assert re.fullmatch(r'\d+ *', value), (line, value)
        masked.append(line[:start] + placeholder.ljust(width) + line[start + width:])
    return masked


def split_identifiers(line: str) -> Tuple[str, set]:
    """A row ending with an identifiers list (unordered on the server side): the prefix and the set."""
    prefix, _, identifiers = line.partition('[')
    return prefix, set(re.findall(r"'([^']*)'", identifiers))


# ----------------------------------------------------------------------------------------------------------------
# fleets
# ----------------------------------------------------------------------------------------------------------------
def fsm_states(fleet: LocalFleet) -> List[str]:
    return [x.rpc(timeout=5).supvisors.get_supvisors_state()['fsm_statename'] for x in fleet]


def wait_operation(fleet: LocalFleet, timeout: float = 30) -> None:
    fleet.wait_for(lambda: fsm_states(fleet) == ['OPERATION'] * len(fleet.identifiers), timeout, interval=0.1,
                   what='every instance in OPERATION')


def process_states(instance: LocalInstance) -> dict:
    return {(x['application_name'], x['process_name']): x['statename']
            for x in instance.rpc(timeout=5).supvisors.get_all_process_info()}


def start_fleet(basedir: str) -> LocalFleet:
    fleet = LocalFleet(3, basedir, options={'core_identifiers': 's1,s2,s3'}, programs=PROGRAMS, rules=RULES)
    fleet.start()
    fleet.wait_rpc_ready(timeout=30)
    wait_operation(fleet)
    # every instance knows every process of every instance
    for instance in fleet:
        fleet.wait_for(lambda: len(process_states(instance)) == 6, 10, what=f'{instance.identifier} processes')
    return fleet


@pytest.fixture(scope='module')
def pristine(tmp_path_factory) -> Iterator[LocalFleet]:
    """A fleet on which nothing is ever changed (status commands)."""
    fleet = None
    try:
        fleet = start_fleet(str(tmp_path_factory.mktemp('pristine')))
        yield fleet
    finally:
        if fleet is not None:
            fleet.stop()


@pytest.fixture(scope='module')
def control_fleet(tmp_path_factory) -> Iterator[LocalFleet]:
    fleet = None
    try:
        fleet = start_fleet(str(tmp_path_factory.mktemp('control')))
        yield fleet
    finally:
        if fleet is not None:
            fleet.stop()


def all_stopped(fleet: LocalFleet) -> bool:
    return all(state in ('STOPPED', 'EXITED') for state in process_states(fleet['s3']).values())


@pytest.fixture
def fleet(control_fleet: LocalFleet, request: pytest.FixtureRequest) -> Iterator[LocalFleet]:
    """The control fleet, with every process stopped and Supvisors in OPERATION before and after the test."""
    def reset() -> None:
        for instance in control_fleet:
            instance.rpc(timeout=30).supervisor.stopAllProcesses()
        control_fleet.wait_for(lambda: all_stopped(control_fleet), 20, what='every process stopped')
        wait_operation(control_fleet)
    reset()
    yield control_fleet
    report = getattr(request.node, 'rep_call', None)
    if report is not None and report.failed:
        print(f'\n######## diagnostics of fleet {control_fleet.basedir}\n{control_fleet.diagnostics()}')
    reset()


# ----------------------------------------------------------------------------------------------------------------
# status commands
# ----------------------------------------------------------------------------------------------------------------
APPLICATION_INFO = ['Application  State     Major  Minor  ',
                    'lone         STOPPED   False  False  ',
                    'tool         STOPPED   False  False  ',
                    'web          STOPPED   False  False  ',
                    'worker       STOPPED   False  False  ']

APPLICATION_RULES = [
    'Application  Managed  Distribution     Supervisor  Start  Stop   Starting          Starting_Failure  '
    'Running_Failure',
    'lone         False    n/a              n/a         n/a    n/a    n/a               n/a               n/a',
    "tool         True     ALL_INSTANCES    ['*']       0      0      CONFIG            ABORT             CONTINUE",
    "web          True     ALL_INSTANCES    ['*']       0      2      CONFIG            CONTINUE          CONTINUE",
    "worker       True     ALL_INSTANCES    ['*']       0      0      LESS_LOADED       ABORT             CONTINUE"]

SSTATUS = ['Application  Process   State       Expected  Supervisor',
           'lone         lone      STOPPED     n/a       []',
           'tool         tool      STOPPED     n/a       []',
           'web          cache     STOPPED     n/a       []',
           'web          server    STOPPED     n/a       []',
           'worker       worker_0  STOPPED     n/a       []',
           'worker       worker_1  STOPPED     n/a       []']

LOCAL_STATUS = ['Application  Process   Disabled  State       Start       Now         PID     Extra args',
                'lone         lone      False     STOPPED     0           HH:MM:SS    0       ',
                'tool         tool      False     STOPPED     0           HH:MM:SS    0       ',
                'web          cache     False     STOPPED     0           HH:MM:SS    0       ',
                'web          server    False     STOPPED     0           HH:MM:SS    0       ',
                'worker       worker_0  False     STOPPED     0           HH:MM:SS    0       ',
                'worker       worker_1  False     STOPPED     0           HH:MM:SS    0       ']

PROCESS_RULES = [
    'Application  Process   Start  Stop   Required    WaitExit    Loading     Strategy              Supervisor',
    "lone         lone      0      0      False       False       0%          CONTINUE              ['*']",
    "tool         tool      0      0      False       False       0%          CONTINUE              ['s2']",
    "web          cache     2      2      False       False       5%          RESTART_PROCESS       ['s2']",
    "web          server    1      1      True        False       10%         CONTINUE              ['s1']",
    "worker       worker_0  1      1      False       False       0%          CONTINUE              ['s2']",
    "worker       worker_1  1      1      False       False       0%          CONTINUE              ['s2']"]


def instance_rows(fleet: LocalFleet, identifiers: Sequence[str]) -> List[str]:
    rows = ['Supervisor  Node       Port   State      Load  Time      Counter  FSM             Starting  Stopping  ']
    rows += [f'{x:<12}127.0.0.1  {fleet[x].http_port:<7}RUNNING    0%    HH:MM:SS  N        OPERATION       '
             'False     False     ' for x in identifiers]
    return rows


def test_status_commands(pristine, tool):
    s3 = pristine['s3']
    assert tool(s3, 'sversion') == (0, ['0.15'])
    assert tool(s3, 'sstate') == (0, ['State           Starting  Stopping  ',
                                      'OPERATION       []        []        '])
    assert tool(s3, 'master') == (0, ['s1'])
    assert tool(s3, 'strategies') == (0, ['Auto-fencing: False', 'Conciliation: USER', 'Starting:     CONFIG'])
    status, lines = tool(s3, 'instance_status')
    assert status == 0
    assert mask_column(mask_times(lines), 'Counter', 9, 'N') == instance_rows(pristine, ['s1', 's2', 's3'])
    assert tool(s3, 'application_info') == (0, APPLICATION_INFO)
    assert tool(s3, 'application_rules') == (0, APPLICATION_RULES)
    assert tool(s3, 'sstatus') == (0, SSTATUS)
    status, lines = tool(s3, 'local_status')
    assert (status, mask_times(lines)) == (0, LOCAL_STATUS)
    assert tool(s3, 'process_rules') == (0, PROCESS_RULES)
    assert tool(s3, 'conflicts') == (0, [])


def test_selections_and_item_faults(pristine):
    s2 = pristine['s2']
    status, lines = sctl(s2.url, 'instance_status s2 foo')
    assert status == 0
    assert mask_column(mask_times(lines), 'Counter', 9, 'N') == instance_rows(pristine, ['s2'])
    # 'all' among the arguments means all
    status, lines = sctl(s2.url, 'instance_status s2 all')
    assert mask_column(mask_times(lines), 'Counter', 9, 'N') == instance_rows(pristine, ['s1', 's2', 's3'])
    assert sctl(s2.url, 'application_info web foo') == (0, ['Application  State     Major  Minor  ',
                                                             'web          STOPPED   False  False  '])
    assert sctl(s2.url, 'application_info foo') == (0, ['Application  State     Major  Minor  '])
    assert sctl(s2.url, 'application_rules lone foo web') == (1, [
        'foo: ERROR (BAD_NAME: application foo unknown to Supvisors)',
        'Application  Managed  Distribution     Supervisor  Start  Stop   Starting          Starting_Failure  '
        'Running_Failure',
        'lone         False    n/a              n/a         n/a    n/a    n/a               n/a               n/a',
        "web          True     ALL_INSTANCES    ['*']       0      2      CONFIG            CONTINUE          "
        "CONTINUE"])
    assert sctl(s2.url, 'sstatus web:* lone foo:* web:bar') == (1, [
        'foo:*: ERROR (BAD_NAME: application foo unknown to Supvisors)',
        'web:bar: ERROR (BAD_NAME: process=bar unknown in application=web)',
        'Application  Process  State       Expected  Supervisor',
        'web          cache    STOPPED     n/a       []',
        'web          server   STOPPED     n/a       []',
        'lone         lone     STOPPED     n/a       []'])
    assert sctl(s2.url, 'sstatus foo') == (1, ['foo: ERROR (BAD_NAME: application foo unknown to Supvisors)'])
    status, lines = sctl(s2.url, 'local_status web:* lone web:server foo')
    assert (status, mask_times(lines)) == (0, [
        'Application  Process  Disabled  State       Start       Now         PID     Extra args',
        'web          cache    False     STOPPED     0           HH:MM:SS    0       ',
        'web          server   False     STOPPED     0           HH:MM:SS    0       ',
        'lone         lone     False     STOPPED     0           HH:MM:SS    0       ',
        'web          server   False     STOPPED     0           HH:MM:SS    0       '])
    assert sctl(s2.url, 'local_status foo') == (0, [])
    # sorted arguments
    assert sctl(s2.url, 'process_rules worker:* foo lone') == (1, [
        'foo: ERROR (BAD_NAME: application foo unknown to Supvisors)',
        'Application  Process   Start  Stop   Required    WaitExit    Loading     Strategy              Supervisor',
        "lone         lone      0      0      False       False       0%          CONTINUE              ['*']",
        "worker       worker_0  1      1      False       False       0%          CONTINUE              ['s2']",
        "worker       worker_1  1      1      False       False       0%          CONTINUE              ['s2']"])


# ----------------------------------------------------------------------------------------------------------------
# argument errors, help, up-check
# ----------------------------------------------------------------------------------------------------------------
ARG_ERRORS = [
    ('start_application', 'start_application', 'ERROR: start_application requires at least a strategy'),
    ('restart_application', 'restart_application', 'ERROR: restart_application requires at least a strategy'),
    ('start_application config web', 'start_application',
     f'ERROR: unknown strategy for start_application. use one of {STRATEGIES}'),
    ('start_process', 'start_process', 'ERROR: start_process requires at least a strategy'),
    ('start_process LOCALE lone', 'start_process', f'ERROR: unknown strategy for start_process. use one of '
                                                   f'{STRATEGIES}'),
    ('start_any_process CONFIG', 'start_any_process',
     'ERROR: start_any_process requires a strategy and at least a regular expression'),
    ('start_process_args CONFIG lone', 'start_process_args',
     'ERROR: start_process_args requires a strategy, a program namespec and extra arguments'),
    ('start_any_process_args CONFIG lone', 'start_any_process_args',
     'ERROR: start_any_process_args requires a strategy, a regular expression and extra arguments'),
    ('start_args lone', 'start_args', 'ERROR: start_args requires a process name and extra arguments'),
    ('all_start', 'all_start', 'ERROR: all_start requires a process name'),
    ('all_start_args lone', 'all_start_args', 'ERROR: all_start_args requires a process name and extra arguments'),
    ('restart_process', 'restart_process', 'ERROR: restart_process requires a strategy and a program name'),
    ('restart_process 0 lone', 'restart_process', f'ERROR: unknown strategy=0. use one of {STRATEGIES}'),
    ('update_numprocs worker', 'update_numprocs',
     'ERROR: update_numprocs requires a program name and a numprocs values'),
    ('update_numprocs worker 0', 'update_numprocs', 'ERROR: numprocs must be a strictly positive integer'),
    ('update_numprocs worker x', 'update_numprocs', 'ERROR: numprocs must be a strictly positive integer'),
    ('enable', 'enable', 'ERROR: enable requires a program name'),
    ('disable', 'disable', 'ERROR: disable requires a program name'),
    ('conciliate', 'conciliate', 'ERROR: conciliate requires a strategy'),
    ('conciliate CONFIG', 'conciliate', "ERROR: unknown strategy for conciliate. use one of ['SENICIDE', "
                                        "'INFANTICIDE', 'USER', 'STOP', 'RESTART', 'RUNNING_FAILURE']"),
    ('loglevel', 'loglevel', 'ERROR: loglevel requires a level'),
    ('loglevel DEBUG', 'loglevel', 'ERROR: unknown level for Logger')]


@pytest.mark.parametrize('line, command, message', ARG_ERRORS)
def test_argument_errors(pristine, line, command, message):
    status, help_lines = sctl(pristine['s1'].url, f'help {command}')
    # the default plugin answers first that it has no such topic
    assert status == 0 and help_lines[0] == f'*** No help on {command}' and len(help_lines) > 1
    assert sctl(pristine['s1'].url, line) == (2, [message] + help_lines[1:])


def test_help(pristine):
    header = 'supvisors commands (type help <topic>):'
    block = [header, '=' * len(header),
             'all_start          local_status         sstate                  stop_process   ',
             'all_start_args     loglevel             sstatus                 strategies     ',
             'application_info   master               start_any_process       sversion       ',
             'application_rules  process_rules        start_any_process_args  update_numprocs',
             'conciliate         restart_application  start_application     ',
             'conflicts          restart_process      start_args            ',
             'disable            restart_sequence     start_process         ',
             'enable             sreload              start_process_args    ',
             'instance_status    sshutdown            stop_application      ']
    for status, lines in (ctl(pristine['s1'], 'help'), sctl(pristine['s1'].url, 'help'),
                          # the plugin is declared in the configuration: not added twice
                          _run(['-m', 'supvisors.supvisorsctl', '-c', pristine['s1'].conf_path, 'help'])):
        assert status == 0
        assert lines.count(header) == 1
        start = lines.index(header)
        assert lines[start:start + len(block)] == block
        assert 'default commands (type help <topic>):' in lines
    status, lines = ctl(pristine['s1'], 'help sstatus')
    assert status == 0
    assert [line.split('\t')[0] for line in lines[1:]] == ['sstatus <proc>', 'sstatus <appli>:*',
                                                           'sstatus <proc> <proc>', 'sstatus']
    assert all('\t' in line and not line.endswith('\t') for line in lines[1:])
    status, lines = ctl(pristine['s1'], 'help start_process_args')
    assert lines[1].split('\t')[0] == 'start_process <strategy> <proc> <arg_list>'
    status, lines = ctl(pristine['s1'], 'help loglevel')
    assert status == 0 and lines[1].split('\t')[0] == 'loglevel lvl'


def test_upcheck_failures(fleet_factory, tmp_path):
    port = find_free_ports(1)[0]
    assert sctl(f'http://127.0.0.1:{port}', 'sstate') == (4, [f'ERROR: http://127.0.0.1:{port} refused connection'])
    socket_path = tmp_path / 'none.sock'
    assert sctl(f'unix://{socket_path}', 'sversion') == (7, [f'ERROR: unix://{socket_path} no such file'])
    # a supervisord without Supvisors
    plain = fleet_factory(['plain'], with_supvisors=False)
    plain.start()
    plain.wait_rpc_ready(timeout=30)
    assert sctl(plain['plain'].url, 'sstatus') == (3, [
        'ERROR: supervisord responded but did not recognize the supvisors namespace commands that supervisorstl'
        ' uses to control it. Please check that the [rpcinterface:supvisors] section is enabled in the'
        ' configuration file.'])


def test_interactive(pristine):
    status, lines = sctl(pristine['s2'].url, '', stdin='sversion\nmaster\nconciliate\n')
    # the loop starts with Supervisor's status, then the commands typed; exit 0 whatever the command statuses
    assert status == 0
    text = '\n'.join(lines)
    assert 'supervisor> 0.15\nsupervisor> s1\nsupervisor> ERROR: conciliate requires a strategy\n' in text


# ----------------------------------------------------------------------------------------------------------------
# control commands
# ----------------------------------------------------------------------------------------------------------------
def test_application_commands(fleet):
    s3 = fleet['s3']
    assert ctl(s3, 'start_application CONFIG web lone foo') == (2, [
        'lone: IGNORED (unmanaged. use start lone:*)', 'foo: ERROR (no such application)', 'web started: True'])
    assert ctl(s3, 'sstatus web:*') == (0, ['Application  Process  State       Expected  Supervisor',
                                            "web          cache    RUNNING     n/a       ['s2']",
                                            "web          server   RUNNING     n/a       ['s1']"])
    assert ctl(s3, 'application_info web') == (0, ['Application  State     Major  Minor  ',
                                                   'web          RUNNING   False  False  '])
    assert ctl(s3, 'start_application CONFIG web') == (1, ['web: ERROR (ALREADY_STARTED: web)'])
    assert sctl(s3.url, 'restart_application LESS_LOADED web') == (0, ['web restarted: True'])
    assert sctl(s3.url, 'stop_application lone web') == (0, ['lone: IGNORED (unmanaged. use stop lone:*)',
                                                             'web stopped: True'])
    assert ctl(s3, 'stop_application web') == (1, ['web: ERROR (NOT_RUNNING: web)'])
    assert ctl(s3, 'restart_application CONFIG foo lone') == (2, ['foo: ERROR (no such application)',
                                                                  'lone: IGNORED (unmanaged. use restart lone:*)'])
    # all: the managed applications, sorted; 'tool' has nothing in its start sequence
    assert ctl(s3, 'start_application CONFIG') == (0, ['tool started: False', 'web started: True',
                                                       'worker started: True'])
    assert ctl(s3, 'stop_application all') == (1, ['tool: ERROR (NOT_RUNNING: tool)', 'web stopped: True',
                                                   'worker stopped: True'])
    assert ctl(s3, 'sstatus') == (0, SSTATUS)


def test_process_commands(fleet):
    s3 = fleet['s3']
    assert ctl(s3, 'start_process CONFIG worker:* lone foo') == (1, [
        'foo: ERROR (BAD_NAME: application foo unknown to Supvisors)', 'lone started: True',
        'worker:* started: True'])
    assert ctl(s3, 'sstatus lone worker:*') == (0, ['Application  Process   State       Expected  Supervisor',
                                                    "lone         lone      RUNNING     n/a       ['s1']",
                                                    "worker       worker_0  RUNNING     n/a       ['s2']",
                                                    "worker       worker_1  RUNNING     n/a       ['s2']"])
    assert ctl(s3, 'start_process CONFIG lone') == (1, ['lone: ERROR (ALREADY_STARTED: lone)'])
    assert sctl(s3.url, 'restart_process LESS_LOADED lone') == (0, ['lone restarted: True'])
    assert sctl(s3.url, 'stop_process worker:* lone') == (0, ['lone stopped', 'worker:* stopped'])
    assert ctl(s3, 'stop_process lone') == (1, ['lone: ERROR (NOT_RUNNING: lone)'])
    # regular expressions are sorted; the first candidate in discovery order is started
    assert ctl(s3, 'start_any_process CONFIG lone ^worker') == (0, ['worker:worker_0 started', 'lone started'])
    assert ctl(s3, 'start_any_process LESS_LOADED lone') == (1, [
        '"lone": ERROR (BAD_NAME: no candidate process matching "lone")'])
    assert sctl(s3.url, 'start_any_process_args CONFIG worker 5') == (0, ['worker:worker_1 started'])
    assert sctl(s3.url, 'start_process_args LESS_LOADED tool 7 8') == (0, ['tool started: True'])
    assert ctl(s3, 'start_process_args CONFIG tool 9') == (1, ['tool: ERROR (ALREADY_STARTED: tool)'])
    # extra arguments as seen on the instance that runs the processes
    status, lines = ctl(fleet['s2'], 'local_status tool worker:*')
    assert status == 0
    assert mask_column(mask_times(lines), 'PID', 8, 'P') == [
        'Application  Process   Disabled  State       Start       Now         PID     Extra args',
        'tool         tool      False     RUNNING     HH:MM:SS    HH:MM:SS    P       7 8',
        'worker       worker_0  False     RUNNING     HH:MM:SS    HH:MM:SS    P       ',
        'worker       worker_1  False     RUNNING     HH:MM:SS    HH:MM:SS    P       5']
    # all: every known process, sorted, running or not
    assert ctl(s3, 'stop_process') == (1, ['lone stopped', 'tool stopped',
                                           'web:cache: ERROR (NOT_RUNNING: web:cache)',
                                           'web:server: ERROR (NOT_RUNNING: web:server)',
                                           'worker:worker_0 stopped', 'worker:worker_1 stopped'])
    assert ctl(s3, 'restart_process CONFIG foo:bar') == (1, [
        'foo:bar: ERROR (BAD_NAME: application foo unknown to Supvisors)'])


def test_start_args(fleet):
    s3 = fleet['s3']
    assert ctl(s3, 'start_args lone 20 30') == (0, ['lone started: True'])
    status, lines = ctl(s3, 'local_status lone')
    assert mask_column(mask_times(lines), 'PID', 8, 'P') == [
        'Application  Process  Disabled  State       Start       Now         PID     Extra args',
        'lone         lone     False     RUNNING     HH:MM:SS    HH:MM:SS    P       20 30']
    fleet.wait_for(lambda: process_states(s3)[('lone', 'lone')] == 'RUNNING', 10, what='lone seen RUNNING')
    assert ctl(s3, 'sstatus lone') == (0, ['Application  Process  State       Expected  Supervisor',
                                           "lone         lone     RUNNING     n/a       ['s3']"])
    assert sctl(s3.url, 'start_args lone 1') == (1, ['lone: ERROR (ALREADY_STARTED: lone)'])
    assert sctl(s3.url, 'start_args foo 1') == (1, ['foo: ERROR (BAD_NAME: application foo unknown to Supvisors)'])


def test_all_start(fleet):
    s3 = fleet['s3']
    assert ctl(s3, 'all_start lone') == (0, ['lone started on s1: True', 'lone started on s2: True',
                                             'lone started on s3: True'])
    fleet.wait_for(lambda: len(split_identifiers(ctl(s3, 'sstatus lone')[1][1])[1]) == 3, 10,
                   what='lone seen on every instance')
    status, lines = ctl(s3, 'sstatus lone')
    assert lines[0] == 'Application  Process  State       Expected  Supervisor'
    assert split_identifiers(lines[1]) == ('lone         lone     RUNNING     n/a       ', {'s1', 's2', 's3'})
    # unmanaged: no conflict
    assert ctl(s3, 'conflicts') == (0, [])
    assert sctl(s3.url, 'all_start lone') == (1, ['lone: ERROR (ALREADY_STARTED: lone)'] * 3)
    assert ctl(s3, 'stop_process lone') == (0, ['lone stopped'])
    assert sctl(s3.url, 'all_start_args lone 40') == (0, ['lone started on s1: True', 'lone started on s2: True',
                                                          'lone started on s3: True'])
    status, lines = ctl(fleet['s1'], 'local_status lone')
    assert mask_column(mask_times(lines), 'PID', 8, 'P')[1] == \
        'lone         lone     False     RUNNING     HH:MM:SS    HH:MM:SS    P       40'
    assert ctl(s3, 'all_start foo') == (1, ['foo: ERROR (BAD_NAME: foo)'] * 3)


def test_conflicts_and_conciliate(fleet):
    s3 = fleet['s3']
    assert ctl(s3, 'all_start tool') == (0, ['tool started on s1: True', 'tool started on s2: True',
                                             'tool started on s3: True'])
    fleet.wait_for(lambda: fsm_states(fleet) == ['CONCILIATION'] * 3, 20, what='CONCILIATION')
    fleet.wait_for(lambda: ctl(s3, 'conflicts')[1][1].count("'") == 6, 10, what='conflict on 3 instances')
    status, lines = ctl(s3, 'conflicts')
    assert (status, lines[0]) == (0, 'Application  Process  State       Supervisor')
    assert split_identifiers(lines[1]) == ('tool         tool     RUNNING     ', {'s1', 's2', 's3'})
    assert ctl(s3, 'sstate') == (0, ['State           Starting  Stopping  ', 'CONCILIATION    []        []        '])
    assert ctl(s3, 'start_process CONFIG lone') == (1, [
        "lone: ERROR (BAD_SUPVISORS_STATE: Supvisors (state=CONCILIATION) not in state ['OPERATION'] to perform"
        " request)"])
    assert ctl(s3, 'update_numprocs worker 3') == (1, [
        "ERROR (BAD_SUPVISORS_STATE: Supvisors (state=CONCILIATION) not in state ['OPERATION'] to perform"
        " request)"])
    assert sctl(s3.url, 'conciliate USER') == (0, ['Conciliated: False'])
    assert sctl(s3.url, 'conciliate STOP') == (0, ['Conciliated: True'])
    wait_operation(fleet)
    fleet.wait_for(lambda: all_stopped(fleet), 20, what='tool stopped everywhere')
    assert ctl(s3, 'conflicts') == (0, [])
    assert ctl(s3, 'conciliate SENICIDE') == (1, [
        "ERROR (BAD_SUPVISORS_STATE: Supvisors (state=OPERATION) not in state ['CONCILIATION'] to perform"
        " request)"])


def test_program_commands(fleet):
    s3 = fleet['s3']
    assert ctl(s3, 'update_numprocs worker 3') == (0, ['worker numprocs updated: True'])
    assert ctl(s3, 'sstatus worker:*') == (0, ['Application  Process   State       Expected  Supervisor',
                                               'worker       worker_0  STOPPED     n/a       []',
                                               'worker       worker_1  STOPPED     n/a       []',
                                               'worker       worker_2  STOPPED     n/a       []'])
    assert sctl(s3.url, 'update_numprocs worker 2') == (0, ['worker numprocs updated: True'])
    assert [line.split()[1] for line in ctl(s3, 'local_status worker:*')[1][1:]] == ['worker_0', 'worker_1']
    assert ctl(s3, 'update_numprocs foo 2') == (1, ['ERROR (BAD_NAME: program foo unknown to Supvisors)'])
    assert ctl(s3, 'update_numprocs lone 2') == (1, [
        'ERROR (SUPVISORS_CONF_ERROR: numprocs not applicable: %(process_num) must be present within process_name'
        ' when numprocs > 1)'])
    # disable: the standard start command reports it
    assert ctl(s3, 'disable tool') == (0, ['tool disabled: True'])
    status, lines = sctl(s3.url, 'local_status tool')
    assert lines[0] == 'Application  Process  Disabled  State       Start       Now         PID     Extra args'
    assert lines[1].split()[:4] == ['tool', 'tool', 'True', 'STOPPED']
    assert ctl(s3, 'start tool') == (1, ['tool: ERROR disabled'])
    assert sctl(s3.url, 'start tool:*') == (1, ['tool: ERROR disabled'])
    assert ctl(s3, 'start_args tool 1') == (1, ['tool: ERROR (DISABLED: tool)'])
    assert sctl(s3.url, 'enable tool') == (0, ['tool enabled: True'])
    assert ctl(s3, 'local_status tool')[1][1].split()[2] == 'False'
    assert ctl(s3, 'disable foo') == (1, ['ERROR (BAD_NAME: program foo unknown to Supvisors)'])
    assert sctl(s3.url, 'enable foo') == (1, ['ERROR (BAD_NAME: program foo unknown to Supvisors)'])


def test_loglevel_and_restart_sequence(fleet):
    s3 = fleet['s3']
    assert ctl(s3, 'loglevel debug') == (0, ['Logger level changed: True'])
    assert sctl(s3.url, 'loglevel info') == (0, ['Logger level changed: True'])
    assert ctl(s3, 'restart_sequence') == (0, ['Start sequence completed: True'])
    wait_operation(fleet)
    # nothing has a start sequence at application level: nothing started
    assert ctl(s3, 'sstatus') == (0, SSTATUS)


def test_start_on_the_receiving_instance(fleet):
    # lone goes to s1 with CONFIG (first instance), and the request is sent to s1 itself
    assert ctl(fleet['s1'], 'start_process CONFIG lone') == (0, ['lone started: True'])


# ----------------------------------------------------------------------------------------------------------------
# Supvisors restart and shutdown
# ----------------------------------------------------------------------------------------------------------------
def starts_logged(instance: LocalInstance) -> int:
    with open(instance.logfile) as stream:
        return stream.read().count('supervisord started with pid')


def test_sreload_and_sshutdown(fleet_factory):
    fleet = fleet_factory(3, options={'core_identifiers': 's1,s2,s3'}, programs=PROGRAMS, rules=RULES)
    fleet.start()
    fleet.wait_rpc_ready(timeout=30)
    wait_operation(fleet)
    assert [starts_logged(x) for x in fleet] == [1, 1, 1]
    assert ctl(fleet['s2'], 'sreload') == (0, ['Restarted: True'])
    wait_for(lambda: [starts_logged(x) for x in fleet] == [2, 2, 2], 30, interval=0.1,
             what='every supervisord restarted')
    wait_operation(fleet)
    assert sctl(fleet['s3'].url, 'sshutdown') == (0, ['Shut down: True'])
    wait_for(lambda: not any(x.alive for x in fleet), 30, interval=0.1, what='every supervisord exited')
    assert ctl(fleet['s1'], 'sstate') == (4, [f'ERROR: {fleet["s1"].url} refused connection'])
