"""Tests of the decision core: instance liveness, handshakes, the Supvisors state machine and the Master election
(behaviour contract sections 2 and 3, with the deliberate differences listed in the docstring of
supvisors.core.engine)."""

from collections import deque
from typing import Any, Dict, Iterable, List, Optional, Sequence, Type

import pytest

from supvisors.core import actions as act
from supvisors.core.engine import SupvisorsCore
from supvisors.core.instances import INT32_MAX, InstanceStatus
from supvisors.ttypes import InternalMessages, SupvisorsInstanceStates, SupvisorsStates, make_namespec, split_namespec
from supvisors.tests.unit.fakes import FakeLogger

S = SupvisorsStates
IS = SupvisorsInstanceStates
IM = InternalMessages

T0 = 1000.0
IDS = ('s1', 's2', 's3')


# ---------------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------------


def make_instances(identifiers: Iterable[str]) -> List[InstanceStatus]:
    return [InstanceStatus(identifier, '127.0.0.1', 7001 + idx, '127.0.0.1')
            for idx, identifier in enumerate(identifiers)]


def make_core(local: str = 's1', identifiers: Sequence[str] = IDS, core_identifiers: Sequence[str] = (),
              synchro_timeout: float = 15, inactivity_ticks: int = 2, auto_fence: bool = False,
              klass: Type[SupvisorsCore] = SupvisorsCore) -> SupvisorsCore:
    return klass(local, make_instances(identifiers), list(core_identifiers), synchro_timeout, inactivity_ticks,
                 auto_fence, FakeLogger())


def of_type(actions: Iterable[Any], klass: type) -> List[Any]:
    return [action for action in actions if isinstance(action, klass)]


def checks(actions: Iterable[Any]) -> List[act.CheckInstance]:
    return of_type(actions, act.CheckInstance)


def check_for(actions: Iterable[Any], identifier: str) -> act.CheckInstance:
    found = [action for action in checks(actions) if action.identifier == identifier]
    assert len(found) == 1, f'expected one CheckInstance for {identifier} in {actions}'
    return found[0]


def publishes(actions: Iterable[Any], code: InternalMessages) -> List[Any]:
    return [action.body for action in of_type(actions, act.Publish) if action.code == code]


def published_states(actions: Iterable[Any]) -> List[str]:
    return [body['fsm_statename'] for body in publishes(actions, IM.STATE)]


def tick_body(counter: int, when: float) -> Dict[str, Any]:
    return {'when': when, 'sequence_counter': counter}


def state_body(state: SupvisorsStates, starting: bool = False, stopping: bool = False) -> Dict[str, Any]:
    return {'fsm_statecode': state.value, 'fsm_statename': state.name,
            'starting_jobs': starting, 'stopping_jobs': stopping}


def start(core: SupvisorsCore, now: float = T0, process_list: Optional[List[Dict[str, Any]]] = None) -> List[Any]:
    """ start() and answer the self-check positively. Return every action queued. """
    core.start(now)
    actions = core.take_actions()
    check = check_for(actions, core.local_identifier)
    core.on_check_result(act.CheckResult(core.local_identifier, check.check_id, True, core.master,
                                         process_list=process_list), now)
    return actions + core.take_actions()


def remote_tick(core: SupvisorsCore, identifier: str, counter: int, now: float,
                when: Optional[float] = None) -> List[Any]:
    core.on_message(identifier, IM.TICK, tick_body(counter, now if when is None else when), now)
    return core.take_actions()


def join(core: SupvisorsCore, identifier: str, now: float, counter: int = 0, authorized: Optional[bool] = True,
         master: str = '', fsm_state: SupvisorsStates = S.INITIALIZATION, starting_jobs: bool = False,
         stopping_jobs: bool = False, process_list: Optional[List[Dict[str, Any]]] = None) -> List[Any]:
    """ A tick from identifier triggers a handshake, answered as given. Return every action queued. """
    actions = remote_tick(core, identifier, counter, now)
    check = check_for(actions, identifier)
    core.on_check_result(act.CheckResult(identifier, check.check_id, authorized, master, fsm_state.value,
                                         starting_jobs, stopping_jobs, process_list), now)
    return actions + core.take_actions()


def answer_all(core: SupvisorsCore, actions: Iterable[Any], now: float,
               results: Optional[Dict[str, Dict[str, Any]]] = None) -> List[Any]:
    """ Answer every CheckInstance of actions (authorized unless told otherwise); return the new actions. """
    results = results or {}
    new_actions: List[Any] = []
    for check in checks(actions):
        kwargs = dict(results.get(check.identifier, {}))
        authorized = kwargs.pop('authorized', True)
        core.on_check_result(act.CheckResult(check.identifier, check.check_id, authorized, **kwargs), now)
        new_actions.extend(core.take_actions())
    return new_actions


def process(group: str, name: str, state: int = 20, now: float = T0, spawnerr: str = '') -> Dict[str, Any]:
    return {'name': name, 'group': group, 'state': state, 'statename': '', 'start': int(now), 'stop': 0,
            'now': now, 'pid': 1234 if state in (10, 20, 30, 40) else 0, 'description': '', 'spawnerr': spawnerr,
            'expected': not spawnerr, 'startsecs': 0, 'stopwaitsecs': 10, 'extra_args': '', 'disabled': False}


def process_infos(core: SupvisorsCore, identifier: str) -> Dict[str, Dict[str, Any]]:
    """ namespec -> information of the processes of identifier, as known by the core. """
    if hasattr(core, 'process_infos'):
        return core.process_infos[identifier]
    return {make_namespec(process.application_name, process.process_name): process.info_map[identifier]
            for process in core.context.processes() if identifier in process.info_map}


def operating_master(identifiers: Sequence[str] = IDS, processes: Optional[Dict[str, List[Dict[str, Any]]]] = None,
                     **kwargs) -> SupvisorsCore:
    """ s1 is the local instance and the Master, every instance RUNNING, OPERATION. """
    core = make_core('s1', identifiers, **kwargs)
    start(core)
    for idx, identifier in enumerate(identifiers):
        if identifier != 's1':
            join(core, identifier, T0 + 1 + idx, process_list=(processes or {}).get(identifier))
    assert core.fsm_state == S.OPERATION and core.master == 's1'
    return core


def operating_slave(local: str = 's2', identifiers: Sequence[str] = IDS, **kwargs) -> SupvisorsCore:
    """ local is a slave of s1, every instance RUNNING, OPERATION. """
    core = make_core(local, identifiers, **kwargs)
    start(core)
    for idx, identifier in enumerate(identifiers):
        if identifier != local:
            join(core, identifier, T0 + 1 + idx)
    assert core.master == 's1' and core.fsm_state == S.DEPLOYMENT
    core.on_message('s1', IM.STATE, state_body(S.OPERATION), T0 + 5)
    core.take_actions()
    assert core.fsm_state == S.OPERATION
    return core


def states(core: SupvisorsCore) -> Dict[str, IS]:
    return {identifier: status.state for identifier, status in core.instances.items()}


class BusyCore(SupvisorsCore):
    """ A core whose job engines can be made busy. """

    starter_busy = False
    stopper_busy = False
    aborted = 0

    def _starter_busy(self) -> bool:
        return self.starter_busy

    def _stopper_busy(self) -> bool:
        return self.stopper_busy

    def _abort_jobs(self) -> None:
        self.aborted += 1


# ---------------------------------------------------------------------------------------------------------------------
# Construction and queries
# ---------------------------------------------------------------------------------------------------------------------

def test_initial_state():
    core = make_core('s2', core_identifiers=['s3', 'unknown', 's1'])
    assert core.fsm_state == S.OFF
    assert core.master == ''
    assert not core.is_master
    assert core.local.identifier == 's2'
    assert core.core_identifiers == ['s3', 's1']
    assert set(states(core).values()) == {IS.UNKNOWN}
    assert core.take_actions() == []
    assert core.supvisors_state() == {'fsm_statecode': 0, 'fsm_statename': 'OFF',
                                      'starting_jobs': [], 'stopping_jobs': []}


def test_instance_info_payload():
    core = make_core('s1')
    start(core)
    remote_tick(core, 's2', 7, T0 + 2.9, when=T0 + 1.75)
    info = core.instance_info('s2')
    assert list(info) == ['identifier', 'node_name', 'port', 'statecode', 'statename', 'sequence_counter',
                          'remote_time', 'local_time', 'loading', 'fsm_statecode', 'fsm_statename',
                          'starting_jobs', 'stopping_jobs']
    assert info == {'identifier': 's2', 'node_name': '127.0.0.1', 'port': 7002, 'statecode': IS.CHECKING.value,
                    'statename': 'CHECKING', 'sequence_counter': 7, 'remote_time': 1001, 'local_time': 1002,
                    'loading': 0, 'fsm_statecode': 0, 'fsm_statename': 'OFF', 'starting_jobs': False,
                    'stopping_jobs': False}
    for key in ('port', 'statecode', 'sequence_counter', 'remote_time', 'local_time', 'loading', 'fsm_statecode'):
        assert type(info[key]) is int, key
    for key in ('identifier', 'node_name', 'statename', 'fsm_statename'):
        assert type(info[key]) is str, key
    for key in ('starting_jobs', 'stopping_jobs'):
        assert type(info[key]) is bool, key
    # the local instance reports the local FSM state
    local = core.instance_info('s1')
    assert local['statename'] == 'RUNNING'
    assert local['fsm_statename'] == 'INITIALIZATION' and local['fsm_statecode'] == 1


def test_instance_info_times_capped_to_int32():
    core = make_core('s1')
    start(core)
    remote_tick(core, 's2', 0, 3e9, when=5e9)
    info = core.instance_info('s2')
    assert info['remote_time'] == INT32_MAX and info['local_time'] == INT32_MAX
    assert type(info['remote_time']) is int and type(info['local_time']) is int
    remote_tick(core, 's3', 0, 3e9, when=-5e9)
    assert core.instance_info('s3')['remote_time'] == -INT32_MAX - 1


