"""Parsing of the ``[rpcinterface:supvisors]`` section of the Supervisor configuration file.

Supervisor hands the plugin factory a flat mapping of lower-cased option names to stripped string values.
This module turns it into typed values without side effects, so that it can run before the logger exists:
the log records produced while parsing are returned to the caller, which emits them once the logger is created.

Two error classes exist (configuration contract, 1.3):

* soft options: an invalid value is reported as an ERROR record starting with ``invalid value for <option>``
  (``invalid value for port`` for the port options) and the default value is kept;
* logging options (``logfile``, ``logfile_maxbytes``, ``logfile_backups``, ``loglevel``): an invalid value raises
  a ``ValueError``, which makes the plugin factory fail.

Option added to the 0.15 set:

* ``tick_period``: the period of the Supvisors ticks, in seconds, as a float in [0.5;3600]. Default: 5.0.
  Upstream 0.15 ticks every 5 seconds on Supervisor's ``TICK_5`` event; a shorter period speeds up the detection
  of inactive instances (``inactivity_ticks`` counts ticks) and makes tests faster. An invalid value is a soft error.
* ``partition_safety``: a boolean, default false (the 0.15 behaviour). When true, an instance starts processes
  (DEPLOYMENT, running failure strategies, start requests) only while it holds a quorum: strictly more than half of
  the instances of ``supvisors_list`` RUNNING as seen locally, or every core identifier RUNNING when
  ``core_identifiers`` is set. After a network partition, only the majority side restarts what it lost, instead of
  both sides. An invalid value is a soft error.
* ``stats_collecting_period`` (name of later Supvisors versions): the period of the statistics collection, in
  seconds, as a float in [1;3600]. Default: 5.0, the TICK_5 cadence of 0.15. Each statistics period integrates
  every period/stats_collecting_period samples. An invalid value is a soft error.
* ``internal_secret`` / ``internal_secret_file``: the secret shared by the instances of the fleet, which
  authenticates every frame of the internal communication (HMAC-SHA256, see ``supvisors.bus.framing``). Default:
  empty, no authentication, and the wire format of 0.15. The file option keeps the secret out of
  ``supervisord.conf``: its content, without surrounding blanks, is the secret. Unlike the other options, an error
  here is fatal: a secret that cannot be read must not silently turn the authentication off.
"""

import glob
import os
import platform
import socket
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Set, Tuple, TypeVar

from supervisor.datatypes import boolean, byte_size, existing_dirpath, integer, list_of_strings

from supvisors.ttypes import (LOGGER_LEVELS, ConciliationStrategies, EventLinks, StartingStrategies,
                              enum_by_name, enum_names)

T = TypeVar('T')

# log record as (level name, message), level names being those of the Supervisor logger methods
LogRecord = Tuple[str, str]

AUTO_LOGFILE = 'AUTO'
INVALID_LOGFILES = ('none', 'off', 'syslog')

DEFAULT_LOGFILE_MAXBYTES = 50 * 1024 * 1024
DEFAULT_LOGFILE_BACKUPS = 10
DEFAULT_LOGLEVEL = LOGGER_LEVELS['info']

DEFAULT_SYNCHRO_TIMEOUT = 15
SYNCHRO_TIMEOUT_RANGE = (15, 1200)
DEFAULT_INACTIVITY_TICKS = 2
INACTIVITY_TICKS_RANGE = (2, 720)
PORT_RANGE = (0, 65535)
DEFAULT_STATS_PERIODS = [10]
STATS_PERIODS_MAX_COUNT = 3
STATS_PERIOD_RANGE = (5, 3600)
STATS_PERIOD_STEP = 5
DEFAULT_STATS_HISTO = 200
STATS_HISTO_RANGE = (10, 1500)
DEFAULT_TAIL_LIMIT = 1024
DEFAULT_TICK_PERIOD = 5.0
TICK_PERIOD_RANGE = (0.5, 3600.0)
DEFAULT_STATS_COLLECTING_PERIOD = 5.0
STATS_COLLECTING_PERIOD_RANGE = (1.0, 3600.0)

