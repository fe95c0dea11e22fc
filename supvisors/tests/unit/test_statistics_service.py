"""Tests of the statistics service and of its wiring in the runtime (collection, compilation, reception)."""

import threading
import time
from concurrent.futures import Future
from typing import Any, Dict, List, Optional, Tuple

import pytest
from supervisor import events
from supervisor.states import ProcessStates

from supvisors.adapters.runtime import SupvisorsRuntime
from supvisors.adapters.statistics import (CollectionTimer, CollectStatistics, StatisticsCollected,
                                           StatisticsService, running_processes, sample_error)
from supvisors.bus import framing
from supvisors.bus.node import Received
from supvisors.options import SupvisorsOptions
from supvisors.stats.compiler import PeriodStatistics, StatisticsCompiler, samples_per_integration
from supvisors.ttypes import InternalMessages
from supvisors.tests.unit.fakes import FakeLogger

IDENTIFIERS = ['s1', 's2', 's3']


def make_sample(index: int, nb_cores: int = 2, procs: Optional[List[List[Any]]] = None) -> Dict[str, Any]:
    """ A valid sample: every counter grows with index, so that each integration gives values. """
    return {'now': 1000.0 + 5 * index,
            'cpu': [[10.0 * index, 10.0 * index]] * (nb_cores + 1),
            'mem': 40.0 + index,
            'io': {'lo': [1280 * index, 640 * index]},
            'proc': procs if procs is not None else [['grp:prg', 1234, 1.0 * index, 2.5],
                                                     ['supervisord', 42, 0.5 * index, 1.0]]}


def make_service(logger: Optional[FakeLogger] = None, has_psutil: bool = True, **kwargs: Any) -> StatisticsService:
    options = SupvisorsOptions(**kwargs)
    return StatisticsService(options, IDENTIFIERS, 's1', logger or FakeLogger(), has_psutil=has_psutil)


# ---------------------------------------------------------------------------------------------------------------------
# attributes
# ---------------------------------------------------------------------------------------------------------------------

def test_attributes_from_options():
    service = make_service(stats_periods=[30, 5, 10], stats_irix_mode=True, stats_histo=50)
    assert service.available_locally is True
    assert service.periods == [5, 10, 30]
    assert service.irix_mode is True
    assert service.histo == 50
    assert service.version == 0
    assert service.collector is not None
    for identifier in IDENTIFIERS:
        for period in (5, 10, 30):
            stats = service.get_stats(identifier, period)
            assert isinstance(stats, PeriodStatistics) and stats.histo == 50
        assert service.nb_cores(identifier) == 1


@pytest.mark.parametrize('has_psutil, enabled, expected', [(True, True, True), (True, False, False),
                                                           (False, True, False), (False, False, False)])
def test_available_locally(has_psutil, enabled, expected):
    service = make_service(has_psutil=has_psutil, stats_enabled=enabled)
    assert service.available_locally is expected
    assert (service.collector is not None) is expected


def test_unknown_instance_or_period():
    service = make_service(stats_periods=[10])
    assert service.get_stats('s9', 10) is None
    assert service.get_stats('s1', 5) is None
    assert service.nb_cores('s9') == 1


# ---------------------------------------------------------------------------------------------------------------------
# compilation
# ---------------------------------------------------------------------------------------------------------------------

def test_samples_compiled_and_version_counter():
    logger = FakeLogger()
    service = make_service(logger, stats_periods=[5])
    service.on_sample('s2', make_sample(0, nb_cores=4))
    assert service.version == 1
    assert service.nb_cores('s2') == 4
    assert service.nb_cores('s1') == 1  # learnt per instance
    assert logger.count('info', 'first statistics compiled for s2') == 1
    stats = service.get_stats('s2', 5)
    assert stats.mem == []  # the first sample is the reference only
    service.on_sample('s2', make_sample(1, nb_cores=4))
    assert service.version == 2
    assert stats.mem == [41.0]
    assert [series for series in stats.cpu] == [[50.0]] * 5
    assert stats.io == {'lo': ([2.0], [1.0])}
    assert stats.proc == {('grp:prg', 1234): ([5.0], [2.5]), ('supervisord', 42): ([2.5], [1.0])}
    # the other instances are untouched
    assert service.get_stats('s1', 5).counter == 0
    # the first sample only is logged at INFO
    assert logger.count('info', 'first statistics compiled') == 1


def test_remote_samples_compiled_even_when_not_available_locally():
    service = make_service(has_psutil=False, stats_periods=[5])
    service.on_sample('s3', make_sample(0))
    service.on_sample('s3', make_sample(1))
    assert service.version == 2
    assert service.get_stats('s3', 5).mem == [41.0]


def test_unknown_instance_sample_dropped():
    logger = FakeLogger()
    service = make_service(logger)
    service.on_sample('s9', make_sample(0))
    assert service.version == 0
    assert logger.count('warn', "unknown instance 's9'") == 1


