"""Starting, stopping and failure handling driven through a real SupvisorsCore (behaviour §4.5, §5, §6, §7, §8.2,
with the deliberate differences listed in the docstrings of supvisors.core.jobs, supvisors.core.failures and
supvisors.core.engine).

The local instance s1 is the Master; s2 and s3 are remote. Process events of remote instances come through
``on_message(identifier, PROCESS, ...)``, those of s1 through ``on_local_process_event``; every tick round sends a
tick of each RUNNING remote instance, then the local tick.
"""

from collections import deque
from dataclasses import replace
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import pytest

from supvisors.core import actions as act
from supvisors.core.engine import SupvisorsCore
from supvisors.core.failures import FailureHandler, conciliate, restart_process, uptime
from supvisors.core.instances import InstanceStatus
from supvisors.model.context import Context
from supvisors.rules.model import ApplicationRules, ProcessRules
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.ttypes import (ApplicationStates, ConciliationStrategies, DistributionRules, InternalMessages,
                              ProcessStates, RunningFailureStrategies, StartingFailureStrategies, StartingStrategies,
                              SupvisorsInstanceStates, SupvisorsStates, make_namespec, split_namespec)

S = SupvisorsStates
IS = SupvisorsInstanceStates
IM = InternalMessages
PS = ProcessStates
SS = StartingStrategies
SFS = StartingFailureStrategies
RFS = RunningFailureStrategies
CS = ConciliationStrategies
DR = DistributionRules

T0 = 1000.0
IDS = ('s1', 's2', 's3')

STARTING_MISSED = 'process STARTING event not received in time'
RUNNING_MISSED = 'process RUNNING event not received in time'
STOPPING_MISSED = 'process STOPPING event not received in time'
STOPPED_MISSED = 'process STOPPED event not received in time'
NO_RESOURCE = 'no resource available'


# ---------------------------------------------------------------------------------------------------------------------
# Rules and process information
# ---------------------------------------------------------------------------------------------------------------------


def app(start_sequence: int = 1, stop_sequence: Optional[int] = None, **kwargs) -> ApplicationRules:
    """ A managed application (stop_sequence defaults to start_sequence, as after post-processing). """
    return ApplicationRules(managed=True, start_sequence=start_sequence,
                            stop_sequence=start_sequence if stop_sequence is None else stop_sequence, **kwargs)


def prog(start_sequence: int = 1, stop_sequence: Optional[int] = None, **kwargs) -> ProcessRules:
    return ProcessRules(start_sequence=start_sequence,
                        stop_sequence=start_sequence if stop_sequence is None else stop_sequence, **kwargs)


class Resolver:
    """ Rules given per application name and per namespec; anything else is unmanaged with default rules. """

    def __init__(self, applications: Optional[Dict[str, ApplicationRules]] = None,
                 programs: Optional[Dict[str, ProcessRules]] = None):
        self.applications = applications or {}
        self.programs = programs or {}

    def application_rules(self, name: str) -> ApplicationRules:
        rules = self.applications.get(name)
        return replace(rules) if rules else ApplicationRules(stop_sequence=0)

    def process_rules(self, application_name: str, process_name: str, application_rules: ApplicationRules):
        rules = self.programs.get(make_namespec(application_name, process_name))
        if rules is None:
            return ProcessRules(stop_sequence=0,
                                starting_failure_strategy=application_rules.starting_failure_strategy,
                                running_failure_strategy=application_rules.running_failure_strategy)
        return replace(rules)

    def take_autorestart_changes(self) -> List[str]:
        return []


def info(namespec: str, state: PS = PS.STOPPED, start: float = 0, stop: float = 0, now: float = T0,
         spawnerr: str = '', startsecs: int = 0, stopwaitsecs: int = 10, extra_args: str = '',
         disabled: bool = False) -> Dict[str, Any]:
    """ A process info record (LocalProcessInfo) as found in process lists. """
    group, name = split_namespec(namespec)
    if state in (PS.STARTING, PS.RUNNING, PS.BACKOFF, PS.STOPPING) and not start:
        start = now - 10
    return {'name': name, 'group': group, 'state': int(state), 'statename': PS(state).name, 'start': int(start),
            'stop': int(stop), 'now': now, 'pid': 100 if state in (10, 20, 30, 40) else 0, 'description': '',
            'spawnerr': spawnerr, 'expected': not spawnerr, 'startsecs': startsecs, 'stopwaitsecs': stopwaitsecs,
            'extra_args': extra_args, 'disabled': disabled}


def infos(namespecs: Iterable[str], **kwargs) -> List[Dict[str, Any]]:
    return [info(namespec, **kwargs) for namespec in namespecs]


# ---------------------------------------------------------------------------------------------------------------------
# Actions
# ---------------------------------------------------------------------------------------------------------------------


def starts(actions: Iterable[Any]) -> List[Tuple[str, str]]:
    return [(a.identifier, a.namespec) for a in actions if isinstance(a, act.StartProcess)]


def start_args(actions: Iterable[Any]) -> List[Tuple[str, str, str]]:
    return [(a.identifier, a.namespec, a.extra_args) for a in actions if isinstance(a, act.StartProcess)]


def stops(actions: Iterable[Any]) -> List[Tuple[str, str]]:
    return [(a.identifier, a.namespec) for a in actions if isinstance(a, act.StopProcess)]


def forced(actions: Iterable[Any]) -> List[Dict[str, Any]]:
    return [a.body for a in actions
            if isinstance(a, act.Publish) and a.code == IM.PROCESS and a.body.get('forced')]


def published_states(actions: Iterable[Any]) -> List[str]:
    return [a.body['fsm_statename'] for a in actions if isinstance(a, act.Publish) and a.code == IM.STATE]


# ---------------------------------------------------------------------------------------------------------------------
# The fleet simulator
# ---------------------------------------------------------------------------------------------------------------------


class Fleet:
    """ A Master core on s1 with every instance RUNNING.

    processes: identifier -> process list. With handshake=True, the lists come with the handshakes, so that the
    DEPLOYMENT that follows the synchronisation sees them (its actions are in ``deployment``); with
    handshake=False, the fleet reaches OPERATION with nothing, then the lists are added (PROCESS_ADDED).
    """

    def __init__(self, applications: Optional[Dict[str, ApplicationRules]] = None,
                 programs: Optional[Dict[str, ProcessRules]] = None,
                 processes: Optional[Dict[str, List[Dict[str, Any]]]] = None, identifiers: Sequence[str] = IDS,
                 nodes: Optional[Dict[str, str]] = None, conciliation: CS = CS.USER, handshake: bool = True):
        self.logger = FakeLogger()
        self.resolver = Resolver(applications, programs)
        nodes = nodes or {}
        instances = [InstanceStatus(x, f'host-{x}', 7000 + idx, nodes.get(x, f'node-{x}'))
                     for idx, x in enumerate(identifiers)]
        self.local = identifiers[0]
        self.core = SupvisorsCore(self.local, instances, [], 15, 2, False, self.logger,
                                  context=Context(self.resolver, self.logger), conciliation_strategy=conciliation)
        self.now = T0
        self.counters = {x: 0 for x in identifiers}
        processes = processes or {}
        lists = {x: (processes.get(x, []) if handshake else []) for x in identifiers}
        core = self.core
        core.start(self.now)
        self.deployment: List[Any] = []
        self._answer(self.local, lists[self.local])
        for identifier in identifiers[1:]:
            core.on_message(identifier, IM.TICK, {'when': self.now, 'sequence_counter': 0}, self.now)
            self._answer(identifier, lists[identifier])
        assert core.master == min(identifiers)
        if not handshake:
            assert core.fsm_state == S.OPERATION
            for identifier in identifiers:
                if processes.get(identifier):
                    self.deployment += self.add(identifier, processes[identifier])

    def _answer(self, identifier: str, process_list: List[Dict[str, Any]]) -> None:
        checks = [a for a in self.core.take_actions()
                  if isinstance(a, act.CheckInstance) and a.identifier == identifier]
        assert len(checks) == 1
        self.core.on_check_result(act.CheckResult(identifier, checks[0].check_id, True, '', 0, False, False,
                                                  process_list), self.now)
        self.deployment = self.core.take_actions()

    # ------------------------------------------------------------------ views
    @property
    def state(self) -> S:
        return self.core.fsm_state

    def process(self, namespec: str):
        process = self.core.context.get_process(namespec)
        assert process is not None, namespec
        return process

    def application(self, name: str):
        return self.core.context.applications[name]

    def idle(self) -> bool:
        return not self.core.starter.in_progress() and not self.core.stopper.in_progress()

    # ------------------------------------------------------------------ stimuli
    def take(self) -> List[Any]:
        return self.core.take_actions()

    def add(self, identifier: str, process_list: List[Dict[str, Any]]) -> List[Any]:
        self.now += 0.1
        if identifier == self.local:
            self.core.on_local_processes_added(process_list, self.now)
        else:
            self.core.on_message(identifier, IM.PROCESS_ADDED, process_list, self.now)
        return self.take()

    def event(self, identifier: str, namespec: str, state: PS, expected: bool = True,
              extra_args: Optional[str] = None) -> List[Any]:
        """ A real process event of an instance. """
        self.now += 0.1
        group, name = split_namespec(namespec)
        process = self.core.context.get_process(namespec)
        if extra_args is None:
            extra_args = process.extra_args if process else ''
        body = {'name': name, 'group': group, 'state': int(state), 'now': self.now,
                'pid': 100 if state in (10, 20, 30, 40) else 0, 'expected': expected,
                'spawnerr': '' if expected else 'Exited too quickly', 'extra_args': extra_args, 'disabled': False}
        if identifier == self.local:
            self.core.on_local_process_event(body, self.now)
        else:
            self.core.on_message(identifier, IM.PROCESS, body, self.now)
        return self.take()

    def run(self, identifier: str, namespec: str, extra_args: Optional[str] = None) -> List[Any]:
        """ STARTING then RUNNING on the instance. """
        return self.event(identifier, namespec, PS.STARTING, extra_args=extra_args) + \
            self.event(identifier, namespec, PS.RUNNING, extra_args=extra_args)

    def halt(self, identifier: str, namespec: str) -> List[Any]:
        """ STOPPING then STOPPED on the instance. """
        return self.event(identifier, namespec, PS.STOPPING) + self.event(identifier, namespec, PS.STOPPED)

    def serve(self, actions: Iterable[Any], start: bool = True, stop: bool = True) -> List[Any]:
        """ Answer every start / stop request as a well-behaved supervisord, until no request is left. """
        queue = deque(actions)
        done: List[Any] = []
        while queue:
            action = queue.popleft()
            done.append(action)
            if start and isinstance(action, act.StartProcess):
                queue.extend(self.run(action.identifier, action.namespec, action.extra_args))
            elif stop and isinstance(action, act.StopProcess):
                queue.extend(self.halt(action.identifier, action.namespec))
        return done

    def tick(self, count: int = 1, silent: Sequence[str] = ()) -> List[Any]:
        """ Tick rounds: a tick of every RUNNING remote instance (except the silent ones), then the local tick. """
        actions: List[Any] = []
        for _ in range(count):
            self.now += 5
            for identifier, status in self.core.instances.items():
                if identifier == self.local or identifier in silent or status.state != IS.RUNNING:
                    continue
                self.counters[identifier] += 1
                self.core.on_message(identifier, IM.TICK, {'when': self.now,
                                                           'sequence_counter': self.counters[identifier]},
                                     self.now)
            self.core.on_local_tick(self.now)
            actions += self.take()
        return actions

    def lose(self, identifier: str) -> List[Any]:
        """ The supervisord of the instance is gone. """
        self.now += 0.1
        self.core.on_peer_down(identifier, self.now)
        return self.take()