INTERNAL_SECRET_FILE_MAX_SIZE = 64 * 1024

NO_RULES_FILE_MSG = 'no rules file found'
NO_DISABILITIES_FILE_MSG = 'no persistence for program disabilities'


@dataclass
class LoggingOptions:
    """ The four logging options, parsed first because the logger must exist before anything else is reported. """
    logfile: str = AUTO_LOGFILE
    logfile_maxbytes: int = DEFAULT_LOGFILE_MAXBYTES
    logfile_backups: int = DEFAULT_LOGFILE_BACKUPS
    loglevel: int = DEFAULT_LOGLEVEL


def _default_supvisors_list() -> List[str]:
    return [socket.gethostname()]


def _default_stats_periods() -> List[int]:
    return list(DEFAULT_STATS_PERIODS)


@dataclass
class SupvisorsOptions:
    """ All the options of the [rpcinterface:supvisors] section, with their parsed types and defaults. """
    supvisors_list: List[str] = field(default_factory=_default_supvisors_list)
    rules_files: Optional[List[str]] = None
    auto_fence: bool = False
    internal_port: int = 0
    event_link: EventLinks = EventLinks.NONE
    event_port: int = 0
    synchro_timeout: int = DEFAULT_SYNCHRO_TIMEOUT
    inactivity_ticks: int = DEFAULT_INACTIVITY_TICKS
    core_identifiers: Set[str] = field(default_factory=set)
    disabilities_file: Optional[str] = None
    starting_strategy: StartingStrategies = StartingStrategies.CONFIG
    conciliation_strategy: ConciliationStrategies = ConciliationStrategies.USER
    partition_safety: bool = False
    stats_enabled: bool = True
    stats_periods: List[int] = field(default_factory=_default_stats_periods)
    stats_histo: int = DEFAULT_STATS_HISTO
    stats_irix_mode: bool = False
    stats_collecting_period: float = DEFAULT_STATS_COLLECTING_PERIOD
    tail_limit: int = DEFAULT_TAIL_LIMIT
    tailf_limit: int = DEFAULT_TAIL_LIMIT
    tick_period: float = DEFAULT_TICK_PERIOD
    # the shared secret of the internal communication (empty: no authentication); never shown in a repr
    internal_secret: bytes = field(default=b'', repr=False)
    logging: LoggingOptions = field(default_factory=LoggingOptions)


# ---------------------------------------------------------------------------------------------------------------------
# Logging options (fatal errors)
# ---------------------------------------------------------------------------------------------------------------------

def to_logfile(value: str) -> str:
    """ 'AUTO' (any case) or an absolute path whose directory exists.

    NONE, OFF and SYSLOG are accepted by Supervisor's converter but cannot be used by the plugin, so they are refused.
    The path is made absolute at parsing time because supervisord may change its directory when daemonizing.
    """
    lowered = value.lower()
    if lowered == 'auto':
        return AUTO_LOGFILE
    if not value or lowered in INVALID_LOGFILES:
        raise ValueError(f'invalid value for logfile: {value!r}')
    try:
        path = existing_dirpath(value)
    except ValueError as exc:
        raise ValueError(f'invalid value for logfile: {value!r} ({exc})') from None
    return os.path.abspath(path)


def to_loglevel(value: str) -> int:
    """ Supervisor level name, case-insensitive. Python's 'warning' is not a Supervisor level name. """
    level = LOGGER_LEVELS.get(value.lower())
    if level is None:
        raise ValueError(f'invalid value for loglevel: {value!r} (expected one of {", ".join(LOGGER_LEVELS)})')
    return level


def parse_logging_options(config: Mapping[str, str]) -> LoggingOptions:
    """ Parse the logging options. Any invalid value raises ValueError naming the option (fatal error). """
    options = LoggingOptions()
    if 'logfile' in config:
        options.logfile = to_logfile(config['logfile'])
    if 'logfile_maxbytes' in config:
        value = config['logfile_maxbytes']
        try:
            options.logfile_maxbytes = byte_size(value)
        except (ValueError, TypeError, AttributeError):
            raise ValueError(f'invalid value for logfile_maxbytes: {value!r} (byte size expected)') from None
    if 'logfile_backups' in config:
        value = config['logfile_backups']
        try:
            options.logfile_backups = integer(value)
        except (ValueError, TypeError):
            raise ValueError(f'invalid value for logfile_backups: {value!r} (integer expected)') from None
    if 'loglevel' in config:
        options.loglevel = to_loglevel(config['loglevel'])
    return options


