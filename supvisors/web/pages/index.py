"""Main page (interfaces 3.6): one box per Supvisors instance, or the Conciliation view when the fleet has
conflicts to resolve in CONCILIATION; and the fleet-wide actions (restart / shutdown of Supvisors, conflict
resolution).

Markup beyond the spec's classes, for the stylesheet:

* header: ``div#supvisors_state`` holding ``h1.fsm_state`` (the state name, also classed with it) and ``p.modes``
  with ``span.blink.starting`` / ``span.blink.stopping``; ``div.buttons.supvisors`` holds the Restart/Shutdown
  buttons (``a#sup_restart``, ``a#sup_shutdown``);
* boxes: ``div#instances`` holds one ``div.instance_box`` (also classed with the instance state) per instance, each
  a ``table.instance``: ``thead`` row ``th.name`` (link ``on``/``off``, ``master`` added for the Master),
  ``th.<STATE>.state``, ``th.time``, ``th.load``; ``tbody`` rows ``tr.shaded``/``tr.brightened`` with
  ``td.application`` and ``td.processes`` (one ``span.process`` per process name);
* conciliation: ``div#conciliation`` holds ``div.box.strategies`` (``h2`` + ``div.buttons``) and
  ``table.conflicts``: ``th.name``, ``th.instance``, ``th.uptime``, ``th.actions`` (colspan 2), ``th.strategy``;
  body cells ``td.name`` and ``td.strategy`` (rowspan over the copies of a conflict), ``td.instance``,
  ``td.uptime``, ``td.action`` (Stop / Keep buttons).
"""

import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from supervisor.http import NOT_DONE_YET

from ...core.actions import StopProcess
from ...core.failures import conciliate, uptime
from ...ttypes import ConciliationStrategies, RUNNING_STATES, SupvisorsInstanceStates, SupvisorsStates
from ..html import link, tag, text
from ..viewcontext import NAMESPEC, error_message, info_message, warn_message
from .base import MASTER_MARK, ActionResult, BasePage, call_rpc

NO_TIME = '--:--:--'
# the strategies offered by the Conciliation view (USER means: let the user do it)
CONCILIATION_CHOICES = [x for x in ConciliationStrategies if x != ConciliationStrategies.USER]
ROW_CLASSES = ('shaded', 'brightened')

# application name -> names of its processes running on one instance, in name order
RunningMap = Dict[str, List[str]]


def strategy_label(strategy: ConciliationStrategies) -> str:
    """ 'RUNNING_FAILURE' -> 'Running_Failure': the labels of the strategy buttons. """
    return strategy.name.title()


def clock(date: float) -> str:
    """ HH:MM:SS of a date in local time. """
    return time.strftime('%H:%M:%S', time.localtime(date))


def duration(seconds: float) -> str:
    """ HH:MM:SS of a duration (UTC, so that no time zone shifts it). """
    return time.strftime('%H:%M:%S', time.gmtime(max(0.0, seconds)))


