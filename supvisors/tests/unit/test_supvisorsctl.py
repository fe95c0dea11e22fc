"""The supervisorctl extension on a fake server: XML-RPC calls, exact output lines, exit statuses and help texts.

A real Supervisor ``Controller`` runs the commands (so that its generic error handling and help layout apply);
only the server proxy is fake.
"""

import errno
import io
import socket
import time
import xmlrpc.client as xmlrpclib
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from supervisor import xmlrpc as supervisor_xmlrpc
from supervisor.options import ClientOptions
from supervisor.supervisorctl import Controller, ControllerPluginBase, DefaultControllerPlugin

from supvisors import supvisorsctl
from supvisors.supvisorsctl import make_supvisors_controller_plugin

COMMANDS = ['all_start', 'all_start_args', 'application_info', 'application_rules', 'conciliate', 'conflicts',
            'disable', 'enable', 'instance_status', 'local_status', 'loglevel', 'master', 'process_rules',
            'restart_application', 'restart_process', 'restart_sequence', 'sreload', 'sshutdown', 'sstate',
            'sstatus', 'start_any_process', 'start_any_process_args', 'start_application', 'start_args',
            'start_process', 'start_process_args', 'stop_application', 'stop_process', 'strategies', 'sversion',
            'update_numprocs']

STRATEGIES = "['CONFIG', 'LESS_LOADED', 'MOST_LOADED', 'LOCAL', 'LESS_LOADED_NODE', 'MOST_LOADED_NODE']"
CONCILIATIONS = "['SENICIDE', 'INFANTICIDE', 'USER', 'STOP', 'RESTART', 'RUNNING_FAILURE']"


# ----------------------------------------------------------------------------------------------------------------
# fakes
# ----------------------------------------------------------------------------------------------------------------
class FakeServer:
    """XML-RPC proxy recording every call; answers are values, exceptions to raise, or callables of the args."""

    def __init__(self, calls: Optional[List[Tuple[str, tuple]]] = None, label: str = '') -> None:
        self.calls: List[Tuple[str, tuple]] = [] if calls is None else calls
        self.label = label
        self.answers: Dict[str, Any] = {'supvisors.get_api_version': '0.15', 'supervisor.getVersion': '3.0'}

    def __getattr__(self, namespace: str) -> 'FakeNamespace':
        if namespace.startswith('_'):
            raise AttributeError(namespace)
        return FakeNamespace(self, namespace)

    def answer(self, method: str, *args: Any) -> Any:
        # what goes on the wire must be marshallable (e.g. no IntEnum)
        xmlrpclib.dumps(args, allow_none=False)
        self.calls.append((self.label + method, args))
        answer = self.answers.get(method, True)
        if callable(answer) and not isinstance(answer, type):
            answer = answer(*args)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeNamespace:

    def __init__(self, server: FakeServer, name: str) -> None:
        self._server, self._name = server, name

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith('_'):
            raise AttributeError(method)
        return lambda *args: self._server.answer(f'{self._name}.{method}', *args)


class Ctl:
    """A real supervisorctl Controller with the default and the supvisors plugins, on a FakeServer."""

    def __init__(self, serverurl: str = 'http://localhost:9001', username: Optional[str] = 'user',
                 password: Optional[str] = 'pass') -> None:
        self.server = FakeServer()
        self.stdout = io.StringIO()
        self.options = SimpleNamespace(prompt='supervisor', serverurl=serverurl, username=username,
                                       password=password, interactive=False, history_file=None,
                                       plugin_factories=[('default', DefaultControllerPlugin, {}),
                                                         ('supvisors', make_supvisors_controller_plugin, {})],
                                       getServerProxy=lambda: self.server)
        self.controller = Controller(self.options, stdout=self.stdout)
        self.plugin = self.options.plugins[1]

    def set(self, method: str, answer: Any) -> None:
        self.server.answers[method] = answer

    def run(self, line: str) -> List[str]:
        """Run one command line; return the output lines (the exit status is left in self.status)."""
        self.stdout.seek(0)
        self.stdout.truncate()
        self.server.calls.clear()
        self.controller.exitstatus = 0
        self.controller.onecmd(line)
        return self.stdout.getvalue().splitlines()

    @property
    def status(self) -> int:
        return self.controller.exitstatus

    @property
    def calls(self) -> List[Tuple[str, tuple]]:
        return self.server.calls

    def help_lines(self, command: str) -> List[str]:
        saved = self.stdout.getvalue()
        self.stdout.seek(0)
        self.stdout.truncate()
        getattr(self.plugin, f'help_{command}')()
        lines = self.stdout.getvalue().splitlines()
        self.stdout.seek(0)
        self.stdout.truncate()
        self.stdout.write(saved)
        return lines


def fault(code: int, text: str = '') -> xmlrpclib.Fault:
    """A fault as Supervisor's dispatcher sends it: 'NAME: text'."""
    name = supervisor_xmlrpc.getFaultDescription(code)
    return xmlrpclib.Fault(code, f'{name}: {text}' if text else name)


API = ('supvisors.get_api_version', ())


@pytest.fixture
def ctl() -> Ctl:
    return Ctl()


def hms(value: float) -> str:
    return time.strftime('%H:%M:%S', time.localtime(value))


def at(hour: int, minute: int, second: int) -> int:
    """An epoch time whose local clock reads hour:minute:second."""
    return int(time.mktime((2024, 1, 15, hour, minute, second, 0, 0, -1)))


# ----------------------------------------------------------------------------------------------------------------
# data samples
# ----------------------------------------------------------------------------------------------------------------
def instance(identifier: str, node: str, port: int, statecode: int = 2, statename: str = 'RUNNING',
             counter: int = 42, local_time: int = 0, loading: int = 15, fsm: str = 'OPERATION',
             starting: bool = False, stopping: bool = False) -> Dict[str, Any]:
    return {'identifier': identifier, 'node_name': node, 'port': port, 'statecode': statecode,
            'statename': statename, 'sequence_counter': counter, 'remote_time': local_time,
            'local_time': local_time, 'loading': loading, 'fsm_statecode': 3, 'fsm_statename': fsm,
            'starting_jobs': starting, 'stopping_jobs': stopping}


def application(name: str, managed: bool = True, state: str = 'STOPPED', major: bool = False,
                minor: bool = False) -> Dict[str, Any]:
    return {'application_name': name, 'managed': managed, 'statecode': 0, 'statename': state,
            'major_failure': major, 'minor_failure': minor}


def process(group: str, name: str, state: str = 'STOPPED', statecode: int = 0, expected: bool = True,
            identifiers: Optional[List[str]] = None) -> Dict[str, Any]:
    return {'application_name': group, 'process_name': name, 'statecode': statecode, 'statename': state,
            'expected_exit': expected, 'last_event_time': 1700000000.5, 'identifiers': identifiers or [],
            'extra_args': ''}


def local_process(group: str, name: str, state: int = 20, start: int = 0, now: float = 0.0, pid: int = 0,
                  disabled: bool = False, extra_args: str = '') -> Dict[str, Any]:
    return {'name': name, 'group': group, 'state': state, 'statename': 'whatever', 'start': start, 'stop': 0,
            'now': now, 'pid': pid, 'description': '', 'spawnerr': '', 'expected': True, 'startsecs': 1,
            'stopwaitsecs': 10, 'extra_args': extra_args, 'disabled': disabled}


def process_rules(group: str, name: str, start: int = 0, stop: int = 0, required: bool = False,
                  wait_exit: bool = False, loading: int = 0, strategy: str = 'CONTINUE',
                  identifiers: Optional[List[str]] = None) -> Dict[str, Any]:
    return {'identifiers': identifiers or ['*'], 'start_sequence': start, 'stop_sequence': stop,
            'required': required, 'wait_exit': wait_exit, 'expected_loading': loading,
            'starting_failure_strategy': 'ABORT', 'running_failure_strategy': strategy,
            'application_name': group, 'process_name': name}


