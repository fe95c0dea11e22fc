"""The ``supvisors`` commands of ``supervisorctl`` and the ``supvisorsctl`` console script.

Inside ``supervisorctl``, the plugin is declared with a ``[ctlplugin:supvisors]`` section whose
``supervisor.ctl_factory`` is ``supvisors.supvisorsctl:make_supvisors_controller_plugin``.  ``supervisorctl -s URL``
does not load ctl plugins (Supervisor #1455), hence ``supvisorsctl``, which always adds this one.

Every command talks to the ``supvisors`` XML-RPC namespace of the supervisord targeted by the controller options,
after an up-check of that namespace.  Outputs, widths and exit statuses follow upstream Supvisors 0.15 exactly,
because scripts parse them.
"""

import errno
import socket
import sys
import time
import xmlrpc.client as xmlrpclib
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type

from supervisor import supervisorctl
from supervisor.options import ClientOptions
from supervisor.states import getProcessStateDescription
from supervisor.supervisorctl import Controller, ControllerPluginBase, LSBInitExitStatuses
from supervisor.xmlrpc import Faults, SupervisorTransport

from .ttypes import (API_VERSION, LOGGER_LEVELS, ConciliationStrategies, StartingStrategies, SupvisorsFaults,
                     SupvisorsInstanceStates, enum_by_name, enum_names, make_namespec, split_namespec)

PLUGIN_NAME = 'supvisors'

# a table column: (title or value, width); a width of None means the last column, printed without padding
Cell = Tuple[str, Optional[int]]

# marks the start result formatter of Supervisor's default plugin once wrapped, so that it is wrapped only once
_WRAPPED_MARK = '_supvisors_wrapped'

# description of a help line starts at this column (TAB = 8 columns), beyond the longest synopsis
_HELP_COLUMN = 56


# ----------------------------------------------------------------------------------------------------------------
# client-side side effects of the plugin
# ----------------------------------------------------------------------------------------------------------------
def register_faults() -> None:
    """Let Supervisor's fault lookup name the Supvisors codes, as the server does (idempotent)."""
    for fault in SupvisorsFaults:
        setattr(Faults, fault.name, fault.value)


def wrap_start_result(controller: Any) -> None:
    """Make the standard ``start`` command print ``<namespec>: ERROR disabled`` for a DISABLED result.

    Supervisor's formatter raises on codes it does not know, so a disabled process would otherwise end the
    command with a traceback-like error.
    """
    plugins = getattr(controller.options, 'plugins', None) or []
    if not plugins:
        return
    default_plugin = plugins[0]
    original = getattr(default_plugin, '_startresult', None)
    if original is None or getattr(original, _WRAPPED_MARK, False):
        return

    def startresult(result: Mapping[str, Any]) -> str:
        if result['status'] == SupvisorsFaults.DISABLED.value:
            return f"{make_namespec(result['group'], result['name'])}: ERROR disabled"
        return original(result)

    setattr(startresult, _WRAPPED_MARK, True)
    default_plugin._startresult = startresult


def make_server_proxy(url: str, username: Optional[str], password: Optional[str]) -> xmlrpclib.ServerProxy:
    """Proxy on another supervisord, with the controller credentials (used to reach every Supvisors instance)."""
    # like ClientOptions.getServerProxy: the transport knows the real URL, the dummy one only satisfies ServerProxy
    return xmlrpclib.ServerProxy('http://127.0.0.1', transport=SupervisorTransport(username, password, url))


# ----------------------------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------------------------
def column_width(rows: Iterable[Mapping[str, Any]], key: str, title: str) -> int:
    """Width of a variable column: the longest of the title and the values present, plus 2 spaces."""
    return max([len(title)] + [len(str(row[key])) for row in rows if key in row]) + 2


def format_line(cells: Sequence[Cell]) -> str:
    """Left-justify every cell to its width; the last column (width None) is not padded."""
    return ''.join(text if width is None else '%-*s' % (width, text) for text, width in cells)


def format_time(value: float) -> str:
    return time.strftime('%H:%M:%S', time.localtime(value))