def loader(loads: Dict[str, int]) -> Tuple[Dict[str, ProcessRules], Dict[str, List[Dict[str, Any]]]]:
    """ An unmanaged application L with one RUNNING process per loaded instance, declaring that load. """
    programs = {f'L:l_{x}': ProcessRules(stop_sequence=0, expected_loading=load) for x, load in loads.items()}
    processes = {x: [info(f'L:l_{x}', PS.RUNNING)] for x in loads}
    return programs, processes


def merge(*process_maps: Dict[str, List[Dict[str, Any]]]) -> Dict[str, List[Dict[str, Any]]]:
    merged: Dict[str, List[Dict[str, Any]]] = {}
    for process_map in process_maps:
        for identifier, process_list in process_map.items():
            merged.setdefault(identifier, []).extend(process_list)
    return merged


def with_state(lists: Dict[str, List[Dict[str, Any]]], identifier: str, namespec: str, state: PS,
               **kwargs) -> Dict[str, List[Dict[str, Any]]]:
    """ Replace the info of namespec on identifier. """
    lists[identifier] = [info(namespec, state, **kwargs) if make_namespec(x['group'], x['name']) == namespec else x
                         for x in lists[identifier]]
    return lists


def everywhere(namespecs: Sequence[str], identifiers: Sequence[str] = IDS, **kwargs):
    return {x: infos(namespecs, **kwargs) for x in identifiers}


# ---------------------------------------------------------------------------------------------------------------------
# DEPLOYMENT: selection and sequencing (§5.1, §5.2)
# ---------------------------------------------------------------------------------------------------------------------


def sequence_fleet() -> Fleet:
    # A is discovered before B although it comes after it in the application start sequence
    applications = {'A': app(2), 'B': app(1), 'C': app(0)}
    programs = {'A:a1': prog(1), 'A:a2': prog(1), 'A:a3': prog(2), 'A:a0': prog(0),
                'B:b1': prog(1), 'C:c1': prog(1)}
    namespecs = ['A:a1', 'A:a2', 'A:a3', 'A:a0', 'B:b1', 'C:c1', 'U:u1']
    return Fleet(applications, programs, {'s2': infos(namespecs), 's3': infos(namespecs)})


def test_deployment_sequences_applications_then_processes():
    fleet = sequence_fleet()
    # only B (application start_sequence 1) is started first, on the first candidate where it is configured
    assert starts(fleet.deployment) == [('s2', 'B:b1')]
    assert fleet.state == S.DEPLOYMENT
    assert starts(fleet.event('s2', 'B:b1', PS.STARTING)) == []
    # A becomes current only when B is complete; its first group is started in parallel
    assert starts(fleet.event('s2', 'B:b1', PS.RUNNING)) == [('s2', 'A:a1'), ('s2', 'A:a2')]
    # the next group only when the whole previous group is complete
    assert starts(fleet.run('s2', 'A:a1')) == []
    assert fleet.state == S.DEPLOYMENT
    assert starts(fleet.run('s2', 'A:a2')) == [('s2', 'A:a3')]
    actions = fleet.run('s2', 'A:a3')
    assert starts(actions) == []
    assert fleet.state == S.OPERATION and fleet.idle()
    assert 'OPERATION' in published_states(actions)
    # start_sequence 0 processes and applications are never started by an application start
    for namespec in ('A:a0', 'C:c1', 'U:u1'):
        assert fleet.process(namespec).state == PS.STOPPED
    assert fleet.application('A').state == ApplicationStates.RUNNING
    assert fleet.application('C').state == ApplicationStates.STOPPED


def test_deployment_same_application_rank_in_parallel():
    applications = {'X': app(1), 'Y': app(1), 'Z': app(2)}
    programs = {'X:x': prog(1), 'Y:y': prog(1), 'Z:z': prog(1)}
    fleet = Fleet(applications, programs, {'s2': infos(['Z:z', 'X:x', 'Y:y'])})
    assert starts(fleet.deployment) == [('s2', 'X:x'), ('s2', 'Y:y')]
    assert starts(fleet.run('s2', 'Y:y')) == []
    assert starts(fleet.run('s2', 'X:x')) == [('s2', 'Z:z')]
    fleet.run('s2', 'Z:z')
    assert fleet.state == S.OPERATION


def test_deployment_skips_processes_already_running():
    applications = {'A': app(1)}
    programs = {'A:a1': prog(1), 'A:a2': prog(2), 'A:a3': prog(3, required=True)}
    # a1 runs already; a3 is required and stopped: the running application has a major failure
    processes = {'s2': [info('A:a1', PS.RUNNING), info('A:a2', PS.RUNNING), info('A:a3', stop=T0 - 5)]}
    fleet = Fleet(applications, programs, processes)
    assert fleet.application('A').major_failure
    # the groups of a1 and a2 are skipped at once
    assert starts(fleet.deployment) == [('s2', 'A:a3')]
    fleet.run('s2', 'A:a3')
    assert fleet.state == S.OPERATION


def test_deployment_selection_never_started_stopped_failed():
    applications = {name: app(1) for name in ('N', 'P', 'E', 'F', 'M', 'R', 'Q')}
    applications['Q'] = app(0)
    programs = {'N:n': prog(1), 'P:p': prog(1), 'E:e': prog(1), 'F:f1': prog(1, required=True), 'F:f2': prog(2),
                'M:m1': prog(1), 'M:m2': prog(1), 'R:r1': prog(1), 'R:r2': prog(1, required=True),
                'Q:q': prog(1)}
    processes = {'s2': [info('N:n'),  # never started
                        info('P:p', stop=T0 - 100),  # stopped on purpose
                        info('E:e', PS.EXITED, stop=T0 - 100),  # exited as expected
                        info('F:f1', PS.FATAL, stop=T0 - 100, spawnerr='Exited too quickly'), info('F:f2'),
                        info('M:m1', PS.EXITED, stop=T0 - 100, spawnerr='Bad exit code'),
                        info('M:m2', stop=T0 - 100),
                        info('R:r1', PS.RUNNING), info('R:r2', stop=T0 - 100),
                        info('Q:q')]}  # never started but application start_sequence 0
    fleet = Fleet(applications, programs, processes)
    assert fleet.application('F').major_failure and fleet.application('M').minor_failure
    assert fleet.application('R').major_failure
    done = fleet.serve(fleet.deployment)
    assert sorted(starts(done)) == [('s2', 'F:f1'), ('s2', 'F:f2'), ('s2', 'M:m1'), ('s2', 'M:m2'),
                                    ('s2', 'N:n'), ('s2', 'R:r2')]
    assert fleet.state == S.OPERATION
    assert fleet.process('P:p').state == PS.STOPPED and fleet.process('E:e').state == PS.EXITED
    assert fleet.process('Q:q').state == PS.STOPPED


def test_deployment_unmanaged_applications_never_started():
    fleet = Fleet({}, {}, {'s2': infos(['U:u1', 'V:v1'])})
    assert starts(fleet.deployment) == []
    assert fleet.state == S.OPERATION


def test_restart_sequence_forced_redeployment():
    applications = {'A': app(1), 'P': app(2), 'Z': app(0)}
    programs = {'A:a1': prog(1), 'A:a2': prog(2), 'A:a0': prog(0), 'P:p': prog(1), 'Z:z': prog(1)}
    processes = {'s2': [info('A:a1', PS.RUNNING), info('A:a2', stop=T0 - 10), info('A:a0', stop=T0 - 10),
                        info('P:p', stop=T0 - 10), info('Z:z', stop=T0 - 10)]}
    fleet = Fleet(applications, programs, processes)
    # nothing is in failure, nothing was never started: the first DEPLOYMENT starts nothing
    assert starts(fleet.deployment) == [] and fleet.state == S.OPERATION
    count = fleet.core.deployment_count
    fleet.core.request_restart_sequence(fleet.now)
    actions = fleet.take()
    assert fleet.state == S.DEPLOYMENT and fleet.core.deployment_count == count + 1
    assert not fleet.core.forced_redeploy and not fleet.core.redeploy_mark
    assert 'DEPLOYMENT' in published_states(actions)
    # the running a1 is not restarted; a0 (start_sequence 0) and Z (application start_sequence 0) are not started
    assert starts(actions) == [('s2', 'A:a2')]
    assert starts(fleet.run('s2', 'A:a2')) == [('s2', 'P:p')]
    fleet.run('s2', 'P:p')
    assert fleet.state == S.OPERATION
    assert fleet.process('A:a0').state == PS.STOPPED and fleet.process('Z:z').state == PS.STOPPED
    # a second, non-forced DEPLOYMENT (redeploy mark) would not plan them again
    fleet.halt('s2', 'P:p')
    fleet.core.redeploy_mark = True
    fleet.tick()
    assert fleet.core.deployment_count == count + 2 and fleet.state == S.OPERATION
    assert fleet.process('P:p').state == PS.STOPPED


def test_restart_sequence_nothing_to_start_goes_through_deployment():
    fleet = Fleet({'A': app(1)}, {'A:a': prog(1)}, {'s2': [info('A:a', PS.RUNNING)]})
    count = fleet.core.deployment_count
    fleet.core.request_restart_sequence(fleet.now)
    actions = fleet.take()
    assert published_states(actions)[-2:] == ['DEPLOYMENT', 'OPERATION']
    assert fleet.core.deployment_count == count + 1 and fleet.state == S.OPERATION


def test_restart_sequence_waits_for_idle_operation():
    fleet = Fleet({'A': app(1)}, {'A:a': prog(1), 'A:b': prog(1)},
                  {'s2': [info('A:a', PS.RUNNING), info('A:b', stop=T0 - 10)]})
    fleet.core.stopper.stop_application(fleet.application('A'))
    assert stops(fleet.take()) == [('s2', 'A:a')]
    fleet.core.request_restart_sequence(fleet.now)
    fleet.take()
    assert fleet.state == S.OPERATION and fleet.core.forced_redeploy
    actions = fleet.halt('s2', 'A:a')
    assert fleet.state == S.DEPLOYMENT
    assert starts(actions) == [('s2', 'A:a'), ('s2', 'A:b')]


def test_restart_sequence_on_slave_forwarded():
    fleet = Fleet()
    core = fleet.core
    core.master = 's2'
    core.request_restart_sequence(fleet.now)
    forwards = [a for a in core.take_actions() if isinstance(a, act.ForwardToMaster)]
    assert forwards == [act.ForwardToMaster('s2', 'restart_sequence', [False])]
    assert not core.forced_redeploy


# ---------------------------------------------------------------------------------------------------------------------
# Start command completion (§5.3)
# ---------------------------------------------------------------------------------------------------------------------


def wait_exit_fleet(required: bool = True) -> Fleet:
    programs = {'W:init': prog(1, wait_exit=True, required=required), 'W:srv': prog(2)}
    return Fleet({'W': app(1)}, programs, {'s2': infos(['W:init', 'W:srv'])})


def test_wait_exit_expected_exit_completes():
    fleet = wait_exit_fleet()
    assert starts(fleet.deployment) == [('s2', 'W:init')]
    assert starts(fleet.run('s2', 'W:init')) == []  # RUNNING is not enough
    assert fleet.state == S.DEPLOYMENT
    assert starts(fleet.event('s2', 'W:init', PS.EXITED, expected=True)) == [('s2', 'W:srv')]
    fleet.run('s2', 'W:srv')
    assert fleet.state == S.OPERATION


