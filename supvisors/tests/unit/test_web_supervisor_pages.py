"""The statistics-bearing pages (proc_instance, host_instance, application) against a real model and fake I/O."""

import os
import time
from collections import OrderedDict
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from lxml import etree
from supervisor.http import NOT_DONE_YET
from supervisor.states import SupervisorStates
from supervisor.xmlrpc import Faults, RPCError

from supvisors.adapters.local_supervisor import LocalSupervisor
from supvisors.adapters.statistics import StatisticsService
from supvisors.core.engine import SupvisorsCore
from supvisors.core.instances import InstanceStatus
from supvisors.model.context import Context
from supvisors.rules.model import ApplicationRules, ProcessRules
from supvisors.ttypes import ProcessStates as PS, StartingStrategies, SupvisorsInstanceStates, SupvisorsStates
from supvisors.web import plots
from supvisors.web.dashboard import Dashboard
from supvisors.web.pages import application as application_module
from supvisors.web.pages import statistics_view
from supvisors.web.pages.application import ApplicationPage
from supvisors.web.pages.host_instance import HostInstancePage
from supvisors.web.pages.proc_instance import ProcInstancePage
from supvisors.web.pages.statistics_view import supervisor_outcome, supervisord_description, supervisord_start_time
from supvisors.web.viewcontext import ViewContext

from .fakes import FakeLogger

XHTML = '{http://www.w3.org/1999/xhtml}'
NS = {'x': 'http://www.w3.org/1999/xhtml'}
NOW = time.time()
PERIOD = 5


# ------------------------------------------------------------------------------------------------ fakes
class FakeResolver:
    """ Applications in `managed` are managed; loads per namespec; process hosts per namespec. """

    def __init__(self, managed=(), loads=None, hosts=None):
        self.managed = set(managed)
        self.loads = loads or {}
        self.hosts = hosts or {}

    def application_rules(self, name):
        return ApplicationRules(managed=name in self.managed)

    def process_rules(self, application, process, rules):
        namespec = f'{application}:{process}' if application != process else process
        return ProcessRules(expected_loading=self.loads.get(namespec, 0),
                            identifiers=list(self.hosts.get(namespec, ['*'])))

    def take_autorestart_changes(self):
        return []


class FakeProcess:
    """ The attributes of a Supervisor process object that the pages and LocalSupervisor read. """

    def __init__(self, group, name, state=PS.RUNNING, pid=0, stdout='/tmp/out.log', stderr='/tmp/err.log',
                 disabled=False, spawnerr=''):
        self.group = group
        self.config = SimpleNamespace(name=name, stdout_logfile=stdout, stderr_logfile=stderr, startsecs=1,
                                      stopwaitsecs=10)
        self.state = state
        self.pid = pid if state in (PS.RUNNING, PS.STARTING, PS.STOPPING) else 0
        now = time.time()
        self.laststart = now - 3723 if state != PS.STOPPED else 0
        self.laststop = now - 60 if state in (PS.EXITED, PS.FATAL) else 0
        self.spawnerr = spawnerr
        self.exitstatus = 0
        self.disabled = disabled
        self.extra_args = ''

    def get_state(self):
        return self.state


class FakeGroup:
    def __init__(self, name):
        self.config = SimpleNamespace(name=name)
        self.processes = OrderedDict()

    def add(self, name, **kwargs):
        self.processes[name] = FakeProcess(self, name, **kwargs)
        return self.processes[name]


def make_options(**overrides):
    values = dict(starting_strategy=StartingStrategies.CONFIG, tail_limit=2048, stats_enabled=True,
                  stats_periods=[PERIOD, 60], stats_irix_mode=False, stats_histo=200, stats_collecting_period=5.0)
    values.update(overrides)
    return SimpleNamespace(**values)


class Fleet:
    """ A real model (context + core + statistics) of 3 instances seen from s1, with a fake local supervisord.

    Local groups: 'app' managed with p1 (RUNNING, load 10), p2 (STOPPED, load 5), p3 (EXITED unexpectedly,
    has crashed), single 'single' (RUNNING, no stdout log), 'other' with o1 (FATAL, disabled).
    Remote: app:p4 RUNNING on s2 only (load 7), app:p5 configured on s2 and s3, never started.
    """

    def __init__(self, stats_enabled=True, irix_mode=False, master='s1'):
        self.logger = FakeLogger()
        self.resolver = FakeResolver(managed=['app', 'empty'],
                                     loads={'app:p1': 10, 'app:p2': 5, 'app:p4': 7, 'single': 3},
                                     hosts={'app:p5': ['s3']})
        self.context = Context(self.resolver, self.logger)
        instances = [InstanceStatus(x, f'host-{x}', port, f'node-{x}')
                     for x, port in (('s1', 60001), ('s2', 60002), ('s3', 60003))]
        self.core = SupvisorsCore('s1', instances, ['s1'], 15, 2, False, self.logger, self.context)
        self.core.fsm_state = SupvisorsStates.OPERATION
        self.core.master = master
        for status in instances:
            status.state = SupvisorsInstanceStates.RUNNING
            status.remote_time = status.local_time = time.time()
        # local supervisord
        self.groups = OrderedDict()
        app = self.groups['app'] = FakeGroup('app')
        app.add('p1', pid=101)
        app.add('p2', state=PS.STOPPED)
        app.add('p3', state=PS.EXITED, spawnerr='Bad exit code 1')
        single = self.groups['single'] = FakeGroup('single')
        single.add('single', pid=102, stdout='', stderr='')
        other = self.groups['other'] = FakeGroup('other')
        other.add('o1', state=PS.FATAL, disabled=True, spawnerr='Exited too quickly')
        self.supervisord = SimpleNamespace(process_groups=self.groups,
                                           options=SimpleNamespace(mood=SupervisorStates.RUNNING))
        self.local = LocalSupervisor(self.supervisord)
        infos = [self.local.process_info(process) for group in self.groups.values()
                 for process in group.processes.values()]
        self.context.load_processes('s1', infos, NOW)
        # the crash of p3 was seen as an event (unexpected exit)
        self.context.on_process_event('s1', {'group': 'app', 'name': 'p3', 'state': int(PS.EXITED), 'now': NOW,
                                             'pid': 0, 'expected': False, 'spawnerr': 'Bad exit code 1'}, NOW)
        self.context.load_processes('s2', [
            {'group': 'app', 'name': 'p4', 'state': int(PS.RUNNING), 'start': int(time.time()) - 65, 'stop': 0,
             'now': NOW, 'pid': 201, 'spawnerr': '', 'expected': True},
            {'group': 'app', 'name': 'p5', 'state': int(PS.STOPPED), 'start': 0, 'stop': 0, 'now': NOW,
             'pid': 0, 'spawnerr': '', 'expected': True}], NOW)
        self.context.load_processes('s3', [
            {'group': 'app', 'name': 'p5', 'state': int(PS.STOPPED), 'start': 0, 'stop': 0, 'now': NOW,
             'pid': 0, 'spawnerr': '', 'expected': True}], NOW)
        # statistics
        self.options = make_options(stats_enabled=stats_enabled, stats_irix_mode=irix_mode)
        self.statistics = StatisticsService(self.options, ['s1', 's2', 's3'], 's1', self.logger, has_psutil=True)
        mapper = SimpleNamespace(instances=OrderedDict((x.identifier, x) for x in instances),
                                 local_identifier='s1')
        self.runtime = SimpleNamespace(supervisord=self.supervisord, options=self.options, mapper=mapper,
                                       core=self.core, logger=self.logger, statistics=self.statistics,
                                       local=self.local, version=0)
        self.dashboard = Dashboard(self.runtime)

    def set_stats(self, identifier='s1', period=PERIOD, cpu=None, mem=None, io=None, proc=None, nb_cores=2):
        stats = self.statistics.get_stats(identifier, period)
        stats.cpu = cpu or []
        stats.mem = mem or []
        stats.io = io or {}
        stats.proc = proc or {}
        self.statistics.compilers.compilers[identifier].nb_cores = nb_cores

    def page(self, klass, form=None):
        ctx = ViewContext(self.dashboard, klass.page_name, dict(form or {}), 'http://host-s1:60001',
                          f'/{klass.page_name}')
        return klass(self.dashboard, ctx)


