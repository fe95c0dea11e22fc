"""The REST front supvisorsflask (interfaces 5.2): every route against a recording fake XML-RPC proxy, the
converters, the query parameters, the error mapping, the Swagger document and the command line."""

import re
import threading
import xmlrpc.client
from typing import Any, Dict, Iterator, List, Optional, Tuple
from xmlrpc.server import SimpleXMLRPCServer

import pytest

pytest.importorskip('flask_restx')

from supervisor.xmlrpc import SupervisorTransport  # noqa: E402

from supvisors.tools import supvisorsflask  # noqa: E402
from supvisors.tools.supvisorsflask import create_app, main, make_proxy, parse_args  # noqa: E402

URL = 'http://localhost:60000'

STRATEGIES = ['CONFIG', 'LESS_LOADED', 'MOST_LOADED', 'LOCAL', 'LESS_LOADED_NODE', 'MOST_LOADED_NODE']
CONCILIATIONS = ['SENICIDE', 'INFANTICIDE', 'USER', 'STOP', 'RESTART', 'RUNNING_FAILURE']
LOG_LEVELS = ['critical', 'error', 'warn', 'info', 'debug', 'trace', 'blather']


# ----------------------------------------------------------------------------------------------------------------
# fake XML-RPC proxy
# ----------------------------------------------------------------------------------------------------------------
class FakeServer:
    """What the fake proxies share: the calls received, and the result or error of each method."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, Tuple[Any, ...]]] = []
        self.urls: List[str] = []
        self.results: Dict[str, Any] = {'supvisors.get_api_version': '0.15'}
        self.errors: Dict[str, Exception] = {}

    def call(self, name: str, args: Tuple[Any, ...]) -> Any:
        self.calls.append((name, args))
        if name in self.errors:
            raise self.errors[name]
        return self.results.get(name, {'method': name, 'args': list(args)})

    @property
    def route_calls(self) -> List[Tuple[str, Tuple[Any, ...]]]:
        """Calls made by the route of a single request, after the API version asked before every request."""
        if not self.calls:
            return []
        assert self.calls[0] == ('supvisors.get_api_version', ())
        return self.calls[1:]


class FakeProxy:
    """Stands for xmlrpc.client.ServerProxy: proxy.namespace.method(*args) is recorded by the server."""

    def __init__(self, server: FakeServer, prefix: str = '') -> None:
        self._server = server
        self._prefix = prefix

    def __getattr__(self, name: str) -> 'FakeProxy':
        return FakeProxy(self._server, f'{self._prefix}.{name}' if self._prefix else name)

    def __call__(self, *args: Any) -> Any:
        return self._server.call(self._prefix, args)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    fake = FakeServer()

    def factory(url: str) -> FakeProxy:
        fake.urls.append(url)
        return FakeProxy(fake)

    monkeypatch.setattr(supvisorsflask, 'make_proxy', factory)
    return fake


@pytest.fixture(scope='module')
def app():
    """One application for the module: the proxy factory is looked up at each request, so it can be patched."""
    application = create_app(URL)
    application.config['TESTING'] = True
    return application


@pytest.fixture
def client(app, server):
    return app.test_client()


# ----------------------------------------------------------------------------------------------------------------
# the contract: every route, written from the specification (method, URL, XML-RPC method, forwarded arguments)
# ----------------------------------------------------------------------------------------------------------------
ROUTES: List[Tuple[str, str, str, Tuple[Any, ...]]] = [
    # system
    ('GET', '/system/listMethods', 'system.listMethods', ()),
    ('GET', '/system/methodHelp/supervisor.getState', 'system.methodHelp', ('supervisor.getState',)),
    ('GET', '/system/methodSignature/supvisors.start_process', 'system.methodSignature',
     ('supvisors.start_process',)),
    # supervisor
    ('GET', '/supervisor/getAPIVersion', 'supervisor.getAPIVersion', ()),
    ('GET', '/supervisor/getSupervisorVersion', 'supervisor.getSupervisorVersion', ()),
    ('GET', '/supervisor/getIdentification', 'supervisor.getIdentification', ()),
    ('GET', '/supervisor/getState', 'supervisor.getState', ()),
    ('GET', '/supervisor/getPID', 'supervisor.getPID', ()),
    ('GET', '/supervisor/readLog/-100/0', 'supervisor.readLog', (-100, 0)),
    ('POST', '/supervisor/clearLog', 'supervisor.clearLog', ()),
    ('POST', '/supervisor/shutdown', 'supervisor.shutdown', ()),
    ('POST', '/supervisor/restart', 'supervisor.restart', ()),
    ('POST', '/supervisor/reloadConfig', 'supervisor.reloadConfig', ()),
    ('POST', '/supervisor/addProcessGroup/web', 'supervisor.addProcessGroup', ('web',)),
    ('POST', '/supervisor/removeProcessGroup/web', 'supervisor.removeProcessGroup', ('web',)),
    ('POST', '/supervisor/startProcess/web%3Anginx', 'supervisor.startProcess', ('web:nginx', True)),
    ('POST', '/supervisor/startProcessGroup/web?wait=false', 'supervisor.startProcessGroup', ('web', False)),
    ('POST', '/supervisor/startAllProcesses?wait=0', 'supervisor.startAllProcesses', (False,)),
    ('POST', '/supervisor/stopProcess/web:nginx?wait=on', 'supervisor.stopProcess', ('web:nginx', True)),
    ('POST', '/supervisor/stopProcessGroup/web', 'supervisor.stopProcessGroup', ('web', True)),
    ('POST', '/supervisor/stopAllProcesses?wait=False', 'supervisor.stopAllProcesses', (False,)),
    ('POST', '/supervisor/signalProcess/web:nginx/HUP', 'supervisor.signalProcess', ('web:nginx', 'HUP')),
    ('POST', '/supervisor/signalProcessGroup/web/9', 'supervisor.signalProcessGroup', ('web', '9')),
    ('POST', '/supervisor/signalAllProcesses/USR1', 'supervisor.signalAllProcesses', ('USR1',)),
    ('GET', '/supervisor/getAllConfigInfo', 'supervisor.getAllConfigInfo', ()),
    ('GET', '/supervisor/getProcessInfo/web:nginx', 'supervisor.getProcessInfo', ('web:nginx',)),
    ('GET', '/supervisor/getAllProcessInfo', 'supervisor.getAllProcessInfo', ()),
    ('GET', '/supervisor/readProcessStdoutLog/web:nginx/-10/0', 'supervisor.readProcessStdoutLog',
     ('web:nginx', -10, 0)),
    ('GET', '/supervisor/readProcessStderrLog/web:nginx/5/20', 'supervisor.readProcessStderrLog',
     ('web:nginx', 5, 20)),
    ('GET', '/supervisor/tailProcessStdoutLog/web:nginx/0/1024', 'supervisor.tailProcessStdoutLog',
     ('web:nginx', 0, 1024)),
    ('GET', '/supervisor/tailProcessStderrLog/web:nginx/12/34', 'supervisor.tailProcessStderrLog',
     ('web:nginx', 12, 34)),
    ('POST', '/supervisor/clearProcessLogs/web:nginx', 'supervisor.clearProcessLogs', ('web:nginx',)),
    ('POST', '/supervisor/clearAllProcessLogs', 'supervisor.clearAllProcessLogs', ()),
    ('POST', '/supervisor/sendProcessStdin/web:nginx/hello%20world', 'supervisor.sendProcessStdin',
     ('web:nginx', 'hello world')),
    ('POST', '/supervisor/sendRemoteCommEvent/my_type/my_data', 'supervisor.sendRemoteCommEvent',
     ('my_type', 'my_data')),
    # supvisors
    ('GET', '/supvisors/api_version', 'supvisors.get_api_version', ()),
    ('GET', '/supvisors/supvisors_state', 'supvisors.get_supvisors_state', ()),
    ('GET', '/supvisors/master_identifier', 'supvisors.get_master_identifier', ()),
    ('GET', '/supvisors/strategies', 'supvisors.get_strategies', ()),
    ('GET', '/supvisors/all_instances_info', 'supvisors.get_all_instances_info', ()),
    ('GET', '/supvisors/instance_info/s1', 'supvisors.get_instance_info', ('s1',)),
    ('GET', '/supvisors/all_applications_info', 'supvisors.get_all_applications_info', ()),
    ('GET', '/supvisors/application_info/web', 'supvisors.get_application_info', ('web',)),
    ('GET', '/supvisors/application_rules/web', 'supvisors.get_application_rules', ('web',)),
    ('GET', '/supvisors/all_process_info', 'supvisors.get_all_process_info', ()),
    ('GET', '/supvisors/process_info/web:*', 'supvisors.get_process_info', ('web:*',)),
    ('GET', '/supvisors/all_local_process_info', 'supvisors.get_all_local_process_info', ()),
    ('GET', '/supvisors/local_process_info/web:nginx', 'supvisors.get_local_process_info', ('web:nginx',)),
    ('GET', '/supvisors/process_rules/web:nginx', 'supvisors.get_process_rules', ('web:nginx',)),
    ('GET', '/supvisors/conflicts', 'supvisors.get_conflicts', ()),
    ('POST', '/supvisors/start_application/LESS_LOADED/web', 'supvisors.start_application',
     ('LESS_LOADED', 'web', True)),
    ('POST', '/supvisors/stop_application/web?wait=false', 'supvisors.stop_application', ('web', False)),
    ('POST', '/supvisors/restart_application/CONFIG/web?wait=1', 'supvisors.restart_application',
     ('CONFIG', 'web', True)),
    ('POST', '/supvisors/start_args/web:nginx/-x%201?wait=false', 'supvisors.start_args',
     ('web:nginx', '-x 1', False)),
    ('POST', '/supvisors/start_process/LOCAL/web%3Anginx?extra_args=-v&wait=false', 'supvisors.start_process',
     ('LOCAL', 'web:nginx', '-v', False)),
    ('POST', '/supvisors/start_any_process/MOST_LOADED/%5Eweb', 'supvisors.start_any_process',
     ('MOST_LOADED', '^web', '', True)),
    ('POST', '/supvisors/stop_process/web:*', 'supvisors.stop_process', ('web:*', True)),
    ('POST', '/supvisors/restart_process/LESS_LOADED_NODE/web:nginx?extra_args=-a%20-b',
     'supvisors.restart_process', ('LESS_LOADED_NODE', 'web:nginx', '-a -b', True)),
    ('POST', '/supvisors/update_numprocs/worker/3?wait=false', 'supvisors.update_numprocs', ('worker', 3, False)),
    ('POST', '/supvisors/enable/worker', 'supvisors.enable', ('worker', True)),
    ('POST', '/supvisors/disable/worker?wait=true', 'supvisors.disable', ('worker', True)),
    ('POST', '/supvisors/conciliate/INFANTICIDE', 'supvisors.conciliate', ('INFANTICIDE',)),
    ('POST', '/supvisors/restart_sequence?wait=false', 'supvisors.restart_sequence', (False,)),
    ('POST', '/supvisors/restart', 'supvisors.restart', ()),
    ('POST', '/supvisors/shutdown', 'supvisors.shutdown', ()),
    ('POST', '/supvisors/change_log_level/debug', 'supvisors.change_log_level', ('debug',)),
]

ROUTE_IDS = [f'{method} {url}' for method, url, _, _ in ROUTES]

# the routes taking query parameters, with the URL of the route without any query string
# and the arguments expected without query string (extra_args empty, wait true)
EXTRA_ARGS_RPCS = {'supvisors.start_process', 'supvisors.start_any_process', 'supvisors.restart_process'}
WAIT_ROUTES = [(method, url.split('?')[0], rpc,
                args[:2] + ('', True) if rpc in EXTRA_ARGS_RPCS else args[:-1] + (True,))
               for method, url, rpc, args in ROUTES if args and isinstance(args[-1], bool)]


def request(client, method: str, url: str):
    return client.open(url, method=method)


def endpoint_of(app, method: str, url: str) -> str:
    adapter = app.url_map.bind('localhost')
    endpoint, _ = adapter.match(url.split('?')[0], method=method)
    return endpoint


def api_endpoints(app) -> set:
    """Endpoints of the three namespaces (not the Swagger UI, the specification or static files)."""
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if rule.rule.startswith(('/system/', '/supervisor/', '/supvisors/'))}


# ----------------------------------------------------------------------------------------------------------------
# routes
# ----------------------------------------------------------------------------------------------------------------
def test_routes_table_covers_every_route(app):
    """Each route of the application is exercised by ROUTES, exactly once, and nothing else is exposed."""
    covered = [endpoint_of(app, method, url) for method, url, _, _ in ROUTES]
    assert len(covered) == len(set(covered))
    assert set(covered) == api_endpoints(app)
    assert len(ROUTES) == 3 + 32 + 31


@pytest.mark.parametrize('method, url, rpc, args', ROUTES, ids=ROUTE_IDS)
def test_route_success(client, server, method, url, rpc, args):
    """One XML-RPC call with the forwarded arguments; its result as JSON with HTTP 200."""
    server.results[rpc] = result = {'answer': [rpc, 42, True, None, 'é']}
    response = request(client, method, url)
    assert response.status_code == 200, response.data
    assert response.is_json
    assert response.get_json() == result
    assert server.calls[0] == ('supvisors.get_api_version', ())
    assert server.calls[1:] == [(rpc, args)]
    assert server.urls == [URL]


@pytest.mark.parametrize('method, url, rpc, args', ROUTES, ids=ROUTE_IDS)
def test_route_scalar_results(client, server, method, url, rpc, args):
    """Scalar XML-RPC results (booleans, strings, integers) are JSON scalars."""
    for value in (True, False, 'text', 12, [], 1.5):
        server.results[rpc] = value
        response = request(client, method, url)
        assert response.status_code == 200
        assert response.get_json() == value


@pytest.mark.parametrize('method, url, rpc, args', ROUTES, ids=ROUTE_IDS)
def test_route_fault(client, server, method, url, rpc, args):
    """An XML-RPC Fault becomes HTTP 400 with its string and its code."""
    server.errors[rpc] = xmlrpc.client.Fault(10, 'BAD_NAME: application dummy unknown to Supvisors')
    response = request(client, method, url)
    assert response.status_code == 400
    assert response.get_json() == {'message': 'BAD_NAME: application dummy unknown to Supvisors', 'code': 10}
    assert server.route_calls == [(rpc, args)]


@pytest.mark.parametrize('method, url, rpc, args', ROUTES, ids=ROUTE_IDS)
def test_route_other_error(client, server, method, url, rpc, args):
    """Any other error becomes HTTP 500 with its text."""
    server.errors[rpc] = ConnectionRefusedError(111, 'Connection refused')
    response = request(client, method, url)
    assert response.status_code == 500
    assert response.get_json() == {'message': '[Errno 111] Connection refused'}
    assert server.route_calls == [(rpc, args)]


@pytest.mark.parametrize('method, url, rpc, args', ROUTES, ids=ROUTE_IDS)
def test_route_wrong_method(client, server, method, url, rpc, args):
    """A GET route does not accept POST and conversely; nothing is called."""
    other = 'POST' if method == 'GET' else 'GET'
    response = request(client, other, url)
    assert response.status_code == 405
    assert server.route_calls == []


class CodedError(Exception):
    def __init__(self, message: str, code: Any) -> None:
        super().__init__(message)
        self.code = code


@pytest.mark.parametrize('code, status', [(503, 503), (404, 404), (401, 401), ('E42', 500), (None, 500),
                                          (200, 500), (True, 500)])
def test_error_code(client, server, code, status):
    """An error carrying an HTTP error code is answered with it; 500 otherwise."""
    server.errors['supervisor.getState'] = CodedError('boom', code)
    response = client.get('/supervisor/getState')
    assert response.status_code == status
    assert response.get_json() == {'message': 'boom'}


def test_protocol_error(client, server):
    """An XML-RPC ProtocolError (e.g. authentication refused) is not a Fault: HTTP 500 with its text."""
    error = xmlrpc.client.ProtocolError('localhost:60000/RPC2', 401, 'Unauthorized', {})
    server.errors['supvisors.get_supvisors_state'] = error
    response = client.get('/supvisors/supvisors_state')
    assert response.status_code == 500
    assert response.get_json() == {'message': str(error)}


def test_supvisors_fault_code(client, server):
    """Supvisors' own fault codes are forwarded as they are."""
    server.errors['supvisors.start_application'] = xmlrpc.client.Fault(101, 'BAD_SUPVISORS_STATE: not OPERATION')
    response = client.post('/supvisors/start_application/CONFIG/web')
    assert response.status_code == 400
    assert response.get_json() == {'message': 'BAD_SUPVISORS_STATE: not OPERATION', 'code': 101}