def test_instance_info_before_any_tick():
    core = make_core('s1')
    info = core.instance_info('s3')
    assert info['sequence_counter'] == 0 and info['remote_time'] == 0 and info['local_time'] == 0
    assert info['statename'] == 'UNKNOWN' and info['port'] == 7003


def test_all_instances_info_sorted_by_identifier():
    core = make_core('s3', ['s3', 's10', 's2', 'a'])
    infos = core.all_instances_info()
    assert [info['identifier'] for info in infos] == ['a', 's10', 's2', 's3']
    assert infos[2] == core.instance_info('s2')


def test_supvisors_state_payload():
    core = operating_master()
    payload = core.supvisors_state()
    assert payload == {'fsm_statecode': 3, 'fsm_statename': 'OPERATION', 'starting_jobs': [], 'stopping_jobs': []}
    core.on_message('s3', IM.STATE, state_body(S.OPERATION, starting=True, stopping=True), T0 + 10)
    core.on_message('s2', IM.STATE, state_body(S.OPERATION, starting=True), T0 + 10)
    payload = core.supvisors_state()
    assert list(payload) == ['fsm_statecode', 'fsm_statename', 'starting_jobs', 'stopping_jobs']
    assert type(payload['fsm_statecode']) is int and type(payload['fsm_statename']) is str
    # identifiers in configuration order
    assert payload['starting_jobs'] == ['s2', 's3']
    assert payload['stopping_jobs'] == ['s3']
    assert all(type(x) is str for x in payload['starting_jobs'] + payload['stopping_jobs'])
    # the jobs of an instance that becomes SILENT are forgotten
    core.on_peer_down('s3', T0 + 11)
    assert core.supvisors_state()['stopping_jobs'] == []
    assert core.supvisors_state()['starting_jobs'] == ['s2']


def test_supvisors_state_notified_on_change_only():
    core = operating_master()
    core.take_actions()
    core.on_message('s2', IM.STATE, state_body(S.OPERATION, starting=True), T0 + 10)
    notified = [x.payload for x in of_type(core.take_actions(), act.Notify) if x.topic == 'supvisors']
    assert notified == [{'fsm_statecode': 3, 'fsm_statename': 'OPERATION', 'starting_jobs': ['s2'],
                         'stopping_jobs': []}]
    core.on_message('s2', IM.STATE, state_body(S.OPERATION, starting=True), T0 + 11)
    assert [x for x in of_type(core.take_actions(), act.Notify) if x.topic == 'supvisors'] == []


def test_instance_notified_on_state_change():
    core = make_core('s1')
    start(core)
    actions = remote_tick(core, 's2', 0, T0 + 1)
    notified = [x.payload for x in of_type(actions, act.Notify) if x.topic == 'instance']
    assert notified[-1]['identifier'] == 's2' and notified[-1]['statename'] == 'CHECKING'


# ---------------------------------------------------------------------------------------------------------------------
# Start and self-validation
# ---------------------------------------------------------------------------------------------------------------------

def test_start_self_validation():
    core = make_core('s2')
    core.start(T0)
    actions = core.take_actions()
    assert core.fsm_state == S.INITIALIZATION
    assert published_states(actions) == ['INITIALIZATION']
    assert [(x.identifier, x.check_id) for x in checks(actions)] == [('s2', 1)]
    assert core.local.state == IS.CHECKING
    assert core.start_date == T0
    # the local instance validates itself; its process list is loaded
    core.on_check_result(act.CheckResult('s2', 1, True, process_list=[process('g', 'p'), process('x', 'x')]),
                         T0)
    assert core.local.state == IS.RUNNING
    assert set(process_infos(core, 's2')) == {'g:p', 'x'}
    assert core.fsm_state == S.INITIALIZATION  # s1 and s3 still UNKNOWN
    assert states(core) == {'s1': IS.UNKNOWN, 's2': IS.RUNNING, 's3': IS.UNKNOWN}


def test_single_instance_reaches_operation_at_once():
    core = make_core('s1', ['s1'])
    actions = start(core)
    assert core.fsm_state == S.OPERATION
    assert core.master == 's1' and core.is_master
    assert published_states(actions) == ['INITIALIZATION', 'DEPLOYMENT', 'OPERATION']
    assert any('Master is s1' in msg for msg in core.logger.levels('info'))


@pytest.mark.parametrize('authorized', [None, False])
def test_self_check_failure_retried_at_next_local_tick(authorized):
    core = make_core('s1', ['s1'], auto_fence=True)
    core.start(T0)
    check = check_for(core.take_actions(), 's1')
    core.on_check_result(act.CheckResult('s1', check.check_id, authorized), T0)
    # the local instance is never isolated from itself
    assert core.local.state == IS.SILENT
    assert core.fsm_state == S.INITIALIZATION
    assert of_type(core.take_actions(), act.IsolateInstances) == []
    core.on_local_tick(T0 + 1)
    check = check_for(core.take_actions(), 's1')
    assert core.local.state == IS.CHECKING
    core.on_check_result(act.CheckResult('s1', check.check_id, True), T0 + 1)
    assert core.fsm_state == S.OPERATION


def test_remote_tick_ignored_until_local_running():
    core = make_core('s1')
    core.start(T0)
    core.take_actions()
    assert remote_tick(core, 's2', 0, T0) == []
    assert core.instances['s2'].state == IS.UNKNOWN
    assert core.instances['s2'].sequence_counter == 0


def test_local_tick_before_start_does_not_raise():
    core = make_core('s1', ['s1'])
    core.on_local_tick(T0)
    actions = core.take_actions()
    assert core.fsm_state == S.OFF
    assert publishes(actions, IM.TICK) == [{**tick_body(0, T0), **state_body(S.OFF)}]


# ---------------------------------------------------------------------------------------------------------------------
# INITIALIZATION
# ---------------------------------------------------------------------------------------------------------------------

def test_initialization_ends_at_once_when_all_running():
    core = make_core('s1')
    start(core)
    join(core, 's2', T0 + 0.5)
    assert core.fsm_state == S.INITIALIZATION
    actions = join(core, 's3', T0 + 0.6)
    # no tick and no minimal delay needed
    assert core.fsm_state == S.OPERATION
    assert published_states(actions) == ['DEPLOYMENT', 'OPERATION']
    assert set(states(core).values()) == {IS.RUNNING}


def test_initialization_waits_for_checking_instance():
    core = make_core('s1')
    start(core)
    join(core, 's2', T0 + 0.5)
    remote_tick(core, 's3', 0, T0 + 0.6)  # handshake in progress
    assert core.instances['s3'].state == IS.CHECKING
    assert core.fsm_state == S.INITIALIZATION


def test_initialization_waits_for_unknown_until_synchro_timeout():
    core = make_core('s1', synchro_timeout=15)
    start(core)
    join(core, 's2', T0 + 1)
    for counter, now in enumerate([T0 + 1, T0 + 6, T0 + 11, T0 + 15]):
        core.on_local_tick(now)
        remote_tick(core, 's2', counter, now)
        core.take_actions()
        assert core.fsm_state == S.INITIALIZATION, now
        assert core.instances['s3'].state == IS.UNKNOWN
    # first local tick after synchro_timeout: s3 is SILENT and the FSM proceeds at that same tick
    core.on_local_tick(T0 + 16)
    actions = core.take_actions()
    assert core.instances['s3'].state == IS.SILENT
    assert core.fsm_state == S.OPERATION and core.master == 's1'
    assert published_states(actions) == ['DEPLOYMENT', 'OPERATION']
    assert of_type(actions, act.IsolateInstances) == []
    assert any('s3 not heard of' in msg for msg in core.logger.levels('warn'))


def test_initialization_timeout_with_auto_fence():
    core = make_core('s1', synchro_timeout=10, auto_fence=True)
    start(core)
    join(core, 's2', T0 + 1)
    core.on_local_tick(T0 + 5)
    remote_tick(core, 's2', 1, T0 + 5)
    core.take_actions()
    assert core.fsm_state == S.INITIALIZATION
    core.on_local_tick(T0 + 11)
    actions = core.take_actions()
    assert core.instances['s3'].state == IS.ISOLATED
    isolations = of_type(actions, act.IsolateInstances)
    assert [x.identifiers for x in isolations] == [['s3']]
    # ISOLATING -> ISOLATED at the end of that event, so the FSM proceeds at the same tick
    assert core.fsm_state == S.OPERATION
    # an isolated instance is never heard again
    assert remote_tick(core, 's3', 0, T0 + 12) == []
    assert core.instances['s3'].state == IS.ISOLATED
    core.on_message('s3', IM.STATE, state_body(S.OPERATION), T0 + 12)
    assert core.instances['s3'].fsm_state == S.OFF


def test_core_identifiers_all_running_while_others_unknown():
    core = make_core('s1', ['s1', 's2', 's3', 's4'], core_identifiers=['s1', 's2'])
    start(core)
    assert core.fsm_state == S.INITIALIZATION
    actions = join(core, 's2', T0 + 1)
    assert core.fsm_state == S.OPERATION and core.master == 's1'
    assert published_states(actions) == ['DEPLOYMENT', 'OPERATION']
    assert core.instances['s3'].state == IS.UNKNOWN and core.instances['s4'].state == IS.UNKNOWN


def test_core_identifiers_not_all_running():
    core = make_core('s1', ['s1', 's2', 's3', 's4'], core_identifiers=['s2', 's3'])
    start(core)
    join(core, 's2', T0 + 1)
    join(core, 's4', T0 + 1)
    assert core.fsm_state == S.INITIALIZATION
    join(core, 's3', T0 + 2)
    assert core.master == 's2'  # core identifiers preferred
    assert core.fsm_state == S.DEPLOYMENT  # waiting for the state of the Master


