"""Supervisor page, processes section (interfaces 3.7): the processes of the local Supervisor and their statistics.

The rows come from the local supervisord (the processes it holds, with Supervisor's own descriptions), completed by
the fleet model for what Supervisor does not know (expected exits, crashes, loads). Every lookup is O(1), so the
render is O(processes). Ids and classes: see statistics_view.
"""

import time
from typing import List, Optional
from urllib.parse import quote

from supervisor.states import getProcessStateDescription

from ...ttypes import ProcessStates, RUNNING_STATES, STOPPED_STATES, make_namespec
from ..html import classes, link, tag, text
from ..viewcontext import PROCESS_NAME, SUPERVISORD
from .base import MASTER_MARK
from .statistics_view import PROCESSES_VIEW, SupervisorPage, add_value, row_class, supervisord_description

EXPANDED_MARK = '[\u2013]'
SHRUNK_MARK = '[+]'
PROCESS_PREFIX = '\u21b3 '


class _Totals:
    """ Sums of the TOTAL row over the local processes in RUNNING_STATES. """

    def __init__(self) -> None:
        self.load = 0
        self.mem: Optional[float] = None
        self.cpu: Optional[float] = None

    def add(self, load: int, mem: Optional[float], cpu: Optional[float]) -> None:
        self.load += load
        self.mem = add_value(self.mem, mem)
        self.cpu = add_value(self.cpu, cpu)


