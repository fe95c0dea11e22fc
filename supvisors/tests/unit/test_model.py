"""Process synthesis, application state and the fleet context (behaviour §4, XML-RPC contract §7)."""

from types import SimpleNamespace

import pytest

from supvisors.model.application import ApplicationStatus
from supvisors.model.context import Context, UnknownProcess
from supvisors.model.process import ProcessStatus
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.ttypes import ApplicationStates, ProcessStates as PS

NOW = 1700000000.0


def process_rules(required=False, expected_loading=0):
    return SimpleNamespace(required=required, expected_loading=expected_loading,
                           serial=lambda app, proc: {'application_name': app, 'process_name': proc})


def app_rules(managed=True):
    return SimpleNamespace(managed=managed, serial=lambda name: {'application_name': name, 'managed': managed})


def info(name='p', group='g', state=PS.STOPPED, start=0, stop=0, spawnerr='', extra_args='', disabled=False):
    return {'name': name, 'group': group, 'state': int(state), 'statename': PS(state).name, 'start': start,
            'stop': stop, 'now': NOW, 'pid': 0, 'description': '', 'spawnerr': spawnerr, 'expected': not spawnerr,
            'startsecs': 1, 'stopwaitsecs': 10, 'extra_args': extra_args, 'disabled': disabled}


def event(state, name='p', group='g', now=NOW, expected=True, extra_args=''):
    return {'name': name, 'group': group, 'state': int(state), 'now': now, 'pid': 42, 'expected': expected,
            'spawnerr': '' if expected else 'Bad exit code 1', 'extra_args': extra_args, 'disabled': False}


class FakeResolver:
    def __init__(self, managed=True, required=(), loading=None):
        self.managed = managed
        self.required = set(required)
        self.loading = loading or {}

    def application_rules(self, name):
        return app_rules(self.managed)

    def process_rules(self, app, proc, rules):
        return process_rules(proc in self.required, self.loading.get(proc, 0))

    def take_autorestart_changes(self):
        return []


# ---------------------------------------------------------------------------------------------------- process
def test_process_before_any_information_is_unknown_and_expected():
    process = ProcessStatus('g', 'p', process_rules())
    assert (process.state, process.expected_exit) == (PS.UNKNOWN, True)
    assert process.serial() == {'application_name': 'g', 'process_name': 'p', 'statecode': 1000,
                                'statename': 'UNKNOWN', 'expected_exit': True, 'last_event_time': 0.0,
                                'identifiers': [], 'extra_args': ''}


def test_process_namespec_rendering():
    assert ProcessStatus('g', 'p', process_rules()).namespec == 'g:p'
    assert ProcessStatus('p', 'p', process_rules()).namespec == 'p'


def test_process_single_instance_follows_its_state():
    process = ProcessStatus('g', 'p', process_rules())
    process.add_info('s1', info(), NOW)
    assert process.state == PS.STOPPED and not process.running_identifiers
    process.update_info('s1', event(PS.STARTING), NOW + 1)
    assert process.state == PS.STARTING and process.running_identifiers == {'s1'}
    process.update_info('s1', event(PS.RUNNING), NOW + 2)
    assert process.state == PS.RUNNING and process.last_event_time == NOW + 2
    process.update_info('s1', event(PS.STOPPING), NOW + 3)
    assert process.state == PS.STOPPING and process.running_identifiers == {'s1'}
    process.update_info('s1', event(PS.EXITED, expected=False), NOW + 4)
    assert process.state == PS.EXITED and process.expected_exit is False and not process.running_identifiers
    assert process.crashed()


def test_process_conflict_priority_and_resolution():
    process = ProcessStatus('g', 'p', process_rules())
    for identifier in ('s1', 's2', 's3'):
        process.add_info(identifier, info(), NOW)
    process.update_info('s1', event(PS.STARTING), NOW)
    process.update_info('s2', event(PS.BACKOFF), NOW)
    assert process.conflicting() and process.state == PS.BACKOFF
    process.update_info('s3', event(PS.STARTING), NOW)
    process.update_info('s3', event(PS.RUNNING), NOW)
    assert process.state == PS.RUNNING and process.running_identifiers == {'s1', 's2', 's3'}
    assert process.serial()['identifiers'] == ['s1', 's2', 's3']
    process.update_info('s3', event(PS.STOPPED), NOW)
    process.update_info('s2', event(PS.FATAL, expected=False), NOW)
    assert not process.conflicting() and process.state == PS.STARTING and process.expected_exit


def test_process_starting_elsewhere_after_a_stop_resets_the_running_set():
    process = ProcessStatus('g', 'p', process_rules())
    process.add_info('s1', info(), NOW)
    process.add_info('s2', info(), NOW)
    process.update_info('s1', event(PS.STARTING), NOW)
    process.update_info('s1', event(PS.STOPPED), NOW + 1)
    process.update_info('s2', event(PS.STARTING), NOW + 2)
    assert process.running_identifiers == {'s2'}