MALFORMED = [
    None, 'garbage', 42, [1, 2, 3], {},
    {'now': 1.0, 'cpu': [], 'mem': 1.0, 'io': {}},  # missing proc
    {**make_sample(1), 'now': 'yesterday'},
    {**make_sample(1), 'now': True},
    {**make_sample(1), 'now': float('nan')},
    {**make_sample(1), 'mem': None},
    {**make_sample(1), 'mem': float('inf')},
    {**make_sample(1), 'cpu': 'x'},
    {**make_sample(1), 'cpu': [[1.0]]},
    {**make_sample(1), 'cpu': [[1.0, 'a']]},
    {**make_sample(1), 'cpu': [{'work': 1, 'idle': 2}]},
    {**make_sample(1), 'io': [['lo', 1, 2]]},
    {**make_sample(1), 'io': {'lo': [1]}},
    {**make_sample(1), 'io': {'lo': None}},
    {**make_sample(1), 'proc': {}},
    {**make_sample(1), 'proc': [['grp:prg', 12, 1.0]]},
    {**make_sample(1), 'proc': [[12, 12, 1.0, 1.0]]},
    {**make_sample(1), 'proc': [['grp:prg', '12', 1.0, 1.0]]},
    {**make_sample(1), 'proc': [['grp:prg', 12.5, 1.0, 1.0]]},
    {**make_sample(1), 'proc': [['grp:prg', True, 1.0, 1.0]]},
    {**make_sample(1), 'proc': [['grp:prg', 12, None, 1.0]]},
    {**make_sample(1), 'proc': ['grp:prg']},
]


@pytest.mark.parametrize('body', MALFORMED)
def test_malformed_sample_logged_and_dropped(body):
    logger = FakeLogger()
    service = make_service(logger, stats_periods=[5])
    service.on_sample('s2', make_sample(0))
    stats = service.get_stats('s2', 5)
    ref, counter = stats.ref_sample, stats.counter
    assert sample_error(body) is not None
    service.on_sample('s2', body)  # never raises
    assert service.version == 1
    assert stats.ref_sample is ref and stats.counter == counter
    errs = logger.levels('error')
    assert len(errs) == 1 and 'invalid statistics from s2' in errs[0]
    # the series go on with the next valid sample
    service.on_sample('s2', make_sample(1))
    assert service.version == 2 and stats.mem == [41.0]


def test_valid_samples_accepted():
    assert sample_error(make_sample(3)) is None
    assert sample_error({'now': 1, 'cpu': [], 'mem': 0, 'io': {}, 'proc': [], 'extra': 'ignored'}) is None


def test_compiler_failure_does_not_raise(monkeypatch):
    logger = FakeLogger()
    service = make_service(logger)

    def boom(*_args):
        raise ZeroDivisionError('unexpected')
    monkeypatch.setattr(service.compilers, 'push_statistics', boom)
    service.on_sample('s2', make_sample(0))
    assert service.version == 0
    assert logger.count('error', 'cannot compile statistics from s2') == 1


# ---------------------------------------------------------------------------------------------------------------------
# integration cadence
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('period, collecting_period, expected', [
    (5, 5.0, 1), (10, 5.0, 2), (3600, 5.0, 720), (5, 1.0, 5), (10, 1.0, 10), (5, 2.0, 3), (15, 2.0, 8),
    (5, 10.0, 1), (5, 3600.0, 1), (10, 3.0, 3), (60, 7.5, 8)])
def test_samples_per_integration(period, collecting_period, expected):
    assert samples_per_integration(period, collecting_period) == expected


def test_default_cadence_is_upstream():
    """ With the default collecting period, every valid stats period integrates every period // 5 samples. """
    for period in range(5, 3601, 5):
        assert PeriodStatistics(period, 10).nb_samples == period // 5
        assert StatisticsCompiler([period], 10).get_stats(period).nb_samples == period // 5


def test_cadence_with_collecting_period():
    """ With a 1 s collection, period 5 integrates every 5 samples and period 10 every 10. """
    service = make_service(stats_periods=[5, 10], stats_collecting_period=1.0)
    for index in range(21):
        service.on_sample('s1', make_sample(index))
    assert service.version == 21
    assert service.get_stats('s1', 5).nb_samples == 5
    assert service.get_stats('s1', 10).nb_samples == 10
    assert service.get_stats('s1', 5).mem == [45.0, 50.0, 55.0, 60.0]
    assert service.get_stats('s1', 10).mem == [50.0, 60.0]


def test_cadence_with_default_collecting_period():
    service = make_service(stats_periods=[5, 10])
    for index in range(5):
        service.on_sample('s1', make_sample(index))
    assert service.get_stats('s1', 5).mem == [41.0, 42.0, 43.0, 44.0]
    assert service.get_stats('s1', 10).mem == [42.0, 44.0]


