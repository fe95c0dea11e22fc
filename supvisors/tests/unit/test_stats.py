"""Tests of the statistics collection, compilation and derived figures (interfaces contract §4)."""

import json
import math
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

import pytest

from supvisors.stats import collector as collector_module
from supvisors.stats.collector import StatisticsCollector
from supvisors.stats.compiler import PeriodStatistics, StatisticsCompiler, StatisticsCompilers, cpu_percent
from supvisors.stats.figures import (get_linear_regression, get_mean, get_nb_cores, get_rate, get_series_rate,
                                     get_statistics, get_stddev, get_trend_class, solaris_series, solaris_value)


def make_sample(now: float, cpu: List[List[float]], mem: float = 0.0, io: Optional[Dict[str, List[int]]] = None,
                proc: Optional[List[List[Any]]] = None) -> Dict[str, Any]:
    """ Sample with the layout produced by the collector. """
    return {'now': now, 'cpu': cpu, 'mem': mem, 'io': io or {}, 'proc': proc or []}


# two cores; the average entry is the mean of the cores
SAMPLE_0 = make_sample(0.0, [[20, 180], [10, 90], [30, 90]], 10.0,
                       {'eth0': [0, 0], 'lo': [1000, 1000], 'gone': [5, 5]},
                       [['app:x', 12, 1.0, 2.0], ['supervisord', 1, 0.5, 1.0], ['app:old', 7, 3.0, 4.0]])
SAMPLE_2 = make_sample(10.0, [[45, 255], [30, 170], [60, 140]], 20.0,
                       {'eth0': [12800, 25600], 'lo': [500, 2000], 'new': [0, 0]},
                       [['app:x', 12, 11.0, 3.0], ['supervisord', 1, 1.5, 1.5], ['app:new', 8, 1.0, 1.0]])


# ---------------------------------------------------------------- figures

def test_mean():
    assert get_mean([1, 2, 3, 4]) == 2.5
    assert get_mean([]) is None


def test_rate():
    assert get_rate(4, 5) == pytest.approx(25.0)
    assert get_rate(5, 4) == pytest.approx(-20.0)
    assert get_rate(0, 5) == math.inf
    assert get_rate(0, 0) == math.inf
    assert get_series_rate([1]) is None
    assert get_series_rate([3, 4, 5]) == pytest.approx(25.0)


def test_linear_regression():
    assert get_linear_regression([5]) is None
    assert get_linear_regression([1, 3, 5, 7]) == pytest.approx((2.0, 1.0))
    # hand-computed: mean_i=1, mean_x=7/3, sxx=2, sxy=3
    assert get_linear_regression([1, 2, 4]) == pytest.approx((1.5, 7 / 3 - 1.5))
    assert get_linear_regression([3, 3, 3]) == pytest.approx((0.0, 3.0))


