"""Main page and Conciliation view on a live 3-instance fleet (interfaces 3.2 to 3.6): the page against XML-RPC,
the conflict actions on real conflicts (processes started behind Supvisors' back with the USER conciliation
strategy), and the restart of Supvisors from the page (last: it restarts the fleet)."""

import re
import time
from typing import Any, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from lxml import etree

from supvisors.tools.localfleet import LocalFleet, wait_for

from .helpers import http_request, operational_fleet

pytestmark = pytest.mark.e2e

IDS = ['s1', 's2', 's3']
NS = {'x': 'http://www.w3.org/1999/xhtml'}
RUNNING_STATES = ('STARTING', 'RUNNING', 'BACKOFF')

PROGRAMS = """
[program:ticker]
command=sleep 1000
startsecs=0

[program:server]
command=sleep 1000
autostart=false
startsecs=0
autorestart=false

[program:dup]
command=sleep 1000
autostart=false
startsecs=0
autorestart=false

[program:twin]
command=sleep 1000
autostart=false
startsecs=0
autorestart=false

[group:web]
programs=server,dup,twin
"""

RULES = """<?xml version="1.0" encoding="UTF-8"?>
<root>
    <application name="web">
        <programs>
            <program name="server"><expected_loading>15</expected_loading></program>
        </programs>
    </application>
</root>
"""


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    """ s1 (Master), s2, s3; fast ticks; default conciliation strategy USER. """
    fleet = LocalFleet(IDS, str(tmp_path_factory.mktemp('web_index')), programs=PROGRAMS, rules=RULES,
                       options={'core_identifiers': ','.join(IDS), 'tick_period': '1', 'inactivity_ticks': '5'})
    with operational_fleet(fleet):
        yield fleet


# ------------------------------------------------------------------------------------------------------- helpers
def supvisors(fleet: LocalFleet, identifier: str) -> Any:
    return fleet[identifier].rpc(timeout=10).supvisors


def fsm(fleet: LocalFleet, identifier: str) -> str:
    return supvisors(fleet, identifier).get_supvisors_state()['fsm_statename']


def request(fleet: LocalFleet, identifier: str, path: str, form: Optional[Dict[str, str]] = None
            ) -> Tuple[int, Dict[str, str], bytes]:
    """ GET path, or POST the form to it. """
    return http_request(fleet[identifier], path, form=form)


def page(fleet: LocalFleet, identifier: str, path: str = '/') -> Any:
    status, headers, body = request(fleet, identifier, path)
    assert status == 200 and headers['Content-Type'] == 'text/html;charset=utf-8'
    return etree.fromstring(body)


def post(fleet: LocalFleet, identifier: str, form: Dict[str, str]) -> Dict[str, str]:
    """ POST an action to the main page: the answer is a 301 whose location carries the message. """
    status, headers, _body = request(fleet, identifier, '/index.html', form)
    assert status == 301
    location = headers['Location']
    assert location.startswith(f'{fleet[identifier].url}/index.html?')
    return dict(parse_qsl(urlsplit(location).query))


def xpath(node: Any, expression: str) -> List[Any]:
    return node.xpath(expression, namespaces=NS)


def content(element: Any) -> str:
    return ''.join(element.itertext())


def query(href: str) -> Dict[str, str]:
    return dict(parse_qsl(urlsplit(href).query))


def boxes(root: Any) -> Dict[str, Dict[str, Any]]:
    """ The instance boxes: identifier -> name, state, time, load, rows. """
    result = {}
    for box in xpath(root, '//x:div[@id="instances"]/x:div'):
        name = content(xpath(box, './/x:th[contains(@class, "name")]')[0])
        state = xpath(box, './/x:th[contains(@class, " state")]')[0]
        rows = {xpath(tr, './x:td[@class="application"]')[0].text:
                [x.text for x in xpath(tr, './x:td[@class="processes"]/x:span')]
                for tr in xpath(box, './/x:tbody/x:tr')}
        result[name.replace('\u272a ', '')] = {'label': name, 'state': state.text, 'state_class': state.get('class'),
                                               'time': xpath(box, './/x:th[@class="time"]')[0].text,
                                               'load': xpath(box, './/x:th[@class="load"]')[0].text, 'rows': rows}
    return result


