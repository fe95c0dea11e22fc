"""The Starter and the Stopper: sequencing of process starts and stops across the fleet.

Both are pure: they decide requests (actions queued in the core's outbox), follow the state of each process on its
target instance through the process events, and time out in ticks of the target instance. Each instance has its
own engines; the instance that receives a request runs it.

Differences from upstream 0.15 (fixes):

* a start whose expected state was reached without its event (missed while the target was being checked) completes
  at the next tick instead of blocking its application job;
* a ``wait_exit`` process that never exits times out like any start (its exit is awaited for the same number of
  ticks as its start) instead of blocking the Starter forever;
* ``SINGLE_NODE`` finds the instances of the chosen node whatever the host names of ``supvisors_list``;
* automatic restarts (failure handling, conciliation) keep the extra arguments of the process.

With ``partition_safety``, the Starter is where starts are refused when the local instance has no quorum (see
``supvisors.core.engine``): nothing is planned, and a command that reaches its request anyway (quorum lost while
its job was running) is dropped with the rest of its job, without any forced state, because nothing failed.
"""

import math
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional

from . import actions as act
from .strategies import LoadView, choose, restrict
from ..ttypes import (DistributionRules, ProcessStates, STOPPED_STATES, StartingFailureStrategies,
                      StartingStrategies, SupvisorsInstanceStates)

PS = ProcessStates

NO_RESOURCE = 'no resource available'


class ProcessCommand:
    """ Start or stop of one process on one target instance. """

    def __init__(self, process, strategy: StartingStrategies = StartingStrategies.CONFIG, extra_args: str = '',
                 wait_exit: bool = False, identifier: Optional[str] = None):
        self.process = process
        self.strategy = strategy
        self.extra_args = extra_args
        self.wait_exit = wait_exit
        self.identifier = identifier  # target instance
        self.reference: Optional[int] = None  # tick counter of the target when requested (None: not requested)
        self.min_ticks = 2
        self.wait_ticks = 2
        self.exit_awaited = False  # wait_exit command that saw RUNNING

    def __repr__(self) -> str:
        return f'<{self.process.namespec} on {self.identifier}>'


class ApplicationStartJob:

    def __init__(self, application, strategy: StartingStrategies, distribution: bool = True):
        self.application = application
        self.strategy = strategy
        self.planned: Dict[int, List[ProcessCommand]] = {}
        self.current: List[ProcessCommand] = []
        self.distributed = distribution  # False: placement restricted to the retained instances
        self.retained: Optional[List[str]] = None  # instances chosen for a non-distributed application
        self.prepared = False
        self.stop_when_done = False  # STOP starting failure strategy

    def add(self, sequence: int, command: ProcessCommand) -> None:
        self.planned.setdefault(sequence, []).append(command)

    def commands(self) -> List[ProcessCommand]:
        return self.current + [cmd for group in self.planned.values() for cmd in group]

    def finished(self) -> bool:
        return not self.planned and not self.current

    def holds(self, process) -> bool:
        return any(cmd.process is process for cmd in self.commands())


class ApplicationStopJob:

    def __init__(self, application):
        self.application = application
        self.planned: Dict[int, List[Any]] = {}
        self.current: List[ProcessCommand] = []
        self.then: List[Callable[[], None]] = []  # follow-ups once the job is over (restarts)
        self.targets: Dict[str, List[str]] = {}  # namespec -> the only instances where to stop it

    def add(self, sequence: int, process, identifiers: Optional[List[str]] = None) -> None:
        group = self.planned.setdefault(sequence, [])
        if process not in group:
            group.append(process)
        if identifiers is not None:
            self.targets[process.namespec] = list(identifiers)

    def finished(self) -> bool:
        return not self.planned and not self.current

    def holds(self, process) -> bool:
        return any(process is p for group in self.planned.values() for p in group) or \
            any(cmd.process is process for cmd in self.current)