def test_core_identifiers_wait_for_adopted_master():
    """ Core identifiers all RUNNING, but the adopted Master is not: stay until it is known. """
    core = make_core('s1', ['s1', 's2', 's3', 's4'], core_identifiers=['s1', 's2'], synchro_timeout=10)
    start(core)
    join(core, 's2', T0 + 1, master='s3', fsm_state=S.OPERATION)
    assert core.master == 's3'
    assert core.fsm_state == S.INITIALIZATION
    # the adopted Master never shows up: SILENT at synchro_timeout, then the election ignores it
    core.on_local_tick(T0 + 5)
    remote_tick(core, 's2', 1, T0 + 5)
    core.on_local_tick(T0 + 11)
    assert core.instances['s3'].state == IS.SILENT
    assert core.fsm_state == S.OPERATION
    assert core.master == 's1'


def test_core_identifiers_with_running_adopted_master():
    core = make_core('s1', ['s1', 's2', 's3', 's4'], core_identifiers=['s1', 's2'])
    start(core)
    join(core, 's2', T0 + 1, master='s3', fsm_state=S.OPERATION)
    assert core.fsm_state == S.INITIALIZATION
    join(core, 's3', T0 + 2, master='s3', fsm_state=S.OPERATION)
    # the adopted Master is kept (not a core identifier) and the slave jumps to its state
    assert core.master == 's3' and not core.is_master
    assert core.fsm_state == S.OPERATION
    assert core.instances['s4'].state == IS.UNKNOWN


# ---------------------------------------------------------------------------------------------------------------------
# Election
# ---------------------------------------------------------------------------------------------------------------------

def test_election_smallest_identifier_in_string_order():
    core = make_core('s3', ['s2', 's3', 's10'])
    start(core)
    join(core, 's2', T0 + 1)
    join(core, 's10', T0 + 1)
    assert core.master == 's10'
    assert not core.is_master
    assert core.fsm_state == S.DEPLOYMENT  # no Master state known yet: the slave stays


def test_election_ip_like_identifiers():
    core = make_core('10.0.0.2', ['10.0.0.2', '10.0.0.10'])
    start(core)
    join(core, '10.0.0.10', T0 + 1)
    assert core.master == '10.0.0.10'


def test_election_core_identifiers_preferred():
    core = make_core('s1', core_identifiers=['s3', 's2'])
    start(core)
    join(core, 's2', T0 + 1)
    join(core, 's3', T0 + 1)
    assert core.master == 's2'
    assert core.fsm_state == S.DEPLOYMENT


def test_election_core_identifiers_not_running():
    core = make_core('s2', core_identifiers=['s3'], synchro_timeout=5)
    start(core)
    join(core, 's1', T0 + 1)
    core.on_local_tick(T0 + 6)
    assert core.instances['s3'].state == IS.SILENT
    assert core.master == 's1'


def test_election_adopted_master_kept_if_running():
    core = make_core('s1')
    start(core)
    actions = join(core, 's2', T0 + 1, master='s3', fsm_state=S.OPERATION)
    assert core.master == 's3'
    assert any('adopting Master s3' in msg for msg in core.logger.levels('info'))
    assert core.fsm_state == S.INITIALIZATION
    actions = join(core, 's3', T0 + 2, master='s3', fsm_state=S.OPERATION)
    assert core.master == 's3'  # not s1, the smallest
    assert not core.is_master
    # the slave jumps to the state of the Master
    assert core.fsm_state == S.OPERATION
    assert published_states(actions) == ['DEPLOYMENT', 'OPERATION']


def test_election_adopted_master_ignored_if_not_running():
    core = make_core('s1', synchro_timeout=5)
    start(core)
    join(core, 's2', T0 + 1, master='s3', fsm_state=S.OPERATION)
    assert core.master == 's3'
    core.on_local_tick(T0 + 6)
    assert core.instances['s3'].state == IS.SILENT
    assert core.master == 's1' and core.is_master
    assert core.fsm_state == S.OPERATION


def test_adoption_only_in_initialization():
    core = operating_master()
    core.on_peer_down('s3', T0 + 10)
    # s3 comes back reporting the same Master: nothing special
    join(core, 's3', T0 + 11, master='s1', fsm_state=S.OPERATION)
    assert core.master == 's1' and core.fsm_state == S.OPERATION


def test_local_instance_reported_as_master():
    """ A restarted instance that the others still consider as Master adopts itself. """
    core = make_core('s2')
    start(core)
    join(core, 's1', T0 + 1, master='s2', fsm_state=S.OPERATION)
    assert core.master == 's2'
    join(core, 's3', T0 + 1, master='s2', fsm_state=S.OPERATION)
    assert core.is_master
    assert core.fsm_state == S.OPERATION


# ---------------------------------------------------------------------------------------------------------------------
# Slave behaviour
# ---------------------------------------------------------------------------------------------------------------------

def test_slave_follows_master_states():
    core = operating_slave()
    now = T0 + 10
    for state in (S.CONCILIATION, S.OPERATION, S.DEPLOYMENT, S.OPERATION):
        core.on_message('s1', IM.STATE, state_body(state), now)
        actions = core.take_actions()
        assert core.fsm_state == state
        assert published_states(actions) == [state.name]
    # no STATE published when nothing changed
    core.on_message('s1', IM.STATE, state_body(S.OPERATION, starting=True), now)
    assert published_states(core.take_actions()) == []
    assert core.instances['s1'].starting_jobs


@pytest.mark.parametrize('state', [S.OFF, S.INITIALIZATION])
def test_slave_does_not_follow_off_or_initialization(state):
    core = operating_slave()
    core.on_message('s1', IM.STATE, state_body(state), T0 + 10)
    assert core.instances['s1'].fsm_state == state
    assert core.fsm_state == S.OPERATION
    assert published_states(core.take_actions()) == []
    # it follows the next working state
    core.on_message('s1', IM.STATE, state_body(S.DEPLOYMENT), T0 + 11)
    assert core.fsm_state == S.DEPLOYMENT


def test_slave_stays_until_master_state_known():
    core = make_core('s2')
    start(core)
    join(core, 's1', T0 + 1, fsm_state=S.INITIALIZATION)
    join(core, 's3', T0 + 1, fsm_state=S.INITIALIZATION)
    assert core.master == 's1' and core.fsm_state == S.DEPLOYMENT
    core.on_local_tick(T0 + 5)
    assert core.fsm_state == S.DEPLOYMENT
    core.on_message('s1', IM.STATE, state_body(S.DEPLOYMENT), T0 + 6)
    assert core.fsm_state == S.DEPLOYMENT
    core.on_message('s1', IM.STATE, state_body(S.OPERATION), T0 + 7)
    assert core.fsm_state == S.OPERATION


def test_slave_follows_master_state_carried_by_tick():
    """ The state rides along with the ticks: a missed STATE message is healed at the next tick. """
    core = operating_slave()
    core.on_message('s1', IM.TICK, {**tick_body(1, T0 + 10), **state_body(S.CONCILIATION, starting=True)},
                    T0 + 10)
    assert core.instances['s1'].fsm_state == S.CONCILIATION
    assert core.instances['s1'].starting_jobs is True
    assert core.fsm_state == S.CONCILIATION
    # a tick without state is still a valid tick
    core.on_message('s1', IM.TICK, tick_body(2, T0 + 15), T0 + 15)
    assert core.instances['s1'].sequence_counter == 2
    assert core.fsm_state == S.CONCILIATION


def test_state_carried_by_tick_that_starts_a_handshake_not_recorded():
    core = make_core('s1')
    start(core)
    core.on_message('s2', IM.TICK, {**tick_body(0, T0 + 1), **state_body(S.OPERATION)}, T0 + 1)
    check = check_for(core.take_actions(), 's2')
    # s2 was UNKNOWN: it is questioned and the handshake tells its state
    assert core.instances['s2'].fsm_state == S.OFF
    core.on_check_result(act.CheckResult('s2', check.check_id, True, '', S.INITIALIZATION.value), T0 + 2)
    assert core.instances['s2'].fsm_state == S.INITIALIZATION


@pytest.mark.parametrize('code', [IM.STATE, IM.TICK])
def test_state_received_during_handshake_wins(code):
    core = make_core('s1')
    start(core)
    check = check_for(remote_tick(core, 's2', 0, T0 + 1), 's2')
    body = state_body(S.DEPLOYMENT, stopping=True)
    if code == IM.TICK:
        body.update(tick_body(1, T0 + 1))
    core.on_message('s2', code, body, T0 + 1)
    core.on_check_result(act.CheckResult('s2', check.check_id, True, '', S.INITIALIZATION.value), T0 + 2)
    status = core.instances['s2']
    # the answer of the handshake is older than the state received meanwhile
    assert (status.fsm_state, status.starting_jobs, status.stopping_jobs) == (S.DEPLOYMENT, False, True)
    # a new handshake forgets it: its answer is recorded
    core.on_peer_down('s2', T0 + 3)
    join(core, 's2', T0 + 4, counter=2, fsm_state=S.OPERATION)
    assert (status.fsm_state, status.starting_jobs, status.stopping_jobs) == (S.OPERATION, False, False)


def test_tick_with_invalid_state_logged():
    core = operating_slave()
    core.on_message('s1', IM.TICK, {**tick_body(1, T0 + 10), 'fsm_statecode': 'bad'}, T0 + 10)
    assert any('invalid message code=1 from s1' in msg for msg in core.logger.levels('error'))
    assert core.instances['s1'].fsm_state == S.OPERATION
    assert core.fsm_state == S.OPERATION


def test_slave_ignores_other_slaves_states():
    core = operating_slave()
    core.on_message('s3', IM.STATE, state_body(S.CONCILIATION), T0 + 10)
    assert core.instances['s3'].fsm_state == S.CONCILIATION
    assert core.fsm_state == S.OPERATION


