"""The Supervisor pages and the application page on a live 3-instance fleet: contents against XML-RPC, every action
by POST (message and effect), confirmation of GET actions, statistics images, tail links."""

import time
from typing import Dict, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from lxml import etree

from supvisors.tools.localfleet import LocalFleet, wait_for
from supvisors.ttypes import make_namespec

from .helpers import http_request, operational_fleet

pytestmark = pytest.mark.e2e

NS = {'x': 'http://www.w3.org/1999/xhtml'}
PROGRAMS = """
[group:app]
programs=alpha,beta,gamma

[program:alpha]
command=sleep 1000
autostart=false
startsecs=0

[program:beta]
command=sleep 1000
autostart=false
startsecs=0

[program:gamma]
command=sleep 1000
autostart=false
startsecs=0

[group:tools]
programs=t1,t2

[program:t1]
command=sleep 1000
startsecs=0

[program:t2]
command=sleep 1000
startsecs=0

[program:lonely]
command=sh -c 'while true; do echo "lonely says hello"; sleep 0.2; done'
startsecs=0
stopasgroup=true
killasgroup=true
"""
RULES = """<?xml version="1.0" encoding="UTF-8"?>
<root>
    <application name="app">
        <start_sequence>1</start_sequence>
        <programs>
            <program name="alpha"><identifiers>s1</identifiers><start_sequence>1</start_sequence>
                <expected_loading>10</expected_loading></program>
            <program name="beta"><identifiers>s2</identifiers><start_sequence>1</start_sequence>
                <expected_loading>5</expected_loading></program>
            <program name="gamma"><identifiers>s1,s2,s3</identifiers></program>
        </programs>
    </application>
</root>
"""
OPTIONS = {'stats_collecting_period': '1', 'stats_periods': '5', 'tail_limit': '2KB'}
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}


# ------------------------------------------------------------------------------------------------ helpers
def request(instance, path: str, method: str = 'GET', body: Optional[str] = None
            ) -> Tuple[int, Dict[str, str], bytes]:
    return http_request(instance, path, method, body=body)


def page(instance, path: str):
    status, headers, body = request(instance, path)
    assert status == 200, (path, status, headers)
    return etree.fromstring(body)


def post(instance, page_name: str, **params) -> Dict[str, str]:
    """ POST an action; return the query of the redirection (message, gravity and the kept parameters). """
    status, headers, _ = request(instance, f'/{page_name}', 'POST', urlencode(params))
    assert status == 301, (page_name, params, status)
    location = headers['Location']
    assert location.startswith(f'http://{instance.host}:{instance.http_port}/{page_name}?'), location
    return dict(parse_qsl(urlsplit(location).query))


def message(location: Dict[str, str]) -> Tuple[str, str]:
    return location.get('gravity'), location.get('message')


def xpath(root, path: str):
    return root.xpath(path, namespaces=NS)


def text(element) -> str:
    return ''.join(element.itertext())


def cell(row, class_name: str):
    return xpath(row, f'x:td[contains(concat(" ", @class, " "), " {class_name} ")]')[0]


def table_rows(root, table_id: str) -> Dict[str, object]:
    rows = xpath(root, f'//x:table[@id="{table_id}"]/x:tbody/x:tr')
    return {text(cell(row, 'name')): row for row in rows}


def query(href: str) -> Dict[str, str]:
    return dict(parse_qsl(urlsplit(href).query))


def process_state(instance, namespec: str) -> str:
    return instance.rpc().supervisor.getProcessInfo(namespec)['statename']


def application_state(instance, application: str = 'app') -> str:
    return instance.rpc().supvisors.get_application_info(application)['statename']


def wait_process(instance, namespec: str, state: str, timeout: float = 10) -> None:
    wait_for(lambda: process_state(instance, namespec) == state, timeout,
             what=f'{namespec} {state} on {instance.identifier}')


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    fleet = LocalFleet(3, basedir=str(tmp_path_factory.mktemp('websup')), programs=PROGRAMS, rules=RULES,
                       options=OPTIONS)
    def ready() -> bool:
        return all(instance.rpc().supvisors.get_application_info('app')['statename'] == 'RUNNING'
                   for instance in fleet)
    with operational_fleet(fleet, timeout=30, ready=ready):
        yield fleet