class _Engine:
    """ What the Starter and the Stopper share: planned groups of application jobs and the current ones. """

    def __init__(self, core):
        self.core = core
        self.planned: Dict[int, 'OrderedDict[str, Any]'] = {}
        self.current: 'OrderedDict[str, Any]' = OrderedDict()
        self._running = False
        self._again = False

    # hooks of the concrete engines
    def _next_key(self) -> Optional[int]:
        raise NotImplementedError

    def _prepare(self, job) -> None:
        """ The job becomes current. """

    def _next_process_group(self, job) -> None:
        raise NotImplementedError

    def _job_done(self, job) -> None:
        """ The job is over. """

    def _progress(self) -> None:
        """ Trigger whatever can be triggered. Re-entrant calls (follow-ups of a finished job) are folded in. """
        if self._running:
            self._again = True
            return
        self._running = True
        try:
            while True:
                self._again = False
                for name, job in list(self.current.items()):
                    if job.finished():
                        del self.current[name]
                        self._job_done(job)
                advanced = False
                for job in list(self.current.values()):
                    if not job.current and job.planned:
                        self._next_process_group(job)
                        advanced = True
                if advanced or self._again:
                    continue
                if self.current:
                    return
                key = self._next_key()
                if key is None:
                    return
                jobs = self.planned.pop(key)
                self.current.update(jobs)
                for job in jobs.values():
                    self._prepare(job)
        finally:
            self._running = False

    @property
    def logger(self):
        return self.core.logger

    def in_progress(self) -> bool:
        return bool(self.planned or self.current)

    def abort(self) -> None:
        self.planned.clear()
        self.current.clear()

    def application_names(self) -> List[str]:
        names = list(self.current)
        for group in self.planned.values():
            names.extend(x for x in group if x not in names)
        return names

    def has_job(self, application_name: str) -> bool:
        return application_name in self.application_names()

    def _job(self, application_name: str):
        job = self.current.get(application_name)
        if job is None:
            for group in self.planned.values():
                if application_name in group:
                    return group[application_name]
        return job

    def _counter(self, identifier: str) -> int:
        return self.core.instances[identifier].sequence_counter

    def _instance_running(self, identifier: str) -> bool:
        status = self.core.instances.get(identifier)
        return status is not None and status.state == SupvisorsInstanceStates.RUNNING

    def _arm(self, command: ProcessCommand, seconds: float) -> None:
        command.reference = self._counter(command.identifier)
        command.min_ticks = self.core.min_ticks()
        command.wait_ticks = math.ceil(max(0.0, seconds) / self.core.tick_period) + command.min_ticks