def parse(page, confirm=False):
    html = page.render(confirm)
    return etree.fromstring(html.encode('utf-8'))


def texts(elements):
    return [''.join(element.itertext()) for element in elements]


def query(href):
    return dict(parse_qsl(urlsplit(href).query))


def respond(page, is_post=True):
    """ Run the request flow until the answer; return (Location query, headers, body). """
    callback = page.respond(is_post)
    for _ in range(100):
        answer = callback()
        if answer is not NOT_DONE_YET:
            location = answer['headers'].get('Location')
            return (query(location) if location else None), answer
    raise AssertionError('no answer')


@pytest.fixture
def fleet():
    return Fleet()


@pytest.fixture
def no_images(monkeypatch):
    """ Image rendering is tested apart: here it would only cost time. """
    monkeypatch.setattr(statistics_view, 'matplotlib_available', lambda: False)
    from supvisors.web.pages import host_instance
    monkeypatch.setattr(host_instance, 'matplotlib_available', lambda: False)


# ------------------------------------------------------------------------------------------------ proc_instance
def rows_by_name(root):
    """ tbody rows of the process table by their name cell text. """
    rows = root.xpath('//x:table[@id="process_table"]/x:tbody/x:tr', namespaces=NS)
    return OrderedDict((''.join(row.xpath('x:td[@class="name"]', namespaces=NS)[0].itertext()), row) for row in rows)


def cell(row, class_name):
    return row.xpath(f'x:td[contains(concat(" ", @class, " "), " {class_name} ")]', namespaces=NS)[0]


def buttons(row):
    return row.xpath('x:td[@class="button"]/x:a', namespaces=NS)


def test_proc_instance_rows_group_processes_by_application(fleet, no_images):
    root = parse(fleet.page(ProcInstancePage))
    rows = rows_by_name(root)
    assert list(rows) == ['app', '\u21b3 p1', '\u21b3 p2', '\u21b3 p3', 'other', '\u21b3 o1', 'single',
                          'supervisord']
    headers = texts(root.xpath('//x:table[@id="process_table"]/x:thead/x:tr/x:th', namespaces=NS))
    assert headers == ['', 'Name', 'State', 'Description', 'Load', 'MEM', 'CPU', 'Actions', 'Log']
    # application row: expand/shrink link, name link, sums, group buttons without log buttons
    app = rows['app']
    assert 'application' in app.get('class')
    shex = cell(app, 'shex').xpath('x:a', namespaces=NS)[0]
    assert shex.text == '[\u2013]' and query(shex.get('href'))['shex'] == 'fe'
    name = cell(app, 'name')
    assert name.get('colspan') == '3'
    assert query(name.xpath('x:a', namespaces=NS)[0].get('href'))['appliname'] == 'app'
    assert cell(app, 'load').text == '10%'  # p1 only is running
    group_buttons = buttons(app)
    assert [(x.text, query(x.get('href'))['action'], query(x.get('href'))['namespec']) for x in group_buttons] == \
        [('Start', 'startgroup', 'app:'), ('Stop', 'stopgroup', 'app:'), ('Restart', 'restartgroup', 'app:')]
    # a single process has no application row and no prefix
    assert 'process' in rows['single'].get('class')


def test_proc_instance_process_cells(fleet, no_images):
    root = parse(fleet.page(ProcInstancePage))
    rows = rows_by_name(root)
    p1, p2, p3, o1 = rows['\u21b3 p1'], rows['\u21b3 p2'], rows['\u21b3 p3'], rows['\u21b3 o1']
    # name links to tail.html on this instance with the tail limit, in a new tab
    anchor = cell(p1, 'name').xpath('x:a', namespaces=NS)[0]
    assert anchor.get('target') == '_blank'
    assert anchor.get('href').startswith('http://host-s1:60001/tail.html?')
    assert query(anchor.get('href'))['processname'] == 'app:p1' and query(anchor.get('href'))['limit'] == '2048'
    assert not cell(rows['single'], 'name').xpath('x:a', namespaces=NS)  # no stdout logfile
    # states and their classes
    assert cell(p1, 'state').text == 'RUNNING' and cell(p1, 'state').get('class').split() == ['RUNNING', 'state']
    assert cell(p3, 'state').text == 'EXITED' and set(cell(p3, 'state').get('class').split()) == \
        {'FATAL', 'state', 'crashed'}
    assert set(cell(o1, 'state').get('class').split()) == {'FATAL', 'state', 'crashed', 'disabled'}
    # Supervisor descriptions and loads
    assert cell(p1, 'description').text.startswith('pid 101, uptime 1:02:0')
    assert cell(p2, 'description').text == 'Not started'
    assert cell(p1, 'load').text == '10%' and cell(p2, 'load').text == '5%'
    # buttons: enabled ones link to the page with the action, disabled ones have no href
    start, stop, restart, clear, stdout, stderr = buttons(p1)
    assert (start.get('class'), start.get('href')) == ('button off', None)
    assert stop.get('class') == 'button on' and query(stop.get('href')) == {
        **query(stop.get('href')), 'action': 'stop', 'namespec': 'app:p1'}
    assert query(restart.get('href'))['action'] == 'restart'
    assert query(clear.get('href'))['action'] == 'clearlog'
    assert stdout.get('href') == 'logtail/app%3Ap1' and stdout.get('target') == '_blank'
    assert stderr.get('href') == 'logtail/app%3Ap1/stderr'
    start, stop, restart = buttons(p2)[:3]
    assert query(start.get('href'))['action'] == 'start' and stop.get('href') is None and restart.get('href') is None
    # disabled: no start, no restart
    assert [x.get('href') is not None for x in buttons(o1)[:3]] == [False, False, False]
    # no logfile: no clear, no stdout, no stderr
    assert [x.get('class') for x in buttons(rows['single'])[3:]] == ['button off'] * 3


