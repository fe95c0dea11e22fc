"""The fleet-wide model: every application and process known by any instance, and what each instance reports.

Pure: the rules come from an injected resolver, time comes in with each call, and the changes worth publishing on
the event interface are returned as (topic, payload) notifications.
"""

from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

from ..ttypes import DELETED_STATE, ProcessStates, split_namespec
from .application import ApplicationStatus
from .process import ProcessStatus

Notification = Tuple[str, Dict[str, Any]]


class UnknownProcess(Exception):
    """ An instance reports something about a process that the context does not associate with it. """


class Context:

    def __init__(self, resolver, logger):
        self.resolver = resolver  # application_rules(name), process_rules(application, process, application rules)
        self.logger = logger
        self.applications: 'OrderedDict[str, ApplicationStatus]' = OrderedDict()

    # ------------------------------------------------------------------ lookups
    def get_process(self, namespec: str) -> Optional[ProcessStatus]:
        application_name, process_name = split_namespec(namespec)
        application = self.applications.get(application_name)
        if application is None or process_name is None:
            return None
        return application.processes.get(process_name)

    def processes(self) -> List[ProcessStatus]:
        return [process for application in self.applications.values()
                for process in application.processes.values()]

    def conflicts(self) -> List[ProcessStatus]:
        return [process for application in self.applications.values() for process in application.conflicts()]

    def loadings(self) -> Dict[str, int]:
        """ The loading of every instance, in one pass over the processes. """
        loads: Dict[str, int] = {}
        for process in self.processes():
            load = process.rules.expected_loading
            if load and process.running():
                for identifier in process.running_identifiers:
                    loads[identifier] = loads.get(identifier, 0) + load
        return loads

    def loading(self, identifier: str) -> int:
        """ Sum of the expected loading of the processes running on the instance. """
        return sum(process.rules.expected_loading for process in self.processes()
                   if process.running() and identifier in process.running_identifiers)

    # ------------------------------------------------------------------ updates
    def _get_or_create(self, application_name: str, process_name: str) -> ProcessStatus:
        application = self.applications.get(application_name)
        if application is None:
            application = ApplicationStatus(application_name, self.resolver.application_rules(application_name))
            self.applications[application_name] = application
        process = application.processes.get(process_name)
        if process is None:
            process = ProcessStatus(application_name, process_name,
                                    self.resolver.process_rules(application_name, process_name, application.rules))
            application.processes[process_name] = process
        return process

    def load_processes(self, identifier: str, infos: List[Dict[str, Any]], now: float) -> None:
        """ Process list of an instance (handshake, group added, numprocs increase): nothing is published. """
        touched = OrderedDict()
        for info in infos:
            try:
                group, name = str(info['group']), str(info['name'])
                ProcessStates(int(info['state']))  # validated before anything is created
                process = self._get_or_create(group, name)
                process.add_info(identifier, info, now)
            except (KeyError, TypeError, ValueError) as exc:
                self.logger.error(f'Context.load_processes: invalid process information from {identifier}:'
                                  f' {exc!r}')
                continue
            touched[process.application_name] = self.applications[process.application_name]
        for application in touched.values():
            application.update_status()

    def on_process_event(self, identifier: str, event: Dict[str, Any], now: float
                         ) -> Tuple[ProcessStatus, List[Notification]]:
        """ A real state change reported by an instance. Raise UnknownProcess if it does not hold the process. """
        process = self._known(identifier, event)
        process.update_info(identifier, event, now)
        return process, self._process_notifications(identifier, process, event)

    def on_forced_event(self, event: Dict[str, Any], now: float, emitter: Optional[str] = None
                        ) -> Optional[Tuple[ProcessStatus, List[Notification]]]:
        """ A state forced by a Starter/Stopper (timeout, no resource). The event interface names the emitter of
        the forced message (the instance whose Starter/Stopper decided), as for any other event. """
        process = self.get_process(f"{event['group']}:{event['name']}")
        if process is None:
            return None
        if not process.force_state(ProcessStates(int(event['state'])), str(event.get('spawnerr', '')),
                                   float(event.get('now', 0.0)), event.get('identifier'), now):
            return None
        return process, self._process_notifications(emitter or event.get('identifier', ''), process, event)

    def on_disability(self, identifier: str, info: Dict[str, Any], now: float) -> List[Notification]:
        process = self._known(identifier, info)
        process.update_disability(identifier, bool(info.get('disabled')))
        payload = dict(info)
        payload['identifier'] = identifier
        return [('event', payload)]

    def on_process_removed(self, identifier: str, group: str, name: str, now: float) -> List[Notification]:
        """ Processes removed from an instance (numprocs decrease, group removal): not a failure.

        Event interface: one event (state -1) per process removed from the instance; the process status only when
        no instance defines the process any more; the application status when it lost a process or its status
        changed. """
        application = self.applications.get(group)
        if application is None:
            raise UnknownProcess(f'application {group} unknown')
        names = list(application.processes) if name == '*' else [name]
        notifications: List[Notification] = []
        impacted = False
        for process_name in names:
            process = application.processes.get(process_name)
            if process is None or identifier not in process.info_map:
                if name == '*':
                    continue
                raise UnknownProcess(f'process {group}:{process_name} unknown to {identifier}')
            process.remove_info(identifier, now)
            notifications.append(('event', {'name': process_name, 'group': group, 'state': DELETED_STATE,
                                            'identifier': identifier}))
            if not process.info_map:
                del application.processes[process_name]
                payload = process.serial()
                payload.update({'statecode': DELETED_STATE, 'statename': 'DELETED'})
                notifications.append(('process', payload))
                impacted = True
        if application.update_status() or impacted:
            if application.processes:
                notifications.append(('application', application.serial()))
            else:
                del self.applications[group]
                payload = application.serial()
                payload.update({'statecode': 4, 'statename': 'DELETED'})
                notifications.append(('application', payload))
        return notifications

    def on_instance_lost(self, identifier: str, now: float) -> Tuple[List[ProcessStatus], List[Notification]]:
        """ Processes running on a lost instance become FATAL there. Return the processes that run nowhere now. """
        failures: List[ProcessStatus] = []
        notifications: List[Notification] = []
        impacted: 'OrderedDict[str, ApplicationStatus]' = OrderedDict()
        for application in self.applications.values():
            for process in application.processes.values():
                if identifier in process.running_identifiers:
                    if process.invalidate_instance(identifier, now):
                        failures.append(process)
                    notifications.append(('process', process.serial()))
                    impacted[application.application_name] = application
        for application in impacted.values():
            application.update_status()
            notifications.append(('application', application.serial()))
        return failures, notifications

    def refresh_now(self, identifier: str, remote_now: float) -> None:
        """ A tick of the instance updates the date of its process information (uptimes). """
        for process in self.processes():
            info = process.info_map.get(identifier)
            if info is not None:
                info['now'] = remote_now

    # ------------------------------------------------------------------ helpers
    def _known(self, identifier: str, event: Dict[str, Any]) -> ProcessStatus:
        process = self.get_process(f"{event['group']}:{event['name']}")
        if process is None or identifier not in process.info_map:
            raise UnknownProcess(f"process {event['group']}:{event['name']} unknown to {identifier}")
        return process

    def _process_notifications(self, identifier: str, process: ProcessStatus,
                               event: Dict[str, Any]) -> List[Notification]:
        application = self.applications[process.application_name]
        application.update_status()
        payload = dict(event)
        payload.pop('forced', None)
        payload.pop('identifier', None)  # the forced message names its target: the emitter goes last, as always
        payload['identifier'] = identifier
        return [('event', payload), ('process', process.serial()), ('application', application.serial())]
