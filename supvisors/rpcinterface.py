"""The ``supvisors`` XML-RPC namespace.

Methods run in supervisord's thread (Supervisor's HTTP server calls them), the thread that owns the core, so
they read and change it directly.
"""

from typing import Any, Dict, List, Union

from supervisor.xmlrpc import Faults, RPCError

from .logger import set_level
from .ttypes import API_VERSION, FROM_DEPLOYMENT_STATES, LOGGER_LEVELS, SupvisorsFaults, split_namespec


def register_faults() -> None:
    """ Make Supervisor's fault lookup resolve the Supvisors fault codes (idempotent). """
    for fault in SupvisorsFaults:
        setattr(Faults, fault.name, fault.value)


class RPCInterface:

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