class ProcInstancePage(SupervisorPage):
    page_name = 'proc_instance.html'
    view = PROCESSES_VIEW

    def render_contents(self) -> str:
        table = tag('div', self._render_table(), class_='table_area')
        return table + (self._render_panel(self.selected) if self.selected else '')

    # ------------------------------------------------------------------ selection
    def _local_process(self, namespec: str):
        """ The Supervisor process of the namespec in the local supervisord, None if unknown. """
        process = self.core.context.get_process(namespec)
        if process is None:
            return None
        group = self.runtime.supervisord.process_groups.get(process.application_name)
        return group.processes.get(process.process_name) if group is not None else None

    def select_process(self) -> Optional[str]:
        """ The process whose detailed statistics are shown: selected and running locally, else dropped. """
        namespec = self.ctx.get(PROCESS_NAME)
        if not namespec:
            return None
        if self.statistics_available:
            if namespec == SUPERVISORD:
                return namespec
            process = self._local_process(namespec)
            if process is not None and process.get_state() in RUNNING_STATES:
                return namespec
        self.drop_process_selection()
        return None

    def _render_panel(self, namespec: str) -> str:
        stats = self.process_statistics(self.ctx.local_identifier)
        if namespec == SUPERVISORD:
            pid = self.supervisord_pid()
        else:
            pid = self._local_process(namespec).pid
        return self.render_process_panel(f'Detailed Statistics -- {namespec}', stats, stats.get(namespec, pid))

    # ------------------------------------------------------------------ table
    def _render_table(self) -> str:
        with_stats = self.statistics_available
        headers = [tag('th', '', class_='shex'), text('th', 'Name'), text('th', 'State'), text('th', 'Description'),
                   text('th', 'Load')]
        if with_stats:
            headers += [text('th', 'MEM'), text('th', 'CPU')]
        headers += [text('th', 'Actions', colspan='3', class_='group'), text('th', 'Log', colspan='3', class_='group')]
        totals = _Totals()
        rows = self._application_rows(totals)
        rows.append(self._supervisord_row(len(self.runtime.supervisord.process_groups), totals))
        table = tag('thead', tag('tr', headers)) + tag('tbody', rows)
        if with_stats:
            # the TOTAL row goes with the statistics (3.7)
            footer = [tag('td', '', class_='shex'), text('td', 'TOTAL', colspan='3', class_='name'),
                      text('td', f'{totals.load}%', class_='load'), self.sum_cells(totals.mem, totals.cpu),
                      tag('td', '', colspan='6')]
            table += tag('tfoot', tag('tr', footer, class_='total'))
        return tag('table', table, class_='processes', id='process_table')

    def _application_rows(self, totals: _Totals) -> List[str]:
        ctx = self.ctx
        supervisord = self.runtime.supervisord
        applications = self.core.context.applications
        rows: List[str] = []
        for index, group_name in enumerate(sorted(supervisord.process_groups)):
            group = supervisord.process_groups[group_name]
            shade = row_class(index)
            names = sorted(group.processes)
            single = len(names) == 1 and names[0] == group_name
            application = applications.get(group_name)
            process_rows = []
            app_load, app_mem, app_cpu = 0, None, None
            for name in names:
                model = application.processes.get(name) if application is not None else None
                row, load, mem, cpu = self._process_row(group.processes[name], model, single, shade)
                process_rows.append(row)
                if load is not None:
                    app_load += load
                    app_mem, app_cpu = add_value(app_mem, mem), add_value(app_cpu, cpu)
                    totals.add(load, mem, cpu)
            if single:
                rows.extend(process_rows)
                continue
            # shex bits follow the model's applications: a group not known there yet stays expanded
            expanded = ctx.is_expanded(group_name) if application is not None else True
            rows.append(self._application_row(group_name, expanded, application is not None, app_load, app_mem,
                                              app_cpu, shade))
            if expanded:
                rows.extend(process_rows)
        return rows

    def _application_row(self, application_name: str, expanded: bool, known: bool, load: int,
                         mem: Optional[float], cpu: Optional[float], shade: str) -> str:
        ctx = self.ctx
        mark = EXPANDED_MARK if expanded else SHRUNK_MARK
        shex = link(mark, self.page_url(shex=ctx.toggled_shex(application_name)),
                    class_='shex') if known else text('span', mark, class_='shex')
        group = f'{application_name}:'
        cells = [tag('td', shex, class_='shex'),
                 tag('td', link(application_name, self.page_url('application.html', appliname=application_name)),
                     colspan='3', class_='name'),
                 text('td', f'{load}%', class_='load')]
        if self.statistics_available:
            cells.append(self.sum_cells(mem, cpu))
        cells += [tag('td', self.action_button('Start', self.action_url('startgroup', namespec=group)),
                      class_='button'),
                  tag('td', self.action_button('Stop', self.action_url('stopgroup', namespec=group)),
                      class_='button'),
                  tag('td', self.action_button('Restart', self.action_url('restartgroup', namespec=group)),
                      class_='button'),
                  tag('td', '', colspan='3')]
        return tag('tr', cells, class_=classes('application', shade))

    def _process_row(self, process, model, single: bool, shade: str):
        """ One process row, and (load, mem, cpu) when the process counts in the sums (RUNNING_STATES). """
        ctx = self.ctx
        local = ctx.local_identifier
        config = process.config
        namespec = make_namespec(process.group.config.name, config.name)
        state = process.get_state()
        info = model.info_map.get(local, {}) if model is not None else {}
        disabled = bool(getattr(process, 'disabled', False))
        crashed = state == ProcessStates.FATAL or (state == ProcessStates.EXITED and not info.get('expected', True))
        has_crashed = crashed or bool(info.get('has_crashed'))
        statename = getProcessStateDescription(state)
        load = model.rules.expected_loading if model is not None else 0
        label = config.name if single else PROCESS_PREFIX + config.name
        if config.stdout_logfile:
            href = self.instance_url(local, 'tail.html', processname=namespec, limit=self.runtime.options.tail_limit)
            name = link(label, href, target='_blank')
        else:
            name = text('span', label)
        description = self.runtime.local.process_info(process)['description']
        cells = [tag('td', '', class_='shex'), tag('td', name, class_='name'),
                 text('td', statename, class_=classes('FATAL' if crashed else statename, 'state',
                                                     'crashed' if has_crashed else None,
                                                     'disabled' if disabled else None)),
                 text('td', description, class_='description'),
                 text('td', f'{load}%', class_='load')]
        mem = cpu = None
        if self.statistics_available:
            values = self.stats_cells(namespec, local, process.pid)
            cells += [values.mem_cell, values.cpu_cell]
            mem, cpu = values.mem, values.cpu
        running = state in RUNNING_STATES
        has_logs = bool(config.stdout_logfile), bool(config.stderr_logfile)
        quoted = quote(namespec)
        buttons = [self.action_button('Start', self.action_url('start', namespec=namespec),
                                      not disabled and state in STOPPED_STATES),
                   self.action_button('Stop', self.action_url('stop', namespec=namespec), running),
                   self.action_button('Restart', self.action_url('restart', namespec=namespec),
                                      not disabled and running),
                   self.action_button('Clear', self.action_url('clearlog', namespec=namespec), any(has_logs)),
                   self.action_button('Stdout', f'logtail/{quoted}', has_logs[0], target='_blank'),
                   self.action_button('Stderr', f'logtail/{quoted}/stderr', has_logs[1], target='_blank')]
        cells += [tag('td', button, class_='button') for button in buttons]
        row = tag('tr', cells, class_=classes('process', shade))
        if running:
            return row, load, mem, cpu
        return row, None, None, None

    def _supervisord_row(self, index: int, totals: _Totals) -> str:
        ctx = self.ctx
        local = ctx.local_identifier
        pid = self.supervisord_pid()
        mark = MASTER_MARK.strip() if self.core.master == local else ''
        href = self.instance_url(local, 'maintail.html', processname=SUPERVISORD,
                                 limit=self.runtime.options.tail_limit)
        running = ProcessStates.RUNNING.name
        cells = [text('td', mark, class_='shex'),
                 tag('td', link(SUPERVISORD, href, target='_blank'), class_='name'),
                 text('td', running, class_=classes(running, 'state')),
                 text('td', supervisord_description(self.runtime.supervisord, pid, time.time()),
                      class_='description'),
                 text('td', '0%', class_='load')]
        mem = cpu = None
        if self.statistics_available:
            values = self.stats_cells(SUPERVISORD, local, pid)
            cells += [values.mem_cell, values.cpu_cell]
            mem, cpu = values.mem, values.cpu
        totals.add(0, mem, cpu)
        buttons = [self.action_button('Start', None, False),
                   self.action_button('Stop', self.action_url('shutdownsup')),
                   self.action_button('Restart', self.action_url('restartsup')),
                   self.action_button('Clear', self.action_url('mainclearlog')),
                   self.action_button('Stdout', 'mainlogtail', target='_blank'),
                   self.action_button('Stderr', None, False)]
        cells += [tag('td', button, class_='button') for button in buttons]
        return tag('tr', cells, class_=classes('supervisord', row_class(index)), id='supervisord')