def expected_boxes(fleet: LocalFleet, viewer: str) -> Dict[str, Dict[str, Any]]:
    """ The same from XML-RPC. """
    proxy = supvisors(fleet, viewer)
    master = proxy.get_master_identifier()
    rows: Dict[str, Dict[str, List[str]]] = {x: {} for x in IDS}
    for info in sorted(proxy.get_all_process_info(), key=lambda x: (x['application_name'], x['process_name'])):
        if info['statename'] in RUNNING_STATES:
            for identifier in info['identifiers']:
                rows[identifier].setdefault(info['application_name'], []).append(info['process_name'])
    return {info['identifier']: {'label': ('\u272a ' if info['identifier'] == master else '') + info['identifier'],
                                 'state': info['statename'], 'state_class': f"{info['statename']} state",
                                 'load': f"{info['loading']}%", 'rows': rows[info['identifier']]}
            for info in proxy.get_all_instances_info()}


def copies(fleet: LocalFleet, viewer: str, namespec: str) -> Set[str]:
    return set(supvisors(fleet, viewer).get_process_info(namespec)[0]['identifiers'])


def start_directly(fleet: LocalFleet, identifier: str, namespec: str) -> None:
    """ Start a process through Supervisor itself, behind Supvisors' back. """
    assert fleet[identifier].rpc().supervisor.startProcess(namespec) is True


def make_conflict(fleet: LocalFleet, namespec: str, older: str, younger: str, gap: float = 0.0) -> None:
    start_directly(fleet, older, namespec)
    if gap:
        started = fleet[older].rpc().supervisor.getProcessInfo(namespec)['start']
        wait_for(lambda: time.time() >= started + gap + 0.2, gap + 5, what='uptimes apart')
    start_directly(fleet, younger, namespec)
    wait_for(lambda: all(copies(fleet, x, namespec) == {older, younger} for x in IDS), 10,
             what=f'{namespec} seen in conflict everywhere')


def wait_conciliation(fleet: LocalFleet) -> None:
    wait_for(lambda: all(fsm(fleet, x) == 'CONCILIATION' for x in IDS), 15, what='CONCILIATION everywhere')


def wait_resolved(fleet: LocalFleet) -> None:
    wait_for(lambda: all(fsm(fleet, x) == 'OPERATION' and not supvisors(fleet, x).get_conflicts() for x in IDS),
             15, what='no conflict left, OPERATION everywhere')


def stop_everywhere(fleet: LocalFleet, namespec: str) -> None:
    for identifier in IDS:
        info = fleet[identifier].rpc().supervisor.getProcessInfo(namespec)
        if info['statename'] in RUNNING_STATES:
            fleet[identifier].rpc().supervisor.stopProcess(namespec)
    wait_for(lambda: all(not copies(fleet, x, namespec) for x in IDS), 10, what=f'{namespec} stopped everywhere')


def message(values: Dict[str, str]) -> Tuple[str, str]:
    """ (gravity, message without its date). """
    return values['gravity'], re.sub(r' at \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$', '', values['message'])


# --------------------------------------------------------------------------------------------------------- tests
def test_boxes_match_the_fleet_seen_through_xmlrpc(fleet):
    start_directly(fleet, 's2', 'web:server')
    wait_for(lambda: all(copies(fleet, x, 'web:server') == {'s2'} for x in IDS), 10, what='web:server on s2')
    for viewer in IDS:
        root = page(fleet, viewer)
        assert xpath(root, '//x:title')[0].text == 'Supvisors status'
        assert xpath(root, '//x:div[@id="header"]//x:h1')[0].text == 'OPERATION'

        def same() -> bool:
            shown = boxes(page(fleet, viewer))
            times = {x: shown[x].pop('time') for x in shown}
            assert all(re.match(r'^\d\d:\d\d:\d\d$', x) for x in times.values()), times
            return shown == expected_boxes(fleet, viewer)
        wait_for(same, 10, what=f'boxes of {viewer} equal to XML-RPC')
        shown = boxes(page(fleet, viewer))
        assert list(shown) == IDS
        assert shown['s1']['label'] == '\u272a s1'
        assert shown['s2']['load'] == '15%' and shown['s2']['rows'] == {'ticker': ['ticker'], 'web': ['server']}
        assert shown['s3']['rows'] == {'ticker': ['ticker']}
        # names link to proc_instance.html on each instance
        for identifier, anchor in zip(IDS, xpath(root, '//x:div[@id="instances"]//x:th[contains(@class, "name")]/x:a')):
            assert anchor.get('class') == 'on'
            assert anchor.get('href').startswith(f'{fleet[identifier].url}/proc_instance.html?')
    stop_everywhere(fleet, 'web:server')


