"""Partition safety (option ``partition_safety``): only an instance that holds a quorum starts processes.

A quorum is strictly more than half of the instances of ``supvisors_list`` RUNNING as seen locally (the local
instance included), or every core identifier RUNNING when ``core_identifiers`` is set. Without quorum an instance
keeps its running processes and still stops, but starts nothing: no DEPLOYMENT start, no restart of the failure
handler, no start request (XML-RPC answers BAD_SUPVISORS_STATE). With the option off, 0.15 lets each side of a
partition restart what it lost.

The cores are driven as in test_jobs: process events of remote instances come through ``on_message``, those of
the local instance through ``on_local_process_event``; a partition is a set of instances that stop ticking.
"""

from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Sequence

import pytest
from supervisor.xmlrpc import RPCError

from supvisors.core import actions as act
from supvisors.core.engine import SupvisorsCore
from supvisors.core.instances import InstanceStatus
from supvisors.model.context import Context
from supvisors.rpcinterface import RPCInterface
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.tests.unit.test_core_engine import join, make_core, start
from supvisors.tests.unit.test_jobs import (Fleet, Resolver, app, everywhere, prog, published_states, starts,
                                            stops, with_state)
from supvisors.ttypes import (ConciliationStrategies, InternalMessages, ProcessStates, RunningFailureStrategies,
                              SupvisorsFaults, SupvisorsInstanceStates, SupvisorsStates)

S = SupvisorsStates
IS = SupvisorsInstanceStates
IM = InternalMessages
PS = ProcessStates
RFS = RunningFailureStrategies
CS = ConciliationStrategies

T0 = 1000.0
IDS = ('s1', 's2', 's3')
NO_QUORUM_1_OF_3 = 'no quorum (1 of 3 instances RUNNING, 2 needed)'
STATE_OPERATION = {'fsm_statecode': S.OPERATION.value, 'fsm_statename': 'OPERATION', 'starting_jobs': False,
                   'stopping_jobs': False}


class PartitionFleet(Fleet):
    """ The Fleet of test_jobs with a chosen local instance, the partition options, and the instances that join at
    start-up (the others are never heard of). Built here rather than by Fleet.__init__, which has none of these. """

    def __init__(self, applications=None, programs=None, processes: Optional[Dict[str, List[Dict[str, Any]]]] = None,
                 identifiers: Sequence[str] = IDS, local: str = 's1', partition_safety: bool = True,
                 core_identifiers: Sequence[str] = (), conciliation: CS = CS.USER,
                 joined: Optional[Sequence[str]] = None):
        self.logger = FakeLogger()
        self.resolver = Resolver(applications, programs)
        instances = [InstanceStatus(x, f'host-{x}', 7000 + idx, f'node-{x}') for idx, x in enumerate(identifiers)]
        self.local = local
        self.core = SupvisorsCore(local, instances, list(core_identifiers), 15, 2, False, self.logger,
                                  context=Context(self.resolver, self.logger), conciliation_strategy=conciliation,
                                  partition_safety=partition_safety)
        self.now = T0
        self.counters = {x: 0 for x in identifiers}
        self.lists = processes or {}
        self.core.start(self.now)
        self.deployment: List[Any] = []
        self._answer(local, self.lists.get(local, []))
        for identifier in ([x for x in identifiers if x != local] if joined is None else joined):
            self.deployment = self.join(identifier)

    def join(self, identifier: str, master: str = '', fsm_state: S = S.INITIALIZATION,
             process_list: Optional[List[Dict[str, Any]]] = None) -> List[Any]:
        """ A tick of the instance, then its handshake answer (the Master it knows, its processes). """
        self.now += 0.1
        self.counters[identifier] += 1
        self.core.on_message(identifier, IM.TICK, {'when': self.now, 'sequence_counter': self.counters[identifier]},
                             self.now)
        return self.answer(self.take(), {identifier: dict(master=master, fsm_state=fsm_state,
                                                          process_list=process_list)})

    def answer(self, actions: List[Any], results: Optional[Dict[str, Dict[str, Any]]] = None) -> List[Any]:
        """ Answer the handshakes of the actions, with the known process lists unless told otherwise. """
        done = list(actions)
        for check in [a for a in actions if isinstance(a, act.CheckInstance)]:
            result = dict((results or {}).get(check.identifier, {}))
            master = result.get('master', '')
            fsm_state = result.get('fsm_state', S.INITIALIZATION)
            process_list = result.get('process_list')
            if process_list is None:
                process_list = self.lists.get(check.identifier, [])
            self.core.on_check_result(act.CheckResult(check.identifier, check.check_id, True, master,
                                                      fsm_state.value, False, False, process_list), self.now)
            done += self.answer(self.take())
        return done

    def partition(self, lost: Sequence[str]) -> List[Any]:
        """ The lost instances stop ticking: they are invalidated together, after inactivity_ticks (a loss of the
        Master makes the local instance check itself again: the check is answered). """
        actions = self.answer(self.tick(3, silent=lost))
        assert all(self.core.instances[x].state == IS.SILENT for x in lost)
        return actions

    def warnings(self, text: str) -> int:
        return self.logger.count('warn', text)


