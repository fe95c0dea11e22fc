"""Tests of the supervisord-side mechanics: disabilities, extra arguments, numprocs (xml_rpc 4.19, 4.24-4.26, 5)."""

import json
import os
import stat
import types
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from supervisor import events
from supervisor.http import NOT_DONE_YET
from supervisor.options import ServerOptions
from supervisor.process import FastCGISubprocess, Subprocess
from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
from supervisor.states import ProcessStates
from supervisor.supervisord import Supervisor
from supervisor.xmlrpc import Faults, RPCError

from supvisors.adapters.process_control import (DisabilitiesStore, apply_extra_args, check_numprocs, patch_supervisor,
                                                remove_processes, set_program_disabled, start_args, update_numprocs)
from supvisors.adapters.supervisor_config import read_programs
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.ttypes import SupvisorsFaults

CONFIG = """\
[supervisord]
logfile = %(here)s/supervisord.log
pidfile = %(here)s/supervisord.pid
childlogdir = %(here)s

[program:idle]
command = /bin/true
autostart = false

[program:auto]
command = /bin/sleep 100
startsecs = 0

[program:web]
command = /bin/sleep 100
process_name = web_%(process_num)d
numprocs = 2
autostart = false

[program:padded]
command = /bin/sleep %(process_num)d
process_name = padded_%(process_num)02d
numprocs_start = 1
autostart = false

[program:multi]
command = /bin/sleep 100
process_name = multi_%(process_num)d
autostart = false

[group:grp1]
programs = multi

[group:grp2]
programs = multi,solo

[program:solo]
command = /bin/true
autostart = false

[program:missing]
command = /nonexistent/command
autostart = false

[program:noexec]
command = %(here)s/noexec.sh
autostart = false
"""


class FakeForks:
    """ Replaces the system calls of Subprocess.spawn: no child is ever created. """

    def __init__(self) -> None:
        self.next_pid = 10000
        self.calls: List[int] = []

    def fork(self) -> int:
        self.next_pid += 1
        self.calls.append(self.next_pid)
        return self.next_pid

    @staticmethod
    def make_pipes(stderr: bool = True) -> Dict[str, Any]:
        return dict.fromkeys(('child_stdin', 'stdin', 'stdout', 'child_stdout', 'stderr', 'child_stderr'))


@pytest.fixture(autouse=True)
def patched(monkeypatch) -> None:
    """ Patch Supervisor for one test only, and register the fault name as the plugin does. """
    for klass in (SupervisorNamespaceRPCInterface, Subprocess, FastCGISubprocess):
        for name in ('startProcess', 'spawn'):
            if name in klass.__dict__:
                monkeypatch.setattr(klass, name, klass.__dict__[name])
    monkeypatch.setattr(Faults, 'DISABLED', SupvisorsFaults.DISABLED.value, raising=False)
    monkeypatch.setattr(events, 'callbacks', [])
    patch_supervisor()


@pytest.fixture
def state_events() -> List[Tuple[str, int, int]]:
    """ (process name, from state, to state) of every process state event. """
    recorded: List[Tuple[str, int, int]] = []

    def record(event):
        recorded.append((event.process.config.name, event.from_state, event.process.get_state()))
    events.subscribe(events.ProcessStateEvent, record)
    return recorded


@pytest.fixture
def configfile(tmp_path) -> str:
    path = tmp_path / 'supervisord.conf'
    path.write_text(CONFIG)
    noexec = tmp_path / 'noexec.sh'
    noexec.write_text('#!/bin/sh\n')
    noexec.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return str(path)


@pytest.fixture
def forks() -> FakeForks:
    return FakeForks()


@pytest.fixture
def supervisord(configfile, forks) -> Iterator[Supervisor]:
    """ A real Supervisor object built from the configuration file, without main loop nor child processes. """
    options = ServerOptions()
    options.realize(args=['-c', configfile])
    options.logger = FakeLogger()
    options.fork = forks.fork
    options.make_pipes = forks.make_pipes
    options.waitpid = lambda: (None, None)
    instance = Supervisor(options)
    for config in options.process_group_configs:
        instance.add_process_group(config)
    yield instance


