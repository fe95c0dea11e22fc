#!/usr/bin/env python
"""Recovery times of a local fleet of three instances after injected faults (operating system view: the time
until every expected process runs again exactly once):

* power-down (SIGKILL of the whole session) of a slave running 3 processes, and of the Master running 2;
* freeze (SIGSTOP) of a slave until it is declared lost (tick_period=1, inactivity_ticks=2): time until its
  processes run again elsewhere, then, after the thaw, time until the duplicates are conciliated (INFANTICIDE);
* start/stop cycle of an application of 3 processes spread over the 3 instances (start_application +
  stop_application with wait).

Usage: python benchmarks/bench_faults.py [--runs N] [--cycles N]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from supvisors.tests.e2e.faults import (census, launch, rules_xml, settle, supvisors,  # noqa: E402
                                        wait_exactly_once)
from supvisors.tools.localfleet import LocalFleet, wait_for  # noqa: E402

PROGRAMS = ''.join(f'[program:{name}]\ncommand=sleep 1000\nautostart=false\nstartsecs=0\nstopwaitsecs=2\n\n'
                   for name in ('db', 'web', 'gui', 'worker_a', 'worker_b', 'p1', 'p2', 'p3'))
PROGRAMS += ('[group:svc]\nprograms=db,web,gui\n\n[group:batch]\nprograms=worker_a,worker_b\n\n'
             '[group:soak]\nprograms=p1,p2,p3\n')
RULES = rules_xml("""
    <application name="svc"><start_sequence>1</start_sequence>
        <running_failure_strategy>RESTART_PROCESS</running_failure_strategy>
        <programs><program pattern=""><identifiers>s2,s3</identifiers><start_sequence>1</start_sequence>
        </program></programs></application>
    <application name="batch"><start_sequence>1</start_sequence>
        <running_failure_strategy>RESTART_APPLICATION</running_failure_strategy>
        <programs><program pattern=""><identifiers>s1,s3</identifiers><start_sequence>1</start_sequence>
        </program></programs></application>
    <application name="soak"><programs>
        <program name="p1"><identifiers>s1</identifiers><start_sequence>1</start_sequence></program>
        <program name="p2"><identifiers>s2</identifiers><start_sequence>1</start_sequence></program>
        <program name="p3"><identifiers>s3</identifiers><start_sequence>2</start_sequence></program>
    </programs></application>
""")
EXPECTED = ['svc:db', 'svc:web', 'svc:gui', 'batch:worker_a', 'batch:worker_b']
OPTIONS = {'core_identifiers': 's1,s2,s3', 'tick_period': '1', 'inactivity_ticks': '2',
           'conciliation_strategy': 'INFANTICIDE'}


def fleet_in(basedir: str) -> LocalFleet:
    fleet = LocalFleet(['s1', 's2', 's3'], basedir, options=OPTIONS, programs=PROGRAMS, rules=RULES)
    launch(fleet)
    settle(fleet, EXPECTED)
    return fleet


def power_down(victim: str, basedir: str) -> Dict[str, float]:
    with fleet_in(basedir) as fleet:
        start = time.monotonic()
        fleet[victim].kill()
        return {'recovery': wait_exactly_once(fleet, EXPECTED, 60, since=start)}


def freeze(basedir: str) -> Dict[str, float]:
    with fleet_in(basedir) as fleet:
        start = time.monotonic()
        fleet['s2'].freeze()
        try:
            wait_for(lambda: all(census(fleet).get(x, []).count('s3') == 1 for x in EXPECTED[:3]), 60,
                     interval=0.01, what='svc started again on s3')
            moved = time.monotonic() - start
        finally:
            fleet['s2'].thaw()
        return {'moved': moved, 'conciliated': wait_exactly_once(fleet, EXPECTED, 60)}


def cycles(count: int, basedir: str) -> Dict[str, float]:
    with fleet_in(basedir) as fleet:
        proxy = supvisors(fleet['s1'], 60)
        start = time.monotonic()
        for _ in range(count):
            proxy.start_application('CONFIG', 'soak')
            proxy.stop_application('soak')
        return {'cycle': (time.monotonic() - start) / count}


def summary(name: str, runs: List[Dict[str, float]]) -> None:
    for key in runs[0]:
        values = [run[key] for run in runs]
        print(f'{name:<34} {key:<12} median {statistics.median(values) * 1000:8.1f} ms   '
              f'min {min(values) * 1000:8.1f}   max {max(values) * 1000:8.1f}   ({len(values)} runs)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--cycles', type=int, default=100)
    args = parser.parse_args()
    scenarios: Dict[str, Callable[[str], Dict[str, float]]] = {
        'power-down of a slave': lambda folder: power_down('s2', folder),
        'power-down of the Master': lambda folder: power_down('s1', folder),
        'freeze of a slave, then thaw': freeze,
        'start/stop cycle (3 instances)': lambda folder: cycles(args.cycles, folder)}
    with tempfile.TemporaryDirectory(prefix='bench_faults_') as basedir:
        for index, (name, scenario) in enumerate(scenarios.items()):
            runs = [scenario(os.path.join(basedir, f'{index}_{run}')) for run in range(args.runs)]
            summary(name, runs)


if __name__ == '__main__':
    main()
