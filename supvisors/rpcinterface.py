"""The ``supvisors`` XML-RPC namespace.

Methods run in supervisord's thread (Supervisor's HTTP server calls them), the thread that owns the core, so
they read and change it directly.
"""

import re
from typing import Any, Callable, Dict, List, Type, Union

from supervisor.http import NOT_DONE_YET
from supervisor.xmlrpc import Faults, RPCError

from .core.failures import conciliate, restart_process
from .adapters.process_control import remove_processes, set_program_disabled, start_args, update_numprocs
from .logger import set_level
from .ttypes import (API_VERSION, CONCILIATION_STATES, FROM_DEPLOYMENT_STATES, LOGGER_LEVELS,
                     OPERATION_OR_CONCILIATION_STATES, OPERATION_STATES, ApplicationStates, ConciliationStrategies,
                     StartingStrategies, SupvisorsFaults, SupvisorsStates, enum_names, enum_values, make_namespec,
                     split_namespec)

# how often Supervisor's HTTP server polls a deferred answer (upstream: 0.5 s); the wake-up channel makes the
# server loop turn as soon as something happens, so a short period costs nothing while nothing is pending
WAIT_DELAY = 0.05

EnumParameterType = Union[str, int]


def register_faults() -> None:
    """ Make Supervisor's fault lookup resolve the Supvisors fault codes (idempotent). """
    for fault in SupvisorsFaults:
        setattr(Faults, fault.name, fault.value)


_SPHINX_PARAM = re.compile(r':param\s+(.+)\s+(\w+):')
_SPHINX_RTYPE = re.compile(r':rtype:\s*(.+)$')


# characters that XML 1.0 cannot carry, even escaped
_XML_INVALID = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def xml_safe(text: str) -> str:
    """ The text with the characters that XML cannot carry written as \\xNN escapes. """
    return _XML_INVALID.sub(lambda match: f'\\x{ord(match.group()):02x}', text)


def patch_fault_marshalling() -> None:
    """ Fault strings echo the caller's arguments: a control character there made an answer that no XML-RPC client
    can parse. Escape those characters in faults (idempotent; regular answers are unchanged). """
    from supervisor import xmlrpc
    import xmlrpc.client as xmlrpclib
    original = getattr(xmlrpc.xmlrpc_marshal, 'supvisors_original', xmlrpc.xmlrpc_marshal)

    def xmlrpc_marshal(value):
        if isinstance(value, xmlrpclib.Fault) and isinstance(value.faultString, str):
            value = xmlrpclib.Fault(value.faultCode, xml_safe(value.faultString))
        return original(value)
    xmlrpc_marshal.supvisors_original = original
    xmlrpc.xmlrpc_marshal = xmlrpc_marshal


def patch_introspection() -> None:
    """ system.methodSignature reads JavaDoc-like tags (@param / @return): make it read the Sphinx fields of the
    supvisors docstrings too (idempotent; Supervisor's own methods are unchanged). """
    from supervisor import xmlrpc
    original = getattr(xmlrpc.gettags, 'supvisors_original', xmlrpc.gettags)

    def gettags(comment):
        tags = original(comment)
        for lineno, line in enumerate(comment.split('\n')):
            line = line.strip()
            match = _SPHINX_PARAM.match(line)
            if match:
                tags.append((lineno, 'param', match.group(1), match.group(2), ''))
                continue
            match = _SPHINX_RTYPE.match(line)
            if match:
                tags.append((lineno, 'return', match.group(1).strip(), '', ''))
        return tags
    gettags.supvisors_original = original
    xmlrpc.gettags = gettags


