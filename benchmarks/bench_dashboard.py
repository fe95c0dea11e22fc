#!/usr/bin/env python
"""Server-side render time of the dashboard pages.

In-process mode (default): a realistic fleet model is built with a real decision core fed through its entry points
(handshakes carrying the process lists): 10 instances, 50 managed applications of 10 processes each (500 processes
configured on every instance), about 90 % of them running, spread over the instances. The main page is rendered
N times (and the other Supvisors pages too when they can be rendered without a real supervisord), and the median
and maximum render times are printed in milliseconds. A second model with conflicts times the Conciliation view.

URL mode (--url): time N GET requests of a live page, e.g.
``python benchmarks/bench_dashboard.py --url http://127.0.0.1:9001/index.html``.

Usage: python benchmarks/bench_dashboard.py [--runs N] [--instances 10] [--applications 50] [--processes 10]
"""

import argparse
import os
import statistics
import sys
import time
import urllib.request
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from supvisors.core import actions as act  # noqa: E402
from supvisors.core.engine import SupvisorsCore  # noqa: E402
from supvisors.core.instances import InstanceStatus  # noqa: E402
from supvisors.model.context import Context  # noqa: E402
from supvisors.rules.model import ApplicationRules, ProcessRules  # noqa: E402
from supvisors.ttypes import InternalMessages, StartingStrategies  # noqa: E402
from supvisors.web.viewcontext import ViewContext  # noqa: E402

T0 = time.time() - 3600


class _Logger:
    """ Drops everything (the core logs every transition). """

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class _Resolver:
    """ Every application managed; a loading on every process. """

    def application_rules(self, name: str) -> ApplicationRules:
        return ApplicationRules(managed=True, stop_sequence=0)

    def process_rules(self, application: str, process: str, rules: ApplicationRules) -> ProcessRules:
        return ProcessRules(stop_sequence=0, expected_loading=1 + hash(process) % 5)

    def take_autorestart_changes(self) -> List[str]:
        return []


def _info(group: str, name: str, state: int, start: float) -> Dict[str, Any]:
    return {'name': name, 'group': group, 'state': state, 'start': int(start), 'stop': 0, 'now': time.time(),
            'pid': 1000 if state == 20 else 0, 'description': '', 'spawnerr': '', 'expected': True, 'startsecs': 0,
            'stopwaitsecs': 10, 'extra_args': '', 'disabled': False}


def build_core(nb_instances: int, nb_applications: int, nb_processes: int, conflicts: int = 0) -> SupvisorsCore:
    """ A core in OPERATION (CONCILIATION with conflicts) knowing the whole fleet. Process k of the fleet runs on
    instance k % nb_instances, except one in ten which is stopped; the first `conflicts` processes also run on
    the next instance. """
    identifiers = [f'node{idx:02d}' for idx in range(1, nb_instances + 1)]
    logger = _Logger()
    instances = [InstanceStatus(x, '127.0.0.1', 20000 + idx, '127.0.0.1') for idx, x in enumerate(identifiers)]
    core = SupvisorsCore(identifiers[0], instances, [], 15, 2, False, logger, context=Context(_Resolver(), logger))
    lists: Dict[str, List[Dict[str, Any]]] = {x: [] for x in identifiers}
    rank = 0
    for app in range(nb_applications):
        group = f'application_{app:03d}'
        for proc in range(nb_processes):
            name = f'program_{proc:02d}'
            hosts = set()
            if rank % 10 != 9:
                hosts.add(identifiers[rank % nb_instances])
                if rank < conflicts:
                    hosts.add(identifiers[(rank + 1) % nb_instances])
            for idx, identifier in enumerate(identifiers):
                lists[identifier].append(_info(group, name, 20 if identifier in hosts else 0, T0 + idx))
            rank += 1
    core.start(T0)
    check = next(x for x in core.take_actions() if isinstance(x, act.CheckInstance))
    core.on_check_result(act.CheckResult(identifiers[0], check.check_id, True, '',
                                         process_list=lists[identifiers[0]]), T0)
    core.take_actions()
    for idx, identifier in enumerate(identifiers[1:], 1):
        now = T0 + idx
        core.on_message(identifier, InternalMessages.TICK, {'when': time.time() - 1, 'sequence_counter': 0}, now)
        check = next(x for x in core.take_actions() if isinstance(x, act.CheckInstance))
        core.on_check_result(act.CheckResult(identifier, check.check_id, True, identifiers[0], 2,
                                             process_list=lists[identifier]), now)
        core.take_actions()
    return core