# ----------------------------------------------------------------------------------------------------------------
# query parameters
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('query, expected', [('', True), ('?wait=true', True), ('?wait=TRUE', True),
                                             ('?wait=1', True), ('?wait=on', True), ('?wait=false', False),
                                             ('?wait=False', False), ('?wait=0', False), ('?wait=', False),
                                             ('?wait', False)])
@pytest.mark.parametrize('method, url, rpc, args', WAIT_ROUTES, ids=[f'{m} {u}' for m, u, _, _ in WAIT_ROUTES])
def test_wait(client, server, method, url, rpc, args, query, expected):
    """wait is a Flask-RESTX boolean, true by default, forwarded as the last argument (an empty value is false
    for Flask-RESTX)."""
    response = request(client, method, url + query)
    assert response.status_code == 200
    assert server.route_calls == [(rpc, args[:-1] + (expected,))]


@pytest.mark.parametrize('value', ['maybe', 'yes', '2', 'off'])
@pytest.mark.parametrize('method, url, rpc, args', WAIT_ROUTES, ids=[f'{m} {u}' for m, u, _, _ in WAIT_ROUTES])
def test_wait_invalid(client, server, method, url, rpc, args, value):
    """A wait that is not a boolean is a bad request; nothing is called."""
    response = request(client, method, f'{url}?wait={value}')
    assert response.status_code == 400
    assert 'wait' in response.get_json()['errors']
    assert server.route_calls == []