def test_proc_instance_supervisord_row_and_total(fleet, no_images):
    pid = os.getpid()
    fleet.set_stats(proc={('app:p1', 101): ([10.0, 30.0], [1.0, 1.5]), ('single', 102): ([4.0], [2.0]),
                          ('supervisord', pid): ([2.0, 2.0], [0.5, 0.25])})
    root = parse(fleet.page(ProcInstancePage))
    row = rows_by_name(root)['supervisord']
    assert row.get('id') == 'supervisord'
    assert cell(row, 'shex').text == '\u272a'
    anchor = cell(row, 'name').xpath('x:a', namespaces=NS)[0]
    assert anchor.get('href').startswith('http://host-s1:60001/maintail.html?')
    assert query(anchor.get('href'))['processname'] == 'supervisord'
    assert query(anchor.get('href'))['limit'] == '2048'
    assert cell(row, 'state').text == 'RUNNING'
    assert cell(row, 'description').text.startswith(f'pid {pid}, uptime ')
    assert cell(row, 'load').text == '0%'
    start, stop, restart, clear, stdout, stderr = buttons(row)
    assert start.get('href') is None and stderr.get('href') is None
    assert [query(x.get('href'))['action'] for x in (stop, restart, clear)] == ['shutdownsup', 'restartsup',
                                                                                 'mainclearlog']
    assert stdout.get('href') == 'mainlogtail'
    # TOTAL: loads of the running processes, last MEM values, last CPU values divided by the 2 cores
    total = root.xpath('//x:table[@id="process_table"]/x:tfoot/x:tr', namespaces=NS)[0]
    assert 'total' in total.get('class')
    assert cell(total, 'name').text == 'TOTAL'
    assert cell(total, 'load').text == '13%'
    assert cell(total, 'mem').text == '3.75%'  # 1.5 + 2.0 + 0.25
    assert cell(total, 'cpu').text == '18.00%'  # (30 + 4 + 2) / 2


def test_supervisord_uptime_since_its_last_start(tmp_path):
    """ The pid file is written at each start of supervisord, in-process restarts included. """
    pid = os.getpid()
    pidfile = tmp_path / 'supervisord.pid'
    pidfile.write_text(f'{pid}\n')
    os.utime(pidfile, (NOW - 3725, NOW - 3725))
    supervisord = SimpleNamespace(options=SimpleNamespace(pidfile=str(pidfile)))
    assert supervisord_description(supervisord, pid, NOW) == f'pid {pid}, uptime 1:02:05'
    assert supervisord_description(supervisord, pid, NOW + 86400) == f'pid {pid}, uptime 1 day, 1:02:05'
    # the pid file of another process: the creation time of this one
    pidfile.write_text('1\n')
    psutil = pytest.importorskip('psutil')
    assert supervisord_start_time(supervisord, pid) == psutil.Process(pid).create_time()


def test_proc_instance_master_mark_only_on_master(no_images):
    fleet = Fleet(master='s2')
    root = parse(fleet.page(ProcInstancePage))
    assert cell(rows_by_name(root)['supervisord'], 'shex').text is None
    assert root.xpath('//x:div[@class="page_title"]/x:h1', namespaces=NS)[0].text == 's1 - 13%'


def test_proc_instance_statistics_cells(fleet, no_images):
    fleet.set_stats(proc={('app:p1', 101): ([10.0, 30.0], [1.0, 1.5]), ('single', 102): ([4.0], [2.0]),
                          # another pid: a previous run of the process, not shown
                          ('app:p3', 99): ([1.0], [1.0])})
    root = parse(fleet.page(ProcInstancePage))
    rows = rows_by_name(root)
    mem = cell(rows['\u21b3 p1'], 'mem').xpath('x:a', namespaces=NS)[0]
    cpu = cell(rows['\u21b3 p1'], 'cpu').xpath('x:a', namespaces=NS)[0]
    assert mem.text == '1.50%' and set(mem.get('class').split()) == {'stats', 'on', 'increase'}
    assert cpu.text == '15.00%' and 'increase' in cpu.get('class').split()  # Solaris: 30 / 2 cores
    assert query(mem.get('href'))['processname'] == 'app:p1' and query(mem.get('href'))['ident'] == 's1'
    # a single value: stable trend
    assert 'stable' in cell(rows['single'], 'mem').xpath('x:a', namespaces=NS)[0].get('class').split()
    # no data
    assert cell(rows['\u21b3 p2'], 'mem').text == '--' and cell(rows['\u21b3 p3'], 'cpu').text == '--'
    # application row: sums of the running processes, no link
    assert cell(rows['app'], 'mem').text == '1.50%' and not cell(rows['app'], 'mem').xpath('x:a', namespaces=NS)
    assert cell(rows['app'], 'cpu').text == '15.00%'
    assert cell(rows['other'], 'mem').text == '--'


def test_proc_instance_irix_mode_keeps_cpu_values(no_images):
    fleet = Fleet(irix_mode=True)
    fleet.set_stats(proc={('app:p1', 101): ([10.0, 30.0], [1.0, 1.5])})
    rows = rows_by_name(parse(fleet.page(ProcInstancePage)))
    assert cell(rows['\u21b3 p1'], 'cpu').xpath('x:a', namespaces=NS)[0].text == '30.00%'


def test_proc_instance_without_statistics(no_images):
    fleet = Fleet(stats_enabled=False)
    root = parse(fleet.page(ProcInstancePage))
    headers = texts(root.xpath('//x:table[@id="process_table"]/x:thead/x:tr/x:th', namespaces=NS))
    assert 'MEM' not in headers and 'CPU' not in headers
    assert not root.xpath('//x:td[@class="mem" or @class="cpu"]', namespaces=NS)
    assert not root.xpath('//x:div[@id="view_box" or @id="period_box"]', namespaces=NS)
    assert not root.xpath('//x:tfoot', namespaces=NS)
    # a selection cannot be shown
    page = fleet.page(ProcInstancePage, {'processname': 'app:p1'})
    root = parse(page)
    assert not root.xpath('//x:div[@id="process_stats"]', namespaces=NS)


