"""The decision core of one instance: instance liveness, handshakes, the Supvisors state machine and the Master
election.

Pure and deterministic: every entry point takes the current time, updates the state and queues actions in the
outbox (``take_actions``); no socket, thread or clock is touched here. The owner thread (supervisord's) is the only
caller, so no lock is needed.

Differences from upstream 0.15 that make the fleet faster without changing the contract:

* INITIALIZATION ends as soon as no instance is left to wait for (or every core identifier is RUNNING), instead
  of waiting for ticks and for a minimum of 15 seconds;
* the local instance validates itself at once (no XML-RPC to itself), and on a re-entry in INITIALIZATION the
  instances that were known alive are questioned again immediately rather than at their next tick;
* an instance whose supervisord is gone (reported by the bus: established link broken, connection refused) is
  invalidated at once, and an instance whose tick counter goes backwards (restarted between two ticks) is
  invalidated at once too;
* ISOLATING instances become ISOLATED at the end of the event that isolated them;
* the inactivity of instances that were ticking is checked at every local tick, also during the synchro_timeout
  that follows an entry in INITIALIZATION (only the instances never heard of wait for synchro_timeout);
* a slave does not follow a Master that reports OFF or INITIALIZATION (it waits for the Master to decide).

Partition safety (option ``partition_safety``, off by default, which is the 0.15 behaviour): 0.15 lets each side of
a network partition elect its own Master and restart the processes of the instances it lost, so that after the
heal every such process runs twice. With the option, only an instance that holds a *quorum* starts processes:
strictly more than half of the instances of ``supvisors_list`` RUNNING as seen locally (itself included), or every
core identifier RUNNING when ``core_identifiers`` is set. Two sides of a partition cannot both hold a strict
majority, so at most one of them starts anything; a side that is exactly half of an even fleet has no quorum unless
it holds every core identifier. Without quorum an instance keeps its running processes and its state machine, and
stops stay allowed, but no DEPLOYMENT start, no failure-handler restart and no start request is carried out; the
restarts decided meanwhile are dropped rather than deferred, since they were decided on a view that the heal makes
obsolete. When the partition heals, the sides meet again, a single Master remains (split-brain repair of the
handshake), and the copies that the minority kept running while the majority restarted them elsewhere are conflicts
resolved by ``conciliation_strategy``.
"""

import math
from typing import Any, Dict, List, Optional

from . import actions as act
from .failures import FailureHandler, conciliate
from .instances import InstanceStatus, InvalidTransition
from .jobs import Starter, Stopper
from ..model.context import Context, UnknownProcess
from ..model.resolver import DefaultResolver
from ..ttypes import (ConciliationStrategies, InternalMessages, ProcessStates, RunningFailureStrategies,
                      SupvisorsInstanceStates, SupvisorsStates)

S = SupvisorsStates
IS = SupvisorsInstanceStates

# transitions that a Master accepts (slaves follow the Master and are not checked)
MASTER_TRANSITIONS = {
    S.OFF: (S.INITIALIZATION,),
    S.INITIALIZATION: (S.DEPLOYMENT,),
    S.DEPLOYMENT: (S.INITIALIZATION, S.OPERATION, S.RESTARTING, S.SHUTTING_DOWN),
    S.OPERATION: (S.CONCILIATION, S.DEPLOYMENT, S.INITIALIZATION, S.RESTARTING, S.SHUTTING_DOWN),
    S.CONCILIATION: (S.OPERATION, S.INITIALIZATION, S.RESTARTING, S.SHUTTING_DOWN),
    S.RESTARTING: (S.RESTART,),
    S.SHUTTING_DOWN: (S.SHUTDOWN,),
    S.RESTART: (),
    S.SHUTDOWN: (),
}

WORKING_STATES = (S.DEPLOYMENT, S.OPERATION, S.CONCILIATION)
STOPPING_STATES = (S.RESTARTING, S.RESTART, S.SHUTTING_DOWN, S.SHUTDOWN)