# ---------------------------------------------------------------------------------------------------------------------
# process list and timer
# ---------------------------------------------------------------------------------------------------------------------

class _Config:
    def __init__(self, name: str):
        self.name = name


class FakeProcess:
    def __init__(self, name: str, state: int, pid: int):
        self.config = _Config(name)
        self.state = state
        self.pid = pid

    def get_state(self) -> int:
        return self.state


class FakeGroup:
    def __init__(self, name: str, processes: List[FakeProcess]):
        self.config = _Config(name)
        self.processes = {process.config.name: process for process in processes}


def fake_groups() -> Dict[str, FakeGroup]:
    return {'grp': FakeGroup('grp', [FakeProcess('prg_0', ProcessStates.RUNNING, 101),
                                     FakeProcess('prg_1', ProcessStates.STOPPED, 0),
                                     FakeProcess('prg_2', ProcessStates.STARTING, 103),
                                     FakeProcess('prg_3', ProcessStates.STOPPING, 104)]),
            'alone': FakeGroup('alone', [FakeProcess('alone', ProcessStates.RUNNING, 201)])}


def test_running_processes():
    assert running_processes(fake_groups()) == [('grp:prg_0', 101), ('alone', 201)]
    assert running_processes({}) == []


def test_collection_timer_fires_at_once_then_periodically():
    fired: List[float] = []
    enough = threading.Event()

    def fire():
        fired.append(time.monotonic())
        if len(fired) >= 4:
            enough.set()
    timer = CollectionTimer(0.05, fire, FakeLogger())
    start = time.monotonic()
    timer.start()
    try:
        assert enough.wait(5.0)
    finally:
        timer.stop()
    assert not timer.is_alive()
    assert fired[0] - start < 0.5  # first collection at once
    count = len(fired)
    assert all(later - earlier > 0.02 for earlier, later in zip(fired, fired[1:]))
    time.sleep(0.15)  # no call after stop
    assert len(fired) == count


def test_collection_timer_survives_errors():
    logger = FakeLogger()
    calls = threading.Event()
    counter = [0]

    def fire():
        counter[0] += 1
        if counter[0] >= 2:
            calls.set()
        raise RuntimeError('oops')
    timer = CollectionTimer(0.02, fire, logger)
    timer.start()
    try:
        assert calls.wait(5.0)
    finally:
        timer.stop()
    assert logger.count('error', 'oops') >= 1


def test_service_timer_start_stop():
    delivered: List[Any] = []
    got = threading.Event()

    def deliver(event):
        delivered.append(event)
        got.set()
    service = make_service(stats_collecting_period=1.0)
    service.start(deliver)
    try:
        assert got.wait(5.0)
        assert isinstance(delivered[0], CollectStatistics)
        assert service.timer.period == 1.0
    finally:
        service.stop()
    assert service.timer is None
    # not available locally: no timer at all
    service = make_service(stats_enabled=False)
    service.start(deliver)
    assert service.timer is None
    service.stop()


# ---------------------------------------------------------------------------------------------------------------------
# wiring in the runtime
# ---------------------------------------------------------------------------------------------------------------------

class FakeMapper:
    def __init__(self):
        self.identifiers = list(IDENTIFIERS)
        self.local_identifier = 's1'
        self.instances = {identifier: None for identifier in IDENTIFIERS}


class FakeCore:
    def __init__(self):
        self.messages: List[Tuple[str, int, Any]] = []

    def on_message(self, identifier: str, code: int, body: Any, now: float) -> None:
        self.messages.append((identifier, code, body))

    def take_actions(self) -> list:
        return []


class FakeSupervisord:
    def __init__(self):
        self.process_groups = fake_groups()


class FakeBus:
    def __init__(self):
        self.published: List[Tuple[bytes, Optional[str]]] = []

    def publish(self, frame: bytes, sticky: Optional[str] = None) -> None:
        self.published.append((frame, sticky))


