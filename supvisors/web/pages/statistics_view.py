"""What the statistics-bearing pages share (interfaces 3.7, 3.8, 3.9 and 4.4).

* figures of a series as table cells: ``<v:.2f>`` values, ``--`` when undefined, trend class on the last value;
* the process series of one instance, indexed once per render so that every row is an O(1) lookup;
* the ``Statistics Periods`` box, the detailed statistics panel of a process and its two images;
* the Supervisor pages (``proc_instance.html`` and ``host_instance.html``): their common header (``Statistics View``
  box included) and Supervisor's own actions, which both pages accept.

Ids and classes used by these pages beyond the ones of the spec (3.12), for the style sheet:

==========================  ==================================================================================
``div.page_title``          first part of ``#header``: ``h1`` (instance or application name), ``div.state``
                            (plus the state name class), ``span.blink`` words (``starting``/``stopping``),
                            ``span.led`` (application LED, with a ``status_*`` class)
``div.box``                 a titled group of buttons in ``#header``: ``h3`` + ``div.buttons``;
                            ``#view_box`` (Statistics View), ``#period_box`` (Statistics Periods),
                            ``#strategy_box`` (Starting strategies)
``div.buttons.actions``     the page action buttons of ``#header`` (Stop all processes, Start the application...)
``div.table_area``          holder of a process table (left part of ``#contents``)
``table.processes``         process tables: ``#process_table`` (Supervisor page), ``#application_table``
``tr.application``          application row of ``#process_table``; ``tr.process`` process rows;
                            ``tr#supervisord`` the supervisord row; ``tr.total`` the TOTAL row (in ``tfoot``)
``th.group``                header cell spanning the Actions / Log buttons (or a column group of statistics)
``td.shex``                 expand/shrink cell (``a.shex`` link, or the Master mark on the supervisord row)
``td.name``, ``td.description``, ``td.load``, ``td.mem``, ``td.cpu``, ``td.supervisors``, ``td.button``
                            cells of the process tables (``td.state`` is the state cell, see 3.12)
``a.stats``                 a MEM/CPU value toggling the detailed statistics (with ``on``, ``active`` when selected,
                            and its trend class)
``div.empty_table``         the ``No programs to manage`` text replacing an empty table
``div#process_stats``       detailed statistics panel (right part of ``#contents``): ``h3``, ``table.stats``,
                            ``div.images`` of ``img.plot``
``div.stats_block``         a block of the host page: ``#memory_stats``, ``#processor_stats``, ``#network_stats``,
                            each with ``h3``, ``table.stats`` and ``img.plot``
``table.stats``             statistics tables; ``th.group`` column groups (MEM / CPU of the detailed panel);
                            ``th.label`` row labels of the host page (buttons); ``td.value`` figures (the last
                            value also carries its trend class); ``td.way`` and ``tr.rx`` / ``tr.tx`` network rows
==========================  ==================================================================================
"""

import os
import time
from datetime import timedelta
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import quote

from supervisor.http import NOT_DONE_YET
from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
from supervisor.web import StatusView
from supervisor.xmlrpc import SystemNamespaceRPCInterface

from ...stats.figures import get_series_rate, get_statistics, get_trend_class, solaris_series, solaris_value
from ...ttypes import SupvisorsFaults, split_namespec
from ..html import classes, link, tag, text
from ..plots import PROCESS_CPU_IMAGE, PROCESS_MEM_IMAGE, matplotlib_available
from ..viewcontext import (ERROR, NAMESPEC, PROCESS_NAME, error_message, info_message, supervisor_message,
                           warn_message)
from .base import MASTER_MARK, ActionResult, BasePage, Message, call_rpc

NO_DATA = '--'
PROCESSES_VIEW = 'proc_instance.html'
HOST_VIEW = 'host_instance.html'

Series = Sequence[float]


# ------------------------------------------------------------------------------------------------------------------
# figures as cells
# ------------------------------------------------------------------------------------------------------------------
def format_value(value: Optional[float], unit: str = '') -> str:
    """ '<v:.2f><unit>', or '--' when the figure is undefined; a rounding noise never shows as '-0.00'. """
    if value is None:
        return NO_DATA
    figure = f'{value:.2f}'
    if figure.startswith('-') and float(figure) == 0:
        figure = figure[1:]
    return f'{figure}{unit}'