class RPCInterface:

    # names listed by system.listMethods as in 0.15 (callable attributes that are not methods: calling them gives
    # UNKNOWN_METHOD)
    EnumParameterType = Union[str, int]
    OnWaitReturnType = Callable[[], Any]
    OnWaitStringReturnType = Callable[[], Any]
    WaitReturnType = Union[Callable[[], Any], bool]
    WaitStringReturnType = Union[Callable[[], Any], str]

    @staticmethod
    def get_logger_levels() -> Dict[int, str]:
        """ The logger levels (value -> name). """
        return {value: name for name, value in LOGGER_LEVELS.items()}

    def __init__(self, runtime):
        self._runtime = runtime

    @property
    def _core(self):
        return self._runtime.core

    def _check_state(self, allowed) -> None:
        state = self._core.fsm_state
        if state not in allowed:
            raise RPCError(SupvisorsFaults.BAD_SUPVISORS_STATE.value,
                           f'Supvisors (state={state.name}) not in state {[x.name for x in allowed]}'
                           ' to perform request')

    def _check_quorum(self, synchronized_only: bool = False) -> None:
        """ partition_safety: an instance without quorum (minority side of a partition) refuses every start, so
        that a process is not started on both sides; stops stay allowed.

        synchronized_only (start_args): the check applies only once the local instance has left INITIALIZATION.
        start_args is also how a Master has a process started on an instance, and a Master holds the quorum; while
        the target is still synchronizing, its own view (itself alone RUNNING, at start-up) says nothing of a
        partition, and refusing would fail the starts of the first DEPLOYMENT. """
        core = self._core
        if synchronized_only and core.fsm_state in (SupvisorsStates.OFF, SupvisorsStates.INITIALIZATION):
            return
        if not core.starts_allowed():
            raise RPCError(SupvisorsFaults.BAD_SUPVISORS_STATE.value,
                           f'partition_safety: Supvisors instance {core.local_identifier} has no quorum'
                           f' ({core.quorum_detail()}): start refused')

    # ------------------------------------------------------------------ status
    def get_api_version(self) -> str:
        """ Return the version of the RPC API used by Supvisors.

        :return: the version id
        :rtype: str
        """
        return API_VERSION

    def get_supvisors_state(self) -> Dict[str, Any]:
        """ Return the state of Supvisors.

        :return: the state of Supvisors
        :rtype: dict[str, Any]
        """
        return self._core.supvisors_state()

    def get_master_identifier(self) -> str:
        """ Get the identification of the Supvisors instance elected as Master.

        :return: the identifier of the Master instance, empty if none
        :rtype: str
        """
        return self._core.master

    def get_strategies(self) -> Dict[str, Any]:
        """ Get the default strategies applied by Supvisors.

        :return: the strategies used in Supvisors
        :rtype: dict[str, Any]
        """
        options = self._runtime.options
        return {'auto-fencing': options.auto_fence,
                'starting': options.starting_strategy.name,
                'conciliation': options.conciliation_strategy.name}

    def get_instance_info(self, identifier: str) -> Dict[str, Any]:
        """ Get information about the Supvisors instance identified by identifier.

        :param str identifier: the identifier of the Supvisors instance
        :return: a structure containing information about the Supvisors instance
        :rtype: dict[str, Any]
        """
        if not isinstance(identifier, str) or identifier not in self._core.instances:
            raise RPCError(Faults.INCORRECT_PARAMETERS, f'{identifier} unknown to Supvisors')
        return self._core.instance_info(identifier)

    def get_all_instances_info(self) -> List[Dict[str, Any]]:
        """ Get information about all Supvisors instances.

        :return: a list of structures containing information about all Supvisors instances
        :rtype: list[dict[str, Any]]
        """
        return self._core.all_instances_info()

    def get_all_local_process_info(self) -> List[Dict[str, Any]]:
        """ Get information about all processes of the local Supervisor, with Supvisors' additions.

        :return: a list of structures containing information about the processes
        :rtype: list[dict[str, Any]]
        """
        return self._runtime.local.all_process_info()

    def get_local_process_info(self, namespec: str) -> Dict[str, Any]:
        """ Get information about a process of the local Supervisor, with Supvisors' additions.

        :param str namespec: the process namespec (``name``, ``group:name``)
        :return: a structure containing information about the process
        :rtype: dict[str, Any]
        """
        if not isinstance(namespec, str):
            raise RPCError(Faults.BAD_NAME, str(namespec))
        return self._runtime.local.local_process_info(namespec)

    # ------------------------------------------------------------------ applications and processes
    def _get_application(self, application_name: str):
        application = self._core.context.applications.get(application_name) \
            if isinstance(application_name, str) else None
        if application is None:
            raise RPCError(Faults.BAD_NAME, f'application {application_name} unknown to Supvisors')
        return application

    def _get_processes(self, namespec: str) -> list:
        """ One process, or every process of the group for ``group:*``, with the contract's BAD_NAME texts. """
        if not isinstance(namespec, str):
            raise RPCError(Faults.BAD_NAME, f'application {namespec} unknown to Supvisors')
        application_name, process_name = split_namespec(namespec)
        application = self._get_application(application_name)
        if process_name is None:
            return list(application.processes.values())
        process = application.processes.get(process_name)
        if process is None:
            raise RPCError(Faults.BAD_NAME, f'process={process_name} unknown in application={application_name}')
        return [process]

    def get_all_applications_info(self) -> List[Dict[str, Any]]:
        """ Get information about all applications managed in Supvisors.

        :return: a list of structures containing information about all applications
        :rtype: list[dict[str, Any]]
        """
        self._check_state(FROM_DEPLOYMENT_STATES)
        return [application.serial() for application in self._core.context.applications.values()]

    def get_application_info(self, application_name: str) -> Dict[str, Any]:
        """ Get information about an application named application_name.

        :param str application_name: the name of the application
        :return: a structure containing information about the application
        :rtype: dict[str, Any]
        """
        self._check_state(FROM_DEPLOYMENT_STATES)
        return self._get_application(application_name).serial()

    def get_application_rules(self, application_name: str) -> Dict[str, Any]:
        """ Get the rules used to start / stop the application named application_name.

        :param str application_name: the name of the application
        :return: a structure containing the rules
        :rtype: dict[str, Any]
        """
        self._check_state(FROM_DEPLOYMENT_STATES)
        application = self._get_application(application_name)
        return application.rules.serial(application.application_name)

    def get_all_process_info(self) -> List[Dict[str, Any]]:
        """ Get synthetic information about all processes.

        :return: a list of structures containing information about the processes
        :rtype: list[dict[str, Any]]
        """
        self._check_state(FROM_DEPLOYMENT_STATES)
        return [process.serial() for process in self._core.context.processes()]

    def get_process_info(self, namespec: str) -> List[Dict[str, Any]]:
        """ Get synthetic information about a process named namespec.

        :param str namespec: the process namespec (``name``, ``group:name``, or ``group:*``)
        :return: a list of structures containing information about the processes
        :rtype: list[dict[str, Any]]
        """
        self._check_state(FROM_DEPLOYMENT_STATES)
        return [process.serial() for process in self._get_processes(namespec)]

    def get_process_rules(self, namespec: str) -> List[Dict[str, Any]]:
        """ Get the rules used to start / stop the process named namespec.

        :param str namespec: the process namespec (``name``, ``group:name``, or ``group:*``)
        :return: a list of structures containing the rules
        :rtype: list[dict[str, Any]]
        """
        self._check_state(FROM_DEPLOYMENT_STATES)
        return [process.rules.serial(process.application_name, process.process_name)
                for process in self._get_processes(namespec)]

    def get_conflicts(self) -> List[Dict[str, Any]]:
        """ Get the conflicting processes.

        :return: a list of structures containing information about the conflicting processes
        :rtype: list[dict[str, Any]]
        """
        self._check_state(FROM_DEPLOYMENT_STATES)
        return [process.serial() for process in self._core.context.conflicts()]

    # ------------------------------------------------------------------ commands
    def _deferred(self, check: Callable[[], Any]) -> Callable[[], Any]:
        """ A deferred answer: Supervisor calls it until it returns something else than NOT_DONE_YET. """
        runtime = self._runtime

        def onwait():
            result = check()
            if result is NOT_DONE_YET:
                runtime.note_deferred()
            return result
        onwait.delay = WAIT_DELAY
        return onwait

    def _run(self, method: Callable, *args) -> Any:
        return self._runtime.run(method, *args)

    def _managed_application(self, application_name: str):
        """ An application known and managed, with the bare-name fault texts of start/stop_application. """
        application = self._core.context.applications.get(application_name) \
            if isinstance(application_name, str) else None
        if application is None:
            raise RPCError(Faults.BAD_NAME, application_name)
        if not application.managed:
            raise RPCError(SupvisorsFaults.NOT_MANAGED.value, application_name)
        return application

    def _when_idle(self, busy: Callable[[], bool], outcome: Callable[[], Any]) -> Callable[[], Any]:
        """ A deferred answer given by outcome() once the job engines are idle. """
        def check():
            return NOT_DONE_YET if busy() else outcome()
        return self._deferred(check)

    def start_application(self, strategy: EnumParameterType, application_name: str, wait: bool = True) -> bool:
        """ Start the application named application_name iaw the strategy and the rules file.

        :param StartingStrategies strategy: the strategy used to choose a Supvisors instance
        :param str application_name: the name of the application
        :param bool wait: wait for the application to be fully started
        :return: always True unless error or nothing to start
        :rtype: bool
        """
        self._check_state(OPERATION_STATES)
        self._check_quorum()
        strategy = _parse_enum(StartingStrategies, strategy)
        application = self._managed_application(application_name)
        if application.state != ApplicationStates.STOPPED:
            raise RPCError(Faults.ALREADY_STARTED, application_name)
        starter = self._core.starter
        self._run(lambda now: starter.start_application(strategy, application))
        in_progress = starter.in_progress()
        if wait and in_progress:
            def outcome():
                if application.state != ApplicationStates.RUNNING:
                    raise RPCError(Faults.ABNORMAL_TERMINATION, application_name)
                return True
            return self._when_idle(starter.in_progress, outcome)
        return in_progress

    def stop_application(self, application_name: str, wait: bool = True) -> bool:
        """ Stop the application named application_name.

        :param str application_name: the name of the application
        :param bool wait: wait for the application to be fully stopped
        :return: always True unless error
        :rtype: bool
        """
        self._check_state(OPERATION_OR_CONCILIATION_STATES)
        application = self._managed_application(application_name)
        if not application.running():
            raise RPCError(Faults.NOT_RUNNING, application_name)
        stopper = self._core.stopper
        self._run(lambda now: stopper.stop_application(application))
        in_progress = stopper.in_progress()
        if wait and in_progress:
            def outcome():
                if application.state != ApplicationStates.STOPPED:
                    raise RPCError(Faults.ABNORMAL_TERMINATION, application_name)
                return True
            return self._when_idle(stopper.in_progress, outcome)
        return in_progress

    def restart_application(self, strategy: EnumParameterType, application_name: str, wait: bool = True) -> bool:
        """ Restart the application named application_name iaw the strategy and the rules file.

        :param StartingStrategies strategy: the strategy used to choose a Supvisors instance
        :param str application_name: the name of the application
        :param bool wait: wait for the application to be fully restarted
        :return: always True unless error
        :rtype: bool
        """
        self._check_state(OPERATION_STATES)
        self._check_quorum()
        strategy = _parse_enum(StartingStrategies, strategy)
        application = self._get_application(application_name)
        core = self._core

        def start():
            if application.state == ApplicationStates.STOPPED:
                core.starter.start_application(strategy, application)

        def schedule(now):
            if application.running():
                core.stopper.stop_application(application, then=start)
            else:
                start()
        self._run(schedule)
        if not core.busy():
            raise RPCError(Faults.ABNORMAL_TERMINATION, f'failed restarting {application_name}')
        if not wait:
            return True

        def outcome():
            if application.state == ApplicationStates.STOPPED:
                raise RPCError(Faults.ABNORMAL_TERMINATION, f'failed to restart {application_name}')
            return True
        return self._when_idle(core.busy, outcome)

    def start_args(self, namespec: str, extra_args: str, wait: bool = True) -> bool:
        """ Start a local process with extra arguments.

        :param str namespec: the namespec of the process
        :param str extra_args: the extra arguments added to the command line of the process
        :param bool wait: wait for the process to be fully started
        :return: always True unless error
        :rtype: bool
        """
        self._check_quorum(synchronized_only=True)
        if not isinstance(extra_args, str):
            # stored and shared with every instance: anything else would break their process information
            raise RPCError(Faults.INCORRECT_PARAMETERS, f'extra_args must be a string: {extra_args!r}')
        self._get_processes(namespec)  # known to Supvisors, with the contract's BAD_NAME texts
        if split_namespec(namespec)[1] is None:
            raise RPCError(Faults.BAD_NAME, f'{namespec}: start_args applies to one process, not to a group')
        return start_args(self._runtime.supervisord, namespec, extra_args, wait)

    def _start_targets(self, strategy: StartingStrategies, processes, extra_args: str) -> None:
        core = self._core

        def schedule(now):
            for process in processes:
                if process.stopped():
                    core.starter.start_process(strategy, process, extra_args)
        self._run(schedule)

    def start_process(self, strategy: EnumParameterType, namespec: str, extra_args: str = '',
                      wait: bool = True) -> bool:
        """ Start a process named namespec iaw the strategy and some of the rules file.

        :param StartingStrategies strategy: the strategy used to choose a Supvisors instance
        :param str namespec: the process namespec (``name``, ``group:name``, or ``group:*``)
        :param str extra_args: extra arguments to be passed to the command line of the program
        :param bool wait: wait for the process to be fully started
        :return: always True unless error
        :rtype: bool
        """
        self._check_state(OPERATION_STATES)
        self._check_quorum()
        strategy = _parse_enum(StartingStrategies, strategy)
        processes = self._get_processes(namespec)
        for process in processes:
            if process.running():
                raise RPCError(Faults.ALREADY_STARTED, process.namespec)
        core = self._core
        self._start_targets(strategy, processes, str(extra_args))
        if not core.starter.in_progress():
            raise RPCError(Faults.ABNORMAL_TERMINATION, namespec)
        if not wait:
            return True

        def outcome():
            for process in processes:
                if process.stopped():
                    raise RPCError(Faults.ABNORMAL_TERMINATION, process.namespec)
            return True
        return self._when_idle(core.starter.in_progress, outcome)

    def start_any_process(self, strategy: EnumParameterType, regex: str, extra_args: str = '',
                          wait: bool = True) -> str:
        """ Start one process among those matching the regular expression, iaw the strategy and the rules file.

        :param StartingStrategies strategy: the strategy used to choose a Supvisors instance
        :param str regex: a regular expression used to match process names
        :param str extra_args: extra arguments to be passed to the command line of the program
        :param bool wait: wait for the process to be fully started
        :return: the namespec of the process started unless error
        :rtype: str
        """
        self._check_state(OPERATION_STATES)
        self._check_quorum()
        strategy = _parse_enum(StartingStrategies, strategy)
        try:
            pattern = re.compile(regex)
        except (re.error, TypeError) as exc:
            raise RPCError(Faults.INCORRECT_PARAMETERS, f'invalid regular expression: {regex} ({exc})')
        core = self._core
        chosen = None
        for process in core.context.processes():
            if pattern.search(process.namespec) and not process.running() and \
                    core.starter.placement(strategy, process) is not None:
                chosen = process
                break
        if chosen is None:
            raise RPCError(Faults.BAD_NAME, f'no candidate process matching "{regex}"')
        result = self.start_process(strategy, chosen.namespec, extra_args, wait)
        if callable(result):
            def check():
                value = result()
                return value if value is NOT_DONE_YET else chosen.namespec
            return self._deferred(check)
        return chosen.namespec

    def stop_process(self, namespec: str, wait: bool = True) -> bool:
        """ Stop the process named namespec where it is running.

        :param str namespec: the process namespec (``name``, ``group:name``, or ``group:*``)
        :param bool wait: wait for process to be fully stopped
        :return: always True unless error
        :rtype: bool
        """
        self._check_state(OPERATION_OR_CONCILIATION_STATES)
        processes = self._get_processes(namespec)
        core = self._core

        def schedule(now):
            for process in processes:
                core.stopper.stop_process(process)
        self._run(schedule)
        if not core.stopper.in_progress():
            raise RPCError(Faults.NOT_RUNNING, namespec)
        if not wait:
            return True

        def outcome():
            running = [process.namespec for process in processes if process.running()]
            if running:
                raise RPCError(Faults.ABNORMAL_TERMINATION, ' '.join(running))
            return True
        return self._when_idle(core.stopper.in_progress, outcome)

    def restart_process(self, strategy: EnumParameterType, namespec: str, extra_args: str = '',
                        wait: bool = True) -> bool:
        """ Restart a process named namespec iaw the strategy and some of the rules file.

        :param StartingStrategies strategy: the strategy used to choose a Supvisors instance
        :param str namespec: the process namespec (``name``, ``group:name``, or ``group:*``)
        :param str extra_args: extra arguments to be passed to the command line of the program
        :param bool wait: wait for process to be fully restarted
        :return: always True unless error
        :rtype: bool
        """
        self._check_state(OPERATION_STATES)
        self._check_quorum()
        strategy = _parse_enum(StartingStrategies, strategy)
        processes = self._get_processes(namespec)
        core = self._core

        def schedule(now):
            for process in processes:
                restart_process(core, process, strategy, str(extra_args))
        self._run(schedule)
        if not core.busy():
            raise RPCError(Faults.ABNORMAL_TERMINATION, f'failed restarting {namespec}')
        if not wait:
            return True

        def outcome():
            stopped = [process.namespec for process in processes if process.stopped()]
            if stopped:
                raise RPCError(Faults.ABNORMAL_TERMINATION, ' '.join(stopped))
            return True
        return self._when_idle(core.busy, outcome)

    def _local_statuses(self, supervisor_processes) -> list:
        """ The fleet-wide status of local Supervisor processes. """
        context = self._core.context
        statuses = [context.get_process(make_namespec(p.group.config.name, p.config.name))
                    for p in supervisor_processes]
        return [x for x in statuses if x is not None]

    def _publish_disability(self, supervisor_processes) -> None:
        infos = [self._runtime.local.process_info(process) for process in supervisor_processes]
        self._run(self._core.on_local_disability, infos)

    def enable(self, program_name: str, wait: bool = True) -> bool:
        """ Enable the process, i.e. allow its starting.

        :param str program_name: the name of the program
        :param bool wait: wait for the disabled flag to be seen everywhere in Supvisors
        :return: always True unless error
        :rtype: bool
        """
        self._check_state(OPERATION_STATES)
        runtime = self._runtime
        processes = set_program_disabled(runtime.supervisord, runtime.programs, program_name, False,
                                         runtime.disabilities)
        self._publish_disability(processes)
        if not wait:
            return True
        local = self._core.local_identifier
        statuses = self._local_statuses(processes)

        def check():
            return NOT_DONE_YET if any(x.disabled_on(local) for x in statuses) else True
        return self._deferred(check)

    def disable(self, program_name: str, wait: bool = True) -> bool:
        """ Disable the process, i.e. prevent its starting, and stop it where it runs locally.

        :param str program_name: the name of the program
        :param bool wait: wait for the processes to be stopped and the disabled flag to be seen in Supvisors
        :return: always True unless error
        :rtype: bool
        """
        self._check_state(OPERATION_STATES)
        runtime = self._runtime
        processes = set_program_disabled(runtime.supervisord, runtime.programs, program_name, True,
                                         runtime.disabilities)
        self._publish_disability(processes)
        core = self._core
        local = core.local_identifier
        statuses = self._local_statuses(processes)

        def schedule(now):
            for status in statuses:
                if status.running_on(local):
                    core.stopper.stop_process(status, identifiers=[local])
        self._run(schedule)
        if not wait:
            return True

        def check():
            if core.stopper.in_progress():
                return NOT_DONE_YET
            running = [x.namespec for x in statuses if x.running_on(local)]
            if running:
                raise RPCError(Faults.ABNORMAL_TERMINATION, ' '.join(running))
            return NOT_DONE_YET if not all(x.disabled_on(local) for x in statuses) else True
        return self._deferred(check)

    def update_numprocs(self, program_name: str, numprocs: int, wait: bool = True) -> bool:
        """ Update dynamically the numprocs of the program (local Supervisor only).

        :param str program_name: the name of the program
        :param int numprocs: the new numprocs value
        :param bool wait: wait for the processes to be added or removed
        :return: always True unless error
        :rtype: bool
        """
        self._check_state(OPERATION_STATES)
        runtime = self._runtime
        change = update_numprocs(runtime.supervisord, runtime.supervisord.options.configfile, program_name,
                                 numprocs, runtime.programs)
        if change.unchanged:
            return True
        core = self._core
        local = core.local_identifier
        if change.added:
            runtime.prepare_processes(change.added)
            infos = [runtime.local.process_info(process) for process in change.added]
            self._run(core.on_local_processes_added, infos)
            if not wait:
                return True
            namespecs = [make_namespec(x['group'], x['name']) for x in infos]

            def added():
                for namespec in namespecs:
                    status = core.context.get_process(namespec)
                    if status is None or local not in status.info_map:
                        return NOT_DONE_YET
                return True
            return self._deferred(added)
        # decrease: stop the obsolete processes that run here, then remove what is stopped (always deferred)
        obsolete = list(change.obsolete)
        statuses = self._local_statuses(obsolete)

        def schedule(now):
            for status in statuses:
                if status.running_on(local):
                    core.stopper.stop_process(status, identifiers=[local])
        self._run(schedule)
        state = {'removed': None}

        def removed():
            if core.stopper.in_progress():
                return NOT_DONE_YET
            if state['removed'] is None:
                state['removed'] = remove_processes(runtime.supervisord, obsolete, runtime.programs)
                for namespec in state['removed']:
                    group, name = split_namespec(namespec)
                    self._run(core.on_local_process_removed, group, name)
                kept = [make_namespec(p.group.config.name, p.config.name) for p in obsolete
                        if make_namespec(p.group.config.name, p.config.name) not in state['removed']]
                if kept:
                    raise RPCError(Faults.ABNORMAL_TERMINATION, ' '.join(kept))
            if wait:
                for namespec in state['removed']:
                    status = core.context.get_process(namespec)
                    if status is not None and local in status.info_map:
                        return NOT_DONE_YET
            return True
        return self._deferred(removed)

    def conciliate(self, strategy: EnumParameterType) -> bool:
        """ Apply the conciliation strategy only if Supvisors is in CONCILIATION state.

        :param ConciliationStrategies strategy: the strategy used to conciliate
        :return: True if conciliation is triggered, False when strategy is USER
        :rtype: bool
        """
        self._check_state(CONCILIATION_STATES)
        strategy = _parse_enum(ConciliationStrategies, strategy)
        if strategy == ConciliationStrategies.USER:
            return False
        core = self._core
        self._run(lambda now: conciliate(core, strategy, core.context.conflicts()))
        return True

    def restart_sequence(self, wait: bool = True) -> bool:
        """ Triggers the whole starting sequence by going back to the DEPLOYMENT state.

        :param bool wait: wait for the completion of the DEPLOYMENT state
        :return: always True unless error
        :rtype: bool
        """
        self._check_state(OPERATION_STATES)
        self._check_quorum()
        core = self._core
        deployments = core.deployment_count
        self._run(core.request_restart_sequence)
        if not wait:
            return True

        def check():
            if core.deployment_count > deployments and core.fsm_state == SupvisorsStates.OPERATION:
                return True
            return NOT_DONE_YET
        return self._deferred(check)

    # ------------------------------------------------------------------ global control
    def restart(self) -> bool:
        """ Stops all applications and restart Supvisors through all Supervisor daemons.

        :return: always True unless error
        :rtype: bool
        """
        self._check_state(FROM_DEPLOYMENT_STATES)
        self._runtime.run(self._core.request_restart)
        return True

    def shutdown(self) -> bool:
        """ Stops all applications and shut down Supvisors through all Supervisor daemons.

        :return: always True unless error
        :rtype: bool
        """
        self._check_state(FROM_DEPLOYMENT_STATES)
        self._runtime.run(self._core.request_shutdown)
        return True

    def change_log_level(self, level_param: Union[str, int]) -> bool:
        """ Change the logger level for the local Supvisors.

        :param Union[str, int] level_param: the new logger level, as a string or as its value
        :return: always True unless error
        :rtype: bool
        """
        level = _parse_log_level(level_param)
        set_level(self._runtime.logger, level)
        return True


