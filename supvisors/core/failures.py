"""Running failure strategies and conflict conciliation.

The failure handler keeps the pending reactions per application with their priorities
(STOP_APPLICATION > RESTART_APPLICATION > RESTART_PROCESS > CONTINUE) and executes each as soon as its application
has no Starter or Stopper job, instead of waiting for the next tick. Restarts keep the extra arguments of the
process (0.15 dropped them).

With ``partition_safety``, an instance without quorum drops its pending restarts (RESTART_PROCESS,
RESTART_APPLICATION, the restarts of the processes of a lost instance) instead of executing them, stop included:
the minority of a partition keeps what runs, and the majority restarts what was lost.
"""

from collections import OrderedDict
from typing import Dict, List

from ..ttypes import ConciliationStrategies, RunningFailureStrategies, StartingStrategies

RFS = RunningFailureStrategies


class FailureHandler:

    def __init__(self, core):
        self.core = core
        self.stop_applications: 'OrderedDict[str, object]' = OrderedDict()
        self.restart_applications: 'OrderedDict[str, object]' = OrderedDict()
        self.restart_processes: 'OrderedDict[str, object]' = OrderedDict()
        self.continue_processes: 'OrderedDict[str, object]' = OrderedDict()

    @property
    def logger(self):
        return self.core.logger

    def abort(self) -> None:
        for jobs in (self.stop_applications, self.restart_applications, self.restart_processes,
                     self.continue_processes):
            jobs.clear()

    def pending(self) -> bool:
        return bool(self.stop_applications or self.restart_applications or self.restart_processes
                    or self.continue_processes)

    # ------------------------------------------------------------------ adding, with priorities
    def add(self, process, strategy: RFS) -> None:
        application_name = process.application_name
        application = self.core.context.applications.get(application_name)
        if application is None:
            return
        if strategy == RFS.STOP_APPLICATION:
            self.stop_applications[application_name] = application
            self.restart_applications.pop(application_name, None)
            self._remove_process_jobs(application_name, lambda p: True)
        elif strategy == RFS.RESTART_APPLICATION:
            if application_name in self.stop_applications:
                return
            self.restart_applications[application_name] = application
            self._remove_process_jobs(application_name, lambda p: p.rules.start_sequence > 0)
        elif strategy == RFS.RESTART_PROCESS:
            if application_name in self.stop_applications or (application_name in self.restart_applications
                                                               and process.rules.start_sequence > 0):
                return
            self.restart_processes[process.namespec] = process
            self.continue_processes.pop(process.namespec, None)
        elif strategy == RFS.CONTINUE:
            if application_name in self.stop_applications or process.namespec in self.restart_processes or \
                    (application_name in self.restart_applications and process.rules.start_sequence > 0):
                return
            self.continue_processes[process.namespec] = process

    def _remove_process_jobs(self, application_name: str, selector) -> None:
        for jobs in (self.restart_processes, self.continue_processes):
            for namespec, process in list(jobs.items()):
                if process.application_name == application_name and selector(process):
                    del jobs[namespec]

    # ------------------------------------------------------------------ execution
    def _busy(self, application_name: str) -> bool:
        return self.core.starter.has_job(application_name) or self.core.stopper.has_job(application_name)

    def drop_restarts(self) -> None:
        """ partition_safety without quorum: forget the pending restarts, with a log line each. """
        reason = self.core.quorum_text()
        for name in self.restart_applications:
            self.logger.warn(f'FailureHandler: application {name} not restarted: {reason}')
        for namespec in self.restart_processes:
            self.logger.warn(f'FailureHandler: process {namespec} not restarted: {reason}')
        self.restart_applications.clear()
        self.restart_processes.clear()

    def trigger(self) -> None:
        """ Execute every pending job whose application is not being started or stopped. """
        core = self.core
        if not core.starts_allowed():
            self.drop_restarts()
        for name, application in list(self.stop_applications.items()):
            if not self._busy(name):
                del self.stop_applications[name]
                if application.running():
                    self.logger.warn(f'FailureHandler: stopping application {name}')
                    core.stopper.stop_application(application)
        for name, application in list(self.restart_applications.items()):
            if not self._busy(name):
                del self.restart_applications[name]
                self.logger.warn(f'FailureHandler: restarting application {name}')
                strategy = application.rules.starting_strategy

                def start(application=application, strategy=strategy):
                    if application.stopped():
                        core.starter.start_application(strategy, application)
                if application.running():
                    core.stopper.stop_application(application, then=start)
                else:
                    start()
        for namespec, process in list(self.restart_processes.items()):
            if not self._busy(process.application_name):
                del self.restart_processes[namespec]
                application = core.context.applications.get(process.application_name)
                if application is None:
                    continue  # removed meanwhile (group removed from Supervisor): nothing to restart
                self.logger.warn(f'FailureHandler: restarting process {namespec}')
                restart_process(core, process, application.rules.starting_strategy, process.extra_args)
        for namespec, process in list(self.continue_processes.items()):
            if not self._busy(process.application_name):
                del self.continue_processes[namespec]
                self.logger.info(f'FailureHandler: nothing to do for {namespec} (CONTINUE)')


def restart_process(core, process, strategy: StartingStrategies, extra_args: str) -> None:
    """ Stop the process if it runs, then start it again once its application's stop job is over. """
    def start():
        if process.stopped():
            core.starter.start_process(strategy, process, extra_args)
    if process.running():
        core.stopper.stop_process(process, then=start)
    else:
        start()


def uptime(process, identifier: str, now: float) -> float:
    """ Uptime of the process on an instance: 0 while starting, so a starting copy is the youngest. """
    info = process.info_map.get(identifier, {})
    if info.get('state') in (20, 40):  # RUNNING, STOPPING
        return max(0.0, float(info.get('now', now)) - float(info.get('start', 0)))
    return 0.0


def conciliate(core, strategy: ConciliationStrategies, conflicts: List) -> None:
    """ Resolve conflicts (processes running on several instances) with a conciliation strategy. """
    if strategy == ConciliationStrategies.USER:
        return
    for process in conflicts:
        identifiers = sorted(process.running_identifiers)
        if strategy in (ConciliationStrategies.SENICIDE, ConciliationStrategies.INFANTICIDE):
            uptimes: Dict[str, float] = {x: uptime(process, x, core.now) for x in identifiers}
            if strategy == ConciliationStrategies.SENICIDE:
                keep = min(identifiers, key=lambda x: uptimes[x])
            else:
                keep = max(identifiers, key=lambda x: uptimes[x])
            others = [x for x in identifiers if x != keep]
            core.logger.warn(f'Conciliation: {strategy.name} keeps {process.namespec} on {keep}')
            core.stopper.stop_process(process, identifiers=others)
        elif strategy == ConciliationStrategies.STOP:
            core.stopper.stop_process(process)
        elif strategy == ConciliationStrategies.RESTART:
            application = core.context.applications[process.application_name]
            core.logger.warn(f'Conciliation: RESTART of {process.namespec}')
            restart_process(core, process, application.rules.starting_strategy, process.extra_args)
        elif strategy == ConciliationStrategies.RUNNING_FAILURE:
            core.stopper.stop_process(process)
            if process.rules.running_failure_strategy not in (RFS.RESTART, RFS.SHUTDOWN):
                core.failure_handler.add(process, process.rules.running_failure_strategy)
    core.failure_handler.trigger()
