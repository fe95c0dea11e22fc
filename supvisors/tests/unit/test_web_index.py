"""Main page and Conciliation view (interfaces 3.6), rendered over a real decision core fed through its entry
points; the runtime is a fake that records the actions the core decides."""

import re
import time
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import parse_qsl, urlsplit

import pytest
from lxml import etree
from supervisor.http import NOT_DONE_YET

from supvisors.core import actions as act
from supvisors.core.engine import SupvisorsCore
from supvisors.core.instances import InstanceStatus
from supvisors.model.context import Context
from supvisors.rpcinterface import register_faults
from supvisors.rules.model import ApplicationRules, ProcessRules
from supvisors.ttypes import InternalMessages, StartingStrategies, SupvisorsStates
from supvisors.web.pages import index as index_module
from supvisors.web.pages.index import MainPage
from supvisors.web.viewcontext import ViewContext

from .fakes import FakeLogger

NS = {'x': 'http://www.w3.org/1999/xhtml'}
T0 = 1700000000.0
IDS = ('s1', 's2', 's3')
PORTS = {'s1': 61001, 's2': 61002, 's3': 61003}


# ------------------------------------------------------------------------------------------------ model and fakes
class Resolver:
    """ Every application is managed except 'free'; loadings per process name. """

    def __init__(self, loadings: Optional[Dict[str, int]] = None):
        self.loadings = loadings or {}

    def application_rules(self, name: str) -> ApplicationRules:
        return ApplicationRules(managed=name != 'free', stop_sequence=0)

    def process_rules(self, application: str, process: str, rules: ApplicationRules) -> ProcessRules:
        return ProcessRules(stop_sequence=0, expected_loading=self.loadings.get(process, 0))

    def take_autorestart_changes(self) -> List[str]:
        return []


def info(group: str, name: str, state: int = 20, start: float = T0, now: float = T0) -> Dict[str, Any]:
    return {'name': name, 'group': group, 'state': state, 'start': int(start), 'stop': 0, 'now': now,
            'pid': 100 if state in (10, 20, 30, 40) else 0, 'description': '', 'spawnerr': '', 'expected': True,
            'startsecs': 0, 'stopwaitsecs': 10, 'extra_args': '', 'disabled': False}


class FakeRuntime:
    """ What the page uses of SupvisorsRuntime; run() records the actions the core decides. """

    def __init__(self, core: SupvisorsCore):
        self.core = core
        self.logger = core.logger
        self.mapper = SimpleNamespace(
            instances=OrderedDict((x, SimpleNamespace(host_name=f'host-{x}', http_port=PORTS[x])) for x in IDS),
            local_identifier=core.local_identifier)
        self.options = SimpleNamespace(starting_strategy=StartingStrategies.CONFIG, tail_limit=1024)
        self.statistics = SimpleNamespace(periods=[10], nb_cores=lambda _: 1, get_stats=lambda *_: None, version=0)
        self.version = 0
        self.executed: List[Any] = []

    def run(self, method, *args):
        result = method(*args, time.time())
        self.version += 1
        self.executed.extend(self.core.take_actions())
        return result

    def stops(self) -> List[tuple]:
        return [(x.identifier, x.namespec) for x in self.executed if isinstance(x, act.StopProcess)]


def make_core(processes: Dict[str, List[Dict[str, Any]]], loadings: Optional[Dict[str, int]] = None,
              running: Sequence[str] = IDS) -> SupvisorsCore:
    """ s1 local and Master; the instances of running are RUNNING with their process lists, the others SILENT;
    OPERATION (or CONCILIATION). """
    logger = FakeLogger()
    instances = [InstanceStatus(x, f'host-{x}', PORTS[x], f'host-{x}') for x in IDS]
    core = SupvisorsCore('s1', instances, [], 15, 2, False, logger, context=Context(Resolver(loadings), logger))
    core.start(T0)
    check = next(x for x in core.take_actions() if isinstance(x, act.CheckInstance))
    core.on_check_result(act.CheckResult('s1', check.check_id, True, '', process_list=processes.get('s1', [])), T0)
    core.take_actions()
    for idx, identifier in enumerate(x for x in running if x != 's1'):
        core.on_message(identifier, InternalMessages.TICK, {'when': T0 + idx, 'sequence_counter': 0}, T0 + idx)
        check = next(x for x in core.take_actions() if isinstance(x, act.CheckInstance))
        core.on_check_result(act.CheckResult(identifier, check.check_id, True, 's1', SupvisorsStates.DEPLOYMENT,
                                             process_list=processes.get(identifier, [])), T0 + idx)
        core.take_actions()
    if len(running) < len(IDS):
        core.on_local_tick(T0 + 20)  # the others are not heard of within synchro_timeout
        core.take_actions()
    return core


