"""The event interface of a real fleet (event_link = ZMQ, and WS), seen by the Python client connected before the fleet
starts: the Supvisors state transitions, then the events of a start, a stop and a crash of a managed process,
with every field of the payloads, in the order of the contract."""

import threading
import time
from typing import Any, Callable, Dict, List, Tuple

import pytest
import zmq

from supvisors.client.wssubscriber import SupvisorsWsEventInterface
from supvisors.client.zmqsubscriber import SupvisorsZmqEventInterface
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.tools.localfleet import wait_for

pytestmark = pytest.mark.e2e

PROGRAMS = """
[group:app]
programs=worker,crasher

[program:worker]
command=sleep 1000
autostart=false
startsecs=1
stopwaitsecs=2

[program:crasher]
command=sh -c "sleep 2; exit 3"
autostart=false
startsecs=1
autorestart=false
"""

RULES = """<?xml version="1.0" encoding="UTF-8"?>
<root>
    <application name="app">
        <starting_failure_strategy>CONTINUE</starting_failure_strategy>
    </application>
</root>
"""

SUPVISORS_TYPES = {'fsm_statecode': int, 'fsm_statename': str, 'starting_jobs': list, 'stopping_jobs': list}
INSTANCE_TYPES = {'identifier': str, 'node_name': str, 'port': int, 'statecode': int, 'statename': str,
                  'sequence_counter': int, 'remote_time': int, 'local_time': int, 'loading': int,
                  'fsm_statecode': int, 'fsm_statename': str, 'starting_jobs': bool, 'stopping_jobs': bool}
APPLICATION_TYPES = {'application_name': str, 'managed': bool, 'statecode': int, 'statename': str,
                     'major_failure': bool, 'minor_failure': bool}
PROCESS_TYPES = {'application_name': str, 'process_name': str, 'statecode': int, 'statename': str,
                 'expected_exit': bool, 'last_event_time': float, 'identifiers': list, 'extra_args': str}
EVENT_TYPES = {'name': str, 'group': str, 'state': int, 'now': float, 'pid': int, 'expected': bool,
               'spawnerr': str, 'extra_args': str, 'disabled': bool, 'identifier': str}
FSM_STATES = {0: 'OFF', 1: 'INITIALIZATION', 2: 'DEPLOYMENT', 3: 'OPERATION', 4: 'CONCILIATION'}
INSTANCE_STATES = {0: 'UNKNOWN', 1: 'CHECKING', 2: 'RUNNING', 3: 'SILENT', 4: 'ISOLATING', 5: 'ISOLATED'}
PROCESS_STATES = {0: 'STOPPED', 10: 'STARTING', 20: 'RUNNING', 30: 'BACKOFF', 40: 'STOPPING', 100: 'EXITED',
                  200: 'FATAL', 1000: 'UNKNOWN'}
APPLICATION_STATES = {0: 'STOPPED', 1: 'STARTING', 2: 'RUNNING', 3: 'STOPPING'}

Message = Tuple[str, Dict[str, Any]]


class Recorder:
    """ Records every event received by a client interface, in order. """

    def _init_recorder(self) -> None:
        self.lock = threading.Lock()
        self.messages: List[Message] = []

    def _add(self, topic: str, data: Dict[str, Any]) -> None:
        with self.lock:
            self.messages.append((topic, data))

    def on_supvisors_status(self, data):
        self._add('supvisors', data)

    def on_instance_status(self, data):
        self._add('instance', data)

    def on_application_status(self, data):
        self._add('application', data)

    def on_process_event(self, data):
        self._add('event', data)

    def on_process_status(self, data):
        self._add('process', data)

    def snapshot(self) -> List[Message]:
        with self.lock:
            return list(self.messages)

    def wait(self, predicate: Callable[[List[Message]], Any], what: str, timeout: float = 15.0) -> List[Message]:
        """ Poll until predicate holds for the messages received; return them. """
        wait_for(lambda: predicate(self.snapshot()), timeout, interval=0.02, what=what)
        return self.snapshot()


class Collector(Recorder, SupvisorsZmqEventInterface):

    def __init__(self, zmq_context: zmq.Context, event_port: int):
        SupvisorsZmqEventInterface.__init__(self, zmq_context, event_port, FakeLogger())
        self._init_recorder()