# ----------------------------------------------------------------------------------------------------------------
# plugin creation and side effects
# ----------------------------------------------------------------------------------------------------------------
def test_factory_returns_a_plugin_with_31_documented_commands(ctl):
    plugin = ctl.plugin
    assert isinstance(plugin, ControllerPluginBase)
    assert plugin.name == 'supvisors'
    commands = sorted(name[3:] for name in dir(plugin) if name.startswith('do_') and name != 'do_help')
    assert commands == COMMANDS
    assert all(callable(getattr(plugin, f'help_{name}')) for name in COMMANDS)
    assert set(COMMANDS) <= set(ctl.controller.vocab)


def test_faults_are_extended():
    Ctl()
    assert (supervisor_xmlrpc.Faults.SUPVISORS_CONF_ERROR, supervisor_xmlrpc.Faults.BAD_SUPVISORS_STATE,
            supervisor_xmlrpc.Faults.NOT_MANAGED, supervisor_xmlrpc.Faults.DISABLED) == (100, 101, 102, 103)
    assert supervisor_xmlrpc.getFaultDescription(103) == 'DISABLED'
    assert supervisor_xmlrpc.getFaultDescription(100) == 'SUPVISORS_CONF_ERROR'


def test_start_result_formatter_is_wrapped_once(ctl):
    default = ctl.options.plugins[0]
    wrapped = default._startresult
    assert wrapped({'status': 103, 'group': 'web', 'name': 'server', 'description': 'DISABLED: web:server'}) == \
        'web:server: ERROR disabled'
    assert wrapped({'status': 103, 'group': 'tool', 'name': 'tool', 'description': ''}) == 'tool: ERROR disabled'
    # other codes: Supervisor's own texts
    assert wrapped({'status': 80, 'group': 'web', 'name': 'server', 'description': 'OK'}) == 'web:server: started'
    assert wrapped({'status': 60, 'group': 'lone', 'name': 'lone', 'description': ''}) == \
        'lone: ERROR (already started)'
    with pytest.raises(ValueError):
        wrapped({'status': 999, 'group': 'lone', 'name': 'lone', 'description': ''})
    # a second plugin on the same controller does not wrap again
    make_supvisors_controller_plugin(ctl.controller)
    assert default._startresult is wrapped


def test_standard_start_prints_disabled(ctl):
    ctl.set('supervisor.startProcess', fault(103, 'tool'))
    assert ctl.run('start tool') == ['tool: ERROR disabled']
    assert ctl.status == 1
    ctl.set('supervisor.startProcessGroup', [
        {'name': 'server', 'group': 'web', 'status': 103, 'description': 'DISABLED: web:server'},
        {'name': 'cache', 'group': 'web', 'status': 80, 'description': 'OK'}])
    assert ctl.run('start web:*') == ['web:server: ERROR disabled', 'web:cache: started']
    assert ctl.status == 1


def test_no_default_plugin_nothing_to_wrap():
    options = SimpleNamespace(prompt='supervisor', plugin_factories=[('supvisors', make_supvisors_controller_plugin,
                                                                      {})])
    controller = Controller(options, stdout=io.StringIO())
    assert options.plugins[0].name == 'supvisors'
    assert controller is options.plugins[0].ctl


# ----------------------------------------------------------------------------------------------------------------
# up-check
# ----------------------------------------------------------------------------------------------------------------
SAMPLE_LINES = {'sversion': 'sversion', 'sstate': 'sstate', 'master': 'master', 'strategies': 'strategies',
                'instance_status': 'instance_status', 'application_info': 'application_info',
                'application_rules': 'application_rules web', 'sstatus': 'sstatus', 'local_status': 'local_status',
                'process_rules': 'process_rules web:server', 'conflicts': 'conflicts',
                'start_application': 'start_application CONFIG web',
                'restart_application': 'restart_application CONFIG web', 'stop_application': 'stop_application web',
                'start_process': 'start_process CONFIG lone', 'start_any_process': 'start_any_process CONFIG lo',
                'start_args': 'start_args lone -x', 'start_process_args': 'start_process_args CONFIG lone -x',
                'start_any_process_args': 'start_any_process_args CONFIG lo -x', 'all_start': 'all_start lone',
                'all_start_args': 'all_start_args lone -x', 'stop_process': 'stop_process lone',
                'restart_process': 'restart_process CONFIG lone', 'update_numprocs': 'update_numprocs worker 2',
                'enable': 'enable tool', 'disable': 'disable tool', 'conciliate': 'conciliate STOP',
                'restart_sequence': 'restart_sequence', 'sreload': 'sreload', 'sshutdown': 'sshutdown',
                'loglevel': 'loglevel debug'}


def test_sample_lines_cover_every_command():
    assert sorted(SAMPLE_LINES) == COMMANDS


@pytest.mark.parametrize('command', COMMANDS)
def test_upcheck_version_mismatch(ctl, command):
    ctl.set('supvisors.get_api_version', '0.14')
    assert ctl.run(SAMPLE_LINES[command]) == [
        'ERROR: this version of supvisorsctl expects to talk to a server with API version 0.15, but the remote'
        ' version is 0.14.']
    assert ctl.status == 5
    assert ctl.calls == [API]


@pytest.mark.parametrize('command', COMMANDS)
def test_upcheck_unknown_method(ctl, command):
    ctl.set('supvisors.get_api_version', fault(1))
    assert ctl.run(SAMPLE_LINES[command]) == [
        'ERROR: supervisord responded but did not recognize the supvisors namespace commands that supervisorstl'
        ' uses to control it. Please check that the [rpcinterface:supvisors] section is enabled in the'
        ' configuration file.']
    assert ctl.status == 3
    assert ctl.calls == [API]


@pytest.mark.parametrize('command', COMMANDS)
def test_upcheck_connection_refused(command):
    ctl = Ctl(serverurl='http://10.0.0.1:60000')
    ctl.set('supvisors.get_api_version', ConnectionRefusedError(errno.ECONNREFUSED, 'Connection refused'))
    assert ctl.run(SAMPLE_LINES[command]) == ['ERROR: http://10.0.0.1:60000 refused connection']
    assert ctl.status == 4
    assert ctl.calls == [API]


@pytest.mark.parametrize('command', COMMANDS)
def test_upcheck_no_such_file(command):
    ctl = Ctl(serverurl='unix:///tmp/supervisor.sock')
    ctl.set('supvisors.get_api_version', FileNotFoundError(errno.ENOENT, 'No such file or directory'))
    assert ctl.run(SAMPLE_LINES[command]) == ['ERROR: unix:///tmp/supervisor.sock no such file']
    assert ctl.status == 7


@pytest.mark.parametrize('error', [fault(2), socket.error(errno.ETIMEDOUT, 'timed out'), socket.error()])
def test_upcheck_other_errors_are_raised_to_the_controller(ctl, error):
    ctl.set('supvisors.get_api_version', error)
    lines = ctl.run('sstate')
    assert len(lines) == 1 and lines[0].startswith('error: ')
    assert ctl.status == 1
    assert ctl.calls == [API]


def test_upcheck_direct_call_sets_generic_before_raising(ctl):
    ctl.set('supvisors.get_api_version', fault(2))
    with pytest.raises(xmlrpclib.Fault):
        ctl.plugin._upcheck()
    assert ctl.status == 1


# ----------------------------------------------------------------------------------------------------------------
# global status commands
# ----------------------------------------------------------------------------------------------------------------
def test_sversion(ctl):
    assert ctl.run('sversion') == ['0.15']
    assert ctl.calls == [API, API]
    assert ctl.status == 0


def test_sstate(ctl):
    ctl.set('supvisors.get_supvisors_state', {'fsm_statecode': 3, 'fsm_statename': 'OPERATION',
                                              'starting_jobs': ['node_a'], 'stopping_jobs': []})
    lines = ctl.run('sstate')
    assert lines == ['State           Starting    Stopping  ',
                     "OPERATION       ['node_a']  []        "]
    assert ctl.calls == [API, ('supvisors.get_supvisors_state', ())]
    assert ctl.status == 0
    ctl.set('supvisors.get_supvisors_state', {'fsm_statecode': 1, 'fsm_statename': 'INITIALIZATION',
                                              'starting_jobs': [], 'stopping_jobs': ['alpha', 'beta']})
    assert ctl.run('sstate') == ['State           Starting  Stopping           ',
                                 "INITIALIZATION  []        ['alpha', 'beta']  "]


