#!/usr/bin/env python
"""Foundation figures of a local fleet on loopback:

* time from launch (all supervisord started together) to OPERATION with the same Master on every instance,
  for 3 and 10 instances;
* time to detect a lost instance on every other one: kill -9 of a supervisord (connections reset), and SIGSTOP
  (nothing on the wire: detected by missing ticks), with the default tick period and with tick_period=1.

Usage: python benchmarks/bench_foundation.py [--runs N] [--sizes 3,10]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from supvisors.tools.localfleet import LocalFleet, wait_for  # noqa: E402

POLL = 0.01


def _all_operation(fleet, identifiers, expected_master):
    for identifier in identifiers:
        proxy = fleet[identifier].rpc(timeout=2)
        if proxy.supvisors.get_supvisors_state()['fsm_statename'] != 'OPERATION':
            return False
        if proxy.supvisors.get_master_identifier() != expected_master:
            return False
    return True


def time_to_operation(size: int, basedir: str) -> float:
    identifiers = [f's{idx:02d}' for idx in range(1, size + 1)]
    with LocalFleet(identifiers, basedir, options={'core_identifiers': ','.join(identifiers)}) as fleet:
        launch = time.monotonic()
        fleet.start()

        def ready():
            try:
                return _all_operation(fleet, identifiers, identifiers[0])
            except OSError:
                return False
        wait_for(ready, timeout=60, interval=POLL, what='OPERATION')
        return time.monotonic() - launch


def time_to_detect(mode: str, tick_period: str, basedir: str) -> float:
    identifiers = ['s1', 's2', 's3']
    options = {'core_identifiers': 's1,s2,s3'}
    if tick_period:
        options['tick_period'] = tick_period
    with LocalFleet(identifiers, basedir, options=options) as fleet:
        fleet.start()
        fleet.wait_rpc_ready(timeout=30)
        try:
            wait_for(lambda: _all_operation(fleet, identifiers, 's1'), timeout=60, interval=0.05, what='OPERATION')
        except TimeoutError:
            for identifier in identifiers:
                proxy = fleet[identifier].rpc(timeout=2)
                print(identifier, proxy.supvisors.get_supvisors_state(), proxy.supvisors.get_master_identifier(),
                      [(x['identifier'], x['statename'], x['fsm_statename'])
                       for x in proxy.supvisors.get_all_instances_info()])
            print(fleet.diagnostics(30))
            raise
        viewers = [fleet['s1'].rpc(timeout=2), fleet['s2'].rpc(timeout=2)]
        start = time.monotonic()
        if mode == 'kill':
            fleet['s3'].kill()
        else:
            fleet['s3'].freeze()
        try:
            wait_for(lambda: all(v.supvisors.get_instance_info('s3')['statename'] == 'SILENT' for v in viewers),
                     timeout=60, interval=POLL, what='s3 SILENT')
            return time.monotonic() - start
        finally:
            if mode != 'kill':
                fleet['s3'].thaw()


def summary(values):
    return (f'median {statistics.median(values):.3f} s, min {min(values):.3f} s, max {max(values):.3f} s'
            f' ({len(values)} runs)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--sizes', default='3,10')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='supvisors-bench-') as basedir:
        counter = 0

        def folder():
            nonlocal counter
            counter += 1
            return os.path.join(basedir, f'run{counter}')
        for size in [int(x) for x in args.sizes.split(',')]:
            values = [time_to_operation(size, folder()) for _ in range(args.runs)]
            print(f'launch -> OPERATION, {size} instances: {summary(values)}', flush=True)
        for mode, tick_period, label in [('kill', '', 'kill -9 of a supervisord'),
                                         ('stop', '1', 'SIGSTOP, tick_period=1, inactivity_ticks=2'),
                                         ('stop', '', 'SIGSTOP, default tick_period=5, inactivity_ticks=2')]:
            runs = args.runs if mode == 'kill' or tick_period else 1
            values = [time_to_detect(mode, tick_period, folder()) for _ in range(runs)]
            print(f'loss detected by every other instance, {label}: {summary(values)}', flush=True)


if __name__ == '__main__':
    main()