def test_wait_exit_unexpected_exit_fails():
    fleet = wait_exit_fleet()
    fleet.run('s2', 'W:init')
    actions = fleet.event('s2', 'W:init', PS.EXITED, expected=False)
    # required with ABORT: the next group is dropped
    assert starts(actions) == []
    assert fleet.state == S.OPERATION and fleet.idle()
    assert fleet.process('W:srv').state == PS.STOPPED


def test_wait_exit_never_exiting_times_out():
    fleet = wait_exit_fleet()
    fleet.run('s2', 'W:init')
    assert starts(fleet.tick(2)) == []
    actions = fleet.tick()
    # the exit is awaited as long as a start: the job goes on, nothing is forced (the process runs)
    assert starts(actions) == [('s2', 'W:srv')]
    assert forced(actions) == []
    assert fleet.process('W:init').state == PS.RUNNING and fleet.process('W:init').forced_state is None
    assert fleet.logger.count('warn', 'process exit not received in time') == 1


def test_wait_exit_ignored_by_single_process_start():
    fleet = Fleet({'W': app(1)}, {'W:init': prog(1, wait_exit=True)}, {'s2': infos(['W:init'], stop=T0 - 5)})
    fleet.core.starter.start_process(SS.CONFIG, fleet.process('W:init'))
    assert starts(fleet.take()) == [('s2', 'W:init')]
    fleet.run('s2', 'W:init')
    assert fleet.idle()


@pytest.mark.parametrize('state', [PS.FATAL, PS.STOPPED, PS.STOPPING, PS.EXITED])
def test_start_failure_outcomes(state):
    programs = {'A:a1': prog(1, required=True), 'A:a2': prog(2)}
    fleet = Fleet({'A': app(1)}, programs, {'s2': infos(['A:a1', 'A:a2'])})
    fleet.event('s2', 'A:a1', PS.STARTING)
    actions = fleet.event('s2', 'A:a1', state, expected=True)
    assert starts(actions) == [] and fleet.idle()


def test_backoff_keeps_the_command_in_progress():
    programs = {'A:a1': prog(1, required=True), 'A:a2': prog(2)}
    fleet = Fleet({'A': app(1)}, programs, {'s2': infos(['A:a1', 'A:a2'])})
    fleet.event('s2', 'A:a1', PS.STARTING)
    assert starts(fleet.event('s2', 'A:a1', PS.BACKOFF)) == [] and fleet.state == S.DEPLOYMENT
    fleet.event('s2', 'A:a1', PS.STARTING)
    assert starts(fleet.event('s2', 'A:a1', PS.RUNNING)) == [('s2', 'A:a2')]


def test_event_of_another_instance_does_not_complete():
    programs = {'A:a1': prog(1, identifiers=['s2']), 'A:a2': prog(2)}
    fleet = Fleet({'A': app(1)}, programs, everywhere(['A:a1', 'A:a2']))
    assert starts(fleet.deployment) == [('s2', 'A:a1')]
    # a1 started by hand on s3: the command follows s2 only
    assert starts(fleet.run('s3', 'A:a1')) == []
    assert starts(fleet.run('s2', 'A:a1')) == [('s1', 'A:a2')]


def test_expected_state_reached_without_event_completes_at_next_tick():
    programs = {'A:a1': prog(1), 'A:a2': prog(2)}
    fleet = Fleet({'A': app(1)}, programs, {'s2': infos(['A:a1', 'A:a2'])})
    assert starts(fleet.deployment) == [('s2', 'A:a1')]
    # s2 reports its processes again (its events were missed): a1 is RUNNING there
    assert starts(fleet.add('s2', [info('A:a1', PS.RUNNING)])) == []
    assert fleet.state == S.DEPLOYMENT
    actions = fleet.tick()
    assert starts(actions) == [('s2', 'A:a2')] and forced(actions) == []


# ---------------------------------------------------------------------------------------------------------------------
# Starting failure strategies (§5.6)
# ---------------------------------------------------------------------------------------------------------------------


def failure_fleet(strategy: SFS, required: bool = True) -> Fleet:
    programs = {'R:p1': prog(1, required=required, starting_failure_strategy=strategy), 'R:p2': prog(1),
                'R:p3': prog(2)}
    fleet = Fleet({'R': app(1)}, programs, {'s2': infos(['R:p1', 'R:p2', 'R:p3'])})
    assert starts(fleet.deployment) == [('s2', 'R:p1'), ('s2', 'R:p2')]
    return fleet


def test_required_failure_abort():
    fleet = failure_fleet(SFS.ABORT)
    fleet.event('s2', 'R:p1', PS.STARTING)
    fleet.event('s2', 'R:p1', PS.BACKOFF)
    assert starts(fleet.event('s2', 'R:p1', PS.FATAL, expected=False)) == []
    # the command in progress is followed to completion, the application is left as is
    assert fleet.state == S.DEPLOYMENT
    actions = fleet.run('s2', 'R:p2')
    assert starts(actions) == [] and stops(actions) == []
    assert fleet.state == S.OPERATION and fleet.idle()
    assert fleet.process('R:p3').state == PS.STOPPED
    assert fleet.application('R').state == ApplicationStates.RUNNING and fleet.application('R').major_failure


def test_required_failure_stop():
    fleet = failure_fleet(SFS.STOP)
    fleet.event('s2', 'R:p1', PS.FATAL, expected=False)
    assert fleet.state == S.DEPLOYMENT
    actions = fleet.run('s2', 'R:p2')
    # the application is stopped once its start job is over
    assert starts(actions) == [] and stops(actions) == [('s2', 'R:p2')]
    assert fleet.state == S.OPERATION and fleet.core.stopper.in_progress()
    fleet.halt('s2', 'R:p2')
    assert fleet.idle() and fleet.application('R').state == ApplicationStates.STOPPED


def test_required_failure_continue():
    fleet = failure_fleet(SFS.CONTINUE)
    fleet.event('s2', 'R:p1', PS.FATAL, expected=False)
    assert starts(fleet.run('s2', 'R:p2')) == [('s2', 'R:p3')]
    fleet.run('s2', 'R:p3')
    assert fleet.state == S.OPERATION


@pytest.mark.parametrize('strategy', [SFS.ABORT, SFS.STOP])
def test_non_required_failure_ignored(strategy):
    fleet = failure_fleet(strategy, required=False)
    fleet.event('s2', 'R:p1', PS.FATAL, expected=False)
    actions = fleet.run('s2', 'R:p2')
    assert starts(actions) == [('s2', 'R:p3')] and stops(actions) == []
    fleet.run('s2', 'R:p3')
    assert fleet.state == S.OPERATION and fleet.idle()


def test_failure_does_not_affect_other_applications():
    programs = {'A:a1': prog(1, required=True), 'A:a2': prog(2), 'B:b1': prog(1), 'B:b2': prog(2),
                'C:c1': prog(1)}
    fleet = Fleet({'A': app(1), 'B': app(1), 'C': app(2)}, programs,
                  {'s2': infos(['A:a1', 'A:a2', 'B:b1', 'B:b2', 'C:c1'])})
    assert starts(fleet.deployment) == [('s2', 'A:a1'), ('s2', 'B:b1')]
    assert starts(fleet.event('s2', 'A:a1', PS.FATAL, expected=False)) == []
    assert starts(fleet.run('s2', 'B:b1')) == [('s2', 'B:b2')]
    assert starts(fleet.run('s2', 'B:b2')) == [('s2', 'C:c1')]


# ---------------------------------------------------------------------------------------------------------------------
# Start timeouts (§5.3): in ticks of the target, forced FATAL, no starting failure strategy
# ---------------------------------------------------------------------------------------------------------------------


def timeout_fleet(startsecs: int = 0, strategy: SFS = SFS.ABORT, target: str = 's2') -> Fleet:
    programs = {'A:a1': prog(1, required=True, starting_failure_strategy=strategy, identifiers=[target]),
                'A:a2': prog(2, identifiers=[target])}
    fleet = Fleet({'A': app(1)}, programs, everywhere(['A:a1', 'A:a2'], startsecs=startsecs))
    assert starts(fleet.deployment) == [(target, 'A:a1')]
    return fleet


@pytest.mark.parametrize('strategy', [SFS.ABORT, SFS.STOP])
def test_starting_event_missing(strategy):
    fleet = timeout_fleet(strategy=strategy)
    actions = fleet.tick(2)
    assert forced(actions) == [] and fleet.state == S.DEPLOYMENT
    actions = fleet.tick()
    bodies = forced(actions)
    assert len(bodies) == 1
    body = bodies[0]
    assert (body['group'], body['name'], body['state'], body['identifier'], body['spawnerr'], body['expected']) \
        == ('A', 'a1', PS.FATAL, 's2', STARTING_MISSED, False)
    process = fleet.process('A:a1')
    assert process.forced_state == PS.FATAL and process.forced_reason == STARTING_MISSED
    assert process.displayed_state == PS.FATAL and process.info_map['s2']['state'] == PS.STOPPED
    assert fleet.application('A').major_failure
    # the starting failure strategy is not applied on a timeout: the sequence goes on, nothing is stopped
    assert starts(actions) == [('s2', 'A:a2')] and stops(actions) == []
    fleet.run('s2', 'A:a2')
    assert fleet.state == S.OPERATION and fleet.idle()
    # a later real event clears the forced state
    fleet.run('s2', 'A:a1')
    assert process.forced_state is None and process.state == PS.RUNNING


def test_starting_event_missing_on_local_target():
    programs = {'A:a1': prog(1, identifiers=['s1'])}
    fleet = Fleet({'A': app(1)}, programs, everywhere(['A:a1'], stop=T0 - 1))
    fleet.tick()
    fleet.core.starter.start_process(SS.CONFIG, fleet.process('A:a1'))
    assert starts(fleet.take()) == [('s1', 'A:a1')]
    assert forced(fleet.tick(2)) == []
    actions = fleet.tick()
    assert [(b['identifier'], b['spawnerr']) for b in forced(actions)] == [('s1', STARTING_MISSED)]
    assert fleet.idle()


def test_timeout_counted_in_ticks_of_the_target():
    fleet = timeout_fleet()
    # the target does not tick: the local ticks alone do not time the command out
    assert forced(fleet.tick(2, silent=['s2'])) == []
    assert fleet.core.instances['s2'].state == IS.RUNNING
    # 2 ticks of s2 are not enough, the 3rd one is
    assert forced(fleet.tick(2)) == []
    assert [b['spawnerr'] for b in forced(fleet.tick())] == [STARTING_MISSED]


def test_running_event_missing():
    fleet = timeout_fleet(startsecs=10)  # wait_ticks = ceil(10 / 5) + 2 = 4
    fleet.event('s2', 'A:a1', PS.STARTING)
    assert forced(fleet.tick(4)) == []
    actions = fleet.tick()
    assert [(b['identifier'], b['spawnerr']) for b in forced(actions)] == [('s2', RUNNING_MISSED)]
    assert fleet.process('A:a1').displayed_state == PS.FATAL
    assert starts(actions) == [('s2', 'A:a2')]


def test_backoff_rearms_the_timeout():
    fleet = timeout_fleet(startsecs=10)
    fleet.event('s2', 'A:a1', PS.STARTING)
    assert forced(fleet.tick(4)) == []
    fleet.event('s2', 'A:a1', PS.BACKOFF)
    assert forced(fleet.tick(4)) == []
    fleet.event('s2', 'A:a1', PS.STARTING)  # STARTING does not re-arm
    actions = fleet.tick()
    assert [b['spawnerr'] for b in forced(actions)] == [RUNNING_MISSED]