class Starter(_Engine):

    # ------------------------------------------------------------------ planning
    def _refused(self, what: str) -> bool:
        """ partition_safety without quorum: log why what is not started. """
        if self.core.starts_allowed():
            return False
        self.logger.warn(f'Starter: {what} not started: {self.core.quorum_text()}')
        return True

    def start_applications(self, forced: bool) -> None:
        """ DEPLOYMENT: the applications to start automatically, by application start_sequence. """
        if self._refused('DEPLOYMENT: applications'):
            return
        for application in self.core.context.applications.values():
            rules = application.rules
            if not application.managed or rules.start_sequence <= 0:
                continue
            if forced or application.never_started() or application.major_failure or application.minor_failure:
                self.start_application(rules.starting_strategy, application, progress=False)
        self._progress()

    def start_application(self, strategy: StartingStrategies, application, progress: bool = True) -> None:
        """ Plan the start sequence of an application (processes with start_sequence > 0, stopped ones only). """
        if self._refused(f'application {application.application_name}'):
            return
        job = ApplicationStartJob(application, strategy,
                                  application.rules.distribution == DistributionRules.ALL_INSTANCES)
        for process in application.processes.values():
            if process.rules.start_sequence > 0:
                job.add(process.rules.start_sequence, ProcessCommand(process, strategy, process.extra_args,
                                                                     wait_exit=process.rules.wait_exit))
        if not job.planned:
            return
        self._remove_planned(application.application_name)
        if application.application_name in self.current:
            return  # already being started
        self.planned.setdefault(application.rules.start_sequence, OrderedDict())[application.application_name] = job
        if progress:
            self._progress()

    def start_process(self, strategy: StartingStrategies, process, extra_args: str = '') -> None:
        """ A single process start (wait_exit ignored), in the job of its application if there is one. """
        if self._refused(process.namespec):
            return
        application = self.core.context.applications[process.application_name]
        command = ProcessCommand(process, strategy, extra_args)
        job = self._job(application.application_name)
        if job is None:
            job = ApplicationStartJob(application, strategy,
                                      application.rules.distribution == DistributionRules.ALL_INSTANCES)
            self.planned.setdefault(application.rules.start_sequence, OrderedDict())[application.application_name] \
                = job
        if job.holds(process):
            return
        if job.prepared:
            # the job runs: the command starts at once among the retained instances
            job.current.append(command)
            self._request_start(job, command)
        else:
            job.add(max(job.planned) + 1 if job.planned else 0, command)
        self._progress()

    def _remove_planned(self, application_name: str) -> None:
        for key in list(self.planned):
            self.planned[key].pop(application_name, None)
            if not self.planned[key]:
                del self.planned[key]

    # ------------------------------------------------------------------ progression
    def _next_key(self) -> Optional[int]:
        return min(self.planned) if self.planned else None

    def _job_done(self, job: ApplicationStartJob) -> None:
        if job.stop_when_done:
            self.logger.warn(f'Starter: stopping {job.application.application_name} after a start failure')
            self.core.stopper.stop_application(job.application)

    def _prepare(self, job: ApplicationStartJob) -> None:
        """ The job becomes current: a non-distributed application gets its instances now. """
        job.prepared = True
        if job.distributed:
            return
        application = job.application
        rules = application.rules
        candidates = restrict(rules.identifiers, self.core.identifiers,
                              self._application_hosts(application))
        candidates = [x for x in candidates if self._instance_running(x)]
        load = sum(p.rules.expected_loading for p in application.processes.values() if p.rules.start_sequence > 0)
        view = self._load_view()
        chosen = choose(job.strategy, candidates, load, view, self.core.local_identifier)
        if chosen is None:
            job.retained = []
        elif rules.distribution == DistributionRules.SINGLE_NODE:
            node = self.core.node_of[chosen]
            job.retained = [x for x in candidates if self.core.node_of[x] == node]
        else:
            job.retained = [chosen]
        if rules.distribution == DistributionRules.SINGLE_INSTANCE and job.retained:
            for command in job.commands():
                command.identifier = job.retained[0]
        elif job.retained:
            # SINGLE_NODE: one instance of the node per process, one after the other (each sees the previous ones)
            for command in job.commands():
                command.identifier = self._choose(job, command)
        self.logger.debug(f'Starter: {application.application_name} retained on {job.retained}')

    def _application_hosts(self, application) -> List[str]:
        """ Instances where every process of the application is configured and not disabled. """
        hosts = None
        for process in application.processes.values():
            possible = set(process.possible_identifiers())
            hosts = possible if hosts is None else hosts & possible
        return list(hosts or [])

    def _next_process_group(self, job: ApplicationStartJob) -> None:
        """ Start the next group: one command after the other, so each sees the load reserved by the previous. """
        for command in job.planned.pop(min(job.planned)):
            if self.current.get(job.application.application_name) is not job:
                return  # aborted meanwhile (a forced FATAL leading to RESTART or SHUTDOWN)
            if command.process.stopped():
                job.current.append(command)
                self._request_start(job, command)
            else:
                self.logger.debug(f'Starter: {command.process.namespec} already running')

    def _load_view(self) -> LoadView:
        running = self.core.context.loadings()
        view = LoadView(self.core.node_of, running)
        for job in self.current.values():
            for command in job.commands():
                if command.identifier and command.process.stopped():
                    view.add_pending(command.identifier, command.process.rules.expected_loading)
        return view

    def _choose(self, job: ApplicationStartJob, command: ProcessCommand) -> Optional[str]:
        process = command.process
        if job.distributed:
            candidates = restrict(process.rules.identifiers, self.core.identifiers, process.possible_identifiers())
        else:
            candidates = [x for x in (job.retained or []) if x in process.possible_identifiers()]
        candidates = [x for x in candidates if self._instance_running(x)]
        if not job.distributed and command.identifier in candidates:
            candidates = [command.identifier]  # the instance given when the job became current, if still possible
        view = self._load_view()
        if command.identifier:
            view.add_pending(command.identifier, -process.rules.expected_loading)  # its own pre-assignment
        return choose(command.strategy, candidates, process.rules.expected_loading, view, self.core.local_identifier)

    def placement(self, strategy: StartingStrategies, process) -> Optional[str]:
        """ Where the process would be started now with the strategy among its own candidates (or None). """
        candidates = restrict(process.rules.identifiers, self.core.identifiers, process.possible_identifiers())
        candidates = [x for x in candidates if self._instance_running(x)]
        return choose(strategy, candidates, process.rules.expected_loading, self._load_view(),
                      self.core.local_identifier)

    def _request_start(self, job: ApplicationStartJob, command: ProcessCommand) -> None:
        process = command.process
        if self._refused(process.namespec):
            job.current.remove(command)
            job.planned.clear()
            return
        identifier = self._choose(job, command)
        if identifier is None:
            job.current.remove(command)
            self.logger.warn(f'Starter: no resource available for {process.namespec}')
            self.core.force_process_state(process, None, PS.FATAL, NO_RESOURCE)
            self._failure(job, command)
            return
        command.identifier = identifier
        info = process.info_map.get(identifier, {})
        self._arm(command, info.get('startsecs', 0))
        self.logger.info(f'Starter: starting {process.namespec} on {identifier}')
        self.core.outbox.append(act.StartProcess(identifier, process.namespec, command.extra_args))

    def _failure(self, job: ApplicationStartJob, command: ProcessCommand) -> None:
        """ A required process failed to start: apply its starting failure strategy. """
        process = command.process
        if not process.rules.required:
            return
        strategy = process.rules.starting_failure_strategy
        self.logger.warn(f'Starter: {process.namespec} failed to start: {strategy.name}')
        if strategy in (StartingFailureStrategies.ABORT, StartingFailureStrategies.STOP):
            job.planned.clear()
            if strategy == StartingFailureStrategies.STOP:
                job.stop_when_done = True

    # ------------------------------------------------------------------ events and ticks
    def on_event(self, process, identifier: str) -> None:
        """ A process event from an instance: complete or fail the command that waits for it. """
        for job in list(self.current.values()):
            for command in list(job.current):
                if command.process is process and command.identifier == identifier:
                    self._evaluate(job, command, process.info_map[identifier]['state'],
                                   process.info_map[identifier].get('expected', True), from_event=True)
        self._progress()

    def _evaluate(self, job: ApplicationStartJob, command: ProcessCommand, state: PS, expected: bool,
                  from_event: bool) -> None:
        if state == PS.STARTING:
            return
        if state == PS.BACKOFF:
            command.reference = self._counter(command.identifier)
            return
        if state == PS.RUNNING:
            if not command.wait_exit:
                job.current.remove(command)
            elif not command.exit_awaited:
                command.exit_awaited = True
                command.reference = self._counter(command.identifier)
            return
        if state == PS.EXITED and command.wait_exit and expected:
            job.current.remove(command)
            return
        if not from_event:
            return  # still stopped-like before any event: the timeout decides
        job.current.remove(command)
        self._failure(job, command)

    def check(self) -> None:
        """ At every local tick: timeouts, and commands whose expected state was reached without its event. """
        for job in list(self.current.values()):
            for command in list(job.current):
                info = command.process.info_map.get(command.identifier)
                if info is None:
                    continue
                state = info['state']
                if state == PS.RUNNING or (state == PS.EXITED and command.wait_exit and info.get('expected', True)):
                    self._evaluate(job, command, state, info.get('expected', True), from_event=False)
                    if command not in job.current:
                        continue
                counter = self._counter(command.identifier)
                if command.exit_awaited:
                    limit, what = command.wait_ticks, 'process exit not received in time'
                elif state in (PS.STARTING, PS.BACKOFF):
                    limit, what = command.wait_ticks, 'process RUNNING event not received in time'
                else:
                    limit, what = command.min_ticks, 'process STARTING event not received in time'
                if counter > command.reference + limit:
                    job.current.remove(command)
                    self.logger.warn(f'Starter: {command.process.namespec} on {command.identifier}: {what}')
                    if not command.exit_awaited:
                        self.core.force_process_state(command.process, command.identifier, PS.FATAL, what)
        self._progress()

    def on_instance_lost(self, identifier: str, failures: List[Any]) -> None:
        """ Commands targeting a lost instance fail; processes with a command planned are not failures. """
        for job in list(self.current.values()):
            for command in list(job.current):
                if command.identifier == identifier:
                    job.current.remove(command)
                    self._failure(job, command)
                    if command.process in failures:
                        failures.remove(command.process)
            for command in job.commands():
                if command.process in failures:
                    failures.remove(command.process)
        for group in self.planned.values():
            for job in group.values():
                for command in job.commands():
                    if command.process in failures:
                        failures.remove(command.process)
        self._progress()