class SyncPool:
    """ Runs the submitted function at once, like a worker thread that would be very fast. """

    def __init__(self):
        self.submitted: List[Any] = []
        self.shut = False

    def submit(self, func, *args) -> Future:
        if self.shut:
            raise RuntimeError('cannot schedule new futures after shutdown')
        self.submitted.append(args)
        future: Future = Future()
        try:
            future.set_result(func(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future


@pytest.fixture
def runtime():
    saved = list(events.callbacks)
    logger = FakeLogger()
    options = SupvisorsOptions(stats_periods=[5], stats_collecting_period=1.0)
    rt = SupvisorsRuntime(FakeSupervisord(), options, FakeMapper(), FakeCore(), logger, None, None)
    rt.pool = SyncPool()
    rt.bus = FakeBus()
    yield rt
    events.callbacks[:] = saved


def test_runtime_owns_the_service(runtime):
    assert isinstance(runtime.statistics, StatisticsService)
    assert runtime.statistics.local_identifier == 's1'
    assert runtime.statistics.identifiers == IDENTIFIERS
    assert runtime.statistics.periods == [5]
    assert runtime.statistics.collecting_period == 1.0


def test_runtime_received_statistics_compiled_not_given_to_core(runtime):
    runtime._deliver(Received('s2', InternalMessages.STATISTICS, make_sample(0)))
    runtime._deliver(Received('s2', InternalMessages.STATISTICS, make_sample(1)))
    runtime._deliver(Received('s2', InternalMessages.TICK, {'when': 1.0, 'sequence_counter': 0}))
    runtime._process_queue()
    assert runtime.statistics.version == 2
    assert runtime.statistics.get_stats('s2', 5).counter == 2
    assert runtime.core.messages == [('s2', InternalMessages.TICK, {'when': 1.0, 'sequence_counter': 0})]


def test_runtime_malformed_statistics_logged(runtime):
    runtime._deliver(Received('s3', InternalMessages.STATISTICS, {'cpu': 'garbage'}))
    runtime._deliver(Received('s3', InternalMessages.STATISTICS, 'garbage'))
    runtime._process_queue()
    assert runtime.statistics.version == 0
    assert runtime.logger.count('error', 'invalid statistics from s3') == 2
    assert runtime.logger.levels('critical') == []
    assert runtime.core.messages == []


def test_runtime_collection_compiles_and_publishes(runtime, monkeypatch):
    collected: List[Any] = []

    def collect(processes):
        collected.append(processes)
        return make_sample(len(collected))
    monkeypatch.setattr(runtime.statistics, 'collect', collect)
    for _ in range(2):
        runtime._deliver(CollectStatistics())
        runtime._process_queue()
    assert collected == [[('grp:prg_0', 101), ('alone', 201)]] * 2
    assert runtime.statistics.collecting is False
    assert runtime.statistics.version == 2
    assert runtime.statistics.get_stats('s1', 5).counter == 2
    assert len(runtime.bus.published) == 2
    for index, (frame, sticky) in enumerate(runtime.bus.published, 1):
        assert sticky is None
        assert framing.decode(frame[framing.HEADER.size:]) == (InternalMessages.STATISTICS, 's1', make_sample(index))


def test_runtime_collection_skipped_while_one_is_running(runtime, monkeypatch):
    pending: List[Future] = []

    def submit(func, *args):
        future: Future = Future()
        pending.append(future)
        return future
    monkeypatch.setattr(runtime.pool, 'submit', submit)
    runtime._deliver(CollectStatistics())
    runtime._deliver(CollectStatistics())
    runtime._process_queue()
    assert len(pending) == 1 and runtime.statistics.collecting is True
    pending[0].set_result(make_sample(0))  # the worker ends: the sample comes back through the channel
    assert isinstance(runtime.queue[-1], StatisticsCollected)
    runtime._process_queue()
    assert runtime.statistics.collecting is False
    assert runtime.statistics.version == 1
    assert len(runtime.bus.published) == 1


def test_runtime_collection_failure(runtime, monkeypatch):
    def collect(_processes):
        raise OSError('psutil failure')
    monkeypatch.setattr(runtime.statistics, 'collect', collect)
    runtime._deliver(CollectStatistics())
    runtime._process_queue()
    assert runtime.statistics.collecting is False
    assert runtime.statistics.version == 0
    assert runtime.bus.published == []
    assert runtime.logger.count('error', 'statistics collection failed') == 1


def test_runtime_no_collection_after_stop(runtime, monkeypatch):
    monkeypatch.setattr(runtime.statistics, 'collect', lambda processes: make_sample(0))
    runtime.pool.shut = True
    runtime._collect_statistics()  # pool shut down: nothing, no error
    assert runtime.statistics.collecting is False
    runtime.pool.shut = False
    runtime.stopped = True
    runtime._collect_statistics()
    runtime._on_local_statistics(make_sample(0))
    assert runtime.pool.submitted == []
    assert runtime.statistics.version == 0
    assert runtime.bus.published == []


def test_runtime_real_collection(runtime):
    """ The real collector in the owner/worker sequence (psutil is a dependency of the dev environment). """
    pytest.importorskip('psutil')
    runtime.supervisord.process_groups = {}
    runtime._deliver(CollectStatistics())
    runtime._process_queue()
    assert runtime.statistics.version == 1
    frame, _ = runtime.bus.published[0]
    _, sender, body = framing.decode(frame[framing.HEADER.size:])
    assert sender == 's1' and sample_error(body) is None
    assert [entry[0] for entry in body['proc']] == ['supervisord']