def rpc(fleet: Fleet) -> RPCInterface:
    """ The supvisors XML-RPC namespace on the core of the fleet (calls run at the fleet's date). """
    runtime = SimpleNamespace(core=fleet.core, run=lambda method, *args: method(*args, fleet.now), supervisord=None)
    return RPCInterface(runtime)


# ---------------------------------------------------------------------------------------------------------------------
# Quorum computation
# ---------------------------------------------------------------------------------------------------------------------


def quorum_core(identifiers: Sequence[str], running: Sequence[str], core_identifiers: Sequence[str] = ()):
    """ A core of the identifiers where s1 (local) and the running instances went through their handshake. """
    core = make_core('s1', identifiers, core_identifiers)
    core.partition_safety = True
    start(core)
    for idx, identifier in enumerate(running):
        if identifier != 's1':
            join(core, identifier, T0 + 1 + idx)
    return core


@pytest.mark.parametrize('identifiers, running, expected', [
    (IDS, ['s1'], False),
    (IDS, ['s1', 's2'], True),
    (IDS, ['s1', 's2', 's3'], True),
    # even fleet: exactly half is no quorum, on either side of a 2|2 partition
    (('s1', 's2', 's3', 's4'), ['s1', 's2'], False),
    (('s1', 's2', 's3', 's4'), ['s1', 's2', 's3'], True),
    (('s1', 's2', 's3', 's4', 's5'), ['s1', 's4', 's5'], True),
    (('s1', 's2', 's3', 's4', 's5'), ['s1', 's5'], False),
])
def test_quorum_is_a_strict_majority_of_supvisors_list(identifiers, running, expected):
    core = quorum_core(identifiers, running)
    assert core.has_quorum() is expected
    assert core.starts_allowed() is expected
    needed = len(identifiers) // 2 + 1
    assert core.quorum_text() == \
        f'{"quorum" if expected else "no quorum"} ({len(running)} of {len(identifiers)} instances RUNNING,' \
        f' {needed} needed)'


@pytest.mark.parametrize('running, expected', [
    (['s1', 's2'], True),  # the half that holds every core identifier wins the tie of an even fleet
    (['s1', 's3'], False),
    (['s1'], False),
    (['s1', 's3', 's4'], True),  # a majority without every core identifier
])
def test_quorum_with_core_identifiers(running, expected):
    core = quorum_core(('s1', 's2', 's3', 's4'), running, core_identifiers=['s1', 's2'])
    assert core.has_quorum() is expected
    missing = [x for x in ('s1', 's2') if x not in running]
    detail = f'or every core identifier (missing: {", ".join(missing)})' if missing \
        else ', every core identifier RUNNING'
    assert detail in core.quorum_text()


def test_quorum_counts_lost_and_isolated_instances_in_the_fleet_size():
    core = quorum_core(IDS, IDS)
    core.on_peer_down('s2', T0 + 10)
    assert core.has_quorum()
    core.on_peer_down('s3', T0 + 11)
    assert core.instances['s3'].state == IS.SILENT
    assert not core.has_quorum()
    # the quorum is counted on supvisors_list, not on the instances still known
    core = make_core('s1', IDS, auto_fence=True)
    core.partition_safety = True
    start(core)
    join(core, 's2', T0 + 1)
    join(core, 's3', T0 + 2)
    core.on_peer_down('s3', T0 + 3)
    assert core.instances['s3'].state == IS.ISOLATED
    assert core.has_quorum() and core.quorum_text() == 'quorum (2 of 3 instances RUNNING, 2 needed)'


def test_option_off_allows_starts_without_quorum():
    core = make_core('s1', IDS)
    start(core)
    assert not core.partition_safety
    assert not core.has_quorum()
    assert core.starts_allowed()


