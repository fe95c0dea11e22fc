#!/usr/bin/env python
"""Scenario 2 figures on a local fleet with default options (servers + 2 consoles, one loopback address each):

* launch (every supervisord started together) -> all scen2_srv RUNNING, for X items;
* kill of a server (supervisord and its processes) -> its scen2_srv RUNNING on another server;
* kill of an internal_data_bus -> its scen2_srv fully restarted and RUNNING again.

A scen2_srv needs 42 % of a server, so the fleet has ceil(X/2) servers plus a spare one (at least 3). The programs' own start
time is the sum of the startsecs of the 4 start ranks (internal data bus, its check, the services, the common bus
interface): with --startsecs 0 (default here) it is only the time of starting Python scripts; with 1 it adds
about 3 s, as in the use case.

Usage: python benchmarks/bench_scenario2.py [--items 3,10,30] [--startsecs 0] [--runs 1]
"""

import argparse
import math
import os
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from supvisors.tools.localfleet import wait_for  # noqa: E402
from supvisors.tools.usecases.scenario2 import SRV_DATA_BUS, scenario2_fleet, srv_group  # noqa: E402

POLL = 0.02


def srv_states(proxy, items):
    infos = {x['application_name']: x for x in proxy.supvisors.get_all_applications_info()}
    return [infos.get(srv_group(n), {}).get('statename') for n in range(1, items + 1)]


def all_running(proxy, items):
    """ Every scen2_srv fully started: its 5 long-running processes RUNNING, its 2 checks EXITED. """
    try:
        return all(state == 'RUNNING' for state in srv_states(proxy, items)) and \
            all(fully_running(proxy, srv_group(n)) for n in range(1, items + 1))
    except OSError:
        return False


def hosts(proxy, application):
    return {x for info in proxy.supvisors.get_process_info(f'{application}:*') for x in info['identifiers']}


def fully_running(proxy, application, excluded=()):
    infos = proxy.supvisors.get_process_info(f'{application}:*')
    running = [x for x in infos if x['statename'] == 'RUNNING']
    where = {x for info in running for x in info['identifiers']}
    return len(running) == 5 and len(where) == 1 and not where & set(excluded)


def run(items: int, startsecs: int, basedir: str):
    servers = max(3, math.ceil(items / 2) + 1)  # one spare server to move an application to
    fleet = scenario2_fleet(basedir, items=items, servers=servers, startsecs=startsecs)
    try:
        launch = time.monotonic()
        fleet.start()
        viewer = fleet['console_1'].rpc(timeout=5)
        wait_for(lambda: all_running(viewer, items), timeout=300, interval=POLL, what='all scen2_srv RUNNING')
        deployment = time.monotonic() - launch
        # kill of an internal_data_bus
        application = srv_group(2)
        host = hosts(viewer, application).pop()
        pid = fleet[host].rpc().supervisor.getProcessInfo(
            f'{application}:{SRV_DATA_BUS}')['pid']
        start = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not fully_running(viewer, application), timeout=30, interval=0.005, what='restart begun')
        wait_for(lambda: fully_running(viewer, application), timeout=60, interval=POLL, what='restarted')
        bus_kill = time.monotonic() - start
        # kill of a server with its processes
        application = srv_group(1)
        victim = hosts(viewer, application).pop()
        start = time.monotonic()
        fleet[victim].kill()
        wait_for(lambda: fully_running(viewer, application, excluded=[victim]), timeout=60, interval=POLL,
                 what='moved')
        server_kill = time.monotonic() - start
        return deployment, bus_kill, server_kill
    finally:
        fleet.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--items', default='3,10,30')
    parser.add_argument('--startsecs', type=int, default=0)
    parser.add_argument('--runs', type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='supvisors-bench-') as basedir:
        for items in [int(x) for x in args.items.split(',')]:
            results = [run(items, args.startsecs, os.path.join(basedir, f'x{items}_{idx}'))
                       for idx in range(args.runs)]
            labels = ('launch -> all scen2_srv RUNNING', 'internal_data_bus kill -> scen2_srv RUNNING again',
                      'server kill -> its scen2_srv RUNNING elsewhere')
            for label, values in zip(labels, zip(*results)):
                print(f'X={items} (startsecs={args.startsecs}): {label}: median {statistics.median(values):.2f} s'
                      f' (min {min(values):.2f}, max {max(values):.2f}, {len(values)} runs)', flush=True)


if __name__ == '__main__':
    main()