def test_stddev():
    assert get_stddev([5]) is None
    assert get_stddev([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(2.0)
    assert get_stddev([1, 3], mean=2) == pytest.approx(1.0)


def test_trend_class():
    assert get_trend_class(None) == 'stable'
    assert get_trend_class(0.0) == 'stable'
    assert get_trend_class(0.0049) == 'stable'
    assert get_trend_class(-0.0049) == 'stable'
    assert get_trend_class(0.005) == 'increase'
    assert get_trend_class(-0.005) == 'decrease'
    assert get_trend_class(math.inf) == 'increase'
    assert get_trend_class(-12.0) == 'decrease'


def test_statistics():
    assert get_statistics([]) == (None, None, None, None, None)
    assert get_statistics([7.0]) == (7.0, 7.0, None, None, None)
    last, mean, rate, slope, stddev = get_statistics([1, 3])
    assert (last, mean, rate, slope, stddev) == (3, 2, pytest.approx(200.0), pytest.approx(2.0), pytest.approx(1.0))


def test_solaris():
    assert get_nb_cores(5) == 4
    assert get_nb_cores(1) == 1
    assert get_nb_cores(0) == 1
    assert solaris_value(50.0, 4, False) == 12.5
    assert solaris_value(50.0, 4, True) == 50.0
    assert solaris_value(None, 4, False) is None
    assert solaris_series([40.0, 8.0], 4, False) == [10.0, 2.0]
    assert solaris_series([40.0, 8.0], 4, True) == [40.0, 8.0]


# ---------------------------------------------------------------- compiler

def test_cpu_percent():
    assert cpu_percent([10, 90], [30, 170]) == pytest.approx(20.0)
    assert cpu_percent([10, 90], [10, 90]) == 0.0
    # rounding errors of float jiffies never leave [0; 100]
    assert cpu_percent([0.1, 0.0], [0.30000000000000004, 0.0]) == 100.0
    assert cpu_percent([5.0, 10.0], [4.999999, 10.5]) == 0.0


def test_integration_formulas():
    """ Hand-computed values between SAMPLE_0 and SAMPLE_2. """
    stats = PeriodStatistics(5, 10)
    assert not stats.push_statistics(SAMPLE_0)  # reference only
    assert stats.cpu == [] and stats.mem == [] and stats.io == {} and stats.proc == {}
    assert stats.push_statistics(SAMPLE_2)
    # average: Δwork 25, Δidle 75; core 0: 20/80; core 1: 30/50
    assert stats.cpu == [[pytest.approx(25.0)], [pytest.approx(20.0)], [pytest.approx(37.5)]]
    assert stats.mem == [20.0]
    # eth0: 12800 bytes in 10 s = 10 kbit/s; lo recv decreased; gone / new not in both samples
    assert stats.io == {'eth0': ([pytest.approx(10.0)], [pytest.approx(20.0)])}
    # process CPU relative to the average entry: 100 * 10 / 100 (IRIX value)
    assert stats.proc == {('app:x', 12): ([pytest.approx(10.0)], [3.0]),
                          ('supervisord', 1): ([pytest.approx(1.0)], [1.5])}
    assert stats.find_process_stats('app:x') == (12, [pytest.approx(10.0)], [3.0])
    assert stats.find_process_stats('app:none') is None


def test_null_denominators():
    """ No CPU progress and no time elapsed give 0 values rather than errors. """
    stats = PeriodStatistics(5, 10)
    sample = make_sample(1.0, [[10, 10], [10, 10]], 5.0, {'eth0': [10, 10]}, [['p', 3, 1.0, 1.0]])
    stats.push_statistics(sample)
    stats.push_statistics(make_sample(1.0, [[10, 10], [10, 10]], 6.0, {'eth0': [20, 20]}, [['p', 3, 2.0, 1.0]]))
    assert stats.cpu == [[0.0], [0.0]]
    assert stats.io == {'eth0': ([0.0], [0.0])}
    assert stats.proc == {('p', 3): ([0.0], [1.0])}


def cpu_sample(index: int, mem: Optional[float] = None, proc: Optional[List[List[Any]]] = None) -> Dict[str, Any]:
    """ Sample number index, with a constant 10 % CPU load and memory = index by default. """
    return make_sample(5.0 * index, [[10 * index, 90 * index], [10 * index, 90 * index]],
                       float(index) if mem is None else mem, {}, proc)


def test_period_cadence():
    """ Period 15: one integration every 3 samples, against the previous integration reference. """
    stats = PeriodStatistics(15, 10)
    assert stats.nb_samples == 3
    done = [stats.push_statistics(cpu_sample(index)) for index in range(10)]
    assert done == [False, False, False, True, False, False, True, False, False, True]
    assert stats.mem == [3.0, 6.0, 9.0]
    assert stats.cpu == [[pytest.approx(10.0)] * 3] * 2
    assert stats.ref_sample['now'] == 45.0


def test_compiler_periods():
    compiler = StatisticsCompiler([20, 5], 10)
    assert compiler.periods == [5, 20]
    assert compiler.nb_cores is None
    for index in range(9):
        compiler.push_statistics(cpu_sample(index))
    assert compiler.nb_cores == 1
    assert compiler.get_stats(5).mem == [float(index) for index in range(1, 9)]
    assert compiler.get_stats(20).mem == [4.0, 8.0]
    assert compiler.get_stats(10) is None
    # the number of cores is learnt from the samples
    compiler.push_statistics(make_sample(50.0, [[0, 0]] * 5))
    assert compiler.nb_cores == 4
    assert StatisticsCompiler([5], 10, 8).nb_cores == 8


def test_compilers():
    compilers = StatisticsCompilers(['10.0.0.1', '10.0.0.2'], [5], 10)
    compilers.push_statistics('10.0.0.1', cpu_sample(0))
    compilers.push_statistics('10.0.0.1', cpu_sample(1))
    compilers.push_statistics('unknown', cpu_sample(1))
    assert compilers.get_stats('10.0.0.1', 5).mem == [1.0]
    assert compilers.get_stats('10.0.0.2', 5).mem == []
    assert compilers.get_stats('unknown', 5) is None
    assert compilers.get_stats('10.0.0.1', 10) is None


def test_truncation():
    stats = PeriodStatistics(5, 10)
    for index in range(30):
        stats.push_statistics(cpu_sample(index, proc=[['p', 1, float(index), float(index)]]))
    expected = [float(index) for index in range(20, 30)]
    assert stats.mem == expected
    assert all(len(series) == 10 for series in stats.cpu)
    assert stats.proc[('p', 1)][1] == expected
    assert len(stats.proc[('p', 1)][0]) == 10


def test_process_restart():
    """ A new pid starts a new series once present in two integration samples; the old one is deleted. """
    stats = PeriodStatistics(5, 10)
    stats.push_statistics(cpu_sample(0, proc=[['p', 1, 0.0, 1.0]]))
    stats.push_statistics(cpu_sample(1, proc=[['p', 1, 1.0, 1.0]]))
    stats.push_statistics(cpu_sample(2, proc=[['p', 1, 2.0, 1.0]]))
    assert list(stats.proc) == [('p', 1)] and len(stats.proc[('p', 1)][1]) == 2
    # restart with a new pid: the old series is deleted, the new one not yet created
    stats.push_statistics(cpu_sample(3, proc=[['p', 2, 0.0, 2.0]]))
    assert stats.proc == {}
    stats.push_statistics(cpu_sample(4, proc=[['p', 2, 1.0, 2.0]]))
    assert stats.proc == {('p', 2): ([pytest.approx(1.0)], [2.0])}
    # same pid, other namespec: not the same process
    stats.push_statistics(cpu_sample(5, proc=[['q', 2, 1.0, 2.0]]))
    assert stats.proc == {}


def test_network_counter_decrease():
    """ A decreasing counter (e.g. interface reset) removes the interface series, which then restarts. """
    stats = PeriodStatistics(5, 10)
    for now, counters in enumerate([[0, 0], [1280, 1280], [2560, 3840], [2560, 0], [3840, 1280]]):
        stats.push_statistics(make_sample(float(now), [[0, 0]], 0.0, {'eth0': counters}))
        if now == 2:
            assert stats.io == {'eth0': ([10.0, 10.0], [10.0, 20.0])}
        elif now == 3:
            assert stats.io == {}
    assert stats.io == {'eth0': ([10.0], [10.0])}


def test_cpu_entries_change():
    """ A change in the number of CPU entries restarts the CPU history instead of mixing cores. """
    stats = PeriodStatistics(5, 10)
    stats.push_statistics(make_sample(0.0, [[0, 0], [0, 0]]))
    stats.push_statistics(make_sample(1.0, [[1, 1], [1, 1]]))
    assert stats.cpu == [[50.0], [50.0]]
    stats.push_statistics(make_sample(2.0, [[2, 2], [2, 2], [2, 2]]))
    assert stats.cpu == []
    stats.push_statistics(make_sample(3.0, [[3, 3], [3, 3], [4, 2]]))
    assert stats.cpu == [[50.0], [50.0], [100.0]]


def test_solaris_display_of_compiled_value():
    """ Process CPU is compiled as IRIX value and divided by the core count for display in Solaris mode. """
    compiler = StatisticsCompiler([5], 10)
    compiler.push_statistics(SAMPLE_0)
    compiler.push_statistics(SAMPLE_2)
    cpu = compiler.get_stats(5).proc[('app:x', 12)][0]
    assert solaris_value(cpu[-1], compiler.nb_cores, False) == pytest.approx(5.0)
    assert solaris_value(cpu[-1], compiler.nb_cores, True) == pytest.approx(10.0)


# ---------------------------------------------------------------- collector

class FakeTimes:
    def __init__(self, user: float, system: float):
        self.user, self.system = user, system


class FakeProcess:
    """ psutil.Process double: pid 100 has a child 101 that has a child 102; 102 vanishes on cpu_times. """
    created: List[int] = []
    TREE = {100: [101], 101: [102], 102: []}

    def __init__(self, pid: int):
        if pid not in self.TREE and pid != 200:
            raise collector_module.psutil.NoSuchProcess(pid)
        self.pid = pid
        FakeProcess.created.append(pid)

    def is_running(self) -> bool:
        return True

    def cpu_times(self):
        if self.pid == 103:
            raise collector_module.psutil.NoSuchProcess(self.pid)
        return FakeTimes(self.pid / 100, 1.0)

    def memory_percent(self) -> float:
        return 0.5

    def children(self, recursive: bool = False):
        assert recursive
        pids = {100: [101, 102, 103], 101: [102]}.get(self.pid, [])
        children = []
        for pid in pids:
            child = object.__new__(FakeProcess)
            child.pid = pid
            children.append(child)
        return children


def test_child_defects(monkeypatch):
    """ Children CPU times and memory go to the memory figure, never to work; vanished children are ignored. """
    monkeypatch.setattr(collector_module.psutil, 'Process', FakeProcess)
    FakeProcess.created = []
    collector = StatisticsCollector(supervisord_pid=100)
    work, memory = collector.process_statistics(100)
    assert work == pytest.approx(2.0)  # 1.0 + 1.0, own times only
    # own 0.5 + child 101 (1.01 + 1.0 + 0.5) + child 102 (1.02 + 1.0 + 0.5)
    assert memory == pytest.approx(0.5 + 2.51 + 2.52)
    # supervisord is measured without children
    assert collector.process_statistics(100, children=False) == (pytest.approx(2.0), 0.5)
    # cached object reused
    assert FakeProcess.created == [100]
    assert collector.process_statistics(999) == (0, 0)
    assert 999 not in collector.processes


def test_collect_cache_pruning(monkeypatch):
    monkeypatch.setattr(collector_module.psutil, 'Process', FakeProcess)
    FakeProcess.created = []
    collector = StatisticsCollector(supervisord_pid=200)
    sample = collector.collect([('a:b', 101), ('a:c', 102)])
    assert [entry[:2] for entry in sample['proc']] == [['a:b', 101], ['a:c', 102], ['supervisord', 200]]
    assert sorted(collector.processes) == [101, 102, 200]
    collector.collect([('a:b', 101)])
    assert sorted(collector.processes) == [101, 200]
    assert FakeProcess.created == [101, 102, 200]


def test_collector_real_process():
    """ Measure of the current process and of a vanished one with the real psutil. """
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    collector = StatisticsCollector()
    sum(range(200000))  # some CPU work
    sample = collector.collect([('me:self', os.getpid()), ('me:gone', child.pid)])
    assert json.loads(json.dumps(sample)) == sample
    assert set(sample) == {'now', 'cpu', 'mem', 'io', 'proc'}
    psutil = collector_module.psutil
    assert len(sample['cpu']) == len(psutil.cpu_times(percpu=True)) + 1
    nb = len(sample['cpu']) - 1
    assert sample['cpu'][0][0] == pytest.approx(sum(entry[0] for entry in sample['cpu'][1:]) / nb)
    assert sample['cpu'][0][1] == pytest.approx(sum(entry[1] for entry in sample['cpu'][1:]) / nb)
    assert 0.0 <= sample['mem'] <= 100.0
    assert all(len(counters) == 2 for counters in sample['io'].values())
    me, gone, supervisord = sample['proc']
    assert me[:2] == ['me:self', os.getpid()] and me[2] > 0 and me[3] > 0
    assert gone == ['me:gone', child.pid, 0, 0]
    assert supervisord[:2] == ['supervisord', os.getpid()] and supervisord[2] > 0
    cached = collector.processes[os.getpid()]
    second = collector.collect([('me:self', os.getpid())])
    assert collector.processes[os.getpid()] is cached
    assert second['now'] >= sample['now']
    # compilation of real samples
    compiler = StatisticsCompiler([5], 10)
    compiler.push_statistics(sample)
    compiler.push_statistics(second)
    stats = compiler.get_stats(5)
    assert len(stats.cpu) == nb + 1 and all(0.0 <= series[0] <= 100.0 for series in stats.cpu)
    assert ('me:self', os.getpid()) in stats.proc