# ------------------------------------------------------------------------------------------------ contents
@pytest.mark.parametrize('identifier', ['s1', 's2', 's3'])
def test_proc_instance_rows_match_the_local_processes(fleet, identifier):
    instance = fleet[identifier]
    rpc = instance.rpc()
    infos = rpc.supvisors.get_all_local_process_info()
    master = rpc.supvisors.get_master_identifier()
    loading = rpc.supvisors.get_instance_info(identifier)['loading']
    root = page(instance, '/proc_instance.html')
    mark = '\u272a ' if master == identifier else ''
    assert text(xpath(root, '//x:div[@class="page_title"]/x:h1')[0]) == f'{mark}{identifier} - {loading}%'
    active = xpath(root, '//x:ul[@class="instances"]/x:li[contains(@class, "active")]/x:a')
    assert [text(x).replace('\u272a ', '') for x in active] == [identifier]
    rows = table_rows(root, 'process_table')
    # application rows for the groups, then their processes; the single program alone
    assert list(rows) == ['app', '\u21b3 alpha', '\u21b3 beta', '\u21b3 gamma', 'lonely', 'tools', '\u21b3 t1',
                          '\u21b3 t2', 'supervisord']
    for info in infos:
        label = info['name'] if info['group'] == info['name'] else f'\u21b3 {info["name"]}'
        row = rows[label]
        assert text(cell(row, 'state')) == info['statename'], label
        if info['statename'] == 'RUNNING':
            assert text(cell(row, 'description')).startswith(f'pid {info["pid"]}, uptime ')
        else:
            assert text(cell(row, 'description')) == info['description']
        anchor = xpath(cell(row, 'name'), 'x:a')[0]
        namespec = make_namespec(info['group'], info['name'])
        assert anchor.get('href').startswith(f'http://{instance.host}:{instance.http_port}/tail.html?')
        assert query(anchor.get('href'))['processname'] == namespec
        assert query(anchor.get('href'))['limit'] == '2048'
    supervisord = rows['supervisord']
    assert text(cell(supervisord, 'shex')) == mark.strip()
    assert text(cell(supervisord, 'description')).startswith(f'pid {rpc.supervisor.getPID()}, uptime ')
    assert text(xpath(root, '//x:tfoot//x:td[contains(@class, "load")]')[0]) == f'{loading}%'


def test_statistics_cells_detailed_panel_and_process_images(fleet):
    s1 = fleet['s1']

    def lonely_mem():
        rows = table_rows(page(s1, '/proc_instance.html'), 'process_table')
        return xpath(cell(rows['lonely'], 'mem'), 'x:a')
    anchor = wait_for(lonely_mem, timeout=25, what='statistics of lonely on s1')[0]
    assert anchor.text.endswith('%') and float(anchor.text[:-1]) >= 0
    assert {'increase', 'decrease', 'stable'} & set(anchor.get('class').split())
    href = anchor.get('href')
    assert query(href)['processname'] == 'lonely' and query(href)['ident'] == 's1'
    root = page(s1, f'/{href}')
    panel = xpath(root, '//x:div[@id="process_stats"]')[0]
    assert text(xpath(panel, 'x:h3')[0]) == 'Detailed Statistics -- lonely'
    assert [x.get('src') for x in xpath(panel, './/x:img')] == ['process_mem.png', 'process_cpu.png']
    for name in ('process_mem.png', 'process_cpu.png'):
        status, headers, body = request(s1, f'/{name}')
        assert status == 200 and headers['Content-Type'] == 'image/png'
        assert body.startswith(b'\x89PNG')
    # totals are figures too
    total = xpath(root, '//x:tfoot/x:tr')[0]
    assert text(cell(total, 'mem')).endswith('%') and text(cell(total, 'cpu')).endswith('%')


def test_host_page_and_images(fleet):
    s1 = fleet['s1']
    wait_for(lambda: xpath(page(s1, '/host_instance.html'), '//x:div[@id="processor_stats"]//x:tbody/x:tr'),
             timeout=20, what='host statistics on s1')
    root = page(s1, '/host_instance.html?cpuid=1&intfname=lo')
    view = xpath(root, '//x:div[@id="view_box"]//x:a')
    assert [(text(x), x.get('class')) for x in view] == [('Processes', 'button on'),
                                                        ('127.0.0.1', 'button off active')]
    memory = xpath(root, '//x:div[@id="memory_stats"]//x:tbody//x:td')
    assert len(memory) == 4 and float(text(memory[0])) > 0
    labels = xpath(root, '//x:div[@id="processor_stats"]//x:tbody//x:th/x:a')
    assert [text(x) for x in labels][:2] == ['cpu#all', 'cpu#0']
    assert [x.get('class') for x in labels][1] == 'button off active'
    interfaces = [text(x) for x in xpath(root, '//x:div[@id="network_stats"]//x:tbody//x:th/x:a')]
    assert 'lo' in interfaces
    for name in ('host_mem.png', 'host_cpu.png', 'host_io.png'):
        status, _, body = request(s1, f'/{name}')
        assert status == 200 and body.startswith(b'\x89PNG'), name


