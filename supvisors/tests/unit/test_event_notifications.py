"""What the decision core gives to the event publisher (interfaces contract 2.3 and 2.4): the triggers, the order of
the messages, the payload variants of the process events."""

from typing import Any, Dict, List, Tuple

from supvisors.core import actions as act
from supvisors.model.context import Context
from supvisors.model.resolver import DefaultResolver
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.tests.unit.test_core_engine import (IM, S, T0, join, make_core, operating_master, process,
                                                   remote_tick, start, state_body)
from supvisors.ttypes import ProcessStates

EVENT_KEYS = ['name', 'group', 'state', 'now', 'pid', 'expected', 'spawnerr', 'extra_args', 'disabled', 'identifier']
FORCED_KEYS = ['group', 'name', 'state', 'now', 'pid', 'expected', 'spawnerr', 'extra_args', 'identifier']
INFO_KEYS = ['name', 'group', 'state', 'statename', 'start', 'stop', 'now', 'pid', 'description', 'spawnerr',
             'expected', 'startsecs', 'stopwaitsecs', 'extra_args', 'disabled', 'identifier']


def notifications(actions: List[Any]) -> List[Tuple[str, Dict[str, Any]]]:
    return [(action.topic, action.payload) for action in actions if isinstance(action, act.Notify)]


def topics(actions: List[Any]) -> List[str]:
    return [topic for topic, _ in notifications(actions)]


def event_body(group: str, name: str, state: int, now: float = T0 + 10) -> Dict[str, Any]:
    """ A PROCESS message of Supervisor's state change, keys as the local listener builds them. """
    return {'name': name, 'group': group, 'state': state, 'now': now, 'pid': 42 if state in (10, 20) else 0,
            'expected': True, 'spawnerr': '', 'extra_args': '', 'disabled': False}


def fleet_with_processes():
    """ s1 Master in OPERATION; g:a configured on s1 and s2, g:b on s2 only. """
    core = operating_master(processes={'s2': [process('g', 'a', 0), process('g', 'b', 0)]})
    core.on_local_processes_added([process('g', 'a', 0)], T0 + 5)
    core.take_actions()
    return core


# ---------------------------------------------------------------------------------------------------------------------
# instance and supvisors
# ---------------------------------------------------------------------------------------------------------------------

def test_start_publishes_initialization_first():
    core = make_core('s1')
    core.start(T0)
    assert notifications(core.take_actions()) == [
        ('supvisors', {'fsm_statecode': 1, 'fsm_statename': 'INITIALIZATION', 'starting_jobs': [],
                       'stopping_jobs': []})]


def test_tick_of_new_instance_publishes_one_instance_status():
    core = make_core('s1')
    start(core)
    published = notifications(remote_tick(core, 's2', 0, T0 + 1))
    assert [(topic, payload['identifier'], payload['statename']) for topic, payload in published] == [
        ('instance', 's2', 'CHECKING')]


def test_handshake_publishes_no_instance_status():
    """ CHECKING and RUNNING are seen at the next tick of the instance. """
    core = make_core('s1')
    start(core)
    actions = join(core, 's2', T0 + 1)
    assert [payload['statename'] for topic, payload in notifications(actions) if topic == 'instance'] == \
           ['CHECKING']
    published = notifications(remote_tick(core, 's2', 1, T0 + 2))
    assert [(topic, payload['statename']) for topic, payload in published] == [('instance', 'RUNNING')]


def test_tick_publishes_instance_then_supvisors_if_changed():
    core = operating_master()
    core.take_actions()
    core.on_message('s2', IM.TICK, {'when': T0 + 10, 'sequence_counter': 5, **state_body(S.OPERATION, True)},
                    T0 + 10)
    published = notifications(core.take_actions())
    assert [topic for topic, _ in published] == ['instance', 'supvisors']
    assert published[0][1]['identifier'] == 's2' and published[0][1]['starting_jobs'] is True
    assert published[1][1]['starting_jobs'] == ['s2']
    # same state at the next tick: the instance only
    core.on_message('s2', IM.TICK, {'when': T0 + 15, 'sequence_counter': 6, **state_body(S.OPERATION, True)},
                    T0 + 15)
    assert topics(core.take_actions()) == ['instance']