def test_slave_follows_restart():
    core = operating_slave()
    core.on_message('s1', IM.STATE, state_body(S.RESTARTING), T0 + 10)
    actions = core.take_actions()
    assert core.fsm_state == S.RESTARTING
    assert of_type(actions, act.RestartSupervisor) == []
    core.on_local_tick(T0 + 11)
    assert core.fsm_state == S.RESTARTING
    core.on_message('s1', IM.STATE, state_body(S.RESTART), T0 + 12)
    actions = core.take_actions()
    assert core.fsm_state == S.RESTART
    assert len(of_type(actions, act.RestartSupervisor)) == 1
    assert published_states(actions) == ['RESTART']


def test_slave_follows_shutdown():
    core = operating_slave()
    core.on_message('s1', IM.STATE, state_body(S.SHUTTING_DOWN), T0 + 10)
    assert core.fsm_state == S.SHUTTING_DOWN
    core.on_message('s1', IM.STATE, state_body(S.SHUTDOWN), T0 + 12)
    actions = core.take_actions()
    assert core.fsm_state == S.SHUTDOWN
    assert len(of_type(actions, act.ShutdownSupervisor)) == 1
    assert of_type(actions, act.RestartSupervisor) == []


def test_slave_jumps_to_final_state():
    """ A Master state missed: the slave goes straight to RESTART. """
    core = operating_slave()
    core.on_message('s1', IM.STATE, state_body(S.RESTART), T0 + 10)
    assert core.fsm_state == S.RESTART
    assert len(of_type(core.take_actions(), act.RestartSupervisor)) == 1


def test_slave_entering_restarting_aborts_jobs():
    core = operating_slave(klass=BusyCore)
    aborted = core.aborted
    core.on_message('s1', IM.STATE, state_body(S.RESTARTING), T0 + 10)
    assert core.aborted == aborted + 1


@pytest.mark.parametrize('lost_by', ['peer_down', 'inactivity'])
def test_slave_in_restarting_goes_to_restart_when_master_disappears(lost_by):
    core = operating_slave()
    core.on_message('s1', IM.STATE, state_body(S.RESTARTING), T0 + 10)
    core.take_actions()
    if lost_by == 'peer_down':
        core.on_peer_down('s1', T0 + 11)
    else:
        for idx in range(4):
            core.on_local_tick(T0 + 20 + 5 * idx)
    actions = core.take_actions()
    assert core.instances['s1'].state == IS.SILENT
    assert core.fsm_state == S.RESTART
    assert len(of_type(actions, act.RestartSupervisor)) == 1


def test_slave_in_shutting_down_goes_to_shutdown_when_master_disappears():
    core = operating_slave()
    core.on_message('s1', IM.STATE, state_body(S.SHUTTING_DOWN), T0 + 10)
    core.on_peer_down('s1', T0 + 11)
    actions = core.take_actions()
    assert core.fsm_state == S.SHUTDOWN
    assert len(of_type(actions, act.ShutdownSupervisor)) == 1


def test_slave_request_forwarded_to_master():
    core = operating_slave()
    core.request_restart(T0 + 10)
    actions = core.take_actions()
    assert of_type(actions, act.ForwardToMaster) == [act.ForwardToMaster('s1', 'restart')]
    assert core.fsm_state == S.OPERATION
    core.request_shutdown(T0 + 11)
    actions = core.take_actions()
    assert of_type(actions, act.ForwardToMaster) == [act.ForwardToMaster('s1', 'shutdown')]
    assert core.fsm_state == S.OPERATION


def test_request_without_master_does_nothing():
    core = make_core('s1')
    start(core)
    core.request_restart(T0 + 1)
    core.request_shutdown(T0 + 1)
    actions = core.take_actions()
    assert of_type(actions, act.ForwardToMaster) == []
    assert core.fsm_state == S.INITIALIZATION
    assert core.logger.levels('critical') == []


# ---------------------------------------------------------------------------------------------------------------------
# Master loss and re-election
# ---------------------------------------------------------------------------------------------------------------------

def test_master_loss_leads_to_reelection():
    core = operating_slave('s2', klass=BusyCore)
    aborted = core.aborted
    core.on_peer_down('s1', T0 + 10)
    actions = core.take_actions()
    assert core.fsm_state == S.INITIALIZATION
    assert core.master == ''
    assert core.aborted == aborted + 1
    assert core.start_date == T0 + 10
    assert published_states(actions) == ['INITIALIZATION']
    # the instances known alive are questioned again at once, the local one first
    assert [x.identifier for x in checks(actions)] == ['s2', 's3']
    assert states(core) == {'s1': IS.SILENT, 's2': IS.CHECKING, 's3': IS.CHECKING}
    actions = answer_all(core, actions, T0 + 10)
    assert core.master == 's2' and core.is_master
    assert core.fsm_state == S.OPERATION
    assert published_states(actions) == ['DEPLOYMENT', 'OPERATION']


def test_master_loss_by_inactivity():
    core = operating_slave('s3')
    core.on_local_tick(T0 + 10)  # local counter 0
    remote_tick(core, 's1', 0, T0 + 10)
    remote_tick(core, 's2', 0, T0 + 10)
    # s2 keeps ticking, s1 is silent
    for counter in (1, 2):
        now = T0 + 10 + 5 * counter
        core.on_local_tick(now)
        remote_tick(core, 's2', counter, now)
        core.take_actions()
        assert core.fsm_state == S.OPERATION
    core.on_local_tick(T0 + 25)
    actions = core.take_actions()
    assert core.instances['s1'].state == IS.SILENT
    assert core.fsm_state == S.INITIALIZATION
    answer_all(core, actions, T0 + 25)
    assert core.master == 's2'
    assert core.fsm_state == S.DEPLOYMENT  # the new Master did not publish yet
    core.on_message('s2', IM.STATE, state_body(S.OPERATION), T0 + 26)
    assert core.fsm_state == S.OPERATION


def test_master_loses_a_slave():
    core = operating_master(klass=BusyCore)
    aborted = core.aborted
    core.on_peer_down('s3', T0 + 10)
    actions = core.take_actions()
    assert core.instances['s3'].state == IS.SILENT
    assert core.fsm_state == S.OPERATION and core.master == 's1'
    assert published_states(actions) == []
    assert core.aborted == aborted


# ---------------------------------------------------------------------------------------------------------------------
# Inactivity
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('inactivity_ticks', [1, 2, 4])
def test_inactivity_detection(inactivity_ticks):
    core = make_core('s1', inactivity_ticks=inactivity_ticks)
    start(core)
    core.on_local_tick(T0)  # local counter 0
    join(core, 's2', T0 + 1, counter=4, process_list=[process('g', 'running'), process('g', 'stopped', 0),
                                                       process('g', 'starting', 10), process('g', 'backoff', 30),
                                                       process('h', 'h', 100)])
    join(core, 's3', T0 + 1)
    assert core.fsm_state == S.OPERATION
    # s3 keeps ticking, s2 does not: its last tick was received at local counter 0
    for counter in range(1, inactivity_ticks + 1):
        now = T0 + 5 * counter
        core.on_local_tick(now)
        remote_tick(core, 's3', counter, now)
        assert core.instances['s2'].state == IS.RUNNING, counter
    core.on_local_tick(T0 + 5 * (inactivity_ticks + 1))
    actions = core.take_actions()
    assert core.instances['s2'].state == IS.SILENT
    assert core.instances['s3'].state == IS.RUNNING
    assert core.instances['s2'].fsm_state == S.OFF
    assert any('s2 is inactive' in msg for msg in core.logger.levels('warn'))
    assert of_type(actions, act.IsolateInstances) == []
    # process impact
    infos = process_infos(core, 's2')
    for name in ('g:running', 'g:starting', 'g:backoff'):
        assert infos[name]['state'] == 200, name
        assert infos[name]['spawnerr'] == 'Supervisor s2 lost'
        assert infos[name]['expected'] is False
    assert infos['g:stopped']['state'] == 0 and infos['g:stopped']['spawnerr'] == ''
    assert infos['h']['state'] == 100 and infos['h']['spawnerr'] == ''
    assert core.fsm_state == S.OPERATION


def test_inactivity_with_auto_fence():
    core = operating_master(auto_fence=True)
    core.on_local_tick(T0 + 10)
    core.take_actions()
    for counter in range(1, 4):
        core.on_local_tick(T0 + 10 + 5 * counter)
    actions = core.take_actions()
    # every instance was heard before the first local tick
    assert states(core) == {'s1': IS.RUNNING, 's2': IS.ISOLATED, 's3': IS.ISOLATED}
    assert [x.identifiers for x in of_type(actions, act.IsolateInstances)] == [['s2', 's3']]
    assert core.fsm_state == S.OPERATION


def test_tick_refreshes_process_uptime():
    core = make_core('s1')
    start(core)
    join(core, 's2', T0 + 1, process_list=[process('g', 'p', now=T0), process('g', 'q', 0, now=T0)])
    remote_tick(core, 's2', 1, T0 + 6, when=T0 + 5.5)
    assert process_infos(core, 's2')['g:p']['now'] == T0 + 5.5
    assert process_infos(core, 's2')['g:q']['now'] == T0 + 5.5
    status = core.instances['s2']
    assert (status.sequence_counter, status.remote_time, status.local_time) == (1, T0 + 5.5, T0 + 6)


def test_local_tick_updates_local_record():
    core = make_core('s1')
    start(core)
    for counter in range(3):
        core.on_local_tick(T0 + 5 * counter)
    status = core.local
    assert status.sequence_counter == 2 and status.local_sequence_counter == 2
    assert status.remote_time == T0 + 10 and status.local_time == T0 + 10


# ---------------------------------------------------------------------------------------------------------------------
# Peer down
# ---------------------------------------------------------------------------------------------------------------------

def test_peer_down_running_instance():
    core = operating_master(processes={'s2': [process('g', 'p')]})
    core.on_peer_down('s2', T0 + 10)
    core.take_actions()
    assert core.instances['s2'].state == IS.SILENT
    assert process_infos(core, 's2')['g:p']['state'] == 200
    assert process_infos(core, 's2')['g:p']['spawnerr'] == 'Supervisor s2 lost'
    assert any('s2 is not reachable' in msg for msg in core.logger.levels('warn'))
    # SILENT: a second report changes nothing
    core.on_peer_down('s2', T0 + 11)
    assert core.take_actions() == []


