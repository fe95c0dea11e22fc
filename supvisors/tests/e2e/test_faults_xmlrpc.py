"""Fault injection on real fleets: random and malformed XML-RPC arguments (property-based, with hypothesis).

Every name of the ``supvisors`` namespace listed by ``system.listMethods`` is called with random arguments: wrong
types and counts, odd unicode, huge strings, integers beyond 64 bits, NaN and infinities, nil, nested arrays and
structs, mixed with real names (applications, processes, programs, strategies, log levels), so that the calls
also reach the deep checks. The requests are marshalled here, so that what the standard client refuses to send
(nil, big integers) is sent too.

Property: the answer is always HTTP 200 with a valid XML-RPC response, either a result or a fault whose code is in
the documented set (xml_rpc.md 1.5), never an HTTP 500 or a dropped connection; both supervisord stay alive and
in OPERATION, and no traceback shows in their logs.

The conciliation strategy is SENICIDE, so that a start through start_args of a process running elsewhere does not
leave the fleet in CONCILIATION. Methods that restart or shut the fleet down are only called with a wrong number of
arguments. update_numprocs is never given a real program with a number of processes above 5: a huge value is
accepted (as in 0.15) and makes supervisord create that many processes, which exhausts its memory.
"""

import http.client
import math
import xmlrpc.client
from typing import Any, Iterator, List
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from supvisors.tools.localfleet import LocalFleet

from .faults import (FileGuard, assert_supervisords_alive, launch, no_traceback, report, rules_xml,
                     supvisors, wait_operation)

pytestmark = pytest.mark.e2e

# xml_rpc.md 1.5: Supervisor's faults used by the namespace, and the Supvisors ones
DOCUMENTED_FAULTS = {1, 2, 6, 10, 20, 21, 30, 40, 50, 60, 70, 100, 101, 102, 103}
CALLABLE = ['get_api_version', 'get_supvisors_state', 'get_master_identifier', 'get_strategies', 'get_instance_info',
            'get_all_instances_info', 'get_all_applications_info', 'get_application_info', 'get_application_rules',
            'get_all_process_info', 'get_process_info', 'get_all_local_process_info', 'get_local_process_info',
            'get_process_rules', 'get_conflicts', 'start_application', 'stop_application', 'restart_application',
            'start_args', 'start_process', 'start_any_process', 'stop_process', 'restart_process',
            'update_numprocs', 'enable', 'disable', 'conciliate', 'restart_sequence', 'restart', 'shutdown',
            'change_log_level']
# listed by system.listMethods but not callable (UNKNOWN_METHOD)
LISTED_ONLY = ['get_logger_levels', 'EnumParameterType', 'OnWaitReturnType', 'OnWaitStringReturnType',
               'WaitReturnType', 'WaitStringReturnType']
# least number of arguments that makes the call harmless (wrong arity) for the methods that act on the whole fleet
ONLY_WITH_WRONG_ARITY = {'restart': 1, 'shutdown': 1, 'restart_sequence': 2}
PROGRAMS_NAMES = ['sleeper', 'multi']
MAX_EXAMPLES = 50

PROGRAMS = """
[group:app]
programs=sleeper,multi

[program:sleeper]
command=sleep 1000
autostart=false
startsecs=0
stopwaitsecs=2

[program:multi]
command=sleep 1000
process_name=multi_%(process_num)d
numprocs=2
autostart=false
startsecs=0
stopwaitsecs=2
"""
RULES = rules_xml("""
    <application name="app">
        <programs><program pattern=""><identifiers>*</identifiers><start_sequence>1</start_sequence></program>
        </programs>
    </application>
""")

# ------------------------------------------------------------------------------------------------ random arguments
# characters allowed in XML 1.0 (the transport itself cannot carry the others)
XML_CHARS = st.characters(blacklist_categories=('Cs',), blacklist_characters='\ufffe\uffff',
                          min_codepoint=0x09).filter(lambda c: c in '\t\n\r' or ord(c) >= 0x20)
