"""REST front of the Supervisor and Supvisors XML-RPC API (``supvisorsflask`` console script).

Every route makes exactly one XML-RPC call to the Supervisor URL given on the command line and returns its result
as JSON, so that tools unable to speak XML-RPC (browsers, curl, REST clients) can drive a Supvisors fleet.
The Flask-RESTX Swagger UI served at ``/`` documents and exercises the routes interactively.
"""

import argparse
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlparse
from xmlrpc.client import Fault, ServerProxy

from flask import Flask, g
from flask_restx import Api, Namespace, Resource, inputs, reqparse
from flask_restx.swagger import Swagger
from supervisor import childutils

from supvisors.ttypes import API_VERSION, LOGGER_LEVELS, ConciliationStrategies, StartingStrategies

__all__ = ['create_app', 'main', 'make_proxy', 'parse_args', 'supervisor_url_type']

SERVER_URL_ENV = 'SUPERVISOR_SERVER_URL'

# values accepted by the any(...) converters; any other value does not match the route (HTTP 404)
STARTING_STRATEGY_NAMES: List[str] = [strategy.name for strategy in StartingStrategies]
CONCILIATION_STRATEGY_NAMES: List[str] = [strategy.name for strategy in ConciliationStrategies]
LOG_LEVEL_NAMES: List[str] = list(LOGGER_LEVELS)


def _any(names: Sequence[str]) -> str:
    """Werkzeug any(...) converter, so that invalid enumeration names are rejected before any XML-RPC call."""
    return f'any({", ".join(names)})'


STARTING_STRATEGY = _any(STARTING_STRATEGY_NAMES)
CONCILIATION_STRATEGY = _any(CONCILIATION_STRATEGY_NAMES)
LOG_LEVEL = _any(LOG_LEVEL_NAMES)


# ----------------------------------------------------------------------------------------------------------------
# XML-RPC access
# ----------------------------------------------------------------------------------------------------------------
def make_proxy(supervisor_url: str) -> ServerProxy:
    """Supervisor's own proxy factory, so that the URL and the credentials found in SUPERVISOR_USERNAME /
    SUPERVISOR_PASSWORD are handled exactly as by Supervisor's tools."""
    env = dict(os.environ)
    env[SERVER_URL_ENV] = supervisor_url
    return childutils.getRPCInterface(env)


def _rpc_method(proxy: Any, dotted_name: str) -> Callable[..., Any]:
    """Resolve 'namespace.method' on the proxy."""
    target = proxy
    for part in dotted_name.split('.'):
        target = getattr(target, part)
    return target


def _error_status(error: Exception) -> int:
    """HTTP status of an error that is not an XML-RPC Fault: its own HTTP error code if it has one, else 500."""
    code = getattr(error, 'code', None)
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return 500


def call_rpc(dotted_name: str, *args: Any) -> Tuple[Any, int]:
    """Make the single XML-RPC call of a route and turn its outcome into a (JSON body, HTTP status) pair.

    A Fault keeps its code in the body, so that REST clients can react as XML-RPC clients do (e.g. BAD_NAME).
    """
    try:
        return _rpc_method(g.proxy, dotted_name)(*args), 200
    except Fault as fault:
        return {'message': fault.faultString, 'code': fault.faultCode}, 400
    except Exception as error:  # noqa: BLE001 - any failure is reported to the REST client
        return {'message': str(error)}, _error_status(error)


# ----------------------------------------------------------------------------------------------------------------
# route table
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """One REST route: its rule in the namespace, the XML-RPC method it calls and the query parameters it
    forwards after the path parameters (in that order, as the XML-RPC signatures expect)."""
    rule: str
    rpc: str
    doc: str
    method: str = 'GET'
    query: Tuple[str, ...] = ()
    params: Optional[Mapping[str, str]] = None  # path parameter descriptions overriding PATH_PARAMETERS


WAIT = ('wait',)
EXTRA_WAIT = ('extra_args', 'wait')