def build_dashboard(core: SupvisorsCore) -> Any:
    """ The dashboard facade over a fake runtime holding the core (no supervisord, no statistics). """
    instances = OrderedDict((x, SimpleNamespace(host_name='127.0.0.1', http_port=status.http_port))
                            for x, status in core.instances.items())
    statistics_service = SimpleNamespace(periods=[10], nb_cores=lambda _: 1, get_stats=lambda *_: None, version=0,
                                         available_locally=False, irix_mode=False,
                                         find_process_stats=lambda *_: None)
    runtime = SimpleNamespace(core=core, logger=_Logger(), statistics=statistics_service, version=0,
                              mapper=SimpleNamespace(instances=instances, local_identifier=core.local_identifier),
                              options=SimpleNamespace(starting_strategy=StartingStrategies.CONFIG, tail_limit=1024,
                                                      stats_irix_mode=False, tailf_limit=1024),
                              run=lambda method, *args: method(*args, time.time()))
    # no local Supervisor process: the local Supervisor pages only show their supervisord row
    runtime.supervisord = SimpleNamespace(process_groups={}, options=SimpleNamespace(mood=1, logfile=None))
    from supvisors.web.plots import ImageBuffers
    return SimpleNamespace(runtime=runtime, logger=runtime.logger, statistics=statistics_service,
                           interface_names=lambda _: [], images=ImageBuffers(), version=(0, 0))


def time_render(dashboard: Any, page_class: Any, page_name: str, form: Dict[str, str], runs: int) -> List[float]:
    """ Milliseconds of each render, parameter validation included (as for a request). """
    durations = []
    for _ in range(runs):
        start = time.perf_counter()
        ctx = ViewContext(dashboard, page_name, form, 'http://127.0.0.1:20000', f'/{page_name}')
        page_class(dashboard, ctx).render()
        durations.append(1000 * (time.perf_counter() - start))
    return durations


def report(label: str, durations: List[float]) -> None:
    print(f'{label:<48} median {statistics.median(durations):8.2f} ms   max {max(durations):8.2f} ms'
          f'   ({len(durations)} runs)')


def other_pages(core: SupvisorsCore) -> Dict[str, Any]:
    """ The other Supvisors pages with the form to render them with (the ones not written yet are left out). """
    from supvisors.web.dashboard import _page_classes
    application = next(iter(core.context.applications))
    forms = {'application.html': {'appliname': application}, 'proc_instance.html': {}, 'host_instance.html': {}}
    classes = _page_classes()
    return {name: (classes[name], form) for name, form in forms.items()}


def run_in_process(args: argparse.Namespace) -> None:
    from supvisors.web.pages.index import MainPage
    nb = args.applications * args.processes
    start = time.perf_counter()
    core = build_core(args.instances, args.applications, args.processes)
    print(f'model: {args.instances} instances, {len(core.context.applications)} applications, {nb} processes'
          f' ({sum(1 for p in core.context.processes() if p.running())} running), state {core.fsm_state.name},'
          f' built in {time.perf_counter() - start:.2f} s')
    dashboard = build_dashboard(core)
    report('index.html (instance boxes)', time_render(dashboard, MainPage, 'index.html', {}, args.runs))
    for name, (page_class, form) in other_pages(core).items():
        try:
            durations = time_render(dashboard, page_class, name, form, args.runs)
        except Exception as exc:  # a page needing a real supervisord (or not written yet)
            print(f'{name:<48} skipped: {exc!r}'[:160])
            continue
        report(name, durations)
    conflicted = build_core(args.instances, args.applications, args.processes, conflicts=args.conflicts)
    report(f'index.html ({conflicted.fsm_state.name}, {len(conflicted.context.conflicts())} conflicts)',
           time_render(build_dashboard(conflicted), MainPage, 'index.html', {}, args.runs))


def run_url(url: str, runs: int) -> None:
    durations = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as response:
            size = len(response.read())
        durations.append(1000 * (time.perf_counter() - start))
    report(f'GET {url} ({size} bytes)', durations)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=50)
    parser.add_argument('--instances', type=int, default=10)
    parser.add_argument('--applications', type=int, default=50)
    parser.add_argument('--processes', type=int, default=10, help='processes per application')
    parser.add_argument('--conflicts', type=int, default=20, help='conflicts of the conciliation model')
    parser.add_argument('--url', help='time GET requests of this page instead')
    args = parser.parse_args(argv)
    if args.url:
        run_url(args.url, args.runs)
    else:
        run_in_process(args)


if __name__ == '__main__':
    main()
