"""The dashboard framework: parameter validation, link building, request flow, live stream, static files."""

from collections import OrderedDict
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from supervisor.http import NOT_DONE_YET

from supvisors.ttypes import StartingStrategies
from supvisors.web import dashboard as dashboard_module
from supvisors.web.dashboard import DashboardHandler, LiveProducer, patch_tail_producer
from supvisors.web.pages.base import BasePage
from supvisors.web.viewcontext import (ViewContext, build_query, error_message, format_message, strtobool,
                                       supervisor_message)

from .fakes import FakeLogger


class FakeProcess:
    def __init__(self, running_on):
        self.running_on_ids = set(running_on)

    def running_on(self, identifier):
        return identifier in self.running_on_ids


class FakeContext:
    def __init__(self, names, processes):
        self.applications = OrderedDict((name, object()) for name in names)
        self.processes = processes

    def get_process(self, namespec):
        return self.processes.get(namespec)


class FakeStatistics:
    periods = [5, 15]
    version = 0

    def nb_cores(self, _identifier):
        return 2

    def get_stats(self, _identifier, _period):
        return SimpleNamespace(io={'lo': ([], []), 'eth0': ([], [])})


def make_dashboard(applications=('app', 'other'), processes=None):
    instances = OrderedDict((x, SimpleNamespace(host_name=f'host-{x}', http_port=port))
                            for x, port in (('s1', 60001), ('s2', 60002)))
    runtime = SimpleNamespace(
        mapper=SimpleNamespace(instances=instances, local_identifier='s1'),
        options=SimpleNamespace(starting_strategy=StartingStrategies.CONFIG, tail_limit=1024),
        core=SimpleNamespace(context=FakeContext(applications, processes or {'app:p1': FakeProcess(['s1'])})),
        statistics=FakeStatistics(), logger=FakeLogger(), version=0)
    dashboard = SimpleNamespace(runtime=runtime, logger=runtime.logger, statistics=runtime.statistics)
    dashboard.interface_names = lambda period: ['eth0', 'lo']
    return dashboard


def context(form, page='index.html', **kwargs):
    return ViewContext(make_dashboard(**kwargs), page, form, 'http://host-s1:60001', f'/{page}')


# ---------------------------------------------------------------------- helpers
def test_strtobool_accepts_the_python_literals_only():
    for word in ('1', 'true', 'YES', 'on', 'y', 't'):
        assert strtobool(word) is True
    for word in ('0', 'False', 'no', 'OFF', 'n', 'f'):
        assert strtobool(word) is False
    with pytest.raises(ValueError):
        strtobool('maybe')


def test_build_query_drops_falsy_values_and_sorts_keys():
    assert build_query({'b': 'x y', 'a': 1, 'c': 0, 'd': None, 'e': '', 'f': False, 'g': True}) == \
        'a=1&b=x%20y&g=True'
    assert build_query({}) == ''


def test_messages_carry_the_time_and_the_instance():
    gravity, text = error_message('boom', 's2')
    assert gravity == 'erro' and text.startswith('boom at ') and text.endswith(' on s2')
    assert format_message('done').startswith('done at ')


def test_supervisor_messages_get_a_gravity_from_their_words():
    assert supervisor_message('ERROR: Process x: already started') == ('erro', 'Process x: already started')
    assert supervisor_message('unexpected rpc fault [10] BAD') == ('warn', 'unexpected rpc fault [10] BAD')
    assert supervisor_message('Process x started') == ('info', 'Process x started')


# ---------------------------------------------------------------------- validation
def test_defaults_when_no_parameter_is_given():
    ctx = context({})
    assert ctx.errors == []
    assert ctx.identifier == 's1'
    assert ctx.period == 5
    assert ctx.strategy == StartingStrategies.CONFIG
    assert ctx.get('cpuid') == 0
    assert ctx.get('intfname') == 'eth0'
    assert ctx.get('shex') == b'\xff'
    assert ctx.get('limit') == 1024
    assert not ctx.auto and ctx.action is None and ctx.message is None