@pytest.fixture
def programs(configfile):
    return read_programs(configfile)


@pytest.fixture
def store(tmp_path) -> DisabilitiesStore:
    return DisabilitiesStore(str(tmp_path / 'disabilities.json'), FakeLogger())


def get_process(supervisord, group: str, name: str):
    return supervisord.process_groups[group].processes[name]


def rpc(supervisord) -> SupervisorNamespaceRPCInterface:
    return SupervisorNamespaceRPCInterface(supervisord)


# ------------------------------------------------------------------------------------------------ store
def test_store_missing_file(store):
    store.load()
    assert store.mapping == {}
    assert not store.is_disabled('web')
    assert not os.path.exists(store.path)


def test_store_load_and_defaults(store):
    with open(store.path, 'w') as stream:
        json.dump({'web': True, 'db': False}, stream)
    store.load()
    assert store.is_disabled('web') and not store.is_disabled('db')
    store.set_defaults(['web', 'idle', 'auto'])
    assert store.mapping == {'web': True, 'db': False, 'idle': False, 'auto': False}
    # nothing written at start-up
    with open(store.path) as stream:
        assert json.load(stream) == {'web': True, 'db': False}


def test_store_not_an_object(store):
    with open(store.path, 'w') as stream:
        stream.write('[1, 2]')
    store.load()
    assert store.mapping == {}
    assert store.logger.levels('warn')


@pytest.mark.parametrize('content', ['{"web": tru', '', 'not json'])
def test_store_invalid_json(store, content):
    with open(store.path, 'w') as stream:
        stream.write(content)
    with pytest.raises(ValueError, match='disabilities file') as exc:
        store.load()
    assert store.path in str(exc.value)


def test_store_unreadable(tmp_path):
    # a directory cannot be read as a file, whatever the user
    store = DisabilitiesStore(str(tmp_path), FakeLogger())
    with pytest.raises(ValueError, match=f'cannot read the disabilities file {tmp_path}'):
        store.load()


def test_store_write(store):
    store.load()
    store.set_defaults(['a', 'b'])
    store.set('b', True)
    assert store.write()
    with open(store.path) as stream:
        assert stream.read() == '{"a":false,"b":true}'
    assert os.listdir(os.path.dirname(store.path)) == ['disabilities.json']


def test_store_without_path():
    store = DisabilitiesStore(None, FakeLogger())
    store.load()
    store.set('a', True)
    assert store.is_disabled('a')
    assert not store.write()


def test_store_write_error(tmp_path):
    store = DisabilitiesStore(str(tmp_path / 'missing' / 'file.json'), FakeLogger())
    store.set('a', True)
    assert not store.write()
    assert store.logger.levels('error')


# ------------------------------------------------------------------------------------------------ patch
def test_patch_idempotent():
    start_process = SupervisorNamespaceRPCInterface.startProcess
    spawn = Subprocess.spawn
    patch_supervisor()
    assert SupervisorNamespaceRPCInterface.startProcess is start_process
    assert Subprocess.spawn is spawn
    # Supervisor's docstring kept for system.methodHelp / methodSignature
    assert '@param string name' in start_process.__doc__


def test_start_disabled_process(supervisord, forks):
    process = get_process(supervisord, 'idle', 'idle')
    process.disabled = True
    with pytest.raises(RPCError) as exc:
        rpc(supervisord).startProcess('idle', False)
    assert exc.value.code == 103
    assert exc.value.text == 'DISABLED: idle'
    assert process.get_state() == ProcessStates.STOPPED
    assert not forks.calls


def test_start_disabled_order_of_faults(supervisord):
    get_process(supervisord, 'idle', 'idle').disabled = True
    with pytest.raises(RPCError) as exc:
        rpc(supervisord).startProcess('unknown', False)
    assert exc.value.code == Faults.BAD_NAME
    supervisord.options.mood = -1
    with pytest.raises(RPCError) as exc:
        rpc(supervisord).startProcess('idle', False)
    assert exc.value.code == Faults.SHUTDOWN_STATE