# ---------------------------------------------------------------------------------------------------------------------
# Soft options converters: each one raises ValueError with the full log message
# ---------------------------------------------------------------------------------------------------------------------

def to_supvisors_list(value: str) -> List[str]:
    """ Comma list without empty items and without duplicates, in the order given (it is the instance order). """
    return list(dict.fromkeys(item for item in list_of_strings(value) if item))


def to_bool(option: str) -> Callable[[str], bool]:
    def convert(value: str) -> bool:
        try:
            return boolean(value)
        except ValueError:
            raise ValueError(f'invalid value for {option}: {value!r} (boolean expected)') from None
    return convert


def to_ranged_int(option: str, low: int, high: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        try:
            result = integer(value)
        except (ValueError, TypeError):
            result = None
        if result is None or not low <= result <= high:
            raise ValueError(f'invalid value for {option}: {value!r} (integer expected in [{low};{high}])')
        return result
    return convert


def to_port(option: str) -> Callable[[str], int]:
    """ Port options: 0 means not set. The message names 'port', as in the contract. """
    def convert(value: str) -> int:
        try:
            result = integer(value)
        except (ValueError, TypeError):
            result = None
        low, high = PORT_RANGE
        if result is None or not low <= result <= high:
            raise ValueError(f'invalid value for port: {value!r} ({option}: integer expected in [{low};{high}])')
        return result
    return convert


def to_byte_size(option: str) -> Callable[[str], int]:
    def convert(value: str) -> int:
        try:
            return byte_size(value)
        except (ValueError, TypeError, AttributeError):
            raise ValueError(f'invalid value for {option}: {value!r} (byte size expected)') from None
    return convert


def to_event_link(value: str) -> EventLinks:
    """ Case-insensitive, unlike the strategies. """
    result = enum_by_name(EventLinks, value.upper())
    if result is None:
        raise ValueError(f'invalid value for event_link: {value!r} (expected one of {enum_names(EventLinks)})')
    return result


def to_starting_strategy(value: str) -> StartingStrategies:
    result = enum_by_name(StartingStrategies, value)
    if result is None:
        raise ValueError(f'invalid value for starting_strategy: {value!r}'
                         f' (expected one of {enum_names(StartingStrategies)})')
    return result


def to_conciliation_strategy(value: str) -> ConciliationStrategies:
    result = enum_by_name(ConciliationStrategies, value)
    if result is None:
        raise ValueError(f'invalid value for conciliation_strategy: {value!r}'
                         f' (expected one of {enum_names(ConciliationStrategies)})')
    return result


def to_core_identifiers(value: str) -> Set[str]:
    """ Unordered set of non-empty names; they are filtered against the identifiers by the mapper. """
    return {item for item in list_of_strings(value) if item}


def to_disabilities_file(value: str) -> Optional[str]:
    """ ~-expanded absolute path whose directory exists; the file itself may be missing.

    An empty value means no persistence. The path is made absolute because the file is rewritten later,
    possibly after supervisord has changed its working directory.
    """
    if not value:
        return None
    try:
        path = existing_dirpath(value)
    except ValueError:
        raise ValueError(f'invalid value for disabilities_file: {value!r} (the directory does not exist)') from None
    return os.path.abspath(path)


def to_stats_periods(value: str) -> List[int]:
    """ 1 to 3 integers in [5;3600], multiples of 5, sorted ascending; any violation invalidates the whole list. """
    low, high = STATS_PERIOD_RANGE
    error = ValueError(f'invalid value for stats_periods: {value!r} (1 to {STATS_PERIODS_MAX_COUNT} integers'
                       f' expected in [{low};{high}] and multiple of {STATS_PERIOD_STEP})')
    items = list_of_strings(value)
    if not 1 <= len(items) <= STATS_PERIODS_MAX_COUNT:
        raise error
    periods = []
    for item in items:
        try:
            period = integer(item)
        except (ValueError, TypeError):
            raise error from None
        if not low <= period <= high or period % STATS_PERIOD_STEP:
            raise error
        periods.append(period)
    return sorted(periods)


def to_ranged_float(option: str, low: float, high: float) -> Callable[[str], float]:
    """ Float in [low;high]; nan and infinities are refused. """
    def convert(value: str) -> float:
        try:
            result = float(value)
        except (ValueError, TypeError):
            result = None
        # the chained comparison also rejects nan
        if result is None or not low <= result <= high:
            raise ValueError(f'invalid value for {option}: {value!r} (float expected in [{low};{high}])')
        return result
    return convert


def to_tick_period(value: str) -> float:
    return to_ranged_float('tick_period', *TICK_PERIOD_RANGE)(value)


def expand_rules_files(value: str, here: Optional[str]) -> str:
    """ Apply the plugin's own %-expansion, on top of the expansion already done by Supervisor. """
    expansions: Dict[str, str] = {'ENV_' + key: val for key, val in os.environ.items()}
    expansions['host_node_name'] = platform.node()
    if here is not None:
        expansions['here'] = os.path.abspath(here)
    try:
        return value % expansions
    except KeyError as exc:
        raise ValueError(f'invalid value for rules_files: {value!r} (cannot expand {exc};'
                         f' available names: {", ".join(sorted(expansions))})') from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f'invalid value for rules_files: {value!r} (badly formatted: {exc})') from None