def test_warning_when_core_identifiers_are_less_than_half():
    logger = FakeLogger()
    instances = [InstanceStatus(x, 'h', 7000, 'h') for x in ('s1', 's2', 's3', 's4', 's5')]
    SupvisorsCore('s1', instances, ['s4', 's5'], 15, 2, False, logger, partition_safety=True)
    assert logger.count('warn', "core identifiers ['s4', 's5'] are less than half of the 5 instances") == 1
    # exactly half: the side holding them cannot face a majority
    logger = FakeLogger()
    SupvisorsCore('s1', instances[:4], ['s3', 's4'], 15, 2, False, logger, partition_safety=True)
    SupvisorsCore('s1', instances, ['s4'], 15, 2, False, logger)
    assert logger.levels('warn') == []


# ---------------------------------------------------------------------------------------------------------------------
# DEPLOYMENT
# ---------------------------------------------------------------------------------------------------------------------


def lonely_fleet(partition_safety: bool = True) -> PartitionFleet:
    """ s1 alone at start-up: s2 and s3 are never heard of, and synchro_timeout ends INITIALIZATION. """
    programs = {'A:a1': prog(1), 'A:a2': prog(2)}
    fleet = PartitionFleet({'A': app(1)}, programs, everywhere(['A:a1', 'A:a2']), partition_safety=partition_safety,
                           joined=[])
    assert fleet.state == S.INITIALIZATION
    fleet.deployment = fleet.tick(4)
    assert fleet.core.instances['s2'].state == IS.SILENT and fleet.core.instances['s3'].state == IS.SILENT
    assert fleet.core.master == 's1'
    return fleet


def test_deployment_starts_nothing_without_quorum():
    fleet = lonely_fleet()
    assert published_states(fleet.deployment) == ['DEPLOYMENT', 'OPERATION']
    assert starts(fleet.deployment) == []
    assert fleet.state == S.OPERATION and fleet.idle()
    assert fleet.warnings(f'Starter: DEPLOYMENT: applications not started: {NO_QUORUM_1_OF_3}') == 1
    assert fleet.warnings('partition safety: no quorum (1 of 3 instances RUNNING, 2 needed): no process will be'
                          ' started until the quorum is regained') == 1
    # nothing more on the following ticks
    assert starts(fleet.tick(2)) == []
    assert fleet.warnings('partition safety: no quorum') == 1


def test_deployment_when_the_quorum_is_regained():
    fleet = lonely_fleet()
    actions = fleet.join('s2')
    # the new instance sets the redeploy mark: DEPLOYMENT again, now with a quorum
    assert fleet.logger.count('info', 'partition safety: quorum regained (2 of 3 instances RUNNING, 2 needed):'
                                      ' starts allowed again') == 1
    assert 'DEPLOYMENT' in published_states(actions)
    assert starts(actions) == [('s1', 'A:a1')]
    assert starts(fleet.run('s1', 'A:a1')) == [('s1', 'A:a2')]
    fleet.run('s1', 'A:a2')
    assert fleet.idle() and fleet.state == S.OPERATION


def test_deployment_without_quorum_option_off():
    """ 0.15: an instance alone deploys everything. """
    fleet = lonely_fleet(partition_safety=False)
    assert starts(fleet.deployment) == [('s1', 'A:a1')]
    assert fleet.warnings('quorum') == 0


def test_quorum_loss_aborts_the_start_jobs():
    programs = {'A:a1': prog(1, identifiers=['s1']), 'A:a2': prog(2)}
    fleet = PartitionFleet({'A': app(0)}, programs, everywhere(['A:a1', 'A:a2']))
    assert starts(fleet.deployment) == []
    fleet.core.starter.start_application(fleet.core.context.applications['A'].rules.starting_strategy,
                                         fleet.application('A'))
    assert starts(fleet.take()) == [('s1', 'A:a1')]
    fleet.partition(['s2', 's3'])
    assert fleet.warnings('partition safety: start jobs aborted') == 1
    assert fleet.idle()
    # a1 is kept running, a2 is not started
    assert starts(fleet.run('s1', 'A:a1')) == []
    assert fleet.process('A:a1').state == PS.RUNNING and fleet.process('A:a2').state == PS.STOPPED