def test_forced_state_ignored_after_a_more_recent_event():
    fleet = timeout_fleet()
    process = fleet.process('A:a1')
    # a forced message from another instance, dated before the last event received from s2
    fleet.event('s2', 'A:a1', PS.STARTING)
    body = {'group': 'A', 'name': 'a1', 'state': int(PS.FATAL), 'forced': True, 'identifier': 's2',
            'now': fleet.now - 100, 'pid': 0, 'expected': False, 'spawnerr': STARTING_MISSED, 'extra_args': ''}
    fleet.core.on_message('s3', IM.PROCESS, body, fleet.now)
    assert process.forced_state is None and process.state == PS.STARTING
    body['now'] = fleet.now + 1
    fleet.core.on_message('s3', IM.PROCESS, body, fleet.now + 1)
    assert process.forced_state == PS.FATAL


def test_min_ticks():
    fleet = Fleet()
    assert fleet.core.min_ticks() == 2
    identifiers = [f'n{idx:02d}' for idx in range(35)]
    core = SupvisorsCore(identifiers[0], [InstanceStatus(x, x, 7000, x) for x in identifiers], [], 15, 2, False,
                         FakeLogger())
    assert core.min_ticks() == 3
    for identifier in identifiers[-6:]:
        core.instances[identifier].state = IS.ISOLATED
    assert core.min_ticks() == 2  # 29 instances not isolated


def test_min_ticks_of_a_large_fleet():
    identifiers = [f'n{idx:02d}' for idx in range(30)]
    programs = {'A:a1': prog(1, identifiers=['n01'])}
    fleet = Fleet({'A': app(1)}, programs, {'n01': infos(['A:a1'])}, identifiers=identifiers)
    assert fleet.core.min_ticks() == 3
    assert starts(fleet.deployment) == [('n01', 'A:a1')]
    assert forced(fleet.tick(3)) == []
    assert [b['spawnerr'] for b in forced(fleet.tick())] == [STARTING_MISSED]


# ---------------------------------------------------------------------------------------------------------------------
# No resource (§5.7)
# ---------------------------------------------------------------------------------------------------------------------


def test_no_candidate_forces_fatal_and_applies_the_strategy():
    programs = {'A:a1': prog(1, required=True, identifiers=['s3']), 'A:a2': prog(2)}
    fleet = Fleet({'A': app(1)}, programs, {x: infos(['A:a1', 'A:a2']) for x in ('s1', 's2')})
    actions = fleet.deployment
    assert starts(actions) == []
    bodies = forced(actions)
    assert [(b['name'], b['state'], b['identifier'], b['spawnerr']) for b in bodies] == \
        [('a1', PS.FATAL, 's1', NO_RESOURCE)]
    assert fleet.process('A:a1').forced_reason == NO_RESOURCE
    # required with ABORT: a2 is not started; nothing is retried
    assert fleet.state == S.OPERATION and fleet.idle()
    assert starts(fleet.tick(5)) == []


def test_no_resource_because_of_the_load():
    programs, processes = loader({'s1': 30, 's2': 30, 's3': 30})
    programs.update({'A:a1': prog(1, expected_loading=80), 'A:a2': prog(1, expected_loading=70)})
    fleet = Fleet({'A': app(1)}, programs, merge(processes, everywhere(['A:a1', 'A:a2'])))
    assert starts(fleet.deployment) == [('s1', 'A:a2')]
    assert [(b['name'], b['spawnerr']) for b in forced(fleet.deployment)] == [('a1', NO_RESOURCE)]


def test_instances_not_running_are_not_candidates():
    programs = {'A:a1': prog(1, identifiers=['s2', 's3'])}
    fleet = Fleet({'A': app(1)}, programs, {'s2': infos(['A:a1'], stop=T0 - 1), 's3': infos(['A:a1'])})
    fleet.lose('s2')
    fleet.core.starter.start_process(SS.CONFIG, fleet.process('A:a1'))
    assert starts(fleet.take()) == [('s3', 'A:a1')]


# ---------------------------------------------------------------------------------------------------------------------
# Choosing an instance and distribution rules (§5.4, §5.5)
# ---------------------------------------------------------------------------------------------------------------------


def test_all_instances_placement_per_process_with_program_identifiers():
    programs = {'A:p1': prog(1, identifiers=['s3', 's2']), 'A:p2': prog(1, identifiers=['s2']),
                'A:p3': prog(1), 'A:p4': prog(1, identifiers=['s2']), 'A:p5': prog(1)}
    processes = everywhere(['A:p1', 'A:p2', 'A:p3', 'A:p5'])
    with_state(processes, 's1', 'A:p5', PS.STOPPED, disabled=True)  # a disabled process is not a candidate there
    processes['s1'].append(info('A:p4'))
    processes['s3'].append(info('A:p4'))
    # application identifiers are ignored by ALL_INSTANCES
    fleet = Fleet({'A': app(1, identifiers=['s3'])}, programs, processes)
    assert starts(fleet.deployment) == [('s3', 'A:p1'), ('s2', 'A:p2'), ('s1', 'A:p3'), ('s2', 'A:p5')]
    # p4 is not configured on its only candidate
    assert [(b['name'], b['spawnerr']) for b in forced(fleet.deployment)] == [('p4', NO_RESOURCE)]


@pytest.mark.parametrize('strategy, expected', [(SS.CONFIG, 's1'), (SS.LESS_LOADED, 's3'),
                                                (SS.MOST_LOADED, 's2'), (SS.LOCAL, 's1'),
                                                (SS.LESS_LOADED_NODE, 's3'), (SS.MOST_LOADED_NODE, 's2')])
def test_application_starting_strategy(strategy, expected):
    programs, processes = loader({'s1': 20, 's2': 50, 's3': 10})
    programs['A:a'] = prog(1, expected_loading=10)
    fleet = Fleet({'A': app(1, starting_strategy=strategy)}, programs, merge(processes, everywhere(['A:a'])))
    assert starts(fleet.deployment) == [(expected, 'A:a')]


def test_less_loaded_spreads_applications_of_the_same_group():
    applications = {f'G{idx}': app(1, starting_strategy=SS.LESS_LOADED) for idx in range(1, 4)}
    programs = {f'G{idx}:p': prog(1, expected_loading=10) for idx in range(1, 4)}
    fleet = Fleet(applications, programs, everywhere(list(programs)))
    # the load reserved by a pending start is seen by the next choice
    assert starts(fleet.deployment) == [('s1', 'G1:p'), ('s2', 'G2:p'), ('s3', 'G3:p')]


def test_less_loaded_spreads_processes_of_a_group():
    programs = {f'A:p{idx}': prog(1, expected_loading=10) for idx in range(1, 5)}
    fleet = Fleet({'A': app(1, starting_strategy=SS.LESS_LOADED)}, programs, everywhere(list(programs)))
    assert starts(fleet.deployment) == [('s1', 'A:p1'), ('s2', 'A:p2'), ('s3', 'A:p3'), ('s1', 'A:p4')]


def test_pending_load_admission():
    # 60 + 60 does not fit on s2: the second start of the group finds no resource
    programs = {'A:p1': prog(1, expected_loading=60, identifiers=['s2']),
                'A:p2': prog(1, expected_loading=60, identifiers=['s2'])}
    fleet = Fleet({'A': app(1)}, programs, everywhere(list(programs)))
    assert starts(fleet.deployment) == [('s2', 'A:p1')]
    assert [(b['name'], b['spawnerr']) for b in forced(fleet.deployment)] == [('p2', NO_RESOURCE)]


def test_running_loads_are_counted_once_started():
    programs = {'A:p1': prog(1, expected_loading=60, identifiers=['s2']),
                'A:p2': prog(2, expected_loading=50, identifiers=['s2', 's3'])}
    fleet = Fleet({'A': app(1, starting_strategy=SS.CONFIG)}, programs, everywhere(list(programs)))
    assert starts(fleet.deployment) == [('s2', 'A:p1')]
    assert starts(fleet.run('s2', 'A:p1')) == [('s3', 'A:p2')]


def single_instance_fleet(strategy: SS = SS.LESS_LOADED, identifiers: Sequence[str] = ('*',),
                          p0_on: Sequence[str] = IDS) -> Fleet:
    programs, processes = loader({'s1': 60, 's2': 10})
    # program identifiers are ignored by SINGLE_INSTANCE; p0 (start_sequence 0) does not count in the load
    programs.update({'S:p1': prog(1, expected_loading=20, identifiers=['s1']), 'S:p2': prog(2, expected_loading=30),
                     'S:p0': prog(0, expected_loading=51)})
    applications = {'S': app(1, distribution=DR.SINGLE_INSTANCE, starting_strategy=strategy,
                             identifiers=list(identifiers))}
    lists = everywhere(['S:p1', 'S:p2'])
    for identifier in p0_on:
        lists[identifier].append(info('S:p0'))
    return Fleet(applications, programs, merge(processes, lists))


def test_single_instance_less_loaded():
    fleet = single_instance_fleet()
    # s1 (60 + 50 > 100) is not valid; s3 is the less loaded
    assert starts(fleet.deployment) == [('s3', 'S:p1')]
    assert starts(fleet.run('s3', 'S:p1')) == [('s3', 'S:p2')]
    fleet.run('s3', 'S:p2')
    assert fleet.state == S.OPERATION


def test_single_instance_most_loaded():
    fleet = single_instance_fleet(SS.MOST_LOADED)
    assert starts(fleet.deployment) == [('s2', 'S:p1')]
    assert starts(fleet.run('s2', 'S:p1')) == [('s2', 'S:p2')]


def test_single_instance_application_identifiers():
    fleet = single_instance_fleet(SS.CONFIG, identifiers=['s3', 's2'])
    assert starts(fleet.deployment) == [('s3', 'S:p1')]
    fleet = single_instance_fleet(SS.CONFIG, identifiers=['s1', 's2', 's3'])
    assert starts(fleet.deployment) == [('s2', 'S:p1')]


def test_single_instance_excludes_instances_missing_a_process():
    # p0 is not configured on s3: s3 cannot host the whole application
    fleet = single_instance_fleet(SS.LESS_LOADED, p0_on=['s1', 's2'])
    assert starts(fleet.deployment) == [('s2', 'S:p1')]


def test_single_instance_excludes_instances_where_a_process_is_disabled():
    programs = {'S:p1': prog(1), 'S:p2': prog(2)}
    lists = everywhere(['S:p1', 'S:p2'])
    lists['s1'][1]['disabled'] = True
    fleet = Fleet({'S': app(1, distribution=DR.SINGLE_INSTANCE)}, programs, lists)
    assert starts(fleet.deployment) == [('s2', 'S:p1')]


def test_single_instance_application_load_fits_nowhere():
    programs, processes = loader({'s1': 60, 's2': 60, 's3': 55})
    programs.update({'S:p1': prog(1, expected_loading=20), 'S:p2': prog(2, expected_loading=30)})
    applications = {'S': app(1, distribution=DR.SINGLE_INSTANCE, starting_strategy=SS.LESS_LOADED)}
    fleet = Fleet(applications, programs, merge(processes, everywhere(['S:p1', 'S:p2'])))
    # every process fails when its group comes (non-required: the sequence goes on)
    assert starts(fleet.deployment) == []
    assert [(b['name'], b['spawnerr']) for b in forced(fleet.deployment)] == [('p1', NO_RESOURCE),
                                                                             ('p2', NO_RESOURCE)]
    assert fleet.state == S.OPERATION