def glob_rules_files(value: str) -> List[str]:
    """ Non-recursive globbing relative to the current working directory, as sorted unique absolute paths. """
    return sorted({os.path.abspath(path) for pattern in value.split() for path in glob.glob(pattern)})


def read_internal_secret(config: Mapping[str, str], here: Optional[str]) -> Tuple[bytes, List[LogRecord]]:
    """ The shared secret of the internal communication, from internal_secret or internal_secret_file.

    Raise ValueError naming the option when it cannot be used: falling back to no secret would leave the instance
    unable to talk to the others anyway, and silently unprotected.
    A relative file path is relative to the folder of the supervisord configuration file (``here``).
    """
    value = config.get('internal_secret', '')
    path = config.get('internal_secret_file', '')
    if value and path:
        raise ValueError('internal_secret and internal_secret_file are both set: only one of them is allowed')
    if value:
        return value.encode('utf-8'), []
    if not path:
        return b'', []
    full_path = os.path.expanduser(path)
    if not os.path.isabs(full_path):
        full_path = os.path.join(os.path.abspath(here or '.'), full_path)
    try:
        with open(full_path, 'rb') as stream:
            data = stream.read(INTERNAL_SECRET_FILE_MAX_SIZE + 1)
            mode = os.fstat(stream.fileno()).st_mode
    except OSError as exc:
        raise ValueError(f'invalid value for internal_secret_file: {path!r} (cannot read {full_path}:'
                         f' {exc.strerror or exc})') from None
    if len(data) > INTERNAL_SECRET_FILE_MAX_SIZE:
        raise ValueError(f'invalid value for internal_secret_file: {path!r} (more than'
                         f' {INTERNAL_SECRET_FILE_MAX_SIZE} bytes: not a secret file)')
    secret = data.strip()
    if not secret:
        raise ValueError(f'invalid value for internal_secret_file: {path!r} ({full_path} is empty)')
    records: List[LogRecord] = []
    if mode & 0o077:
        records.append(('warn', f'internal_secret_file: {full_path} can be read or written by other users than'
                                f' its owner (mode {mode & 0o777:o})'))
    return secret, records


# ---------------------------------------------------------------------------------------------------------------------
# Main entry
# ---------------------------------------------------------------------------------------------------------------------

