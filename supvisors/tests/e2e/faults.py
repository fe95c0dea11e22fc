"""What the fault-injection suites (test_faults_*.py) share: a census of the processes that really run (read from
the operating system, not from Supvisors), a sampler that records it over time, guards on the data files, and the
report line of each scenario.

The census identifies a process by the SUPERVISOR_GROUP_NAME / SUPERVISOR_PROCESS_NAME variables that Supervisor
puts in the environment of every child it spawns, among the direct children of the supervisord of each instance of
the fleet (frozen instances included, since their children keep running). "Nothing runs twice" and "nothing stays
down" are judged on it, so that a wrong view of Supvisors cannot hide a duplicate or a missing process.

Report: every scenario calls ``report(fault, injected, recovery, lost)``, which prints one line starting with
``FAULT-REPORT |`` and, when the environment variable ``SUPVISORS_FAULT_REPORT`` names a file, appends the same
record to it as a JSON line (the table of the closing note is built from it).
"""

import hashlib
import json
import os
import threading
import time
import xmlrpc.client
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import psutil

from supvisors.tools.localfleet import LocalFleet, LocalInstance, wait_for

REPORT_ENV = 'SUPVISORS_FAULT_REPORT'


# ------------------------------------------------------------------------------------------------------------ report
def report(fault: str, injected: str, recovery: Optional[float], lost: str, **extra: Any) -> None:
    """ One row of the fault table: printed, and appended to $SUPVISORS_FAULT_REPORT (JSON lines) if set. """
    recovery_text = 'n/a' if recovery is None else f'{recovery:.2f} s'
    print(f'\nFAULT-REPORT | {fault} | {injected} | {recovery_text} | {lost}'
          + (f' | {extra}' if extra else ''))
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, 'a') as stream:
            stream.write(json.dumps({'fault': fault, 'injected': injected, 'recovery_s': recovery, 'lost': lost,
                                     **extra}) + '\n')


# ------------------------------------------------------------------------------------------------------------ rules
def rules_xml(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<root>\n{body}\n</root>\n'


# ------------------------------------------------------------------------------------------------------------ census
def _supervisor_children(instance: LocalInstance) -> List[Tuple[str, int]]:
    """ (namespec, pid) of every living child process spawned by the supervisord of the instance. """
    if instance.pid is None:
        return []
    try:
        children = psutil.Process(instance.pid).children(recursive=False)
    except psutil.Error:
        return []
    result = []
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            env = child.environ()
        except psutil.Error:
            continue
        group, name = env.get('SUPERVISOR_GROUP_NAME'), env.get('SUPERVISOR_PROCESS_NAME')
        if group and name:
            result.append((f'{group}:{name}', child.pid))
    return result


def census(fleet: LocalFleet) -> Dict[str, List[str]]:
    """ namespec -> the identifiers of the instances where an OS process of it runs (repeated if several). """
    where: Dict[str, List[str]] = {}
    for instance in fleet:
        for namespec, _ in _supervisor_children(instance):
            where.setdefault(namespec, []).append(instance.identifier)
    return where


def counts(fleet: LocalFleet) -> Counter:
    return Counter({namespec: len(hosts) for namespec, hosts in census(fleet).items()})


def pids(fleet: LocalFleet) -> Dict[str, List[int]]:
    """ namespec -> the pids of its OS processes in the fleet. """
    result: Dict[str, List[int]] = {}
    for instance in fleet:
        for namespec, pid in _supervisor_children(instance):
            result.setdefault(namespec, []).append(pid)
    return result


def restarted(before: Mapping[str, List[int]], after: Mapping[str, List[int]]) -> List[str]:
    """ The namespecs whose processes of `before` are gone (replaced by new ones, or not running any more). """
    return sorted(namespec for namespec, old in before.items() if not set(old) & set(after.get(namespec, [])))


class Sampler(threading.Thread):
    """ Records the census of the fleet every `interval` seconds, with monotonic dates. """

    def __init__(self, fleet: LocalFleet, interval: float = 0.1):
        super().__init__(daemon=True, name='fault-sampler')
        self.fleet = fleet
        self.interval = interval
        self.samples: List[Tuple[float, Dict[str, List[str]]]] = []
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._stop_event.is_set():
            sample = (time.monotonic(), census(self.fleet))
            with self._lock:
                self.samples.append(sample)
            self._stop_event.wait(self.interval)

    def __enter__(self) -> 'Sampler':
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)

    def snapshot(self) -> List[Tuple[float, Dict[str, List[str]]]]:
        with self._lock:
            return list(self.samples)

    def sample_now(self) -> None:
        """ Add a sample at once (e.g. right after a fault is injected or a check is made). """
        sample = (time.monotonic(), census(self.fleet))
        with self._lock:
            self.samples.append(sample)

    def duplicates(self, since: float = 0.0) -> List[Tuple[str, float, float, List[str]]]:
        """ (namespec, first date, last date, hosts) of every period where a process ran on several instances. """
        periods: Dict[str, List[Any]] = {}
        result = []
        for date, where in self.snapshot():
            if date < since:
                continue
            for namespec in set(periods) | set(where):
                hosts = where.get(namespec, [])
                if len(hosts) > 1:
                    if namespec in periods:
                        periods[namespec][1] = date
                    else:
                        periods[namespec] = [date, date, sorted(hosts)]
                elif namespec in periods:
                    first, last, seen = periods.pop(namespec)
                    result.append((namespec, first, last, seen))
        result.extend((namespec, first, last, seen) for namespec, (first, last, seen) in periods.items())
        return result

    def first_time(self, predicate: Callable[[Dict[str, List[str]]], bool], since: float) -> Optional[float]:
        """ The date of the first sample after `since` from which the predicate holds until the last sample. """
        found = None
        for date, where in self.snapshot():
            if date < since:
                continue
            if predicate(where):
                if found is None:
                    found = date
            else:
                found = None
        return found

    def missing_at_end(self, expected: Iterable[str]) -> List[str]:
        samples = self.snapshot()
        last = samples[-1][1] if samples else {}
        return [namespec for namespec in expected if len(last.get(namespec, [])) != 1]