@pytest.mark.parametrize('query, expected', [('', ''), ('?extra_args=-v', '-v'),
                                             ('?extra_args=-x%201%20--long=2', '-x 1 --long=2'),
                                             ('?extra_args=', '')])
@pytest.mark.parametrize('rpc', sorted(EXTRA_ARGS_RPCS))
def test_extra_args(client, server, rpc, query, expected):
    """extra_args is a string, empty by default, forwarded before wait."""
    method, url, _, args = next(route for route in WAIT_ROUTES if route[2] == rpc)
    response = request(client, method, url + query)
    assert response.status_code == 200
    assert server.route_calls == [(rpc, (args[0], args[1], expected, True))]


def test_query_ignored_where_not_declared(client, server):
    """Routes without query parameters ignore them (start_args takes its extra arguments in the path)."""
    assert client.post('/supvisors/conciliate/USER?wait=false').status_code == 200
    assert client.post('/supvisors/start_args/web:nginx/-v?extra_args=-w').status_code == 200
    assert server.calls == [('supvisors.get_api_version', ()), ('supvisors.conciliate', ('USER',)),
                            ('supvisors.get_api_version', ()), ('supvisors.start_args', ('web:nginx', '-v', True))]


# ----------------------------------------------------------------------------------------------------------------
# converters
# ----------------------------------------------------------------------------------------------------------------
STRATEGY_ROUTES = ['/supvisors/start_application/{}/web', '/supvisors/restart_application/{}/web',
                   '/supvisors/start_process/{}/web:nginx', '/supvisors/start_any_process/{}/web',
                   '/supvisors/restart_process/{}/web:nginx']