TEXT = st.text(XML_CHARS, max_size=40)
HUGE_TEXT = st.builds(lambda char, size: char * size, XML_CHARS, st.integers(1000, 200_000))
REAL = ['', 'app', 'app:sleeper', 'app:*', 'app:', 'app:multi_0', 'sleeper', 'multi', 'multi_1', ':', '*', '.*',
        '(', '[', '\\', '"', "'", 'a"b', 'CONFIG', 'LESS_LOADED', 'LOCAL', 'SENICIDE', 'USER', 'RUNNING_FAILURE',
        's1', 's2', 'info', 'debug', 'blather', 'DEBUG', '__module__', 0, 1, 3, 5, 6, -1, 20, 2 ** 31, 2 ** 63,
        10 ** 40, -(10 ** 40), True, False, 0.0, 1.5, math.inf, -math.inf, math.nan, None, [], {}]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT, HUGE_TEXT, st.sampled_from(REAL))
VALUES = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                      | st.dictionaries(TEXT, children, max_size=4), max_leaves=12)
POSITIONAL = st.one_of(st.sampled_from(REAL), VALUES)
# the parameters of each method (xml_rpc.md 3): in two examples out of three, the right number of arguments, each
# a plausible value of its kind (three times out of four) or a random one, so that the calls reach the deep checks
KINDS = {
    'strategy': ['CONFIG', 'LESS_LOADED', 'MOST_LOADED', 'LOCAL', 0, 1, 3, 5],
    'conciliation': ['SENICIDE', 'INFANTICIDE', 'USER', 'STOP', 0, 2, 5],
    'application': ['app', 'APP', 'app ', 'unknown'],
    'namespec': ['app:sleeper', 'app:*', 'app:', 'app:multi_0', 'app:multi_1', 'sleeper', 'app:unknown'],
    'program': ['sleeper', 'multi', 'app', 'unknown'],
    'identifier': ['s1', 's2', 's3', '127.0.0.1'],
    'extra_args': ['', '1', '-x', '"', "'unbalanced", '$(touch /tmp/pwned)', '; rm -rf /nothing', '2 3 4'],
    'regex': ['sleeper', '^app:multi_', '.*', '(', '[a-', '(a+)+$', '\\', ''],
    'wait': [True, False, 0, 1],
    'numprocs': [0, -1, 1, 2, 3, '2', '0', 'two', 2.5, 1e300],
    'level': ['info', 'debug', 'critical', 'blather', 'DEBUG', 20, 10, 12, '__module__'],
}
SIGNATURES = {
    'get_instance_info': ['identifier'], 'get_application_info': ['application'],
    'get_application_rules': ['application'], 'get_process_info': ['namespec'],
    'get_local_process_info': ['namespec'], 'get_process_rules': ['namespec'],
    'start_application': ['strategy', 'application', 'wait'],
    'restart_application': ['strategy', 'application', 'wait'],
    'stop_application': ['application', 'wait'], 'start_args': ['namespec', 'extra_args', 'wait'],
    'start_process': ['strategy', 'namespec', 'extra_args', 'wait'],
    'start_any_process': ['strategy', 'regex', 'extra_args', 'wait'],
    'restart_process': ['strategy', 'namespec', 'extra_args', 'wait'], 'stop_process': ['namespec', 'wait'],
    'update_numprocs': ['program', 'numprocs', 'wait'], 'enable': ['program', 'wait'], 'disable': ['program', 'wait'],
    'conciliate': ['conciliation'], 'change_log_level': ['level']}


OPTIONAL = ('wait', 'extra_args')