# default descriptions of path parameters, by name
PATH_PARAMETERS: Dict[str, str] = {
    'name': 'the name of the process or group (group:process notation accepted)',
    'offset': 'the offset to start reading from',
    'length': 'the number of bytes to read',
    'signal': 'the signal to send, as a name (HUP) or a number (1)',
    'chars': 'the characters to send to the process stdin',
    'type': 'the type of the remote communication event',
    'data': 'the data of the remote communication event',
    'identifier': 'the identifier of the Supvisors instance',
    'application_name': 'the name of the application',
    'namespec': 'the process namespec (name, group:name, group:*)',
    'strategy': 'the strategy used to choose the Supvisors instance',
    'regex': 'a regular expression matching process namespecs',
    'extra_args': 'extra arguments added to the command line of the program',
    'program_name': 'the name of the program, as defined in the Supervisor configuration',
    'numprocs': 'the new number of processes of the program',
    'log_level': 'the new logger level of Supvisors',
}

# enumerated values of the any(...) path parameters, shown in the Swagger document
PATH_ENUMS: Dict[str, List[str]] = {
    STARTING_STRATEGY: STARTING_STRATEGY_NAMES,
    CONCILIATION_STRATEGY: CONCILIATION_STRATEGY_NAMES,
    LOG_LEVEL: LOG_LEVEL_NAMES,
}

SYSTEM_ROUTES = [
    Route('/listMethods', 'system.listMethods', 'List the XML-RPC methods available.'),
    Route('/methodHelp/<name>', 'system.methodHelp', 'Get the documentation of an XML-RPC method.',
          params={'name': 'the name of the XML-RPC method'}),
    Route('/methodSignature/<name>', 'system.methodSignature', 'Get the signature of an XML-RPC method.',
          params={'name': 'the name of the XML-RPC method'}),
]

SUPERVISOR_ROUTES = [
    Route('/getAPIVersion', 'supervisor.getAPIVersion', 'Get the version of the Supervisor RPC API.'),
    Route('/getSupervisorVersion', 'supervisor.getSupervisorVersion', 'Get the version of Supervisor.'),
    Route('/getIdentification', 'supervisor.getIdentification', 'Get the identification of Supervisor.'),
    Route('/getState', 'supervisor.getState', 'Get the state of Supervisor.'),
    Route('/getPID', 'supervisor.getPID', 'Get the PID of supervisord.'),
    Route('/readLog/<int(signed=True):offset>/<int:length>', 'supervisor.readLog',
          'Read a part of the main log of Supervisor.'),
    Route('/clearLog', 'supervisor.clearLog', 'Clear the main log of Supervisor.', 'POST'),
    Route('/shutdown', 'supervisor.shutdown', 'Shut down Supervisor.', 'POST'),
    Route('/restart', 'supervisor.restart', 'Restart Supervisor.', 'POST'),
    Route('/reloadConfig', 'supervisor.reloadConfig', 'Reload the Supervisor configuration.', 'POST'),
    Route('/addProcessGroup/<name>', 'supervisor.addProcessGroup', 'Add a process group from the configuration.',
          'POST', params={'name': 'the name of the group'}),
    Route('/removeProcessGroup/<name>', 'supervisor.removeProcessGroup', 'Remove a stopped process group.',
          'POST', params={'name': 'the name of the group'}),
    Route('/startProcess/<name>', 'supervisor.startProcess', 'Start a process.', 'POST', WAIT),
    Route('/startProcessGroup/<name>', 'supervisor.startProcessGroup', 'Start all processes of a group.',
          'POST', WAIT, {'name': 'the name of the group'}),
    Route('/startAllProcesses', 'supervisor.startAllProcesses', 'Start all processes.', 'POST', WAIT),
    Route('/stopProcess/<name>', 'supervisor.stopProcess', 'Stop a process.', 'POST', WAIT),
    Route('/stopProcessGroup/<name>', 'supervisor.stopProcessGroup', 'Stop all processes of a group.',
          'POST', WAIT, {'name': 'the name of the group'}),
    Route('/stopAllProcesses', 'supervisor.stopAllProcesses', 'Stop all processes.', 'POST', WAIT),
    Route('/signalProcess/<name>/<signal>', 'supervisor.signalProcess', 'Send a signal to a process.', 'POST'),
    Route('/signalProcessGroup/<name>/<signal>', 'supervisor.signalProcessGroup',
          'Send a signal to all processes of a group.', 'POST', params={'name': 'the name of the group'}),
    Route('/signalAllProcesses/<signal>', 'supervisor.signalAllProcesses', 'Send a signal to all processes.',
          'POST'),
    Route('/getAllConfigInfo', 'supervisor.getAllConfigInfo', 'Get the configuration of all processes.'),
    Route('/getProcessInfo/<name>', 'supervisor.getProcessInfo', 'Get the information of a process.'),
    Route('/getAllProcessInfo', 'supervisor.getAllProcessInfo', 'Get the information of all processes.'),
    Route('/readProcessStdoutLog/<name>/<int(signed=True):offset>/<int:length>', 'supervisor.readProcessStdoutLog',
          'Read a part of the stdout log of a process.'),
    Route('/readProcessStderrLog/<name>/<int(signed=True):offset>/<int:length>', 'supervisor.readProcessStderrLog',
          'Read a part of the stderr log of a process.'),
    Route('/tailProcessStdoutLog/<name>/<int:offset>/<int:length>', 'supervisor.tailProcessStdoutLog',
          'Read the tail of the stdout log of a process.'),
    Route('/tailProcessStderrLog/<name>/<int:offset>/<int:length>', 'supervisor.tailProcessStderrLog',
          'Read the tail of the stderr log of a process.'),
    Route('/clearProcessLogs/<name>', 'supervisor.clearProcessLogs', 'Clear the logs of a process.', 'POST'),
    Route('/clearAllProcessLogs', 'supervisor.clearAllProcessLogs', 'Clear the logs of all processes.', 'POST'),
    Route('/sendProcessStdin/<name>/<chars>', 'supervisor.sendProcessStdin', 'Send characters to a process stdin.',
          'POST'),
    Route('/sendRemoteCommEvent/<type>/<data>', 'supervisor.sendRemoteCommEvent',
          'Send a remote communication event to event listeners.', 'POST'),
]