@pytest.mark.parametrize('strategy', STRATEGIES)
@pytest.mark.parametrize('url', STRATEGY_ROUTES)
def test_starting_strategy_names(client, server, url, strategy):
    """Every starting strategy name is forwarded as a string."""
    assert client.post(url.format(strategy)).status_code == 200
    assert server.route_calls[0][1][0] == strategy


@pytest.mark.parametrize('strategy', ['local', 'SENICIDE', 'UNKNOWN', '3', 'LOCAL_', 'LOCALX'])
@pytest.mark.parametrize('url', STRATEGY_ROUTES)
def test_starting_strategy_invalid(client, server, url, strategy):
    """Another value does not match the route: 404, no call."""
    assert client.post(url.format(strategy)).status_code == 404
    assert server.route_calls == []


@pytest.mark.parametrize('strategy', CONCILIATIONS)
def test_conciliation_strategy_names(client, server, strategy):
    assert client.post(f'/supvisors/conciliate/{strategy}').status_code == 200
    assert server.route_calls == [('supvisors.conciliate', (strategy,))]


@pytest.mark.parametrize('strategy', ['senicide', 'CONFIG', 'LOCAL', '0', 'FOO'])
def test_conciliation_strategy_invalid(client, server, strategy):
    assert client.post(f'/supvisors/conciliate/{strategy}').status_code == 404
    assert server.route_calls == []