def page_for(core: SupvisorsCore, form: Optional[Dict[str, str]] = None, runtime: Optional[FakeRuntime] = None
             ) -> MainPage:
    runtime = runtime or FakeRuntime(core)
    dashboard = SimpleNamespace(runtime=runtime, logger=runtime.logger, statistics=runtime.statistics,
                                interface_names=lambda _: [])
    ctx = ViewContext(dashboard, 'index.html', form or {}, 'http://host-s1:61001', '/index.html')
    return MainPage(dashboard, ctx)


def parse(html: str):
    """ The page must be well-formed XHTML. """
    return etree.fromstring(html.encode('utf-8'))


def by_class(root, name: str, element: str = 'x:*') -> list:
    """ The elements under root having the class name. """
    return root.xpath(f'.//{element}[contains(concat(" ", @class, " "), " {name} ")]', namespaces=NS)


def xpath(root, expression: str) -> list:
    return root.xpath(expression, namespaces=NS)


def content(element) -> str:
    return ''.join(element.itertext())


def query(href: str) -> Dict[str, str]:
    return dict(parse_qsl(urlsplit(href).query))


def fleet_processes() -> Dict[str, List[Dict[str, Any]]]:
    return {'s1': [info('web', 'server'), info('web', 'cache'), info('db', 'sql'), info('free', 'tool', 0),
                   info('web', 'proxy', 40)],
            's2': [info('web', 'server', 0), info('db', 'sql', 0), info('db', 'backup', 10), info('free', 'tool')],
            's3': [info('web', 'server', 0)]}


@pytest.fixture(autouse=True)
def faults():
    register_faults()


# ------------------------------------------------------------------------------------------------------- boxes
def test_one_box_per_instance_in_configuration_order():
    core = make_core(fleet_processes(), loadings={'server': 10, 'cache': 5, 'sql': 20, 'tool': 3, 'backup': 7},
                     running=('s1', 's2'))
    assert core.fsm_state == SupvisorsStates.OPERATION
    root = parse(page_for(core).render())
    boxes = xpath(root, '//x:div[@id="instances"]/x:div')
    assert len(boxes) == 3
    names = [content(xpath(box, './/x:th[contains(@class, "name")]')[0]) for box in boxes]
    assert names == ['\u272a s1', 's2', 's3']
    states = [xpath(box, './/x:th[contains(@class, "state")]')[0] for box in boxes]
    assert [(x.get('class'), x.text) for x in states] == \
        [('RUNNING state', 'RUNNING'), ('RUNNING state', 'RUNNING'), ('SILENT state', 'SILENT')]
    # load as computed by the core (a STOPPING process counts, as in core.loading)
    loads = [xpath(box, './/x:th[@class="load"]')[0].text for box in boxes]
    assert loads == [f'{core.loading(x)}%' for x in IDS] == ['35%', '10%', '0%']
    # links only to RUNNING instances, absolute to their proc_instance.html
    anchors = [xpath(box, './/x:th[contains(@class, "name")]/x:a')[0] for box in boxes]
    assert anchors[0].get('class') == 'on'
    assert anchors[0].get('href').startswith('http://host-s1:61001/proc_instance.html?')
    assert anchors[1].get('href').startswith('http://host-s2:61002/proc_instance.html?')
    assert 'shex' not in query(anchors[1].get('href'))
    assert anchors[2].get('class') == 'off' and anchors[2].get('href') is None