class WsCollector(Recorder, SupvisorsWsEventInterface):

    def __init__(self, event_port: int):
        SupvisorsWsEventInterface.__init__(self, event_port, FakeLogger())
        self._init_recorder()


@pytest.fixture
def zmq_context():
    context = zmq.Context()
    yield context
    context.term()


@pytest.fixture(params=['ZMQ', 'WS'])
def link(request):
    return request.param


@pytest.fixture
def collectors(zmq_context, link):
    """ Build collectors; every one is stopped and joined at teardown (before the context is terminated). """
    made: List[Any] = []

    def factory(port: int):
        if link == 'ZMQ':
            collector = Collector(zmq_context, port)
            collector.subscriber.subscribe_all()
        else:
            collector = WsCollector(port)
        collector.start()
        made.append(collector)
        return collector

    yield factory
    for collector in made:
        collector.stop()
    for collector in made:
        collector.join(5)
        assert not collector.is_alive()


def check_types(payload: Dict[str, Any], types: Dict[str, type]) -> None:
    assert list(payload) == list(types), payload
    for key, expected in types.items():
        assert type(payload[key]) is expected, (key, payload)


def app_messages(messages: List[Message], process_name: str) -> List[Message]:
    """ The event / process / application messages of the application app about a process. """
    selected = []
    for topic, data in messages:
        if topic == 'event' and data.get('group') == 'app' and data.get('name') == process_name:
            selected.append((topic, data))
        elif topic == 'process' and data['application_name'] == 'app' and data['process_name'] == process_name:
            selected.append((topic, data))
        elif topic == 'application' and data['application_name'] == 'app':
            selected.append((topic, data))
    return selected


def has_event(process_name: str, state: int, start: int = 0) -> Callable[[List[Message]], bool]:
    """ Predicate: the application message that follows the event of the process state has been received. """
    def predicate(messages: List[Message]) -> bool:
        selected = app_messages(messages[start:], process_name)
        return any(topic == 'event' and data['state'] == state and idx + 2 < len(selected)
                   for idx, (topic, data) in enumerate(selected))
    return predicate


def check_triples(selected: List[Message], process_name: str, expected: List[Tuple[int, int, bool]],
                  running_on: str) -> List[Message]:
    """ Each expected (process state, application state, process expected) gives event, process, application. """
    assert [topic for topic, _ in selected] == ['event', 'process', 'application'] * len(expected), selected
    now = time.time()
    for idx, (state, app_state, expected_exit) in enumerate(expected):
        event, process, application = (data for _, data in selected[3 * idx: 3 * idx + 3])
        # raw event of the instance where the process runs
        check_types(event, EVENT_TYPES)
        assert event['name'] == process_name and event['group'] == 'app'
        assert event['state'] == state
        assert event['identifier'] == running_on
        assert abs(event['now'] - now) < 60
        # Supervisor emits STARTING before the fork, and the exit states before it forgets the pid
        assert event['pid'] == 0 if state == 10 else event['pid'] > 0
        assert event['expected'] is expected_exit
        assert event['spawnerr'] == ('' if expected_exit else 'Bad exit code 3')  # Supervisor's text
        assert event['extra_args'] == '' and event['disabled'] is False
        # synthesis over the instances
        check_types(process, PROCESS_TYPES)
        assert process['application_name'] == 'app' and process['process_name'] == process_name
        assert process['statecode'] == state and process['statename'] == PROCESS_STATES[state]
        assert process['expected_exit'] is expected_exit
        assert abs(process['last_event_time'] - now) < 60
        assert process['identifiers'] == ([running_on] if state in (10, 20, 30, 40) else [])
        assert process['extra_args'] == ''
        # application status
        check_types(application, APPLICATION_TYPES)
        assert application['managed'] is True
        assert application['statecode'] == app_state and application['statename'] == APPLICATION_STATES[app_state]
        assert application['major_failure'] is False
        assert application['minor_failure'] is (not expected_exit)
    return selected


