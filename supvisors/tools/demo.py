"""A demo fleet of supervisord instances with Supvisors on 127.0.0.1, to try the dashboard and the commands.

By default it runs the Scenario 2 use case as shipped in supvisors/tools/usecases/scenario2 (servers running
scen2_srv_NN, consoles where scen2_hci_NN are started on request, one loopback address each): its etc files are
copied into <dir>/etc, where supvisors_breed duplicates the templates of template_etc X times, and every supervisord
runs <dir>/etc/supervisord_server.conf or <dir>/etc/supervisord_console.conf.  ``--use-case sample`` runs a few
sample programs instead.

    python -m supvisors.tools.demo start [--items X] [--use-case scenario2|sample] [-n N] [--dir DIR] [--background]
    python -m supvisors.tools.demo status [--dir DIR]
    python -m supvisors.tools.demo stop [--dir DIR]

In the foreground, the fleet runs until Ctrl-C (or SIGTERM).  With --background, the pids and ports are written to
<dir>/fleet.json and the command returns; ``stop`` reads that file and stops those instances only.
"""

import argparse
import os
import signal
import sys
import tempfile
import threading
import xmlrpc.client
from typing import List, Optional

from supvisors.tools.localfleet import FleetError, LocalFleet, LocalInstance, stop_instances

STATE_FILE = 'fleet.json'
# how the user runs this command (the tools/demo wrapper sets it), for the hints printed
COMMAND = os.environ.get('SUPVISORS_DEMO_COMMAND', 'python -m supvisors.tools.demo')
BACKGROUND_DIR = '.demo'

# 'demo' is managed by the rules below: Supvisors starts it once for the whole fleet (autostart=false in Supervisor),
# while the programs of 'local' are unmanaged and started by every supervisord on its own
PROGRAMS = r"""
[group:demo]
programs = ticker,worker,oneshot

[program:ticker]
command = /bin/sh -c 'while true; do date; sleep 1; done'
autostart = false
autorestart = true
startsecs = 1
stopasgroup = true
killasgroup = true

[program:worker]
process_name = worker_%(process_num)02d
numprocs = 2
numprocs_start = 1
command = /bin/sh -c 'n=0; while true; do n=$((n+1)); echo "worker %(process_num)d: job $n"; sleep 2; done'
autostart = false
autorestart = true
startsecs = 1
stopasgroup = true
killasgroup = true

[program:oneshot]
command = /bin/sh -c 'echo "preparing the data"; sleep 3; echo "data ready"'
autostart = false
autorestart = false
startsecs = 0

[group:local]
programs = heartbeat,idle

[program:heartbeat]
command = /bin/sh -c 'while true; do echo "$(date) alive"; sleep 5; done'
autostart = true
autorestart = true
startsecs = 1
stopasgroup = true
killasgroup = true

[program:idle]
command = sleep 3600
autostart = false
stopasgroup = true
killasgroup = true
"""

RULES = """<?xml version="1.0" encoding="UTF-8"?>
<root>
    <application name="demo">
        <start_sequence>1</start_sequence>
        <starting_strategy>LESS_LOADED</starting_strategy>
        <programs>
            <program name="oneshot">
                <start_sequence>1</start_sequence>
                <wait_exit>true</wait_exit>
            </program>
            <program name="ticker">
                <start_sequence>1</start_sequence>
                <required>true</required>
                <expected_loading>5</expected_loading>
            </program>
            <program pattern="^worker_\\d+$">
                <start_sequence>2</start_sequence>
                <expected_loading>10</expected_loading>
            </program>
        </programs>
    </application>
</root>
"""


def _state_path(directory: str) -> str:
    return os.path.join(directory, STATE_FILE)


def _load(directory: str) -> Optional[List[LocalInstance]]:
    path = _state_path(directory)
    return LocalFleet.load_instances(path) if os.path.exists(path) else None


def _forget(directory: str) -> None:
    try:
        os.remove(_state_path(directory))
    except FileNotFoundError:
        pass


def build_fleet(count: int, directory: str, with_supvisors: bool = True, use_case: str = 'sample',
                items: int = 3) -> LocalFleet:
    """The demo fleet: Scenario 2 (3 servers, 2 consoles, X items), or server_1..server_N with sample programs."""
    if use_case == 'scenario2' and with_supvisors:
        from supvisors.tools.usecases.scenario2 import scenario2_fleet
        return scenario2_fleet(directory, items=items)
    identifiers = [f'server_{idx}' for idx in range(1, count + 1)]
    return LocalFleet(identifiers, directory, options={'core_identifiers': ','.join(identifiers)},
                      programs=PROGRAMS, rules=RULES, with_supvisors=with_supvisors)