def test_master(ctl):
    ctl.set('supvisors.get_master_identifier', 'node_a')
    assert ctl.run('master') == ['node_a']
    assert ctl.calls == [API, ('supvisors.get_master_identifier', ())]
    ctl.set('supvisors.get_master_identifier', '')
    assert ctl.run('master') == ['']


def test_strategies(ctl):
    ctl.set('supvisors.get_strategies', {'auto-fencing': True, 'starting': 'LESS_LOADED', 'conciliation': 'USER'})
    assert ctl.run('strategies') == ['Auto-fencing: True', 'Conciliation: USER', 'Starting:     LESS_LOADED']
    assert ctl.calls == [API, ('supvisors.get_strategies', ())]


@pytest.mark.parametrize('line, method', [('sversion', 'get_api_version'), ('sstate', 'get_supvisors_state'),
                                          ('master', 'get_master_identifier'), ('strategies', 'get_strategies'),
                                          ('instance_status', 'get_all_instances_info'),
                                          ('application_info', 'get_all_applications_info'),
                                          ('conflicts', 'get_conflicts')])
def test_global_faults(ctl, line, method):
    # sversion calls get_api_version twice: the up-check one succeeds
    answers = iter(['0.15', fault(101, 'Supvisors (state=OFF) not in state [...]')])
    ctl.set(f'supvisors.{method}', (lambda: next(answers)) if method == 'get_api_version'
            else fault(101, 'Supvisors (state=OFF) not in state [...]'))
    assert ctl.run(line) == ['ERROR (BAD_SUPVISORS_STATE: Supvisors (state=OFF) not in state [...])']
    assert ctl.status == 1


def test_instance_status_spec_example(ctl):
    ctl.set('supvisors.get_all_instances_info', [instance('node_a', '10.0.0.1', 60000, local_time=at(14, 2, 11))])
    assert ctl.run('instance_status') == [
        'Supervisor  Node      Port   State      Load  Time      Counter  FSM             Starting  Stopping  ',
        'node_a      10.0.0.1  60000  RUNNING    15%   14:02:11  42       OPERATION       False     False     ']
    assert ctl.calls == [API, ('supvisors.get_all_instances_info', ())]


INSTANCES = [instance('alpha', '10.0.0.1', 60000, local_time=at(9, 5, 0), loading=0, counter=7),
             instance('supervisor_beta', 'host-beta.example', 7777, statecode=3, statename='SILENT',
                      local_time=at(23, 59, 59), loading=100, counter=123456789, fsm='OFF', starting=True),
             instance('gamma', '10.0.0.3', 60000, statecode=5, statename='ISOLATED', local_time=0, loading=5,
                      counter=0, fsm='CONCILIATION', stopping=True)]


def test_instance_status_all_and_filters(ctl):
    ctl.set('supvisors.get_all_instances_info', INSTANCES)
    expected_all = [
        'Supervisor       Node               Port   State      Load  Time      Counter  FSM             Starting'
        '  Stopping  ',
        'alpha            10.0.0.1           60000  RUNNING    0%    09:05:00  7        OPERATION       False   '
        '  False     ',
        'supervisor_beta  host-beta.example  7777   SILENT     100%  23:59:59  123456789OFF             True    '
        '  False     ',
        f'gamma            10.0.0.3           60000  ISOLATED   5%    {hms(0)}  0        CONCILIATION    False   '
        '  True      ']
    assert ctl.run('instance_status') == expected_all
    assert ctl.run('instance_status all') == expected_all
    assert ctl.run('instance_status gamma all') == expected_all
    # widths are computed on the selected rows; unknown identifiers are ignored
    assert ctl.run('instance_status gamma unknown alpha') == [
        'Supervisor  Node      Port   State      Load  Time      Counter  FSM             Starting  Stopping  ',
        'alpha       10.0.0.1  60000  RUNNING    0%    09:05:00  7        OPERATION       False     False     ',
        f'gamma       10.0.0.3  60000  ISOLATED   5%    {hms(0)}  0        CONCILIATION    False     True      ']
    assert ctl.calls == [API, ('supvisors.get_all_instances_info', ())]
    # title printed whenever the call succeeds
    assert ctl.run('instance_status unknown') == [
        'Supervisor  Node  Port   State      Load  Time      Counter  FSM             Starting  Stopping  ']
    ctl.set('supvisors.get_all_instances_info', [])
    assert ctl.run('instance_status') == [
        'Supervisor  Node  Port   State      Load  Time      Counter  FSM             Starting  Stopping  ']
    assert ctl.status == 0


APPLICATIONS = [application('web', state='RUNNING', minor=True), application('lone', managed=False),
                application('a_very_long_application', state='STOPPING', major=True), application('db')]


def test_application_info(ctl):
    ctl.set('supvisors.get_all_applications_info', APPLICATIONS)
    expected = ['Application              State     Major  Minor  ',
                'web                      RUNNING   False  True   ',
                'lone                     STOPPED   False  False  ',
                'a_very_long_application  STOPPING  True   False  ',
                'db                       STOPPED   False  False  ']
    assert ctl.run('application_info') == expected
    assert ctl.run('application_info db all') == expected
    assert ctl.calls == [API, ('supvisors.get_all_applications_info', ())]
    assert ctl.run('application_info db web foo') == ['Application  State     Major  Minor  ',
                                                      'web          RUNNING   False  True   ',
                                                      'db           STOPPED   False  False  ']
    assert ctl.run('application_info foo') == ['Application  State     Major  Minor  ']
    assert ctl.status == 0


RULES = {'web': {'managed': True, 'distribution': 'SINGLE_INSTANCE', 'identifiers': ['node_a', 'node_b'],
                 'start_sequence': 1, 'stop_sequence': 12, 'starting_strategy': 'LESS_LOADED_NODE',
                 'starting_failure_strategy': 'CONTINUE', 'running_failure_strategy': 'RESTART_APPLICATION',
                 'application_name': 'web'},
         'lone': {'managed': False, 'application_name': 'lone'},
         'db': {'managed': True, 'distribution': 'ALL_INSTANCES', 'identifiers': ['*'], 'start_sequence': 0,
                'stop_sequence': 0, 'starting_strategy': 'CONFIG', 'starting_failure_strategy': 'ABORT',
                'running_failure_strategy': 'CONTINUE', 'application_name': 'db'}}


def rules_answer(name: str) -> Any:
    return RULES.get(name, fault(10, f'application {name} unknown to Supvisors'))


def test_application_rules_all(ctl):
    ctl.set('supvisors.get_all_applications_info', [application('web'), application('lone', managed=False),
                                                    application('db')])
    ctl.set('supvisors.get_application_rules', rules_answer)
    expected = [
        'Application  Managed  Distribution     Supervisor            Start  Stop   Starting          '
        'Starting_Failure  Running_Failure',
        "web          True     SINGLE_INSTANCE  ['node_a', 'node_b']  1      12     LESS_LOADED_NODE  "
        'CONTINUE          RESTART_APPLICATION',
        'lone         False    n/a              n/a                   n/a    n/a    n/a               '
        'n/a               n/a',
        "db           True     ALL_INSTANCES    ['*']                 0      0      CONFIG            "
        'ABORT             CONTINUE']
    assert ctl.run('application_rules') == expected
    assert ctl.calls == [API, ('supvisors.get_all_applications_info', ()),
                         ('supvisors.get_application_rules', ('web',)),
                         ('supvisors.get_application_rules', ('lone',)),
                         ('supvisors.get_application_rules', ('db',))]
    assert ctl.run('application_rules lone all') == expected
    assert ctl.status == 0


