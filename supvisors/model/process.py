"""One process of the fleet: what every instance reports of it, and the synthetic state the fleet agrees on."""

from typing import Any, Dict, List, Optional, Set

from ..ttypes import (ProcessStates, RUNNING_STATES, STOPPED_STATES, make_namespec)

PS = ProcessStates

# per-instance information keys kept from LocalProcessInfo / PROCESS messages
INFO_KEYS = ('state', 'start', 'stop', 'now', 'pid', 'expected', 'spawnerr', 'startsecs', 'stopwaitsecs',
             'extra_args', 'disabled', 'description')

CONFLICT_PRIORITY = (PS.RUNNING, PS.BACKOFF, PS.STARTING, PS.STOPPING)


def _state(value: Any) -> ProcessStates:
    return ProcessStates(int(value))


class ProcessStatus:
    """ State of a process across the instances where it is configured. """

    def __init__(self, application_name: str, process_name: str, rules):
        self.application_name = application_name
        self.process_name = process_name
        self.namespec = make_namespec(application_name, process_name)
        self.rules = rules
        self.info_map: Dict[str, Dict[str, Any]] = {}  # identifier -> information reported by that instance
        self.running_identifiers: Set[str] = set()
        self.state = PS.UNKNOWN
        self.expected_exit = True
        self.last_event_time = 0.0
        self.extra_args = ''
        self.forced_state: Optional[ProcessStates] = None
        self.forced_reason = ''

    # ------------------------------------------------------------------ derived views
    @property
    def displayed_state(self) -> ProcessStates:
        return self.forced_state if self.forced_state is not None else self.state

    def running(self) -> bool:
        return self.displayed_state in RUNNING_STATES

    def stopped(self) -> bool:
        return self.displayed_state in STOPPED_STATES

    def crashed(self) -> bool:
        state = self.displayed_state
        return state == PS.FATAL or (state == PS.EXITED and not self.expected_exit)

    def conflicting(self) -> bool:
        return len(self.running_identifiers) > 1

    def running_on(self, identifier: str) -> bool:
        return identifier in self.running_identifiers and self.info_map[identifier]['state'] in RUNNING_STATES

    def disabled_on(self, identifier: str) -> bool:
        info = self.info_map.get(identifier)
        return bool(info and info.get('disabled'))

    def possible_identifiers(self) -> List[str]:
        """ Instances where the process is configured and not disabled. """
        return [x for x, info in self.info_map.items() if not info.get('disabled')]

    def serial(self) -> Dict[str, Any]:
        """ The ProcessInfo structure of the XML-RPC contract. """
        state = self.displayed_state
        return {'application_name': self.application_name,
                'process_name': self.process_name,
                'statecode': state.value,
                'statename': state.name,
                'expected_exit': self.expected_exit,
                'last_event_time': self.last_event_time,
                'identifiers': sorted(self.running_identifiers),
                'extra_args': self.extra_args}

    # ------------------------------------------------------------------ updates
    def add_info(self, identifier: str, info: Dict[str, Any], now: float) -> None:
        """ Load the information of a process list (handshake, new processes). """
        record = {key: info[key] for key in INFO_KEYS if key in info}
        record['state'] = _state(record.get('state', PS.UNKNOWN))
        record.setdefault('expected', not record.get('spawnerr'))
        record.setdefault('disabled', False)
        record.setdefault('extra_args', '')
        record['event_time'] = now
        record['has_crashed'] = self._is_crash(record)
        self.info_map[identifier] = record
        if record['extra_args'] != self.extra_args:
            # instances disagree: nobody's value is kept
            self.extra_args = '' if len(self.info_map) > 1 else record['extra_args']
        if record['state'] != PS.STOPPED:
            self._clear_forced()
        self._apply(identifier, record['state'], now)

    def update_info(self, identifier: str, event: Dict[str, Any], now: float) -> None:
        """ Apply a PROCESS event from an instance that knows the process. """
        record = self.info_map[identifier]
        state = _state(event['state'])
        record['state'] = state
        for key in ('now', 'pid', 'spawnerr', 'extra_args', 'disabled'):
            if key in event:
                record[key] = event[key]
        record['expected'] = bool(event.get('expected', True))
        event_date = int(float(event.get('now', now)))
        if state == PS.STARTING:
            record['start'] = event_date
        elif state in (PS.STOPPED, PS.EXITED, PS.FATAL):
            record['stop'] = event_date
        record['event_time'] = now
        if self._is_crash(record):
            record['has_crashed'] = True
        # the extra arguments of a start are adopted; a late stop elsewhere must not bring back older ones
        if 'extra_args' in event and (state in RUNNING_STATES or not self.running_identifiers - {identifier}):
            self.extra_args = event['extra_args']
        self._clear_forced()
        self._apply(identifier, state, now)

    def update_disability(self, identifier: str, disabled: bool) -> None:
        self.info_map[identifier]['disabled'] = bool(disabled)

    def invalidate_instance(self, identifier: str, now: float) -> bool:
        """ The instance is lost: what ran there is FATAL. Return True if the process is no longer running. """
        record = self.info_map.get(identifier)
        if record is None or identifier not in self.running_identifiers:
            return False
        record.update({'state': PS.FATAL, 'expected': False, 'spawnerr': f'Supervisor {identifier} lost',
                       'stop': int(now), 'event_time': now, 'has_crashed': True})
        self._apply(identifier, PS.FATAL, now)
        return not self.running_identifiers

    def remove_info(self, identifier: str, now: float) -> None:
        self.info_map.pop(identifier, None)
        self.running_identifiers.discard(identifier)
        self._synthesize()
        self.last_event_time = now

    def force_state(self, state: ProcessStates, reason: str, event_date: float, identifier: Optional[str],
                    now: float) -> bool:
        """ A Starter/Stopper verdict (timeout, no resource). Ignored when a more recent real event exists. """
        if identifier is not None:
            record = self.info_map.get(identifier)
            if record is not None and record.get('event_time', 0) > event_date:
                return False
        self.forced_state = state
        self.forced_reason = reason
        self.last_event_time = now
        return True

    def _clear_forced(self) -> None:
        self.forced_state = None
        self.forced_reason = ''

    @staticmethod
    def _is_crash(record: Dict[str, Any]) -> bool:
        return record['state'] == PS.FATAL or (record['state'] == PS.EXITED and not record.get('expected', True))

    def _apply(self, identifier: str, state: ProcessStates, now: float) -> None:
        if state in STOPPED_STATES:
            self.running_identifiers.discard(identifier)
        elif state in RUNNING_STATES:
            if self.state in STOPPED_STATES:
                self.running_identifiers = {identifier}
            else:
                self.running_identifiers.add(identifier)
        self.last_event_time = now
        self._synthesize()

    def _synthesize(self) -> None:
        running = self.running_identifiers
        if len(running) > 1:
            states = {self.info_map[x]['state'] for x in running}
            self.state = next((x for x in CONFLICT_PRIORITY if x in states), PS.UNKNOWN)
            self.expected_exit = True
        elif len(running) == 1:
            self.state = self.info_map[next(iter(running))]['state']
            self.expected_exit = True
        elif not self.info_map:
            self.state = PS.UNKNOWN
            self.expected_exit = True
        elif any(info['state'] == PS.STOPPING for info in self.info_map.values()):
            self.state = PS.STOPPING
            self.expected_exit = True
        else:
            latest = max(self.info_map.values(), key=lambda info: info.get('stop', 0))
            self.state = latest['state']
            self.expected_exit = bool(latest.get('expected', True))