class Figures(NamedTuple):
    """ What the tables show of a series (4.4): undefined figures are None. """
    last: Optional[float]
    mean: Optional[float]
    rate: Optional[float]
    slope: Optional[float]
    stddev: Optional[float]

    @property
    def trend(self) -> Optional[str]:
        """ Trend class of the last value; none without a last value. """
        return get_trend_class(self.rate) if self.last is not None else None


def series_figures(series: Series) -> Figures:
    return Figures(*get_statistics(series))


def figure_cells(figures: Figures, last: Optional[float] = None) -> str:
    """ Last (with trend class), mean, slope, deviation cells; last may be given converted (Solaris CPU). """
    shown = figures.last if last is None else last
    return (text('td', format_value(shown), class_=classes('value', figures.trend))
            + ''.join(text('td', format_value(value), class_='value')
                      for value in (figures.mean, figures.slope, figures.stddev)))


def stats_table(headers: Sequence[str], rows: List[str], id_: Optional[str] = None) -> str:
    """ A statistics table with one header row. """
    head = tag('thead', tag('tr', ''.join(text('th', header) for header in headers)))
    return tag('table', head + tag('tbody', rows), class_='stats', id=id_)


def row_class(index: int) -> str:
    """ Alternate row backgrounds. """
    return 'shaded' if index % 2 == 0 else 'brightened'


def box(title: str, buttons: Sequence[str], id_: str) -> str:
    """ A titled group of buttons of the header. """
    return tag('div', text('h3', title) + tag('div', buttons, class_='buttons'), class_='box', id=id_)


# ------------------------------------------------------------------------------------------------------------------
# process series
# ------------------------------------------------------------------------------------------------------------------
class ProcessStatistics:
    """ The process series of one instance for one period, with the CPU conversion of that instance's host. """

    def __init__(self, service, identifier: str, period: Optional[int]):
        stats = service.get_stats(identifier, period) if period else None
        # a (namespec, pid) key is unique: a restarted process is another series (4.3)
        self.series: Dict[Tuple[str, int], Tuple[List[float], List[float]]] = stats.proc if stats else {}
        self.nb_cores: int = service.nb_cores(identifier)
        self.irix_mode: bool = service.irix_mode

    def get(self, namespec: str, pid: Optional[int]) -> Optional[Tuple[List[float], List[float]]]:
        """ (cpu, mem) series of the process with that pid; None when not running or not compiled yet. """
        if not pid:
            return None
        return self.series.get((namespec, pid))

    def cpu_value(self, value: Optional[float]) -> Optional[float]:
        """ Displayed CPU value: divided by the core count in Solaris mode (4.4). """
        return solaris_value(value, self.nb_cores, self.irix_mode)

    def cpu_series(self, series: Series) -> Series:
        return solaris_series(series, self.nb_cores, self.irix_mode)


class StatsValues(NamedTuple):
    """ Cells of a process row and the last values they show (for sums). """
    mem_cell: str
    cpu_cell: str
    mem: Optional[float]
    cpu: Optional[float]


def add_value(total: Optional[float], value: Optional[float]) -> Optional[float]:
    """ Sum ignoring the undefined values; None while nothing has been added. """
    if value is None:
        return total
    return value if total is None else total + value