def exactly_once(expected: Iterable[str]) -> Callable[[Dict[str, List[str]]], bool]:
    expected = list(expected)
    return lambda where: all(len(where.get(namespec, [])) == 1 for namespec in expected)


def wait_exactly_once(fleet: LocalFleet, expected: Iterable[str], timeout: float, what: str = '',
                      since: Optional[float] = None) -> float:
    """ Wait until every expected process runs on exactly one instance (OS view), and nothing else of the fleet runs
    twice; return the time elapsed since `since` (a time.monotonic() date, default: the call). """
    expected = list(expected)
    since = time.monotonic() if since is None else since

    def settled() -> bool:
        where = census(fleet)
        return exactly_once(expected)(where) and all(len(hosts) == 1 for hosts in where.values())
    try:
        wait_for(settled, timeout, interval=0.02, what=what or f'{expected} running exactly once')
    except TimeoutError as exc:
        raise AssertionError(f'{exc}; census: {census(fleet)}') from None
    return time.monotonic() - since


# ------------------------------------------------------------------------------------------------------------ fleet
def supvisors(instance: LocalInstance, timeout: float = 10.0) -> Any:
    return instance.rpc(timeout=timeout).supvisors


def fsm_state(instance: LocalInstance) -> str:
    return supvisors(instance, 3).get_supvisors_state()['fsm_statename']


def master_of(instance: LocalInstance) -> str:
    return supvisors(instance, 3).get_master_identifier()


def wait_operation(fleet: LocalFleet, identifiers: Optional[Sequence[str]] = None, timeout: float = 30.0,
                   master: Optional[str] = None) -> None:
    """ OPERATION on every given instance, all with the same Master, each seeing the others RUNNING. """
    identifiers = list(identifiers or fleet.identifiers)

    def ready() -> bool:
        masters = set()
        for identifier in identifiers:
            proxy = supvisors(fleet[identifier], 3)
            if proxy.get_supvisors_state()['fsm_statename'] != 'OPERATION':
                return False
            masters.add(proxy.get_master_identifier())
            states = {info['identifier']: info['statename'] for info in proxy.get_all_instances_info()}
            if any(states[x] != 'RUNNING' for x in identifiers):
                return False
        return len(masters) == 1 and (master is None or masters == {master})
    wait_for(ready, timeout, interval=0.1, what=f'{identifiers} in OPERATION with one Master')


def launch(fleet: LocalFleet, timeout: float = 30.0) -> None:
    """ Start every instance and wait for a synchronised OPERATION (diagnostics printed on failure). """
    try:
        fleet.start()
        fleet.wait_rpc_ready(timeout=timeout)
        wait_operation(fleet, timeout=timeout)
    except Exception:
        print(f'\n######## diagnostics of fleet {fleet.basedir}\n{fleet.diagnostics(80)}')
        raise


def sequence_counter(viewer: LocalInstance, identifier: str) -> int:
    return supvisors(viewer, 3).get_instance_info(identifier)['sequence_counter']