@pytest.mark.parametrize('level', LOG_LEVELS)
def test_log_level_names(client, server, level):
    assert client.post(f'/supvisors/change_log_level/{level}').status_code == 200
    assert server.route_calls == [('supvisors.change_log_level', (level,))]


@pytest.mark.parametrize('level', ['DEBUG', 'warning', '10', 'verbose'])
def test_log_level_invalid(client, server, level):
    assert client.post(f'/supvisors/change_log_level/{level}').status_code == 404
    assert server.route_calls == []


@pytest.mark.parametrize('method, url', [
    ('GET', '/supervisor/readLog/0/-1'),  # length is unsigned
    ('GET', '/supervisor/readLog/abc/10'),
    ('GET', '/supervisor/readLog/1.5/10'),
    ('GET', '/supervisor/readProcessStdoutLog/web/0/-5'),
    ('GET', '/supervisor/readProcessStderrLog/web/x/5'),
    ('GET', '/supervisor/tailProcessStdoutLog/web/-1/5'),  # offset is unsigned for tails
    ('GET', '/supervisor/tailProcessStderrLog/web/0/-5'),
    ('POST', '/supvisors/update_numprocs/worker/-1'),
    ('POST', '/supvisors/update_numprocs/worker/two'),
    ('GET', '/supervisor/getProcessInfo/web/nginx'),  # string has no slash
    ('POST', '/supervisor/startProcess/'),
    ('GET', '/supervisor/getVersion'),  # deprecated, not exposed
    ('POST', '/system/multicall'),  # not exposed
    ('GET', '/supvisors/unknown'),
])
def test_converters_reject(client, server, method, url):
    assert request(client, method, url).status_code == 404
    assert server.route_calls == []