def test_local_tick_publishes_local_instance_once():
    core = make_core('s1')
    core.start(T0)
    core.take_actions()
    core.on_local_tick(T0 + 1)
    published = notifications(core.take_actions())
    instance_messages = [payload for topic, payload in published if topic == 'instance']
    assert len(instance_messages) == 1 and instance_messages[0]['identifier'] == 's1'


def test_instance_silent_publishes_instance_supvisors_then_processes():
    core = fleet_with_processes()
    core.on_message('s2', IM.STATE, state_body(S.OPERATION, True), T0 + 8)
    core.on_message('s2', IM.PROCESS, event_body('g', 'b', 20), T0 + 9)
    core.take_actions()
    core.on_peer_down('s2', T0 + 10)
    published = notifications(core.take_actions())
    assert [topic for topic, _ in published] == ['instance', 'supvisors', 'process', 'application']
    instance = published[0][1]
    assert instance['identifier'] == 's2' and instance['statename'] == 'SILENT'
    assert instance['fsm_statename'] == 'OFF' and instance['starting_jobs'] is False
    assert published[1][1]['starting_jobs'] == []
    assert published[2][1]['process_name'] == 'b' and published[2][1]['statename'] == 'FATAL'
    assert published[3][1]['application_name'] == 'g'


def test_instance_isolation_publishes_isolating_then_isolated():
    core = operating_master(auto_fence=True)
    core.take_actions()
    core.on_peer_down('s3', T0 + 10)
    published = notifications(core.take_actions())
    assert [(topic, payload['statename']) for topic, payload in published if topic == 'instance'] == [
        ('instance', 'ISOLATING'), ('instance', 'ISOLATED')]


def test_entry_in_initialization_publishes_no_instance_status():
    core = make_core('s2')
    start(core)
    join(core, 's1', T0 + 1)
    join(core, 's3', T0 + 2)
    core.take_actions()
    assert core.master == 's1'
    core.on_peer_down('s1', T0 + 3)  # the Master is lost: back to INITIALIZATION
    published = notifications(core.take_actions())
    assert core.fsm_state == S.INITIALIZATION
    assert [(topic, payload.get('identifier')) for topic, payload in published if topic == 'instance'] == [
        ('instance', 's1')]
    assert [payload['fsm_statename'] for topic, payload in published if topic == 'supvisors'] == \
           ['INITIALIZATION']


# ---------------------------------------------------------------------------------------------------------------------
# process events
# ---------------------------------------------------------------------------------------------------------------------

def test_process_loading_publishes_nothing():
    core = make_core('s1')
    actions = start(core, process_list=[process('g', 'a', 20)])
    assert 'process' not in topics(actions) and 'application' not in topics(actions)
    actions = join(core, 's2', T0 + 1, process_list=[process('g', 'a', 20), process('h', 'x', 0)])
    assert set(topics(actions)) <= {'instance', 'supvisors'}
    core.on_local_processes_added([process('g', 'c', 0)], T0 + 2)
    assert set(topics(core.take_actions())) <= {'instance', 'supvisors'}


def test_process_event_variant():
    core = fleet_with_processes()
    core.on_message('s2', IM.PROCESS, event_body('g', 'b', 10), T0 + 10)
    published = notifications(core.take_actions())
    assert [topic for topic, _ in published][:3] == ['event', 'process', 'application']
    event = published[0][1]
    assert list(event) == EVENT_KEYS
    assert event == {**event_body('g', 'b', 10), 'identifier': 's2'}
    assert published[1][1]['statename'] == 'STARTING' and published[1][1]['identifiers'] == ['s2']