def test_start_enabled_process(supervisord, forks):
    process = get_process(supervisord, 'idle', 'idle')
    process.disabled = False
    assert rpc(supervisord).startProcess('idle:idle', False) is True
    assert process.get_state() == ProcessStates.STARTING
    assert forks.calls == [process.pid]


def test_start_group_with_disabled(supervisord, forks):
    web_0 = get_process(supervisord, 'web', 'web_0')
    web_0.disabled = True
    callback = rpc(supervisord).startProcess('web:*', False)
    results = callback()
    assert sorted(results, key=lambda x: x['name']) == [
        {'name': 'web_0', 'group': 'web', 'status': 103, 'description': 'DISABLED: web:web_0'},
        {'name': 'web_1', 'group': 'web', 'status': Faults.SUCCESS, 'description': 'OK'}]
    assert web_0.get_state() == ProcessStates.STOPPED
    assert len(forks.calls) == 1


def test_start_all_with_disabled(supervisord):
    get_process(supervisord, 'idle', 'idle').disabled = True
    results = rpc(supervisord).startAllProcesses(False)()
    assert {'name': 'idle', 'group': 'idle', 'status': 103, 'description': 'DISABLED: idle'} in results


def test_spawn_disabled_is_noop(supervisord, forks):
    process = get_process(supervisord, 'auto', 'auto')
    process.disabled = True
    assert process.spawn() is None
    # autostart through the transitions
    supervisord.process_groups['auto'].transition()
    assert process.get_state() == ProcessStates.STOPPED
    assert process.laststart == 0
    assert not forks.calls
    process.disabled = False
    supervisord.process_groups['auto'].transition()
    assert process.get_state() == ProcessStates.STARTING
    assert forks.calls == [process.pid]


# ------------------------------------------------------------------------------------------------ extra args
def test_apply_extra_args(supervisord):
    process = get_process(supervisord, 'web', 'web_1')
    apply_extra_args(process, '-x 1')
    assert process.config.command == '/bin/sleep 100 -x 1'
    assert process.extra_args == '-x 1'
    apply_extra_args(process, '-y 2')
    assert process.config.command == '/bin/sleep 100 -y 2'
    apply_extra_args(process, '')
    assert process.config.command == '/bin/sleep 100'
    assert process.extra_args == ''
    assert process.config.supvisors_command == '/bin/sleep 100'


def test_start_args(supervisord, forks):
    result = start_args(supervisord, 'web:web_0', '5', False)
    assert result is True
    process = get_process(supervisord, 'web', 'web_0')
    assert process.config.command == '/bin/sleep 100 5'
    assert process.extra_args == '5'
    assert process.get_state() == ProcessStates.STARTING


def test_start_args_deferred(supervisord):
    callback = start_args(supervisord, 'web:web_0', '', True)
    # Supervisor defers only plain functions
    assert isinstance(callback, types.FunctionType)
    assert callback.delay == 0.05 and isinstance(callback.rpcinterface, SupervisorNamespaceRPCInterface)
    assert callback() is NOT_DONE_YET


def test_start_args_deferred_file_fault(supervisord, state_events, monkeypatch):
    """ A file fault raised by the deferred callback forces FATAL as well. """
    def deferred():
        raise RPCError(Faults.NO_FILE, 'gone')
    deferred.delay = 0.1
    monkeypatch.setattr(SupervisorNamespaceRPCInterface, 'startProcess', lambda self, name, wait: deferred)
    callback = start_args(supervisord, 'idle', '', True)
    assert isinstance(callback, types.FunctionType) and callback.delay == 0.1
    with pytest.raises(RPCError) as exc:
        callback()
    assert exc.value.code == Faults.NO_FILE
    process = get_process(supervisord, 'idle', 'idle')
    assert process.get_state() == ProcessStates.FATAL and process.spawnerr == 'NO_FILE: gone'
    assert len(state_events) == 2