@pytest.mark.parametrize('name, value, error', [
    ('ident', 'zz', 'Incorrect ident: zz'),
    ('appliname', 'nope', 'Incorrect appliname: nope'),
    ('namespec', 'app:zz', 'Incorrect namespec: app:zz'),
    ('processname', 'app:zz', 'Incorrect processname: app:zz'),
    ('period', '10', 'Incorrect period: 10'),
    ('period', 'ten', 'period is not an integer: ten'),
    ('strategy', 'FASTEST', 'Incorrect strategy: FASTEST'),
    ('cpuid', '3', 'Incorrect cpuid: 3'),
    ('cpuid', 'x', 'cpuid is not an integer: x'),
    ('intfname', 'wlan9', 'Incorrect intfname: wlan9'),
    ('auto', 'perhaps', 'auto is not a boolean-like: perhaps'),
    ('limit', '12k', 'limit is not an integer: 12k'),
])
def test_invalid_values_are_reported_and_defaulted(name, value, error):
    ctx = context({name: value})
    assert ctx.errors == [error]
    gravity, text = ctx.parameter_error_message()
    assert gravity == 'erro' and text.startswith(f'{error} at ')
    # the redirection uses the corrected values, so it cannot loop
    location = ctx.redirect_location(ctx.parameter_error_message())
    query = dict(parse_qsl(urlsplit(location).query))
    assert query.get(name) != value
    assert query['gravity'] == 'erro'


def test_valid_values_are_kept():
    ctx = context({'ident': 's2', 'appliname': 'other', 'namespec': 'app:', 'period': '15', 'cpuid': '2',
                   'intfname': 'lo', 'auto': 'on', 'strategy': 'LOCAL', 'processname': 'supervisord'})
    assert ctx.errors == []
    assert (ctx.identifier, ctx.get('appliname'), ctx.get('namespec'), ctx.period, ctx.get('cpuid'),
            ctx.get('intfname'), ctx.auto, ctx.strategy, ctx.get('processname')) == \
        ('s2', 'other', 'app:', 15, 2, 'lo', True, StartingStrategies.LOCAL, 'supervisord')


def test_process_name_must_run_on_the_selected_instance():
    assert context({'processname': 'app:p1'}).get('processname') == 'app:p1'
    ctx = context({'processname': 'app:p1', 'ident': 's2'})
    assert ctx.get('processname') is None and ctx.errors == ['Incorrect processname: app:p1']


def test_malformed_shex_is_only_logged():
    for value in ('zz', 'ffff', '0'):
        ctx = context({'shex': value})
        assert ctx.errors == [] and ctx.get('shex') == b'\xff'
    ctx = context({'shex': '01'})
    assert ctx.is_expanded('app') and not ctx.is_expanded('other')
    assert ctx.toggled_shex('app') == '00' and ctx.toggled_shex('other') == '03'


def test_message_and_gravity_are_displayed():
    assert context({'message': 'hello', 'gravity': 'warn'}).message == ('warn', 'hello')
    assert context({'message': 'hello', 'gravity': 'bad'}).message == ('info', 'hello')


# ---------------------------------------------------------------------- links
def test_relative_links_keep_the_current_parameters():
    ctx = context({'auto': '1', 'period': '15'})
    assert ctx.format_url(None, 'index.html') == 'index.html?auto=True&ident=s1&intfname=eth0&period=15&shex=ff&strategy=CONFIG'
    assert ctx.format_url(None, 'index.html', auto=False, period=None, action='stop') == \
        'index.html?action=stop&ident=s1&intfname=eth0&shex=ff&strategy=CONFIG'