def test_peer_down_with_auto_fence():
    core = operating_master(auto_fence=True)
    core.on_peer_down('s2', T0 + 10)
    actions = core.take_actions()
    assert core.instances['s2'].state == IS.ISOLATED
    assert [x.identifiers for x in of_type(actions, act.IsolateInstances)] == [['s2']]


def test_peer_down_checking_instance_during_synchronization():
    """ Seen only through the last tick of a supervisord going away (a fleet restarting together): the instance is
    waited for, not declared lost, so the synchronization does not end without it. """
    core = make_core('s1')
    start(core)
    check = check_for(remote_tick(core, 's2', 0, T0 + 1), 's2')
    core.on_peer_down('s2', T0 + 2)
    assert core.instances['s2'].state == IS.UNKNOWN
    assert core.fsm_state == S.INITIALIZATION
    # the handshake result that arrives afterwards is obsolete
    core.on_check_result(act.CheckResult('s2', check.check_id, True), T0 + 3)
    assert core.instances['s2'].state == IS.UNKNOWN
    # the new supervisord of s2 and s3 join: the fleet is synchronized with the expected Master
    join(core, 's2', T0 + 4)
    join(core, 's3', T0 + 5)
    assert core.fsm_state == S.OPERATION and core.master == 's1'


def test_peer_down_unknown_instance_does_not_shorten_startup():
    core = make_core('s1')
    start(core)
    join(core, 's2', T0 + 1)
    core.on_peer_down('s3', T0 + 2)  # connection refused: s3 not started yet
    assert core.take_actions() == []
    assert core.instances['s3'].state == IS.UNKNOWN
    assert core.fsm_state == S.INITIALIZATION
    # s3 starts later and joins normally
    join(core, 's3', T0 + 8)
    assert core.fsm_state == S.OPERATION


def test_peer_down_ignored_for_local_or_unknown_identifier():
    core = operating_master()
    core.on_peer_down('s1', T0 + 10)
    core.on_peer_down('nobody', T0 + 10)
    assert core.take_actions() == []
    assert set(states(core).values()) == {IS.RUNNING}


# ---------------------------------------------------------------------------------------------------------------------
# Stealth restart
# ---------------------------------------------------------------------------------------------------------------------

def test_stealth_restart():
    core = operating_master(processes={'s2': [process('g', 'p')]})
    remote_tick(core, 's2', 5, T0 + 10)
    remote_tick(core, 's2', 6, T0 + 15)
    # s2 restarted between two ticks: its counter goes backwards
    actions = remote_tick(core, 's2', 0, T0 + 20)
    assert any('s2 has restarted' in msg for msg in core.logger.levels('warn'))
    assert process_infos(core, 's2')['g:p']['state'] == 200
    assert process_infos(core, 's2')['g:p']['spawnerr'] == 'Supervisor s2 lost'
    # invalidated at once, then questioned again at once
    check = check_for(actions, 's2')
    assert core.instances['s2'].state == IS.CHECKING
    assert core.instances['s2'].sequence_counter == 0
    core.on_check_result(act.CheckResult('s2', check.check_id, True, 's1', S.INITIALIZATION.value,
                                         process_list=[process('g', 'p')]), T0 + 20)
    actions = core.take_actions()
    assert core.instances['s2'].state == IS.RUNNING
    assert process_infos(core, 's2')['g:p']['state'] == 20
    # the Master was in OPERATION: a new DEPLOYMENT pass
    assert published_states(actions) == ['DEPLOYMENT', 'OPERATION']


def test_stealth_restart_with_auto_fence():
    core = operating_master(auto_fence=True)
    remote_tick(core, 's2', 5, T0 + 10)
    actions = remote_tick(core, 's2', 2, T0 + 20)
    assert core.instances['s2'].state == IS.ISOLATED
    assert checks(actions) == []
    assert [x.identifiers for x in of_type(actions, act.IsolateInstances)] == [['s2']]
    assert core.instances['s2'].sequence_counter == 5


def test_same_counter_is_not_a_restart():
    """ The bus replays the last TICK to a new subscriber: a repeated counter is harmless. """
    core = operating_master()
    remote_tick(core, 's2', 5, T0 + 10)
    actions = remote_tick(core, 's2', 5, T0 + 11)
    assert core.instances['s2'].state == IS.RUNNING
    assert checks(actions) == []


def test_silent_instance_counter_reset_is_not_a_restart():
    core = operating_master()
    remote_tick(core, 's2', 5, T0 + 10)
    core.on_peer_down('s2', T0 + 12)
    core.take_actions()
    actions = remote_tick(core, 's2', 0, T0 + 20)
    assert not any('has restarted' in msg for msg in core.logger.levels('warn'))
    assert check_for(actions, 's2')


# ---------------------------------------------------------------------------------------------------------------------
# Handshake outcomes
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('auto_fence, expected', [(False, IS.SILENT), (True, IS.ISOLATED)])
def test_handshake_unknown_authorization(auto_fence, expected):
    core = make_core('s1', auto_fence=auto_fence)
    start(core)
    actions = join(core, 's2', T0 + 1, authorized=None)
    assert core.instances['s2'].state == expected
    isolations = [x.identifiers for x in of_type(actions, act.IsolateInstances)]
    assert isolations == ([['s2']] if auto_fence else [])
    assert any('s2 cannot be checked' in msg for msg in core.logger.levels('warn'))


@pytest.mark.parametrize('auto_fence', [False, True])
def test_handshake_refused(auto_fence):
    core = make_core('s1', auto_fence=auto_fence)
    start(core)
    actions = join(core, 's2', T0 + 1, authorized=False, master='s2')
    assert core.instances['s2'].state == IS.ISOLATED
    assert [x.identifiers for x in of_type(actions, act.IsolateInstances)] == [['s2']]
    assert core.master == ''  # nothing adopted from an instance that refused us
    assert any('reciprocal isolation' in msg for msg in core.logger.levels('warn'))


def test_handshake_retry_after_silent():
    core = make_core('s1')
    start(core)
    join(core, 's2', T0 + 1, authorized=None)
    assert core.instances['s2'].state == IS.SILENT
    join(core, 's2', T0 + 6, counter=1)
    assert core.instances['s2'].state == IS.RUNNING


def test_handshake_granted():
    core = make_core('s1')
    start(core)
    processes = [process('g', 'p'), process('x', 'x', 0)]
    join(core, 's2', T0 + 1, fsm_state=S.INITIALIZATION, starting_jobs=True, process_list=processes)
    status = core.instances['s2']
    assert status.state == IS.RUNNING
    assert (status.fsm_state, status.starting_jobs, status.stopping_jobs) == (S.INITIALIZATION, True, False)
    infos = process_infos(core, 's2')
    assert set(infos) == {'g:p', 'x'}
    assert (infos['g:p']['state'], infos['g:p']['pid']) == (20, 1234)
    assert (infos['x']['state'], infos['x']['pid']) == (0, 0)
    assert infos['g:p'] is not processes[0]  # copied
    assert any('s2 is RUNNING' in msg for msg in core.logger.levels('info'))
    assert core.supvisors_state()['starting_jobs'] == ['s2']


def test_handshake_granted_without_process_list():
    core = make_core('s1')
    start(core)
    join(core, 's2', T0 + 1, process_list=None)
    assert core.instances['s2'].state == IS.RUNNING
    assert process_infos(core, 's2') == {}


def test_handshake_obsolete_results_ignored():
    core = make_core('s1')
    start(core)
    check = check_for(remote_tick(core, 's2', 0, T0 + 1), 's2')
    core.on_check_result(act.CheckResult('s2', check.check_id + 100, True), T0 + 2)
    core.on_check_result(act.CheckResult('s2', check.check_id - 1, False), T0 + 2)
    assert core.instances['s2'].state == IS.CHECKING
    assert core.take_actions() == []
    # results for an instance that is not CHECKING, or unknown
    core.on_check_result(act.CheckResult('s3', check.check_id, True), T0 + 2)
    core.on_check_result(act.CheckResult('nobody', check.check_id, True), T0 + 2)
    assert core.instances['s3'].state == IS.UNKNOWN
    core.on_check_result(act.CheckResult('s2', check.check_id, True), T0 + 3)
    assert core.instances['s2'].state == IS.RUNNING
    # the same result twice: the second one is ignored
    core.on_check_result(act.CheckResult('s2', check.check_id, False), T0 + 3)
    assert core.instances['s2'].state == IS.RUNNING


def test_redeploy_mark_on_late_instance():
    core = make_core('s1', synchro_timeout=5)
    start(core)
    join(core, 's2', T0 + 1)
    core.on_local_tick(T0 + 6)
    assert core.fsm_state == S.OPERATION and core.instances['s3'].state == IS.SILENT
    core.take_actions()
    actions = join(core, 's3', T0 + 8)
    assert core.instances['s3'].state == IS.RUNNING
    assert published_states(actions) == ['DEPLOYMENT', 'OPERATION']
    assert core.redeploy_mark is False
    assert core.fsm_state == S.OPERATION


def test_redeploy_mark_waits_for_idle_operation():
    core = make_core('s1', synchro_timeout=5, klass=BusyCore)
    start(core)
    join(core, 's2', T0 + 1)
    core.on_local_tick(T0 + 6)
    assert core.fsm_state == S.OPERATION
    core.starter_busy = True
    join(core, 's3', T0 + 8)
    assert core.redeploy_mark is True
    assert core.fsm_state == S.OPERATION
    core.starter_busy = False
    core.on_local_tick(T0 + 11)
    assert core.fsm_state == S.OPERATION
    assert core.redeploy_mark is False
    assert 'OPERATION -> DEPLOYMENT' in ' '.join(core.logger.levels('info'))