def test_start_args_bad_name(supervisord):
    for namespec in ('unknown', 'web:web_9', 'web:*'):
        with pytest.raises(RPCError) as exc:
            start_args(supervisord, namespec, '', False)
        assert exc.value.code == Faults.BAD_NAME
        assert exc.value.text == f'BAD_NAME: namespec {namespec} unknown to this Supervisor instance'


def test_start_args_disabled(supervisord):
    process = get_process(supervisord, 'idle', 'idle')
    process.disabled = True
    with pytest.raises(RPCError) as exc:
        start_args(supervisord, 'idle', '-v', False)
    assert exc.value.text == 'DISABLED: idle'
    # the extra arguments are applied before the start
    assert process.extra_args == '-v'


@pytest.mark.parametrize('program, fault', [('missing', Faults.NO_FILE), ('noexec', Faults.NOT_EXECUTABLE)])
def test_start_args_file_faults(supervisord, state_events, forks, program, fault):
    with pytest.raises(RPCError) as exc:
        start_args(supervisord, program, '-v', True)
    assert exc.value.code == fault
    process = get_process(supervisord, program, program)
    assert process.get_state() == ProcessStates.FATAL
    assert process.spawnerr == exc.value.text
    assert process.backoff == 0
    assert state_events == [(program, ProcessStates.STOPPED, ProcessStates.BACKOFF),
                            (program, ProcessStates.BACKOFF, ProcessStates.FATAL)]
    assert not forks.calls
    # again from FATAL
    with pytest.raises(RPCError):
        start_args(supervisord, program, '', False)
    assert state_events[2:] == [(program, ProcessStates.FATAL, ProcessStates.BACKOFF),
                                (program, ProcessStates.BACKOFF, ProcessStates.FATAL)]


def test_start_args_file_fault_running(supervisord, state_events):
    """ A process holding a pid is not forced: its state must follow its real child. """
    process = get_process(supervisord, 'web', 'web_0')
    assert start_args(supervisord, 'web:web_0', '', False) is True
    process.config.supvisors_command = '/nonexistent/command'
    with pytest.raises(RPCError) as exc:
        start_args(supervisord, 'web:web_0', '', False)
    assert exc.value.code == Faults.NO_FILE
    assert process.get_state() == ProcessStates.STARTING
    assert state_events == [('web_0', ProcessStates.STOPPED, ProcessStates.STARTING)]


# ------------------------------------------------------------------------------------------------ enable / disable
def test_disable_enable(supervisord, programs, store, forks):
    store.load()
    store.set_defaults(programs.programs)
    processes = set_program_disabled(supervisord, programs, 'multi', True, store)
    assert sorted((p.group.config.name, p.config.name) for p in processes) == [('grp1', 'multi_0'),
                                                                                ('grp2', 'multi_0')]
    assert all(p.disabled for p in processes)
    with open(store.path) as stream:
        content = json.load(stream)
    assert content['multi'] is True and content['web'] is False and set(content) == set(programs.programs)
    processes = set_program_disabled(supervisord, programs, 'multi', False, store)
    assert not any(p.disabled for p in processes)
    with open(store.path) as stream:
        assert json.load(stream)['multi'] is False
    # autostart=false: nothing spawned
    assert not forks.calls


def test_enable_autostart(supervisord, programs, store, forks):
    process = get_process(supervisord, 'auto', 'auto')
    set_program_disabled(supervisord, programs, 'auto', True, store)
    supervisord.process_groups['auto'].transition()
    assert process.get_state() == ProcessStates.STOPPED
    # even a process started and stopped before is autostarted again
    process.laststart = 1234.0
    set_program_disabled(supervisord, programs, 'auto', False, store)
    assert process.get_state() in (ProcessStates.STARTING, ProcessStates.RUNNING)
    assert forks.calls == [process.pid]


def test_disable_unknown(supervisord, programs, store):
    with pytest.raises(RPCError) as exc:
        set_program_disabled(supervisord, programs, 'web_0', True, store)
    assert exc.value.code == Faults.BAD_NAME
    assert exc.value.text == 'BAD_NAME: program web_0 unknown to Supvisors'
    assert not os.path.exists(store.path)