def test_application_rules_selection_and_faults(ctl):
    ctl.set('supvisors.get_application_rules', rules_answer)
    assert ctl.run('application_rules lone foo db') == [
        'foo: ERROR (BAD_NAME: application foo unknown to Supvisors)',
        'Application  Managed  Distribution     Supervisor  Start  Stop   Starting          Starting_Failure  '
        'Running_Failure',
        'lone         False    n/a              n/a         n/a    n/a    n/a               n/a               n/a',
        "db           True     ALL_INSTANCES    ['*']       0      0      CONFIG            ABORT             "
        'CONTINUE']
    assert ctl.status == 1
    assert ctl.calls == [API, ('supvisors.get_application_rules', ('lone',)),
                         ('supvisors.get_application_rules', ('foo',)),
                         ('supvisors.get_application_rules', ('db',))]
    # nothing but errors: no title
    assert ctl.run('application_rules foo') == ['foo: ERROR (BAD_NAME: application foo unknown to Supvisors)']
    # the initial fetch fails: error, then an empty list
    ctl.set('supvisors.get_all_applications_info', fault(101, 'not now'))
    assert ctl.run('application_rules') == ['ERROR (BAD_SUPVISORS_STATE: not now)']
    assert ctl.status == 1
    assert ctl.calls == [API, ('supvisors.get_all_applications_info', ())]


PROCESSES = [process('web', 'server', 'RUNNING', 20, identifiers=['node_a']),
             process('web', 'backend_01', 'EXITED', 100, expected=False),
             process('lone', 'lone', 'EXITED', 100, expected=True),
             process('db', 'db', 'BACKOFF', 30, identifiers=['node_a', 'node_b']),
             process('web', 'cache', 'STOPPING', 40, identifiers=['node_b'])]


def test_sstatus_all(ctl):
    ctl.set('supvisors.get_all_process_info', PROCESSES)
    expected = ['Application  Process     State       Expected  Supervisor',
                "web          server      RUNNING     n/a       ['node_a']",
                'web          backend_01  EXITED      False     []',
                'lone         lone        EXITED      True      []',
                "db           db          BACKOFF     n/a       ['node_a', 'node_b']",
                "web          cache       STOPPING    n/a       ['node_b']"]
    assert ctl.run('sstatus') == expected
    assert ctl.calls == [API, ('supvisors.get_all_process_info', ())]
    assert ctl.run('sstatus web:server all') == expected
    ctl.set('supvisors.get_all_process_info', [])
    assert ctl.run('sstatus') == []
    ctl.set('supvisors.get_all_process_info', fault(101, 'not now'))
    assert ctl.run('sstatus') == ['ERROR (BAD_SUPVISORS_STATE: not now)']
    assert ctl.status == 1


def test_sstatus_spec_example(ctl):
    ctl.set('supvisors.get_process_info', [process('web', 'backend_01', 'EXITED', 100, expected=False)])
    assert ctl.run('sstatus web:backend_01') == ['Application  Process     State       Expected  Supervisor',
                                                 'web          backend_01  EXITED      False     []']


def test_sstatus_selection(ctl):
    def answer(namespec):
        if namespec == 'web:*':
            return PROCESSES[0:2]
        if namespec == 'lone':
            return [PROCESSES[2]]
        return fault(10, f'application {namespec.split(":")[0]} unknown to Supvisors')
    ctl.set('supvisors.get_process_info', answer)
    assert ctl.run('sstatus lone foo:bar web:*') == [
        'foo:bar: ERROR (BAD_NAME: application foo unknown to Supvisors)',
        'Application  Process     State       Expected  Supervisor',
        'lone         lone        EXITED      True      []',
        "web          server      RUNNING     n/a       ['node_a']",
        'web          backend_01  EXITED      False     []']
    assert ctl.calls == [API, ('supvisors.get_process_info', ('lone',)), ('supvisors.get_process_info', ('foo:bar',)),
                         ('supvisors.get_process_info', ('web:*',))]
    assert ctl.status == 1
    assert ctl.run('sstatus foo') == ['foo: ERROR (BAD_NAME: application foo unknown to Supvisors)']


LOCALS = [local_process('db', 'db', 20, start=at(8, 0, 0), now=float(at(9, 30, 15)), pid=1234),
          local_process('web', 'server', 0, now=float(at(9, 30, 15)), disabled=True),
          local_process('web', 'cache', 200, start=at(8, 1, 2), now=float(at(9, 30, 15)), extra_args='-v -x 2'),
          local_process('web_admin', 'console', 1000, start=at(8, 1, 2), now=0.0, pid=987654321)]


def test_local_status_all(ctl):
    ctl.set('supvisors.get_all_local_process_info', LOCALS)
    expected = ['Application  Process  Disabled  State       Start       Now         PID     Extra args',
                'db           db       False     RUNNING     08:00:00    09:30:15    1234    ',
                'web          server   True      STOPPED     0           09:30:15    0       ',
                'web          cache    False     FATAL       08:01:02    09:30:15    0       -v -x 2',
                'web_admin    console  False     UNKNOWN     08:01:02    0           987654321']
    assert ctl.run('local_status') == expected
    assert ctl.run('local_status web all') == expected
    assert ctl.calls == [API, ('supvisors.get_all_local_process_info', ())]
    assert ctl.status == 0


def test_local_status_filters(ctl):
    ctl.set('supvisors.get_all_local_process_info', LOCALS)
    # group:* / group: / group:name / bare name (group == name); rows appended per argument, duplicates kept
    assert ctl.run('local_status web:cache db web: web_admin:* foo web:cache') == [
        'Application  Process  Disabled  State       Start       Now         PID     Extra args',
        'web          cache    False     FATAL       08:01:02    09:30:15    0       -v -x 2',
        'db           db       False     RUNNING     08:00:00    09:30:15    1234    ',
        'web          server   True      STOPPED     0           09:30:15    0       ',
        'web          cache    False     FATAL       08:01:02    09:30:15    0       -v -x 2',
        'web_admin    console  False     UNKNOWN     08:01:02    0           987654321',
        'web          cache    False     FATAL       08:01:02    09:30:15    0       -v -x 2']
    assert ctl.calls == [API, ('supvisors.get_all_local_process_info', ())]
    # 'web' means web:web
    assert ctl.run('local_status web foo') == []
    ctl.set('supvisors.get_all_local_process_info', fault(6))
    assert ctl.run('local_status db') == ['ERROR (SHUTDOWN_STATE)']
    assert ctl.status == 1


def test_process_rules_all_sorted(ctl):
    ctl.set('supvisors.get_all_process_info', [process('web', 'server'), process('lone', 'lone'),
                                               process('db', 'db')])
    answers = {'web:server': [process_rules('web', 'server', 1, 2, True, False, 10, 'RESTART_APPLICATION',
                                            ['node_a', 'node_b'])],
               'lone': [process_rules('lone', 'lone')],
               'db': [process_rules('db', 'db', 3, 3, False, True, 100, 'STOP_APPLICATION', ['#'])]}
    ctl.set('supvisors.get_process_rules', lambda namespec: answers[namespec])
    expected = ['Application  Process  Start  Stop   Required    WaitExit    Loading     Strategy              '
                'Supervisor',
                'db           db       3      3      False       True        100%        STOP_APPLICATION      '
                "['#']",
                'lone         lone     0      0      False       False       0%          CONTINUE              '
                "['*']",
                'web          server   1      2      True        False       10%         RESTART_APPLICATION   '
                "['node_a', 'node_b']"]
    assert ctl.run('process_rules') == expected
    assert ctl.calls == [API, ('supvisors.get_all_process_info', ()), ('supvisors.get_process_rules', ('db',)),
                         ('supvisors.get_process_rules', ('lone',)), ('supvisors.get_process_rules', ('web:server',))]
    assert ctl.run('process_rules lone all') == expected
    ctl.set('supvisors.get_all_process_info', fault(101, 'not now'))
    assert ctl.run('process_rules') == ['ERROR (BAD_SUPVISORS_STATE: not now)']
    assert ctl.status == 1


