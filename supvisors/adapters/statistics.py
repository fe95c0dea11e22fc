"""Statistics of the fleet as seen by the local instance (spec §4): collection timer, compilation, validation.

The service is owned by SupvisorsRuntime and used in supervisord's thread only, except:

* the collection timer, a small thread that only hands CollectStatistics events to the runtime's channel (it does
  not depend on tick_period nor on Supervisor's TICK events, so that stats_collecting_period is honoured);
* ``collect``, run in a worker thread of the runtime because psutil calls may be slow and must not block
  supervisord's loop. One collection at a time is guaranteed by the runtime, so the collector cache is never
  shared between threads.

Samples from the other instances come from the network: their structure is checked before compilation, and a bad
one is logged (naming its sender) and dropped.
"""

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from supervisor.states import ProcessStates

from ..stats.collector import HAS_PSUTIL, StatisticsCollector
from ..stats.compiler import PeriodStatistics, StatisticsCompilers
from ..ttypes import make_namespec


# Events handed to the owner thread through the runtime's channel
@dataclass
class CollectStatistics:
    """ The collection timer fired: the owner thread lists the RUNNING processes and starts a collection. """


@dataclass
class StatisticsCollected:
    """ A collection ended in a worker thread; sample is None when it failed. """
    sample: Optional[Dict[str, Any]]


# ------------------------------------------------------------------------------------------------------------------
# validation of a sample (layout documented in supvisors.stats.collector)
# ------------------------------------------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    """ A finite int or float; booleans are JSON true/false, not numbers. """
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_number(x) for x in value)


def sample_error(sample: Any) -> Optional[str]:
    """ Why the sample cannot be compiled, None if it can. Checked before compilation so that a bad sample from the
    network neither raises in the compiler nor corrupts the series of its sender. """
    if not isinstance(sample, dict):
        return f'dict expected, got {type(sample).__name__}'
    for key in ('now', 'cpu', 'mem', 'io', 'proc'):
        if key not in sample:
            return f'missing {key!r}'
    if not _is_number(sample['now']):
        return "'now' is not a number"
    if not _is_number(sample['mem']):
        return "'mem' is not a number"
    cpu = sample['cpu']
    if not isinstance(cpu, list) or not all(_is_pair(entry) for entry in cpu):
        return "'cpu' is not a list of [work, idle]"
    io = sample['io']
    if not isinstance(io, dict) or not all(isinstance(name, str) and _is_pair(counters)
                                           for name, counters in io.items()):
        return "'io' is not a mapping of interface to [recv, sent]"
    proc = sample['proc']
    if not isinstance(proc, list):
        return "'proc' is not a list"
    for entry in proc:
        if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], str)
                and isinstance(entry[1], int) and not isinstance(entry[1], bool)
                and _is_number(entry[2]) and _is_number(entry[3])):
            return "'proc' is not a list of [namespec, pid, work, memory]"
    return None


def running_processes(process_groups: Mapping[str, Any]) -> List[Tuple[str, int]]:
    """ (namespec, pid) of the local processes in RUNNING state: the processes whose statistics are collected. """
    result = []
    for group in process_groups.values():
        for process in group.processes.values():
            if process.get_state() == ProcessStates.RUNNING and process.pid:
                result.append((make_namespec(group.config.name, process.config.name), process.pid))
    return result


# ------------------------------------------------------------------------------------------------------------------
# timer
# ------------------------------------------------------------------------------------------------------------------

class CollectionTimer(threading.Thread):
    """ Calls fire() at once, then every period seconds on a monotonic schedule (no drift), until stopped. """

    def __init__(self, period: float, fire: Callable[[], None], logger):
        super().__init__(name='supvisors-stats', daemon=True)
        self.period = period
        self.fire = fire
        self.logger = logger
        self.stopping = threading.Event()

    def run(self) -> None:
        next_time = time.monotonic()
        while not self.stopping.is_set():
            try:
                self.fire()
            except Exception as exc:  # the timer must never die silently nor take supervisord down
                self.logger.error(f'CollectionTimer: {exc!r}')
            next_time += self.period
            now = time.monotonic()
            if next_time < now:  # late (e.g. the host was suspended): skip the missed collections
                next_time = now + self.period
            self.stopping.wait(next_time - now)

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(1.0)