def test_starter_refuses_a_request_once_the_quorum_is_gone():
    """ The last guard: a job that reaches its next group when the quorum is already gone (here, instances made
    SILENT behind the back of the core) starts nothing and ends, without any forced state. """
    programs = {'A:a1': prog(1, identifiers=['s1']), 'A:a2': prog(2)}
    fleet = PartitionFleet({'A': app(0)}, programs, everywhere(['A:a1', 'A:a2']))
    fleet.core.starter.start_application(fleet.application('A').rules.starting_strategy, fleet.application('A'))
    assert starts(fleet.take()) == [('s1', 'A:a1')]
    for identifier in ('s2', 's3'):
        fleet.core.instances[identifier].set_state(IS.SILENT)
    # a1 RUNNING ends its group in the very event where the loss of the quorum is first seen
    actions = fleet.event('s1', 'A:a1', PS.RUNNING)
    assert starts(actions) == [] and fleet.idle()
    assert fleet.warnings(f'Starter: A:a2 not started: {NO_QUORUM_1_OF_3}') == 1
    assert fleet.process('A:a2').state == PS.STOPPED and not [a for a in actions if isinstance(a, act.Publish)
                                                               and a.body.get('forced')]


# ---------------------------------------------------------------------------------------------------------------------
# Failure handling
# ---------------------------------------------------------------------------------------------------------------------


def failure_fleet(partition_safety: bool = True, local: str = 's1') -> PartitionFleet:
    """ C:c1 (RESTART_PROCESS) runs on s2, D:d1 and D:d2 (RESTART_APPLICATION) on s3, E:e1 (RESTART_APPLICATION)
    and E:e2 on s1. The Master is s1. """
    programs = {'C:c1': prog(1, running_failure_strategy=RFS.RESTART_PROCESS),
                'D:d1': prog(1, running_failure_strategy=RFS.RESTART_APPLICATION),
                'D:d2': prog(2, running_failure_strategy=RFS.RESTART_APPLICATION),
                'E:e1': prog(1, running_failure_strategy=RFS.RESTART_APPLICATION), 'E:e2': prog(1)}
    lists = everywhere(['C:c1', 'D:d1', 'D:d2', 'E:e1', 'E:e2'], stop=T0 - 10)
    with_state(lists, 's2', 'C:c1', PS.RUNNING)
    with_state(with_state(lists, 's3', 'D:d1', PS.RUNNING), 's3', 'D:d2', PS.RUNNING)
    with_state(with_state(lists, 's1', 'E:e1', PS.RUNNING), 's1', 'E:e2', PS.RUNNING)
    fleet = PartitionFleet({'C': app(1), 'D': app(1), 'E': app(1)}, programs, lists, local=local,
                           partition_safety=partition_safety)
    if local != 's1':
        fleet.core.on_message('s1', IM.STATE, STATE_OPERATION, fleet.now)
        fleet.take()
    assert starts(fleet.deployment) == [] and fleet.state == S.OPERATION
    assert fleet.core.master == 's1'
    return fleet


def test_majority_restarts_what_the_lost_instance_ran():
    fleet = failure_fleet()
    actions = fleet.partition(['s3'])
    assert fleet.core.has_quorum()
    assert starts(actions) == [('s1', 'D:d1')]
    assert starts(fleet.run('s1', 'D:d1')) == [('s1', 'D:d2')]
    fleet.run('s1', 'D:d2')
    assert fleet.idle() and fleet.warnings('quorum') == 0


def test_minority_master_restarts_nothing():
    fleet = failure_fleet()
    actions = fleet.partition(['s2', 's3'])
    assert starts(actions) == [] and stops(actions) == []
    assert fleet.state == S.OPERATION and fleet.core.master == 's1'
    assert fleet.warnings(f'FailureHandler: application D not restarted: {NO_QUORUM_1_OF_3}') == 1
    # C:c1 (RESTART_PROCESS in a stopped application) is promoted to a restart of C
    assert fleet.warnings(f'FailureHandler: application C not restarted: {NO_QUORUM_1_OF_3}') == 1
    assert not fleet.core.failure_handler.pending()
    # its own processes keep running
    assert fleet.process('E:e1').running_identifiers == {'s1'}
    assert starts(fleet.tick(2)) == []


def test_minority_master_restarts_option_off():
    """ 0.15: the Master cut from the others restarts their processes. """
    fleet = failure_fleet(partition_safety=False)
    actions = fleet.partition(['s2', 's3'])
    assert starts(actions) == [('s1', 'C:c1')]
    assert starts(fleet.run('s1', 'C:c1')) == [('s1', 'D:d1')]