def test_process_rules_selection(ctl):
    def answer(namespec):
        if namespec == 'web:*':
            return [process_rules('web', 'server'), process_rules('web', 'cache_server', 1, 1)]
        return fault(10, f'application {namespec} unknown to Supvisors')
    ctl.set('supvisors.get_process_rules', answer)
    assert ctl.run('process_rules web:* foo') == [
        'foo: ERROR (BAD_NAME: application foo unknown to Supvisors)',
        'Application  Process       Start  Stop   Required    WaitExit    Loading     Strategy              '
        'Supervisor',
        "web          server        0      0      False       False       0%          CONTINUE              ['*']",
        "web          cache_server  1      1      False       False       0%          CONTINUE              ['*']"]
    # argument list sorted as well
    assert ctl.calls == [API, ('supvisors.get_process_rules', ('foo',)), ('supvisors.get_process_rules', ('web:*',))]
    assert ctl.status == 1


def test_conflicts(ctl):
    ctl.set('supvisors.get_conflicts', [process('web', 'server', 'RUNNING', 20, identifiers=['node_a', 'node_b']),
                                        process('database', 'db', 'STOPPING', 40, identifiers=['b', 'c'])])
    assert ctl.run('conflicts') == ['Application  Process  State       Supervisor',
                                    "web          server   RUNNING     ['node_a', 'node_b']",
                                    "database     db       STOPPING    ['b', 'c']"]
    assert ctl.calls == [API, ('supvisors.get_conflicts', ())]
    ctl.set('supvisors.get_conflicts', [])
    assert ctl.run('conflicts') == []
    assert ctl.status == 0


# ----------------------------------------------------------------------------------------------------------------
# application control
# ----------------------------------------------------------------------------------------------------------------
APPLICATION_MAP = [application('web'), application('lone', managed=False), application('db'), application('api')]


@pytest.mark.parametrize('command, verb, done, strategy', [('start_application', 'start', 'started', True),
                                                           ('restart_application', 'restart', 'restarted', True),
                                                           ('stop_application', 'stop', 'stopped', False)])
def test_application_commands(ctl, command, verb, done, strategy):
    ctl.set('supvisors.get_all_applications_info', APPLICATION_MAP)
    ctl.set(f'supvisors.{command}', lambda *args: fault(60, args[-1]) if args[-1] == 'db' else True)
    head = 'LESS_LOADED ' if strategy else ''
    prefix = (1,) if strategy else ()
    # all: managed applications sorted by name
    for line in (f'{command} {head}'.strip(), f'{command} {head}web all'):
        assert ctl.run(line) == [f'api {done}: True', 'db: ERROR (ALREADY_STARTED: db)', f'web {done}: True']
        assert ctl.status == 1
        assert ctl.calls == [API, ('supvisors.get_all_applications_info', ()),
                             (f'supvisors.{command}', prefix + ('api',)), (f'supvisors.{command}', prefix + ('db',)),
                             (f'supvisors.{command}', prefix + ('web',))]
    # selection in argument order: unmanaged ignored, unknown refused
    assert ctl.run(f'{command} {head}web lone foo api') == [
        f'lone: IGNORED (unmanaged. use {verb} lone:*)', 'foo: ERROR (no such application)',
        f'web {done}: True', f'api {done}: True']
    assert ctl.status == 2
    assert ctl.calls[2:] == [(f'supvisors.{command}', prefix + ('web',)), (f'supvisors.{command}', prefix + ('api',))]
    assert ctl.run(f'{command} {head}lone') == [f'lone: IGNORED (unmanaged. use {verb} lone:*)']
    assert ctl.status == 0
    # the map cannot be fetched: nothing else
    ctl.set('supvisors.get_all_applications_info', fault(101, 'not now'))
    assert ctl.run(f'{command} {head}web') == ['ERROR (BAD_SUPVISORS_STATE: not now)']
    assert ctl.status == 1
    assert ctl.calls == [API, ('supvisors.get_all_applications_info', ())]


def test_application_result_printed_as_is(ctl):
    ctl.set('supvisors.get_all_applications_info', APPLICATION_MAP)
    ctl.set('supvisors.start_application', False)
    assert ctl.run('start_application CONFIG web') == ['web started: False']
    assert ctl.calls[-1] == ('supvisors.start_application', (0, 'web'))


@pytest.mark.parametrize('name, value', [('CONFIG', 0), ('LESS_LOADED', 1), ('MOST_LOADED', 2), ('LOCAL', 3),
                                         ('LESS_LOADED_NODE', 4), ('MOST_LOADED_NODE', 5)])
def test_strategies_sent_as_integers(ctl, name, value):
    ctl.set('supvisors.get_all_applications_info', APPLICATION_MAP)
    ctl.set('supvisors.start_any_process', 'lone')
    lines = [f'start_application {name} web', f'restart_application {name} web', f'start_process {name} lone',
             f'start_any_process {name} lo', f'start_process_args {name} lone -x',
             f'start_any_process_args {name} lo -x', f'restart_process {name} lone']
    for line in lines:
        ctl.run(line)
        method, args = ctl.calls[-1]
        assert args[0] == value and type(args[0]) is int, line
    ctl.run('conciliate USER')
    assert ctl.calls[-1] == ('supvisors.conciliate', (2,)) and type(ctl.calls[-1][1][0]) is int


@pytest.mark.parametrize('line, command', [('start_application config web', 'start_application'),
                                           ('restart_application Foo', 'restart_application'),
                                           ('start_process LESS web', 'start_process'),
                                           ('start_any_process local x', 'start_any_process'),
                                           ('start_process_args 1 lone x', 'start_process_args'),
                                           ('start_any_process_args CONFIGX x y', 'start_any_process_args')])
def test_unknown_starting_strategy(ctl, line, command):
    assert ctl.run(line) == [f'ERROR: unknown strategy for {command}. use one of {STRATEGIES}'] + \
        ctl.help_lines(command)
    assert ctl.status == 2
    assert ctl.calls == [API]


def test_unknown_strategy_restart_process(ctl):
    assert ctl.run('restart_process less_loaded lone') == [f'ERROR: unknown strategy=less_loaded. use one of '
                                                           f'{STRATEGIES}'] + ctl.help_lines('restart_process')
    assert ctl.status == 2
    assert ctl.calls == [API]


def test_unknown_conciliation_strategy(ctl):
    assert ctl.run('conciliate CONFIG') == [f'ERROR: unknown strategy for conciliate. use one of {CONCILIATIONS}'] \
        + ctl.help_lines('conciliate')
    assert ctl.status == 2


# ----------------------------------------------------------------------------------------------------------------
# process control
# ----------------------------------------------------------------------------------------------------------------
ALL_PROCESSES = [process('web', 'server'), process('lone', 'lone'), process('db', 'db'), process('web', 'cache')]


def test_start_process(ctl):
    ctl.set('supvisors.get_all_process_info', ALL_PROCESSES)
    ctl.set('supvisors.start_process', lambda strategy, namespec: fault(60, namespec) if namespec == 'lone' else True)
    expected = ['db started: True', 'lone: ERROR (ALREADY_STARTED: lone)', 'web:cache started: True',
                'web:server started: True']
    assert ctl.run('start_process MOST_LOADED') == expected
    assert ctl.status == 1
    assert ctl.calls == [API, ('supvisors.get_all_process_info', ()), ('supvisors.start_process', (2, 'db')),
                         ('supvisors.start_process', (2, 'lone')), ('supvisors.start_process', (2, 'web:cache')),
                         ('supvisors.start_process', (2, 'web:server'))]
    assert ctl.run('start_process MOST_LOADED db all') == expected
    # arguments sorted too
    assert ctl.run('start_process CONFIG web:* db') == ['db started: True', 'web:* started: True']
    assert ctl.calls == [API, ('supvisors.start_process', (0, 'db')), ('supvisors.start_process', (0, 'web:*'))]
    assert ctl.status == 0
    ctl.set('supvisors.get_all_process_info', fault(101, 'not now'))
    assert ctl.run('start_process CONFIG') == ['ERROR (BAD_SUPVISORS_STATE: not now)']
    assert ctl.status == 1