def arguments(method: str) -> st.SearchStrategy:
    """ Three examples out of four: the parameters of the method, each a plausible value of its kind (three times
    out of four) or a random value, a trailing optional one omitted or not; otherwise 0 to 5 random values. """
    signature = SIGNATURES.get(method, [])
    kinds = [st.one_of(*[st.sampled_from(KINDS[kind])] * 3, POSITIONAL) for kind in signature]
    omittable = 1 if signature and signature[-1] in OPTIONAL else 0
    right = st.integers(0, omittable).flatmap(lambda omitted: st.tuples(*kinds[:len(kinds) - omitted]))
    right = right.map(list) if kinds else st.just([])
    return st.integers(0, 3).flatmap(lambda draw: right if draw < 3 else st.lists(POSITIONAL, max_size=5))


def marshal(value: Any) -> str:
    """ XML-RPC <value> of anything, including what the standard client refuses (nil, integers beyond 32 bits). """
    if value is None:
        return '<value><nil/></value>'
    if isinstance(value, bool):
        return f'<value><boolean>{int(value)}</boolean></value>'
    if isinstance(value, int):
        return f'<value><int>{value}</int></value>'
    if isinstance(value, float):
        return f'<value><double>{value!r}</double></value>'
    if isinstance(value, str):
        return f'<value><string>{escape(value)}</string></value>'
    if isinstance(value, (list, tuple)):
        return '<value><array><data>' + ''.join(marshal(item) for item in value) + '</data></array></value>'
    if isinstance(value, dict):
        return ('<value><struct>' + ''.join(f'<member><name>{escape(str(key))}</name>{marshal(item)}</member>'
                                            for key, item in value.items()) + '</struct></value>')
    raise TypeError(value)


def call(instance, method: str, args: List[Any], timeout: float = 60.0) -> Any:
    """ POST the call; return the result or the Fault; fail on anything else (HTTP error, invalid response). """
    body = ("<?xml version='1.0'?><methodCall><methodName>" + escape(method) + '</methodName><params>'
            + ''.join(f'<param>{marshal(arg)}</param>' for arg in args) + '</params></methodCall>')
    connection = http.client.HTTPConnection(instance.host, instance.http_port, timeout=timeout)
    try:
        connection.request('POST', '/RPC2', body=body.encode('utf-8'), headers={'Content-Type': 'text/xml'})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    assert response.status == 200, f'{method}{tuple(args)!r:.300}: HTTP {response.status} {data[:300]!r}'
    try:
        return xmlrpc.client.loads(data, use_builtin_types=True)[0][0]
    except xmlrpc.client.Fault as fault:
        return fault
    except ExpatError as exc:
        pytest.fail(f'{method}{tuple(args)!r:.300}: invalid XML-RPC response ({exc}): {data[:300]!r}')


def harmless(method: str, args: List[Any]) -> bool:
    """ Filter of the examples: no fleet restart or shutdown, no huge numprocs on a real program. """
    if method in ONLY_WITH_WRONG_ARITY:
        return len(args) >= ONLY_WITH_WRONG_ARITY[method]
    if method == 'update_numprocs' and len(args) >= 2 and args[0] in PROGRAMS_NAMES:
        try:
            return int(args[1]) <= 5
        except (TypeError, ValueError, OverflowError):
            return True
    return True


# ------------------------------------------------------------------------------------------------ fleet
@pytest.fixture(scope='module')
def fleet(tmp_path_factory) -> Iterator[LocalFleet]:
    fleet = LocalFleet(['s1', 's2'], str(tmp_path_factory.mktemp('xmlrpc')),
                       options={'core_identifiers': 's1,s2', 'tick_period': '1',
                                'conciliation_strategy': 'SENICIDE'}, programs=PROGRAMS, rules=RULES)
    fleet.guard = FileGuard.of_fleet(fleet)
    fleet.calls = 0
    fleet.results = 0
    fleet.faults = {}
    fleet.outcomes = {}
    try:
        launch(fleet)
        yield fleet
    finally:
        for instance in fleet:
            instance.kill()