def test_menu_matches_xmlrpc(fleet):
    for viewer in IDS:
        root = page(fleet, viewer)
        proxy = supvisors(fleet, viewer)
        assert 'view from ' + viewer in content(xpath(root, '//x:div[@class="version"]')[0])
        master = proxy.get_master_identifier()
        entries = xpath(root, '//x:ul[@class="instances"]/x:li')
        infos = {x['identifier']: x for x in proxy.get_all_instances_info()}
        assert [content(x) for x in entries] == [('\u272a ' if x == master else '') + x for x in IDS]
        for identifier, entry in zip(IDS, entries):
            assert entry.get('class') == infos[identifier]['statename']
            href = xpath(entry, './x:a')[0].get('href')
            assert href.startswith(f'{fleet[identifier].url}/proc_instance.html?')
        applications = sorted((x for x in proxy.get_all_applications_info() if x['managed']),
                              key=lambda x: x['application_name'])
        entries = xpath(root, '//x:ul[@class="applications"]/x:li')
        assert [content(x) for x in entries] == [x['application_name'] for x in applications] == ['web']
        for info, entry in zip(applications, entries):
            assert entry.get('class').split()[0] == info['statename']
            href = xpath(entry, './x:a')[0].get('href')
            assert href.startswith('application.html?')
            assert query(href)['appliname'] == info['application_name'] and query(href)['strategy'] == 'CONFIG'


def test_refresh_and_auto_refresh_links(fleet):
    root = page(fleet, 's2')
    refresh = xpath(root, '//x:a[@id="refresh"]')[0]
    auto = xpath(root, '//x:a[@id="autorefresh"]')[0]
    assert (refresh.text, auto.text) == ('Refresh', 'Auto-refresh')
    assert refresh.get('href').startswith('index.html?') and 'auto' not in query(refresh.get('href'))
    assert query(refresh.get('href'))['ident'] == 's2'
    assert query(auto.get('href'))['auto'] == 'True' and 'active' not in auto.get('class')
    assert xpath(root, '//x:meta[@http-equiv="refresh"]') == []
    root = page(fleet, 's2', '/index.html?auto=1')
    auto = xpath(root, '//x:a[@id="autorefresh"]')[0]
    assert 'active' in auto.get('class') and 'auto' not in query(auto.get('href'))
    assert xpath(root, '//x:meta[@http-equiv="refresh"]')[0].get('content') == '5'
    assert 'auto' in query(xpath(root, '//x:a[@id="refresh"]')[0].get('href'))


def test_a_get_with_an_action_only_asks_for_a_confirmation(fleet):
    start_directly(fleet, 's3', 'web:server')
    wait_for(lambda: copies(fleet, 's1', 'web:server') == {'s3'}, 10, what='web:server on s3')
    for path in ('/index.html?action=pstop&namespec=web:server&ident=s3', '/index.html?action=sup_shutdown'):
        root = page(fleet, 's1', path)
        status_box = xpath(root, '//x:div[@id="message"]')[0]
        assert status_box.get('class') == 'warn' and 'Confirm' in content(status_box)
        assert xpath(status_box, './/x:form')[0].get('method') == 'post'
    assert copies(fleet, 's1', 'web:server') == {'s3'} and fsm(fleet, 's1') == 'OPERATION'
    stop_everywhere(fleet, 'web:server')