@pytest.mark.parametrize('identifier', ['s1', 's2'])
def test_application_page_matches_xmlrpc(fleet, identifier):
    instance = fleet[identifier]
    rpc = instance.rpc().supvisors
    root = page(instance, '/application.html?appliname=app')
    title = xpath(root, '//x:div[@class="page_title"]')[0]
    assert text(xpath(title, 'x:h1')[0]) == 'app'
    assert text(xpath(title, 'x:div')[0]) == rpc.get_application_info('app')['statename']
    assert xpath(title, 'x:span')[0].get('class') == 'led status_green'
    rows = table_rows(root, 'application_table')
    assert list(rows) == ['\u21b3 alpha', '\u21b3 beta', '\u21b3 gamma']
    for info in rpc.get_process_info('app:*'):
        row = rows[f'\u21b3 {info["process_name"]}']
        assert text(cell(row, 'state')) == info['statename']
        assert [text(x) for x in xpath(cell(row, 'supervisors'), 'x:a')] == info['identifiers']
    assert text(cell(rows['\u21b3 alpha'], 'description')).endswith(' on s1')
    assert text(cell(rows['\u21b3 beta'], 'description')).endswith(' on s2')
    assert text(cell(rows['\u21b3 gamma'], 'description')) == 'Not started'
    assert text(cell(rows['\u21b3 alpha'], 'load')) == '10%'
    # logs of beta are on s2
    stdout = xpath(rows['\u21b3 beta'], 'x:td[@class="button"]/x:a')[4]
    assert stdout.get('href') == f'http://127.0.0.1:{fleet["s2"].http_port}/logtail/app%3Abeta'


def test_unknown_application_goes_back_to_the_main_page(fleet):
    status, headers, _ = request(fleet['s1'], '/application.html?appliname=nope')
    assert status == 301
    location = headers['Location']
    assert location.startswith(f'http://127.0.0.1:{fleet["s1"].http_port}/index.html?')
    assert message(dict(parse_qsl(urlsplit(location).query)))[1].startswith('Unknown application: nope at ')


def test_tail_links(fleet):
    s1 = fleet['s1']
    rows = table_rows(page(s1, '/proc_instance.html'), 'process_table')
    href = xpath(cell(rows['lonely'], 'name'), 'x:a')[0].get('href')
    status, _, body = request(s1, '/' + href.split('/', 3)[3])
    assert status == 200 and b'lonely says hello' in body
    href = xpath(cell(rows['supervisord'], 'name'), 'x:a')[0].get('href')
    assert query(href)['processname'] == 'supervisord' and query(href)['limit'] == '2048'
    status, _, body = request(s1, '/' + href.split('/', 3)[3])
    assert status == 200 and b'Supervisor tail' in body and b'supervisord started' in body
    buttons = xpath(rows['supervisord'], 'x:td[@class="button"]/x:a')
    assert buttons[4].get('href') == 'mainlogtail'
    assert xpath(rows['lonely'], 'x:td[@class="button"]/x:a')[4].get('href') == 'logtail/lonely'


def test_get_with_action_only_asks_for_confirmation(fleet):
    s1 = fleet['s1']
    for path in ('/proc_instance.html?action=stop&namespec=lonely', '/application.html?appliname=app&action=stopapp'):
        root = page(s1, path)
        form = xpath(root, '//x:div[@id="message"]/x:form[@class="confirm"]')[0]
        assert form.get('method') == 'post' and 'action=' in form.get('action')
    assert process_state(s1, 'lonely') == 'RUNNING'
    assert application_state(s1) == 'RUNNING'