def test_event_stream_of_a_fleet(fleet_factory, collectors, link):
    fleet = fleet_factory(2, options={'core_identifiers': 's1,s2', 'event_link': link}, programs=PROGRAMS,
                          rules=RULES)
    # subscribers connected before the fleet starts: they must get everything from the first event
    views = {identifier: collectors(fleet[identifier].event_port) for identifier in fleet.identifiers}
    fleet.start()

    # ---------------- Supvisors state transitions
    def operating(messages: List[Message]) -> bool:
        return any(topic == 'supvisors' and data['fsm_statename'] == 'OPERATION' for topic, data in messages)

    for identifier, view in views.items():
        messages = view.wait(operating, f'OPERATION published by {identifier}')
        # the very first event published is the entry in INITIALIZATION
        assert messages[0][0] == 'supvisors' and messages[0][1]['fsm_statename'] == 'INITIALIZATION', messages[0]
        statuses = [data for topic, data in messages if topic == 'supvisors']
        for data in statuses:
            check_types(data, SUPVISORS_TYPES)
            assert data['fsm_statename'] == FSM_STATES[data['fsm_statecode']]
            assert set(data['starting_jobs'] + data['stopping_jobs']) <= {'s1', 's2'}
        # published only when changed
        assert all(before != after for before, after in zip(statuses, statuses[1:])), statuses
        states = [data['fsm_statename'] for data in statuses]
        assert [x for idx, x in enumerate(states) if idx == 0 or states[idx - 1] != x] == \
               ['INITIALIZATION', 'DEPLOYMENT', 'OPERATION'], states
        # the instances, seen by their ticks
        instances = [data for topic, data in messages if topic == 'instance']
        assert instances, f'no instance event published by {identifier}'
        for data in instances:
            check_types(data, INSTANCE_TYPES)
            assert data['identifier'] in ('s1', 's2')
            assert data['port'] == fleet[data['identifier']].http_port
            assert data['statename'] == INSTANCE_STATES[data['statecode']]
            assert data['fsm_statename'] == FSM_STATES[data['fsm_statecode']]
        # the process lists loaded at the handshakes publish nothing
        assert not [topic for topic, _ in messages if topic in ('event', 'process', 'application')], messages

    # every instance eventually sees both instances RUNNING
    for identifier, view in views.items():
        view.wait(lambda messages: {data['identifier'] for topic, data in messages
                                    if topic == 'instance' and data['statename'] == 'RUNNING'} == {'s1', 's2'},
                  f'both instances RUNNING as seen by {identifier}')

    # requests made to s2 while CONFIG places the processes on s1 (first in supvisors_list): the commands travel
    # between instances, as in a real fleet
    proxy = fleet['s2'].rpc()
    marks = {identifier: len(view.snapshot()) for identifier, view in views.items()}

    # ---------------- start of a managed process
    assert proxy.supvisors.start_process('CONFIG', 'app:worker', '', True)
    running_on = proxy.supvisors.get_process_info('app:worker')[0]['identifiers']
    assert len(running_on) == 1
    running_on = running_on[0]
    for identifier, view in views.items():
        messages = view.wait(has_event('worker', 20, marks[identifier]), f'worker RUNNING seen by {identifier}')
        check_triples(app_messages(messages[marks[identifier]:], 'worker'), 'worker',
                      [(10, 1, True), (20, 2, True)], running_on)
        marks[identifier] = len(messages)

    # ---------------- stop
    assert proxy.supvisors.stop_process('app:worker', True)
    for identifier, view in views.items():
        messages = view.wait(has_event('worker', 0, marks[identifier]), f'worker STOPPED seen by {identifier}')
        check_triples(app_messages(messages[marks[identifier]:], 'worker'), 'worker',
                      [(40, 3, True), (0, 0, True)], running_on)
        marks[identifier] = len(messages)

    # ---------------- crash: the program exits with an unexpected code
    assert proxy.supvisors.start_process('CONFIG', 'app:crasher', '', True)
    crasher_on = proxy.supvisors.get_process_info('app:crasher')[0]['identifiers'] or [running_on]
    for identifier, view in views.items():
        messages = view.wait(has_event('crasher', 100, marks[identifier]), f'crasher EXITED seen by {identifier}')
        selected = app_messages(messages[marks[identifier]:], 'crasher')
        check_triples(selected, 'crasher', [(10, 1, True), (20, 2, True), (100, 0, False)], crasher_on[0])
        # the application is stopped with a minor failure (the crashed process is not required)
        assert selected[-1][1]['statename'] == 'STOPPED' and selected[-1][1]['minor_failure'] is True