def test_single_instance_application_load_fits_nowhere_required_abort():
    programs, processes = loader({'s1': 60, 's2': 60, 's3': 55})
    programs.update({'S:p1': prog(1, expected_loading=20, required=True), 'S:p2': prog(2, expected_loading=30)})
    applications = {'S': app(1, distribution=DR.SINGLE_INSTANCE)}
    fleet = Fleet(applications, programs, merge(processes, everywhere(['S:p1', 'S:p2'])))
    assert [b['name'] for b in forced(fleet.deployment)] == ['p1']
    assert fleet.process('S:p2').forced_state is None


def test_single_instance_applications_of_the_same_group_spread():
    applications = {name: app(1, distribution=DR.SINGLE_INSTANCE, starting_strategy=SS.LESS_LOADED)
                    for name in ('X', 'Y', 'Z')}
    programs = {f'{name}:{proc}': prog(idx, expected_loading=20)
                for name in ('X', 'Y', 'Z') for idx, proc in ((1, 'p1'), (2, 'p2'))}
    fleet = Fleet(applications, programs, everywhere(list(programs)))
    # the whole-application choice sees the instances chosen for the previous applications
    assert starts(fleet.deployment) == [('s1', 'X:p1'), ('s2', 'Y:p1'), ('s3', 'Z:p1')]


def test_single_instance_admission_of_the_second_application():
    applications = {name: app(1, distribution=DR.SINGLE_INSTANCE, identifiers=['s2']) for name in ('X', 'Y')}
    programs = {'X:p': prog(1, expected_loading=60), 'Y:p': prog(1, expected_loading=60)}
    fleet = Fleet(applications, programs, everywhere(list(programs)))
    assert starts(fleet.deployment) == [('s2', 'X:p')]
    assert [(b['group'], b['spawnerr']) for b in forced(fleet.deployment)] == [('Y', NO_RESOURCE)]


def single_node_fleet(**kwargs) -> Fleet:
    # s1 and s2 share a node (whatever their host names), s3 is alone
    nodes = {'s1': '10.0.0.1', 's2': '10.0.0.1', 's3': '10.0.0.3'}
    programs, processes = loader({'s1': 30, 's3': 40})
    programs.update({'D:p1': prog(1, expected_loading=35), 'D:p2': prog(1, expected_loading=5),
                     'D:p3': prog(2, expected_loading=10)})
    applications = {'D': app(1, distribution=DR.SINGLE_NODE, starting_strategy=SS.LESS_LOADED_NODE, **kwargs)}
    return Fleet(applications, programs, merge(processes, everywhere(['D:p1', 'D:p2', 'D:p3'])), nodes=nodes)


def test_single_node():
    fleet = single_node_fleet()
    assert fleet.core.instances['s1'].host_name != fleet.core.instances['s2'].host_name
    # node 10.0.0.1 (30) is chosen against 10.0.0.3 (40); then each process is placed on one of its instances,
    # seeing the loads reserved by the previous ones
    assert starts(fleet.deployment) == [('s2', 'D:p1'), ('s1', 'D:p2')]
    fleet.run('s2', 'D:p1')
    # s1: 30 + 5 = 35, s2: 35
    assert starts(fleet.run('s1', 'D:p2')) == [('s1', 'D:p3')]


def test_single_node_application_identifiers():
    fleet = single_node_fleet(identifiers=['s3', 's1'])
    # s2 is not a candidate: it is not retained although it is on the chosen node
    assert starts(fleet.deployment) == [('s1', 'D:p1'), ('s1', 'D:p2')]


def test_single_node_nothing_fits():
    nodes = {'s1': 'A', 's2': 'A', 's3': 'B'}
    programs, processes = loader({'s1': 50, 's3': 50})
    programs.update({'D:p1': prog(1, expected_loading=30), 'D:p2': prog(1, expected_loading=30)})
    applications = {'D': app(1, distribution=DR.SINGLE_NODE)}
    fleet = Fleet(applications, programs, merge(processes, everywhere(['D:p1', 'D:p2'])), nodes=nodes)
    assert starts(fleet.deployment) == []
    assert [b['name'] for b in forced(fleet.deployment)] == ['p1', 'p2']


def test_start_process_in_a_running_non_distributed_job():
    programs = {'S:p1': prog(1), 'S:p2': prog(2), 'S:p0': prog(0)}
    applications = {'S': app(1, distribution=DR.SINGLE_INSTANCE, identifiers=['s3', 's2'])}
    fleet = Fleet(applications, programs, everywhere(['S:p1', 'S:p2', 'S:p0']))
    assert starts(fleet.deployment) == [('s3', 'S:p1')]
    # a single process added to the current job goes to the instance retained for the application
    fleet.core.starter.start_process(SS.CONFIG, fleet.process('S:p0'))
    assert starts(fleet.take()) == [('s3', 'S:p0')]


def test_single_node_applications_of_the_same_group_spread():
    # the instances pre-assigned to the processes of X count as pending loads for the node choice of Y
    nodes = {'s1': 'A', 's2': 'A', 's3': 'B'}
    applications = {name: app(1, distribution=DR.SINGLE_NODE, starting_strategy=SS.LESS_LOADED)
                    for name in ('X', 'Y')}
    programs = {'X:p': prog(1, expected_loading=20), 'Y:p': prog(1, expected_loading=20)}
    fleet = Fleet(applications, programs, everywhere(list(programs)), nodes=nodes)
    assert starts(fleet.deployment) == [('s1', 'X:p'), ('s3', 'Y:p')]


# ---------------------------------------------------------------------------------------------------------------------
# Stopper (§6)
# ---------------------------------------------------------------------------------------------------------------------


def stop_fleet() -> Fleet:
    programs = {'K:p1': prog(1, stop_sequence=1), 'K:p2': prog(1, stop_sequence=2),
                'K:p3': prog(1, stop_sequence=2), 'K:p4': prog(1, stop_sequence=0), 'K:p5': prog(1, stop_sequence=3)}
    lists = everywhere(['K:p1', 'K:p2', 'K:p3', 'K:p4', 'K:p5'], stop=T0 - 10)
    for identifier, namespec in (('s2', 'K:p1'), ('s3', 'K:p2'), ('s2', 'K:p3'), ('s1', 'K:p4')):
        group, name = split_namespec(namespec)
        lists[identifier] = [info(namespec, PS.RUNNING, stopwaitsecs=10) if x['name'] == name else x
                             for x in lists[identifier]]
    fleet = Fleet({'K': app(1)}, programs, lists)
    assert fleet.state == S.OPERATION and starts(fleet.deployment) == []
    return fleet


def test_stop_sequence():
    fleet = stop_fleet()
    fleet.core.stopper.stop_application(fleet.application('K'))
    # p5 (greatest stop_sequence) runs nowhere: skipped; then p2 and p3 in parallel, only where they run
    assert stops(fleet.take()) == [('s3', 'K:p2'), ('s2', 'K:p3')]
    assert fleet.core.stopper.has_job('K') and fleet.core.stopper.in_progress()
    assert stops(fleet.event('s3', 'K:p2', PS.STOPPING)) == []
    assert stops(fleet.event('s3', 'K:p2', PS.STOPPED)) == []
    # any stopped-like state completes the command
    fleet.event('s2', 'K:p3', PS.STOPPING)
    assert stops(fleet.event('s2', 'K:p3', PS.EXITED)) == [('s2', 'K:p1')]
    assert stops(fleet.halt('s2', 'K:p1')) == [('s1', 'K:p4')]
    actions = fleet.halt('s1', 'K:p4')
    assert fleet.idle() and fleet.application('K').state == ApplicationStates.STOPPED
    assert published_states(actions)  # the stopping jobs flag changed


def test_stop_requests_to_every_instance_where_it_runs():
    fleet = Fleet({}, {}, handshake=False)
    fleet.add('s2', [info('U:u', PS.RUNNING)])
    fleet.add('s3', [info('U:u', PS.RUNNING)])
    fleet.add('s1', [info('U:u', stop=T0 - 5)])
    fleet.core.stopper.stop_process(fleet.process('U:u'))
    assert stops(fleet.take()) == [('s2', 'U:u'), ('s3', 'U:u')]
    fleet.halt('s2', 'U:u')
    assert fleet.core.stopper.in_progress()
    fleet.halt('s3', 'U:u')
    assert fleet.idle()


def test_stop_of_a_process_already_stopping_sends_nothing():
    fleet = stop_fleet()
    fleet.event('s2', 'K:p1', PS.STOPPING)
    fleet.core.stopper.stop_process(fleet.process('K:p1'))
    assert stops(fleet.take()) == [] and fleet.idle()


def test_stop_timeout_stopping_missing():
    fleet = stop_fleet()
    fleet.core.stopper.stop_process(fleet.process('K:p1'))
    assert stops(fleet.take()) == [('s2', 'K:p1')]
    assert forced(fleet.tick(2)) == []
    actions = fleet.tick()
    bodies = forced(actions)
    assert [(b['name'], b['state'], b['identifier'], b['spawnerr']) for b in bodies] == \
        [('p1', PS.STOPPED, 's2', STOPPING_MISSED)]
    process = fleet.process('K:p1')
    assert process.displayed_state == PS.STOPPED and process.forced_reason == STOPPING_MISSED
    assert fleet.idle()


def test_stop_timeout_stopped_missing():
    fleet = stop_fleet()  # stopwaitsecs 10: wait_ticks = 2 + 2
    fleet.core.stopper.stop_application(fleet.application('K'))
    fleet.take()
    fleet.halt('s2', 'K:p3')
    fleet.event('s3', 'K:p2', PS.STOPPING)
    assert forced(fleet.tick(4)) == []
    actions = fleet.tick()
    assert [(b['name'], b['spawnerr']) for b in forced(actions)] == [('p2', STOPPED_MISSED)]
    # the sequence goes on
    assert stops(actions) == [('s2', 'K:p1')]


def test_stop_completed_without_event_at_next_tick():
    fleet = stop_fleet()
    fleet.core.stopper.stop_process(fleet.process('K:p1'))
    fleet.take()
    fleet.add('s2', [info('K:p1', PS.STOPPED, stop=fleet.now)])
    assert fleet.core.stopper.in_progress()
    fleet.tick()
    assert fleet.idle()


def test_stop_application_follow_up_when_nothing_runs():
    fleet = stop_fleet()
    done = []
    fleet.core.stopper.stop_application(fleet.application('K'), then=lambda: done.append(True))
    fleet.serve(fleet.take())
    assert done == [True]
    fleet.core.stopper.stop_application(fleet.application('K'), then=lambda: done.append(False))
    assert done == [True, False] and fleet.idle()


# ---------------------------------------------------------------------------------------------------------------------
# RESTARTING / SHUTTING_DOWN (§6.3, §3.5)
# ---------------------------------------------------------------------------------------------------------------------


def global_stop_fleet() -> Fleet:
    applications = {'A': app(1, stop_sequence=1), 'B': app(1, stop_sequence=2), 'C': app(1, stop_sequence=3)}
    programs = {'A:a1': prog(1, stop_sequence=1), 'A:a2': prog(1, stop_sequence=2), 'B:b1': prog(1),
                'C:c1': prog(1)}
    processes = {'s1': [info('U:u1', PS.RUNNING)],  # unmanaged (stop_sequence 0)
                 's2': [info('A:a1', PS.RUNNING), info('A:a2', PS.RUNNING), info('C:c1', stop=T0 - 10)],
                 's3': [info('B:b1', PS.RUNNING), info('A:a2', stop=T0 - 10)]}
    fleet = Fleet(applications, programs, processes)
    assert fleet.state == S.OPERATION
    return fleet


@pytest.mark.parametrize('request_name, transient, final, action',
                         [('request_restart', 'RESTARTING', 'RESTART', act.RestartSupervisor),
                          ('request_shutdown', 'SHUTTING_DOWN', 'SHUTDOWN', act.ShutdownSupervisor)])