def wait_ticks(viewer: LocalInstance, identifier: str, count: int = 2, timeout: float = 30.0) -> None:
    """ Barrier: the viewer has received `count` new ticks of the instance (its periodic work ran since). """
    target = sequence_counter(viewer, identifier) + count
    wait_for(lambda: sequence_counter(viewer, identifier) >= target, timeout, interval=0.05,
             what=f'{count} new ticks of {identifier} seen by {viewer.identifier}')


def quiet(instance: LocalInstance) -> bool:
    """ OPERATION, no conflict, no start or stop job anywhere as seen by the instance. """
    proxy = supvisors(instance, 3)
    state = proxy.get_supvisors_state()
    return (state['fsm_statename'] == 'OPERATION' and not state['starting_jobs'] and not state['stopping_jobs']
            and not proxy.get_conflicts())


def settle(fleet: LocalFleet, expected: Iterable[str], identifiers: Optional[Sequence[str]] = None,
           timeout: float = 60.0, since: Optional[float] = None) -> float:
    """ Wait until every expected process runs exactly once (OS view) and every given instance is quiet in
    OPERATION; check that it holds two Master ticks later (nothing was pending). Return the time from `since`
    (default: the call) to the first moment all of this held. """
    expected = list(expected)
    identifiers = list(identifiers or fleet.identifiers)
    since = time.monotonic() if since is None else since

    def settled() -> bool:
        where = census(fleet)
        return (exactly_once(expected)(where) and all(len(hosts) == 1 for hosts in where.values())
                and all(quiet(fleet[x]) for x in identifiers))
    try:
        wait_for(settled, timeout, interval=0.05, what=f'{expected} exactly once, {identifiers} quiet')
    except TimeoutError as exc:
        raise AssertionError(f'{exc}; census: {census(fleet)}') from None
    elapsed = time.monotonic() - since
    viewer = fleet[identifiers[0]]
    wait_ticks(viewer, master_of(viewer))
    where = census(fleet)
    assert exactly_once(expected)(where) and all(len(hosts) == 1 for hosts in where.values()), \
        f'not stable two ticks later: {where}'
    return elapsed


def assert_supervisords_alive(fleet: LocalFleet, identifiers: Optional[Iterable[str]] = None) -> None:
    """ Every given supervisord still runs (no crash), answers and its supervisor state is RUNNING. """
    for identifier in identifiers or fleet.identifiers:
        instance = fleet[identifier]
        assert instance.alive, f'supervisord {identifier} died (exit code {instance.returncode})'
        assert instance.rpc(timeout=5).supervisor.getState()['statename'] == 'RUNNING'


def no_traceback(instance: LocalInstance) -> None:
    """ Nothing in the logs of the instance looks like an uncaught Python exception. """
    log = instance.log()
    assert 'Traceback (most recent call last)' not in log, f'traceback in the logs of {instance.identifier}'


def process_states(instance: LocalInstance, application: str) -> Dict[str, str]:
    return {info['process_name']: info['statename']
            for info in supvisors(instance, 5).get_process_info(f'{application}:*')}


# ------------------------------------------------------------------------------------------------------------ files
def digest(path: str) -> Optional[str]:
    try:
        with open(path, 'rb') as stream:
            return hashlib.sha256(stream.read()).hexdigest()
    except FileNotFoundError:
        return None


class FileGuard:
    """ The data files of a fleet (configurations, rules, disabilities...), whose content must not change. """

    def __init__(self, paths: Iterable[str]):
        self.digests = {path: digest(path) for path in paths}

    @classmethod
    def of_fleet(cls, fleet: LocalFleet, extra: Iterable[str] = ()) -> 'FileGuard':
        paths = [instance.conf_path for instance in fleet] + list(extra)
        if fleet.rules_path:
            paths.append(fleet.rules_path)
        return cls(paths)

    def changed(self) -> Dict[str, Tuple[Optional[str], Optional[str]]]:
        return {path: (before, digest(path)) for path, before in self.digests.items() if digest(path) != before}

    def check(self) -> None:
        changed = self.changed()
        assert not changed, f'data files modified: {sorted(changed)}'


def disabilities_file(folder: str, identifier: str, content: Mapping[str, bool]) -> str:
    """ A valid disabilities file for an instance (nothing disabled unless said). """
    path = os.path.join(folder, f'disabilities_{identifier}.json')
    with open(path, 'w') as stream:
        json.dump(dict(content), stream)
    return path


def is_fault(exc: BaseException, codes: Iterable[int]) -> bool:
    return isinstance(exc, xmlrpc.client.Fault) and exc.faultCode in set(codes)