def test_links_to_instances_are_absolute_and_drop_shex_elsewhere():
    ctx = context({})
    assert ctx.format_url('s1', 'proc_instance.html') == \
        'http://host-s1:60001/proc_instance.html?ident=s1&intfname=eth0&period=5&shex=ff&strategy=CONFIG'
    assert ctx.format_url('s2', 'proc_instance.html') == \
        'http://host-s2:60002/proc_instance.html?ident=s1&intfname=eth0&period=5&strategy=CONFIG'


# ---------------------------------------------------------------------- request flow
class DemoPage(BasePage):
    page_name = 'index.html'

    def __init__(self, dashboard, ctx, result):
        self.dashboard, self.ctx, self.result = dashboard, ctx, result
        self.performed = []

    def actions(self):
        def act():
            self.performed.append(self.ctx.action)
            return self.result
        return {'go': act}

    def render(self, confirm=False):
        return f'page confirm={confirm}'


def respond(form, is_post, result=('info', 'done')):
    ctx = context(form)
    page = DemoPage(ctx.dashboard, ctx, result)
    return page, page.respond(is_post)


def test_a_plain_get_renders_the_page():
    page, callback = respond({}, False)
    assert callback()['body'] == b'page confirm=False'


def test_a_get_with_an_action_only_asks_for_a_confirmation():
    page, callback = respond({'action': 'go'}, False)
    assert callback()['body'] == b'page confirm=True'
    assert page.performed == []


def test_a_post_performs_the_action_and_redirects_with_its_message():
    page, callback = respond({'action': 'go'}, True)
    assert page.performed == ['go']
    location = callback()['headers']['Location']
    query = dict(parse_qsl(urlsplit(location).query))
    assert location.startswith('http://host-s1:60001/index.html?')
    assert (query['gravity'], query['message']) == ('info', 'done')
    assert 'action' not in query


def test_a_deferred_action_is_polled_until_it_completes():
    outcomes = [NOT_DONE_YET, NOT_DONE_YET, ('warn', 'later')]
    page, callback = respond({'action': 'go'}, True, result=lambda: outcomes.pop(0))
    assert callback() is NOT_DONE_YET
    assert callback() is NOT_DONE_YET
    assert 'message=later' in callback()['headers']['Location']


def test_unknown_actions_and_parameter_errors_redirect_with_an_error():
    page, callback = respond({'action': 'fly'}, True)
    assert 'Incorrect%20action%3A%20fly' in callback()['headers']['Location']
    page, callback = respond({'action': 'go', 'ident': 'zz'}, True)
    assert page.performed == []
    assert 'Incorrect%20ident%3A%20zz' in callback()['headers']['Location']


# ---------------------------------------------------------------------- live stream, static files, tail -f
def test_live_stream_sends_an_event_when_the_view_changes():
    state = SimpleNamespace(version=(1, 0))
    producer = LiveProducer(state)
    assert producer.more().startswith(b'retry:')
    assert producer.more() is NOT_DONE_YET
    state.version = (2, 0)
    assert producer.more() == b'data: 2.0\n\n'
    assert producer.more() is NOT_DONE_YET
    producer.last_sent -= dashboard_module.LIVE_HEARTBEAT + 1
    assert producer.more() == b': alive\n\n'


def test_static_files_never_leave_the_ui_directory():
    assert DashboardHandler._static_file('/../../setup.py') is None
    assert DashboardHandler._static_file('/') is None
    assert DashboardHandler._static_file('/css/missing.css') is None


def test_tail_f_starts_at_least_tailf_limit_bytes_before_the_end(monkeypatch):
    calls = []

    def original(request, filename, head):
        calls.append(head)
    monkeypatch.setattr(dashboard_module.http, 'tail_f_producer', original)
    patch_tail_producer(4096)
    dashboard_module.http.tail_f_producer(None, 'file', 1024)
    patch_tail_producer(10)  # patching again wraps the original, not the previous patch
    dashboard_module.http.tail_f_producer(None, 'file', 1024)
    assert calls == [4096, 1024]