def _help_line(synopsis: str, text: str) -> str:
    """Synopsis, TABs up to the description column, description (as Supervisor's own help lines)."""
    position, tabs = len(synopsis), 0
    while position < _HELP_COLUMN or tabs == 0:
        position = (position // 8 + 1) * 8
        tabs += 1
    return synopsis + '\t' * tabs + text


# ----------------------------------------------------------------------------------------------------------------
# the plugin
# ----------------------------------------------------------------------------------------------------------------
class SupvisorsControllerPlugin(ControllerPluginBase):
    """The 31 Supvisors commands of supervisorctl."""

    def __init__(self, controller: Any) -> None:
        super().__init__(controller)
        register_faults()
        wrap_start_result(controller)

    # ------------------------------------------------------------------ common behaviour
    def supvisors(self) -> Any:
        """The ``supvisors`` namespace of the supervisord targeted by the controller."""
        return self.ctl.get_server_proxy('supvisors')

    def _upcheck(self) -> bool:
        """Check that the server runs a compatible Supvisors; print why and set the LSB status when it does not."""
        try:
            api = self.supvisors().get_api_version()
            if api != API_VERSION:
                self.ctl.output(f'ERROR: this version of supvisorsctl expects to talk to a server with API version'
                                f' {API_VERSION}, but the remote version is {api}.')
                self.ctl.exitstatus = LSBInitExitStatuses.NOT_INSTALLED
                return False
        except xmlrpclib.Fault as exc:
            if exc.faultCode == Faults.UNKNOWN_METHOD:
                self.ctl.output('ERROR: supervisord responded but did not recognize the supvisors namespace commands'
                                ' that supervisorstl uses to control it. Please check that the'
                                ' [rpcinterface:supvisors] section is enabled in the configuration file.')
                self.ctl.exitstatus = LSBInitExitStatuses.UNIMPLEMENTED_FEATURE
                return False
            self.ctl.exitstatus = LSBInitExitStatuses.GENERIC
            raise
        except socket.error as exc:
            code = exc.args[0] if exc.args else None
            if code == errno.ECONNREFUSED:
                self.ctl.output(f'ERROR: {self.ctl.options.serverurl} refused connection')
                self.ctl.exitstatus = LSBInitExitStatuses.INSUFFICIENT_PRIVILEGES
                return False
            if code == errno.ENOENT:
                self.ctl.output(f'ERROR: {self.ctl.options.serverurl} no such file')
                self.ctl.exitstatus = LSBInitExitStatuses.NOT_RUNNING
                return False
            self.ctl.exitstatus = LSBInitExitStatuses.GENERIC
            raise
        return True

    def _fault(self, exc: xmlrpclib.Fault, item: Optional[str] = None) -> None:
        """Print a fault, globally or for one item, and set the GENERIC status; the command goes on."""
        prefix = '' if item is None else f'{item}: '
        self.ctl.output(f'{prefix}ERROR ({exc.faultString})')
        self.ctl.exitstatus = LSBInitExitStatuses.GENERIC

    def _arg_error(self, message: str, help_method: Callable[[], None]) -> None:
        """Refuse the arguments: error line, INVALID_ARGS, then the command help."""
        self.ctl.output(f'ERROR: {message}')
        self.ctl.exitstatus = LSBInitExitStatuses.INVALID_ARGS
        help_method()

    def _strategy(self, enum_klass: Type[Any], name: str, message_head: str,
                  help_method: Callable[[], None]) -> Optional[int]:
        """Integer value of a strategy name (what the server expects); None after an argument error."""
        strategy = enum_by_name(enum_klass, name)
        if strategy is None:
            self._arg_error(f'{message_head}. use one of {enum_names(enum_klass)}', help_method)
            return None
        return int(strategy.value)

    def _starting_strategy(self, name: str, command: str, help_method: Callable[[], None]) -> Optional[int]:
        return self._strategy(StartingStrategies, name, f'unknown strategy for {command}', help_method)

    @staticmethod
    def _is_all(args: Sequence[str]) -> bool:
        return not args or 'all' in args

    def _fetch(self, method: Callable[[], List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
        """Result of a "fetch all" call, or an empty list after printing its fault."""
        try:
            return method()
        except xmlrpclib.Fault as exc:
            self._fault(exc)
            return []

    def _all_namespecs(self) -> List[str]:
        return [make_namespec(info['application_name'], info['process_name'])
                for info in self._fetch(self.supvisors().get_all_process_info)]

    def _print_table(self, rows: Sequence[Sequence[Cell]]) -> None:
        for cells in rows:
            self.ctl.output(format_line(cells))

    def _call(self, success: Callable[[Any], str], method: Callable[..., Any], *args: Any,
              item: Optional[str] = None) -> None:
        """Perform one XML-RPC and print its success line or its fault (global when item is None)."""
        try:
            result = method(*args)
        except xmlrpclib.Fault as exc:
            self._fault(exc, item)
        else:
            self.ctl.output(success(result))

    # ------------------------------------------------------------------ global status
    def do_sversion(self, arg: str) -> None:
        if self._upcheck():
            self._call(str, self.supvisors().get_api_version)

    def help_sversion(self) -> None:
        self.ctl.output(_help_line('sversion', 'Get the API version of Supvisors.'))

    def do_sstate(self, arg: str) -> None:
        if not self._upcheck():
            return
        try:
            info = self.supvisors().get_supvisors_state()
        except xmlrpclib.Fault as exc:
            self._fault(exc)
            return
        starting = column_width([info], 'starting_jobs', 'Starting')
        stopping = column_width([info], 'stopping_jobs', 'Stopping')
        self._print_table([[('State', 16), ('Starting', starting), ('Stopping', stopping)],
                           [(info['fsm_statename'], 16), (str(info['starting_jobs']), starting),
                            (str(info['stopping_jobs']), stopping)]])

    def help_sstate(self) -> None:
        self.ctl.output(_help_line('sstate', 'Get the Supvisors state.'))

    def do_master(self, arg: str) -> None:
        if self._upcheck():
            self._call(str, self.supvisors().get_master_identifier)

    def help_master(self) -> None:
        self.ctl.output(_help_line('master', 'Get the Supvisors instance elected as Master.'))

    def do_strategies(self, arg: str) -> None:
        if not self._upcheck():
            return
        try:
            info = self.supvisors().get_strategies()
        except xmlrpclib.Fault as exc:
            self._fault(exc)
            return
        self.ctl.output(f"Auto-fencing: {info['auto-fencing']}")
        self.ctl.output(f"Conciliation: {info['conciliation']}")
        self.ctl.output(f"Starting:     {info['starting']}")

    def help_strategies(self) -> None:
        self.ctl.output(_help_line('strategies', 'Get the strategies applied in Supvisors.'))

    def do_instance_status(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        try:
            infos = self.supvisors().get_all_instances_info()
        except xmlrpclib.Fault as exc:
            self._fault(exc)
            return
        if not self._is_all(args):
            infos = [info for info in infos if info['identifier'] in args]
        identifier = column_width(infos, 'identifier', 'Supervisor')
        node = column_width(infos, 'node_name', 'Node')
        rows = [[('Supervisor', identifier), ('Node', node), ('Port', 7), ('State', 11), ('Load', 6), ('Time', 10),
                 ('Counter', 9), ('FSM', 16), ('Starting', 10), ('Stopping', 10)]]
        rows += [[(info['identifier'], identifier), (info['node_name'], node), (str(info['port']), 7),
                  (info['statename'], 11), (f"{info['loading']}%", 6), (format_time(info['local_time']), 10),
                  (str(info['sequence_counter']), 9), (info['fsm_statename'], 16),
                  (str(info['starting_jobs']), 10), (str(info['stopping_jobs']), 10)]
                 for info in infos]
        self._print_table(rows)

    def help_instance_status(self) -> None:
        self.ctl.output(_help_line('instance_status <identifier>', 'Get the status of the Supvisors instance.'))
        self.ctl.output(_help_line('instance_status <identifier> <identifier>',
                                   'Get the status of multiple Supvisors instances.'))
        self.ctl.output(_help_line('instance_status', 'Get the status of all Supvisors instances.'))

    # ------------------------------------------------------------------ applications
    def do_application_info(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        try:
            infos = self.supvisors().get_all_applications_info()
        except xmlrpclib.Fault as exc:
            self._fault(exc)
            return
        if not self._is_all(args):
            infos = [info for info in infos if info['application_name'] in args]
        name = column_width(infos, 'application_name', 'Application')
        rows = [[('Application', name), ('State', 10), ('Major', 7), ('Minor', 7)]]
        rows += [[(info['application_name'], name), (info['statename'], 10), (str(info['major_failure']), 7),
                  (str(info['minor_failure']), 7)]
                 for info in infos]
        self._print_table(rows)

    def help_application_info(self) -> None:
        self.ctl.output(_help_line('application_info <appli>', 'Get the status of application named appli.'))
        self.ctl.output(_help_line('application_info <appli> <appli>',
                                   'Get the status for multiple named applications.'))
        self.ctl.output(_help_line('application_info', 'Get the status of all applications.'))

    def do_application_rules(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        names = args
        if self._is_all(args):
            names = [info['application_name'] for info in self._fetch(self.supvisors().get_all_applications_info)]
        rules_list = []
        for application_name in names:
            try:
                rules_list.append(self.supvisors().get_application_rules(application_name))
            except xmlrpclib.Fault as exc:
                self._fault(exc, application_name)
        if not rules_list:
            return
        name = column_width(rules_list, 'application_name', 'Application')
        identifiers = column_width(rules_list, 'identifiers', 'Supervisor')
        rows = [[('Application', name), ('Managed', 9), ('Distribution', 17), ('Supervisor', identifiers),
                 ('Start', 7), ('Stop', 7), ('Starting', 18), ('Starting_Failure', 18), ('Running_Failure', None)]]
        for rules in rules_list:
            if rules['managed']:
                values = [rules['distribution'], str(rules['identifiers']), str(rules['start_sequence']),
                          str(rules['stop_sequence']), rules['starting_strategy'],
                          rules['starting_failure_strategy'], rules['running_failure_strategy']]
            else:
                values = ['n/a'] * 7
            rows.append([(rules['application_name'], name), (str(rules['managed']), 9), (values[0], 17),
                         (values[1], identifiers), (values[2], 7), (values[3], 7), (values[4], 18),
                         (values[5], 18), (values[6], None)])
        self._print_table(rows)

    def help_application_rules(self) -> None:
        self.ctl.output(_help_line('application_rules <appli>', 'Get the rules of the application named appli.'))
        self.ctl.output(_help_line('application_rules <appli> <appli>',
                                   'Get the rules for multiple named applications.'))
        self.ctl.output(_help_line('application_rules', 'Get the rules of all applications.'))

    # ------------------------------------------------------------------ processes
    def do_sstatus(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if self._is_all(args):
            infos = self._fetch(self.supvisors().get_all_process_info)
        else:
            infos = []
            for namespec in args:
                try:
                    infos.extend(self.supvisors().get_process_info(namespec))
                except xmlrpclib.Fault as exc:
                    self._fault(exc, namespec)
        if not infos:
            return
        application = column_width(infos, 'application_name', 'Application')
        process = column_width(infos, 'process_name', 'Process')
        rows = [[('Application', application), ('Process', process), ('State', 12), ('Expected', 10),
                 ('Supervisor', None)]]
        rows += [[(info['application_name'], application), (info['process_name'], process),
                  (info['statename'], 12),
                  (str(info['expected_exit']) if info['statecode'] == 100 else 'n/a', 10),
                  (str(info['identifiers']), None)]
                 for info in infos]
        self._print_table(rows)

    def help_sstatus(self) -> None:
        self.ctl.output(_help_line('sstatus <proc>', 'Get the status of the process named proc.'))
        self.ctl.output(_help_line('sstatus <appli>:*', 'Get the process status of application named appli.'))
        self.ctl.output(_help_line('sstatus <proc> <proc>', 'Get the status for multiple named processes.'))
        self.ctl.output(_help_line('sstatus', 'Get the status of all processes.'))

    def do_local_status(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        infos = self._fetch(self.supvisors().get_all_local_process_info)
        if not self._is_all(args):
            selected = []
            for namespec in args:
                group, name = split_namespec(namespec)
                selected.extend(info for info in infos
                                if info['group'] == group and (name is None or info['name'] == name))
            infos = selected
        if not infos:
            return
        group = column_width(infos, 'group', 'Application')
        name = column_width(infos, 'name', 'Process')
        rows = [[('Application', group), ('Process', name), ('Disabled', 10), ('State', 12), ('Start', 12),
                 ('Now', 12), ('PID', 8), ('Extra args', None)]]
        rows += [[(info['group'], group), (info['name'], name), (str(info['disabled']), 10),
                  (getProcessStateDescription(info['state']), 12),
                  (format_time(info['start']) if info['start'] else '0', 12),
                  (format_time(info['now']) if info['now'] else '0', 12),
                  (str(info['pid']), 8), (info['extra_args'], None)]
                 for info in infos]
        self._print_table(rows)

    def help_local_status(self) -> None:
        self.ctl.output(_help_line('local_status <proc>',
                                   'Get the local status of the process named proc, with extra arguments.'))
        self.ctl.output(_help_line('local_status <appli>:*',
                                   'Get the local status of the processes of application named appli.'))
        self.ctl.output(_help_line('local_status <proc> <proc>',
                                   'Get the local status for multiple named processes.'))
        self.ctl.output(_help_line('local_status', 'Get the local status of all processes, with extra arguments.'))

    def do_process_rules(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        namespecs = self._all_namespecs() if self._is_all(args) else args
        rules_list = []
        for namespec in sorted(namespecs):
            try:
                rules_list.extend(self.supvisors().get_process_rules(namespec))
            except xmlrpclib.Fault as exc:
                self._fault(exc, namespec)
        if not rules_list:
            return
        application = column_width(rules_list, 'application_name', 'Application')
        process = column_width(rules_list, 'process_name', 'Process')
        rows = [[('Application', application), ('Process', process), ('Start', 7), ('Stop', 7), ('Required', 12),
                 ('WaitExit', 12), ('Loading', 12), ('Strategy', 22), ('Supervisor', None)]]
        rows += [[(rules['application_name'], application), (rules['process_name'], process),
                  (str(rules['start_sequence']), 7), (str(rules['stop_sequence']), 7),
                  (str(rules['required']), 12), (str(rules['wait_exit']), 12),
                  (f"{rules['expected_loading']}%", 12), (rules['running_failure_strategy'], 22),
                  (str(rules['identifiers']), None)]
                 for rules in rules_list]
        self._print_table(rows)

    def help_process_rules(self) -> None:
        self.ctl.output(_help_line('process_rules <proc>', 'Get the rules of the process named proc.'))
        self.ctl.output(_help_line('process_rules <appli>:*', 'Get the rules of the processes of application appli.'))
        self.ctl.output(_help_line('process_rules <proc> <proc>', 'Get the rules for multiple named processes.'))
        self.ctl.output(_help_line('process_rules', 'Get the rules of all processes.'))

    def do_conflicts(self, arg: str) -> None:
        if not self._upcheck():
            return
        try:
            infos = self.supvisors().get_conflicts()
        except xmlrpclib.Fault as exc:
            self._fault(exc)
            return
        if not infos:
            return
        application = column_width(infos, 'application_name', 'Application')
        process = column_width(infos, 'process_name', 'Process')
        rows = [[('Application', application), ('Process', process), ('State', 12), ('Supervisor', None)]]
        rows += [[(info['application_name'], application), (info['process_name'], process),
                  (info['statename'], 12), (str(info['identifiers']), None)]
                 for info in infos]
        self._print_table(rows)

    def help_conflicts(self) -> None:
        self.ctl.output(_help_line('conflicts', 'List the conflicting processes.'))

    # ------------------------------------------------------------------ application control
    def _select_applications(self, names: Sequence[str], verb: str) -> Optional[List[str]]:
        """Managed applications to act upon (all of them, sorted, for 'all'); None if they cannot be known."""
        try:
            infos = self.supvisors().get_all_applications_info()
        except xmlrpclib.Fault as exc:
            self._fault(exc)
            return None
        managed = {info['application_name']: info['managed'] for info in infos}
        if self._is_all(names):
            return sorted(name for name, is_managed in managed.items() if is_managed)
        selected = []
        for name in names:
            if name not in managed:
                self.ctl.output(f'{name}: ERROR (no such application)')
                self.ctl.exitstatus = LSBInitExitStatuses.INVALID_ARGS
            elif managed[name]:
                selected.append(name)
            else:
                self.ctl.output(f'{name}: IGNORED (unmanaged. use {verb} {name}:*)')
        return selected

    def _application_command(self, arg: str, command: str, verb: str, done: str, with_strategy: bool,
                             help_method: Callable[[], None]) -> None:
        """Common frame of start_application / restart_application / stop_application."""
        if not self._upcheck():
            return
        args = arg.split()
        strategy_args: Tuple[int, ...] = ()
        if with_strategy:
            if not args:
                self._arg_error(f'{command} requires at least a strategy', help_method)
                return
            strategy = self._starting_strategy(args[0], command, help_method)
            if strategy is None:
                return
            strategy_args, args = (strategy,), args[1:]
        names = self._select_applications(args, verb)
        for name in names or []:
            self._call(lambda result, name=name: f'{name} {done}: {result}',
                       getattr(self.supvisors(), command), *strategy_args, name, item=name)

    def do_start_application(self, arg: str) -> None:
        self._application_command(arg, 'start_application', 'start', 'started', True, self.help_start_application)

    def help_start_application(self) -> None:
        self.ctl.output(_help_line('start_application <strategy> <appli>',
                                   'Start the managed application named appli with strategy.'))
        self.ctl.output(_help_line('start_application <strategy> <appli> <appli>',
                                   'Start multiple named managed applications with strategy.'))
        self.ctl.output(_help_line('start_application <strategy>', 'Start all managed applications with strategy.'))

    def do_restart_application(self, arg: str) -> None:
        self._application_command(arg, 'restart_application', 'restart', 'restarted', True,
                                  self.help_restart_application)

    def help_restart_application(self) -> None:
        self.ctl.output(_help_line('restart_application <strategy> <appli>',
                                   'Restart the managed application named appli with strategy.'))
        self.ctl.output(_help_line('restart_application <strategy> <appli> <appli>',
                                   'Restart multiple named managed applications with strategy.'))
        self.ctl.output(_help_line('restart_application <strategy> ',
                                   'Restart all managed applications with strategy.'))

    def do_stop_application(self, arg: str) -> None:
        self._application_command(arg, 'stop_application', 'stop', 'stopped', False, self.help_stop_application)

    def help_stop_application(self) -> None:
        self.ctl.output(_help_line('stop_application <appli>', 'Stop the managed application named appli.'))
        self.ctl.output(_help_line('stop_application <appli> <appli>', 'Stop multiple named managed applications.'))
        self.ctl.output(_help_line('stop_application', 'Stop all managed applications.'))

    # ------------------------------------------------------------------ process control
    def do_start_process(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if not args:
            self._arg_error('start_process requires at least a strategy', self.help_start_process)
            return
        strategy = self._starting_strategy(args[0], 'start_process', self.help_start_process)
        if strategy is None:
            return
        namespecs = self._all_namespecs() if self._is_all(args[1:]) else args[1:]
        for namespec in sorted(namespecs):
            self._call(lambda result, ns=namespec: f'{ns} started: {result}',
                       self.supvisors().start_process, strategy, namespec, item=namespec)

    def help_start_process(self) -> None:
        self.ctl.output(_help_line('start_process <strategy> <proc>', 'Start the process named proc with strategy.'))
        self.ctl.output(_help_line('start_process <strategy> <proc> <proc>',
                                   'Start multiple named processes with strategy.'))
        self.ctl.output(_help_line('start_process <strategy>', 'Start all processes with strategy.'))

    def do_start_any_process(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if len(args) < 2:
            self._arg_error('start_any_process requires a strategy and at least a regular expression',
                            self.help_start_any_process)
            return
        strategy = self._starting_strategy(args[0], 'start_any_process', self.help_start_any_process)
        if strategy is None:
            return
        for regex in sorted(args[1:]):
            self._call(lambda namespec: f'{namespec} started',
                       self.supvisors().start_any_process, strategy, regex, item=f'"{regex}"')

    def help_start_any_process(self) -> None:
        self.ctl.output(_help_line('start_any_process <strategy> <regex>',
                                   'Start a process whose namespec matches the regular expression, with strategy.'))
        self.ctl.output(_help_line('start_any_process <strategy> <regex> <regex>',
                                   'Start a process per regular expression, with strategy.'))

    def do_start_args(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if len(args) < 2:
            self._arg_error('start_args requires a process name and extra arguments', self.help_start_args)
            return
        namespec, extra_args = args[0], ' '.join(args[1:])
        self._call(lambda result: f'{namespec} started: {result}',
                   self.supvisors().start_args, namespec, extra_args, item=namespec)

    def help_start_args(self) -> None:
        self.ctl.output(_help_line('start_args <proc> <arg_list>',
                                   'Start the local process named proc with extra arguments.'))

    def do_start_process_args(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if len(args) < 3:
            self._arg_error('start_process_args requires a strategy, a program namespec and extra arguments',
                            self.help_start_process_args)
            return
        strategy = self._starting_strategy(args[0], 'start_process_args', self.help_start_process_args)
        if strategy is None:
            return
        namespec, extra_args = args[1], ' '.join(args[2:])
        self._call(lambda result: f'{namespec} started: {result}',
                   self.supvisors().start_process, strategy, namespec, extra_args, item=namespec)

    def help_start_process_args(self) -> None:
        self.ctl.output(_help_line('start_process <strategy> <proc> <arg_list>',
                                   'Start the process named proc with strategy and extra arguments.'))

    def do_start_any_process_args(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if len(args) < 3:
            self._arg_error('start_any_process_args requires a strategy, a regular expression and extra arguments',
                            self.help_start_any_process_args)
            return
        strategy = self._starting_strategy(args[0], 'start_any_process_args', self.help_start_any_process_args)
        if strategy is None:
            return
        regex, extra_args = args[1], ' '.join(args[2:])
        self._call(lambda namespec: f'{namespec} started',
                   self.supvisors().start_any_process, strategy, regex, extra_args, item=f'"{regex}"')

    def help_start_any_process_args(self) -> None:
        self.ctl.output(_help_line('start_any_process_args <strategy> <regex> <arg_list>',
                                   'Start a process matching the regular expression, with strategy and extra'
                                   ' arguments.'))

    def _running_instances(self) -> List[Dict[str, Any]]:
        """The Supvisors instances seen RUNNING, in the server order; printed error when there is none."""
        infos = self._fetch(self.supvisors().get_all_instances_info)
        running = [info for info in infos if info['statecode'] == SupvisorsInstanceStates.RUNNING.value]
        if not running:
            self.ctl.output('ERROR: no running Supvisors instance')
        return running

    def _instance_proxy(self, info: Mapping[str, Any]) -> xmlrpclib.ServerProxy:
        return make_server_proxy(f"http://{info['node_name']}:{info['port']}",
                                 self.ctl.options.username, self.ctl.options.password)

    def _all_start(self, namespec: str, start: Callable[[Any], Any]) -> None:
        """Call start on every RUNNING instance (no wait), so that the process runs everywhere."""
        for info in self._running_instances():
            self._call(lambda result, identifier=info['identifier']: f'{namespec} started on {identifier}: {result}',
                       start, self._instance_proxy(info), item=namespec)

    def do_all_start(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if not args:
            self._arg_error('all_start requires a process name', self.help_all_start)
            return
        namespec = args[0]
        self._all_start(namespec, lambda proxy: proxy.supervisor.startProcess(namespec, False))

    def help_all_start(self) -> None:
        self.ctl.output(_help_line('all_start <proc>', 'Start the process named proc on all RUNNING Supvisors'
                                                       ' instances.'))

    def do_all_start_args(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if len(args) < 2:
            self._arg_error('all_start_args requires a process name and extra arguments', self.help_all_start_args)
            return
        namespec, extra_args = args[0], ' '.join(args[1:])
        self._all_start(namespec, lambda proxy: proxy.supvisors.start_args(namespec, extra_args, False))

    def help_all_start_args(self) -> None:
        self.ctl.output(_help_line('all_start_args <proc> <arg_list>',
                                   'Start the process named proc on all RUNNING Supvisors instances,'
                                   ' with extra arguments.'))

    def do_stop_process(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        namespecs = self._all_namespecs() if self._is_all(args) else args
        for namespec in sorted(namespecs):
            self._call(lambda result, ns=namespec: f'{ns} stopped',
                       self.supvisors().stop_process, namespec, item=namespec)

    def help_stop_process(self) -> None:
        self.ctl.output(_help_line('stop_process <proc>', 'Stop the process named proc.'))
        self.ctl.output(_help_line('stop_process <proc> <proc>', 'Stop multiple named processes.'))
        self.ctl.output(_help_line('stop_process', 'Stop all processes.'))

    def do_restart_process(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if not args:
            self._arg_error('restart_process requires a strategy and a program name', self.help_restart_process)
            return
        strategy = self._strategy(StartingStrategies, args[0], f'unknown strategy={args[0]}',
                                  self.help_restart_process)
        if strategy is None:
            return
        namespecs = self._all_namespecs() if self._is_all(args[1:]) else args[1:]
        for namespec in sorted(namespecs):
            self._call(lambda result, ns=namespec: f'{ns} restarted: {result}',
                       self.supvisors().restart_process, strategy, namespec, item=namespec)

    def help_restart_process(self) -> None:
        self.ctl.output(_help_line('restart_process <strategy> <proc>',
                                   'Restart the process named proc with strategy.'))
        self.ctl.output(_help_line('restart_process <strategy> <proc> <proc>',
                                   'Restart multiple named processes with strategy.'))
        self.ctl.output(_help_line('restart_process <strategy> ', 'Restart all processes with strategy.'))

    # ------------------------------------------------------------------ program control
    def do_update_numprocs(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if len(args) < 2:
            self._arg_error('update_numprocs requires a program name and a numprocs values', self.help_update_numprocs)
            return
        program = args[0]
        try:
            numprocs = int(args[1])
        except ValueError:
            numprocs = 0
        if numprocs <= 0:
            self._arg_error('numprocs must be a strictly positive integer', self.help_update_numprocs)
            return
        self._call(lambda result: f'{program} numprocs updated: {result}',
                   self.supvisors().update_numprocs, program, numprocs)

    def help_update_numprocs(self) -> None:
        self.ctl.output(_help_line('update_numprocs program_name numprocs',
                                   'Increase or decrease the number of processes of the program.'))

    def _program_command(self, arg: str, command: str, done: str, help_method: Callable[[], None]) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if not args:
            self._arg_error(f'{command} requires a program name', help_method)
            return
        program = args[0]
        self._call(lambda result: f'{program} {done}: {result}', getattr(self.supvisors(), command), program)

    def do_enable(self, arg: str) -> None:
        self._program_command(arg, 'enable', 'enabled', self.help_enable)

    def help_enable(self) -> None:
        self.ctl.output(_help_line('enable program_name', 'Enable the processes of the program.'))

    def do_disable(self, arg: str) -> None:
        self._program_command(arg, 'disable', 'disabled', self.help_disable)

    def help_disable(self) -> None:
        self.ctl.output(_help_line('disable program_name', 'Stop and disable the processes of the program.'))

    # ------------------------------------------------------------------ Supvisors control
    def do_conciliate(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if not args:
            self._arg_error('conciliate requires a strategy', self.help_conciliate)
            return
        strategy = self._strategy(ConciliationStrategies, args[0], 'unknown strategy for conciliate',
                                  self.help_conciliate)
        if strategy is not None:
            self._call(lambda result: f'Conciliated: {result}', self.supvisors().conciliate, strategy)

    def help_conciliate(self) -> None:
        self.ctl.output(_help_line('conciliate <strategy>', 'Conciliate the process conflicts with strategy.'))

    def do_restart_sequence(self, arg: str) -> None:
        if self._upcheck():
            self._call(lambda result: f'Start sequence completed: {result}', self.supvisors().restart_sequence)

    def help_restart_sequence(self) -> None:
        self.ctl.output(_help_line('restart_sequence', 'Trigger the whole start sequence of Supvisors.'))

    def do_sreload(self, arg: str) -> None:
        if self._upcheck():
            self._call(lambda result: f'Restarted: {result}', self.supvisors().restart)

    def help_sreload(self) -> None:
        self.ctl.output(_help_line('sreload', 'Restart Supvisors on all instances.'))

    def do_sshutdown(self, arg: str) -> None:
        if self._upcheck():
            self._call(lambda result: f'Shut down: {result}', self.supvisors().shutdown)

    def help_sshutdown(self) -> None:
        self.ctl.output(_help_line('sshutdown', 'Shut down Supvisors on all instances.'))

    def do_loglevel(self, arg: str) -> None:
        if not self._upcheck():
            return
        args = arg.split()
        if not args:
            self._arg_error('loglevel requires a level', self.help_loglevel)
            return
        level = LOGGER_LEVELS.get(args[0])
        if level is None:
            self._arg_error('unknown level for Logger', self.help_loglevel)
            return
        self._call(lambda result: f'Logger level changed: {result}', self.supvisors().change_log_level, level)

    def help_loglevel(self) -> None:
        # the level names are known locally: no call to a server that may be down while help is read
        self.ctl.output(_help_line('loglevel lvl', 'Change the level of the local Supvisors logger.'))
        self.ctl.output(_help_line('', f'lvl is one of {list(LOGGER_LEVELS)}.'))


def make_supvisors_controller_plugin(controller: Any) -> SupvisorsControllerPlugin:
    """Factory of ``[ctlplugin:supvisors]`` (``supervisor.ctl_factory``)."""
    return SupvisorsControllerPlugin(controller)


# ----------------------------------------------------------------------------------------------------------------
# supvisorsctl
# ----------------------------------------------------------------------------------------------------------------
def main(args: Optional[Sequence[str]] = None) -> None:
    """``supvisorsctl``: supervisorctl with the Supvisors commands, whatever the configuration declares."""
    options = ClientOptions()
    options.realize(None if args is None else list(args), doc=supervisorctl.__doc__)
    if not any(name == PLUGIN_NAME for name, _, _ in options.plugin_factories):
        options.plugin_factories.append((PLUGIN_NAME, make_supvisors_controller_plugin, {}))
    controller = Controller(options)
    if options.args:
        controller.onecmd(' '.join(options.args))
        sys.exit(controller.exitstatus)
    if options.interactive:
        controller.exec_cmdloop(args, options)
        sys.exit(0)


if __name__ == '__main__':  # pragma: no cover
    main()