def test_crash_without_quorum_neither_stops_nor_restarts_the_application():
    fleet = failure_fleet()
    fleet.partition(['s2', 's3'])
    actions = fleet.event('s1', 'E:e1', PS.EXITED, expected=False)
    assert starts(actions) == [] and stops(actions) == []
    assert fleet.warnings('FailureHandler: application E not restarted: no quorum') == 1
    assert fleet.process('E:e2').running_identifiers == {'s1'}


def test_crash_with_quorum_restarts_the_application():
    fleet = failure_fleet()
    actions = fleet.event('s1', 'E:e1', PS.EXITED, expected=False)
    assert stops(actions) == [('s1', 'E:e2')]
    assert starts(fleet.halt('s1', 'E:e2')) == [('s1', 'E:e1'), ('s1', 'E:e2')]


def test_stop_application_strategy_still_stops_without_quorum():
    programs = {'F:f1': prog(1, running_failure_strategy=RFS.STOP_APPLICATION), 'F:f2': prog(1)}
    lists = everywhere(['F:f1', 'F:f2'], stop=T0 - 10)
    with_state(with_state(lists, 's1', 'F:f1', PS.RUNNING), 's1', 'F:f2', PS.RUNNING)
    fleet = PartitionFleet({'F': app(1)}, programs, lists)
    fleet.partition(['s2', 's3'])
    actions = fleet.event('s1', 'F:f1', PS.EXITED, expected=False)
    assert stops(actions) == [('s1', 'F:f2')] and starts(actions) == []


def test_minority_slave_starts_nothing_on_its_own_deployment():
    """ s3 cut from s1 and s2: it loses its Master, elects itself, and its DEPLOYMENT starts nothing. """
    fleet = failure_fleet(local='s3')
    actions = fleet.partition(['s1', 's2'])
    assert fleet.core.master == 's3' and fleet.state == S.OPERATION
    assert 'DEPLOYMENT' in published_states(actions)
    assert starts(actions) == [] and stops(actions) == []
    assert fleet.warnings(f'Starter: DEPLOYMENT: applications not started: {NO_QUORUM_1_OF_3}') == 1
    # what runs locally is kept
    assert fleet.process('D:d1').running_identifiers == {'s3'}


def test_minority_slave_restarts_everything_option_off():
    """ 0.15: the same s3 restarts the processes of s1 and s2 at its DEPLOYMENT: they run twice after the heal. """
    fleet = failure_fleet(partition_safety=False, local='s3')
    actions = fleet.partition(['s1', 's2'])
    assert fleet.core.master == 's3'
    assert sorted(starts(actions)) == [('s3', 'C:c1'), ('s3', 'E:e1'), ('s3', 'E:e2')]


# ---------------------------------------------------------------------------------------------------------------------
# The heal
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('strategy, kept, stopped', [(CS.INFANTICIDE, 's3', 's1'), (CS.SENICIDE, 's1', 's3')])
def test_heal_conciliates_the_copies_kept_by_the_minority(strategy, kept, stopped):
    """ Seen from the majority Master s1: D restarted on s1 while s3 kept its copy; at the heal s3 reports its own
    Master (split-brain repair: back to INITIALIZATION), s1 is elected again, and the conflict is conciliated. """
    fleet = failure_fleet()
    fleet.core.conciliation_strategy = strategy
    fleet.serve(fleet.partition(['s3']))
    assert fleet.process('D:d1').running_identifiers == {'s1'}
    # s3 kept its copies of D (older than those of s1) and was its own Master meanwhile, without starting anything;
    # the self-check of s1 adds nothing to what its events told
    fleet.lists['s1'] = []
    actions = fleet.join('s3', master='s3', fsm_state=S.OPERATION)
    assert 'INITIALIZATION' in published_states(actions)
    assert fleet.core.master == 's1'
    assert fleet.state == S.CONCILIATION
    # the conflicting processes are stopped one after the other where the strategy does not keep them
    done = fleet.serve(actions)
    assert starts(done) == []
    assert sorted(stops(done)) == [(stopped, 'D:d1'), (stopped, 'D:d2')]
    assert fleet.state == S.OPERATION
    assert fleet.process('D:d1').running_identifiers == {kept}
    assert fleet.process('D:d2').running_identifiers == {kept}


