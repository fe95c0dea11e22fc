"""Facade over the local supervisord: the only place that reads Supervisor's process objects or changes its mood."""

import time
from typing import Any, Dict, List

from supervisor.options import split_namespec
from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
from supervisor.states import SupervisorStates, getProcessStateDescription
from supervisor.xmlrpc import Faults, RPCError


class LocalSupervisor:

    def __init__(self, supervisord):
        self.supervisord = supervisord

    @property
    def running(self) -> bool:
        return self.supervisord.options.mood == SupervisorStates.RUNNING

    def restart(self) -> None:
        self.supervisord.options.mood = SupervisorStates.RESTARTING

    def shutdown(self) -> None:
        self.supervisord.options.mood = SupervisorStates.SHUTDOWN

    def disable_autorestart(self, namespec: str) -> None:
        process = self.find_process(namespec)
        if process is not None:
            process.config.autorestart = False

    # ------------------------------------------------------------------ processes
    def _all_processes(self) -> List[Any]:
        processes = []
        for group_name in sorted(self.supervisord.process_groups):
            group = self.supervisord.process_groups[group_name]
            for process_name in sorted(group.processes):
                processes.append(group.processes[process_name])
        return processes

    def find_process(self, namespec: str):
        group_name, process_name = split_namespec(namespec)
        group = self.supervisord.process_groups.get(group_name)
        if group is None or process_name is None:
            return None
        return group.processes.get(process_name)

    @staticmethod
    def process_info(process) -> Dict[str, Any]:
        """ The LocalProcessInfo structure (Supervisor's getProcessInfo subset plus configuration values). """
        config = process.config
        start = int(process.laststart)
        stop = int(process.laststop)
        now = time.time()
        state = process.get_state()
        spawnerr = process.spawnerr or ''
        description = _description(process, state, start, stop, now)
        return {'name': config.name,
                'group': process.group.config.name,
                'state': state,
                'statename': getProcessStateDescription(state),
                'start': start,
                'stop': stop,
                'now': float(int(now)),
                'pid': process.pid,
                'description': description,
                'spawnerr': spawnerr,
                'expected': not spawnerr,
                'startsecs': config.startsecs,
                'stopwaitsecs': config.stopwaitsecs,
                'extra_args': getattr(process, 'extra_args', ''),
                'disabled': getattr(process, 'disabled', False)}

    def all_process_info(self) -> List[Dict[str, Any]]:
        self._check_running()
        return [self.process_info(process) for process in self._all_processes()]

    def local_process_info(self, namespec: str) -> Dict[str, Any]:
        self._check_running()
        process = self.find_process(namespec)
        if process is None:
            raise RPCError(Faults.BAD_NAME, namespec)
        return self.process_info(process)

    def _check_running(self) -> None:
        if self.supervisord.options.mood < SupervisorStates.RUNNING:
            raise RPCError(Faults.SHUTDOWN_STATE)

    @staticmethod
    def event_payload(process, expected: bool) -> Dict[str, Any]:
        """ Body of the PROCESS message published on every local state change. """
        return {'name': process.config.name,
                'group': process.group.config.name,
                'state': process.get_state(),
                'now': time.time(),
                'pid': process.pid,
                'expected': expected,
                'spawnerr': process.spawnerr or '',
                'extra_args': getattr(process, 'extra_args', ''),
                'disabled': getattr(process, 'disabled', False)}


def _description(process, state: int, start: int, stop: int, now: float) -> str:
    """ Supervisor's own description text (same rules as supervisor.rpcinterface). """
    info = {'name': process.config.name, 'group': process.group.config.name, 'start': start, 'stop': stop,
            'now': int(now), 'state': state, 'spawnerr': process.spawnerr or '', 'exitstatus': process.exitstatus,
            'pid': process.pid}
    return SupervisorNamespaceRPCInterface._interpretProcessInfo(None, info)