def test_stopping_everything(request_name, transient, final, action):
    fleet = global_stop_fleet()
    getattr(fleet.core, request_name)(fleet.now)
    actions = fleet.take()
    assert fleet.state.name == transient and transient in published_states(actions)
    # by decreasing application stop_sequence (C runs nowhere: no job), then by decreasing process stop_sequence
    assert stops(actions) == [('s3', 'B:b1')]
    assert stops(fleet.halt('s3', 'B:b1')) == [('s2', 'A:a2')]
    assert stops(fleet.halt('s2', 'A:a2')) == [('s2', 'A:a1')]
    assert stops(fleet.halt('s2', 'A:a1')) == [('s1', 'U:u1')]
    assert fleet.state.name == transient
    actions = fleet.halt('s1', 'U:u1')
    assert fleet.state.name == final
    assert [a for a in actions if isinstance(a, action)] == [action()]


def test_restarting_aborts_the_jobs():
    fleet = Fleet({'A': app(1)}, {'A:a1': prog(1), 'A:a2': prog(2)}, {'s2': infos(['A:a1', 'A:a2'])})
    assert starts(fleet.deployment) == [('s2', 'A:a1')] and fleet.state == S.DEPLOYMENT
    fleet.core.request_restart(fleet.now)
    fleet.take()
    # nothing runs: RESTART at once; the start job is forgotten
    assert fleet.state == S.RESTART and not fleet.core.starter.in_progress()
    assert starts(fleet.run('s2', 'A:a1')) == []


def test_restarting_stops_starting_processes():
    fleet = Fleet({'A': app(1)}, {'A:a1': prog(1), 'A:a2': prog(2)}, {'s2': infos(['A:a1', 'A:a2'])})
    fleet.event('s2', 'A:a1', PS.STARTING)
    fleet.core.request_shutdown(fleet.now)
    assert stops(fleet.take()) == [('s2', 'A:a1')]
    assert fleet.state == S.SHUTTING_DOWN
    fleet.event('s2', 'A:a1', PS.RUNNING)
    fleet.halt('s2', 'A:a1')
    assert fleet.state == S.SHUTDOWN


def test_restarting_with_stop_timeouts():
    fleet = global_stop_fleet()
    fleet.core.request_restart(fleet.now)
    fleet.take()
    actions = fleet.tick(3 * 4)
    assert [b['name'] for b in forced(actions)] == ['b1', 'a2', 'a1', 'u1']
    assert fleet.state == S.RESTART


# ---------------------------------------------------------------------------------------------------------------------
# Instance loss (§7.2)
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('strategy, expected', [(SFS.ABORT, []), (SFS.STOP, []), (SFS.CONTINUE, [('s1', 'A:a2')])])
def test_lost_instance_fails_its_start_commands(strategy, expected):
    programs = {'A:a1': prog(1, required=True, identifiers=['s2'], starting_failure_strategy=strategy,
                             running_failure_strategy=RFS.RESTART_PROCESS),
                'A:a2': prog(2)}
    fleet = Fleet({'A': app(1)}, programs, everywhere(['A:a1', 'A:a2']))
    assert starts(fleet.deployment) == [('s2', 'A:a1')]
    fleet.event('s2', 'A:a1', PS.STARTING)
    actions = fleet.lose('s2')
    # a starting failure, not a running failure: a1 is not restarted elsewhere
    assert starts(actions) == expected
    assert not fleet.core.failure_handler.pending()
    process = fleet.process('A:a1')
    assert process.state == PS.FATAL and process.info_map['s2']['spawnerr'] == 'Supervisor s2 lost'
    assert stops(actions) == []


def test_lost_instance_fails_a_start_command_not_started_yet():
    programs = {'A:a1': prog(1, required=True, identifiers=['s2']), 'A:a2': prog(2)}
    fleet = Fleet({'A': app(1)}, programs, everywhere(['A:a1', 'A:a2']))
    actions = fleet.lose('s2')
    assert starts(actions) == [] and forced(actions) == []
    assert fleet.idle() and fleet.state == S.OPERATION


def test_lost_process_with_a_planned_command_is_not_a_failure():
    programs = {'A:a1': prog(1, identifiers=['s3']), 'A:a2': prog(2, running_failure_strategy=RFS.STOP_APPLICATION)}
    processes = {'s1': [info('A:a2', stop=T0 - 10)], 's2': [info('A:a2', PS.RUNNING)],
                 's3': [info('A:a1', PS.FATAL, stop=T0 - 10, spawnerr='Exited too quickly')]}
    fleet = Fleet({'A': app(1)}, programs, processes)
    assert starts(fleet.deployment) == [('s3', 'A:a1')]
    actions = fleet.lose('s2')
    assert not fleet.core.failure_handler.pending()
    assert stops(actions) == []
    # a2 is started by the job when its group comes
    assert starts(fleet.run('s3', 'A:a1')) == [('s1', 'A:a2')]
    actions = fleet.run('s1', 'A:a2')
    assert stops(actions) == [] and fleet.state == S.OPERATION
    assert fleet.application('A').state == ApplicationStates.RUNNING


def test_lost_instance_fails_its_stop_commands():
    processes = {'s2': [info('U:u', PS.RUNNING)], 's3': [info('U:u', PS.RUNNING)]}
    fleet = Fleet({}, {}, processes)
    fleet.core.stopper.stop_process(fleet.process('U:u'))
    assert stops(fleet.take()) == [('s2', 'U:u'), ('s3', 'U:u')]
    fleet.lose('s2')
    assert fleet.core.stopper.in_progress()
    fleet.halt('s3', 'U:u')
    assert fleet.idle()


def test_lost_non_distributed_application_restarted_elsewhere():
    programs, processes = loader({'s1': 50})
    programs.update({'B:b1': prog(1, expected_loading=10, running_failure_strategy=RFS.RESTART_APPLICATION),
                     'B:b2': prog(2, expected_loading=10, running_failure_strategy=RFS.RESTART_APPLICATION)})
    applications = {'B': app(1, distribution=DR.SINGLE_INSTANCE, starting_strategy=SS.LESS_LOADED)}
    lists = everywhere(['B:b1', 'B:b2'], stop=T0 - 10)
    with_state(with_state(lists, 's2', 'B:b1', PS.RUNNING), 's2', 'B:b2', PS.RUNNING)
    fleet = Fleet(applications, programs, merge(processes, lists))
    assert starts(fleet.deployment) == []
    actions = fleet.lose('s2')
    # restarted at once with its starting strategy among the RUNNING instances: s3 is less loaded than s1
    assert starts(actions) == [('s3', 'B:b1')]
    assert starts(fleet.run('s3', 'B:b1')) == [('s3', 'B:b2')]
    fleet.run('s3', 'B:b2')
    assert fleet.idle() and not fleet.core.failure_handler.pending()


def promotion_fleet(c1_sequence: int = 1, keep_running: bool = False) -> Fleet:
    programs = {'C:c1': prog(c1_sequence, running_failure_strategy=RFS.RESTART_PROCESS), 'C:c2': prog(2),
                'C:c3': prog(0)}
    lists = everywhere(['C:c1', 'C:c2', 'C:c3'], stop=T0 - 10)
    with_state(lists, 's2', 'C:c1', PS.RUNNING)
    if keep_running:
        with_state(lists, 's3', 'C:c3', PS.RUNNING)
    return Fleet({'C': app(1)}, programs, lists)


def test_restart_process_promoted_when_the_application_is_stopped():
    fleet = promotion_fleet()
    assert starts(fleet.deployment) == []
    actions = fleet.lose('s2')
    assert fleet.application('C').state == ApplicationStates.STOPPED
    # the whole application is started again
    assert starts(actions) == [('s1', 'C:c1')]
    assert starts(fleet.run('s1', 'C:c1')) == [('s1', 'C:c2')]


def test_restart_process_not_promoted_when_the_application_runs():
    fleet = promotion_fleet(keep_running=True)
    actions = fleet.lose('s2')
    assert starts(actions) == [('s1', 'C:c1')]
    assert starts(fleet.run('s1', 'C:c1')) == []
    assert fleet.idle() and fleet.process('C:c2').state == PS.STOPPED


def test_restart_process_not_promoted_without_start_sequence():
    fleet = promotion_fleet(c1_sequence=0)
    actions = fleet.lose('s2')
    assert starts(actions) == [('s1', 'C:c1')]
    assert starts(fleet.run('s1', 'C:c1')) == []
    assert fleet.idle()


@pytest.mark.parametrize('strategy', [RFS.STOP_APPLICATION, RFS.RESTART_APPLICATION, RFS.CONTINUE])
def test_lost_process_application_strategies(strategy):
    programs = {'C:c1': prog(1, running_failure_strategy=strategy), 'C:c2': prog(1)}
    lists = everywhere(['C:c1', 'C:c2'], stop=T0 - 10)
    with_state(with_state(lists, 's2', 'C:c1', PS.RUNNING), 's3', 'C:c2', PS.RUNNING)
    fleet = Fleet({'C': app(1)}, programs, lists)
    actions = fleet.lose('s2')
    if strategy == RFS.CONTINUE:
        assert starts(actions) == [] and stops(actions) == []
        assert fleet.logger.count('info', 'nothing to do for C:c1') == 1
    else:
        assert stops(actions) == [('s3', 'C:c2')]
        actions = fleet.halt('s3', 'C:c2')
        expected = [('s1', 'C:c1'), ('s1', 'C:c2')] if strategy == RFS.RESTART_APPLICATION else []
        assert starts(actions) == expected


@pytest.mark.parametrize('strategy', [RFS.RESTART, RFS.SHUTDOWN])
def test_restart_and_shutdown_ignored_on_instance_loss(strategy):
    programs = {'X:x1': prog(1, running_failure_strategy=strategy)}
    lists = everywhere(['X:x1'], stop=T0 - 10)
    with_state(lists, 's2', 'X:x1', PS.RUNNING)
    fleet = Fleet({'X': app(1)}, programs, lists)
    actions = fleet.lose('s2')
    assert fleet.state == S.OPERATION and published_states(actions) == []
    assert starts(actions) == [] and not fleet.core.failure_handler.pending()
    assert fleet.process('X:x1').state == PS.FATAL


def test_instance_loss_by_inactivity_applies_the_strategies():
    fleet = promotion_fleet(keep_running=True)
    assert starts(fleet.tick(2, silent=['s2'])) == []
    actions = fleet.tick(silent=['s2'])
    assert fleet.core.instances['s2'].state == IS.SILENT
    assert starts(actions) == [('s1', 'C:c1')]


def test_automatic_restart_keeps_extra_arguments():
    fleet = promotion_fleet(keep_running=True)
    fleet.event('s2', 'C:c1', PS.RUNNING, extra_args='-x 1')
    assert fleet.process('C:c1').extra_args == '-x 1'
    actions = fleet.lose('s2')
    assert start_args(actions) == [('s1', 'C:c1', '-x 1')]


# ---------------------------------------------------------------------------------------------------------------------
# Crash path (§7.1)
# ---------------------------------------------------------------------------------------------------------------------


def crash_fleet(strategy: RFS) -> Fleet:
    programs = {'Y:y1': prog(1, running_failure_strategy=strategy), 'Y:y2': prog(1)}
    lists = everywhere(['Y:y1', 'Y:y2'], stop=T0 - 10)
    with_state(with_state(lists, 's2', 'Y:y1', PS.RUNNING), 's3', 'Y:y2', PS.RUNNING)
    processes = merge(lists, {'s3': [info('U:u', PS.RUNNING)]})
    fleet = Fleet({'Y': app(1)}, programs, processes)
    assert fleet.state == S.OPERATION
    return fleet