def test_no_redeploy_mark_on_slave():
    core = make_core('s2', synchro_timeout=5)
    start(core)
    join(core, 's1', T0 + 1, master='', fsm_state=S.INITIALIZATION)
    core.on_local_tick(T0 + 6)
    core.on_message('s1', IM.STATE, state_body(S.OPERATION), T0 + 7)
    assert core.fsm_state == S.OPERATION and core.master == 's1'
    core.take_actions()
    actions = join(core, 's3', T0 + 8, master='s1', fsm_state=S.INITIALIZATION)
    assert core.redeploy_mark is False
    assert published_states(actions) == []
    assert core.fsm_state == S.OPERATION


# ---------------------------------------------------------------------------------------------------------------------
# Split brain
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('s3_master', ['s1', 's3', ''])
def test_split_brain_on_master(s3_master):
    core = make_core('s1', synchro_timeout=5)
    start(core)
    join(core, 's2', T0 + 1)
    core.on_local_tick(T0 + 6)
    assert core.fsm_state == S.OPERATION and core.master == 's1'
    assert core.instances['s3'].state == IS.SILENT
    core.take_actions()
    # s3 worked alone and elected itself
    actions = join(core, 's3', T0 + 8, master='s3', fsm_state=S.OPERATION)
    assert any('s3 reports Master s3 while the local Master is s1' in msg for msg in core.logger.levels('warn'))
    assert core.fsm_state == S.INITIALIZATION
    assert core.master == ''
    assert published_states(actions) == ['INITIALIZATION']
    # every working instance is questioned again, the local one first
    assert [x.identifier for x in checks(actions)][-3:] == ['s1', 's2', 's3']
    assert states(core) == {'s1': IS.CHECKING, 's2': IS.CHECKING, 's3': IS.CHECKING}
    # whatever s3 reports now (s1 adopted meanwhile, still s3, or in INITIALIZATION), the fleet converges on s1
    actions = answer_all(core, actions, T0 + 9,
                         results={'s2': {'master': 's1', 'fsm_state': S.OPERATION.value},
                                  's3': {'master': s3_master, 'fsm_state': S.INITIALIZATION.value}})
    assert states(core) == {'s1': IS.RUNNING, 's2': IS.RUNNING, 's3': IS.RUNNING}
    assert core.master == 's1' and core.is_master
    assert core.fsm_state == S.OPERATION
    assert published_states(actions) == ['DEPLOYMENT', 'OPERATION']


def test_split_brain_on_master_reelection():
    core = operating_master()
    core.take_actions()
    core.on_peer_down('s3', T0 + 10)
    core.take_actions()
    actions = join(core, 's3', T0 + 11, master='s3', fsm_state=S.OPERATION)
    assert core.fsm_state == S.INITIALIZATION
    # both peers now agree on s3
    actions = answer_all(core, actions, T0 + 12, results={'s2': {'master': 's3', 'fsm_state': S.OPERATION.value},
                                                          's3': {'master': 's3', 'fsm_state': S.OPERATION.value}})
    assert core.master == 's3' and not core.is_master
    assert core.fsm_state == S.OPERATION


def test_split_brain_on_slave():
    core = operating_slave('s2')
    core.on_peer_down('s3', T0 + 10)
    core.take_actions()
    actions = join(core, 's3', T0 + 11, master='s3', fsm_state=S.OPERATION)
    assert core.fsm_state == S.INITIALIZATION
    assert core.master == ''
    assert [x.identifier for x in checks(actions)][-3:] == ['s2', 's1', 's3']


def test_split_brain_during_initialization():
    core = make_core('s1', ['s1', 's2', 's3', 's4'])
    start(core)
    join(core, 's2', T0 + 1, master='s3', fsm_state=S.OPERATION)
    assert core.master == 's3'
    join(core, 's4', T0 + 1, master='s4', fsm_state=S.OPERATION)
    assert core.master == ''  # conflicting reports: the adopted Master is forgotten
    assert core.fsm_state == S.INITIALIZATION
    assert core.instances['s4'].state == IS.RUNNING
    join(core, 's3', T0 + 2, master='s3', fsm_state=S.OPERATION)
    # s3 reported again once the adopted Master was forgotten: adopted
    assert core.master == 's3'
    assert core.fsm_state == S.OPERATION


def test_split_brain_refused_on_master_in_restarting():
    core = operating_master(klass=BusyCore)
    core.on_peer_down('s3', T0 + 10)
    core.stopper_busy = True
    core.request_restart(T0 + 11)
    assert core.fsm_state == S.RESTARTING
    core.take_actions()
    join(core, 's3', T0 + 12, master='s3', fsm_state=S.OPERATION)
    assert any('RESTARTING -> INITIALIZATION' in msg for msg in core.logger.levels('critical'))
    assert core.fsm_state == S.RESTARTING
    assert core.master == 's1'


# ---------------------------------------------------------------------------------------------------------------------
# Restart and shutdown on the Master
# ---------------------------------------------------------------------------------------------------------------------

def test_master_restart():
    core = operating_master(klass=BusyCore)
    aborted = core.aborted
    core.take_actions()
    core.request_restart(T0 + 10)
    actions = core.take_actions()
    assert published_states(actions) == ['RESTARTING', 'RESTART']
    assert core.fsm_state == S.RESTART
    assert len(of_type(actions, act.RestartSupervisor)) == 1
    assert of_type(actions, act.ShutdownSupervisor) == []
    assert of_type(actions, act.ForwardToMaster) == []
    assert core.aborted == aborted + 1


def test_master_shutdown():
    core = operating_master()
    core.take_actions()
    core.request_shutdown(T0 + 10)
    actions = core.take_actions()
    assert published_states(actions) == ['SHUTTING_DOWN', 'SHUTDOWN']
    assert core.fsm_state == S.SHUTDOWN
    assert len(of_type(actions, act.ShutdownSupervisor)) == 1
    assert of_type(actions, act.RestartSupervisor) == []


def test_master_restart_waits_for_stopper():
    core = operating_master(klass=BusyCore)
    core.take_actions()
    core.stopper_busy = True
    core.request_restart(T0 + 10)
    actions = core.take_actions()
    assert core.fsm_state == S.RESTARTING
    assert of_type(actions, act.RestartSupervisor) == []
    # the Stopper activity is published with the state
    assert publishes(actions, IM.STATE)[-1] == state_body(S.RESTARTING, stopping=True)
    core.on_local_tick(T0 + 12)
    assert core.fsm_state == S.RESTARTING
    core.stopper_busy = False
    core.on_local_tick(T0 + 15)
    actions = core.take_actions()
    assert core.fsm_state == S.RESTART
    assert len(of_type(actions, act.RestartSupervisor)) == 1
    assert publishes(actions, IM.STATE) == [state_body(S.RESTART)]


def test_master_refuses_invalid_transitions():
    core = operating_master(klass=BusyCore)
    core.stopper_busy = True
    core.request_shutdown(T0 + 10)
    assert core.fsm_state == S.SHUTTING_DOWN
    core.take_actions()
    core.request_restart(T0 + 11)
    actions = core.take_actions()
    assert core.fsm_state == S.SHUTTING_DOWN
    assert any('SHUTTING_DOWN -> RESTARTING' in msg for msg in core.logger.levels('critical'))
    assert published_states(actions) == []
    assert of_type(actions, act.RestartSupervisor) == [] and of_type(actions, act.ForwardToMaster) == []
    core.stopper_busy = False
    core.on_local_tick(T0 + 15)
    assert core.fsm_state == S.SHUTDOWN
    # nothing leaves a final state
    core.request_restart(T0 + 16)
    core.request_shutdown(T0 + 16)
    assert core.fsm_state == S.SHUTDOWN
    assert any('SHUTDOWN -> RESTARTING' in msg for msg in core.logger.levels('critical'))
    assert any('SHUTDOWN -> SHUTTING_DOWN' in msg for msg in core.logger.levels('critical'))
    assert of_type(core.take_actions(), act.RestartSupervisor) == []


def test_master_in_restart_ignores_new_requests():
    core = operating_master()
    core.request_restart(T0 + 10)
    core.take_actions()
    core.request_shutdown(T0 + 11)
    assert core.fsm_state == S.RESTART
    assert of_type(core.take_actions(), act.ShutdownSupervisor) == []
    assert any('RESTART -> SHUTTING_DOWN' in msg for msg in core.logger.levels('critical'))


def test_master_conciliation_and_deployment_states():
    """ Master transitions driven by the job engines and conflicts (plugged-in hooks). """

    class ConflictCore(BusyCore):
        conflicts = False

        def _conflicts(self) -> bool:
            return self.conflicts

    core = make_core('s1', ['s1'], klass=ConflictCore)
    core.starter_busy = True
    start(core)
    assert core.fsm_state == S.DEPLOYMENT  # Starter busy
    core.starter_busy = False
    core.on_local_tick(T0 + 1)
    assert core.fsm_state == S.OPERATION
    core.conflicts = True
    core.on_local_tick(T0 + 2)
    assert core.fsm_state == S.CONCILIATION
    core.stopper_busy = True
    core.conflicts = False
    core.on_local_tick(T0 + 3)
    assert core.fsm_state == S.CONCILIATION
    core.stopper_busy = False
    core.take_actions()
    core.on_local_tick(T0 + 4)
    assert core.fsm_state == S.OPERATION
    assert published_states(core.take_actions()) == ['OPERATION']


# ---------------------------------------------------------------------------------------------------------------------
# Publications
# ---------------------------------------------------------------------------------------------------------------------

def test_tick_published_on_each_local_tick():
    core = make_core('s1', ['s1'])
    start(core)
    core.take_actions()
    for counter in range(4):
        now = T0 + 5 * counter + 0.25
        core.on_local_tick(now)
        actions = core.take_actions()
        # the local state rides along with every tick
        assert publishes(actions, IM.TICK) == [{'when': now, 'sequence_counter': counter,
                                                **state_body(S.OPERATION)}]
        assert of_type(actions, act.Publish)[0].code == IM.TICK