def cmd_start(args: argparse.Namespace) -> int:
    if args.count < 1 or not 1 <= args.items <= 99:
        print('the number of instances must be at least 1, the number of items in [1;99]', file=sys.stderr)
        return 2
    directory = os.path.abspath(args.dir or (BACKGROUND_DIR if args.background else
                                             tempfile.mkdtemp(prefix='supvisors-demo-')))
    previous = _load(directory)
    if previous and any(instance.alive for instance in previous):
        print(f'a demo fleet is already running in {directory}: stop it first with "{COMMAND} stop --dir {directory}"',
              file=sys.stderr)
        return 1
    with_supvisors = not args.no_supvisors
    fleet = build_fleet(args.count, directory, with_supvisors, args.use_case, args.items)
    # from now on, a signal only asks the main thread to stop the fleet
    stop_requested = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop_requested.set())
    try:
        fleet.start()
        fleet.save_state(_state_path(directory))
        fleet.wait_rpc_ready(timeout=30)
    except (FleetError, TimeoutError, OSError) as exc:
        print(f'the demo fleet did not start: {exc}\n{fleet.diagnostics(30)}', file=sys.stderr)
        fleet.stop()
        _forget(directory)
        return 1
    for instance in fleet:
        print(f'{instance.identifier}: {instance.url}')
    first = next(iter(fleet))
    if with_supvisors:
        print(f'Dashboard: {first.url}/index.html')
    print(f'Files: {directory}')
    etc_dir = getattr(fleet, 'etc_dir', None)
    if etc_dir:
        from supvisors.tools.usecases.scenario2 import TEMPLATE_DIR
        print(f'Configuration: {etc_dir} (the shipped Scenario 2 files, with {args.items} items bred by '
              f'supvisors_breed from {TEMPLATE_DIR})')
    if args.background:
        fleet.detach()
        print(f'Running in the background; stop with: {COMMAND} stop --dir {directory}')
        return 0
    print('Press Ctrl-C to stop the fleet.', flush=True)
    while not stop_requested.wait(0.5):
        if not any(instance.alive for instance in fleet):
            print('every supervisord has exited', file=sys.stderr)
            break
    print('Stopping the demo fleet...', flush=True)
    fleet.stop()
    _forget(directory)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    directory = os.path.abspath(args.dir or BACKGROUND_DIR)
    instances = _load(directory)
    if instances is None:
        print(f'no demo fleet found in {directory}', file=sys.stderr)
        return 1
    try:
        stop_instances(instances)
    except FleetError as exc:
        print(exc, file=sys.stderr)
        return 1
    _forget(directory)
    print(f'demo fleet of {directory} stopped')
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    directory = os.path.abspath(args.dir or BACKGROUND_DIR)
    instances = _load(directory)
    if instances is None:
        print(f'no demo fleet found in {directory}')
        return 1
    running = 0
    for instance in instances:
        if not instance.alive:
            print(f'{instance.identifier}: {instance.url} not running')
            continue
        running += 1
        try:
            rpc = instance.rpc(timeout=3)
            state = rpc.supervisor.getState()['statename']
            try:
                state += ', Supvisors ' + rpc.supvisors.get_supvisors_state()['fsm_statename']
            except (xmlrpc.client.Fault, KeyError):
                pass  # plain supervisord (--no-supvisors)
            processes = rpc.supervisor.getAllProcessInfo()
            summary = ', '.join(f"{info['group']}:{info['name']} {info['statename']}" for info in processes)
            print(f'{instance.identifier}: {instance.url} pid={instance.pid} {state} [{summary}]')
        except Exception as exc:  # noqa: BLE001 - a status must always print something
            print(f'{instance.identifier}: {instance.url} pid={instance.pid} not answering ({exc})')
    return 0 if running == len(instances) else 1


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=COMMAND,
                                     description='Run a demo Supvisors fleet on 127.0.0.1.')
    commands = parser.add_subparsers(dest='command', required=True)
    start = commands.add_parser('start', help='start a demo fleet')
    start.add_argument('--use-case', choices=['scenario2', 'sample'], default='scenario2',
                       help='what the fleet runs (default: scenario2)')
    start.add_argument('--items', type=int, default=3,
                       help='scenario2: number of items, i.e. of scen2_srv / scen2_hci applications (default: 3)')
    start.add_argument('-n', dest='count', type=int, default=3,
                       help='sample: number of instances (default: 3)')
    start.add_argument('--dir', help=f'folder of the fleet files (default: a new temporary folder, '
                                     f'or ./{BACKGROUND_DIR} with --background)')
    start.add_argument('--background', action='store_true', help='return once started; stop it with "stop"')
    # development only: plain supervisord without the plugin, to check the launcher itself
    start.add_argument('--no-supvisors', action='store_true', help=argparse.SUPPRESS)
    for name, text in (('stop', 'stop a background demo fleet'), ('status', 'show a demo fleet')):
        command = commands.add_parser(name, help=text)
        command.add_argument('--dir', help=f'folder of the fleet files (default: ./{BACKGROUND_DIR})')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    return {'start': cmd_start, 'stop': cmd_stop, 'status': cmd_status}[args.command](args)


if __name__ == '__main__':
    sys.exit(main())