def test_box_rows_list_the_running_processes_by_application():
    core = make_core(fleet_processes(), running=('s1', 's2'))
    root = parse(page_for(core).render())
    boxes = xpath(root, '//x:div[@id="instances"]/x:div')

    def rows(box):
        return [(tr.get('class'), xpath(tr, './x:td[@class="application"]')[0].text,
                 [x.text for x in xpath(tr, './x:td[@class="processes"]/x:span')])
                for tr in xpath(box, './/x:tbody/x:tr')]
    # s1: STOPPED tool and STOPPING proxy are not listed; sorted applications and processes; alternating classes
    assert rows(boxes[0]) == [('shaded', 'db', ['sql']), ('brightened', 'web', ['cache', 'server'])]
    # s2: STARTING counts as running; the unmanaged application is listed too
    assert rows(boxes[1]) == [('shaded', 'db', ['backup']), ('brightened', 'free', ['tool'])]
    assert rows(boxes[2]) == []


def test_box_time_is_the_estimated_remote_time(monkeypatch):
    core = make_core(fleet_processes(), running=('s1', 's2'))
    now = time.time()
    status = core.instances['s2']
    status.remote_time, status.local_time = now - 3600 - 7, now - 7  # remote clock one hour late
    page = page_for(core)
    monkeypatch.setattr(index_module.time, 'time', lambda: now)
    root = parse(page.render())
    times = [x.text for x in xpath(root, '//x:th[@class="time"]')]
    assert times[1] == time.strftime('%H:%M:%S', time.localtime(now - 3600))
    assert times[2] == '--:--:--'
    assert re.match(r'^\d\d:\d\d:\d\d$', times[0])


def test_header_shows_the_state_jobs_and_the_supvisors_buttons():
    core = make_core(fleet_processes(), running=('s1', 's2'))
    root = parse(page_for(core).render())
    header = xpath(root, '//x:div[@id="header"]')[0]
    assert xpath(header, './/x:h1')[0].text == 'OPERATION'
    assert by_class(header, 'blink') == []
    buttons = {x.text: x.get('href') for x in xpath(header, './/x:a')}
    assert query(buttons['Restart Supvisors'])['action'] == 'sup_restart'
    assert query(buttons['Shutdown Supvisors'])['action'] == 'sup_shutdown'
    assert 'Refresh' in buttons and 'Auto-refresh' in buttons
    # jobs reported by any instance
    core.instances['s2'].starting_jobs = True
    root = parse(page_for(core).render())
    assert [x.text for x in by_class(root, 'blink', 'x:span')] == ['starting']
    core.instances['s2'].starting_jobs, core.instances['s1'].stopping_jobs = False, True
    root = parse(page_for(core).render())
    assert [x.text for x in by_class(root, 'blink', 'x:span')] == ['stopping']


# ------------------------------------------------------------------------------------------------ conciliation
def conflict_core() -> SupvisorsCore:
    """ web:server running on s1 (older) and s2 (younger): CONCILIATION with the USER strategy. """
    processes = fleet_processes()
    processes['s2'][0] = info('web', 'server', 20, start=T0 + 50, now=T0 + 100)
    processes['s1'][0] = info('web', 'server', 20, start=T0, now=T0 + 100)
    core = make_core(processes, running=('s1', 's2', 's3'))
    assert core.fsm_state == SupvisorsStates.CONCILIATION
    return core