def test_state_published_only_on_change():
    core = operating_master(klass=BusyCore)
    core.take_actions()
    for idx in range(3):
        core.on_local_tick(T0 + 10 + idx)
        remote_tick(core, 's2', idx, T0 + 10 + idx)
        remote_tick(core, 's3', idx, T0 + 10 + idx)
    core.on_message('s2', IM.STATE, state_body(S.OPERATION), T0 + 13)
    assert published_states(core.take_actions()) == []
    # the local Starter becomes busy: published at the end of the next event, once
    core.starter_busy = True
    core.on_local_tick(T0 + 15)
    assert publishes(core.take_actions(), IM.STATE) == [state_body(S.OPERATION, starting=True)]
    core.on_local_tick(T0 + 20)
    assert publishes(core.take_actions(), IM.STATE) == []
    core.starter_busy = False
    core.on_message('s2', IM.HEARTBEAT, {}, T0 + 21)
    assert publishes(core.take_actions(), IM.STATE) == [state_body(S.OPERATION)]
    assert core.instance_info('s1')['starting_jobs'] is False


def test_state_body_content():
    core = make_core('s1', ['s1'])
    actions = start(core)
    bodies = publishes(actions, IM.STATE)
    assert bodies == [state_body(S.INITIALIZATION), state_body(S.DEPLOYMENT), state_body(S.OPERATION)]
    for body in bodies:
        assert list(body) == ['fsm_statecode', 'fsm_statename', 'starting_jobs', 'stopping_jobs']


def test_local_process_event_published_and_applied():
    core = make_core('s1', ['s1'])
    start(core, process_list=[process('g', 'p', 0)])
    core.take_actions()
    payload = {'name': 'p', 'group': 'g', 'state': 20, 'now': T0, 'pid': 12, 'expected': True, 'spawnerr': '',
               'extra_args': '', 'disabled': False}
    core.on_local_process_event(payload, T0 + 1)
    actions = core.take_actions()
    assert publishes(actions, IM.PROCESS) == [payload]
    assert process_infos(core, 's1')['g:p']['state'] == 20
    assert process_infos(core, 's1')['g:p']['pid'] == 12


def test_remote_process_event_only_from_running_instance():
    core = operating_master(processes={'s2': [process('g', 'p', 0)], 's3': [process('g', 'p', 0)]})
    core.on_message('s2', IM.PROCESS, {'name': 'p', 'group': 'g', 'state': 10, 'now': T0 + 10}, T0 + 10)
    assert process_infos(core, 's2')['g:p']['state'] == 10
    core.on_peer_down('s3', T0 + 10)
    core.on_message('s3', IM.PROCESS, {'name': 'p', 'group': 'g', 'state': 10, 'now': T0 + 10}, T0 + 10)
    assert process_infos(core, 's3')['g:p']['state'] == 0


# ---------------------------------------------------------------------------------------------------------------------
# Invalid messages
# ---------------------------------------------------------------------------------------------------------------------

INVALID_TICKS = [None, [], 'tick', 12, {}, {'when': T0}, {'sequence_counter': 1},
                 {'when': 'later', 'sequence_counter': 1}, {'when': T0, 'sequence_counter': 'one'},
                 {'when': T0, 'sequence_counter': None}, {'when': [T0], 'sequence_counter': 1},
                 {'when': T0, 'sequence_counter': {'n': 1}}, {'when': T0, 'sequence_counter': float('nan')},
                 {'when': T0, 'sequence_counter': float('inf')}, {'when': float('nan'), 'sequence_counter': 1},
                 {'when': float('inf'), 'sequence_counter': 1}, {'when': 10 ** 400, 'sequence_counter': 1}]


@pytest.mark.parametrize('body', INVALID_TICKS)
def test_invalid_tick_bodies(body):
    core = operating_master()
    remote_tick(core, 's2', 3, T0 + 10)
    before = core.instance_info('s2')
    core.on_message('s2', IM.TICK, body, T0 + 11)
    assert any('invalid message code=1 from s2' in msg for msg in core.logger.levels('error'))
    assert core.instance_info('s2') == before
    assert core.fsm_state == S.OPERATION
    # and from an instance not yet known alive
    core2 = make_core('s1')
    start(core2)
    core2.on_message('s3', IM.TICK, body, T0 + 11)
    assert core2.instances['s3'].state == IS.UNKNOWN
    assert checks(core2.take_actions()) == []
    core2.all_instances_info()


INVALID_STATES = [None, [], 'state', {}, {'fsm_statecode': 3}, {'fsm_statecode': 'x', 'starting_jobs': False,
                                                                  'stopping_jobs': False},
                  {'fsm_statecode': None, 'starting_jobs': False, 'stopping_jobs': False},
                  {'fsm_statecode': 3, 'stopping_jobs': False}, {'fsm_statecode': 3, 'starting_jobs': False},
                  {'fsm_statecode': float('inf'), 'starting_jobs': False, 'stopping_jobs': False}]


@pytest.mark.parametrize('body', INVALID_STATES)
def test_invalid_state_bodies(body):
    core = operating_slave()
    core.on_message('s1', IM.STATE, body, T0 + 10)
    assert any('invalid message code=7 from s1' in msg for msg in core.logger.levels('error'))
    assert core.instances['s1'].fsm_state == S.OPERATION
    assert core.fsm_state == S.OPERATION


def test_state_with_unknown_state_code_ignored():
    core = operating_slave()
    core.on_message('s1', IM.STATE, {'fsm_statecode': 42, 'fsm_statename': 'WHAT', 'starting_jobs': True,
                                     'stopping_jobs': False}, T0 + 10)
    assert core.instances['s1'].fsm_state == S.OPERATION
    assert core.instances['s1'].starting_jobs is False
    assert core.fsm_state == S.OPERATION


@pytest.mark.parametrize('body', [None, [], 'process', {}, {'name': 'p'}, {'group': 'g'}])
def test_invalid_process_bodies(body):
    core = operating_master()
    core.on_message('s2', IM.PROCESS, body, T0 + 10)
    assert any('invalid message code=2 from s2' in msg for msg in core.logger.levels('error'))
    assert process_infos(core, 's2') == {}


def test_unknown_message_code():
    core = operating_master()
    core.on_message('s2', 99, {'any': 'thing'}, T0 + 10)
    assert any('unknown message code=99 from s2' in msg for msg in core.logger.levels('warn'))
    assert core.fsm_state == S.OPERATION


@pytest.mark.parametrize('code', [IM.HEARTBEAT, IM.STATISTICS])
def test_other_message_codes_accepted(code):
    core = operating_master()
    core.on_message('s2', code, {'whatever': [1, 2]}, T0 + 10)
    assert core.logger.levels('error') == [] and core.logger.levels('warn') == []


@pytest.mark.parametrize('sender', ['nobody', 's1', ''])
def test_messages_from_unexpected_senders_ignored(sender):
    core = make_core('s1')
    start(core)
    core.on_message(sender, IM.TICK, tick_body(0, T0), T0)
    core.on_message(sender, IM.STATE, state_body(S.OPERATION), T0)
    assert checks(core.take_actions()) == []
    assert any(f'unexpected sender {sender!r}' in msg for msg in core.logger.levels('error'))
    assert core.fsm_state == S.INITIALIZATION
    assert core.local.sequence_counter == 0
    assert core.local.fsm_state == S.INITIALIZATION


def test_state_from_unknown_instance_state_ignored():
    core = make_core('s1')
    start(core)
    core.on_message('s2', IM.STATE, state_body(S.OPERATION), T0)
    assert core.instances['s2'].fsm_state == S.OFF


# ---------------------------------------------------------------------------------------------------------------------
# A simulated fleet
# ---------------------------------------------------------------------------------------------------------------------

class Network:
    """ Several cores wired together: Publish actions reach the other cores, handshakes are answered from the
    target core's state, IsolateInstances cuts the links for good. """

    def __init__(self, identifiers: Sequence[str] = IDS, **kwargs) -> None:
        self.identifiers = list(identifiers)
        self.kwargs = kwargs
        self.cores: Dict[str, SupvisorsCore] = {}
        self.up: set = set()
        self.cut: Dict[str, set] = {}
        self.executed: Dict[str, List[Any]] = {x: [] for x in identifiers}
        self.processes: Dict[str, List[Dict[str, Any]]] = {
            x: [process(x, 'worker'), process('common', f'p_{x}', 0)] for x in identifiers}
        self.now = T0
        for identifier in identifiers:
            self.boot(identifier)

    def boot(self, identifier: str) -> SupvisorsCore:
        """ Start (or restart) the supervisord of identifier. """
        core = make_core(identifier, self.identifiers, **self.kwargs)
        self.cores[identifier] = core
        self.up.add(identifier)
        self.cut[identifier] = set()
        core.start(self.now)
        self.pump()
        return core

    def kill(self, identifier: str) -> None:
        """ The supervisord of identifier is gone: the others' links break and connections are refused. """
        self.up.discard(identifier)
        for other in sorted(self.up):
            if identifier not in self.cut[other]:
                self.cores[other].on_peer_down(identifier, self.now)
        self.pump()

    def handshake(self, requester: str, check: act.CheckInstance) -> act.CheckResult:
        core = self.cores[requester]
        if check.identifier == requester:
            return act.CheckResult(requester, check.check_id, True, core.master,
                                   process_list=[dict(x) for x in self.processes[requester]])
        if check.identifier not in self.up:
            return act.CheckResult(check.identifier, check.check_id, None)
        target = self.cores[check.identifier]
        authorized = not target.instances[requester].in_isolation
        local = target.local
        return act.CheckResult(check.identifier, check.check_id, authorized, target.master, local.fsm_state.value,
                               local.starting_jobs, local.stopping_jobs,
                               [dict(x, **dict(zip(('group', 'name'), split_namespec(namespec))))
                                for namespec, x in process_infos(target, target.local_identifier).items()]
                               if authorized else None)

    def pump(self) -> None:
        queue: deque = deque()

        def collect(identifier: str) -> None:
            queue.extend((identifier, action) for action in self.cores[identifier].take_actions())

        for identifier in sorted(self.up):
            collect(identifier)
        while queue:
            sender, action = queue.popleft()
            if sender not in self.up:
                continue
            if isinstance(action, act.Publish):
                for receiver in sorted(self.up - {sender}):
                    if sender not in self.cut[receiver]:
                        self.cores[receiver].on_message(sender, action.code, action.body, self.now)
                        collect(receiver)
            elif isinstance(action, act.CheckInstance):
                self.cores[sender].on_check_result(self.handshake(sender, action), self.now)
                collect(sender)
            elif isinstance(action, act.IsolateInstances):
                self.cut[sender].update(action.identifiers)
            elif isinstance(action, (act.StartProcess, act.StopProcess)):
                # the target supervisord carries the request out at once
                self.executed[sender].append(action)
                if action.identifier in self.up:
                    group, name = split_namespec(action.namespec)
                    states = (10, 20) if isinstance(action, act.StartProcess) else (40, 0)
                    for state in states:
                        body = {'name': name, 'group': group, 'state': state, 'now': self.now, 'pid': 0,
                                'expected': True, 'spawnerr': '', 'extra_args': '', 'disabled': False}
                        self.cores[action.identifier].on_local_process_event(body, self.now)
                        collect(action.identifier)
            elif not isinstance(action, act.Notify):
                self.executed[sender].append(action)

    def tick(self, count: int = 1) -> None:
        """ Every running supervisord ticks (5 s), one after the other. """
        for _ in range(count):
            self.now += 5
            for identifier in sorted(self.up):
                self.cores[identifier].on_local_tick(self.now)
                self.pump()

    def fsm(self) -> Dict[str, SupvisorsStates]:
        return {x: self.cores[x].fsm_state for x in sorted(self.up)}

    def masters(self) -> Dict[str, str]:
        return {x: self.cores[x].master for x in sorted(self.up)}

    def view(self, identifier: str) -> Dict[str, IS]:
        return states(self.cores[identifier])