def test_local_process_event():
    core = fleet_with_processes()
    core.on_local_process_event(event_body('g', 'a', 20), T0 + 10)
    published = notifications(core.take_actions())
    assert [topic for topic, _ in published][:3] == ['event', 'process', 'application']
    assert published[0][1]['identifier'] == 's1'


def test_forced_event_variant_local():
    core = fleet_with_processes()
    target = core.context.get_process('g:b')
    core.force_process_state(target, 's2', ProcessStates.FATAL, 'no resource available')
    published = notifications(core.take_actions())
    assert [topic for topic, _ in published][:3] == ['event', 'process', 'application']
    event = published[0][1]
    assert list(event) == FORCED_KEYS
    assert event['state'] == 200 and event['pid'] == 0 and event['expected'] is False
    assert event['spawnerr'] == 'no resource available'
    assert event['identifier'] == 's1'  # the instance that emitted the forced message
    assert published[1][1]['statename'] == 'FATAL'


def test_forced_event_variant_received():
    core = fleet_with_processes()
    body = {'group': 'g', 'name': 'a', 'state': 0, 'forced': True, 'identifier': 's1', 'now': T0 + 20, 'pid': 0,
            'expected': False, 'spawnerr': 'process STOPPED event not received in time', 'extra_args': ''}
    core.on_message('s2', IM.PROCESS, body, T0 + 21)
    published = notifications(core.take_actions())
    event = published[0][1]
    assert list(event) == FORCED_KEYS
    assert event['identifier'] == 's2'  # the emitter, not the target of the forced state
    assert 'forced' not in event


def test_disability_publishes_event_only():
    core = fleet_with_processes()
    info = process('g', 'b', 0)
    info['disabled'] = True
    core.on_message('s2', IM.PROCESS_DISABILITY, info, T0 + 10)
    published = notifications(core.take_actions())
    assert [topic for topic, _ in published] == ['event']
    assert list(published[0][1]) == INFO_KEYS
    assert published[0][1]['identifier'] == 's2' and published[0][1]['disabled'] is True


# ---------------------------------------------------------------------------------------------------------------------
# removals (context level)
# ---------------------------------------------------------------------------------------------------------------------

def make_context() -> Context:
    context = Context(DefaultResolver(), FakeLogger())
    context.load_processes('s1', [process('g', 'a', 0), process('g', 'b', 0)], T0)
    context.load_processes('s2', [process('g', 'a', 0)], T0)
    return context


def test_removal_of_a_process_still_defined_elsewhere():
    context = make_context()
    published = context.on_process_removed('s2', 'g', 'a', T0 + 1)
    assert published == [('event', {'name': 'a', 'group': 'g', 'state': -1, 'identifier': 's2'})]


def test_removal_of_the_last_definition():
    context = make_context()
    published = context.on_process_removed('s1', 'g', 'b', T0 + 1)
    assert [topic for topic, _ in published] == ['event', 'process', 'application']
    assert list(published[0][1]) == ['name', 'group', 'state', 'identifier']
    assert published[1][1]['statecode'] == -1 and published[1][1]['statename'] == 'DELETED'
    assert published[2][1]['application_name'] == 'g' and published[2][1]['statename'] == 'STOPPED'


def test_removal_of_a_group():
    context = make_context()
    published = context.on_process_removed('s1', 'g', '*', T0 + 1)
    # a still on s2, b gone
    assert [(topic, payload.get('name') or payload.get('process_name')) for topic, payload in published] == [
        ('event', 'a'), ('event', 'b'), ('process', 'b'), ('application', None)]
    published = context.on_process_removed('s2', 'g', '*', T0 + 2)
    assert [topic for topic, _ in published] == ['event', 'process', 'application']
    assert published[-1][1]['statecode'] == 4 and published[-1][1]['statename'] == 'DELETED'