SUPVISORS_ROUTES = [
    Route('/api_version', 'supvisors.get_api_version', 'Get the version of the Supvisors API.'),
    Route('/supvisors_state', 'supvisors.get_supvisors_state', 'Get the state of Supvisors.'),
    Route('/master_identifier', 'supvisors.get_master_identifier', 'Get the identifier of the Supvisors Master.'),
    Route('/strategies', 'supvisors.get_strategies', 'Get the default strategies of Supvisors.'),
    Route('/all_instances_info', 'supvisors.get_all_instances_info',
          'Get the information of all Supvisors instances.'),
    Route('/instance_info/<identifier>', 'supvisors.get_instance_info',
          'Get the information of a Supvisors instance.'),
    Route('/all_applications_info', 'supvisors.get_all_applications_info',
          'Get the information of all applications.'),
    Route('/application_info/<application_name>', 'supvisors.get_application_info',
          'Get the information of an application.'),
    Route('/application_rules/<application_name>', 'supvisors.get_application_rules',
          'Get the rules of an application.'),
    Route('/all_process_info', 'supvisors.get_all_process_info', 'Get the information of all processes.'),
    Route('/process_info/<namespec>', 'supvisors.get_process_info', 'Get the information of processes.'),
    Route('/all_local_process_info', 'supvisors.get_all_local_process_info',
          'Get the local information of all processes of this instance.'),
    Route('/local_process_info/<namespec>', 'supvisors.get_local_process_info',
          'Get the local information of a process of this instance.'),
    Route('/process_rules/<namespec>', 'supvisors.get_process_rules', 'Get the rules of processes.'),
    Route('/conflicts', 'supvisors.get_conflicts', 'Get the processes running on several instances.'),
    Route(f'/start_application/<{STARTING_STRATEGY}:strategy>/<application_name>', 'supvisors.start_application',
          'Start an application.', 'POST', WAIT),
    Route('/stop_application/<application_name>', 'supvisors.stop_application', 'Stop an application.',
          'POST', WAIT),
    Route(f'/restart_application/<{STARTING_STRATEGY}:strategy>/<application_name>',
          'supvisors.restart_application', 'Restart an application.', 'POST', WAIT),
    Route('/start_args/<namespec>/<extra_args>', 'supvisors.start_args',
          'Start a process on the local instance with extra arguments.', 'POST', WAIT),
    Route(f'/start_process/<{STARTING_STRATEGY}:strategy>/<namespec>', 'supvisors.start_process',
          'Start processes.', 'POST', EXTRA_WAIT),
    Route(f'/start_any_process/<{STARTING_STRATEGY}:strategy>/<regex>', 'supvisors.start_any_process',
          'Start one stopped process whose namespec matches the regular expression.', 'POST', EXTRA_WAIT),
    Route('/stop_process/<namespec>', 'supvisors.stop_process', 'Stop processes.', 'POST', WAIT),
    Route(f'/restart_process/<{STARTING_STRATEGY}:strategy>/<namespec>', 'supvisors.restart_process',
          'Restart processes.', 'POST', EXTRA_WAIT),
    Route('/update_numprocs/<program_name>/<int:numprocs>', 'supvisors.update_numprocs',
          'Update the number of processes of a program.', 'POST', WAIT),
    Route('/enable/<program_name>', 'supvisors.enable', 'Enable the processes of a program.', 'POST', WAIT),
    Route('/disable/<program_name>', 'supvisors.disable', 'Stop and disable the processes of a program.',
          'POST', WAIT),
    Route(f'/conciliate/<{CONCILIATION_STRATEGY}:strategy>', 'supvisors.conciliate',
          'Conciliate the conflicts with a strategy.', 'POST',
          params={'strategy': 'the strategy used to conciliate the conflicts'}),
    Route('/restart_sequence', 'supvisors.restart_sequence', 'Trigger the starting sequence of the fleet.',
          'POST', WAIT),
    Route('/restart', 'supvisors.restart', 'Restart Supvisors through all Supervisor instances.', 'POST'),
    Route('/shutdown', 'supvisors.shutdown', 'Shut down Supvisors through all Supervisor instances.', 'POST'),
    Route(f'/change_log_level/<{LOG_LEVEL}:log_level>', 'supvisors.change_log_level',
          'Change the logger level of Supvisors.', 'POST'),
]