def test_fleet_reaches_operation():
    net = Network()
    assert net.fsm() == {x: S.INITIALIZATION for x in IDS}
    net.tick()
    assert net.fsm() == {x: S.OPERATION for x in IDS}
    assert net.masters() == {x: 's1' for x in IDS}
    for identifier in IDS:
        assert net.view(identifier) == {x: IS.RUNNING for x in IDS}
        infos = net.cores[identifier].all_instances_info()
        assert [info['fsm_statename'] for info in infos] == ['OPERATION'] * 3
        # every instance knows the processes of every other one
        for other in IDS:
            assert f'{other}:worker' in process_infos(net.cores[identifier], other)
    # stable
    net.tick(5)
    assert net.fsm() == {x: S.OPERATION for x in IDS}
    assert all(not core.logger.levels('critical') and not core.logger.levels('error')
               for core in net.cores.values())


def test_fleet_with_core_identifiers():
    net = Network(core_identifiers=['s3', 's2'])
    net.tick()
    assert net.fsm() == {x: S.OPERATION for x in IDS}
    assert net.masters() == {x: 's2' for x in IDS}


def test_fleet_loses_a_slave():
    net = Network()
    net.tick()
    net.kill('s3')
    assert net.fsm() == {'s1': S.OPERATION, 's2': S.OPERATION}
    assert net.masters() == {'s1': 's1', 's2': 's1'}
    for identifier in ('s1', 's2'):
        assert net.view(identifier)['s3'] == IS.SILENT
        info = process_infos(net.cores[identifier], 's3')['s3:worker']
        assert info['state'] == 200 and info['spawnerr'] == 'Supervisor s3 lost'
    net.tick(5)
    assert net.fsm() == {'s1': S.OPERATION, 's2': S.OPERATION}
    # s3 comes back: it adopts the Master and the Master redeploys once
    net.boot('s3')
    net.tick()
    assert net.fsm() == {x: S.OPERATION for x in IDS}
    assert net.masters() == {x: 's1' for x in IDS}
    assert net.view('s1') == {x: IS.RUNNING for x in IDS}
    assert process_infos(net.cores['s1'], 's3')['s3:worker']['state'] == 20
    assert 'OPERATION -> DEPLOYMENT' in ' '.join(net.cores['s1'].logger.levels('info'))


def test_fleet_loses_the_master():
    net = Network()
    net.tick()
    net.kill('s1')
    assert net.fsm() == {'s2': S.OPERATION, 's3': S.OPERATION}
    assert net.masters() == {'s2': 's2', 's3': 's2'}
    for identifier in ('s2', 's3'):
        assert net.view(identifier) == {'s1': IS.SILENT, 's2': IS.RUNNING, 's3': IS.RUNNING}
        assert any('-> INITIALIZATION' in msg for msg in net.cores[identifier].logger.levels('info'))
    net.tick(3)
    assert net.fsm() == {'s2': S.OPERATION, 's3': S.OPERATION}


def test_fleet_silent_master_detected_by_inactivity():
    net = Network()
    net.tick(2)
    # s1 hangs: no more messages from it, no peer down either
    net.up.discard('s1')
    net.tick()
    assert net.masters() == {'s2': 's1', 's3': 's1'}
    net.tick()
    assert net.masters() == {'s2': 's2', 's3': 's2'}
    assert net.fsm() == {'s2': S.OPERATION, 's3': S.OPERATION}
    assert net.view('s2')['s1'] == IS.SILENT


def test_fleet_isolation_with_auto_fence():
    net = Network(auto_fence=True)
    net.tick()
    assert net.fsm() == {x: S.OPERATION for x in IDS}
    net.kill('s3')
    assert net.view('s1')['s3'] == IS.ISOLATED and net.view('s2')['s3'] == IS.ISOLATED
    assert net.cut['s1'] == {'s3'} and net.cut['s2'] == {'s3'}
    # s3 restarted: it still hears the others, learns it is isolated and isolates them in return
    net.boot('s3')
    net.tick()
    assert net.view('s3') == {'s1': IS.ISOLATED, 's2': IS.ISOLATED, 's3': IS.RUNNING}
    assert net.fsm() == {x: S.OPERATION for x in IDS}
    assert net.masters() == {'s1': 's1', 's2': 's1', 's3': 's3'}
    assert net.view('s1')['s3'] == IS.ISOLATED


def test_fleet_late_instance():
    net = Network()
    net.kill('s2')  # never started in fact: UNKNOWN everywhere
    assert net.view('s1')['s2'] == IS.UNKNOWN
    net.tick(3)
    assert net.fsm() == {'s1': S.INITIALIZATION, 's3': S.INITIALIZATION}
    net.tick()  # synchro_timeout elapsed
    assert net.fsm() == {'s1': S.OPERATION, 's3': S.OPERATION}
    assert net.view('s1')['s2'] == IS.SILENT
    net.boot('s2')
    net.tick()
    assert net.fsm() == {x: S.OPERATION for x in IDS}
    assert net.masters() == {x: 's1' for x in IDS}


def test_fleet_restart():
    net = Network()
    net.tick()
    net.cores['s2'].request_restart(net.now)
    net.pump()
    assert of_type(net.executed['s2'], act.ForwardToMaster) == [act.ForwardToMaster('s1', 'restart')]
    net.cores['s1'].request_restart(net.now)
    net.pump()
    assert net.fsm() == {x: S.RESTART for x in IDS}
    for identifier in IDS:
        assert act.RestartSupervisor() in net.executed[identifier]


# ---------------------------------------------------------------------------------------------------------------------
# Handshake over the bus
# ---------------------------------------------------------------------------------------------------------------------

def test_check_answer_tells_the_master_how_the_requester_is_seen_and_the_local_state():
    core = make_core('s1')
    start(core)
    answer = core.check_answer('s2', 12)
    assert answer == {'check_id': 12, 'master': '', 'statecode': IS.UNKNOWN.value,
                      'fsm_statecode': S.INITIALIZATION.value, 'starting_jobs': False, 'stopping_jobs': False}
    assert core.check_answer('unknown', 1)['statecode'] == IS.UNKNOWN.value


@pytest.mark.parametrize('seen, expected', [(IS.RUNNING, IS.RUNNING), (IS.UNKNOWN, IS.RUNNING),
                                            (IS.ISOLATED, IS.ISOLATED)])
def test_check_answer_message_is_the_handshake_result(seen, expected):
    core = make_core('s1', ['s1', 's2'])
    start(core)
    core.on_message('s2', IM.TICK, tick_body(0, T0), T0)
    check = check_for(core.take_actions(), 's2')
    body = {'check_id': check.check_id, 'master': '', 'statecode': seen.value,
            'fsm_statecode': S.INITIALIZATION.value, 'starting_jobs': False, 'stopping_jobs': False,
            'process_list': [process('g', 'p')]}
    core.on_message('s2', IM.CHECK_ANSWER, dict(body, check_id=check.check_id + 100), T0)  # obsolete: ignored
    assert core.instances['s2'].state == IS.CHECKING
    core.on_message('s2', IM.CHECK_ANSWER, body, T0)
    assert core.instances['s2'].state == expected
    if expected == IS.RUNNING:
        assert 'g:p' in process_infos(core, 's2')
        assert core.fsm_state == S.OPERATION  # every instance known: synchronisation over


def test_lost_check_answer_is_asked_again_at_a_later_tick():
    core = make_core('s1', ['s1', 's2'])
    start(core)
    counter = 0
    core.on_message('s2', IM.TICK, tick_body(counter, T0), T0)
    first = check_for(core.take_actions(), 's2')
    for idx in range(1, 4):
        core.on_local_tick(T0 + 5 * idx)
        core.on_message('s2', IM.TICK, tick_body(idx, T0 + 5 * idx), T0 + 5 * idx)
    again = checks(core.take_actions())
    assert [x.identifier for x in again] == ['s2'] and again[0].check_id > first.check_id
    assert core.instances['s2'].state == IS.CHECKING