def test_signed_offsets(client, server):
    """readLog offsets are signed integers, lengths unsigned ones."""
    assert client.get('/supervisor/readLog/-0/5').status_code == 200
    assert client.get('/supervisor/readProcessStderrLog/web/-2048/0').status_code == 200
    assert server.calls == [('supvisors.get_api_version', ()), ('supervisor.readLog', (0, 5)),
                            ('supvisors.get_api_version', ()), ('supervisor.readProcessStderrLog', ('web', -2048, 0))]


# ----------------------------------------------------------------------------------------------------------------
# proxy and API version
# ----------------------------------------------------------------------------------------------------------------
def test_proxy_per_request(client, server):
    """A proxy is made from the URL before every request, and the API version asked each time."""
    client.get('/supervisor/getState')
    client.get('/supervisor/getPID')
    assert server.urls == [URL, URL]
    assert [name for name, _ in server.calls] == ['supvisors.get_api_version', 'supervisor.getState',
                                                  'supvisors.get_api_version', 'supervisor.getPID']


def test_api_version_in_swagger(client, server):
    """The version shown in the Swagger document is the one returned by Supvisors, refreshed at each request."""
    assert client.get('/swagger.json').get_json()['info']['version'] == '0.15'
    server.results['supvisors.get_api_version'] = '1.2'
    assert client.get('/swagger.json').get_json()['info']['version'] == '1.2'


def test_api_version_failure(server):
    """When the API version cannot be read (e.g. no Supvisors plugin), the route still makes its call with a
    fresh proxy, and the version shown stays the last known one."""
    client = create_app(URL).test_client()
    server.errors['supvisors.get_api_version'] = xmlrpc.client.Fault(1, 'UNKNOWN_METHOD')
    server.results['supervisor.getState'] = {'statecode': 1, 'statename': 'RUNNING'}
    response = client.get('/supervisor/getState')
    assert response.status_code == 200
    assert response.get_json() == {'statecode': 1, 'statename': 'RUNNING'}
    assert server.urls == [URL, URL]
    assert client.get('/swagger.json').get_json()['info']['version'] == '0.15'
    response = client.get('/supvisors/api_version')
    assert response.status_code == 400
    assert response.get_json() == {'message': 'UNKNOWN_METHOD', 'code': 1}


def test_make_proxy(monkeypatch: pytest.MonkeyPatch):
    """The real factory is Supervisor's: a ServerProxy with a SupervisorTransport on the URL, credentials from
    the environment."""
    monkeypatch.setenv('SUPERVISOR_USERNAME', 'user')
    monkeypatch.setenv('SUPERVISOR_PASSWORD', 'secret')
    monkeypatch.setenv('SUPERVISOR_SERVER_URL', 'http://elsewhere:1')
    proxy = make_proxy('http://localhost:60000')
    assert isinstance(proxy, xmlrpc.client.ServerProxy)
    transport = proxy('transport')
    assert isinstance(transport, SupervisorTransport)
    assert transport.serverurl == 'http://localhost:60000'
    assert (transport.username, transport.password) == ('user', 'secret')


