"""Collection of one statistics sample on the local host (spec §4.2).

The sample is a plain JSON-serialisable dict because it travels on the internal bus as the STATISTICS body:

    {'now': float,                                  # time.time() of the collection
     'cpu': [[work, idle], ...],                    # jiffies, average entry first, then one entry per core
     'mem': float,                                  # host virtual memory percent
     'io': {interface: [bytes_recv, bytes_sent]},
     'proc': [[namespec, pid, work, memory], ...]}  # requested processes, then supervisord itself
"""

import os
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

try:
    import psutil
    HAS_PSUTIL = True
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None
    HAS_PSUTIL = False

SUPERVISORD_NAMESPEC = 'supervisord'

# psutil.Process errors meaning that the measure cannot be done (process gone, zombie, not permitted)
_PROCESS_ERRORS: Tuple[type, ...] = ((psutil.Error, OSError) if HAS_PSUTIL else (OSError,))


def cpu_jiffies() -> List[List[float]]:
    """ Work and idle jiffies per core, with the average over cores inserted first (host CPU uses index 0). """
    entries = []
    for times in psutil.cpu_times(percpu=True):
        work = (times.user + times.nice + times.system + getattr(times, 'irq', 0.0) + getattr(times, 'softirq', 0.0)
                + getattr(times, 'steal', 0.0) + getattr(times, 'guest', 0.0))
        idle = times.idle + getattr(times, 'iowait', 0.0)
        entries.append([work, idle])
    if entries:
        nb = len(entries)
        entries.insert(0, [sum(work for work, _ in entries) / nb, sum(idle for _, idle in entries) / nb])
    return entries


def host_memory() -> float:
    """ Reserved memory of the host, in percent. """
    return psutil.virtual_memory().percent


def network_bytes() -> Dict[str, List[int]]:
    """ Received and sent bytes per network interface (cumulative counters). """
    return {name: [counters.bytes_recv, counters.bytes_sent]
            for name, counters in psutil.net_io_counters(pernic=True).items()}


class StatisticsCollector:
    """ Collector of samples, keeping psutil.Process objects between calls so that each tick stays cheap. """

    def __init__(self, supervisord_pid: Optional[int] = None):
        """ supervisord_pid defaults to the current process, as the collector runs inside supervisord. """
        self.supervisord_pid: int = supervisord_pid if supervisord_pid is not None else os.getpid()
        self.processes: Dict[int, Any] = {}

    def _get_process(self, pid: int):
        """ Cached psutil.Process for pid, renewed when the pid has been reused by another process. """
        proc = self.processes.get(pid)
        if proc is not None and not proc.is_running():
            proc = None
        if proc is None:
            proc = psutil.Process(pid)
            self.processes[pid] = proc
        return proc

    def process_statistics(self, pid: int, children: bool = True) -> Tuple[float, float]:
        """ (work, memory) of a process; (0, 0) if it cannot be measured (e.g. vanished).

        As upstream, the CPU times and memory percent of the children are added to the memory figure, not to work.
        """
        try:
            proc = self._get_process(pid)
            times = proc.cpu_times()
            work = times.user + times.system
            memory = proc.memory_percent()
            if children:
                for child in proc.children(recursive=True):
                    try:
                        child_times = child.cpu_times()
                        memory += child_times.user + child_times.system + child.memory_percent()
                    except _PROCESS_ERRORS:
                        pass  # a child may vanish during the measure
            return work, memory
        except _PROCESS_ERRORS:
            self.processes.pop(pid, None)
            return 0, 0

    def collect(self, processes: Iterable[Sequence[Any]]) -> Dict[str, Any]:
        """ One sample for the (namespec, pid) given (the RUNNING processes) plus supervisord itself. """
        proc_stats = []
        requested = set()
        for namespec, pid in processes:
            requested.add(pid)
            proc_stats.append([namespec, pid, *self.process_statistics(pid)])
        requested.add(self.supervisord_pid)
        proc_stats.append([SUPERVISORD_NAMESPEC, self.supervisord_pid,
                           *self.process_statistics(self.supervisord_pid, children=False)])
        # forget the processes no longer measured
        for pid in list(self.processes):
            if pid not in requested:
                del self.processes[pid]
        return {'now': time.time(), 'cpu': cpu_jiffies(), 'mem': host_memory(), 'io': network_bytes(),
                'proc': proc_stats}