# ------------------------------------------------------------------------------------------------------------------
# service
# ------------------------------------------------------------------------------------------------------------------

class StatisticsService:
    """ Statistics of every instance, compiled locally; the API used by the web dashboard. """

    def __init__(self, options, identifiers: Iterable[str], local_identifier: str, logger,
                 has_psutil: bool = HAS_PSUTIL):
        """ options is a SupvisorsOptions; has_psutil is a parameter so that tests can simulate its absence. """
        self.logger = logger
        self.local_identifier: str = local_identifier
        self.identifiers: List[str] = list(identifiers)
        # local collection and local display need psutil and the option; remote samples are compiled anyway
        self.available_locally: bool = bool(has_psutil and options.stats_enabled)
        self.periods: List[int] = sorted(options.stats_periods)
        self.irix_mode: bool = bool(options.stats_irix_mode)
        self.histo: int = options.stats_histo
        self.collecting_period: float = options.stats_collecting_period
        self.compilers = StatisticsCompilers(self.identifiers, self.periods, self.histo, self.collecting_period)
        # incremented at each compiled sample, for the live updates of the dashboard
        self.version: int = 0
        self.collector: Optional[StatisticsCollector] = StatisticsCollector() if self.available_locally else None
        self.collecting: bool = False  # a collection is running in a worker thread (owner thread flag)
        self.timer: Optional[CollectionTimer] = None
        self._heard: set = set()  # identifiers whose first sample has been logged

    # -------------------------------------------------------------------------- dashboard API
    def get_stats(self, identifier: str, period: int) -> Optional[PeriodStatistics]:
        """ Series of the instance for the period, None if the instance or the period is unknown. """
        return self.compilers.get_stats(identifier, period)

    def nb_cores(self, identifier: str) -> int:
        """ Core count of the host of the instance, learnt from its samples; 1 while unknown. """
        compiler = self.compilers.compilers.get(identifier)
        return (compiler.nb_cores or 1) if compiler is not None else 1

    def on_sample(self, identifier: str, sample: Any) -> None:
        """ Compile a sample of an instance (local or received). Never raises: a bad sample is logged and dropped. """
        if identifier not in self.compilers.compilers:
            self.logger.warn(f'StatisticsService.on_sample: statistics from unknown instance {identifier!r} dropped')
            return
        error = sample_error(sample)
        if error is not None:
            self.logger.error(f'StatisticsService.on_sample: invalid statistics from {identifier} dropped: {error}')
            return
        try:
            self.compilers.push_statistics(identifier, sample)
        except Exception as exc:  # safety net: whatever comes from the network must not break the caller
            self.logger.error(f'StatisticsService.on_sample: cannot compile statistics from {identifier}: {exc!r}')
            return
        self.version += 1
        if identifier not in self._heard:
            self._heard.add(identifier)
            self.logger.info(f'StatisticsService.on_sample: first statistics compiled for {identifier}')

    # -------------------------------------------------------------------------- collection
    def start(self, deliver: Callable[[Any], None]) -> None:
        """ Start the collection timer (only when available locally); deliver is the runtime's channel. """
        if not self.available_locally or self.timer is not None:
            return
        self.timer = CollectionTimer(self.collecting_period, lambda: deliver(CollectStatistics()), self.logger)
        self.timer.start()
        self.logger.info(f'StatisticsService.start: collecting every {self.collecting_period} s'
                         f' for the periods {self.periods}')

    def stop(self) -> None:
        """ Stop the collection timer; a collection already running in a worker thread is left to finish. """
        if self.timer is not None:
            self.timer.stop()
            self.timer = None

    def collect(self, processes: List[Tuple[str, int]]) -> Dict[str, Any]:
        """ Worker thread: one sample of the host, the given processes and supervisord. """
        return self.collector.collect(processes)