def test_start_any_process(ctl):
    ctl.set('supvisors.start_any_process', lambda strategy, regex: fault(10, f'no candidate process matching'
                                                                             f' "{regex}"') if regex == 'xx'
            else f'web:{regex}')
    assert ctl.run('start_any_process LOCAL xx ser ^c') == [
        'web:^c started', 'web:ser started', '"xx": ERROR (BAD_NAME: no candidate process matching "xx")']
    assert ctl.calls == [API, ('supvisors.start_any_process', (3, '^c')), ('supvisors.start_any_process', (3, 'ser')),
                         ('supvisors.start_any_process', (3, 'xx'))]
    assert ctl.status == 1


def test_start_args(ctl):
    assert ctl.run('start_args web:server -v  --x=1 2') == ['web:server started: True']
    assert ctl.calls == [API, ('supvisors.start_args', ('web:server', '-v --x=1 2'))]
    assert ctl.status == 0
    ctl.set('supvisors.start_args', fault(20, 'bad command'))
    assert ctl.run('start_args web:server -v') == ['web:server: ERROR (NO_FILE: bad command)']
    assert ctl.status == 1


def test_start_process_args(ctl):
    assert ctl.run('start_process_args LESS_LOADED web:server -v 2') == ['web:server started: True']
    assert ctl.calls == [API, ('supvisors.start_process', (1, 'web:server', '-v 2'))]
    ctl.set('supvisors.start_process', fault(40, 'web:server'))
    assert ctl.run('start_process_args CONFIG web:server -v') == [
        'web:server: ERROR (ABNORMAL_TERMINATION: web:server)']
    assert ctl.status == 1


def test_start_any_process_args(ctl):
    ctl.set('supvisors.start_any_process', 'web:server')
    assert ctl.run('start_any_process_args MOST_LOADED_NODE ^web -v 2') == ['web:server started']
    assert ctl.calls == [API, ('supvisors.start_any_process', (5, '^web', '-v 2'))]
    ctl.set('supvisors.start_any_process', fault(10, 'no candidate process matching "^web"'))
    assert ctl.run('start_any_process_args CONFIG ^web -v') == [
        '"^web": ERROR (BAD_NAME: no candidate process matching "^web")']
    assert ctl.status == 1


def test_stop_process(ctl):
    ctl.set('supvisors.get_all_process_info', ALL_PROCESSES)
    ctl.set('supvisors.stop_process', lambda namespec: fault(70, namespec) if namespec == 'db' else True)
    assert ctl.run('stop_process') == ['db: ERROR (NOT_RUNNING: db)', 'lone stopped', 'web:cache stopped',
                                       'web:server stopped']
    assert ctl.calls == [API, ('supvisors.get_all_process_info', ()), ('supvisors.stop_process', ('db',)),
                         ('supvisors.stop_process', ('lone',)), ('supvisors.stop_process', ('web:cache',)),
                         ('supvisors.stop_process', ('web:server',))]
    assert ctl.status == 1
    assert ctl.run('stop_process web:* lone') == ['lone stopped', 'web:* stopped']
    assert ctl.status == 0
    # the result itself is not printed
    ctl.set('supvisors.stop_process', False)
    assert ctl.run('stop_process lone') == ['lone stopped']


def test_restart_process(ctl):
    ctl.set('supvisors.get_all_process_info', ALL_PROCESSES)
    ctl.set('supvisors.restart_process', lambda strategy, namespec: fault(40, f'failed restarting {namespec}')
            if namespec == 'web:cache' else True)
    assert ctl.run('restart_process LOCAL') == ['db restarted: True', 'lone restarted: True',
                                                'web:cache: ERROR (ABNORMAL_TERMINATION: failed restarting web:cache)',
                                                'web:server restarted: True']
    assert ctl.calls[1:3] == [('supvisors.get_all_process_info', ()), ('supvisors.restart_process', (3, 'db'))]
    assert ctl.status == 1
    assert ctl.run('restart_process CONFIG lone db') == ['db restarted: True', 'lone restarted: True']
    assert ctl.calls == [API, ('supvisors.restart_process', (0, 'db')), ('supvisors.restart_process', (0, 'lone'))]
    assert ctl.status == 0


class Fleet:
    """Per-URL fake proxies for all_start / all_start_args."""

    def __init__(self, monkeypatch, ctl: Ctl) -> None:
        self.calls = ctl.server.calls
        self.created: List[Tuple[str, Optional[str], Optional[str]]] = []
        self.servers: Dict[str, FakeServer] = {}

        def make_server_proxy(url, username, password):
            self.created.append((url, username, password))
            return self.servers.setdefault(url, FakeServer(self.calls, label=f'{url} '))
        monkeypatch.setattr(supvisorsctl, 'make_server_proxy', make_server_proxy)

    def server(self, url: str) -> FakeServer:
        return self.servers.setdefault(url, FakeServer(self.calls, label=f'{url} '))


def test_all_start(monkeypatch, ctl):
    fleet = Fleet(monkeypatch, ctl)
    ctl.set('supvisors.get_all_instances_info', INSTANCES + [instance('delta', '10.0.0.4', 61000)])
    fleet.server('http://10.0.0.4:61000').answers['supervisor.startProcess'] = fault(60, 'web:server')
    assert ctl.run('all_start web:server') == ['web:server started on alpha: True',
                                               'web:server: ERROR (ALREADY_STARTED: web:server)']
    assert ctl.status == 1
    assert ctl.calls == [API, ('supvisors.get_all_instances_info', ()),
                         ('http://10.0.0.1:60000 supervisor.startProcess', ('web:server', False)),
                         ('http://10.0.0.4:61000 supervisor.startProcess', ('web:server', False))]
    assert fleet.created == [('http://10.0.0.1:60000', 'user', 'pass'), ('http://10.0.0.4:61000', 'user', 'pass')]


def test_all_start_args(monkeypatch, ctl):
    Fleet(monkeypatch, ctl)
    ctl.set('supvisors.get_all_instances_info', INSTANCES + [instance('delta', '10.0.0.4', 61000)])
    assert ctl.run('all_start_args web:server -v 2') == ['web:server started on alpha: True',
                                                         'web:server started on delta: True']
    assert ctl.status == 0
    assert ctl.calls == [API, ('supvisors.get_all_instances_info', ()),
                         ('http://10.0.0.1:60000 supvisors.start_args', ('web:server', '-v 2', False)),
                         ('http://10.0.0.4:61000 supvisors.start_args', ('web:server', '-v 2', False))]


def test_all_start_without_running_instance(monkeypatch, ctl):
    fleet = Fleet(monkeypatch, ctl)
    ctl.set('supvisors.get_all_instances_info', INSTANCES[1:])
    assert ctl.run('all_start lone') == ['ERROR: no running Supvisors instance']
    assert ctl.status == 0
    assert ctl.run('all_start_args lone -x') == ['ERROR: no running Supvisors instance']
    assert ctl.status == 0
    ctl.set('supvisors.get_all_instances_info', fault(2))
    assert ctl.run('all_start lone') == ['ERROR (INCORRECT_PARAMETERS)', 'ERROR: no running Supvisors instance']
    assert ctl.status == 1
    assert fleet.created == []


def test_make_server_proxy_uses_credentials():
    proxy = supvisorsctl.make_server_proxy('http://10.0.0.1:60000', 'user', 'pass')
    transport = proxy._ServerProxy__transport
    assert (transport.serverurl, transport.username, transport.password) == ('http://10.0.0.1:60000', 'user', 'pass')