def test_page_links_are_the_framework_links(fleet):
    page = fleet.page(ProcInstancePage, {'shex': 'fe', 'period': '60', 'processname': 'app:p1', 'auto': '1'})
    for overrides in ({}, {'action': 'stop', 'namespec': 'a b:c&d'}, {'processname': None}, {'period': 0},
                      {'ident': 's2', 'limit': 2048}):
        assert page.page_url(**overrides) == page.ctx.format_url(None, page.page_name, **overrides)
        assert page.page_url('tail.html', **overrides) == page.ctx.format_url(None, 'tail.html', **overrides)
        for identifier in ('s1', 's2'):
            assert page.instance_url(identifier, 'tail.html', **overrides) == \
                page.ctx.format_url(identifier, 'tail.html', **overrides)
    page.drop_process_selection()
    assert page.page_url() == page.ctx.format_url(None, page.page_name)


def test_proc_instance_header(fleet, no_images):
    fleet.core.starter.planned[1] = {'app': object()}
    root = parse(fleet.page(ProcInstancePage))
    title = root.xpath('//x:div[@class="page_title"]', namespaces=NS)[0]
    assert title.xpath('x:h1', namespaces=NS)[0].text == '\u272a s1 - 13%'
    assert title.xpath('x:div', namespaces=NS)[0].text == 'RUNNING'
    assert texts(title.xpath('x:span[@class="blink"]', namespaces=NS)) == ['starting']
    view = root.xpath('//x:div[@id="view_box"]//x:a', namespaces=NS)
    assert [(x.text, x.get('class')) for x in view] == [('Processes', 'button off active'),
                                                        ('host-s1', 'button on')]
    assert view[1].get('href').startswith('host_instance.html?')
    periods = root.xpath('//x:div[@id="period_box"]//x:a', namespaces=NS)
    assert [(x.text, x.get('class')) for x in periods] == [('5s', 'button off active'), ('60s', 'button on')]
    assert query(periods[1].get('href'))['period'] == '60'
    actions = root.xpath('//x:div[@class="buttons actions"]/x:a', namespaces=NS)
    assert [(x.text, query(x.get('href'))['action']) for x in actions] == [
        ('Stop all processes', 'stopall'), ('Restart Supervisor', 'restartsup'),
        ('Shutdown Supervisor', 'shutdownsup')]
    # the local instance is the active entry of the menu
    assert 'active' in root.xpath('//x:ul[@class="instances"]/x:li', namespaces=NS)[0].get('class').split()


def test_proc_instance_shrunk_application_hides_its_processes(fleet, no_images):
    # applications in context order: app, single, other -> bit 0 = app
    root = parse(fleet.page(ProcInstancePage, {'shex': 'fe'}))
    rows = rows_by_name(root)
    assert '\u21b3 p1' not in rows and '\u21b3 o1' in rows
    shex = cell(rows['app'], 'shex').xpath('x:a', namespaces=NS)[0]
    assert shex.text == '[+]' and query(shex.get('href'))['shex'] == 'ff'
    # hidden processes still count in the TOTAL
    assert cell(root.xpath('//x:tfoot/x:tr', namespaces=NS)[0], 'load').text == '13%'


def test_proc_instance_detailed_statistics(fleet, monkeypatch):
    rendered = []
    monkeypatch.setattr(statistics_view, 'matplotlib_available', lambda: True)
    monkeypatch.setattr(fleet.dashboard.images, 'render', lambda name, series, unit, logger:
                        rendered.append((name, series, unit)))
    fleet.set_stats(proc={('app:p1', 101): ([10.0, 30.0, 20.0], [1.0, 2.0, 3.0])})
    root = parse(fleet.page(ProcInstancePage, {'processname': 'app:p1'}))
    panel = root.xpath('//x:div[@id="process_stats"]', namespaces=NS)[0]
    assert panel.xpath('x:h3', namespaces=NS)[0].text == 'Detailed Statistics -- app:p1'
    head = texts(panel.xpath('.//x:thead//x:th', namespaces=NS))
    assert head == ['MEM', 'CPU'] + ['%', 'Mean %', 'Slope %', 'SD %'] * 2
    values = panel.xpath('.//x:tbody/x:tr/x:td', namespaces=NS)
    # MEM: last 3 (rate 50 -> increase), mean 2, slope 1, SD sqrt(2/3); CPU: last 20 / 2 cores (decrease),
    # mean / slope / SD not converted (4.4)
    assert texts(values) == ['3.00', '2.00', '1.00', '0.82', '10.00', '20.00', '5.00', '8.16']
    assert 'increase' in values[0].get('class').split() and 'decrease' in values[4].get('class').split()
    assert [x.get('src') for x in panel.xpath('.//x:img', namespaces=NS)] == ['process_mem.png', 'process_cpu.png']
    assert rendered == [('process_mem.png', [('MEM', [1.0, 2.0, 3.0])], '%'),
                        ('process_cpu.png', [('CPU', [5.0, 15.0, 10.0])], '%')]
    # the selected values link back without the selection
    mem = cell(rows_by_name(root)['\u21b3 p1'], 'mem').xpath('x:a', namespaces=NS)[0]
    assert 'active' in mem.get('class').split() and 'processname' not in query(mem.get('href'))


def test_proc_instance_drops_a_selection_not_running_locally(fleet, no_images):
    # app:p4 runs on s2 only: valid for ident=s2 but not shown on the local page
    page = fleet.page(ProcInstancePage, {'processname': 'app:p4', 'ident': 's2'})
    root = parse(page)
    assert page.ctx.errors == []
    assert not root.xpath('//x:div[@id="process_stats"]', namespaces=NS)
    refresh = root.xpath('//x:a[@id="refresh"]', namespaces=NS)[0]
    assert 'processname' not in query(refresh.get('href'))


def test_proc_instance_supervisord_selection(fleet, no_images):
    fleet.set_stats(proc={('supervisord', os.getpid()): ([2.0], [0.5])})
    root = parse(fleet.page(ProcInstancePage, {'processname': 'supervisord'}))
    panel = root.xpath('//x:div[@id="process_stats"]', namespaces=NS)[0]
    assert panel.xpath('x:h3', namespaces=NS)[0].text == 'Detailed Statistics -- supervisord'
    assert texts(panel.xpath('.//x:tbody//x:td', namespaces=NS)) == ['0.50', '0.50', '--', '--',
                                                                     '1.00', '2.00', '--', '--']


def test_statistics_fed_with_samples_reach_the_page(fleet, no_images):
    pid = os.getpid()
    service = fleet.statistics
    for index in range(3):
        service.on_sample('s1', {'now': NOW + 5 * index, 'cpu': [[100.0 * index, 100.0 * index]] * 3,
                                 'mem': 10.0 + index, 'io': {'lo': [1280.0 * index, 640.0 * index]},
                                 'proc': [['app:p1', 101, 10.0 * index, 2.5], ['supervisord', pid, 0.0, 1.0]]})
    rows = rows_by_name(parse(fleet.page(ProcInstancePage)))
    # CPU of p1: 100 * 10 / 200 = 5 % (IRIX), 2.5 % shown on 2 cores
    assert cell(rows['\u21b3 p1'], 'cpu').xpath('x:a', namespaces=NS)[0].text == '2.50%'
    assert cell(rows['\u21b3 p1'], 'mem').xpath('x:a', namespaces=NS)[0].text == '2.50%'