# ------------------------------------------------------------------------------------------------ Supervisor actions
def test_supervisor_process_actions(fleet):
    s1 = fleet['s1']
    assert message(post(s1, 'proc_instance.html', action='stop', namespec='lonely')) == \
        ('info', 'Process lonely stopped')
    assert process_state(s1, 'lonely') == 'STOPPED'
    assert message(post(s1, 'proc_instance.html', action='stop', namespec='lonely')) == \
        ('warn', 'unexpected rpc fault [70] NOT_RUNNING: lonely')
    location = post(s1, 'proc_instance.html', action='start', namespec='lonely')
    assert message(location) == ('info', 'Process lonely started')
    assert location['namespec'] == 'lonely' and 'action' not in location
    assert process_state(s1, 'lonely') == 'RUNNING'
    assert message(post(s1, 'proc_instance.html', action='start', namespec='lonely')) == \
        ('erro', 'Process lonely: already started')
    pid = s1.rpc().supervisor.getProcessInfo('lonely')['pid']
    assert message(post(s1, 'host_instance.html', action='restart', namespec='lonely')) == \
        ('info', 'Process lonely restarted')
    info = s1.rpc().supervisor.getProcessInfo('lonely')
    assert info['statename'] == 'RUNNING' and info['pid'] != pid
    wait_for(lambda: s1.rpc().supervisor.tailProcessStdoutLog('lonely', 0, 100)[1] > 200, 10,
             what='lonely to write')
    assert message(post(s1, 'proc_instance.html', action='clearlog', namespec='lonely')) == \
        ('info', 'Log for lonely cleared')
    assert s1.rpc().supervisor.tailProcessStdoutLog('lonely', 0, 100)[1] < 200


def test_supervisor_group_and_main_log_actions(fleet):
    s1 = fleet['s1']
    gravity, text_ = message(post(s1, 'proc_instance.html', action='stopgroup', namespec='tools:'))
    assert gravity == 'info' and text_.startswith('Group tools: stopped at ')
    assert {process_state(s1, 'tools:t1'), process_state(s1, 'tools:t2')} == {'STOPPED'}
    gravity, text_ = message(post(s1, 'proc_instance.html', action='startgroup', namespec='tools:'))
    assert gravity == 'info' and text_.startswith('Group tools: started at ')
    assert {process_state(s1, 'tools:t1'), process_state(s1, 'tools:t2')} == {'RUNNING'}
    pids = {s1.rpc().supervisor.getProcessInfo(x)['pid'] for x in ('tools:t1', 'tools:t2')}
    gravity, text_ = message(post(s1, 'proc_instance.html', action='restartgroup', namespec='tools:'))
    assert gravity == 'info' and text_.startswith('Group tools: restarted at ')
    infos = [s1.rpc().supervisor.getProcessInfo(x) for x in ('tools:t1', 'tools:t2')]
    assert {x['statename'] for x in infos} == {'RUNNING'} and not pids & {x['pid'] for x in infos}
    # auto-refresh mode: the group stop does not wait
    gravity, text_ = message(post(s1, 'proc_instance.html', action='stopgroup', namespec='tools:', auto='1'))
    assert gravity == 'info' and text_.startswith('Group tools: stopped at ')
    wait_process(s1, 'tools:t1', 'STOPPED')
    post(s1, 'proc_instance.html', action='startgroup', namespec='tools:')
    gravity, text_ = message(post(s1, 'proc_instance.html', action='mainclearlog'))
    assert gravity == 'info' and text_.startswith('Log for Supervisor cleared at ')
    assert len(s1.rpc().supervisor.readLog(0, 0)) < 2000


def test_start_of_a_disabled_process(fleet):
    s1 = fleet['s1']
    assert s1.rpc().supvisors.disable('gamma')
    try:
        assert message(post(s1, 'proc_instance.html', action='start', namespec='app:gamma')) == \
            ('erro', 'Process app:gamma: disabled')
        assert process_state(s1, 'app:gamma') == 'STOPPED'
        rows = table_rows(page(s1, '/proc_instance.html'), 'process_table')
        state = cell(rows['\u21b3 gamma'], 'state')
        assert 'disabled' in state.get('class').split()
        assert xpath(rows['\u21b3 gamma'], 'x:td[@class="button"]/x:a')[0].get('href') is None
    finally:
        s1.rpc().supvisors.enable('gamma')