# ----------------------------------------------------------------------------------------------------------------
# program and Supvisors control
# ----------------------------------------------------------------------------------------------------------------
def test_update_numprocs(ctl):
    assert ctl.run('update_numprocs worker 3') == ['worker numprocs updated: True']
    assert ctl.calls == [API, ('supvisors.update_numprocs', ('worker', 3))]
    ctl.set('supvisors.update_numprocs', fault(100, 'numprocs not applicable: bad'))
    assert ctl.run('update_numprocs worker 3') == ['ERROR (SUPVISORS_CONF_ERROR: numprocs not applicable: bad)']
    assert ctl.status == 1


@pytest.mark.parametrize('command, done', [('enable', 'enabled'), ('disable', 'disabled')])
def test_enable_disable(ctl, command, done):
    assert ctl.run(f'{command} worker') == [f'worker {done}: True']
    assert ctl.calls == [API, (f'supvisors.{command}', ('worker',))]
    assert ctl.status == 0
    ctl.set(f'supvisors.{command}', fault(10, 'program foo unknown to Supvisors'))
    assert ctl.run(f'{command} foo') == ['ERROR (BAD_NAME: program foo unknown to Supvisors)']
    assert ctl.status == 1


@pytest.mark.parametrize('name, value', [('SENICIDE', 0), ('INFANTICIDE', 1), ('USER', 2), ('STOP', 3),
                                         ('RESTART', 4), ('RUNNING_FAILURE', 5)])
def test_conciliate(ctl, name, value):
    ctl.set('supvisors.conciliate', value != 2)
    assert ctl.run(f'conciliate {name}') == [f'Conciliated: {value != 2}']
    assert ctl.calls == [API, ('supvisors.conciliate', (value,))]


@pytest.mark.parametrize('line, method, text', [('restart_sequence', 'restart_sequence', 'Start sequence completed'),
                                                ('sreload', 'restart', 'Restarted'),
                                                ('sshutdown', 'shutdown', 'Shut down'),
                                                ('conciliate STOP', 'conciliate', 'Conciliated'),
                                                ('loglevel warn', 'change_log_level', 'Logger level changed')])
def test_simple_commands_result_and_fault(ctl, line, method, text):
    assert ctl.run(line) == [f'{text}: True']
    assert ctl.status == 0
    ctl.set(f'supvisors.{method}', fault(101, 'Supvisors (state=INITIALIZATION) not in state [\'OPERATION\'] to'
                                              ' perform request'))
    assert ctl.run(line) == ["ERROR (BAD_SUPVISORS_STATE: Supvisors (state=INITIALIZATION) not in state"
                             " ['OPERATION'] to perform request)"]
    assert ctl.status == 1


@pytest.mark.parametrize('name, value', [('critical', 50), ('error', 40), ('warn', 30), ('info', 20), ('debug', 10),
                                         ('trace', 5), ('blather', 3)])
def test_loglevel(ctl, name, value):
    assert ctl.run(f'loglevel {name}') == ['Logger level changed: True']
    assert ctl.calls == [API, ('supvisors.change_log_level', (value,))]


@pytest.mark.parametrize('line, calls', [('restart_sequence', ('restart_sequence', ())),
                                         ('sreload', ('restart', ())), ('sshutdown', ('shutdown', ()))])
def test_simple_commands_calls(ctl, line, calls):
    ctl.run(line)
    assert ctl.calls == [API, (f'supvisors.{calls[0]}', calls[1])]


def test_faults_do_not_stop_the_following_items(ctl):
    ctl.set('supvisors.stop_process', lambda namespec: fault(70, namespec))
    assert ctl.run('stop_process b a') == ['a: ERROR (NOT_RUNNING: a)', 'b: ERROR (NOT_RUNNING: b)']
    assert ctl.status == 1


def test_protocol_errors_go_to_the_controller(ctl):
    ctl.set('supvisors.start_any_process', xmlrpclib.ProtocolError('host/RPC2', 500, 'Internal Server Error', {}))
    lines = ctl.run('start_any_process CONFIG (')
    assert len(lines) == 1 and lines[0].startswith('error: ')
    assert ctl.status == 1


# ----------------------------------------------------------------------------------------------------------------
# argument errors
# ----------------------------------------------------------------------------------------------------------------
ARG_ERRORS = [
    ('start_application', 'start_application', 'start_application requires at least a strategy'),
    ('restart_application', 'restart_application', 'restart_application requires at least a strategy'),
    ('start_process', 'start_process', 'start_process requires at least a strategy'),
    ('start_any_process', 'start_any_process',
     'start_any_process requires a strategy and at least a regular expression'),
    ('start_any_process CONFIG', 'start_any_process',
     'start_any_process requires a strategy and at least a regular expression'),
    ('start_process_args', 'start_process_args',
     'start_process_args requires a strategy, a program namespec and extra arguments'),
    ('start_process_args CONFIG lone', 'start_process_args',
     'start_process_args requires a strategy, a program namespec and extra arguments'),
    ('start_any_process_args CONFIG lone', 'start_any_process_args',
     'start_any_process_args requires a strategy, a regular expression and extra arguments'),
    ('start_args', 'start_args', 'start_args requires a process name and extra arguments'),
    ('start_args lone', 'start_args', 'start_args requires a process name and extra arguments'),
    ('all_start', 'all_start', 'all_start requires a process name'),
    ('all_start_args lone', 'all_start_args', 'all_start_args requires a process name and extra arguments'),
    ('restart_process', 'restart_process', 'restart_process requires a strategy and a program name'),
    ('update_numprocs', 'update_numprocs', 'update_numprocs requires a program name and a numprocs values'),
    ('update_numprocs worker', 'update_numprocs', 'update_numprocs requires a program name and a numprocs values'),
    ('update_numprocs worker two', 'update_numprocs', 'numprocs must be a strictly positive integer'),
    ('update_numprocs worker 1.5', 'update_numprocs', 'numprocs must be a strictly positive integer'),
    ('update_numprocs worker 0', 'update_numprocs', 'numprocs must be a strictly positive integer'),
    ('update_numprocs worker -2', 'update_numprocs', 'numprocs must be a strictly positive integer'),
    ('enable', 'enable', 'enable requires a program name'),
    ('disable', 'disable', 'disable requires a program name'),
    ('conciliate', 'conciliate', 'conciliate requires a strategy'),
    ('loglevel', 'loglevel', 'loglevel requires a level'),
    ('loglevel DEBUG', 'loglevel', 'unknown level for Logger'),
    ('loglevel verbose', 'loglevel', 'unknown level for Logger')]


@pytest.mark.parametrize('line, command, message', ARG_ERRORS)
def test_argument_errors(ctl, line, command, message):
    help_lines = ctl.help_lines(command)
    assert help_lines
    assert ctl.run(line) == [f'ERROR: {message}'] + help_lines
    assert ctl.status == 2
    assert ctl.calls == [API]


def test_extra_words_ignored(monkeypatch, ctl):
    ctl.set('supvisors.get_master_identifier', 'node_a')
    assert ctl.run('master foo bar') == ['node_a']
    Fleet(monkeypatch, ctl)
    ctl.set('supvisors.get_all_instances_info', INSTANCES[:1])
    assert ctl.run('all_start lone other') == ['lone started on alpha: True']
    assert ctl.calls[-1] == ('http://10.0.0.1:60000 supervisor.startProcess', ('lone', False))
    assert ctl.run('enable worker other') == ['worker enabled: True']
    assert ctl.calls[-1] == ('supvisors.enable', ('worker',))