def test_conciliation_view_replaces_the_boxes():
    core = conflict_core()
    root = parse(page_for(core).render())
    assert xpath(root, '//x:div[@id="instances"]') == []
    assert 'blink' in xpath(root, '//x:h1[@id="title"]/x:a')[0].get('class')
    assert xpath(root, '//x:div[@id="header"]//x:h1')[0].text == 'CONCILIATION'
    view = xpath(root, '//x:div[@id="conciliation"]')[0]
    assert 'Conciliation Strategies' in content(view)
    # global strategies: absolute links to the Master's main page, no namespec
    global_buttons = xpath(view, './/x:div[contains(@class, "strategies")]//x:a')
    assert sorted(x.text for x in global_buttons) == ['Infanticide', 'Restart', 'Running_Failure', 'Senicide',
                                                      'Stop']
    for button in global_buttons:
        href = button.get('href')
        assert href.startswith('http://host-s1:61001/index.html?') and button.get('class') == 'button on'
        assert query(href)['action'] == button.text.lower() and 'namespec' not in query(href)
    # conflict table
    table = xpath(view, './/x:table')[0]
    headers = xpath(table, './x:thead/x:tr/x:th')
    assert [(x.text, x.get('colspan')) for x in headers] == \
        [('Name', None), ('Supervisor', None), ('Uptime', None), ('Actions', '2'), ('Strategy', None)]
    rows = xpath(table, './x:tbody/x:tr')
    assert len(rows) == 2
    name_cell = xpath(rows[0], './x:td')[0]
    assert (name_cell.text, name_cell.get('rowspan')) == ('web:server', '2')
    assert len(xpath(rows[1], './x:td')) == 4
    instances = [xpath(row, './x:td[@class="instance"]/x:a')[0] for row in rows]
    assert [x.text for x in instances] == ['s1', 's2']
    assert instances[1].get('href').startswith('http://host-s2:61002/proc_instance.html?')
    uptimes = [xpath(row, './x:td[@class="uptime"]')[0].text for row in rows]
    assert uptimes == ['00:01:40', '00:00:50']
    stop, keep = xpath(rows[1], './x:td[@class="action"]/x:a')
    assert (stop.text, keep.text) == ('Stop', 'Keep')
    assert stop.get('href').startswith('index.html?')
    assert {k: v for k, v in query(stop.get('href')).items() if k in ('action', 'namespec', 'ident')} == \
        {'action': 'pstop', 'namespec': 'web:server', 'ident': 's2'}
    assert query(keep.get('href'))['action'] == 'pkeep'
    strategy_cell = xpath(rows[0], './x:td[@class="strategy"]')[0]
    assert strategy_cell.get('rowspan') == '2'
    for button in xpath(strategy_cell, './x:a'):
        href = button.get('href')
        assert href.startswith('http://host-s1:61001/index.html?')
        assert query(href)['namespec'] == 'web:server' and query(href)['action'] == button.text.lower()


def test_no_conciliation_view_without_conflicts():
    core = make_core(fleet_processes(), running=('s1', 's2'))
    root = parse(page_for(core).render())
    assert xpath(root, '//x:div[@id="conciliation"]') == []
    assert xpath(root, '//x:h1[@id="title"]/x:a')[0].get('class') is None


# ------------------------------------------------------------------------------------------------------ actions
def post(page: MainPage):
    return page.respond(True)


def location_message(response: Dict[str, Any]) -> tuple:
    values = query(response['headers']['Location'])
    return values['gravity'], values['message']


def stop_event(core: SupvisorsCore, identifier: str, group: str, name: str, state: int = 0) -> None:
    body = {'name': name, 'group': group, 'state': state, 'now': time.time(), 'pid': 0, 'expected': True,
            'spawnerr': '', 'extra_args': '', 'disabled': False}
    if identifier == core.local_identifier:
        core.on_local_process_event(body, time.time())
    else:
        core.on_message(identifier, InternalMessages.PROCESS, body, time.time())
    core.take_actions()


def test_pstop_stops_the_process_on_one_instance_and_waits():
    core = conflict_core()
    runtime = FakeRuntime(core)
    callback = post(page_for(core, {'action': 'pstop', 'namespec': 'web:server', 'ident': 's2'}, runtime))
    assert runtime.stops() == [('s2', 'web:server')]
    assert callback() is NOT_DONE_YET
    stop_event(core, 's2', 'web', 'server', 40)
    assert callback() is NOT_DONE_YET  # STOPPING is not stopped yet
    stop_event(core, 's2', 'web', 'server')
    gravity, message = location_message(callback())
    assert gravity == 'info' and re.match(r'^process web:server stopped on s2 at .+$', message)
    assert core.context.get_process('web:server').running_identifiers == {'s1'}


def test_pstop_with_auto_refresh_does_not_wait():
    core = conflict_core()
    runtime = FakeRuntime(core)
    callback = post(page_for(core, {'action': 'pstop', 'namespec': 'web:server', 'ident': 's1', 'auto': '1'},
                             runtime))
    assert runtime.stops() == [('s1', 'web:server')]
    response = callback()
    assert location_message(response)[1].startswith('process web:server stopped on s1 at ')
    assert query(response['headers']['Location'])['auto'] == 'True'


def test_pkeep_stops_the_other_copies_and_waits():
    core = conflict_core()
    runtime = FakeRuntime(core)
    callback = post(page_for(core, {'action': 'pkeep', 'namespec': 'web:server', 'ident': 's2'}, runtime))
    assert runtime.stops() == [('s1', 'web:server')]
    assert callback() is NOT_DONE_YET
    stop_event(core, 's1', 'web', 'server')
    gravity, message = location_message(callback())
    assert gravity == 'info' and message.startswith('processes web:server stopped but on s2 at ')


