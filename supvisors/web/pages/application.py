"""Application page (interfaces 3.9): the processes of one application across the fleet, acted upon through Supvisors.

Everything comes from the fleet model; the statistics of a process are those of the instance its description comes
from, possibly a remote one. Ids and classes: see statistics_view.
"""

import time
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

from supervisor.rpcinterface import SupervisorNamespaceRPCInterface

from ...core.strategies import restrict
from ...rpcinterface import RPCInterface
from ...ttypes import ApplicationStates, RUNNING_STATES, STOPPED_STATES, StartingStrategies
from ..html import classes, link, tag, text
from ..viewcontext import APPLI_NAME, NAMESPEC, PROCESS_NAME, error_message, info_message, warn_message
from .base import ActionResult, call_rpc
from .statistics_view import StatisticsPage, box, row_class

PROCESS_PREFIX = '\u21b3 '
NOT_STARTED = 'Not started'
# order of the Starting strategies box
STRATEGY_BUTTONS = (StartingStrategies.CONFIG, StartingStrategies.MOST_LOADED, StartingStrategies.LESS_LOADED,
                    StartingStrategies.LOCAL, StartingStrategies.MOST_LOADED_NODE,
                    StartingStrategies.LESS_LOADED_NODE)


def describe(process_name: str, info: Dict, now: float) -> str:
    """ Supervisor's description of a process from what an instance reported (same rules as getProcessInfo). """
    values = {'name': process_name, 'state': info.get('state'), 'start': info.get('start', 0) or 0,
              'stop': info.get('stop', 0) or 0, 'now': now, 'pid': info.get('pid', 0) or 0,
              'spawnerr': info.get('spawnerr', '') or ''}
    return SupervisorNamespaceRPCInterface._interpretProcessInfo(None, values)