def test_crash_stop_application():
    fleet = crash_fleet(RFS.STOP_APPLICATION)
    actions = fleet.event('s2', 'Y:y1', PS.EXITED, expected=False)
    # handled at the end of the event
    assert stops(actions) == [('s3', 'Y:y2')]
    fleet.halt('s3', 'Y:y2')
    assert fleet.idle() and fleet.application('Y').state == ApplicationStates.STOPPED


def test_crash_restart_application():
    fleet = crash_fleet(RFS.RESTART_APPLICATION)
    actions = fleet.event('s2', 'Y:y1', PS.FATAL, expected=False)
    assert stops(actions) == [('s3', 'Y:y2')] and starts(actions) == []
    actions = fleet.halt('s3', 'Y:y2')
    assert starts(actions) == [('s1', 'Y:y1'), ('s1', 'Y:y2')]


@pytest.mark.parametrize('strategy', [RFS.STOP_APPLICATION, RFS.RESTART_APPLICATION])
def test_expected_exit_is_not_a_crash(strategy):
    fleet = crash_fleet(strategy)
    actions = fleet.event('s2', 'Y:y1', PS.EXITED, expected=True)
    assert stops(actions) == [] and starts(actions) == [] and not fleet.core.failure_handler.pending()


@pytest.mark.parametrize('strategy', [RFS.CONTINUE, RFS.RESTART_PROCESS])
def test_crash_left_to_supervisor(strategy):
    fleet = crash_fleet(strategy)
    actions = fleet.event('s2', 'Y:y1', PS.FATAL, expected=False)
    assert stops(actions) == [] and starts(actions) == [] and not fleet.core.failure_handler.pending()
    assert fleet.state == S.OPERATION


@pytest.mark.parametrize('strategy, transient, stopped', [(RFS.RESTART, S.RESTARTING, S.RESTART),
                                                          (RFS.SHUTDOWN, S.SHUTTING_DOWN, S.SHUTDOWN)])
def test_crash_restart_shutdown(strategy, transient, stopped):
    fleet = crash_fleet(strategy)
    actions = fleet.event('s2', 'Y:y1', PS.FATAL, expected=False)
    assert fleet.state == transient and transient.name in published_states(actions)
    assert stops(actions) == [('s3', 'Y:y2')]
    fleet.serve(actions)
    assert fleet.state == stopped


def forced_fatal_fleet(strategy: RFS) -> Fleet:
    programs = {'Z:z1': prog(1, identifiers=['s2'], running_failure_strategy=strategy), 'Z:z2': prog(1)}
    lists = everywhere(['Z:z1', 'Z:z2'], stop=T0 - 10)
    # z1 failed before: the application is in failure and planned at DEPLOYMENT
    with_state(with_state(lists, 's2', 'Z:z1', PS.FATAL, stop=T0 - 5, spawnerr='Exited too quickly'),
               's3', 'Z:z2', PS.RUNNING)
    fleet = Fleet({'Z': app(1)}, programs, merge(lists, {'s3': [info('U:u', PS.RUNNING)]}))
    assert starts(fleet.deployment) == [('s2', 'Z:z1')]
    return fleet


@pytest.mark.parametrize('strategy', [RFS.STOP_APPLICATION, RFS.RESTART_APPLICATION])
def test_forced_fatal_does_not_trigger_application_strategies(strategy):
    fleet = forced_fatal_fleet(strategy)
    actions = fleet.tick(3)
    assert [b['spawnerr'] for b in forced(actions)] == [STARTING_MISSED]
    assert fleet.process('Z:z1').crashed()
    assert stops(actions) == [] and starts(actions) == [] and not fleet.core.failure_handler.pending()
    assert fleet.state == S.OPERATION


@pytest.mark.parametrize('strategy, transient', [(RFS.RESTART, S.RESTARTING), (RFS.SHUTDOWN, S.SHUTTING_DOWN)])
def test_forced_fatal_triggers_restart_shutdown(strategy, transient):
    fleet = forced_fatal_fleet(strategy)
    actions = fleet.tick(3)
    assert [b['spawnerr'] for b in forced(actions)] == [STARTING_MISSED]
    assert fleet.state == transient
    # Z (stop_sequence 1) first, then U (unmanaged, 0)
    assert stops(actions) == [('s3', 'Z:z2')]
    assert stops(fleet.halt('s3', 'Z:z2')) == [('s3', 'U:u')]


def test_no_resource_restart_aborts_the_rest_of_the_group():
    programs = {'Q:q1': prog(1, identifiers=['s3'], running_failure_strategy=RFS.RESTART), 'Q:q2': prog(1),
                'Q:q3': prog(2)}
    processes = merge({x: infos(['Q:q1', 'Q:q2', 'Q:q3']) for x in ('s1', 's2')}, {'s2': [info('U:u', PS.RUNNING)]})
    fleet = Fleet({'Q': app(1)}, programs, processes)
    actions = fleet.deployment
    assert [b['spawnerr'] for b in forced(actions)] == [NO_RESOURCE]
    # the forced FATAL leads to RESTARTING at once, which aborts the start job: q2 is not requested any more
    assert fleet.state == S.RESTARTING
    assert starts(actions) == [] and stops(actions) == [('s2', 'U:u')]
    fleet.serve(actions)
    assert fleet.state == S.RESTART


def test_crash_evaluated_on_the_synthetic_state():
    programs = {'X:x1': prog(1, running_failure_strategy=RFS.SHUTDOWN)}
    lists = everywhere(['X:x1'], stop=T0 - 10)
    with_state(with_state(lists, 's2', 'X:x1', PS.RUNNING), 's3', 'X:x1', PS.RUNNING)
    fleet = Fleet({'X': app(1)}, programs, lists)
    assert fleet.state == S.CONCILIATION  # USER strategy
    fleet.event('s2', 'X:x1', PS.FATAL, expected=False)
    # still RUNNING on s3: not crashed
    assert fleet.process('X:x1').state == PS.RUNNING and fleet.state == S.OPERATION
    fleet.event('s3', 'X:x1', PS.FATAL, expected=False)
    assert fleet.state == S.SHUTDOWN


# ---------------------------------------------------------------------------------------------------------------------
# Failure handler (§7.3)
# ---------------------------------------------------------------------------------------------------------------------


def handler_fleet() -> Tuple[Fleet, FailureHandler]:
    programs = {'A:p1': prog(1), 'A:p2': prog(2), 'A:p0': prog(0), 'B:q': prog(1)}
    fleet = Fleet({'A': app(1), 'B': app(1)}, programs, everywhere(list(programs), stop=T0 - 10))
    return fleet, fleet.core.failure_handler


def jobs_of(handler: FailureHandler) -> Tuple[List[str], List[str], List[str], List[str]]:
    return (list(handler.stop_applications), list(handler.restart_applications), list(handler.restart_processes),
            list(handler.continue_processes))


def test_failure_handler_restart_application_over_process_jobs():
    fleet, handler = handler_fleet()
    p1, p2, p0, q = (fleet.process(x) for x in ('A:p1', 'A:p2', 'A:p0', 'B:q'))
    handler.add(p1, RFS.RESTART_PROCESS)
    handler.add(p2, RFS.CONTINUE)
    handler.add(p0, RFS.RESTART_PROCESS)
    handler.add(q, RFS.RESTART_PROCESS)
    assert jobs_of(handler) == ([], [], ['A:p1', 'A:p0', 'B:q'], ['A:p2'])
    handler.add(p1, RFS.RESTART_APPLICATION)
    # process jobs of A with start_sequence > 0 are covered by the application restart
    assert jobs_of(handler) == ([], ['A'], ['A:p0', 'B:q'], [])
    handler.add(p2, RFS.RESTART_PROCESS)
    handler.add(p2, RFS.CONTINUE)
    handler.add(p0, RFS.CONTINUE)  # p0 is to be restarted
    assert jobs_of(handler) == ([], ['A'], ['A:p0', 'B:q'], [])


def test_failure_handler_stop_application_over_everything():
    fleet, handler = handler_fleet()
    p1, p2, p0, q = (fleet.process(x) for x in ('A:p1', 'A:p2', 'A:p0', 'B:q'))
    handler.add(p1, RFS.RESTART_APPLICATION)
    handler.add(p0, RFS.RESTART_PROCESS)
    handler.add(p2, RFS.CONTINUE)
    handler.add(q, RFS.CONTINUE)
    handler.add(p2, RFS.STOP_APPLICATION)
    assert jobs_of(handler) == (['A'], [], [], ['B:q'])
    for process in (p1, p2, p0):
        for strategy in (RFS.RESTART_APPLICATION, RFS.RESTART_PROCESS, RFS.CONTINUE):
            handler.add(process, strategy)
    assert jobs_of(handler) == (['A'], [], [], ['B:q'])


def test_failure_handler_restart_process_over_continue():
    fleet, handler = handler_fleet()
    p1 = fleet.process('A:p1')
    handler.add(p1, RFS.CONTINUE)
    handler.add(p1, RFS.RESTART_PROCESS)
    assert jobs_of(handler) == ([], [], ['A:p1'], [])
    handler.add(p1, RFS.CONTINUE)
    assert jobs_of(handler) == ([], [], ['A:p1'], [])
    handler.abort()
    assert not handler.pending()


def test_failure_handler_deferred_while_the_application_is_being_started():
    programs = {'D:d1': prog(1), 'D:d2': prog(2), 'D:d0': prog(0, running_failure_strategy=RFS.STOP_APPLICATION)}
    lists = everywhere(list(programs), stop=T0 - 10)
    with_state(lists, 's3', 'D:d0', PS.RUNNING)
    fleet = Fleet({'D': app(1)}, programs, lists)
    fleet.core.request_restart_sequence(fleet.now)
    assert starts(fleet.take()) == [('s1', 'D:d1')]
    actions = fleet.event('s3', 'D:d0', PS.EXITED, expected=False)
    assert stops(actions) == [] and list(fleet.core.failure_handler.stop_applications) == ['D']
    assert starts(fleet.run('s1', 'D:d1')) == [('s1', 'D:d2')]
    assert fleet.core.failure_handler.pending()
    # the start job is over: the application is stopped at once, by decreasing stop_sequence
    actions = fleet.run('s1', 'D:d2')
    assert stops(actions) == [('s1', 'D:d2')] and not fleet.core.failure_handler.pending()
    assert stops(fleet.halt('s1', 'D:d2')) == [('s1', 'D:d1')]


def test_failure_handler_deferred_while_the_application_is_being_stopped():
    fleet = promotion_fleet(keep_running=True)
    fleet.core.stopper.stop_process(fleet.process('C:c3'))
    assert stops(fleet.take()) == [('s3', 'C:c3')]
    actions = fleet.lose('s2')
    assert starts(actions) == [] and list(fleet.core.failure_handler.restart_processes) == ['C:c1']
    actions = fleet.halt('s3', 'C:c3')
    assert starts(actions) == [('s1', 'C:c1')]


def test_failure_handler_restart_application_not_started_if_not_stopped():
    fleet, handler = handler_fleet()
    fleet.event('s2', 'A:p1', PS.STARTING)
    fleet.event('s2', 'A:p1', PS.RUNNING)
    handler.add(fleet.process('A:p1'), RFS.RESTART_APPLICATION)
    handler.trigger()
    assert stops(fleet.take()) == [('s2', 'A:p1')]
    # someone starts p2 while the application is stopped: the restart does not happen
    fleet.event('s3', 'A:p2', PS.STARTING)
    assert starts(fleet.halt('s2', 'A:p1')) == []