# ------------------------------------------------------------------------------------------------------------------
# pages showing statistics
# ------------------------------------------------------------------------------------------------------------------
class StatisticsPage(BasePage):
    """ A page with process statistics: periods box, MEM/CPU cells, detailed panel. """

    def __init__(self, dashboard, ctx):
        super().__init__(dashboard, ctx)
        self.statistics = dashboard.runtime.statistics
        self._process_statistics: Dict[str, ProcessStatistics] = {}
        self.selected: Any = None
        self._base_query: Optional[Dict[str, str]] = None

    def process_statistics(self, identifier: str) -> ProcessStatistics:
        """ Process series of the instance for the selected period, indexed once per render. """
        stats = self._process_statistics.get(identifier)
        if stats is None:
            stats = self._process_statistics[identifier] = ProcessStatistics(self.statistics, identifier,
                                                                             self.ctx.period)
        return stats

    def render(self, confirm: bool = False) -> str:
        # the selection is checked first, so that no link of the page carries a dropped one
        self.selected = self.select_process()
        return super().render(confirm)

    def select_process(self) -> Any:
        """ The process whose detailed statistics are shown, None when there is none. """
        return None

    def drop_process_selection(self) -> None:
        """ The selected process cannot be shown: the links of the page do not carry it. """
        self.ctx.parameters[PROCESS_NAME] = None
        self._base_query = None

    # links: a table row holds several links to the page; the current parameters are quoted once per render
    def page_url(self, page: Optional[str] = None, **overrides: Any) -> str:
        """ Same result as ctx.format_url(None, page or this page, **overrides) (interfaces 3.4). """
        base = self._base_query
        if base is None:
            base = self._base_query = {key: quote(str(value)) for key, value in self.ctx.url_parameters().items()
                                       if value}
        values = dict(base)
        for key, value in overrides.items():
            if value:
                values[key] = quote(str(value))
            else:
                values.pop(key, None)
        return f'{page or self.page_name}?' + '&'.join(f'{key}={values[key]}' for key in sorted(values))

    def instance_url(self, identifier: str, page: str, **overrides: Any) -> str:
        """ Same result as ctx.format_url(identifier, page, **overrides). """
        if identifier != self.ctx.local_identifier:
            return self.ctx.format_url(identifier, page, **overrides)
        instance = self.runtime.mapper.instances[identifier]
        return f'http://{quote(instance.host_name)}:{instance.http_port}/{self.page_url(page, **overrides)}'

    def action_url(self, action: str, identifier: Optional[str] = None, page: Optional[str] = None,
                   **overrides: Any) -> str:
        if identifier is None:
            return self.page_url(page, action=action, **overrides)
        return super().action_url(action, identifier, page, **overrides)

    # boxes
    def render_periods_box(self) -> str:
        ctx = self.ctx
        buttons = [self.action_button(f'{period}s', ctx.format_url(None, self.page_name, period=period),
                                      active=period == ctx.period)
                   for period in self.statistics.periods]
        return box('Statistics Periods', buttons, 'period_box')

    # cells
    def stats_cells(self, namespec: str, identifier: str, pid: Optional[int]) -> StatsValues:
        """ MEM and CPU cells of a process row: last values as links toggling the detailed statistics, or '--'. """
        stats = self.process_statistics(identifier)
        series = stats.get(namespec, pid)
        if series is None:
            return StatsValues(text('td', NO_DATA, class_='mem'), text('td', NO_DATA, class_='cpu'), None, None)
        cpu, mem = series
        ctx = self.ctx
        selected = ctx.get(PROCESS_NAME) == namespec and ctx.identifier == identifier
        # clicking the selected value removes the selection
        href = self.page_url(processname=None if selected else namespec, ident=identifier)
        cells = []
        values = []
        for name, data, convert in (('mem', mem, None), ('cpu', cpu, stats.cpu_value)):
            # rows only need the last value and its trend, not the whole figures
            last = data[-1] if data else None
            value = convert(last) if convert else last
            values.append(value)
            if value is None:
                cells.append(text('td', NO_DATA, class_=name))
            else:
                anchor = link(format_value(value, '%'), href,
                              class_=classes('stats on', 'active' if selected else None,
                                             get_trend_class(get_series_rate(data))))
                cells.append(tag('td', anchor, class_=name))
        return StatsValues(cells[0], cells[1], values[0], values[1])

    @staticmethod
    def sum_cells(mem: Optional[float], cpu: Optional[float]) -> str:
        """ MEM and CPU cells of sums (no link, no trend). """
        return text('td', format_value(mem, '%'), class_='mem') + text('td', format_value(cpu, '%'), class_='cpu')

    # detailed panel
    def render_process_panel(self, heading: str, stats: ProcessStatistics,
                             series: Optional[Tuple[List[float], List[float]]]) -> str:
        """ Detailed statistics of the selected process; its images are rendered now when matplotlib exists. """
        cpu, mem = series if series is not None else ([], [])
        mem_figures, cpu_figures = series_figures(mem), series_figures(cpu)
        groups = text('th', 'MEM', colspan='4', class_='group') + text('th', 'CPU', colspan='4', class_='group')
        head = (tag('tr', groups)
                + tag('tr', ''.join(text('th', header) for header in ('%', 'Mean %', 'Slope %', 'SD %') * 2)))
        # only the last CPU value is converted in Solaris mode (4.4)
        body = tag('tr', figure_cells(mem_figures) + figure_cells(cpu_figures, stats.cpu_value(cpu_figures.last)),
                   class_='shaded')
        table = tag('table', tag('thead', head) + tag('tbody', body), class_='stats')
        images = ''
        if matplotlib_available():
            logger = self.dashboard.logger
            self.dashboard.images.render(PROCESS_MEM_IMAGE, [('MEM', list(mem))], '%', logger)
            self.dashboard.images.render(PROCESS_CPU_IMAGE, [('CPU', list(stats.cpu_series(cpu)))], '%', logger)
            images = tag('div', tag('img', '', src=PROCESS_MEM_IMAGE, alt='MEM', class_='plot')
                         + tag('img', '', src=PROCESS_CPU_IMAGE, alt='CPU', class_='plot'), class_='images')
        return tag('div', text('h3', heading) + table + images, id='process_stats')


