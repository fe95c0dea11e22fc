"""Changes Supvisors makes to the local supervisord: disabilities, extra arguments and numprocs.

Everything here runs synchronously in supervisord's thread, because it reads and mutates Supervisor's live
process objects, which are not thread-safe.

Supervisor's objects carry two attributes added here: ``process.disabled`` (bool) and ``process.extra_args`` (str);
the configured command of a process is remembered in ``process.config.supvisors_command`` before extra arguments
are first applied.
"""

import functools
import json
import os
import signal
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from supervisor.options import ProcessConfig, ServerOptions, make_namespec, split_namespec
from supervisor.process import FastCGISubprocess, Subprocess
from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
from supervisor.states import ProcessStates, STOPPED_STATES
from supervisor.xmlrpc import Faults, RPCError

from supvisors.ttypes import SupvisorsFaults
from .supervisor_config import recording_factory

# marker set on the functions installed by patch_supervisor, so that patching twice is harmless
_PATCH_MARKER = '_supvisors_patched'

# states from which Supervisor allows a spawn (see Subprocess.spawn)
_SPAWNABLE_STATES = (ProcessStates.STOPPED, ProcessStates.EXITED, ProcessStates.FATAL, ProcessStates.BACKOFF)

# attribute of a live group: program -> greatest numprocs its live processes may still correspond to
_HIGH_MARK = 'supvisors_numprocs_marks'

# the program section prefixes whose suffix is a Supvisors program name
_PROGRAM_PREFIXES = ('program:', 'fcgi-program:', 'eventlistener:')


# --------------------------------------------------------------------------------------------- disabilities
class DisabilitiesStore:
    """ The in-memory {program: disabled} mapping and its optional JSON persistence. """

    def __init__(self, path: Optional[str], logger) -> None:
        self.path = path
        self.logger = logger
        self._mapping: Dict[str, bool] = {}

    @property
    def mapping(self) -> Dict[str, bool]:
        return self._mapping

    def load(self) -> None:
        """ Read the file once at start-up; raise ValueError when it exists but cannot be used (fatal). """
        self._mapping = {}
        if not self.path or not os.path.exists(self.path):
            return
        try:
            with open(self.path, encoding='utf-8') as stream:
                content = stream.read()
        except OSError as exc:
            raise ValueError(f'cannot read the disabilities file {self.path}: {exc}') from None
        except UnicodeDecodeError as exc:
            raise ValueError(f'invalid JSON in the disabilities file {self.path}: {exc}') from None
        try:
            data = json.loads(content)
        except (ValueError, RecursionError) as exc:  # RecursionError: too deeply nested
            raise ValueError(f'invalid JSON in the disabilities file {self.path}: {exc}') from None
        if not isinstance(data, dict):
            self.logger.warn(f'DisabilitiesStore.load: {self.path} does not hold a JSON object (ignored)')
            return
        # only a JSON true disables a program
        self._mapping = {str(program): value is True for program, value in data.items()}

    def is_disabled(self, program: str) -> bool:
        return self._mapping.get(program, False)

    def set_defaults(self, programs: Iterable[str]) -> None:
        """ Every program of the local configuration appears in the file once it is written. """
        for program in programs:
            self._mapping.setdefault(program, False)

    def set(self, program: str, disabled: bool) -> None:
        self._mapping[program] = bool(disabled)

    def write(self) -> bool:
        """ Rewrite the whole mapping atomically; a failure is logged, not raised, as memory stays the reference. """
        if not self.path:
            return False
        temp_path = f'{self.path}.{os.getpid()}.tmp'
        try:
            fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            with os.fdopen(fd, 'w', encoding='utf-8') as stream:
                stream.write(json.dumps(self._mapping, separators=(',', ':')))
            os.replace(temp_path, self.path)
        except OSError as exc:
            self.logger.error(f'DisabilitiesStore.write: cannot write {self.path}: {exc}')
            try:
                os.remove(temp_path)
            except OSError:
                pass
            return False
        return True