def _parse_enum(enum_klass: Type, value: Any):
    """ A strategy given by name (exact) or by value, with the contract's fault texts. """
    if isinstance(value, str):
        member = enum_klass.__members__.get(value)
        if member is None:
            raise RPCError(Faults.INCORRECT_PARAMETERS,
                           f'invalid {enum_klass}: {value} (string expected in {enum_names(enum_klass)})')
        return member
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in enum_values(enum_klass):
            raise RPCError(Faults.INCORRECT_PARAMETERS,
                           f'incorrect strategy: {value} (integer expected in {enum_values(enum_klass)}')
        return enum_klass(value)
    raise RPCError(Faults.INCORRECT_PARAMETERS, f'invalid {enum_klass}: {value} (string or integer expected)')


def _parse_log_level(level_param: Any) -> int:
    names = list(LOGGER_LEVELS)
    values = list(LOGGER_LEVELS.values())
    if isinstance(level_param, str):
        if level_param in LOGGER_LEVELS:
            return LOGGER_LEVELS[level_param]
        raise RPCError(Faults.INCORRECT_PARAMETERS,
                       f'invalid logger level: {level_param} (string expected in {names})')
    if isinstance(level_param, int) and not isinstance(level_param, bool):
        if level_param in values:
            return level_param
        raise RPCError(Faults.INCORRECT_PARAMETERS,
                       f'invalid logger level: {level_param} (integer expected in {values})')
    raise RPCError(Faults.INCORRECT_PARAMETERS, f'invalid logger level: {level_param} (string or integer expected)')