# ------------------------------------------------------------------------------------------------ host_instance
def test_host_instance_blocks(fleet, monkeypatch):
    rendered = {}
    from supvisors.web.pages import host_instance
    monkeypatch.setattr(host_instance, 'matplotlib_available', lambda: True)
    monkeypatch.setattr(fleet.dashboard.images, 'render', lambda name, series, unit, logger:
                        rendered.setdefault(name, (series, unit)))
    fleet.set_stats(cpu=[[10.0, 20.0], [5.0, 5.0], [15.0, 10.0]], mem=[40.0, 42.0, 41.0],
                    io={'eth0': ([1.0, 2.0], [4.0, 2.0]), 'lo': ([0.5], [0.25])})
    root = parse(fleet.page(HostInstancePage, {'cpuid': '2', 'intfname': 'lo'}))
    # header: the host button is the selected one
    view = root.xpath('//x:div[@id="view_box"]//x:a', namespaces=NS)
    assert [(x.text, x.get('class')) for x in view] == [('Processes', 'button on'),
                                                        ('host-s1', 'button off active')]
    assert view[0].get('href').startswith('proc_instance.html?')
    # memory
    memory = root.xpath('//x:div[@id="memory_stats"]', namespaces=NS)[0]
    assert memory.xpath('x:h3', namespaces=NS)[0].text == 'Memory Statistics'
    assert texts(memory.xpath('.//x:th', namespaces=NS)) == ['', 'Occ %', 'Mean %', 'Slope %', 'SD %', 'mem']
    values = memory.xpath('.//x:tbody//x:td', namespaces=NS)
    assert texts(values) == ['41.00', '41.00', '0.50', '0.82']
    assert 'decrease' in values[0].get('class').split()
    assert memory.xpath('x:img', namespaces=NS)[0].get('src') == 'host_mem.png'
    # processor: cpu#all then one row per core; cpuid 2 = cpu#1 selected
    processor = root.xpath('//x:div[@id="processor_stats"]', namespaces=NS)[0]
    assert texts(processor.xpath('.//x:thead//x:th', namespaces=NS)) == ['#', 'Last %', 'Mean %', 'Slope %', 'SD %']
    labels = processor.xpath('.//x:tbody//x:th/x:a', namespaces=NS)
    assert [(x.text, x.get('class')) for x in labels] == [('cpu#all', 'button on'), ('cpu#0', 'button on'),
                                                          ('cpu#1', 'button off active')]
    assert 'cpuid' not in query(labels[0].get('href'))  # 0 is the default, dropped from links
    assert query(labels[1].get('href'))['cpuid'] == '1'
    rows = processor.xpath('.//x:tbody/x:tr', namespaces=NS)
    assert texts(rows[0].xpath('x:td', namespaces=NS)) == ['20.00', '15.00', '10.00', '5.00']
    assert 'increase' in rows[0].xpath('x:td', namespaces=NS)[0].get('class').split()
    assert 'stable' in rows[1].xpath('x:td', namespaces=NS)[0].get('class').split()
    # network: two rows per interface, the interface button spanning both
    network = root.xpath('//x:div[@id="network_stats"]', namespaces=NS)[0]
    assert texts(network.xpath('.//x:thead//x:th', namespaces=NS)) == [
        'Interface', 'Rx/Tx', 'Last kbit/s', 'Mean kbit/s', 'Slope %', 'SD kbit/s']
    rows = network.xpath('.//x:tbody/x:tr', namespaces=NS)
    assert len(rows) == 4
    eth0 = rows[0].xpath('x:th', namespaces=NS)[0]
    assert eth0.get('rowspan') == '2' and eth0.xpath('x:a', namespaces=NS)[0].get('class') == 'button on'
    assert query(eth0.xpath('x:a', namespaces=NS)[0].get('href'))['intfname'] == 'eth0'
    assert texts(rows[0].xpath('x:td', namespaces=NS)) == ['Rx', '2.00', '1.50', '1.00', '0.50']
    assert texts(rows[1].xpath('x:td', namespaces=NS)) == ['Tx', '2.00', '3.00', '-2.00', '1.00']
    assert rows[2].xpath('x:th/x:a', namespaces=NS)[0].get('class') == 'button off active'
    assert texts(rows[3].xpath('x:td', namespaces=NS)) == ['Tx', '0.25', '0.25', '--', '--']
    # images of the selections
    assert rendered == {'host_mem.png': ([('MEM', [40.0, 42.0, 41.0])], '%'),
                        'host_cpu.png': ([('CPU #1', [15.0, 10.0])], '%'),
                        'host_io.png': ([('lo recv', [0.5]), ('lo sent', [0.25])], 'kbits/s')}


def test_host_instance_without_data(fleet, no_images):
    root = parse(fleet.page(HostInstancePage))
    assert texts(root.xpath('//x:div[@id="memory_stats"]//x:tbody//x:td', namespaces=NS)) == ['--'] * 4
    assert not root.xpath('//x:div[@id="processor_stats"]//x:tbody/x:tr', namespaces=NS)
    assert not root.xpath('//x:img', namespaces=NS)


@pytest.mark.skipif(not plots.matplotlib_available(), reason='matplotlib not installed')
def test_host_instance_renders_png_images(fleet):
    fleet.set_stats(cpu=[[10.0, 20.0]], mem=[40.0, 42.0], io={'lo': ([1.0, 2.0], [2.0, 1.0])})
    parse(fleet.page(HostInstancePage))
    for name in ('host_mem.png', 'host_cpu.png', 'host_io.png'):
        assert fleet.dashboard.images.get(name).startswith(b'\x89PNG')


# ------------------------------------------------------------------------------------------------ application
def app_rows(root):
    rows = root.xpath('//x:table[@id="application_table"]/x:tbody/x:tr', namespaces=NS)
    return OrderedDict((''.join(cell(row, 'name').itertext()), row) for row in rows)


def test_application_unknown_or_missing_redirects_to_the_main_page(fleet):
    for form, name in (({'appliname': 'nope'}, 'nope'), ({}, 'None')):
        page = fleet.page(ApplicationPage, form)
        location, answer = respond(page, is_post=False)
        assert answer['headers']['Location'].startswith('http://host-s1:60001/index.html?')
        assert location['gravity'] == 'erro'
        assert location['message'].startswith(f'Unknown application: {name} at ')
        assert 'appliname' not in location