# --------------------------------------------------------------------------------------------- Supervisor patch
def _is_disabled(process) -> bool:
    return bool(getattr(process, 'disabled', False))


def _wrap_start_process(original: Callable) -> Callable:
    @functools.wraps(original)
    def startProcess(self, name, wait=True):
        # same mood check and name resolution as Supervisor, so that its faults come first
        self._update('startProcess')
        _, process = self._getGroupAndProcess(name)
        if process is not None and _is_disabled(process):
            raise RPCError(SupvisorsFaults.DISABLED.value, name)
        return original(self, name, wait)
    setattr(startProcess, _PATCH_MARKER, True)
    return startProcess


# The signals supervisord catches, blocked around the fork of a child. Without this, a signal sent to a child
# between its fork and its exec (a stop requested right after a start) runs supervisord's handler in the child
# and is lost: the process then survives until stopwaitsecs and SIGKILL. With the signals blocked across the fork,
# the child restores their default action before unblocking them, so a pending stop signal acts at once.
_SPAWN_MASK: Dict[str, Any] = {'caught': (), 'previous': None}


def _caught_signals() -> Tuple[int, ...]:
    return tuple(sig for sig in signal.valid_signals()
                 if sig not in (signal.SIGKILL, signal.SIGSTOP) and callable(signal.getsignal(sig)))


def _wrap_spawn(original: Callable) -> Callable:
    @functools.wraps(original)
    def spawn(self):
        if _is_disabled(self):
            # called at every main loop iteration for autorestart processes: keep the log quiet
            self.config.options.logger.blather(f'spawn refused: {self.config.name} is disabled')
            return None
        if threading.current_thread() is not threading.main_thread() or _SPAWN_MASK['previous'] is not None:
            return original(self)  # not supervisord's loop (tests), or already guarded (FastCGI spawn)
        caught = _caught_signals()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, caught)
        _SPAWN_MASK.update(caught=caught, previous=previous)
        try:
            return original(self)
        finally:
            _SPAWN_MASK.update(caught=(), previous=None)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    setattr(spawn, _PATCH_MARKER, True)
    return spawn


def _wrap_spawn_as_child(original: Callable) -> Callable:
    @functools.wraps(original)
    def _spawn_as_child(self, filename, argv):
        previous = _SPAWN_MASK['previous']
        if previous is not None:
            for sig in _SPAWN_MASK['caught']:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a pending stop signal terminates the child now
        return original(self, filename, argv)
    setattr(_spawn_as_child, _PATCH_MARKER, True)
    return _spawn_as_child


def _patch_method(klass, name: str, wrapper: Callable[[Callable], Callable]) -> None:
    """ Wrap a method defined in the class itself, unless already done. """
    current = klass.__dict__.get(name)
    if current is not None and not getattr(current, _PATCH_MARKER, False):
        setattr(klass, name, wrapper(current))


def patch_supervisor() -> None:
    """ Install the DISABLED checks; idempotent because Supervisor's classes outlive an in-process restart. """
    _patch_method(SupervisorNamespaceRPCInterface, 'startProcess', _wrap_start_process)
    _patch_method(Subprocess, 'spawn', _wrap_spawn)
    # FastCGISubprocess.spawn opens the socket before calling Subprocess.spawn: refuse before that
    _patch_method(FastCGISubprocess, 'spawn', _wrap_spawn)
    _patch_method(Subprocess, '_spawn_as_child', _wrap_spawn_as_child)


# --------------------------------------------------------------------------------------------- extra arguments
def _find_process(supervisord, namespec: str):
    group_name, process_name = split_namespec(namespec)
    group = supervisord.process_groups.get(group_name)
    if group is None or process_name is None:
        return None
    return group.processes.get(process_name)


def apply_extra_args(process, extra_args: str) -> None:
    """ Rebuild the command from the configured one, so that successive extra arguments never accumulate. """
    config = process.config
    if not hasattr(config, 'supvisors_command'):
        config.supvisors_command = config.command
    config.command = f'{config.supvisors_command} {extra_args}' if extra_args else config.supvisors_command
    process.extra_args = extra_args or ''