# ------------------------------------------------------------------------------------------------------------------
# Supervisor pages
# ------------------------------------------------------------------------------------------------------------------
class _StatusViewContext:
    """ What Supervisor's status view needs to build its action callbacks: the supervisord. """

    def __init__(self, supervisord):
        self.context = self
        self.supervisord = supervisord


def supervisor_outcome(action: str, namespec: Optional[str], message: str) -> Message:
    """ A message of Supervisor's status view as a (gravity, text); a start refused because the process is
    disabled is told plainly. """
    if action == 'start' and f'unexpected rpc fault [{SupvisorsFaults.DISABLED.value}]' in message:
        return ERROR, f'Process {namespec}: disabled'
    return supervisor_message(message)


def supervisor_action(supervisord, namespec: Optional[str], action: str) -> ActionResult:
    """ One of Supervisor's own status-view actions, with its exact texts and waiting behaviour. """
    callback = StatusView.make_callback(_StatusViewContext(supervisord), namespec, action)

    def poll() -> Any:
        message = callback()
        if message is NOT_DONE_YET:
            return NOT_DONE_YET
        return supervisor_outcome(action, namespec, message)
    return poll


_process_start: Dict[int, float] = {}


def supervisord_start_time(supervisord, pid: int) -> float:
    """ When supervisord (re)started: supervisord writes its pid file at each start, an in-process restart included;
    without a pid file of its own, the creation time of the process; now when nothing tells. """
    pidfile = getattr(supervisord.options, 'pidfile', None)
    if pidfile:
        try:
            with open(pidfile) as stream:
                if int(stream.read().strip()) == pid:
                    return os.path.getmtime(pidfile)
        except (OSError, ValueError):
            pass
    start = _process_start.get(pid)
    if start is None:
        try:
            import psutil
            start = psutil.Process(pid).create_time()
        except Exception:  # psutil missing or process not readable
            start = time.time()
        _process_start[pid] = start
    return start


def supervisord_description(supervisord, pid: int, now: float) -> str:
    """ Supervisor's format for a RUNNING process: 'pid <pid>, uptime <h:mm:ss>'. """
    uptime = timedelta(seconds=max(0, int(now - supervisord_start_time(supervisord, pid))))
    return f'pid {pid}, uptime {uptime}'