# namespace name -> (description, routes)
NAMESPACES: Dict[str, Tuple[str, List[Route]]] = {
    'system': ('System operations', SYSTEM_ROUTES),
    'supervisor': ('Supervisor operations', SUPERVISOR_ROUTES),
    'supvisors': ('Supvisors operations', SUPVISORS_ROUTES),
}

# rule variables: <name> or <converter(args):name>
_RULE_VARIABLE = re.compile(r'<(?:([^:<>]+):)?([^<>]+)>')


def path_variables(rule: str) -> List[Tuple[str, str]]:
    """(converter, name) of every variable of a rule, in order (converter is empty for the default one)."""
    return [(converter or '', name) for converter, name in _RULE_VARIABLE.findall(rule)]


# ----------------------------------------------------------------------------------------------------------------
# application
# ----------------------------------------------------------------------------------------------------------------
class SupvisorsApi(Api):
    """Api whose Swagger document follows the version reported by Supvisors.

    Flask-RESTX builds the Swagger document once and keeps it, so it is built again when the version changes.
    """

    @property
    def __schema__(self) -> Dict[str, Any]:
        # Api.__getattr__ delegates unknown names to the default namespace: read the cache from __dict__
        schema = self.__dict__.get('_versioned_schema')
        if schema is None or schema['info']['version'] != self.version:
            schema = Swagger(self).as_dict()
            self.__dict__['_versioned_schema'] = schema
        return schema


def _query_parser(query: Sequence[str]) -> reqparse.RequestParser:
    """Parser of the query parameters forwarded to the XML-RPC (also documents them in Swagger)."""
    parser = reqparse.RequestParser()
    if 'extra_args' in query:
        parser.add_argument('extra_args', type=str, default='', location='args',
                            help='extra arguments added to the command line of the program')
    if 'wait' in query:
        parser.add_argument('wait', type=inputs.boolean, default=True, location='args',
                            help='wait for the end of the operation before replying')
    return parser