class ApplicationPage(StatisticsPage):
    page_name = 'application.html'

    @property
    def application_name(self) -> Optional[str]:
        return self.ctx.get(APPLI_NAME)

    @property
    def application(self):
        return self.core.context.applications[self.application_name]

    def early_redirect(self) -> Optional[str]:
        """ Unknown or missing application: back to the main page with an error. """
        if self.application_name is None:
            name = self.ctx.form.get(APPLI_NAME)
            return self.ctx.redirect_location(error_message(f'Unknown application: {name}'), '/index.html')
        return None

    def active_application(self) -> Optional[str]:
        return self.application_name

    # ------------------------------------------------------------------ header
    def render_header(self) -> str:
        ctx = self.ctx
        application = self.application
        state = application.state
        if application.major_failure:
            led = 'status_red'
        elif application.minor_failure:
            led = 'status_yellow'
        elif state in (ApplicationStates.STARTING, ApplicationStates.RUNNING):
            led = 'status_green'
        else:
            led = 'status_empty'
        title = tag('div', text('h1', application.application_name)
                    + text('div', state.name, class_=classes('state', state.name))
                    + tag('span', '', class_=classes('led', led)), class_='page_title')
        strategies = [self.action_button(strategy.name, ctx.format_url(None, self.page_name, strategy=strategy.name),
                                         active=strategy == ctx.strategy)
                      for strategy in STRATEGY_BUTTONS]
        buttons = [self.action_button('Start the application', self.action_url('startapp')),
                   self.action_button('Stop the application', self.action_url('stopapp')),
                   self.action_button('Restart the application', self.action_url('restartapp'))]
        return (title + box('Starting strategies', strategies, 'strategy_box') + self.render_periods_box()
                + tag('div', buttons, class_='buttons actions'))

    # ------------------------------------------------------------------ contents
    def render_contents(self) -> str:
        application = self.application
        selected = self.selected
        if application.processes:
            table = self._render_table(application)
        else:
            table = text('div', 'No programs to manage', class_='empty_table')
        contents = tag('div', table, class_='table_area')
        if selected is not None:
            identifier = self.ctx.identifier
            stats = self.process_statistics(identifier)
            pid = selected.info_map.get(identifier, {}).get('pid')
            contents += self.render_process_panel(f'Detailed Statistics -- {selected.namespec} on {identifier}', stats,
                                                  stats.get(selected.namespec, pid))
        return contents

    def select_process(self):
        """ The selected process if it is running and belongs to this application, else dropped silently. """
        namespec = self.ctx.get(PROCESS_NAME)
        if not namespec:
            return None
        process = self.core.context.get_process(namespec)
        if process is None or process.application_name != self.application_name or not process.running():
            self.drop_process_selection()
            return None
        return process

    def _render_table(self, application) -> str:
        headers = [text('th', name) for name in ('Name', 'State', 'Supervisor', 'Description', 'Load', 'MEM', 'CPU')]
        headers += [text('th', 'Actions', colspan='3', class_='group'), text('th', 'Log', colspan='3', class_='group')]
        rows = [self._process_row(application.processes[name], index)
                for index, name in enumerate(sorted(application.processes))]
        return tag('table', tag('thead', tag('tr', headers)) + tag('tbody', rows), class_='processes',
                   id='application_table')

    def _description(self, process) -> Tuple[Optional[str], str]:
        """ (instance the description comes from, description) following 3.9. """
        if process.forced_state is not None:
            return None, process.forced_reason
        info_map = process.info_map
        running = [x for x in process.running_identifiers if x in info_map]
        if running:
            identifier = max(sorted(running), key=lambda x: info_map[x].get('event_time', 0))
        elif info_map:
            identifier = max(info_map, key=lambda x: info_map[x].get('stop', 0) or 0)
        else:
            return None, ''
        description = describe(process.process_name, info_map[identifier], self._remote_now(identifier))
        if description and description != NOT_STARTED:
            description = f'{description} on {identifier}'
        return identifier, description

    def _remote_now(self, identifier: str) -> float:
        """ Current time of the instance, estimated from its last tick (uptimes are in its clock). """
        status = self.core.instances.get(identifier)
        now = time.time()
        if status is None or not status.remote_time:
            return now
        return status.remote_time + (now - status.local_time)

    def _process_row(self, process, index: int) -> str:
        core = self.core
        namespec = process.namespec
        state = process.displayed_state
        identifier, description = self._description(process)
        infos = process.info_map.values()
        has_crashed = any(info.get('has_crashed') for info in infos)
        disabled = bool(process.info_map) and all(info.get('disabled') for info in infos)
        label = PROCESS_PREFIX + process.process_name
        if identifier:
            href = self.instance_url(identifier, 'tail.html', processname=namespec,
                                     limit=self.runtime.options.tail_limit)
            name = link(label, href, target='_blank')
        else:
            name = text('span', label)
        supervisors = [link(x, self.instance_url(x, 'proc_instance.html'),
                            class_=classes('button on', 'active' if x == identifier else None))
                       for x in sorted(process.running_identifiers)]
        cells = [tag('td', name, class_='name'),
                 text('td', state.name, class_=classes('FATAL' if process.crashed() else state.name, 'state',
                                                       'crashed' if has_crashed else None,
                                                       'disabled' if disabled else None)),
                 tag('td', supervisors, class_='supervisors'),
                 text('td', description, class_='description'),
                 text('td', f'{process.rules.expected_loading}%', class_='load')]
        if identifier and process.running_on(identifier):
            pid = process.info_map[identifier].get('pid')
            values = self.stats_cells(namespec, identifier, pid)
            cells += [values.mem_cell, values.cpu_cell]
        else:
            cells.append(self.sum_cells(None, None))
        startable = bool(restrict(process.rules.identifiers, core.identifiers, process.possible_identifiers()))
        running = state in RUNNING_STATES
        buttons = [self.action_button('Start', self.action_url('start', namespec=namespec),
                                      startable and state in STOPPED_STATES),
                   self.action_button('Stop', self.action_url('stop', namespec=namespec), running),
                   self.action_button('Restart', self.action_url('restart', namespec=namespec),
                                      startable and running)]
        buttons += self._log_buttons(namespec, identifier)
        cells += [tag('td', button, class_='button') for button in buttons]
        return tag('tr', cells, class_=classes('process', row_class(index)))

    def _log_buttons(self, namespec: str, identifier: Optional[str]) -> List[str]:
        """ Clear / Stdout / Stderr on the instance the description comes from (logfiles not checked here). """
        if not identifier:
            return [self.action_button(label, None, False) for label in ('Clear', 'Stdout', 'Stderr')]
        instance = self.runtime.mapper.instances[identifier]
        base = f'http://{quote(instance.host_name)}:{instance.http_port}/logtail/{quote(namespec)}'
        clear = self.instance_url(identifier, self.page_name, action='clearlog', namespec=namespec)
        return [self.action_button('Clear', clear),
                self.action_button('Stdout', base, target='_blank'),
                self.action_button('Stderr', f'{base}/stderr', target='_blank')]

    # ------------------------------------------------------------------ actions
    def actions(self) -> Dict[str, Callable[[], ActionResult]]:
        return {'startapp': self.start_application,
                'stopapp': self.stop_application,
                'restartapp': self.restart_application,
                'start': lambda: self.process_action('start'),
                'stop': lambda: self.process_action('stop'),
                'restart': lambda: self.process_action('restart'),
                'clearlog': lambda: self.process_action('clearlog')}

    def start_application(self) -> ActionResult:
        name = self.application_name
        rpc = RPCInterface(self.runtime)

        def done(result) -> Tuple[str, str]:
            if result:
                return info_message(f'Application {name} started')
            return warn_message(f'Application {name} NOT started')
        return call_rpc('start_application', rpc.start_application, (self.ctx.strategy.value, name, self.wait), done)

    def stop_application(self) -> ActionResult:
        name = self.application_name
        rpc = RPCInterface(self.runtime)
        return call_rpc('stop_application', rpc.stop_application, (name, self.wait),
                        lambda _: info_message(f'Application {name} stopped'))

    def restart_application(self) -> ActionResult:
        name = self.application_name
        rpc = RPCInterface(self.runtime)
        return call_rpc('restart_application', rpc.restart_application, (self.ctx.strategy.value, name, self.wait),
                        lambda _: info_message(f'Application {name} restarted'))

    def process_action(self, action: str) -> ActionResult:
        namespec = self.ctx.get(NAMESPEC)
        if not namespec or self.core.context.get_process(namespec) is None:
            return error_message(f'No such process named {namespec}')
        strategy = self.ctx.strategy.value
        rpc = RPCInterface(self.runtime)
        if action == 'start':
            return call_rpc('start_process', rpc.start_process, (strategy, namespec, '', self.wait),
                            lambda _: info_message(f'Process {namespec} started'))
        if action == 'stop':
            return call_rpc('stop_process', rpc.stop_process, (namespec, self.wait),
                            lambda _: info_message(f'Process {namespec} stopped'))
        if action == 'restart':
            return call_rpc('restart_process', rpc.restart_process, (strategy, namespec, '', self.wait),
                            lambda _: info_message(f'Process {namespec} restarted'))
        supervisor = SupervisorNamespaceRPCInterface(self.runtime.supervisord)
        return call_rpc('clearProcessLogs', supervisor.clearProcessLogs, (namespec,),
                        lambda _: info_message(f'Log for {namespec} cleared'))