def test_conciliation_view_and_pstop(fleet):
    make_conflict(fleet, 'web:dup', 's1', 's2')
    wait_conciliation(fleet)
    for viewer in IDS:
        conflicts = supvisors(fleet, viewer).get_conflicts()
        assert [(x['application_name'], x['process_name'], sorted(x['identifiers'])) for x in conflicts] == \
            [('web', 'dup', ['s1', 's2'])]
        root = page(fleet, viewer)
        assert 'blink' in xpath(root, '//x:h1[@id="title"]/x:a')[0].get('class')
        assert xpath(root, '//x:div[@id="instances"]') == []
        assert xpath(root, '//x:div[@id="header"]//x:h1')[0].text == 'CONCILIATION'
        view = xpath(root, '//x:div[@id="conciliation"]')[0]
        assert 'Conciliation Strategies' in content(view)
        for button in xpath(view, './/x:div[contains(@class, "strategies")]//x:a'):
            assert button.get('href').startswith(f'{fleet["s1"].url}/index.html?')
            assert query(button.get('href'))['action'] == button.text.lower()
        rows = xpath(view, './/x:table/x:tbody/x:tr')
        assert len(rows) == 2 and xpath(rows[0], './x:td')[0].text == 'web:dup'
        assert [xpath(x, './x:td[@class="instance"]/x:a')[0].text for x in rows] == ['s1', 's2']
        assert all(re.match(r'^\d\d:\d\d:\d\d$', xpath(x, './x:td[@class="uptime"]')[0].text) for x in rows)
    # Stop button of the s1 copy, clicked on s2's page (the stop goes to s1)
    root = page(fleet, 's2')
    stop = xpath(root, '//x:div[@id="conciliation"]//x:tbody/x:tr[1]/x:td[@class="action"]/x:a')[0]
    assert stop.text == 'Stop'
    form = query(stop.get('href'))
    assert (form['action'], form['namespec'], form['ident']) == ('pstop', 'web:dup', 's1')
    values = post(fleet, 's2', form)
    assert message(values) == ('info', 'process web:dup stopped on s1')
    assert copies(fleet, 's2', 'web:dup') == {'s2'}  # the answer came once it was stopped
    wait_resolved(fleet)
    root = page(fleet, 's2', '/index.html?' + urlencode(values))
    assert xpath(root, '//x:div[@id="message"]')[0].get('class') == 'info'
    assert xpath(root, '//x:div[@id="instances"]')
    stop_everywhere(fleet, 'web:dup')


def test_pkeep(fleet):
    make_conflict(fleet, 'web:dup', 's2', 's3')
    wait_conciliation(fleet)
    values = post(fleet, 's1', {'action': 'pkeep', 'namespec': 'web:dup', 'ident': 's3'})
    assert message(values) == ('info', 'processes web:dup stopped but on s3')
    assert copies(fleet, 's1', 'web:dup') == {'s3'}
    wait_resolved(fleet)
    stop_everywhere(fleet, 'web:dup')


def test_conciliation_strategies(fleet):
    # SENICIDE on one conflict, on the Master: the youngest copy (s2) is kept
    make_conflict(fleet, 'web:dup', 's1', 's2', gap=2.5)
    wait_conciliation(fleet)
    root = page(fleet, 's3')
    strategy_buttons = xpath(root, '//x:div[@id="conciliation"]//x:td[@class="strategy"]/x:a')
    senicide = next(x for x in strategy_buttons if x.text == 'Senicide')
    form = query(senicide.get('href'))
    assert senicide.get('href').startswith(f'{fleet["s1"].url}/index.html?')
    assert (form['action'], form['namespec']) == ('senicide', 'web:dup')
    values = post(fleet, 's1', form)
    assert message(values) == ('info', 'SENICIDE in progress for web:dup')
    wait_resolved(fleet)
    assert copies(fleet, 's1', 'web:dup') == {'s2'}
    stop_everywhere(fleet, 'web:dup')
    # STOP on all conflicts
    make_conflict(fleet, 'web:dup', 's1', 's3')
    make_conflict(fleet, 'web:twin', 's2', 's3')
    wait_conciliation(fleet)
    global_stop = next(x for x in xpath(page(fleet, 's2'), '//x:div[contains(@class, "strategies")]//x:a')
                       if x.text == 'Stop')
    form = query(global_stop.get('href'))
    assert form['action'] == 'stop' and 'namespec' not in form
    values = post(fleet, 's1', form)
    assert message(values) == ('info', 'STOP in progress for all conflicts')
    wait_resolved(fleet)
    assert copies(fleet, 's1', 'web:dup') == set() and copies(fleet, 's1', 'web:twin') == set()


def test_supvisors_restart_last(fleet):
    """ The message reaches the browser before the fleet restarts, and the fleet comes back. """
    pids = {x: fleet[x].rpc().supervisor.getProcessInfo('ticker')['pid'] for x in IDS}
    values = post(fleet, 's2', {'action': 'sup_restart'})
    assert message(values) == ('warn', 'Supvisors restart requested')

    def back() -> bool:
        for identifier in IDS:
            rpc = fleet[identifier].rpc(timeout=2)
            info = rpc.supervisor.getProcessInfo('ticker')
            if info['statename'] != 'RUNNING' or info['pid'] == pids[identifier]:
                return False
            if rpc.supvisors.get_supvisors_state()['fsm_statename'] != 'OPERATION':
                return False
        return True
    wait_for(back, 30, interval=0.2, what='fleet restarted and back in OPERATION')
    assert boxes(page(fleet, 's2'))['s1']['label'] == '\u272a s1'