def _add_route(namespace: Namespace, route: Route) -> None:
    """Create the Resource of a route: path parameters then query parameters are forwarded to the XML-RPC."""
    variables = path_variables(route.rule)
    names = [name for _, name in variables]
    params: Dict[str, Dict[str, Any]] = {}
    for converter, name in variables:
        param: Dict[str, Any] = {'description': (route.params or {}).get(name, PATH_PARAMETERS.get(name, name))}
        if converter in PATH_ENUMS:
            param['enum'] = PATH_ENUMS[converter]
        params[name] = param
    parser = _query_parser(route.query) if route.query else None

    def handler(self: Resource, **kwargs: Any) -> Tuple[Any, int]:
        args = [kwargs[name] for name in names]
        if parser is not None:
            values = parser.parse_args()
            args.extend(values[name] for name in route.query)
        return call_rpc(route.rpc, *args)

    handler.__doc__ = route.doc
    handler.__name__ = route.method.lower()
    method_name = route.rpc.split('.')[-1]
    # operationId must be unique in the document: the XML-RPC method name alone is not (e.g. shutdown)
    decorated: Callable[..., Any] = namespace.doc(id=f'{namespace.name}_{method_name}', params=params)(handler)
    if parser is not None:
        decorated = namespace.expect(parser)(decorated)
    resource = type(method_name, (Resource,), {route.method.lower(): decorated, '__doc__': route.doc})
    namespace.add_resource(resource, route.rule, endpoint=f'{namespace.name}_{method_name}')


def _close(proxy: Any) -> None:
    """Close the HTTP connection of a proxy (ServerProxy keeps it open between calls)."""
    if isinstance(proxy, ServerProxy):
        proxy('close')()


def create_app(supervisor_url: str) -> Flask:
    """Build the Flask application serving the REST front of the Supervisor reachable at supervisor_url."""
    app = Flask(__name__)
    api = SupvisorsApi(app, version=API_VERSION, title='Supvisors Flask interface', doc='/',
                       description='REST front of the Supervisor and Supvisors XML-RPC API')
    for ns_name, (description, routes) in NAMESPACES.items():
        namespace = api.namespace(ns_name, description=description)
        for route in routes:
            _add_route(namespace, route)

    @app.before_request
    def connect() -> None:
        """A proxy per request, as the Supervisor transport is not thread-safe; its API version feeds Swagger."""
        g.proxy = make_proxy(supervisor_url)
        try:
            api.version = g.proxy.supvisors.get_api_version()
        except Exception:  # noqa: BLE001 - the route's own call reports the failure to the client
            # the Supervisor transport keeps a broken connection after a failure: start afresh for the route
            _close(g.proxy)
            g.proxy = make_proxy(supervisor_url)

    @app.teardown_request
    def disconnect(_exc: Optional[BaseException]) -> None:
        """Close the connection of the request proxy, so that sockets do not pile up."""
        _close(g.pop('proxy', None))

    return app


# ----------------------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------------------
def supervisor_url_type(arg: str) -> str:
    """Check that the URL has a scheme, a network location and a port, as supervisord is reached over TCP."""
    try:
        result = urlparse(arg)
        valid = all([result.scheme, result.netloc, result.port])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f'Could not parse the URL provided: {arg} ({exc})')
    if not valid:
        raise argparse.ArgumentTypeError(f'The URL provided is invalid: {arg}')
    return arg


def parse_args(args: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line; -h is the host (Flask habit), so the help is only --help."""
    parser = argparse.ArgumentParser(description='Start a Flask application to interact with Supvisors',
                                     add_help=False)
    parser.add_argument('--help', action='help', help='show this help message and exit')
    default_url = os.environ.get(SERVER_URL_ENV)
    parser.add_argument('-u', '--supervisor_url', type=supervisor_url_type, default=default_url,
                        required=default_url is None,
                        help=f'the Supervisor URL (default: environment variable {SERVER_URL_ENV})')
    parser.add_argument('-h', '--host', type=str, help='the Flask application host (Flask default: 127.0.0.1)')
    parser.add_argument('-p', '--port', type=int, default=5000, help='the Flask application port (default: 5000)')
    parser.add_argument('-d', '--debug', action='store_true', help='the Flask debug mode')
    return parser.parse_args(args)


def main(args: Optional[Sequence[str]] = None) -> None:
    """Entry point of the supvisorsflask console script."""
    namespace = parse_args(args)
    if namespace.debug:
        print(f'ArgumentParser: {namespace}')
    app = create_app(namespace.supervisor_url)
    app.run(host=namespace.host, port=namespace.port, debug=namespace.debug)


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