def test_process_stopped_everywhere_takes_the_latest_stop():
    process = ProcessStatus('g', 'p', process_rules())
    process.add_info('s1', info(state=PS.EXITED, start=NOW - 20, stop=NOW - 10, spawnerr='Bad exit code 2'), NOW)
    process.add_info('s2', info(state=PS.STOPPED, start=NOW - 20, stop=NOW - 5), NOW)
    assert (process.state, process.expected_exit) == (PS.STOPPED, True)
    process.update_info('s1', event(PS.STARTING, now=NOW), NOW)
    process.update_info('s1', event(PS.EXITED, now=NOW + 1, expected=False), NOW + 1)
    assert (process.state, process.expected_exit) == (PS.EXITED, False)


def test_process_stopping_somewhere_while_stopped_elsewhere():
    process = ProcessStatus('g', 'p', process_rules())
    process.add_info('s1', info(state=PS.STOPPING), NOW)
    process.add_info('s2', info(state=PS.STOPPED), NOW)
    assert process.state == PS.STOPPING


def test_forced_state_overrides_until_a_real_event():
    process = ProcessStatus('g', 'p', process_rules())
    process.add_info('s1', info(), NOW)
    assert process.force_state(PS.FATAL, 'no resource available', NOW, None, NOW + 1)
    assert process.displayed_state == PS.FATAL and process.serial()['statename'] == 'FATAL'
    assert process.state == PS.STOPPED  # the synthesis itself is untouched
    # a STOPPED information loaded does not clear it, a real event does
    process.add_info('s2', info(), NOW + 2)
    assert process.displayed_state == PS.FATAL
    process.update_info('s1', event(PS.STARTING), NOW + 3)
    assert process.displayed_state == PS.STARTING and process.forced_state is None


def test_forced_state_ignored_when_a_more_recent_event_exists():
    process = ProcessStatus('g', 'p', process_rules())
    process.add_info('s1', info(), NOW)
    process.update_info('s1', event(PS.STARTING), NOW + 10)
    assert not process.force_state(PS.FATAL, 'process RUNNING event not received in time', NOW + 5, 's1', NOW + 11)
    assert process.displayed_state == PS.STARTING


def test_lost_instance_makes_the_process_fatal_there():
    process = ProcessStatus('g', 'p', process_rules())
    process.add_info('s1', info(), NOW)
    process.update_info('s1', event(PS.RUNNING), NOW)
    assert process.invalidate_instance('s1', NOW + 5)
    record = process.info_map['s1']
    assert record['state'] == PS.FATAL and record['spawnerr'] == 'Supervisor s1 lost' and not record['expected']
    assert process.state == PS.FATAL and not process.running_identifiers
    # not running there: nothing to do
    assert not process.invalidate_instance('s1', NOW + 6)


def test_extra_args_adopted_from_events_and_reset_on_disagreement():
    process = ProcessStatus('g', 'p', process_rules())
    process.add_info('s1', info(extra_args='-v'), NOW)
    assert process.extra_args == '-v'
    process.add_info('s2', info(extra_args=''), NOW)
    assert process.extra_args == ''
    process.update_info('s2', event(PS.STARTING, extra_args='-x'), NOW)
    assert process.extra_args == '-x'


# ---------------------------------------------------------------------------------------------------- application
def make_application(states, required=(), expected=True, managed=True):
    application = ApplicationStatus('g', app_rules(managed))
    for idx, state in enumerate(states):
        name = f'p{idx}'
        process = ProcessStatus('g', name, process_rules(name in required))
        process.add_info('s1', info(name=name), NOW)
        if state != PS.STOPPED:
            process.update_info('s1', event(state, name=name, expected=expected), NOW)
        application.processes[name] = process
    application.update_status()
    return application


@pytest.mark.parametrize('states, expected_state', [
    ([PS.STOPPED, PS.STOPPED], ApplicationStates.STOPPED),
    ([PS.RUNNING, PS.STOPPED], ApplicationStates.RUNNING),
    ([PS.RUNNING, PS.STARTING], ApplicationStates.STARTING),
    ([PS.RUNNING, PS.BACKOFF], ApplicationStates.STARTING),
    ([PS.STARTING, PS.STOPPING], ApplicationStates.STOPPING),
])
def test_application_state(states, expected_state):
    assert make_application(states).state == expected_state


def test_application_failures():
    application = make_application([PS.RUNNING, PS.FATAL], required=['p1'])
    assert application.major_failure and not application.minor_failure
    application = make_application([PS.RUNNING, PS.FATAL])
    assert not application.major_failure and application.minor_failure
    # a required process STOPPED is a major failure only when the application is not STOPPED
    application = make_application([PS.RUNNING, PS.STOPPED], required=['p1'])
    assert application.major_failure
    application = make_application([PS.STOPPED, PS.STOPPED], required=['p1'])
    assert not application.major_failure
    # an unexpected exit is a failure, an expected one is not
    assert make_application([PS.RUNNING, PS.EXITED], expected=False).minor_failure
    assert not make_application([PS.EXITED], expected=True).minor_failure