def test_application_header(fleet, no_images):
    root = parse(fleet.page(ApplicationPage, {'appliname': 'app', 'strategy': 'LOCAL'}))
    title = root.xpath('//x:div[@class="page_title"]', namespaces=NS)[0]
    assert title.xpath('x:h1', namespaces=NS)[0].text == 'app'
    application = fleet.context.applications['app']
    assert title.xpath('x:div', namespaces=NS)[0].text == application.state.name
    # p3 exited unexpectedly (not required): minor failure
    assert title.xpath('x:span', namespaces=NS)[0].get('class') == 'led status_yellow'
    strategies = root.xpath('//x:div[@id="strategy_box"]//x:a', namespaces=NS)
    assert [x.text for x in strategies] == ['CONFIG', 'MOST_LOADED', 'LESS_LOADED', 'LOCAL', 'MOST_LOADED_NODE',
                                            'LESS_LOADED_NODE']
    assert [x.get('class') for x in strategies].count('button off active') == 1
    assert strategies[3].get('class') == 'button off active'
    assert query(strategies[1].get('href'))['strategy'] == 'MOST_LOADED'
    assert root.xpath('//x:div[@id="period_box"]', namespaces=NS)
    actions = root.xpath('//x:div[@class="buttons actions"]/x:a', namespaces=NS)
    assert [(x.text, query(x.get('href'))['action']) for x in actions] == [
        ('Start the application', 'startapp'), ('Stop the application', 'stopapp'),
        ('Restart the application', 'restartapp')]
    # the application is the active entry of the menu
    entries = root.xpath('//x:ul[@class="applications"]/x:li', namespaces=NS)
    assert [x.get('class').split() for x in entries if 'active' in x.get('class')] == [
        [application.state.name, 'active', 'failure']]


@pytest.mark.parametrize('major, minor, state, led', [
    (True, True, 'RUNNING', 'status_red'), (False, True, 'RUNNING', 'status_yellow'),
    (False, False, 'STARTING', 'status_green'), (False, False, 'RUNNING', 'status_green'),
    (False, False, 'STOPPING', 'status_empty'), (False, False, 'STOPPED', 'status_empty')])
def test_application_led(fleet, no_images, major, minor, state, led):
    from supvisors.ttypes import ApplicationStates
    application = fleet.context.applications['app']
    application.major_failure, application.minor_failure = major, minor
    application.state = ApplicationStates[state]
    root = parse(fleet.page(ApplicationPage, {'appliname': 'app'}))
    assert root.xpath('//x:div[@class="page_title"]/x:span', namespaces=NS)[0].get('class') == f'led {led}'


def test_application_rows(fleet, no_images):
    fleet.set_stats('s2', proc={('app:p4', 201): ([8.0, 4.0], [3.0, 3.0])}, nb_cores=4)
    root = parse(fleet.page(ApplicationPage, {'appliname': 'app'}))
    headers = texts(root.xpath('//x:table[@id="application_table"]/x:thead//x:th', namespaces=NS))
    assert headers == ['Name', 'State', 'Supervisor', 'Description', 'Load', 'MEM', 'CPU', 'Actions', 'Log']
    rows = app_rows(root)
    assert list(rows) == ['\u21b3 p1', '\u21b3 p2', '\u21b3 p3', '\u21b3 p4', '\u21b3 p5']
    p1, p2, p3, p4, p5 = rows.values()
    # running locally: description from s1, Supervisor button active, statistics '--' (none compiled)
    assert cell(p1, 'description').text.startswith('pid 101, uptime 1:02:0')
    assert cell(p1, 'description').text.endswith(' on s1')
    supervisors = cell(p1, 'supervisors').xpath('x:a', namespaces=NS)
    assert [(x.text, x.get('class')) for x in supervisors] == [('s1', 'button on active')]
    assert supervisors[0].get('href').startswith('http://host-s1:60001/proc_instance.html?')
    assert cell(p1, 'mem').text == '--'
    # running on s2 only: remote description, statistics of s2 (Solaris on 4 cores)
    assert cell(p4, 'description').text.startswith('pid 201, uptime 0:01:0')
    assert cell(p4, 'description').text.endswith(' on s2')
    supervisors = cell(p4, 'supervisors').xpath('x:a', namespaces=NS)
    assert [(x.text, x.get('class')) for x in supervisors] == [('s2', 'button on active')]
    assert supervisors[0].get('href').startswith('http://host-s2:60002/proc_instance.html?')
    mem = cell(p4, 'mem').xpath('x:a', namespaces=NS)[0]
    cpu = cell(p4, 'cpu').xpath('x:a', namespaces=NS)[0]
    assert (mem.text, cpu.text) == ('3.00%', '1.00%')
    assert 'stable' in mem.get('class').split() and 'decrease' in cpu.get('class').split()
    assert query(mem.get('href'))['processname'] == 'app:p4' and query(mem.get('href'))['ident'] == 's2'
    assert cell(p4, 'load').text == '7%'
    name = cell(p4, 'name').xpath('x:a', namespaces=NS)[0]
    assert name.get('href').startswith('http://host-s2:60002/tail.html?') and name.get('target') == '_blank'
    assert query(name.get('href'))['limit'] == '2048' and query(name.get('href'))['processname'] == 'app:p4'
    clear, stdout, stderr = buttons(p4)[3:]
    assert clear.get('href').startswith('http://host-s2:60002/application.html?')
    assert query(clear.get('href'))['action'] == 'clearlog' and query(clear.get('href'))['namespec'] == 'app:p4'
    assert stdout.get('href') == 'http://host-s2:60002/logtail/app%3Ap4'
    assert stderr.get('href') == 'http://host-s2:60002/logtail/app%3Ap4/stderr'
    # never started: no suffix, no Supervisor button
    assert cell(p5, 'description').text == 'Not started'
    assert not cell(p5, 'supervisors').xpath('x:a', namespaces=NS)
    # crashed: class FATAL, crashed
    assert cell(p3, 'state').text == 'EXITED'
    assert set(cell(p3, 'state').get('class').split()) == {'FATAL', 'state', 'crashed'}
    assert cell(p2, 'state').get('class').split() == ['STOPPED', 'state']
    # actions through Supvisors on the local page
    start, stop, restart = buttons(p2)[:3]
    assert start.get('href').startswith('application.html?') and query(start.get('href'))['action'] == 'start'
    assert query(start.get('href'))['namespec'] == 'app:p2'
    assert stop.get('href') is None and restart.get('href') is None
    start, stop, restart = buttons(p1)[:3]
    assert start.get('href') is None and query(stop.get('href'))['action'] == 'stop'
    assert query(restart.get('href'))['action'] == 'restart'


def test_application_start_needs_a_possible_host(fleet, no_images):
    # app:p5 can only go on s3 where it is disabled
    fleet.context.get_process('app:p5').update_disability('s3', True)
    rows = app_rows(parse(fleet.page(ApplicationPage, {'appliname': 'app'})))
    assert buttons(rows['\u21b3 p5'])[0].get('href') is None
    fleet.context.get_process('app:p5').update_disability('s3', False)
    rows = app_rows(parse(fleet.page(ApplicationPage, {'appliname': 'app'})))
    assert buttons(rows['\u21b3 p5'])[0].get('href') is not None