def force_fatal(process, reason: str) -> bool:
    """ Make a start failure visible as FATAL process events; a process holding a pid is left alone. """
    state = process.get_state()
    if process.pid or state not in _SPAWNABLE_STATES:
        return False
    process.record_spawnerr(reason)
    if state != ProcessStates.BACKOFF:
        process.change_state(ProcessStates.BACKOFF)
    # give_up resets the backoff counters and emits the FATAL event
    process.give_up()
    return True


_FILE_FAULTS = (Faults.NO_FILE, Faults.NOT_EXECUTABLE)


def start_args(supervisord, namespec: str, extra_args: str, wait: bool):
    """ Start a local process with extra arguments; the answer is Supervisor's startProcess one. """
    process = _find_process(supervisord, namespec)
    if process is None:
        raise RPCError(Faults.BAD_NAME, f'namespec {namespec} unknown to this Supervisor instance')
    apply_extra_args(process, extra_args)
    try:
        result = SupervisorNamespaceRPCInterface(supervisord).startProcess(namespec, wait)
    except RPCError as exc:
        if exc.code in _FILE_FAULTS:
            force_fatal(process, exc.text)
        raise
    if isinstance(result, types.FunctionType):
        return _wrap_deferred(result, process)
    return result


def _wrap_deferred(callback: Callable, process) -> Callable:
    """ Same fault handling inside the deferred callback; must stay a plain function for Supervisor. """
    def onwait():
        try:
            return callback()
        except RPCError as exc:
            if exc.code in _FILE_FAULTS:
                force_fatal(process, exc.text)
            raise
    # the XML-RPC handler reads these attributes
    onwait.delay = getattr(callback, 'delay', 0.05)
    if hasattr(callback, 'rpcinterface'):
        onwait.rpcinterface = callback.rpcinterface
    return onwait


# --------------------------------------------------------------------------------------------- enable / disable
def _program_processes(supervisord, programs_info, program: str) -> List[Any]:
    processes = []
    for group_name, process_name in programs_info.programs.get(program, []):
        group = supervisord.process_groups.get(group_name)
        process = group.processes.get(process_name) if group is not None else None
        if process is not None:
            processes.append(process)
    return processes


def set_program_disabled(supervisord, programs_info, program: str, disabled: bool,
                         store: DisabilitiesStore) -> List[Any]:
    """ Apply the disabled flag to all the local processes of a program, in all groups, and persist it. """
    if program not in programs_info.programs:
        raise RPCError(Faults.BAD_NAME, f'program {program} unknown to Supvisors')
    processes = _program_processes(supervisord, programs_info, program)
    for process in processes:
        process.disabled = bool(disabled)
    store.set(program, disabled)
    store.write()
    if not disabled:
        for process in processes:
            # Supervisor autostarts a STOPPED process only if it has never been started
            if process.get_state() == ProcessStates.STOPPED:
                process.laststart = 0
            process.transition()
    return processes


# --------------------------------------------------------------------------------------------- numprocs
def check_numprocs(value) -> int:
    """ Accept anything int() accepts, as long as the result is positive. """
    try:
        numprocs = int(value)
    except (TypeError, ValueError, OverflowError):
        numprocs = 0
    if numprocs <= 0:
        raise RPCError(Faults.INCORRECT_PARAMETERS, f'incorrect value for numprocs: {value} (integer > 0 expected)')
    return numprocs


@dataclass
class NumprocsChange:
    """ Outcome of update_numprocs: processes already added to Supervisor, and those to remove once stopped. """
    program: str
    numprocs: int
    added: List[Any] = field(default_factory=list)
    obsolete: List[Any] = field(default_factory=list)
    # (group, process) -> index in the program, for every process of the program with the new numprocs
    indexes: Dict[Tuple[str, str], int] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        return not self.added and not self.obsolete