class _SoftParser:
    """ Apply converters to the present options, recording an ERROR and keeping the default on failure. """

    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = config
        self.records: List[LogRecord] = []

    def get(self, option: str, converter: Callable[[str], T], default: T) -> T:
        if option not in self.config:
            return default
        try:
            return converter(self.config[option])
        except ValueError as exc:
            self.records.append(('error', str(exc)))
        except Exception as exc:
            # safety net: a soft option must never make startup fail
            self.records.append(('error', f'invalid value for {option}: {self.config[option]!r} ({exc})'))
        return default


def parse_options(config: Mapping[str, str], here: Optional[str]) -> Tuple[SupvisorsOptions, List[LogRecord]]:
    """ Parse the whole section.

    Soft errors never raise: they are returned as (level, message) records to be logged once the logger exists.
    Invalid logging options and an unusable internal secret raise ValueError (fatal). ``here`` is the directory of
    the supervisord configuration file. Unknown keys are ignored.
    """
    logging_options = parse_logging_options(config)
    parser = _SoftParser(config)
    defaults = SupvisorsOptions()
    options = SupvisorsOptions(
        supvisors_list=parser.get('supvisors_list', to_supvisors_list, defaults.supvisors_list),
        auto_fence=parser.get('auto_fence', to_bool('auto_fence'), defaults.auto_fence),
        internal_port=parser.get('internal_port', to_port('internal_port'), defaults.internal_port),
        event_link=parser.get('event_link', to_event_link, defaults.event_link),
        event_port=parser.get('event_port', to_port('event_port'), defaults.event_port),
        synchro_timeout=parser.get('synchro_timeout', to_ranged_int('synchro_timeout', *SYNCHRO_TIMEOUT_RANGE),
                                   defaults.synchro_timeout),
        inactivity_ticks=parser.get('inactivity_ticks', to_ranged_int('inactivity_ticks', *INACTIVITY_TICKS_RANGE),
                                    defaults.inactivity_ticks),
        core_identifiers=parser.get('core_identifiers', to_core_identifiers, defaults.core_identifiers),
        disabilities_file=parser.get('disabilities_file', to_disabilities_file, defaults.disabilities_file),
        starting_strategy=parser.get('starting_strategy', to_starting_strategy, defaults.starting_strategy),
        conciliation_strategy=parser.get('conciliation_strategy', to_conciliation_strategy,
                                         defaults.conciliation_strategy),
        partition_safety=parser.get('partition_safety', to_bool('partition_safety'), defaults.partition_safety),
        stats_enabled=parser.get('stats_enabled', to_bool('stats_enabled'), defaults.stats_enabled),
        stats_periods=parser.get('stats_periods', to_stats_periods, defaults.stats_periods),
        stats_histo=parser.get('stats_histo', to_ranged_int('stats_histo', *STATS_HISTO_RANGE), defaults.stats_histo),
        stats_irix_mode=parser.get('stats_irix_mode', to_bool('stats_irix_mode'), defaults.stats_irix_mode),
        stats_collecting_period=parser.get('stats_collecting_period',
                                           to_ranged_float('stats_collecting_period', *STATS_COLLECTING_PERIOD_RANGE),
                                           defaults.stats_collecting_period),
        tail_limit=parser.get('tail_limit', to_byte_size('tail_limit'), defaults.tail_limit),
        tailf_limit=parser.get('tailf_limit', to_byte_size('tailf_limit'), defaults.tailf_limit),
        tick_period=parser.get('tick_period', to_tick_period, defaults.tick_period),
        logging=logging_options)
    # rules files: expansion then globbing; an expansion error leaves the option unset
    if 'rules_files' in config:
        value = config['rules_files']
        expanded = parser.get('rules_files', lambda v: expand_rules_files(v, here), None)
        if expanded is not None:
            try:
                options.rules_files = glob_rules_files(expanded)
            except Exception as exc:
                parser.records.append(('error', f'invalid value for rules_files: {value!r} ({exc})'))
            else:
                if value and not options.rules_files:
                    parser.records.append(('warn', NO_RULES_FILE_MSG))
    if options.disabilities_file is None:
        parser.records.append(('warn', NO_DISABILITIES_FILE_MSG))
    options.internal_secret, secret_records = read_internal_secret(config, here)
    parser.records.extend(secret_records)
    return options, parser.records