def test_application_disabled_everywhere_and_forced_states(fleet, no_images):
    process = fleet.context.get_process('app:p5')
    process.update_disability('s2', True)
    process.update_disability('s3', True)
    process.force_state(PS.FATAL, 'no resource available', NOW + 10, None, NOW + 10)
    rows = app_rows(parse(fleet.page(ApplicationPage, {'appliname': 'app'})))
    p5 = rows['\u21b3 p5']
    assert cell(p5, 'description').text == 'no resource available'
    assert set(cell(p5, 'state').get('class').split()) == {'FATAL', 'state', 'disabled'}
    assert not cell(p5, 'name').xpath('x:a', namespaces=NS)
    assert [x.get('href') for x in buttons(p5)[3:]] == [None, None, None]


def test_application_stopped_description_from_the_latest_stop(fleet, no_images):
    fleet.context.on_process_event('s2', {'group': 'app', 'name': 'p4', 'state': int(PS.STOPPING),
                                          'now': NOW + 1, 'pid': 201}, NOW + 1)
    fleet.context.on_process_event('s2', {'group': 'app', 'name': 'p4', 'state': int(PS.STOPPED),
                                          'now': NOW + 2, 'pid': 0}, NOW + 2)
    rows = app_rows(parse(fleet.page(ApplicationPage, {'appliname': 'app'})))
    description = cell(rows['\u21b3 p4'], 'description').text
    assert description.endswith(' on s2') and description != 'Not started on s2'
    assert cell(rows['\u21b3 p4'], 'mem').text == '--'


def test_application_without_processes(fleet, no_images):
    from supvisors.model.application import ApplicationStatus
    fleet.context.applications['empty'] = ApplicationStatus('empty', ApplicationRules(managed=True))
    root = parse(fleet.page(ApplicationPage, {'appliname': 'empty'}))
    assert not root.xpath('//x:table[@id="application_table"]', namespaces=NS)
    assert root.xpath('//x:div[@class="empty_table"]', namespaces=NS)[0].text == 'No programs to manage'


def test_application_detailed_statistics_of_a_remote_process(fleet, no_images):
    fleet.set_stats('s2', proc={('app:p4', 201): ([8.0, 4.0], [3.0, 3.0])}, nb_cores=4)
    root = parse(fleet.page(ApplicationPage, {'appliname': 'app', 'processname': 'app:p4', 'ident': 's2'}))
    panel = root.xpath('//x:div[@id="process_stats"]', namespaces=NS)[0]
    assert panel.xpath('x:h3', namespaces=NS)[0].text == 'Detailed Statistics -- app:p4 on s2'
    assert texts(panel.xpath('.//x:tbody//x:td', namespaces=NS)) == ['3.00', '3.00', '0.00', '0.00',
                                                                     '1.00', '6.00', '-4.00', '2.00']


def test_application_drops_a_selection_of_another_application(fleet, no_images):
    page = fleet.page(ApplicationPage, {'appliname': 'app', 'processname': 'single'})
    root = parse(page)
    assert not root.xpath('//x:div[@id="process_stats"]', namespaces=NS)
    assert 'processname' not in query(root.xpath('//x:a[@id="refresh"]', namespaces=NS)[0].get('href'))


# ------------------------------------------------------------------------------------------------ actions
class FakeRPC:
    """ Records the calls; results by method name (a value, an RPCError to raise, or a callable). """

    results = {}
    calls = []

    def __init__(self, runtime):
        self.runtime = runtime

    def __getattr__(self, name):
        def method(*args):
            FakeRPC.calls.append((name, args))
            result = FakeRPC.results.get(name, True)
            if isinstance(result, RPCError):
                raise result
            return result
        return method


@pytest.fixture
def fake_rpc(monkeypatch):
    FakeRPC.results, FakeRPC.calls = {}, []
    monkeypatch.setattr(application_module, 'RPCInterface', FakeRPC)
    return FakeRPC


@pytest.mark.parametrize('action, namespec, rpc, args, message', [
    ('startapp', None, 'start_application', (3, 'app', True), 'Application app started'),
    ('stopapp', None, 'stop_application', ('app', True), 'Application app stopped'),
    ('restartapp', None, 'restart_application', (3, 'app', True), 'Application app restarted'),
    ('start', 'app:p2', 'start_process', (3, 'app:p2', '', True), 'Process app:p2 started'),
    ('stop', 'app:p1', 'stop_process', ('app:p1', True), 'Process app:p1 stopped'),
    ('restart', 'app:p1', 'restart_process', (3, 'app:p1', '', True), 'Process app:p1 restarted')])
def test_application_actions(fleet, fake_rpc, action, namespec, rpc, args, message):
    form = {'appliname': 'app', 'action': action, 'strategy': 'LOCAL'}
    if namespec:
        form['namespec'] = namespec
    location, _ = respond(fleet.page(ApplicationPage, form))
    assert fake_rpc.calls == [(rpc, args)]
    assert location['gravity'] == 'info' and location['message'].startswith(f'{message} at ')
    assert location['appliname'] == 'app' and 'action' not in location


def test_application_actions_wait_unless_auto_and_poll_deferred_results(fleet, fake_rpc):
    answers = iter([NOT_DONE_YET, NOT_DONE_YET, True])
    fake_rpc.results['stop_application'] = lambda: next(answers)
    location, _ = respond(fleet.page(ApplicationPage, {'appliname': 'app', 'action': 'stopapp'}))
    assert location['message'].startswith('Application app stopped at ')
    fake_rpc.results['stop_application'] = True
    respond(fleet.page(ApplicationPage, {'appliname': 'app', 'action': 'stopapp', 'auto': '1'}))
    assert fake_rpc.calls[-1] == ('stop_application', ('app', False))


def test_application_action_faults(fleet, fake_rpc):
    fake_rpc.results['start_process'] = RPCError(Faults.ALREADY_STARTED, 'app:p1')
    location, _ = respond(fleet.page(ApplicationPage, {'appliname': 'app', 'action': 'start',
                                                       'namespec': 'app:p1'}))
    assert location['gravity'] == 'erro'
    assert location['message'].startswith('start_process: ALREADY_STARTED: app:p1 at ')

    def failing():
        raise RPCError(Faults.ABNORMAL_TERMINATION, 'app')
    fake_rpc.results['start_application'] = failing
    location, _ = respond(fleet.page(ApplicationPage, {'appliname': 'app', 'action': 'startapp'}))
    assert location['message'].startswith('start_application: ABNORMAL_TERMINATION: app at ')
    # nothing to start
    fake_rpc.results['start_application'] = False
    location, _ = respond(fleet.page(ApplicationPage, {'appliname': 'app', 'action': 'startapp'}))
    assert location['gravity'] == 'warn' and location['message'].startswith('Application app NOT started at ')