class Stopper(_Engine):

    def stop_applications(self) -> None:
        """ RESTARTING / SHUTTING_DOWN: every application with running-like processes, managed or not. """
        for application in self.core.context.applications.values():
            if any(process.running() for process in application.processes.values()):
                self.stop_application(application, progress=False)
        self._progress()

    def stop_application(self, application, then: Optional[Callable[[], None]] = None,
                         progress: bool = True) -> None:
        job = self._job(application.application_name)
        if job is None:
            job = ApplicationStopJob(application)
            self.planned.setdefault(application.rules.stop_sequence, OrderedDict())[application.application_name] \
                = job
        for process in application.processes.values():
            if process.running() or process.running_identifiers:
                job.add(process.rules.stop_sequence, process)
        if then:
            job.then.append(then)
        if progress:
            self._progress()

    def stop_process(self, process, then: Optional[Callable[[], None]] = None,
                     identifiers: Optional[List[str]] = None) -> None:
        """ Stop a process on every instance where it runs (or only on the given ones). """
        application = self.core.context.applications[process.application_name]
        job = self._job(application.application_name)
        if job is None:
            job = ApplicationStopJob(application)
            self.planned.setdefault(application.rules.stop_sequence, OrderedDict())[application.application_name] \
                = job
        job.add(process.rules.stop_sequence, process, identifiers)
        if then:
            job.then.append(then)
        self._progress()

    def _next_key(self) -> Optional[int]:
        return max(self.planned) if self.planned else None

    def _job_done(self, job: ApplicationStopJob) -> None:
        for follow_up in job.then:
            follow_up()

    def _next_process_group(self, job: ApplicationStopJob) -> None:
        """ Stop the next group (greatest stop_sequence first), in parallel. """
        for process in job.planned.pop(max(job.planned)):
            targets = job.targets.pop(process.namespec, None) or sorted(process.running_identifiers)
            if not process.running():
                continue  # STOPPING or already stopped: nothing more to ask
            for identifier in targets:
                if identifier not in process.running_identifiers or not self._instance_running(identifier):
                    continue
                command = ProcessCommand(process, identifier=identifier)
                self._arm(command, process.info_map.get(identifier, {}).get('stopwaitsecs', 10))
                job.current.append(command)
                self.logger.info(f'Stopper: stopping {process.namespec} on {identifier}')
                self.core.outbox.append(act.StopProcess(identifier, process.namespec))

    def on_event(self, process, identifier: str) -> None:
        for job in list(self.current.values()):
            for command in list(job.current):
                if command.process is process and command.identifier == identifier:
                    if process.info_map[identifier]['state'] in STOPPED_STATES:
                        job.current.remove(command)
        self._progress()

    def check(self) -> None:
        for job in list(self.current.values()):
            for command in list(job.current):
                info = command.process.info_map.get(command.identifier)
                if info is None or info['state'] in STOPPED_STATES:
                    job.current.remove(command)
                    continue
                counter = self._counter(command.identifier)
                if info['state'] == PS.STOPPING:
                    limit, what = command.wait_ticks, 'process STOPPED event not received in time'
                else:
                    limit, what = command.min_ticks, 'process STOPPING event not received in time'
                if counter > command.reference + limit:
                    job.current.remove(command)
                    self.logger.warn(f'Stopper: {command.process.namespec} on {command.identifier}: {what}')
                    self.core.force_process_state(command.process, command.identifier, PS.STOPPED, what)
        self._progress()

    def on_instance_lost(self, identifier: str) -> None:
        for job in list(self.current.values()):
            for command in list(job.current):
                if command.identifier == identifier:
                    job.current.remove(command)
        self._progress()