class SupvisorsCore:

    def __init__(self, local_identifier: str, instances: List[InstanceStatus], core_identifiers: List[str],
                 synchro_timeout: float, inactivity_ticks: int, auto_fence: bool, logger,
                 context: Optional[Context] = None, tick_period: float = 5.0,
                 conciliation_strategy: ConciliationStrategies = ConciliationStrategies.USER,
                 partition_safety: bool = False):
        self.local_identifier = local_identifier
        self.instances: Dict[str, InstanceStatus] = {status.identifier: status for status in instances}
        self.identifiers = list(self.instances)  # supvisors_list order
        self.node_of = {status.identifier: status.node_key for status in instances}
        self.tick_period = tick_period
        self.conciliation_strategy = conciliation_strategy
        self.core_identifiers = [x for x in core_identifiers if x in self.instances]
        self.synchro_timeout = synchro_timeout
        self.inactivity_ticks = inactivity_ticks
        self.auto_fence = auto_fence
        self.logger = logger
        self.fsm_state = S.OFF
        self.master = ''
        self.start_date = 0.0
        self.local_counter = -1  # the first local tick has counter 0
        self.redeploy_mark = False
        self.outbox: List[Any] = []
        self.last_check_id = 0
        self.now = 0.0
        self.bus_failed = False  # the internal port could not be bound: nobody can hear this instance
        self._evaluating = False
        self._reevaluate = False
        self._published_supvisors: Optional[Dict[str, Any]] = None
        self.context = context or Context(DefaultResolver(), logger)
        self.starter = Starter(self)
        self.stopper = Stopper(self)
        self.failure_handler = FailureHandler(self)
        self.forced_redeploy = False  # restart_sequence: every auto-started application is planned
        self.deployment_count = 0  # entries in DEPLOYMENT (restart_sequence waits for the next one)
        self.notifications = True  # build event-interface payloads (off when no event publisher exists)
        self.partition_safety = partition_safety
        self.quorum_held: Optional[bool] = None  # last quorum status logged (None: not evaluated yet)
        if partition_safety and self.core_identifiers and 2 * len(self.core_identifiers) < len(self.identifiers):
            # a side holding every core identifier may then be a minority while the other side is a majority
            logger.warn(f'SupvisorsCore: partition_safety: the core identifiers {self.core_identifiers} are less'
                        f' than half of the {len(self.identifiers)} instances: both sides of a partition may hold'
                        ' a quorum')

    # ------------------------------------------------------------------ helpers
    @property
    def local(self) -> InstanceStatus:
        return self.instances[self.local_identifier]

    @property
    def is_master(self) -> bool:
        return self.master == self.local_identifier

    def take_actions(self) -> List[Any]:
        outbox, self.outbox = self.outbox, []
        return outbox

    def _starter_busy(self) -> bool:
        return self.starter.in_progress()

    def _stopper_busy(self) -> bool:
        return self.stopper.in_progress()

    def _abort_jobs(self) -> None:
        self.starter.abort()
        self.stopper.abort()
        self.failure_handler.abort()

    def busy(self) -> bool:
        """ Whether the local Starter or Stopper has jobs. """
        return self.starter.in_progress() or self.stopper.in_progress()

    def min_ticks(self) -> int:
        """ Minimum number of ticks given to a request, more in a large fleet. """
        return max(2, sum(1 for x in self.instances.values() if not x.in_isolation) // 10)

    def force_process_state(self, process, identifier: Optional[str], state: ProcessStates, reason: str) -> None:
        """ A Starter/Stopper verdict: publish it and apply it here. """
        target = identifier or self.local_identifier
        info = process.info_map.get(target, {})
        date = info.get('event_time', self.now) if identifier else self.now
        body = {'group': process.application_name, 'name': process.process_name, 'state': int(state),
                'forced': True, 'identifier': target, 'now': date, 'pid': 0, 'expected': False,
                'spawnerr': reason, 'extra_args': process.extra_args}
        self.outbox.append(act.Publish(InternalMessages.PROCESS, body))
        self._apply_process_event(self.local_identifier, body)

    def _conflicts(self) -> bool:
        """ Whether a managed process runs on several instances. """
        return bool(self.context.conflicts())

    def loading(self, identifier: str) -> int:
        return self.context.loading(identifier)

    # ------------------------------------------------------------------ partition safety
    def _running_identifiers(self) -> List[str]:
        return [x for x, status in self.instances.items() if status.state == IS.RUNNING]

    def has_quorum(self) -> bool:
        """ Whether the instances RUNNING as seen locally (the local one included) are strictly more than half of
        supvisors_list, or include every core identifier when some are set. The denominator is the whole
        configured fleet, isolated instances included, so that two disjoint sides can never both count a majority.
        """
        running = self._running_identifiers()
        if 2 * len(running) > len(self.identifiers):
            return True
        return bool(self.core_identifiers) and all(x in running for x in self.core_identifiers)

    def starts_allowed(self) -> bool:
        """ Whether processes may be started from here: always, unless partition_safety is set without quorum. """
        return not self.partition_safety or self.has_quorum()

    def quorum_detail(self) -> str:
        """ What the quorum status is made of, in words, for the logs and the XML-RPC faults. """
        running = self._running_identifiers()
        total = len(self.identifiers)
        text = f'{len(running)} of {total} instances RUNNING, {total // 2 + 1} needed'
        if self.core_identifiers:
            missing = [x for x in self.core_identifiers if x not in running]
            text += f' or every core identifier (missing: {", ".join(missing)})' if missing \
                else ', every core identifier RUNNING'
        return text

    def quorum_text(self) -> str:
        """ Why starts are refused (or that they are not). """
        return f'{"quorum" if self.has_quorum() else "no quorum"} ({self.quorum_detail()})'

    def _check_quorum(self) -> None:
        """ partition_safety: log when the quorum is lost or regained and, on a loss, drop what would start
        processes (jobs of the Starter, restarts of the failure handler). Evaluated in the working states only,
        where starts happen: the synchronisation of INITIALIZATION would report a loss at every start-up. """
        if not self.partition_safety or self.fsm_state not in WORKING_STATES:
            return
        held = self.has_quorum()
        previous, self.quorum_held = self.quorum_held, held
        if held == previous or (held and previous is None):
            return
        if held:
            self.logger.info(f'SupvisorsCore: partition safety: quorum regained ({self.quorum_detail()}): starts'
                             ' allowed again')
            return
        self.logger.warn(f'SupvisorsCore: partition safety: no quorum ({self.quorum_detail()}): no process will be'
                         ' started until the quorum is regained (running processes are kept, stops are allowed)')
        if self.starter.in_progress():
            self.logger.warn('SupvisorsCore: partition safety: start jobs aborted')
            self.starter.abort()
        self.failure_handler.drop_restarts()
        self._evaluate()

    # ------------------------------------------------------------------ queries
    def supvisors_state(self) -> Dict[str, Any]:
        return {'fsm_statecode': self.fsm_state.value,
                'fsm_statename': self.fsm_state.name,
                'starting_jobs': [x for x, status in self.instances.items() if status.starting_jobs],
                'stopping_jobs': [x for x, status in self.instances.items() if status.stopping_jobs]}

    def instance_info(self, identifier: str) -> Dict[str, Any]:
        return self.instances[identifier].serial(self.loading(identifier))

    def all_instances_info(self) -> List[Dict[str, Any]]:
        return [self.instance_info(identifier) for identifier in sorted(self.instances)]

    # ------------------------------------------------------------------ entry points
    def start(self, now: float) -> None:
        """ supervisord is RUNNING: the communication layer exists. """
        self.now = now
        self._transition(S.INITIALIZATION)
        self._evaluate()
        self._post_event()

    def on_local_tick(self, now: float) -> None:
        self.now = now
        self.local_counter += 1
        local = self.local
        local.update_tick(self.local_counter, now, self.local_counter, now)
        self.context.refresh_now(self.local_identifier, now)
        # the state rides along with every tick, so that a state message missed by a peer is healed within a tick
        self.outbox.append(act.Publish(InternalMessages.TICK, {'when': now, 'sequence_counter': self.local_counter,
                                                               **self._state_body()}))
        if local.state in (IS.UNKNOWN, IS.SILENT):
            self._check(self.local_identifier)
        # one instance event per tick, showing the state that the tick led to
        self._notify_instance(self.local_identifier)
        self._periodic_check()
        self.starter.check()
        self.stopper.check()
        self._evaluate()
        self._post_event()

    def on_message(self, identifier: str, code: int, body: Any, now: float) -> None:
        """ A message published by another instance. Bad content is logged and dropped. """
        self.now = now
        if identifier not in self.instances or identifier == self.local_identifier:
            self.logger.error(f'SupvisorsCore.on_message: unexpected sender {identifier!r}')
            return
        try:
            if code == InternalMessages.TICK:
                self._on_tick(identifier, body)
            elif code == InternalMessages.STATE:
                self._on_state(identifier, body)
            elif code == InternalMessages.PROCESS:
                self._on_process_event(identifier, body)
            elif code == InternalMessages.CHECK_ANSWER:
                self._on_check_answer(identifier, body)
            elif code == InternalMessages.PROCESS_ADDED:
                if self.instances[identifier].state == IS.RUNNING:
                    self._load_processes(identifier, list(body))
            elif code == InternalMessages.PROCESS_REMOVED:
                self._on_process_removed(identifier, body)
            elif code == InternalMessages.PROCESS_DISABILITY:
                self._on_disability(identifier, body)
            elif code in (InternalMessages.HEARTBEAT, InternalMessages.STATISTICS):
                pass  # statistics are compiled elsewhere
            else:
                self.logger.warn(f'SupvisorsCore.on_message: unknown message code={code} from {identifier}')
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            self.logger.error(f'SupvisorsCore.on_message: invalid message code={code} from {identifier}:'
                              f' {exc!r}')
        self._evaluate()
        self._post_event()

    def on_bus_failure(self, now: float) -> None:
        """ The internal port cannot be bound: the others will never hear this instance, so it cannot validate
        itself and stays in INITIALIZATION (a critical error is logged by the bus). """
        self.now = now
        self.bus_failed = True
        if self.local.state != IS.SILENT:
            self._set_instance_state(self.local_identifier, IS.SILENT)
        self._evaluate()
        self._post_event()

    def on_peer_down(self, identifier: str, now: float) -> None:
        """ The bus found the supervisord of this instance gone. """
        self.now = now
        status = self.instances.get(identifier)
        if status and identifier != self.local_identifier and status.state in (IS.CHECKING, IS.RUNNING):
            if self.fsm_state == S.INITIALIZATION and status.state == IS.CHECKING:
                # only seen through the last tick of a supervisord that is going away (a fleet restarting
                # together): not known yet rather than lost, so that the synchronization waits for it as for any
                # instance not heard of (until synchro_timeout), and the Master does not depend on restart order
                self.logger.info(f'SupvisorsCore.on_peer_down: Supvisors instance {identifier} went away while'
                                 ' being checked: waiting for it')
                status.reset()
                status.check_id = 0  # the answer of the handshake in progress, if any, is obsolete
                self._evaluate()
                self._post_event()
                return
            self.logger.warn(f'SupvisorsCore.on_peer_down: Supvisors instance {identifier} is not reachable')
            self._invalidate(identifier, process_impact=True)
            self._evaluate()
            self._post_event()

    def check_answer(self, requester: str, check_id: Any) -> Dict[str, Any]:
        """ What the handshake tells a peer (over the bus): the Master, how it is seen, the local state. The
        process list is added by the caller. """
        seen = self.instances.get(requester)
        local = self.local
        return {'check_id': check_id, 'master': self.master,
                'statecode': seen.state.value if seen else IS.UNKNOWN.value,
                'fsm_statecode': local.fsm_state.value, 'starting_jobs': local.starting_jobs,
                'stopping_jobs': local.stopping_jobs}

    def _on_check_answer(self, identifier: str, body: Dict[str, Any]) -> None:
        authorized = int(body['statecode']) not in (IS.ISOLATING, IS.ISOLATED)
        process_list = body.get('process_list')
        result = act.CheckResult(identifier, int(body['check_id']), authorized, str(body.get('master') or ''),
                                 int(body['fsm_statecode']), bool(body['starting_jobs']), bool(body['stopping_jobs']),
                                 list(process_list) if authorized and isinstance(process_list, list) else None)
        self._apply_check_result(result)

    def on_check_result(self, result: act.CheckResult, now: float) -> None:
        self.now = now
        self._apply_check_result(result)
        self._evaluate()
        self._post_event()

    def _apply_check_result(self, result: act.CheckResult) -> None:
        status = self.instances.get(result.identifier)
        if status is None or status.state != IS.CHECKING or status.check_id != result.check_id:
            return  # obsolete handshake
        identifier = result.identifier
        if result.authorized is None:
            self.logger.warn(f'SupvisorsCore.on_check_result: Supvisors instance {identifier} cannot be checked')
            self._invalidate(identifier, process_impact=False)
        elif not result.authorized:
            self.logger.warn(f'SupvisorsCore.on_check_result: Supvisors instance {identifier} isolated the local'
                             ' instance: reciprocal isolation')
            self._invalidate(identifier, process_impact=False, force_isolation=True)
        else:
            self._set_instance_state(identifier, IS.RUNNING)
            if identifier != self.local_identifier:
                if self.is_master and self.fsm_state in WORKING_STATES:
                    self.redeploy_mark = True
                self._master_reported(identifier, result.master)
                if not status.state_received:
                    status.update_state_modes(result.fsm_state, result.starting_jobs, result.stopping_jobs)
            if result.process_list is not None:
                self._load_processes(identifier, result.process_list)
            self.logger.info(f'SupvisorsCore.on_check_result: Supvisors instance {identifier} is RUNNING')

    def on_local_process_event(self, payload: Dict[str, Any], now: float) -> None:
        """ A state change of a local process: apply it here and publish it to the others. """
        self.now = now
        self.outbox.append(act.Publish(InternalMessages.PROCESS, payload))
        self._apply_process_event(self.local_identifier, payload)
        self._evaluate()
        self._post_event()

    def on_local_processes_added(self, process_list: List[Dict[str, Any]], now: float) -> None:
        """ New local processes (group added, numprocs increase): load them and publish them. """
        self.now = now
        self.outbox.append(act.Publish(InternalMessages.PROCESS_ADDED, process_list))
        if self.local.state == IS.RUNNING:
            self._load_processes(self.local_identifier, process_list)
        self._evaluate()
        self._post_event()

    def on_local_disability(self, process_list: List[Dict[str, Any]], now: float) -> None:
        """ Local processes enabled or disabled: apply and publish their new information. """
        self.now = now
        for info in process_list:
            self.outbox.append(act.Publish(InternalMessages.PROCESS_DISABILITY, info))
            try:
                self._notify_all(self.context.on_disability(self.local_identifier, info, now))
            except UnknownProcess as exc:
                self.logger.debug(f'SupvisorsCore.on_local_disability: {exc}')
        self._evaluate()
        self._post_event()

    def on_local_process_removed(self, group: str, name: str, now: float) -> None:
        """ Local processes removed (group removed, numprocs decrease): not a failure. """
        self.now = now
        self.outbox.append(act.Publish(InternalMessages.PROCESS_REMOVED, {'name': name, 'group': group}))
        try:
            self._notify_all(self.context.on_process_removed(self.local_identifier, group, name, now))
        except UnknownProcess as exc:
            self.logger.debug(f'SupvisorsCore.on_local_process_removed: {exc}')
        self._evaluate()
        self._post_event()

    def request_restart_sequence(self, now: float) -> None:
        """ Plan every auto-started application again (forced DEPLOYMENT): the Master does it, a slave forwards. """
        self.now = now
        if self.is_master:
            self.redeploy_mark = True
            self.forced_redeploy = True
        elif self.master:
            self.outbox.append(act.ForwardToMaster(self.master, 'restart_sequence', [False]))
        self._evaluate()
        self._post_event()

    def request_restart(self, now: float) -> None:
        self._request_final(S.RESTARTING, 'restart', now)

    def request_shutdown(self, now: float) -> None:
        self._request_final(S.SHUTTING_DOWN, 'shutdown', now)

    def _request_final(self, state: SupvisorsStates, method: str, now: float) -> None:
        self.now = now
        self._final_request(state)
        self._evaluate()
        self._post_event()

    def _final_request(self, state: SupvisorsStates) -> None:
        """ Restart or shut down the fleet: the Master does it, a slave forwards the request to the Master. """
        if self.is_master:
            if self.fsm_state != state:
                self._transition(state)
        elif self.master:
            method = 'restart' if state == S.RESTARTING else 'shutdown'
            self.outbox.append(act.ForwardToMaster(self.master, method))

    # ------------------------------------------------------------------ message handling
    def _on_tick(self, identifier: str, body: Dict[str, Any]) -> None:
        counter = int(body['sequence_counter'])
        when = float(body['when'])
        if not math.isfinite(when):
            raise ValueError(f'invalid tick date: {when}')
        status = self.instances[identifier]
        if self.local.state != IS.RUNNING or status.in_isolation:
            return
        if status.state in (IS.CHECKING, IS.RUNNING) and counter < status.sequence_counter:
            self.logger.warn(f'SupvisorsCore.on_tick: Supvisors instance {identifier} has restarted')
            self._invalidate(identifier, process_impact=True)
            if status.in_isolation:
                return
        status.update_tick(counter, when, self.local_counter, self.now)
        self.context.refresh_now(identifier, when)
        if status.state in (IS.UNKNOWN, IS.SILENT):
            self._check(identifier)
            self._notify_instance(identifier)
        else:
            # event interface: the instance (with the state carried by the tick), then supvisors if changed
            changed = 'fsm_statecode' in body and self._record_state(identifier, body)
            self._notify_instance(identifier)
            if changed:
                self._notify_supvisors()

    def _on_state(self, identifier: str, body: Dict[str, Any]) -> None:
        if self._record_state(identifier, body):
            self._notify_supvisors()

    def _record_state(self, identifier: str, body: Dict[str, Any]) -> bool:
        """ Record the state reported by an instance. Return True if it changed. """
        status = self.instances[identifier]
        if status.state not in (IS.CHECKING, IS.RUNNING):
            return False
        status.state_received = True
        return status.update_state_modes(int(body['fsm_statecode']), body['starting_jobs'], body['stopping_jobs'])

    def _on_process_event(self, identifier: str, body: Dict[str, Any]) -> None:
        if self.instances[identifier].state != IS.RUNNING:
            return
        self._apply_process_event(identifier, body)

    def _apply_process_event(self, identifier: str, body: Dict[str, Any]) -> None:
        if body.get('forced'):
            result = self.context.on_forced_event(body, self.now, identifier)
            if result is not None:
                self._notify_all(result[1])
                self._on_crash(result[0], forced=True)
            return
        try:
            process, notifications = self.context.on_process_event(identifier, body, self.now)
        except UnknownProcess as exc:
            self._inconsistency(identifier, str(exc))
            return
        self._notify_all(notifications)
        self.starter.on_event(process, identifier)
        self.stopper.on_event(process, identifier)
        self._on_crash(process, forced=False)

    def _on_crash(self, process, forced: bool) -> None:
        """ Master only: the running failure strategy of a process that crashed (synthetic state). """
        if not self.is_master or not process.crashed():
            return
        strategy = process.rules.running_failure_strategy
        if strategy in (RunningFailureStrategies.STOP_APPLICATION, RunningFailureStrategies.RESTART_APPLICATION):
            if not forced:
                self.failure_handler.add(process, strategy)
        elif strategy == RunningFailureStrategies.SHUTDOWN:
            self.logger.warn(f'SupvisorsCore: {process.namespec} crashed: SHUTDOWN')
            self._final_request(S.SHUTTING_DOWN)
        elif strategy == RunningFailureStrategies.RESTART:
            self.logger.warn(f'SupvisorsCore: {process.namespec} crashed: RESTART')
            self._final_request(S.RESTARTING)

    def _on_process_removed(self, identifier: str, body: Dict[str, Any]) -> None:
        if self.instances[identifier].state != IS.RUNNING:
            return
        try:
            self._notify_all(self.context.on_process_removed(identifier, str(body['group']), str(body['name']),
                                                             self.now))
        except UnknownProcess as exc:
            self._inconsistency(identifier, str(exc))

    def _on_disability(self, identifier: str, body: Dict[str, Any]) -> None:
        if self.instances[identifier].state != IS.RUNNING:
            return
        try:
            self._notify_all(self.context.on_disability(identifier, body, self.now))
        except UnknownProcess as exc:
            self._inconsistency(identifier, str(exc))

    def _inconsistency(self, identifier: str, reason: str) -> None:
        """ An instance reports a process it is not known to hold: question it again (not while stopping). """
        if identifier == self.local_identifier or self.fsm_state in STOPPING_STATES:
            self.logger.error(f'SupvisorsCore: inconsistent event from {identifier}: {reason}')
            return
        self.logger.warn(f'SupvisorsCore: inconsistent event from {identifier}: {reason}: instance invalidated')
        self._invalidate(identifier, process_impact=False)

    def _load_processes(self, identifier: str, process_list: List[Dict[str, Any]]) -> None:
        self.context.load_processes(identifier, [x for x in process_list if isinstance(x, dict)], self.now)
        self._take_autorestart_changes()

    def _take_autorestart_changes(self) -> None:
        for namespec in self.context.resolver.take_autorestart_changes():
            self.outbox.append(act.DisableAutorestart(namespec))

    def _notify_all(self, notifications) -> None:
        if not self.notifications:
            return
        for topic, payload in notifications:
            self.outbox.append(act.Notify(topic, payload))

    def _master_reported(self, identifier: str, master: str) -> None:
        """ Handshake: adopt the Master known by the fleet, or repair a split brain. """
        if not master:
            return
        if not self.master:
            if self.fsm_state == S.INITIALIZATION:
                self.logger.info(f'SupvisorsCore: adopting Master {master} reported by {identifier}')
                self.master = master
        elif master != self.master:
            self.logger.warn(f'SupvisorsCore: {identifier} reports Master {master} while the local Master is'
                             f' {self.master}: back to INITIALIZATION')
            if self.fsm_state == S.INITIALIZATION:
                self.master = ''
            else:
                self._transition(S.INITIALIZATION)

    # ------------------------------------------------------------------ liveness
    def _check(self, identifier: str) -> None:
        status = self.instances[identifier]
        if identifier == self.local_identifier and self.bus_failed:
            return
        self._set_instance_state(identifier, IS.CHECKING)
        self.last_check_id += 1
        status.check_id = self.last_check_id
        status.state_received = False
        status.check_counter = self.local_counter
        self.outbox.append(act.CheckInstance(identifier, status.check_id))

    def _periodic_check(self) -> None:
        """ At every local tick: invalidate the instances that stopped ticking, and the ones never heard of. """
        synchro_over = self.now - self.start_date > self.synchro_timeout
        for identifier, status in self.instances.items():
            if identifier == self.local_identifier:
                continue
            if status.state in (IS.CHECKING, IS.RUNNING):
                if self.local_counter - status.local_sequence_counter > self.inactivity_ticks:
                    self.logger.warn(f'SupvisorsCore: Supvisors instance {identifier} is inactive')
                    self._invalidate(identifier, process_impact=True)
                elif status.state == IS.CHECKING and self.local_counter - status.check_counter > 2:
                    # the instance ticks but its answer did not come (link broken meanwhile): ask again
                    self.logger.info(f'SupvisorsCore: no handshake answer from {identifier}: asking again')
                    self._check(identifier)
            elif status.state == IS.UNKNOWN and synchro_over:
                self.logger.warn(f'SupvisorsCore: Supvisors instance {identifier} not heard of'
                                 f' within synchro_timeout')
                self._invalidate(identifier, process_impact=False)

    def _invalidate(self, identifier: str, process_impact: bool, force_isolation: bool = False) -> None:
        if identifier == self.local_identifier:
            new_state = IS.SILENT
        elif force_isolation or self.auto_fence:
            new_state = IS.ISOLATING
        else:
            new_state = IS.SILENT
        self._set_instance_state(identifier, new_state)
        self._notify_supvisors()
        if process_impact:
            self._processes_lost(identifier)

    def _processes_lost(self, identifier: str) -> None:
        """ The processes that were running on a lost instance are marked FATAL there, and the Master applies
        their running failure strategies (RESTART and SHUTDOWN are ignored on this path). """
        failures, notifications = self.context.on_instance_lost(identifier, self.now)
        self._notify_all(notifications)
        self.starter.on_instance_lost(identifier, failures)
        self.stopper.on_instance_lost(identifier)
        if not self.is_master:
            return
        for process in failures:
            strategy = process.rules.running_failure_strategy
            if strategy in (RunningFailureStrategies.RESTART, RunningFailureStrategies.SHUTDOWN):
                continue
            application = self.context.applications.get(process.application_name)
            if strategy == RunningFailureStrategies.RESTART_PROCESS and application is not None \
                    and application.state == 0 and process.rules.start_sequence > 0:
                strategy = RunningFailureStrategies.RESTART_APPLICATION
            self.failure_handler.add(process, strategy)

    def _set_instance_state(self, identifier: str, state: IS) -> None:
        status = self.instances[identifier]
        if status.state == state:
            return
        try:
            status.set_state(state)
        except InvalidTransition as exc:
            self.logger.error(f'SupvisorsCore: {exc}')
            return
        # event interface: only the losses are published at once; CHECKING and RUNNING show at the next tick
        if state in (IS.SILENT, IS.ISOLATING, IS.ISOLATED):
            self._notify_instance(identifier)

    def _post_event(self) -> None:
        """ End of every event: react to failures at once, isolate for good what was being isolated, publish the
        local state. """
        self._check_quorum()
        if self.failure_handler.pending() and self.fsm_state in (S.DEPLOYMENT, S.OPERATION, S.CONCILIATION):
            self.failure_handler.trigger()
            self._evaluate()
        isolating = [x for x, status in self.instances.items() if status.state == IS.ISOLATING]
        if isolating:
            for identifier in isolating:
                self._set_instance_state(identifier, IS.ISOLATED)
            self.outbox.append(act.IsolateInstances(isolating))
            self._evaluate()
        self._publish_state()

    # ------------------------------------------------------------------ state machine
    def _evaluate(self) -> None:
        """ Evaluate the state machine until it settles (chained transitions are possible). """
        if self._evaluating:
            self._reevaluate = True
            return
        self._evaluating = True
        try:
            for _ in range(32):
                self._reevaluate = False
                next_state = self._next_state()
                if next_state is not None and next_state != self.fsm_state:
                    self._transition(next_state)
                    continue
                if not self._reevaluate:
                    break
        finally:
            self._evaluating = False

    def _instance_running(self, identifier: str) -> bool:
        status = self.instances.get(identifier)
        return status is not None and status.state == IS.RUNNING

    def _next_state(self) -> Optional[SupvisorsStates]:
        state = self.fsm_state
        local_ok = self.local.state == IS.RUNNING
        if state == S.INITIALIZATION:
            return self._initialization_next()
        master_ok = local_ok and self._instance_running(self.master)
        if self.is_master:
            if state == S.DEPLOYMENT:
                if not master_ok:
                    return S.INITIALIZATION
                return None if self._starter_busy() else S.OPERATION
            if state == S.OPERATION:
                if not master_ok:
                    return S.INITIALIZATION
                if self._starter_busy() or self._stopper_busy():
                    return None
                if self._conflicts():
                    return S.CONCILIATION
                return S.DEPLOYMENT if self.redeploy_mark else None
            if state == S.CONCILIATION:
                if not master_ok:
                    return S.INITIALIZATION
                if self._starter_busy() or self._stopper_busy():
                    return None
                if not self._conflicts():
                    return S.OPERATION
                conciliate(self, self.conciliation_strategy, self.context.conflicts())
                return None
            if state == S.RESTARTING:
                return S.RESTART if not master_ok or not self._stopper_busy() else None
            if state == S.SHUTTING_DOWN:
                return S.SHUTDOWN if not master_ok or not self._stopper_busy() else None
            return None
        # slave: follow the Master
        master_state = self.instances[self.master].fsm_state if self.master in self.instances else S.OFF
        if state in WORKING_STATES:
            if not master_ok:
                return S.INITIALIZATION
            if master_state in (S.OFF, S.INITIALIZATION):
                return None
            return master_state
        if state == S.RESTARTING:
            if not master_ok:
                return S.RESTART
            return master_state if master_state in (S.RESTART, S.SHUTDOWN, S.SHUTTING_DOWN) else None
        if state == S.SHUTTING_DOWN:
            if not master_ok:
                return S.SHUTDOWN
            return master_state if master_state in (S.SHUTDOWN, S.RESTART, S.RESTARTING) else None
        return None

    def _initialization_next(self) -> Optional[SupvisorsStates]:
        if self.local.state != IS.RUNNING:
            return None
        pending = [x for x, status in self.instances.items()
                   if status.state in (IS.UNKNOWN, IS.CHECKING, IS.ISOLATING)]
        if not pending:
            return S.DEPLOYMENT
        if self.core_identifiers and all(self._instance_running(x) for x in self.core_identifiers):
            if self.master and not self._instance_running(self.master):
                return None
            return S.DEPLOYMENT
        return None

    def _transition(self, new_state: SupvisorsStates) -> None:
        old_state = self.fsm_state
        if self.is_master and new_state not in MASTER_TRANSITIONS[old_state]:
            self.logger.critical(f'SupvisorsCore: unexpected transition {old_state.name} -> {new_state.name}')
            return
        if old_state == S.INITIALIZATION:
            self._elect()
        self.logger.info(f'SupvisorsCore: {old_state.name} -> {new_state.name}')
        self.fsm_state = new_state
        self._publish_state()
        self._enter(new_state)

    def _enter(self, state: SupvisorsStates) -> None:
        if state == S.INITIALIZATION:
            self._abort_jobs()
            self.master = ''
            self.redeploy_mark = False
            self.start_date = self.now
            alive = [x for x, status in self.instances.items() if status.state in (IS.CHECKING, IS.RUNNING)]
            for status in self.instances.values():
                status.reset()
            # question again at once the instances known alive (the local one first)
            if self.local.state in (IS.UNKNOWN, IS.SILENT):
                self._check(self.local_identifier)
            for identifier in alive:
                if identifier != self.local_identifier:
                    self._check(identifier)
        elif state == S.DEPLOYMENT:
            self.redeploy_mark = False
            self.deployment_count += 1
            if self.is_master:
                forced, self.forced_redeploy = self.forced_redeploy, False
                self.starter.start_applications(forced)
        elif state == S.CONCILIATION:
            if self.is_master:
                conciliate(self, self.conciliation_strategy, self.context.conflicts())
        elif state in (S.RESTARTING, S.SHUTTING_DOWN):
            self._abort_jobs()
            if self.is_master:
                self.stopper.stop_applications()
        elif state == S.RESTART:
            self.outbox.append(act.RestartSupervisor())
        elif state == S.SHUTDOWN:
            self.outbox.append(act.ShutdownSupervisor())

    def _elect(self) -> None:
        """ Leaving INITIALIZATION: keep an adopted Master that runs, else the smallest candidate identifier. """
        if self.master and self._instance_running(self.master):
            return
        candidates = [x for x, status in self.instances.items() if status.state == IS.RUNNING]
        core = [x for x in self.core_identifiers if x in candidates]
        if core:
            candidates = core
        self.master = min(candidates) if candidates else ''
        self.logger.info(f'SupvisorsCore: Master is {self.master or "undefined"}')

    # ------------------------------------------------------------------ publication
    def _publish_state(self) -> None:
        """ Publish the local (state, starting jobs, stopping jobs) when it changed. """
        local = self.local
        if local.update_state_modes(self.fsm_state, self._starter_busy(), self._stopper_busy()):
            self.outbox.append(act.Publish(InternalMessages.STATE, self._state_body()))
        self._notify_supvisors()

    def _state_body(self) -> Dict[str, Any]:
        local = self.local
        return {'fsm_statecode': local.fsm_state.value, 'fsm_statename': local.fsm_state.name,
                'starting_jobs': local.starting_jobs, 'stopping_jobs': local.stopping_jobs}

    def _notify_supvisors(self) -> None:
        if not self.notifications:
            return
        payload = self.supvisors_state()
        if payload != self._published_supvisors:
            self._published_supvisors = payload
            self.outbox.append(act.Notify('supvisors', payload))

    def _notify_instance(self, identifier: str) -> None:
        if not self.notifications:
            return
        self.outbox.append(act.Notify('instance', self.instance_info(identifier)))

