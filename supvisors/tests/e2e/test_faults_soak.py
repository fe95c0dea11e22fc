"""Soak: many start/stop cycles of an application spread over a fleet of three instances.

``start_application`` then ``stop_application`` (both with wait) of an application of three processes, one per
instance, SUPVISORS_SOAK_CYCLES times (default 500, about a minute on two cores). The file descriptors
(/proc/<pid>/fd) and the resident memory of every supervisord are measured after a warm-up and at the end:
descriptors stable (a small constant slack), memory growth bounded (below 20 MB), no zombie child, every answer
True, nothing left running, nothing ever running twice, the fleet in OPERATION.
"""

import os
import time

import psutil
import pytest

from supvisors.tools.localfleet import LocalFleet

from .faults import (FileGuard, Sampler, assert_supervisords_alive, census, launch, no_traceback, report, rules_xml,
                     supvisors, wait_operation)

pytestmark = pytest.mark.e2e

CYCLES = int(os.environ.get('SUPVISORS_SOAK_CYCLES', '500'))
WARM_UP = 20
FD_SLACK = 4
RSS_LIMIT = 20 * 1024 * 1024

PROGRAMS = """
[group:soak]
programs=p1,p2,p3

[program:p1]
command=sleep 1000
autostart=false
startsecs=0
stopwaitsecs=2

[program:p2]
command=sleep 1000
autostart=false
startsecs=0
stopwaitsecs=2

[program:p3]
command=sleep 1000
autostart=false
startsecs=0
stopwaitsecs=2
"""
RULES = rules_xml("""
    <application name="soak">
        <programs>
            <program name="p1"><identifiers>s1</identifiers><start_sequence>1</start_sequence></program>
            <program name="p2"><identifiers>s2</identifiers><start_sequence>1</start_sequence></program>
            <program name="p3"><identifiers>s3</identifiers><start_sequence>2</start_sequence></program>
        </programs>
    </application>
""")


def resources(fleet: LocalFleet):
    """ identifier -> (file descriptors, RSS in bytes, zombie children) of its supervisord. """
    result = {}
    for instance in fleet:
        process = psutil.Process(instance.pid)
        zombies = sum(1 for child in process.children() if child.status() == psutil.STATUS_ZOMBIE)
        result[instance.identifier] = (len(os.listdir(f'/proc/{instance.pid}/fd')), process.memory_info().rss,
                                       zombies)
    return result


def test_start_stop_cycles(fleet_factory):
    fleet = fleet_factory(3, options={'core_identifiers': 's1,s2,s3'}, programs=PROGRAMS, rules=RULES)
    guard = FileGuard.of_fleet(fleet)
    launch(fleet)
    proxy = supvisors(fleet['s1'], 60)

    def cycle() -> None:
        assert proxy.start_application('CONFIG', 'soak') is True
        assert proxy.stop_application('soak') is True

    for _ in range(WARM_UP):
        cycle()
    before = resources(fleet)
    with Sampler(fleet, interval=0.2) as sampler:
        start = time.monotonic()
        for _ in range(CYCLES):
            cycle()
        duration = time.monotonic() - start
        sampler.sample_now()
    after = resources(fleet)
    print(f'\nsoak: {CYCLES} cycles in {duration:.1f} s ({1000 * duration / CYCLES:.0f} ms per cycle); '
          f'supervisord (fds, RSS, zombies) before {before}, after {after}')
    # the processes were placed as configured, never twice, and nothing is left running
    assert sampler.duplicates() == []
    assert all(hosts == [f's{namespec[-1]}'] for sample in sampler.snapshot() for namespec, hosts in sample[1].items())
    assert census(fleet) == {}
    for identifier, (fds, rss, zombies) in after.items():
        assert fds <= before[identifier][0] + FD_SLACK, f'{identifier}: {before[identifier][0]} -> {fds} fds'
        assert rss - before[identifier][1] < RSS_LIMIT, \
            f'{identifier}: RSS {before[identifier][1] / 1e6:.1f} -> {rss / 1e6:.1f} MB'
        assert zombies == 0
    wait_operation(fleet)
    assert_supervisords_alive(fleet)
    for instance in fleet:
        no_traceback(instance)
    guard.check()
    growth = {x: f'{after[x][0] - before[x][0]:+d} fds, {(after[x][1] - before[x][1]) / 1e6:+.1f} MB' for x in after}
    report('soak: start/stop cycles of an application over 3 instances',
           f'{CYCLES} start_application + stop_application (wait) of 3 processes, one per instance', None,
           f'nothing: {duration:.1f} s ({1000 * duration / CYCLES:.0f} ms per cycle); supervisord growth {growth}')