class MainPage(BasePage):
    """ The fleet at a glance, and the place where conflicts are resolved. """

    page_name = 'index.html'

    # ------------------------------------------------------------------ header
    def render_header(self) -> str:
        state = self.core.supvisors_state()
        name = state['fsm_statename']
        modes = []
        if state['starting_jobs']:
            modes.append(tag('span', 'starting', class_='blink starting'))
        if state['stopping_jobs']:
            modes.append(tag('span', 'stopping', class_='blink stopping'))
        status = tag('div', text('h1', name, class_=f'fsm_state {name}') + tag('p', ' '.join(modes), class_='modes'),
                     id='supvisors_state')
        buttons = (self.action_button('Restart Supvisors', self.action_url('sup_restart'), id='sup_restart') +
                   self.action_button('Shutdown Supvisors', self.action_url('sup_shutdown'), id='sup_shutdown'))
        return status + tag('div', buttons, class_='buttons supvisors')

    # ------------------------------------------------------------------ contents
    def in_conciliation(self) -> bool:
        return self.core.fsm_state == SupvisorsStates.CONCILIATION and bool(self.core.context.conflicts())

    def render_contents(self) -> str:
        if self.in_conciliation():
            return self.render_conciliation()
        return self.render_boxes()

    # instance boxes
    def running_by_instance(self) -> Tuple[Dict[str, RunningMap], Dict[str, int]]:
        """ One pass over the processes: per instance, the processes running there grouped by application (both
        sorted by name), and the loading of the instance (as core.loading computes it). """
        running: Dict[str, RunningMap] = {identifier: {} for identifier in self.core.instances}
        loads: Dict[str, int] = dict.fromkeys(self.core.instances, 0)
        applications = self.core.context.applications
        for application_name in sorted(applications):
            processes = applications[application_name].processes
            for process_name in sorted(processes):
                process = processes[process_name]
                identifiers = process.running_identifiers
                if not identifiers:
                    continue
                load = process.rules.expected_loading if process.running() else 0
                info_map = process.info_map
                for identifier in identifiers:
                    if load and identifier in loads:
                        loads[identifier] += load
                    instance_map = running.get(identifier)
                    if instance_map is not None and info_map[identifier]['state'] in RUNNING_STATES:
                        instance_map.setdefault(application_name, []).append(process_name)
        return running, loads

    def render_boxes(self) -> str:
        running, loads = self.running_by_instance()
        now = time.time()
        boxes = [self.render_box(identifier, status, running[identifier], loads[identifier], now)
                 for identifier, status in self.core.instances.items()]
        return tag('div', boxes, id='instances')

    def render_box(self, identifier: str, status, applications: RunningMap, load: int, now: float) -> str:
        is_running = status.state == SupvisorsInstanceStates.RUNNING
        is_master = identifier == self.core.master
        label = (MASTER_MARK if is_master else '') + identifier
        if is_running:
            name = link(label, self.ctx.format_url(identifier, 'proc_instance.html'), class_='on')
            remote_time = clock(status.remote_time + now - status.local_time)
        else:
            name = link(label, None, class_='off')
            remote_time = NO_TIME
        state_name = status.state.name
        head = tag('tr', [tag('th', name, class_='name master' if is_master else 'name'),
                          text('th', state_name, class_=f'{state_name} state'),
                          text('th', remote_time, class_='time'),
                          text('th', f'{load}%', class_='load')])
        rows = []
        for idx, (application_name, process_names) in enumerate(applications.items()):
            processes = ' '.join(text('span', x, class_='process') for x in process_names)
            rows.append(tag('tr', text('td', application_name, class_='application') +
                            tag('td', processes, class_='processes', colspan=3), class_=ROW_CLASSES[idx % 2]))
        table = tag('table', tag('thead', head) + tag('tbody', rows), class_='instance')
        return tag('div', table, class_=f'instance_box {state_name}')

    # conciliation view
    def strategy_buttons(self, namespec: Optional[str]) -> str:
        """ One button per strategy, to the Master's main page (the Master resolves conflicts). """
        master = self.core.master
        known = master in self.runtime.mapper.instances
        buttons = []
        for strategy in CONCILIATION_CHOICES:
            href = self.ctx.format_url(master, 'index.html', action=strategy.name.lower(), namespec=namespec) \
                if known else None
            buttons.append(self.action_button(strategy_label(strategy), href))
        return ''.join(buttons)

    def render_conciliation(self) -> str:
        ctx = self.ctx
        box = tag('div', tag('h2', 'Conciliation Strategies') + tag('div', self.strategy_buttons(None),
                                                                      class_='buttons'),
                  class_='box strategies')
        head = tag('tr', [text('th', 'Name', class_='name'), text('th', 'Supervisor', class_='instance'),
                          text('th', 'Uptime', class_='uptime'), text('th', 'Actions', class_='actions', colspan=2),
                          text('th', 'Strategy', class_='strategy')])
        now = time.time()
        rows = []
        conflicts = sorted(self.core.context.conflicts(), key=lambda x: x.namespec)
        for idx, process in enumerate(conflicts):
            namespec = process.namespec
            row_class = ROW_CLASSES[idx % 2]
            identifiers = sorted(process.running_identifiers)
            span = len(identifiers)
            for rank, identifier in enumerate(identifiers):
                cells = []
                if rank == 0:
                    cells.append(text('td', namespec, class_='name', rowspan=span))
                instance_url = ctx.format_url(identifier, 'proc_instance.html') \
                    if identifier in self.runtime.mapper.instances else None
                cells.append(tag('td', self.action_button(identifier, instance_url), class_='instance'))
                cells.append(text('td', duration(uptime(process, identifier, now)), class_='uptime'))
                cells.append(tag('td', self.action_button(
                    'Stop', self.action_url('pstop', namespec=namespec, ident=identifier)), class_='action'))
                cells.append(tag('td', self.action_button(
                    'Keep', self.action_url('pkeep', namespec=namespec, ident=identifier)), class_='action'))
                if rank == 0:
                    cells.append(tag('td', self.strategy_buttons(namespec), class_='strategy', rowspan=span))
                rows.append(tag('tr', cells, class_=row_class))
        table = tag('table', tag('thead', head) + tag('tbody', rows), class_='conflicts')
        return tag('div', box + table, id='conciliation')

    # ------------------------------------------------------------------ actions
    def actions(self) -> Dict[str, Callable[[], ActionResult]]:
        actions: Dict[str, Callable[[], ActionResult]] = {
            'sup_restart': self.sup_restart, 'sup_shutdown': self.sup_shutdown,
            'pstop': self.stop_process, 'pkeep': self.keep_process}
        for strategy in CONCILIATION_CHOICES:
            actions[strategy.name.lower()] = lambda strategy=strategy: self.conciliate(strategy)
        return actions

    def _rpc(self):
        from ...rpcinterface import RPCInterface
        return RPCInterface(self.runtime)

    def sup_restart(self) -> ActionResult:
        return call_rpc('restart', self._rpc().restart, (), lambda _: warn_message('Supvisors restart requested'))

    def sup_shutdown(self) -> ActionResult:
        return call_rpc('shutdown', self._rpc().shutdown, (),
                        lambda _: warn_message('Supvisors shutdown requested'))

    def _target_process(self):
        """ The process of the namespec parameter (None for an application or nothing). """
        namespec = self.ctx.get(NAMESPEC)
        return self.core.context.get_process(namespec) if namespec else None

    def _send_stops(self, namespec: str, identifiers: List[str]) -> None:
        """ Ask instances to stop a process, as the Stopper does (supervisor.stopProcess without wait), but
        outside any Stopper job. """
        if identifiers:
            self.runtime.run(lambda now: self.core.outbox.extend(StopProcess(x, namespec) for x in identifiers))

    def _until(self, done: Callable[[], bool], message: Callable[[], Tuple[str, str]]) -> ActionResult:
        """ The message at once when auto-refresh is on, else once done() is true. """
        if not self.wait or done():
            return message()

        def poll() -> Any:
            return message() if done() else NOT_DONE_YET
        return poll

    def stop_process(self) -> ActionResult:
        """ pstop: stop the process on the instance ident only. """
        namespec, identifier = self.ctx.get(NAMESPEC), self.ctx.identifier
        process = self._target_process()
        if process is None:
            return error_message(f'No such process named {namespec}')
        if process.running_on(identifier):
            self._send_stops(process.namespec, [identifier])
        return self._until(lambda: identifier not in process.running_identifiers,
                           lambda: info_message(f'process {namespec} stopped on {identifier}'))

    def keep_process(self) -> ActionResult:
        """ pkeep: stop the process everywhere but on the instance ident. """
        namespec, identifier = self.ctx.get(NAMESPEC), self.ctx.identifier
        process = self._target_process()
        if process is None:
            return error_message(f'No such process named {namespec}')
        self._send_stops(process.namespec, sorted(x for x in process.running_identifiers
                                                  if x != identifier and process.running_on(x)))
        return self._until(lambda: not process.running_identifiers - {identifier},
                           lambda: info_message(f'processes {namespec} stopped but on {identifier}'))

    def conciliate(self, strategy: ConciliationStrategies) -> ActionResult:
        """ Apply a conciliation strategy to the conflict of namespec, or to all conflicts. """
        namespec = self.ctx.get(NAMESPEC)
        context = self.core.context
        if namespec:
            process = context.get_process(namespec)
            if process is not None:
                processes = [process] if process.conflicting() else []
            else:  # an application: its conflicts
                application = context.applications.get(namespec.rstrip(':'))
                processes = application.conflicts() if application is not None else []
            what = namespec
        else:
            processes = context.conflicts()
            what = 'all conflicts'
        if processes:
            core = self.core
            self.runtime.run(lambda now: conciliate(core, strategy, processes))
        return info_message(f'{strategy.name} in progress for {what}')