# ------------------------------------------------------------------------------------------------ Supvisors actions
def test_application_actions(fleet):
    s1, s2 = fleet['s1'], fleet['s2']
    gravity, text_ = message(post(s1, 'application.html', appliname='app', action='stopapp'))
    assert (gravity, text_.split(' at ')[0]) == ('info', 'Application app stopped')
    assert application_state(s1) == 'STOPPED'
    gravity, text_ = message(post(s1, 'application.html', appliname='app', action='stopapp'))
    assert (gravity, text_.split(' at ')[0]) == ('erro', 'stop_application: NOT_RUNNING: app')
    gravity, text_ = message(post(s1, 'application.html', appliname='app', action='startapp', strategy='CONFIG'))
    assert (gravity, text_.split(' at ')[0]) == ('info', 'Application app started')
    assert application_state(s1) == 'RUNNING'
    assert process_state(s1, 'app:alpha') == 'RUNNING' and process_state(s2, 'app:beta') == 'RUNNING'
    location = post(s1, 'application.html', appliname='app', action='restartapp', strategy='LESS_LOADED')
    assert location['strategy'] == 'LESS_LOADED' and location['appliname'] == 'app'
    assert (location['gravity'], location['message'].split(' at ')[0]) == ('info', 'Application app restarted')
    assert application_state(s1) == 'RUNNING'


def test_application_process_actions(fleet):
    s1, s2 = fleet['s1'], fleet['s2']

    def act(**params) -> Tuple[str, str]:
        gravity, text_ = message(post(s1, 'application.html', appliname='app', **params))
        return gravity, text_.split(' at ')[0]
    assert act(action='stop', namespec='app:alpha') == ('info', 'Process app:alpha stopped')
    assert process_state(s1, 'app:alpha') == 'STOPPED'
    assert act(action='start', namespec='app:alpha') == ('info', 'Process app:alpha started')
    assert process_state(s1, 'app:alpha') == 'RUNNING'
    assert act(action='start', namespec='app:alpha') == ('erro', 'start_process: ALREADY_STARTED: app:alpha')
    pid = s2.rpc().supervisor.getProcessInfo('app:beta')['pid']
    assert act(action='restart', namespec='app:beta') == ('info', 'Process app:beta restarted')
    info = s2.rpc().supervisor.getProcessInfo('app:beta')
    assert info['statename'] == 'RUNNING' and info['pid'] != pid
    assert act(action='clearlog', namespec='app:alpha') == ('info', 'Log for app:alpha cleared')
    assert act(action='start', namespec='app:') == ('erro', 'No such process named app:')
    gravity, text_ = message(post(s1, 'application.html', appliname='app', action='start', namespec='app:zz'))
    assert (gravity, text_.split(' at ')[0]) == ('erro', 'Incorrect namespec: app:zz')
    # auto-refresh mode: answered at once, the process starts afterwards (CONFIG: first instance)
    assert act(action='start', namespec='app:gamma', auto='1') == ('info', 'Process app:gamma started')
    wait_process(s1, 'app:gamma', 'RUNNING')
    root = page(s1, '/application.html?appliname=app')
    assert text(cell(table_rows(root, 'application_table')['\u21b3 gamma'], 'state')) == 'RUNNING'
    assert act(action='stop', namespec='app:gamma') == ('info', 'Process app:gamma stopped')


def test_stop_all_processes(fleet):
    s3 = fleet['s3']
    assert message(post(s3, 'proc_instance.html', action='stopall'))[1].startswith('All stopped at ')
    assert {x['statename'] for x in s3.rpc().supervisor.getAllProcessInfo()} == {'STOPPED'}


def test_restart_then_shutdown_supervisor(fleet):
    s3 = fleet['s3']
    pid = s3.pid
    requested = time.monotonic()
    gravity, text_ = message(post(s3, 'proc_instance.html', action='restartsup'))
    assert gravity == 'warn' and text_.startswith('Supervisor restart requested at ')
    # same process, new supervisord: the programs are started again (autostart)
    wait_for(lambda: process_state(s3, 'lonely') == 'RUNNING', timeout=20, what='s3 restarted')
    assert s3.alive and s3.pid == pid
    wait_for(lambda: s3.rpc().supvisors.get_supvisors_state()['fsm_statename'] == 'OPERATION', timeout=20,
             what='s3 back in OPERATION')
    # the uptime of supervisord starts again
    description = text(cell(table_rows(page(s3, '/proc_instance.html'), 'process_table')['supervisord'],
                            'description'))
    hours, minutes, seconds = description.split('uptime ')[1].split(':')
    assert int(hours) * 3600 + int(minutes) * 60 + int(seconds) <= time.monotonic() - requested + 1
    gravity, text_ = message(post(s3, 'host_instance.html', action='shutdownsup'))
    assert gravity == 'warn' and text_.startswith('Supervisor shutdown requested at ')
    wait_for(lambda: not s3.alive, timeout=20, what='s3 exited')
    assert s3.returncode == 0
    # the rest of the fleet still serves its pages
    assert page(fleet['s1'], '/proc_instance.html') is not None