def test_heal_seen_from_the_minority():
    """ s3 alone, its own Master without quorum; the heal makes it adopt s1 and regain the quorum. """
    fleet = failure_fleet(local='s3')
    fleet.partition(['s1', 's2'])
    assert fleet.core.master == 's3' and not fleet.core.has_quorum()
    actions = fleet.join('s1', master='s1', fsm_state=S.OPERATION)
    # split-brain repair: back to INITIALIZATION, then s1 is adopted
    assert 'INITIALIZATION' in published_states(actions)
    assert starts(actions) == [] and fleet.core.master == 's1'
    actions = fleet.join('s2', master='s1', fsm_state=S.OPERATION)
    fleet.core.on_message('s1', IM.STATE, STATE_OPERATION, fleet.now)
    actions += fleet.take()
    assert fleet.core.master == 's1' and fleet.state == S.OPERATION
    assert starts(actions) == []
    assert fleet.core.has_quorum()
    assert fleet.logger.count('info', 'partition safety: quorum regained (2 of 3 instances RUNNING') == 1


# ---------------------------------------------------------------------------------------------------------------------
# XML-RPC
# ---------------------------------------------------------------------------------------------------------------------


START_CALLS = [('start_application', ('CONFIG', 'A')), ('restart_application', ('CONFIG', 'A')),
               ('start_args', ('A:a1', '-x')), ('start_process', ('CONFIG', 'A:a1')),
               ('start_any_process', ('CONFIG', 'a')), ('restart_process', ('CONFIG', 'A:a1')),
               ('restart_sequence', ())]


@pytest.mark.parametrize('method, args', START_CALLS)
def test_xmlrpc_start_refused_without_quorum(method, args):
    fleet = lonely_fleet()
    with pytest.raises(RPCError) as exc:
        getattr(rpc(fleet), method)(*args)
    assert exc.value.code == SupvisorsFaults.BAD_SUPVISORS_STATE.value
    # the text starts with the name of the fault (registered in supervisord by the plugin)
    assert exc.value.text.endswith(': partition_safety: Supvisors instance s1 has no quorum'
                                   ' (1 of 3 instances RUNNING, 2 needed): start refused')
    assert starts(fleet.take()) == [] and fleet.idle()


def test_xmlrpc_start_args_accepted_while_synchronizing(monkeypatch):
    """ start_args is how a Master (with quorum) has a process started on an instance: at start-up, the target may
    get it before it sees the others RUNNING, when its own view says nothing of a partition yet. """
    calls = []
    monkeypatch.setattr('supvisors.rpcinterface.start_args', lambda *args: calls.append(args[1:]) or True)
    fleet = PartitionFleet({'A': app(1)}, {'A:a1': prog(1)}, everywhere(['A:a1']), joined=[])
    assert fleet.state == S.INITIALIZATION and not fleet.core.has_quorum()
    assert rpc(fleet).start_args('A:a1', '-x', False) is True
    assert calls == [('A:a1', '-x', False)]


def test_xmlrpc_state_fault_comes_first():
    fleet = PartitionFleet(joined=[])
    with pytest.raises(RPCError) as exc:
        rpc(fleet).start_process('CONFIG', 'A:a1')
    assert 'not in state' in exc.value.text


def test_xmlrpc_stop_allowed_without_quorum():
    fleet = failure_fleet()
    fleet.partition(['s2', 's3'])
    assert rpc(fleet).stop_process('E:e1', False) is True
    assert stops(fleet.take()) == [('s1', 'E:e1')]


def test_xmlrpc_start_allowed_again_with_quorum():
    fleet = lonely_fleet()
    fleet.serve(fleet.join('s2'))
    assert fleet.idle() and fleet.process('A:a1').running_identifiers == {'s1'}
    assert rpc(fleet).stop_process('A:a1', False) is True
    fleet.serve(fleet.take())
    assert rpc(fleet).start_process('CONFIG', 'A:a1', '', False) is True
    assert starts(fleet.take()) == [('s1', 'A:a1')]


def test_xmlrpc_start_allowed_without_quorum_option_off():
    fleet = lonely_fleet(partition_safety=False)
    fleet.serve(fleet.deployment)
    assert rpc(fleet).stop_process('A:a1', False) is True
    fleet.serve(fleet.take())
    assert rpc(fleet).start_process('CONFIG', 'A:a1', '', False) is True
    assert starts(fleet.take()) == [('s1', 'A:a1')]