def test_pstop_of_an_unknown_process():
    core = conflict_core()
    runtime = FakeRuntime(core)
    callback = post(page_for(core, {'action': 'pstop', 'namespec': 'web:'}, runtime))
    gravity, message = location_message(callback())
    assert gravity == 'erro' and message.startswith('No such process named web:')
    assert runtime.stops() == []


@pytest.mark.parametrize('strategy, stopped', [('senicide', [('s1', 'web:server')]),
                                               ('infanticide', [('s2', 'web:server')]),
                                               ('stop', [('s1', 'web:server'), ('s2', 'web:server')])])
def test_conciliation_strategy_on_one_conflict(strategy, stopped):
    core = conflict_core()
    runtime = FakeRuntime(core)
    callback = post(page_for(core, {'action': strategy, 'namespec': 'web:server'}, runtime))
    gravity, message = location_message(callback())
    assert gravity == 'info' and message.startswith(f'{strategy.upper()} in progress for web:server at ')
    assert sorted(runtime.stops()) == stopped


def test_conciliation_strategy_on_all_conflicts():
    core = conflict_core()
    runtime = FakeRuntime(core)
    callback = post(page_for(core, {'action': 'running_failure'}, runtime))
    assert location_message(callback())[1].startswith('RUNNING_FAILURE in progress for all conflicts at ')
    assert sorted(runtime.stops()) == [('s1', 'web:server'), ('s2', 'web:server')]


def test_conciliation_strategy_ignores_a_process_without_conflict():
    core = conflict_core()
    runtime = FakeRuntime(core)
    callback = post(page_for(core, {'action': 'senicide', 'namespec': 'db:sql'}, runtime))
    assert location_message(callback())[1].startswith('SENICIDE in progress for db:sql at ')
    assert runtime.stops() == []


def test_supvisors_restart_and_shutdown():
    core = make_core(fleet_processes(), running=('s1', 's2'))
    runtime = FakeRuntime(core)
    callback = post(page_for(core, {'action': 'sup_restart'}, runtime))
    gravity, message = location_message(callback())
    assert gravity == 'warn' and message.startswith('Supvisors restart requested at ')
    assert core.fsm_state == SupvisorsStates.RESTARTING
    core = make_core(fleet_processes(), running=('s1', 's2'))
    runtime = FakeRuntime(core)
    callback = post(page_for(core, {'action': 'sup_shutdown'}, runtime))
    gravity, message = location_message(callback())
    assert gravity == 'warn' and message.startswith('Supvisors shutdown requested at ')
    assert core.fsm_state == SupvisorsStates.SHUTTING_DOWN


def test_supvisors_restart_fault():
    core = make_core(fleet_processes(), running=('s1', 's2'))
    core.fsm_state = SupvisorsStates.INITIALIZATION
    callback = post(page_for(core, {'action': 'sup_restart'}))
    gravity, message = location_message(callback())
    assert gravity == 'erro'
    assert message.startswith("restart: BAD_SUPVISORS_STATE: Supvisors (state=INITIALIZATION) not in state")


def test_a_get_with_an_action_asks_for_a_confirmation_only():
    core = conflict_core()
    runtime = FakeRuntime(core)
    page = page_for(core, {'action': 'pkeep', 'namespec': 'web:server', 'ident': 's2'}, runtime)
    response = page.respond(False)()
    assert runtime.executed == [] and core.fsm_state == SupvisorsStates.CONCILIATION
    root = parse(response['body'].decode())
    form = xpath(root, '//x:form')[0]
    assert form.get('method') == 'post' and query(form.get('action'))['action'] == 'pkeep'


def test_rendering_is_fast_enough_for_a_large_fleet():
    """ A loose bound (the benchmark gives the real figures): 3 instances, 600 processes. """
    processes = {x: [info(f'app{a:02d}', f'proc{p:02d}', 20 if (a + p + idx) % 3 else 0)
                     for a in range(40) for p in range(15)] for idx, x in enumerate(IDS)}
    core = make_core(processes)
    page = page_for(core)
    start = time.perf_counter()
    parse(page.render())
    assert time.perf_counter() - start < 1.0