# ----------------------------------------------------------------------------------------------------------------
# help
# ----------------------------------------------------------------------------------------------------------------
SYNOPSES = {
    'sversion': ['sversion'], 'sstate': ['sstate'], 'master': ['master'], 'strategies': ['strategies'],
    'instance_status': ['instance_status <identifier>', 'instance_status <identifier> <identifier>',
                        'instance_status'],
    'application_info': ['application_info <appli>', 'application_info <appli> <appli>', 'application_info'],
    'application_rules': ['application_rules <appli>', 'application_rules <appli> <appli>', 'application_rules'],
    'sstatus': ['sstatus <proc>', 'sstatus <appli>:*', 'sstatus <proc> <proc>', 'sstatus'],
    'local_status': ['local_status <proc>', 'local_status <appli>:*', 'local_status <proc> <proc>', 'local_status'],
    'process_rules': ['process_rules <proc>', 'process_rules <appli>:*', 'process_rules <proc> <proc>',
                      'process_rules'],
    'conflicts': ['conflicts'],
    'start_application': ['start_application <strategy> <appli>', 'start_application <strategy> <appli> <appli>',
                          'start_application <strategy>'],
    'restart_application': ['restart_application <strategy> <appli>',
                            'restart_application <strategy> <appli> <appli>', 'restart_application <strategy> '],
    'stop_application': ['stop_application <appli>', 'stop_application <appli> <appli>', 'stop_application'],
    'all_start': ['all_start <proc>'],
    'start_args': ['start_args <proc> <arg_list>'],
    'all_start_args': ['all_start_args <proc> <arg_list>'],
    'start_process': ['start_process <strategy> <proc>', 'start_process <strategy> <proc> <proc>',
                      'start_process <strategy>'],
    'start_any_process': ['start_any_process <strategy> <regex>', 'start_any_process <strategy> <regex> <regex>'],
    'start_process_args': ['start_process <strategy> <proc> <arg_list>'],
    'start_any_process_args': ['start_any_process_args <strategy> <regex> <arg_list>'],
    'stop_process': ['stop_process <proc>', 'stop_process <proc> <proc>', 'stop_process'],
    'restart_process': ['restart_process <strategy> <proc>', 'restart_process <strategy> <proc> <proc>',
                        'restart_process <strategy> '],
    'update_numprocs': ['update_numprocs program_name numprocs'],
    'enable': ['enable program_name'], 'disable': ['disable program_name'],
    'conciliate': ['conciliate <strategy>'], 'restart_sequence': ['restart_sequence'], 'sreload': ['sreload'],
    'sshutdown': ['sshutdown'], 'loglevel': ['loglevel lvl']}


def test_synopses_cover_every_command():
    assert sorted(SYNOPSES) == COMMANDS


@pytest.mark.parametrize('command', COMMANDS)
def test_help_command(ctl, command):
    lines = ctl.help_lines(command)
    expected = SYNOPSES[command]
    if command == 'loglevel':
        # first line only is contractual; the second one lists the levels
        lines = lines[:1]
    assert len(lines) == len(expected)
    for line, synopsis in zip(lines, expected):
        head, tabs, description = line.partition('\t')
        assert head == synopsis
        assert tabs and description.lstrip('\t') and not description.lstrip('\t').startswith(' ')
    # no server call for help
    assert ctl.calls == []


def test_help_loglevel_lists_levels(ctl):
    lines = ctl.help_lines('loglevel')
    assert len(lines) == 2
    assert all(level in lines[1] for level in ('critical', 'error', 'warn', 'info', 'debug', 'trace', 'blather'))


def test_help_through_the_controller(ctl):
    lines = ctl.run('help sstatus')
    # every plugin answers; Supervisor's default one has no such topic
    assert lines[0] == '*** No help on sstatus'
    assert lines[1:] == ctl.help_lines('sstatus')
    assert ctl.calls == []


def test_help_lists_the_31_commands(ctl):
    text = '\n'.join(ctl.run('help'))
    header = 'supvisors commands (type help <topic>):'
    block = text[text.index(header):].splitlines()
    assert block[1] == '=' * len(header)
    listed = ' '.join(block[2:]).split()
    assert sorted(listed) == COMMANDS
    assert all(len(line) <= 80 for line in block)
    # columnized like cmd.Cmd does on 79 columns
    assert block[2:] == [
        'all_start          local_status         sstate                  stop_process   ',
        'all_start_args     loglevel             sstatus                 strategies     ',
        'application_info   master               start_any_process       sversion       ',
        'application_rules  process_rules        start_any_process_args  update_numprocs',
        'conciliate         restart_application  start_application     ',
        'conflicts          restart_process      start_args            ',
        'disable            restart_sequence     start_process         ',
        'enable             sreload              start_process_args    ',
        'instance_status    sshutdown            stop_application      ']


# ----------------------------------------------------------------------------------------------------------------
# supvisorsctl
# ----------------------------------------------------------------------------------------------------------------
@pytest.fixture
def patched_proxy(monkeypatch) -> FakeServer:
    server = FakeServer()
    monkeypatch.setattr(ClientOptions, 'getServerProxy', lambda self: server)
    return server


def test_main_runs_the_command_words(patched_proxy, capsys):
    patched_proxy.answers['supvisors.start_process'] = True
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-s', 'http://10.0.0.1:60000', 'start_process', 'LOCAL', 'web:server'])
    assert exc.value.code == 0
    assert capsys.readouterr().out == 'web:server started: True\n'
    assert patched_proxy.calls == [API, ('supvisors.start_process', (3, 'web:server'))]


def test_main_exit_status(patched_proxy, capsys):
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-s', 'http://10.0.0.1:60000', 'conciliate'])
    assert exc.value.code == 2
    assert capsys.readouterr().out.startswith('ERROR: conciliate requires a strategy\nconciliate <strategy>\t')
    patched_proxy.answers['supvisors.get_api_version'] = ConnectionRefusedError(errno.ECONNREFUSED, 'refused')
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-s', 'http://10.0.0.1:60000', 'sstate'])
    assert exc.value.code == 4
    assert capsys.readouterr().out == 'ERROR: http://10.0.0.1:60000 refused connection\n'


def test_main_default_commands_still_there(patched_proxy, capsys):
    patched_proxy.answers['supervisor.getAllProcessInfo'] = []
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-s', 'http://10.0.0.1:60000', 'status'])
    assert exc.value.code == 0


def help_blocks(text: str) -> int:
    return text.count('supvisors commands (type help <topic>):')


def test_main_adds_the_plugin_once(patched_proxy, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-s', 'http://10.0.0.1:60000', 'help'])
    assert exc.value.code == 0
    assert help_blocks(capsys.readouterr().out) == 1
    # declared in the configuration: not added again
    conf = tmp_path / 'supervisord.conf'
    conf.write_text('[supervisorctl]\nserverurl=http://10.0.0.1:60000\n\n[ctlplugin:supvisors]\n'
                    'supervisor.ctl_factory = supvisors.supvisorsctl:make_supvisors_controller_plugin\n')
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-c', str(conf), 'help'])
    assert exc.value.code == 0
    assert help_blocks(capsys.readouterr().out) == 1
    # another plugin name: supvisors added as well
    conf.write_text('[supervisorctl]\nserverurl=http://10.0.0.1:60000\n\n[ctlplugin:other]\n'
                    'supervisor.ctl_factory = supvisors.supvisorsctl:make_supvisors_controller_plugin\n')
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-c', str(conf), 'help'])
    out = capsys.readouterr().out
    assert help_blocks(out) == 1 and 'other commands (type help <topic>):' in out


def test_main_interactive(monkeypatch, patched_proxy):
    loops = []
    monkeypatch.setattr(Controller, 'exec_cmdloop', lambda self, args, options: loops.append((args, self)))
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-s', 'http://10.0.0.1:60000'])
    assert exc.value.code == 0
    assert len(loops) == 1
    assert loops[0][0] == ['-s', 'http://10.0.0.1:60000']
    assert [plugin.name for plugin in loops[0][1].options.plugins] == ['default', 'supvisors']
    # -i with a command: the command runs, no loop (as supervisorctl)
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-i', '-s', 'http://10.0.0.1:60000', 'sversion'])
    assert exc.value.code == 0
    assert len(loops) == 1


def test_main_usage(monkeypatch):
    # Supervisor's options write their usage on the stdout bound at import time
    stdout = io.StringIO()
    monkeypatch.setattr(ClientOptions, 'stdout', stdout)
    with pytest.raises(SystemExit) as exc:
        supvisorsctl.main(['-h'])
    assert exc.value.code == 0
    assert '-s/--serverurl URL' in stdout.getvalue()
