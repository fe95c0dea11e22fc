"""Compilation of statistics samples into series per (instance, period) (spec §4.3).

Pure code: samples come from the local collector or from other instances through the internal bus, with the layout
documented in supvisors.stats.collector. Process CPU is stored as the IRIX value; Solaris conversion is a display
matter (supvisors.stats.figures).
"""

import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from .figures import get_nb_cores

ProcessKey = Tuple[str, int]

# upstream collects one sample per Supervisor TICK_5
DEFAULT_COLLECTING_PERIOD = 5.0


def samples_per_integration(period: float, collecting_period: float = DEFAULT_COLLECTING_PERIOD) -> int:
    """ Number of samples between two integrations of a period: period / collecting_period rounded half up, at least 1.

    With the upstream collecting period of 5 s and periods multiple of 5, this is period // 5 as in 0.15.
    Rounding half up (not Python's banker's rounding) keeps the cadence monotonic in the period.
    """
    if not collecting_period > 0:
        return max(1, int(period // DEFAULT_COLLECTING_PERIOD))
    return max(1, int(math.floor(period / collecting_period + 0.5)))


def _truncate(series: List[float], histo: int) -> None:
    """ Drop the oldest values beyond histo. """
    if len(series) > histo:
        del series[:len(series) - histo]


def cpu_percent(ref: List[float], last: List[float]) -> float:
    """ 100·Δwork / (Δwork + Δidle), 0 if the denominator is 0. """
    work = last[0] - ref[0]
    total = work + last[1] - ref[1]
    # jiffies are floats: keep the rounding errors of the subtraction inside [0; 100]
    return min(100.0, max(0.0, 100.0 * work / total)) if total else 0.0


class PeriodStatistics:
    """ Series of one instance for one period; integrates every period/collecting_period samples against the previous
    reference (period/5 with the upstream collecting period). """

    def __init__(self, period: int, histo: int, collecting_period: float = DEFAULT_COLLECTING_PERIOD):
        self.period: int = period
        self.histo: int = histo
        self.nb_samples: int = samples_per_integration(period, collecting_period)
        self.counter: int = 0
        self.ref_sample: Optional[Mapping[str, Any]] = None
        # series
        self.cpu: List[List[float]] = []
        self.mem: List[float] = []
        self.io: Dict[str, Tuple[List[float], List[float]]] = {}
        self.proc: Dict[ProcessKey, Tuple[List[float], List[float]]] = {}

    def push_statistics(self, sample: Mapping[str, Any]) -> bool:
        """ Count the sample and integrate it when due. Return True if an integration has been done. """
        due = self.counter % self.nb_samples == 0
        self.counter += 1
        if not due:
            return False
        ref, self.ref_sample = self.ref_sample, sample
        if ref is None:
            return False  # the first due sample only sets the reference
        self._integrate(ref, sample)
        return True

    def _integrate(self, ref: Mapping[str, Any], last: Mapping[str, Any]) -> None:
        """ Append the values computed between ref and last to the series. """
        # CPU, average entry first
        ref_cpu, last_cpu = ref['cpu'], last['cpu']
        values = ([cpu_percent(ref_entry, last_entry) for ref_entry, last_entry in zip(ref_cpu, last_cpu)]
                  if len(ref_cpu) == len(last_cpu) else [])
        if len(values) != len(self.cpu):
            self.cpu = [[] for _ in values]  # unexpected change of core count: restart the CPU history
        for series, value in zip(self.cpu, values):
            series.append(value)
            _truncate(series, self.histo)
        # memory
        self.mem.append(last['mem'])
        _truncate(self.mem, self.histo)
        # network, in kbit/s
        delta_t = last['now'] - ref['now']
        io_values: Dict[str, Tuple[float, float]] = {}
        for intf, (recv, sent) in last['io'].items():
            ref_counters = ref['io'].get(intf)
            if ref_counters is None:
                continue
            ref_recv, ref_sent = ref_counters
            if recv >= ref_recv and sent >= ref_sent:
                io_values[intf] = ((recv - ref_recv) / delta_t / 128, (sent - ref_sent) / delta_t / 128) \
                    if delta_t > 0 else (0.0, 0.0)
        self._update_dict(self.io, io_values)
        # processes, relative to the average CPU entry (IRIX value)
        avg_total = (last_cpu[0][0] - ref_cpu[0][0]) + (last_cpu[0][1] - ref_cpu[0][1]) if ref_cpu and last_cpu else 0
        ref_proc = {(namespec, pid): work for namespec, pid, work, _ in ref['proc']}
        proc_values: Dict[ProcessKey, Tuple[float, float]] = {}
        for namespec, pid, work, memory in last['proc']:
            key = (namespec, pid)
            if key in ref_proc:
                proc_values[key] = (100.0 * (work - ref_proc[key]) / avg_total if avg_total else 0.0, memory)
        self._update_dict(self.proc, proc_values)

    def _update_dict(self, series_dict: Dict[Any, Tuple[List[float], List[float]]],
                     values: Mapping[Any, Tuple[float, float]]) -> None:
        """ Append the value pairs, creating new series and deleting the series absent from values. """
        for key in list(series_dict):
            if key not in values:
                del series_dict[key]
        for key, pair in values.items():
            series_pair = series_dict.setdefault(key, ([], []))
            for series, value in zip(series_pair, pair):
                series.append(value)
                _truncate(series, self.histo)

    def find_process_stats(self, namespec: str) -> Optional[Tuple[int, List[float], List[float]]]:
        """ (pid, cpu series, memory series) of the process named namespec, None if not compiled. """
        for (name, pid), (cpu, mem) in self.proc.items():
            if name == namespec:
                return pid, cpu, mem
        return None


class StatisticsCompiler:
    """ Statistics of one instance for every configured period. """

    def __init__(self, periods: Iterable[int], histo: int, nb_cores: Optional[int] = None,
                 collecting_period: float = DEFAULT_COLLECTING_PERIOD):
        """ nb_cores is learnt from the samples when not given, as remote hosts may differ from the local one. """
        self.periods: List[int] = sorted(periods)
        self.histo: int = histo
        self.nb_cores: Optional[int] = nb_cores
        self.data: Dict[int, PeriodStatistics] = {period: PeriodStatistics(period, histo, collecting_period)
                                                  for period in self.periods}

    def push_statistics(self, sample: Mapping[str, Any]) -> None:
        """ Feed a sample to every period. """
        if sample.get('cpu'):
            self.nb_cores = get_nb_cores(len(sample['cpu']))
        for stats in self.data.values():
            stats.push_statistics(sample)

    def get_stats(self, period: int) -> Optional[PeriodStatistics]:
        """ Series of the period, None if the period is not configured. """
        return self.data.get(period)


class StatisticsCompilers:
    """ One StatisticsCompiler per Supvisors instance; compiled data is never cleared. """

    def __init__(self, identifiers: Iterable[str], periods: Iterable[int], histo: int,
                 collecting_period: float = DEFAULT_COLLECTING_PERIOD):
        """ collecting_period is the expected time between two samples of an instance (the same for all). """
        periods = list(periods)
        self.compilers: Dict[str, StatisticsCompiler] = {
            identifier: StatisticsCompiler(periods, histo, collecting_period=collecting_period)
            for identifier in identifiers}

    def push_statistics(self, identifier: str, sample: Mapping[str, Any]) -> None:
        """ Compile a sample of a known instance (unknown identifiers are ignored). """
        compiler = self.compilers.get(identifier)
        if compiler is not None:
            compiler.push_statistics(sample)

    def get_stats(self, identifier: str, period: int) -> Optional[PeriodStatistics]:
        """ Series of the instance for the period, None if unknown. """
        compiler = self.compilers.get(identifier)
        return compiler.get_stats(period) if compiler else None