class _NumprocsOptions(ServerOptions):
    """ Re-reads the configuration, evaluating the sections of one program with another numprocs.

    When the new value is refused, the read goes on with the configured value, so that the program can still be
    found and the refusal reported apart. Process configs are recorded in creation order, i.e. index order
    (Supervisor sorts them by priority and name afterwards).
    """

    def __init__(self, program: str, numprocs: Optional[int], bounds: Dict[str, int]) -> None:
        super().__init__()
        self.target = program
        self.numprocs = numprocs
        self.bounds = bounds
        self.found: List[str] = []
        # group -> process configs (index order) with the new numprocs
        self.new_configs: Dict[str, List[ProcessConfig]] = {}
        # group -> process names (index order) with the larger of the new numprocs and the group size
        self.bound_names: Dict[str, List[str]] = {}
        self.error: Optional[str] = None

    def _evaluate(self, parser, section, group_name, klass, numprocs: int) -> Tuple[List[Any], List[Any]]:
        """ Return the process configs in index order and in Supervisor's order. """
        factory, created = recording_factory(klass)
        parser.set(section, 'numprocs', str(numprocs))
        # the private method gives the error text without the section / file decoration
        evaluate = getattr(self, '_processes_from_section', None) or super().processes_from_section
        return created, evaluate(parser, section, group_name, factory)

    def processes_from_section(self, parser, section, group_name, klass=None):
        prefix, _, name = section.partition(':')
        if f'{prefix}:' not in _PROGRAM_PREFIXES or name != self.target:
            return super().processes_from_section(parser, section, group_name, klass)
        self.found.append(group_name)
        if self.numprocs is None or self.error is not None:
            return super().processes_from_section(parser, section, group_name, klass)
        configured = parser.get(section, 'numprocs') if parser.has_option(section, 'numprocs') else None
        try:
            bound = self.bounds.get(group_name, 0)
            if bound > self.numprocs:
                try:
                    created, _ = self._evaluate(parser, section, group_name, klass, bound)
                except ValueError:
                    # only possible without %(process_num): every index has the same name
                    created = []
                self.bound_names[group_name] = [config.name for config in created]
            # evaluated last, so that expansions depending on numprocs use the new value
            created, configs = self._evaluate(parser, section, group_name, klass, self.numprocs)
        except ValueError as exc:
            self.error = str(exc)
            configs = None
        finally:
            if configured is None:
                parser.remove_option(section, 'numprocs')
            else:
                parser.set(section, 'numprocs', configured)
        if configs is None:
            return super().processes_from_section(parser, section, group_name, klass)
        self.new_configs[group_name] = created
        # returned to Supervisor so that the read goes on with them (e.g. [supervisord] environment merge)
        return configs


def _group_configs(supervisord, group) -> List[Any]:
    """ The live group config and any distinct same-named config kept by the options (after a reloadConfig). """
    configs = [group.config]
    for config in getattr(supervisord.options, 'process_group_configs', None) or []:
        if config.name == group.config.name and config is not group.config:
            configs.append(config)
    return configs


