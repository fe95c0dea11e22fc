"""One application (a Supervisor group) of the fleet and its state, derived from its processes."""

from collections import OrderedDict
from typing import Any, Dict, List

from ..ttypes import ApplicationStates, ProcessStates
from .process import ProcessStatus

PS = ProcessStates


class ApplicationStatus:

    def __init__(self, application_name: str, rules):
        self.application_name = application_name
        self.rules = rules
        self.processes: 'OrderedDict[str, ProcessStatus]' = OrderedDict()  # discovery order
        self.state = ApplicationStates.STOPPED
        self.major_failure = False
        self.minor_failure = False

    @property
    def managed(self) -> bool:
        return bool(self.rules.managed)

    def running(self) -> bool:
        return any(process.running() for process in self.processes.values())

    def stopped(self) -> bool:
        return all(process.stopped() for process in self.processes.values())

    def never_started(self) -> bool:
        """ Every process is STOPPED everywhere and has never been stopped (stop date 0). """
        return all(info['state'] == PS.STOPPED and not info.get('stop')
                   for process in self.processes.values() for info in process.info_map.values())

    def serial(self) -> Dict[str, Any]:
        """ The ApplicationInfo structure of the XML-RPC contract. """
        return {'application_name': self.application_name,
                'managed': self.managed,
                'statecode': self.state.value,
                'statename': self.state.name,
                'major_failure': self.major_failure,
                'minor_failure': self.minor_failure}

    def conflicts(self) -> List[ProcessStatus]:
        if not self.managed:
            return []
        return [process for process in self.processes.values() if process.conflicting()]

    def update_status(self) -> bool:
        """ Recompute state and failures from the processes (managed applications only). Return True if changed. """
        before = (self.state, self.major_failure, self.minor_failure)
        if not self.managed:
            self.state, self.major_failure, self.minor_failure = ApplicationStates.STOPPED, False, False
            return before != (self.state, self.major_failure, self.minor_failure)
        starting = running = stopping = major = minor = possible_major = False
        for process in self.processes.values():
            state = process.displayed_state
            required = process.rules.required
            if state == PS.RUNNING:
                running = True
            elif state in (PS.STARTING, PS.BACKOFF):
                starting = True
            elif state == PS.STOPPING:
                stopping = True
            elif state in (PS.FATAL, PS.UNKNOWN) or (state == PS.EXITED and not process.expected_exit):
                if required:
                    major = True
                else:
                    minor = True
            elif state == PS.STOPPED and required:
                possible_major = True
        if stopping:
            self.state = ApplicationStates.STOPPING
        elif starting:
            self.state = ApplicationStates.STARTING
        elif running:
            self.state = ApplicationStates.RUNNING
        else:
            self.state = ApplicationStates.STOPPED
        if self.state != ApplicationStates.STOPPED and possible_major:
            major = True
        self.major_failure, self.minor_failure = major, minor
        return before != (self.state, self.major_failure, self.minor_failure)