def test_failure_handler_not_triggered_out_of_working_states():
    fleet, handler = handler_fleet()
    fleet.core.request_restart(fleet.now)
    fleet.take()
    assert fleet.state == S.RESTART
    handler.add(fleet.process('A:p1'), RFS.RESTART_PROCESS)
    assert starts(fleet.tick()) == [] and handler.pending()


def test_restart_process_running_then_start_with_extra_args():
    fleet, _ = handler_fleet()
    fleet.run('s2', 'A:p0', extra_args='-a')
    restart_process(fleet.core, fleet.process('A:p0'), SS.CONFIG, '-b')
    actions = fleet.take()
    assert stops(actions) == [('s2', 'A:p0')] and starts(actions) == []
    assert start_args(fleet.halt('s2', 'A:p0')) == [('s1', 'A:p0', '-b')]


def test_restart_process_stopped_starts_at_once():
    fleet, _ = handler_fleet()
    restart_process(fleet.core, fleet.process('A:p2'), SS.MOST_LOADED, '')
    assert starts(fleet.take()) == [('s3', 'A:p2')]


# ---------------------------------------------------------------------------------------------------------------------
# Conciliation (§4.5)
# ---------------------------------------------------------------------------------------------------------------------


def conflict_fleet(strategy: CS, rfs: RFS = RFS.CONTINUE, s3_state: PS = PS.RUNNING, s3_start: float = T0 - 50,
                   ) -> Fleet:
    programs = {'K:p': prog(1, running_failure_strategy=rfs), 'K:q': prog(1)}
    processes = {'s1': [info('K:p', PS.RUNNING, start=T0 - 75, extra_args='-v'), info('K:q', stop=T0 - 10)],
                 's2': [info('K:p', PS.RUNNING, start=T0 - 100, extra_args='-v'), info('K:q', PS.RUNNING)],
                 's3': [info('K:p', s3_state, start=s3_start, extra_args='-v')]}
    return Fleet({'K': app(1)}, programs, processes, conciliation=strategy)


def test_uptime():
    fleet = conflict_fleet(CS.USER, s3_state=PS.STARTING)
    process = fleet.process('K:p')
    assert uptime(process, 's1', fleet.now) == 75 and uptime(process, 's2', fleet.now) == 100
    assert uptime(process, 's3', fleet.now) == 0
    assert uptime(process, 'unknown', fleet.now) == 0


def test_conciliation_user_does_nothing():
    fleet = conflict_fleet(CS.USER)
    assert fleet.state == S.CONCILIATION and 'CONCILIATION' in published_states(fleet.deployment)
    assert stops(fleet.deployment) == []
    assert stops(fleet.tick(3)) == [] and fleet.state == S.CONCILIATION
    # a user resolves the conflict
    fleet.halt('s1', 'K:p')
    assert fleet.state == S.CONCILIATION
    fleet.halt('s2', 'K:p')
    assert fleet.state == S.OPERATION


@pytest.mark.parametrize('strategy, s3_state, s3_start, stopped', [
    (CS.SENICIDE, PS.RUNNING, T0 - 50, ['s1', 's2']),
    (CS.INFANTICIDE, PS.RUNNING, T0 - 50, ['s1', 's3']),
    (CS.SENICIDE, PS.STARTING, T0 - 500, ['s1', 's2']),  # a starting copy is the youngest
    (CS.INFANTICIDE, PS.STARTING, T0 - 500, ['s1', 's3']),
    (CS.STOP, PS.RUNNING, T0 - 50, ['s1', 's2', 's3'])])
def test_conciliation_stops(strategy, s3_state, s3_start, stopped):
    fleet = conflict_fleet(strategy, s3_state=s3_state, s3_start=s3_start)
    actions = fleet.deployment
    assert fleet.state == S.CONCILIATION
    assert stops(actions) == [(x, 'K:p') for x in stopped] and starts(actions) == []
    fleet.serve(actions)
    assert fleet.state == S.OPERATION and fleet.idle()
    assert not fleet.core.context.conflicts()
    kept = sorted(set(IDS) - set(stopped))
    assert sorted(fleet.process('K:p').running_identifiers) == kept


def test_conciliation_restart():
    fleet = conflict_fleet(CS.RESTART)
    actions = fleet.deployment
    assert stops(actions) == [('s1', 'K:p'), ('s2', 'K:p'), ('s3', 'K:p')]
    fleet.halt('s1', 'K:p')
    fleet.halt('s2', 'K:p')
    assert fleet.state == S.CONCILIATION
    # started once, with the starting strategy of the application, keeping the extra arguments
    actions = fleet.halt('s3', 'K:p')
    assert start_args(actions) == [('s1', 'K:p', '-v')]
    assert fleet.state == S.CONCILIATION
    fleet.run('s1', 'K:p')
    assert fleet.state == S.OPERATION and fleet.process('K:p').running_identifiers == {'s1'}


@pytest.mark.parametrize('rfs', [RFS.CONTINUE, RFS.RESTART, RFS.SHUTDOWN])
def test_conciliation_running_failure_only_stops(rfs):
    fleet = conflict_fleet(CS.RUNNING_FAILURE, rfs)
    done = fleet.serve(fleet.deployment)
    assert stops(done) == [('s1', 'K:p'), ('s2', 'K:p'), ('s3', 'K:p')] and starts(done) == []
    assert fleet.state == S.OPERATION and fleet.process('K:p').state == PS.STOPPED
    assert not fleet.core.failure_handler.pending()


def test_conciliation_running_failure_restart_process():
    fleet = conflict_fleet(CS.RUNNING_FAILURE, RFS.RESTART_PROCESS)
    done = fleet.serve(fleet.deployment)
    assert stops(done) == [('s1', 'K:p'), ('s2', 'K:p'), ('s3', 'K:p')]
    assert start_args(done) == [('s1', 'K:p', '-v')]
    assert fleet.state == S.OPERATION and fleet.process('K:p').running_identifiers == {'s1'}


def test_conciliation_running_failure_stop_application():
    fleet = conflict_fleet(CS.RUNNING_FAILURE, RFS.STOP_APPLICATION)
    done = fleet.serve(fleet.deployment)
    assert stops(done) == [('s1', 'K:p'), ('s2', 'K:p'), ('s3', 'K:p'), ('s2', 'K:q')] and starts(done) == []
    assert fleet.application('K').state == ApplicationStates.STOPPED and fleet.state == S.OPERATION


def test_conciliation_running_failure_restart_application():
    fleet = conflict_fleet(CS.RUNNING_FAILURE, RFS.RESTART_APPLICATION)
    done = fleet.serve(fleet.deployment)
    assert stops(done) == [('s1', 'K:p'), ('s2', 'K:p'), ('s3', 'K:p'), ('s2', 'K:q')]
    assert starts(done) == [('s1', 'K:p'), ('s1', 'K:q')]
    assert fleet.state == S.OPERATION


def test_conciliation_on_request():
    fleet = conflict_fleet(CS.USER)
    conciliate(fleet.core, CS.INFANTICIDE, fleet.core.context.conflicts())
    assert stops(fleet.take()) == [('s1', 'K:p'), ('s3', 'K:p')]


def test_unmanaged_conflicts_are_not_conciliated():
    processes = {x: [info('U:u', PS.RUNNING)] for x in IDS}
    fleet = Fleet({}, {}, processes, conciliation=CS.STOP)
    assert fleet.state == S.OPERATION and stops(fleet.deployment) == []


def test_conflict_appearing_in_operation():
    fleet = Fleet({'K': app(1)}, {'K:p': prog(1)}, everywhere(['K:p'], stop=T0 - 10), conciliation=CS.SENICIDE)
    assert fleet.state == S.OPERATION
    fleet.run('s2', 'K:p')
    assert fleet.state == S.OPERATION
    actions = fleet.event('s3', 'K:p', PS.STARTING)
    # the starting copy is the youngest: the copy of s2 is stopped
    assert fleet.state == S.CONCILIATION and stops(actions) == [('s2', 'K:p')]
    fleet.event('s3', 'K:p', PS.RUNNING)
    fleet.halt('s2', 'K:p')
    assert fleet.state == S.OPERATION


def test_restart_application_program_that_cannot_start():
    programs = {'R:r1': prog(1, running_failure_strategy=RFS.RESTART_APPLICATION), 'R:r2': prog(1)}
    fleet = Fleet({'R': app(1)}, programs, {'s2': infos(list(programs))})
    assert starts(fleet.deployment) == [('s2', 'R:r1'), ('s2', 'R:r2')]
    fleet.event('s2', 'R:r1', PS.STARTING)
    fleet.event('s2', 'R:r1', PS.BACKOFF)
    actions = fleet.event('s2', 'R:r1', PS.FATAL, expected=False)
    # a real crash: the application restart waits for the end of the start job
    assert stops(actions) == [] and list(fleet.core.failure_handler.restart_applications) == ['R']
    actions = fleet.run('s2', 'R:r2')
    assert stops(actions) == [('s2', 'R:r2')]
    assert starts(fleet.halt('s2', 'R:r2')) == [('s2', 'R:r1'), ('s2', 'R:r2')]


def test_no_resource_restart_aborts_the_other_applications_of_the_group():
    programs = {'Q:q1': prog(1, identifiers=['s3'], running_failure_strategy=RFS.RESTART), 'P:p': prog(1)}
    fleet = Fleet({'Q': app(1), 'P': app(1)}, programs, {'s2': infos(['Q:q1', 'P:p'])})
    assert fleet.state == S.RESTART
    assert starts(fleet.deployment) == []


def test_slave_does_not_handle_failures():
    programs = {'Y:y1': prog(1, running_failure_strategy=RFS.STOP_APPLICATION),
                'Y:y2': prog(1, running_failure_strategy=RFS.RESTART_PROCESS),
                'Y:y3': prog(1, running_failure_strategy=RFS.SHUTDOWN), 'Y:y4': prog(1)}
    lists = everywhere(list(programs), identifiers=('s1', 's2', 's3'), stop=T0 - 10)
    for namespec in ('Y:y1', 'Y:y3', 'Y:y4'):
        with_state(lists, 's3', namespec, PS.RUNNING)
    with_state(lists, 's1', 'Y:y2', PS.RUNNING)
    fleet = Fleet({'Y': app(1)}, programs, lists, identifiers=('s2', 's1', 's3'))
    assert fleet.core.master == 's1' and not fleet.core.is_master
    actions = fleet.event('s3', 'Y:y1', PS.FATAL, expected=False)
    actions += fleet.event('s3', 'Y:y3', PS.FATAL, expected=False)
    actions += fleet.lose('s1')
    assert stops(actions) == [] and starts(actions) == [] and not fleet.core.failure_handler.pending()
    assert fleet.state == S.INITIALIZATION  # the Master is lost


def test_deferred_process_restart_of_a_removed_application():
    fleet = conflict_fleet(CS.RUNNING_FAILURE, RFS.RESTART_PROCESS)
    assert stops(fleet.deployment) == [('s1', 'K:p'), ('s2', 'K:p'), ('s3', 'K:p')]
    assert list(fleet.core.failure_handler.restart_processes) == ['K:p']
    # the group is removed everywhere before the stops complete
    fleet.core.on_local_process_removed('K', '*', fleet.now)
    for identifier in ('s2', 's3'):
        fleet.core.on_message(identifier, IM.PROCESS_REMOVED, {'group': 'K', 'name': '*'}, fleet.now)
    assert 'K' not in fleet.core.context.applications
    actions = fleet.take() + fleet.tick()
    assert starts(actions) == [] and not fleet.core.failure_handler.pending()
    assert fleet.idle() and fleet.state == S.OPERATION