def update_numprocs(supervisord, configfile: str, program: str, numprocs, programs_info=None) -> NumprocsChange:
    """ Add at once the processes of a greater numprocs; only list those a smaller numprocs makes obsolete.

    When programs_info is given, it is used to check the program and is completed with the added processes.
    """
    if programs_info is not None and program not in programs_info.programs:
        raise RPCError(Faults.BAD_NAME, f'program {program} unknown to Supvisors')
    try:
        value: Optional[int] = check_numprocs(numprocs)
        value_error = None
    except RPCError as exc:
        value, value_error = None, exc
    # the greatest index a live process of the program may have, per group
    bounds = {name: max(len(group.processes), getattr(group, _HIGH_MARK, {}).get(program, 0))
              for name, group in supervisord.process_groups.items()}
    options = _NumprocsOptions(program, value, bounds)
    options.configfile = configfile
    options.here = os.path.dirname(os.path.abspath(configfile))
    try:
        options.read_config(configfile)
    except ValueError as exc:
        # the configuration is not readable any more: no new value can be applied to it
        if value_error is not None:
            raise value_error from None
        raise RPCError(SupvisorsFaults.SUPVISORS_CONF_ERROR.value, f'numprocs not applicable: {exc}') from None
    finally:
        # a kqueue poller holds a file descriptor
        options.poller.close()
    groups = [name for name in options.found if name in supervisord.process_groups]
    if not groups:
        raise RPCError(Faults.BAD_NAME, f'program {program} unknown to Supvisors')
    if value_error is not None:
        raise value_error
    if options.error is not None:
        raise RPCError(SupvisorsFaults.SUPVISORS_CONF_ERROR.value, f'numprocs not applicable: {options.error}')
    change = NumprocsChange(program, value)
    for group_name in groups:
        group = supervisord.process_groups[group_name]
        new_configs = options.new_configs.get(group_name, [])
        new_names = set()
        inherited = _inherited_disabled(group, new_configs)
        for index, config in enumerate(new_configs):
            new_names.add(config.name)
            change.indexes[(group_name, config.name)] = index
            if config.name not in group.processes:
                change.added.append(_add_process(supervisord, group, config, inherited))
        high_mark = value
        for index, name in enumerate(options.bound_names.get(group_name, [])):
            process = group.processes.get(name)
            if name not in new_names and process is not None:
                change.obsolete.append(process)
                high_mark = max(high_mark, index + 1)
        _set_high_mark(group, program, high_mark)
    if programs_info is not None:
        for process in change.added:
            key = (process.group.config.name, process.config.name)
            programs_info.table[key] = (program, change.indexes[key], process.config.autorestart)
            programs_info.programs.setdefault(program, []).append(key)
    return change


def _set_high_mark(group, program: str, value: int) -> None:
    """ Remember how far obsolete processes may go, as a decrease can leave gaps among the indexes. """
    marks = getattr(group, _HIGH_MARK, None)
    if marks is None:
        marks = {}
        setattr(group, _HIGH_MARK, marks)
    marks[program] = value


def _inherited_disabled(group, new_configs: List[ProcessConfig]) -> bool:
    """ The disabled flag of the program, taken from the processes it already has in the group. """
    for config in new_configs:
        process = group.processes.get(config.name)
        if process is not None:
            return _is_disabled(process)
    return False


def _add_process(supervisord, group, config: ProcessConfig, disabled: bool):
    # the config was built by a temporary ServerOptions: spawn, logs and pid tracking need the live one
    config.options = supervisord.options
    config.create_autochildlogs()
    for group_config in _group_configs(supervisord, group):
        group_config.process_configs.append(config)
    process = config.make_process(group)
    process.disabled = disabled
    process.extra_args = ''
    group.processes[config.name] = process
    return process


def remove_processes(supervisord, processes: Iterable[Any], programs_info=None) -> List[str]:
    """ Remove the stopped processes from Supervisor; those still holding a pid or running are kept. """
    removed = []
    for process in processes:
        if process.pid or process.get_state() not in STOPPED_STATES:
            continue
        group = process.group
        name = process.config.name
        # Subprocess.__eq__ compares priorities: identity checks only
        if group is None or group.processes.get(name) is not process:
            continue
        del group.processes[name]
        for group_config in _group_configs(supervisord, group):
            group_config.process_configs[:] = [config for config in group_config.process_configs
                                               if config.name != name]
        group_name = group.config.name
        if programs_info is not None:
            entry = programs_info.table.pop((group_name, name), None)
            if entry is not None and entry[0] in programs_info.programs:
                members = programs_info.programs[entry[0]]
                members[:] = [key for key in members if key != (group_name, name)]
        removed.append(make_namespec(group_name, name))
    return removed


__all__ = ['DisabilitiesStore', 'patch_supervisor', 'apply_extra_args', 'force_fatal', 'start_args',
           'set_program_disabled', 'check_numprocs', 'NumprocsChange', 'update_numprocs', 'remove_processes']