@pytest.fixture
def xmlrpc_server() -> Iterator[Tuple[str, Dict[str, int]]]:
    """A real XML-RPC server on a loopback port, with a few Supervisor-like methods and a connection counter."""
    stats = {'requests': 0}
    rpc = SimpleXMLRPCServer(('127.0.0.1', 0), logRequests=False, allow_none=True)

    def counted(function):
        def wrapper(*args):
            stats['requests'] += 1
            return function(*args)
        return wrapper

    def bad_name(name: str) -> None:
        raise xmlrpc.client.Fault(10, f'BAD_NAME: {name}')

    rpc.register_function(counted(lambda: '0.15'), 'supvisors.get_api_version')
    rpc.register_function(counted(lambda: {'statecode': 1, 'statename': 'RUNNING'}), 'supervisor.getState')
    rpc.register_function(counted(bad_name), 'supervisor.getProcessInfo')
    rpc.register_function(counted(lambda name, wait: [name, wait]), 'supervisor.startProcess')
    thread = threading.Thread(target=rpc.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{rpc.server_address[1]}', stats
    finally:
        rpc.shutdown()
        rpc.server_close()
        thread.join(5)


def test_real_proxy(xmlrpc_server):
    """Through Supervisor's transport and a real HTTP server: results, faults and connection errors."""
    url, stats = xmlrpc_server
    client = create_app(url).test_client()
    response = client.get('/supervisor/getState')
    assert (response.status_code, response.get_json()) == (200, {'statecode': 1, 'statename': 'RUNNING'})
    response = client.get('/supervisor/getProcessInfo/dummy')
    assert (response.status_code, response.get_json()) == (400, {'message': 'BAD_NAME: dummy', 'code': 10})
    response = client.post('/supervisor/startProcess/web:nginx?wait=false')
    assert (response.status_code, response.get_json()) == (200, ['web:nginx', False])
    assert stats['requests'] == 6


def test_real_proxy_unreachable():
    """A Supervisor that cannot be reached: HTTP 500 with the connection error (not a stale transport error)."""
    from supvisors.tools.localfleet import find_free_ports
    port = find_free_ports(1)[0]
    response = create_app(f'http://127.0.0.1:{port}').test_client().get('/supervisor/getState')
    assert response.status_code == 500
    assert 'Connection refused' in response.get_json()['message']


# ----------------------------------------------------------------------------------------------------------------
# Swagger UI and OpenAPI document
# ----------------------------------------------------------------------------------------------------------------
def test_swagger_ui(client):
    response = client.get('/')
    assert response.status_code == 200
    assert response.mimetype == 'text/html'
    assert b'<title>Supvisors Flask interface</title>' in response.data
    assert b'swagger.json' in response.data


@pytest.fixture
def swagger(client) -> Dict[str, Any]:
    response = client.get('/swagger.json')
    assert response.status_code == 200
    return response.get_json()


def test_openapi_document_valid(swagger):
    """The generated document is a valid Swagger 2.0 / OpenAPI v2 specification."""
    validator = pytest.importorskip('openapi_spec_validator')
    validator.validate(swagger, cls=validator.OpenAPIV2SpecValidator)


def test_openapi_document_content(app, swagger):
    """Title, namespaces with their descriptions, one operation per route with the right method and parameters."""
    assert swagger['swagger'] == '2.0'
    assert swagger['info']['title'] == 'Supvisors Flask interface'
    assert {tag['name']: tag['description'] for tag in swagger['tags']} == {
        'system': 'System operations', 'supervisor': 'Supervisor operations', 'supvisors': 'Supvisors operations'}
    operations = {}
    operation_ids = []
    for path, item in swagger['paths'].items():
        for method, operation in item.items():
            if method == 'parameters':
                continue
            operations[(method.upper(), path)] = operation
            operation_ids.append(operation['operationId'])
            assert operation['tags'] == [path.split('/')[1]]
            assert operation['summary']
            assert '200' in operation['responses']
    assert len(operation_ids) == len(set(operation_ids)) == len(ROUTES)
    adapter = app.url_map.bind('localhost')
    for method, url, rpc, args in ROUTES:
        rule, values = adapter.match(url.split('?')[0], method=method, return_rule=True)
        path = re.sub(r'<(?:[^:<>]+:)?([^<>]+)>', r'{\1}', rule.rule)
        operation = operations[(method, path)]
        params = {param['name']: param for param in operation.get('parameters', [])}
        path_params = {name for name, param in params.items() if param['in'] == 'path'}
        assert path_params == set(values)
        query = {name: param for name, param in params.items() if param['in'] == 'query'}
        expected_query = set()
        if args and isinstance(args[-1], bool):
            expected_query.add('wait')
            assert query['wait']['type'] == 'boolean' and query['wait']['default'] is True
        if rpc in EXTRA_ARGS_RPCS:
            expected_query.add('extra_args')
            assert query['extra_args']['type'] == 'string' and query['extra_args']['default'] == ''
        assert set(query) == expected_query
        for name, value in values.items():
            assert params[name]['type'] == ('integer' if isinstance(value, int) else 'string')
        if 'strategy' in params:
            expected = CONCILIATIONS if rpc == 'supvisors.conciliate' else STRATEGIES
            assert params['strategy']['enum'] == expected
        if 'log_level' in params:
            assert params['log_level']['enum'] == LOG_LEVELS


# ----------------------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------------------
@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('SUPERVISOR_SERVER_URL', raising=False)


def parse_error(capsys, args: List[str]) -> str:
    with pytest.raises(SystemExit) as exc_info:
        parse_args(args)
    assert exc_info.value.code == 2
    return capsys.readouterr().err


def test_help(no_env, capsys):
    """--help prints the usage and exits, -h is the host option."""
    with pytest.raises(SystemExit) as exc_info:
        parse_args(['--help'])
    assert exc_info.value.code == 0
    out = capsys.readouterr().out
    assert 'Start a Flask application to interact with Supvisors' in out
    for option in ('--help', '-u SUPERVISOR_URL, --supervisor_url SUPERVISOR_URL', '-h HOST, --host HOST',
                   '-p PORT, --port PORT', '-d, --debug'):
        assert option in out
    assert parse_args(['-u', URL, '-h', '0.0.0.0']).host == '0.0.0.0'


def test_defaults(no_env):
    namespace = parse_args(['-u', URL])
    assert vars(namespace) == {'supervisor_url': URL, 'host': None, 'port': 5000, 'debug': False}


def test_options(no_env):
    namespace = parse_args(['--supervisor_url', URL, '--host', '10.0.0.1', '--port', '8080', '--debug'])
    assert vars(namespace) == {'supervisor_url': URL, 'host': '10.0.0.1', 'port': 8080, 'debug': True}
    namespace = parse_args(['-u', URL, '-h', '10.0.0.1', '-p', '8080', '-d'])
    assert vars(namespace) == {'supervisor_url': URL, 'host': '10.0.0.1', 'port': 8080, 'debug': True}


def test_url_required_without_env(no_env, capsys):
    assert 'the following arguments are required: -u/--supervisor_url' in parse_error(capsys, [])


def test_url_from_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv('SUPERVISOR_SERVER_URL', 'http://somewhere:61000')
    assert parse_args([]).supervisor_url == 'http://somewhere:61000'
    assert parse_args(['-u', URL]).supervisor_url == URL


def test_invalid_url_from_env(monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv('SUPERVISOR_SERVER_URL', 'unix:///tmp/supervisor.sock')
    assert 'The URL provided is invalid: unix:///tmp/supervisor.sock' in parse_error(capsys, [])


@pytest.mark.parametrize('url', ['localhost:60000', 'http://localhost', '//localhost:60000', 'http://localhost:',
                                 'unix:///tmp/supervisor.sock', 'localhost', 'http://localhost:0'])
def test_invalid_url(no_env, capsys, url):
    err = parse_error(capsys, ['-u', url])
    assert f'argument -u/--supervisor_url: The URL provided is invalid: {url}\n' in err


@pytest.mark.parametrize('url, reason', [
    ('http://localhost:port', "Port could not be cast to integer value as 'port'"),
    ('http://localhost:99999', 'Port out of range 0-65535'),
    ('http://[::1:60000', 'Invalid IPv6 URL'),
])
def test_unparsable_url(no_env, capsys, url, reason):
    err = parse_error(capsys, ['-u', url])
    assert f'argument -u/--supervisor_url: Could not parse the URL provided: {url} ({reason})\n' in err


@pytest.mark.parametrize('port', ['http', '1.5'])
def test_invalid_port(no_env, capsys, port):
    assert "argument -p/--port: invalid int value" in parse_error(capsys, ['-u', URL, '-p', port])


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> List[Dict[str, Any]]:
    """Flask.run replaced by a recorder, so that main does not serve."""
    calls: List[Dict[str, Any]] = []

    def run(self, host: Optional[str] = None, port: Optional[int] = None, debug: Optional[bool] = None,
            **options: Any) -> None:
        calls.append({'app': self, 'host': host, 'port': port, 'debug': debug})

    monkeypatch.setattr('flask.Flask.run', run)
    return calls


def test_main(no_env, runs, capsys, server):
    main(['-u', URL, '-h', '0.0.0.0', '-p', '8000'])
    assert capsys.readouterr().out == ''
    assert len(runs) == 1
    assert (runs[0]['host'], runs[0]['port'], runs[0]['debug']) == ('0.0.0.0', 8000, False)
    # the application served is the REST front of that URL
    response = runs[0]['app'].test_client().get('/supervisor/getState')
    assert response.status_code == 200
    assert server.urls == [URL]


def test_main_debug(monkeypatch: pytest.MonkeyPatch, runs, capsys):
    monkeypatch.setenv('SUPERVISOR_SERVER_URL', URL)
    main(['--debug'])
    out = capsys.readouterr().out
    assert out == f"ArgumentParser: Namespace(supervisor_url='{URL}', host=None, port=5000, debug=True)\n"
    assert (runs[0]['host'], runs[0]['port'], runs[0]['debug']) == (None, 5000, True)


def test_main_error(no_env, runs, capsys):
    with pytest.raises(SystemExit):
        main(['-u', 'http://localhost'])
    assert runs == []
    assert 'The URL provided is invalid: http://localhost' in capsys.readouterr().err