# ------------------------------------------------------------------------------------------------ numprocs
@pytest.mark.parametrize('value, expected', [(3, 3), ('3', 3), (3.7, 3), (True, 1)])
def test_check_numprocs(value, expected):
    assert check_numprocs(value) == expected


@pytest.mark.parametrize('value', ['abc', 0, -1, None, '2.5', []])
def test_check_numprocs_error(value):
    with pytest.raises(RPCError) as exc:
        check_numprocs(value)
    assert exc.value.code == Faults.INCORRECT_PARAMETERS
    assert exc.value.text == f'INCORRECT_PARAMETERS: incorrect value for numprocs: {value} (integer > 0 expected)'


def test_numprocs_increase(supervisord, configfile, programs):
    web_0 = get_process(supervisord, 'web', 'web_0')
    web_0.disabled = True
    change = update_numprocs(supervisord, configfile, 'web', 4, programs)
    assert change.program == 'web' and change.numprocs == 4
    assert [(p.group.config.name, p.config.name) for p in change.added] == [('web', 'web_2'), ('web', 'web_3')]
    assert change.obsolete == []
    group = supervisord.process_groups['web']
    assert sorted(group.processes) == ['web_0', 'web_1', 'web_2', 'web_3']
    # the existing objects are kept
    assert group.processes['web_0'] is web_0
    for process in change.added:
        assert group.processes[process.config.name] is process
        assert process.group is group
        assert process.disabled is True and process.extra_args == ''
        assert process.config.options is supervisord.options
        assert process.config.command == '/bin/sleep 100'
        assert process.get_state() == ProcessStates.STOPPED
        assert process.config.stdout_logfile.startswith(os.path.dirname(configfile))
    assert [c.name for c in group.config.process_configs] == ['web_0', 'web_1', 'web_2', 'web_3']
    assert change.indexes == {('web', f'web_{i}'): i for i in range(4)}
    assert programs.table[('web', 'web_3')][:2] == ('web', 3)
    assert programs.programs['web'][-1] == ('web', 'web_3')
    # same value again: nothing to do
    assert update_numprocs(supervisord, configfile, 'web', 4, programs).unchanged


def test_numprocs_added_processes_start(supervisord, configfile, forks):
    change = update_numprocs(supervisord, configfile, 'web', 3)
    assert rpc(supervisord).startProcess('web:web_2', False) is True
    assert change.added[0].get_state() == ProcessStates.STARTING
    assert supervisord.options.pidhistory[forks.calls[0]] is change.added[0]


def test_numprocs_two_groups(supervisord, configfile):
    change = update_numprocs(supervisord, configfile, 'multi', 3)
    assert [(p.group.config.name, p.config.name) for p in change.added] == [
        ('grp1', 'multi_1'), ('grp1', 'multi_2'), ('grp2', 'multi_1'), ('grp2', 'multi_2')]
    assert sorted(supervisord.process_groups['grp2'].processes) == ['multi_0', 'multi_1', 'multi_2', 'solo']
    assert sorted(c.name for c in supervisord.process_groups['grp2'].config.process_configs) == [
        'multi_0', 'multi_1', 'multi_2', 'solo']


def test_numprocs_index_order(supervisord, configfile):
    """ Indexes follow process_num, not Supervisor's name sorting. """
    change = update_numprocs(supervisord, configfile, 'padded', 12)
    assert len(change.added) == 11
    assert change.indexes[('padded', 'padded_01')] == 0
    assert change.indexes[('padded', 'padded_12')] == 11
    assert change.added[-1].config.command == '/bin/sleep 12'