@pytest.fixture(autouse=True)
def restored(fleet):
    """ After each method: both supervisord alive and in OPERATION; what the calls may have changed is restored
    (log level, disabled programs, numprocs, running processes). """
    yield
    assert_supervisords_alive(fleet)
    wait_operation(fleet, timeout=60)
    for instance in fleet:
        proxy = supvisors(instance, 60)
        proxy.change_log_level('info')
        for program in PROGRAMS_NAMES:
            proxy.enable(program)
        proxy.update_numprocs('multi', 2)
    proxy = supvisors(fleet['s1'], 60)
    if any(info['identifiers'] for info in proxy.get_all_process_info()):
        try:
            proxy.stop_process('app:*')
        except xmlrpc.client.Fault as exc:
            assert exc.faultCode in (40, 70), exc


def test_listed_methods(fleet):
    methods = fleet['s1'].rpc().system.listMethods()
    assert sorted(x.split('.', 1)[1] for x in methods if x.startswith('supvisors.')) == sorted(CALLABLE + LISTED_ONLY)


@pytest.mark.parametrize('method', CALLABLE + LISTED_ONLY)
def test_random_arguments(fleet, method):
    instance = fleet['s1']
    name = f'supvisors.{method}'

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(args=arguments(method))
    def check(args):
        assume(harmless(method, args))
        answer = call(instance, name, args)
        fleet.calls += 1
        outcomes = fleet.outcomes.setdefault(method, {})
        if isinstance(answer, xmlrpc.client.Fault):
            assert answer.faultCode in DOCUMENTED_FAULTS, f'{name}{tuple(args)!r:.300}: {answer}'
            fleet.faults[answer.faultCode] = fleet.faults.get(answer.faultCode, 0) + 1
            outcomes[answer.faultCode] = outcomes.get(answer.faultCode, 0) + 1
        else:
            fleet.results += 1
            outcomes['result'] = outcomes.get('result', 0) + 1
        if method in LISTED_ONLY:
            assert isinstance(answer, xmlrpc.client.Fault) and answer.faultCode == 1, answer
    check()
    assert instance.alive
    wait_operation(fleet, timeout=60)


def test_start_args_refuses_extra_args_that_are_not_a_string(fleet):
    """ extra_args is a string (xml_rpc.md 4.19): anything else is INCORRECT_PARAMETERS, and nothing is started. """
    try:
        for value in (10 ** 40, 1.5, [1, [2]], {'a': 1}, None):
            answer = call(fleet['s1'], 'supvisors.start_args', ['app:sleeper', value, True])
            assert isinstance(answer, xmlrpc.client.Fault) and answer.faultCode == 2, (value, answer)
            for instance in fleet:
                supvisors(instance).get_all_process_info()
                supvisors(instance).get_all_local_process_info()
    finally:
        # whatever happened, a start with string arguments repairs the views
        try:
            supvisors(fleet['s1'], 30).stop_process('app:sleeper')
        except xmlrpc.client.Fault:
            pass
        call(fleet['s1'], 'supvisors.start_args', ['app:sleeper', '', True])
        supvisors(fleet['s1'], 30).stop_process('app:sleeper')


def test_nothing_broke(fleet):
    """ Last of the module: no traceback anywhere, no file changed, both instances still synchronised. """
    for instance in fleet:
        no_traceback(instance)
        assert 'uncaptured python exception' not in instance.log()
    fleet.guard.check()
    wait_operation(fleet, timeout=30)
    print('\noutcomes per method: ' + '; '.join(f'{method}: {outcomes}' for method, outcomes in fleet.outcomes.items()))
    report('random and malformed XML-RPC arguments',
           f'{fleet.calls} calls of the {len(CALLABLE + LISTED_ONLY)} names of the supvisors namespace with random '
           f'arguments (hypothesis, {MAX_EXAMPLES} examples each)', None,
           f'nothing: every answer a result ({fleet.results}) or a documented fault (codes seen: '
           f'{dict(sorted(fleet.faults.items()))}), no HTTP error, no traceback, OPERATION kept')