def test_application_action_on_unknown_process(fleet, fake_rpc):
    for form in ({'namespec': 'app:'}, {}):
        location, _ = respond(fleet.page(ApplicationPage, {'appliname': 'app', 'action': 'stop', **form}))
        assert location['gravity'] == 'erro'
        assert location['message'].startswith(f'No such process named {form.get("namespec")} at ')
    assert fake_rpc.calls == []


def test_application_clearlog_uses_supervisor(fleet, monkeypatch):
    calls = []

    class FakeSupervisor:
        def __init__(self, supervisord):
            pass

        def clearProcessLogs(self, namespec):
            calls.append(namespec)
            if namespec == 'app:p4':
                raise RPCError(Faults.BAD_NAME, namespec)
            return True
    monkeypatch.setattr(application_module, 'SupervisorNamespaceRPCInterface', FakeSupervisor)
    location, _ = respond(fleet.page(ApplicationPage, {'appliname': 'app', 'action': 'clearlog',
                                                       'namespec': 'app:p1'}))
    assert location['message'].startswith('Log for app:p1 cleared at ')
    location, _ = respond(fleet.page(ApplicationPage, {'appliname': 'app', 'action': 'clearlog',
                                                       'namespec': 'app:p4'}))
    assert location['gravity'] == 'erro' and location['message'].startswith('clearProcessLogs: BAD_NAME: app:p4')


def test_get_with_action_asks_for_confirmation(fleet, fake_rpc, no_images):
    page = fleet.page(ApplicationPage, {'appliname': 'app', 'action': 'stopapp'})
    _, answer = respond(page, is_post=False)
    root = etree.fromstring(answer['body'])
    assert root.xpath('//x:div[@id="message"]/x:form[@class="confirm"]', namespaces=NS)
    assert fake_rpc.calls == []


def test_supervisor_messages():
    assert supervisor_outcome('start', 'app:p1', 'Process app:p1 started') == ('info', 'Process app:p1 started')
    assert supervisor_outcome('start', 'app:p1', 'ERROR: Process app:p1: already started') == \
        ('erro', 'Process app:p1: already started')
    assert supervisor_outcome('start', 'app:p1', 'ERROR: Process app:p1: unexpected rpc fault [103] DISABLED: '
                                                 'app:p1') == ('erro', 'Process app:p1: disabled')
    assert supervisor_outcome('stop', 'x', 'unexpected rpc fault [70] NOT_RUNNING: x') == \
        ('warn', 'unexpected rpc fault [70] NOT_RUNNING: x')


def test_supervisor_process_actions_use_the_status_view(fleet, monkeypatch):
    calls = []

    def make_callback(view, namespec, action):
        calls.append((view.context.supervisord, namespec, action))
        answers = iter([NOT_DONE_YET, f'Process {namespec} stopped' if namespec else 'All stopped at now'])
        return lambda: next(answers)
    monkeypatch.setattr(statistics_view.StatusView, 'make_callback', make_callback)
    location, _ = respond(fleet.page(ProcInstancePage, {'action': 'stop', 'namespec': 'app:p1'}))
    assert (location['gravity'], location['message']) == ('info', 'Process app:p1 stopped')
    assert calls == [(fleet.supervisord, 'app:p1', 'stop')]
    location, _ = respond(fleet.page(HostInstancePage, {'action': 'stopall'}))
    assert (location['gravity'], location['message']) == ('info', 'All stopped at now')
    assert location.get('namespec') is None


def test_supervisor_group_and_log_actions(fleet, monkeypatch):
    calls = []

    class FakeSupervisor:
        def __init__(self, supervisord):
            pass

        def startProcess(self, name, wait=True):
            calls.append(('startProcess', name, wait))
            return lambda: [{'status': 80}]

        def stopProcess(self, name, wait=True):
            calls.append(('stopProcess', name, wait))
            raise RPCError(Faults.BAD_NAME, name)

        def clearLog(self):
            calls.append(('clearLog',))
            return True
    monkeypatch.setattr(statistics_view, 'SupervisorNamespaceRPCInterface', FakeSupervisor)
    location, _ = respond(fleet.page(ProcInstancePage, {'action': 'startgroup', 'namespec': 'app:'}))
    assert location['gravity'] == 'info' and location['message'].startswith('Group app: started at ')
    location, _ = respond(fleet.page(ProcInstancePage, {'action': 'stopgroup', 'namespec': 'app:',
                                                        'auto': 'true'}))
    assert location['gravity'] == 'erro' and location['message'].startswith('stopProcess: BAD_NAME: app:')
    location, _ = respond(fleet.page(ProcInstancePage, {'action': 'restartgroup', 'namespec': 'app:'}))
    assert location['gravity'] == 'info' and location['message'].startswith('Group app: restarted at ')
    location, _ = respond(fleet.page(ProcInstancePage, {'action': 'mainclearlog'}))
    assert location['gravity'] == 'info' and location['message'].startswith('Log for Supervisor cleared at ')
    assert calls == [('startProcess', 'app:', True), ('stopProcess', 'app:', False), ('stopProcess', 'app:', True),
                     ('startProcess', 'app:', True), ('clearLog',)]


@pytest.mark.parametrize('action, mood, message', [
    ('restartsup', SupervisorStates.RESTARTING, 'Supervisor restart requested'),
    ('shutdownsup', SupervisorStates.SHUTDOWN, 'Supervisor shutdown requested')])
def test_supervisord_restart_and_shutdown(fleet, action, mood, message):
    callback = fleet.page(ProcInstancePage, {'action': action}).respond(True)
    # nothing happens before the answer is produced
    assert fleet.supervisord.options.mood == SupervisorStates.RUNNING
    answer = callback()
    assert fleet.supervisord.options.mood == mood
    location = query(answer['headers']['Location'])
    assert location['gravity'] == 'warn' and location['message'].startswith(f'{message} at ')


def test_pages_render_in_linear_time(no_images):
    """ A rough guard: 600 local processes render well under a second. """
    fleet = Fleet()
    infos = []
    for index in range(60):
        group = fleet.groups[f'g{index:02}'] = FakeGroup(f'g{index:02}')
        for rank in range(10):
            process = group.add(f'p{rank}', pid=1000 + 10 * index + rank)
            infos.append(fleet.local.process_info(process))
    fleet.context.load_processes('s1', infos, NOW)
    fleet.set_stats(proc={(f'g{index // 10:02}:p{index % 10}', 1000 + index): ([1.0, 2.0], [1.0, 2.0])
                          for index in range(600)})
    start = time.perf_counter()
    root = parse(fleet.page(ProcInstancePage))
    elapsed = time.perf_counter() - start
    assert len(root.xpath('//x:table[@id="process_table"]/x:tbody/x:tr', namespaces=NS)) == 60 + 600 + 5 + 3
    assert elapsed < 1.0