def test_numprocs_decrease(supervisord, configfile, programs, forks):
    update_numprocs(supervisord, configfile, 'web', 5, programs)
    group = supervisord.process_groups['web']
    # web_3 is running
    assert rpc(supervisord).startProcess('web:web_3', False) is True
    change = update_numprocs(supervisord, configfile, 'web', 2, programs)
    assert [p.config.name for p in change.obsolete] == ['web_2', 'web_3', 'web_4']
    assert change.added == []
    # nothing removed yet
    assert len(group.processes) == 5
    removed = remove_processes(supervisord, change.obsolete, programs)
    assert removed == ['web:web_2', 'web:web_4']
    assert sorted(group.processes) == ['web_0', 'web_1', 'web_3']
    assert sorted(c.name for c in group.config.process_configs) == ['web_0', 'web_1', 'web_3']
    assert ('web', 'web_2') not in programs.table
    assert ('web', 'web_2') not in programs.programs['web']
    assert ('web', 'web_3') in programs.programs['web']
    # the running one is still obsolete, and removable once stopped
    change = update_numprocs(supervisord, configfile, 'web', 2, programs)
    assert [p.config.name for p in change.obsolete] == ['web_3']
    assert remove_processes(supervisord, change.obsolete) == []
    process = change.obsolete[0]
    process.pid = 0
    process.change_state(ProcessStates.STOPPED)
    assert remove_processes(supervisord, change.obsolete) == ['web:web_3']
    assert sorted(group.processes) == ['web_0', 'web_1']


def test_numprocs_decrease_to_one(supervisord, configfile):
    change = update_numprocs(supervisord, configfile, 'web', 1)
    assert [p.config.name for p in change.obsolete] == ['web_1']


def test_numprocs_single_name(supervisord, configfile):
    """ Without %(process_num), numprocs 1 is the only applicable value. """
    assert update_numprocs(supervisord, configfile, 'idle', 1).unchanged
    with pytest.raises(RPCError) as exc:
        update_numprocs(supervisord, configfile, 'idle', 2)
    assert exc.value.code == SupvisorsFaults.SUPVISORS_CONF_ERROR.value
    assert exc.value.text == ('UNKNOWN: numprocs not applicable: '
                              '%(process_num) must be present within process_name when numprocs > 1')
    assert list(supervisord.process_groups['idle'].processes) == ['idle']


def test_numprocs_conf_error_text(supervisord, configfile, monkeypatch):
    monkeypatch.setattr(Faults, 'SUPVISORS_CONF_ERROR', 100, raising=False)
    with pytest.raises(RPCError) as exc:
        update_numprocs(supervisord, configfile, 'solo', 2)
    assert exc.value.text.startswith('SUPVISORS_CONF_ERROR: numprocs not applicable: %(process_num)')
    # nothing changed
    assert sorted(supervisord.process_groups['grp2'].processes) == ['multi_0', 'solo']


@pytest.mark.parametrize('value', ['abc', 0, -1])
def test_numprocs_bad_value(supervisord, configfile, programs, value):
    for info in (None, programs):
        with pytest.raises(RPCError) as exc:
            update_numprocs(supervisord, configfile, 'web', value, info)
        assert exc.value.code == Faults.INCORRECT_PARAMETERS


def test_numprocs_unknown_program(supervisord, configfile, programs):
    for info in (None, programs):
        # BAD_NAME comes before the value check
        for value in (2, 'abc'):
            with pytest.raises(RPCError) as exc:
                update_numprocs(supervisord, configfile, 'web_0', value, info)
            assert exc.value.text == 'BAD_NAME: program web_0 unknown to Supvisors'


def test_numprocs_keeps_options_configs(supervisord, configfile):
    """ After a reloadConfig, the options hold distinct group configs: both are kept in line. """
    options = ServerOptions()
    options.realize(args=['-c', configfile])
    supervisord.options.process_group_configs = options.process_group_configs
    change = update_numprocs(supervisord, configfile, 'web', 3)
    web_config = next(c for c in options.process_group_configs if c.name == 'web')
    assert web_config is not supervisord.process_groups['web'].config
    assert [c.name for c in web_config.process_configs] == ['web_0', 'web_1', 'web_2']
    assert web_config.process_configs[-1] is change.added[0].config
    change = update_numprocs(supervisord, configfile, 'web', 1)
    remove_processes(supervisord, change.obsolete)
    assert [c.name for c in web_config.process_configs] == ['web_0']