class SupervisorPage(StatisticsPage):
    """ The two views of the local Supervisor: common header, Supervisor's actions and the supervisord actions. """

    shows_local_instance = True
    # the selected button of the Statistics View box
    view = PROCESSES_VIEW

    @property
    def statistics_available(self) -> bool:
        return bool(self.statistics.available_locally)

    # header
    def render_header(self) -> str:
        ctx, core = self.ctx, self.core
        local = ctx.local_identifier
        status = core.instances[local]
        name = (MASTER_MARK if core.master == local else '') + local
        parts = [text('h1', f'{name} - {core.loading(local)}%'),
                 text('div', status.state.name, class_=classes('state', status.state.name))]
        if core.starter.in_progress():
            parts.append(text('span', 'starting', class_='blink'))
        if core.stopper.in_progress():
            parts.append(text('span', 'stopping', class_='blink'))
        header = [tag('div', parts, class_='page_title')]
        if self.statistics_available:
            header.append(self.render_view_box())
            header.append(self.render_periods_box())
        buttons = [self.action_button('Stop all processes', self.action_url('stopall')),
                   self.action_button('Restart Supervisor', self.action_url('restartsup')),
                   self.action_button('Shutdown Supervisor', self.action_url('shutdownsup'))]
        header.append(tag('div', buttons, class_='buttons actions'))
        return ''.join(header)

    def render_view_box(self) -> str:
        ctx = self.ctx
        host_name = self.runtime.mapper.instances[ctx.local_identifier].host_name
        buttons = [self.action_button('Processes', ctx.format_url(None, PROCESSES_VIEW),
                                      active=self.view == PROCESSES_VIEW),
                   self.action_button(host_name, ctx.format_url(None, HOST_VIEW), active=self.view == HOST_VIEW)]
        return box('Statistics View', buttons, 'view_box')

    # actions
    def actions(self) -> Dict[str, Callable[[], ActionResult]]:
        return {'start': lambda: self.process_action('start'),
                'stop': lambda: self.process_action('stop'),
                'restart': lambda: self.process_action('restart'),
                'clearlog': lambda: self.process_action('clearlog'),
                'stopall': self.stop_all,
                'startgroup': lambda: self.group_action('startgroup'),
                'stopgroup': lambda: self.group_action('stopgroup'),
                'restartgroup': lambda: self.group_action('restartgroup'),
                'mainclearlog': self.main_clear_log,
                'restartsup': lambda: self.supervisord_action(True),
                'shutdownsup': lambda: self.supervisord_action(False)}

    def process_action(self, action: str) -> ActionResult:
        """ start / stop / restart / clearlog as Supervisor's status view does them. """
        namespec = self.ctx.get(NAMESPEC)
        if not namespec:
            return error_message(f'No such process named {namespec}')
        return supervisor_action(self.runtime.supervisord, namespec, action)

    def stop_all(self) -> ActionResult:
        return supervisor_action(self.runtime.supervisord, None, 'stopall')

    def group_action(self, action: str) -> ActionResult:
        """ startgroup / stopgroup / restartgroup through Supervisor's namespace, waiting unless auto. """
        namespec = self.ctx.get(NAMESPEC)
        if not namespec:
            return error_message(f'No such process named {namespec}')
        application_name = split_namespec(namespec)[0]
        group = f'{application_name}:'
        supervisor = SupervisorNamespaceRPCInterface(self.runtime.supervisord)
        if action == 'startgroup':
            return call_rpc('startProcess', supervisor.startProcess, (group, self.wait),
                            lambda _: info_message(f'Group {application_name}: started'))
        if action == 'stopgroup':
            return call_rpc('stopProcess', supervisor.stopProcess, (group, self.wait),
                            lambda _: info_message(f'Group {application_name}: stopped'))
        system = SystemNamespaceRPCInterface([('supervisor', supervisor)])
        calls = [{'methodName': 'supervisor.stopProcess', 'params': [group]},
                 {'methodName': 'supervisor.startProcess', 'params': [group, self.wait]}]
        return call_rpc('multicall', system.multicall, (calls,),
                        lambda _: info_message(f'Group {application_name}: restarted'))

    def main_clear_log(self) -> ActionResult:
        supervisor = SupervisorNamespaceRPCInterface(self.runtime.supervisord)
        return call_rpc('clearLog', supervisor.clearLog, (), lambda _: info_message('Log for Supervisor cleared'))

    def supervisord_action(self, restart: bool) -> ActionResult:
        """ Restart or shut down the local supervisord.

        The mood changes when the answer is being produced, right before the redirection is pushed to the browser:
        supervisord only leaves its loop on the next turn, after the answer has been written.
        """
        local = self.runtime.local

        def trigger() -> Message:
            if restart:
                local.restart()
                return warn_message('Supervisor restart requested')
            local.shutdown()
            return warn_message('Supervisor shutdown requested')
        return trigger

    @staticmethod
    def supervisord_pid() -> int:
        return os.getpid()