def test_unmanaged_application_is_always_stopped_without_failure():
    application = make_application([PS.RUNNING, PS.FATAL], required=['p1'], managed=False)
    assert application.serial() == {'application_name': 'g', 'managed': False, 'statecode': 0,
                                    'statename': 'STOPPED', 'major_failure': False, 'minor_failure': False}


# ---------------------------------------------------------------------------------------------------- context
def test_context_discovery_order_and_loading():
    context = Context(FakeResolver(loading={'a': 10, 'b': 25}), FakeLogger())
    context.load_processes('s1', [info('a', 'g1'), info('b', 'g1'), info('c', 'g2')], NOW)
    context.load_processes('s2', [info('c', 'g2'), info('d', 'g0')], NOW)
    assert list(context.applications) == ['g1', 'g2', 'g0']
    assert [p.namespec for p in context.processes()] == ['g1:a', 'g1:b', 'g2:c', 'g0:d']
    context.on_process_event('s1', event(PS.RUNNING, 'a', 'g1'), NOW)
    context.on_process_event('s1', event(PS.STARTING, 'b', 'g1'), NOW)
    assert context.loading('s1') == 35 and context.loading('s2') == 0


def test_context_event_notifications_and_unknown_process():
    context = Context(FakeResolver(), FakeLogger())
    context.load_processes('s1', [info('a', 'g')], NOW)
    _, notifications = context.on_process_event('s1', event(PS.STARTING, 'a', 'g'), NOW)
    assert [topic for topic, _ in notifications] == ['event', 'process', 'application']
    assert notifications[0][1]['identifier'] == 's1'
    with pytest.raises(UnknownProcess):
        context.on_process_event('s2', event(PS.STARTING, 'a', 'g'), NOW)
    with pytest.raises(UnknownProcess):
        context.on_process_event('s1', event(PS.STARTING, 'x', 'g'), NOW)


def test_context_conflicts_only_for_managed_applications():
    for managed, expected in ((True, ['g:a']), (False, [])):
        context = Context(FakeResolver(managed=managed), FakeLogger())
        context.load_processes('s1', [info('a', 'g')], NOW)
        context.load_processes('s2', [info('a', 'g')], NOW)
        context.on_process_event('s1', event(PS.RUNNING, 'a', 'g'), NOW)
        context.on_process_event('s2', event(PS.RUNNING, 'a', 'g'), NOW)
        assert [p.namespec for p in context.conflicts()] == expected


def test_context_instance_lost():
    context = Context(FakeResolver(), FakeLogger())
    context.load_processes('s1', [info('a', 'g'), info('b', 'g')], NOW)
    context.load_processes('s2', [info('a', 'g')], NOW)
    context.on_process_event('s1', event(PS.RUNNING, 'a', 'g'), NOW)
    context.on_process_event('s2', event(PS.RUNNING, 'a', 'g'), NOW)
    context.on_process_event('s1', event(PS.RUNNING, 'b', 'g'), NOW)
    failures, notifications = context.on_instance_lost('s1', NOW + 1)
    assert [p.namespec for p in failures] == ['g:b']  # g:a still runs on s2
    assert [topic for topic, _ in notifications] == ['process', 'process', 'application']


def test_context_process_removed():
    context = Context(FakeResolver(), FakeLogger())
    context.load_processes('s1', [info('a', 'g'), info('b', 'g')], NOW)
    context.load_processes('s2', [info('a', 'g')], NOW)
    notifications = context.on_process_removed('s1', 'g', 'b', NOW)
    assert 'b' not in context.applications['g'].processes
    assert ['DELETED'] == [payload['statename'] for topic, payload in notifications if topic == 'process']
    notifications = context.on_process_removed('s1', 'g', '*', NOW)
    assert 'g' in context.applications  # still known on s2
    notifications = context.on_process_removed('s2', 'g', '*', NOW)
    assert 'g' not in context.applications
    assert notifications[-1][1]['statename'] == 'DELETED'
    with pytest.raises(UnknownProcess):
        context.on_process_removed('s2', 'g', 'a', NOW)


def test_context_invalid_information_is_logged_and_skipped():
    logger = FakeLogger()
    context = Context(FakeResolver(), logger)
    context.load_processes('s1', [{'name': 'a'}, info('b', 'g'), {'group': 'g', 'name': 'c', 'state': 'bad'}], NOW)
    assert [p.namespec for p in context.processes()] == ['g:b']
    assert any(level == 'error' for level, _ in logger.messages)
