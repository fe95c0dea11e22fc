"""The external contract in one place: enumerations, fault codes, state groupings and namespec helpers.

Every interface (XML-RPC, internal bus, event stream, ctl, dashboard) takes its names and values from here,
so that a field name or an enum value exists exactly once.
"""

from enum import Enum, IntEnum
from typing import Dict, Optional, Tuple, Type, TypeVar

API_VERSION = '0.15'


class SupvisorsStates(IntEnum):
    OFF = 0
    INITIALIZATION = 1
    DEPLOYMENT = 2
    OPERATION = 3
    CONCILIATION = 4
    RESTARTING = 5
    RESTART = 6
    SHUTTING_DOWN = 7
    SHUTDOWN = 8


class SupvisorsInstanceStates(IntEnum):
    UNKNOWN = 0
    CHECKING = 1
    RUNNING = 2
    SILENT = 3
    ISOLATING = 4
    ISOLATED = 5


class ApplicationStates(IntEnum):
    STOPPED = 0
    STARTING = 1
    RUNNING = 2
    STOPPING = 3
    DELETED = 4


class StartingStrategies(IntEnum):
    CONFIG = 0
    LESS_LOADED = 1
    MOST_LOADED = 2
    LOCAL = 3
    LESS_LOADED_NODE = 4
    MOST_LOADED_NODE = 5


class ConciliationStrategies(IntEnum):
    SENICIDE = 0
    INFANTICIDE = 1
    USER = 2
    STOP = 3
    RESTART = 4
    RUNNING_FAILURE = 5


class StartingFailureStrategies(IntEnum):
    ABORT = 0
    STOP = 1
    CONTINUE = 2


class RunningFailureStrategies(IntEnum):
    CONTINUE = 0
    RESTART_PROCESS = 1
    STOP_APPLICATION = 2
    RESTART_APPLICATION = 3
    SHUTDOWN = 4
    RESTART = 5


class DistributionRules(IntEnum):
    ALL_INSTANCES = 0
    SINGLE_INSTANCE = 1
    SINGLE_NODE = 2


class EventLinks(IntEnum):
    NONE = 0
    ZMQ = 1
    WS = 2  # websocket event link (an addition: 0.15 has NONE and ZMQ)


class SupvisorsFaults(IntEnum):
    SUPVISORS_CONF_ERROR = 100
    BAD_SUPVISORS_STATE = 101
    NOT_MANAGED = 102
    DISABLED = 103


class ProcessStates(IntEnum):
    """ Supervisor's process states (same values as supervisor.states.ProcessStates). """
    STOPPED = 0
    STARTING = 10
    RUNNING = 20
    BACKOFF = 30
    STOPPING = 40
    EXITED = 100
    FATAL = 200
    UNKNOWN = 1000


# pseudo process state used on the event interface when a process disappears
DELETED_STATE = -1

RUNNING_STATES = (ProcessStates.STARTING, ProcessStates.RUNNING, ProcessStates.BACKOFF)
STOPPED_STATES = (ProcessStates.STOPPED, ProcessStates.EXITED, ProcessStates.FATAL, ProcessStates.UNKNOWN)


class InternalMessages(IntEnum):
    """ Codes of the messages exchanged on the internal bus. """
    HEARTBEAT = 0
    TICK = 1
    PROCESS = 2
    PROCESS_ADDED = 3
    PROCESS_REMOVED = 4
    PROCESS_DISABILITY = 5
    STATISTICS = 6
    STATE = 7
    # the handshake over the bus (a request from a subscriber, the answer to that subscriber only)
    CHECK_REQUEST = 8
    CHECK_ANSWER = 9


# Supervisor logger levels (description -> value), in the order used by change_log_level fault texts
LOGGER_LEVELS: Dict[str, int] = {'critical': 50, 'error': 40, 'warn': 30, 'info': 20,
                                 'debug': 10, 'trace': 5, 'blather': 3}

# Supvisors state gates (1.4 of the XML-RPC contract)
FROM_DEPLOYMENT_STATES = (SupvisorsStates.DEPLOYMENT, SupvisorsStates.OPERATION, SupvisorsStates.CONCILIATION,
                          SupvisorsStates.RESTARTING, SupvisorsStates.SHUTTING_DOWN)
OPERATION_STATES = (SupvisorsStates.OPERATION,)
OPERATION_OR_CONCILIATION_STATES = (SupvisorsStates.OPERATION, SupvisorsStates.CONCILIATION)
CONCILIATION_STATES = (SupvisorsStates.CONCILIATION,)

E = TypeVar('E', bound=Enum)


def enum_names(enum_klass: Type[E]) -> list:
    return [x.name for x in enum_klass]


def enum_values(enum_klass: Type[E]) -> list:
    return [x.value for x in enum_klass]


def enum_by_name(enum_klass: Type[E], name: str) -> Optional[E]:
    """ Exact (case-sensitive) lookup of an enum member by name; None if unknown. """
    return enum_klass.__members__.get(name) if isinstance(name, str) else None


def make_namespec(group: str, process: str) -> str:
    """ Render a namespec: the bare name when the group and the process have the same name. """
    return process if group == process else f'{group}:{process}'


def split_namespec(namespec: str) -> Tuple[str, Optional[str]]:
    """ Split on the first colon: 'g:p' -> (g, p); 'g:' or 'g:*' -> (g, None); 'p' -> (p, p). """
    group, sep, process = namespec.partition(':')
    if not sep:
        return namespec, namespec
    if process in ('', '*'):
        return group, None
    return group, process
