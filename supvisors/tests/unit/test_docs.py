"""The user documentation (docs/): its Sphinx build, and the example files its pages include.

Every configuration or code snippet of the pages is a real file, included with literalinclude: the example files of
docs/examples are checked here (read by Supervisor, parsed by Supvisors, validated against the rules schema, run
against the real event publishers), the Scenario 2 files by the Scenario 2 tests. The reference pages are also
checked for completeness (every option, rules element, XML-RPC method and command documented).
"""

import importlib.util
import inspect
import io
import os
import re
import subprocess
import sys
import threading
import types
from typing import Dict, List, Tuple

import pytest
from supervisor.options import ClientOptions, ServerOptions

from supvisors.adapters.supervisor_config import read_programs
from supvisors.mapper import SupvisorsMapper
from supvisors.options import LoggingOptions, SupvisorsOptions, parse_options
from supvisors.plugin import make_supvisors_rpcinterface
from supvisors.rpcinterface import RPCInterface
from supvisors.rules.parser import load_rules, resolve_application_rules, resolve_process_rules
from supvisors.supvisorsctl import SupvisorsControllerPlugin, make_supvisors_controller_plugin
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.tools.localfleet import find_free_ports, wait_for
from supvisors.ttypes import ConciliationStrategies, EventLinks, StartingStrategies

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DOCS = os.path.join(ROOT, 'docs')
EXAMPLES = os.path.join(DOCS, 'examples')
SUPERVISORD_CONF = os.path.join(EXAMPLES, 'supervisord.conf')
MINIMAL_CONF = os.path.join(EXAMPLES, 'supervisord_minimal.conf')
RULES_XML = os.path.join(EXAMPLES, 'rules.xml')
SCHEMA = os.path.join(ROOT, 'supvisors', 'rules.xsd')

# the fleet of docs/examples/supervisord.conf, in supvisors_list order
IDENTIFIERS = ['server_1', 'server_2', 'server_3', 'console_1']


def read_page(name: str) -> str:
    with open(os.path.join(DOCS, name), encoding='utf-8') as stream:
        return stream.read()


def load_example_module(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f'docs_example_{name}', os.path.join(EXAMPLES, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------------------------------
# Sphinx build
# ---------------------------------------------------------------------------------------------------------------------
def test_sphinx_build(tmp_path):
    """ The documentation builds with warnings as errors (broken references, missing includes, bad markup...). """
    pytest.importorskip('sphinx', reason='the docs build needs sphinx (extras test, testing or docs)')
    pytest.importorskip('myst_parser', reason='the docs build needs myst-parser (extras test, testing or docs)')
    output = tmp_path / 'html'
    result = subprocess.run([sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html',
                             '-d', str(tmp_path / 'doctrees'), DOCS, str(output)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f'sphinx-build failed:\n{result.stdout}\n{result.stderr}'
    pages = ['index', 'introduction', 'installation', 'configuration', 'rules', 'xml_rpc', 'supervisorctl',
             'event_interface', 'dashboard', 'rest', 'scenario2', 'troubleshooting', 'beyond_upstream',
             'architecture']
    for page in pages:
        assert (output / f'{page}.html').is_file(), page
    # the snippets are the files themselves
    scenario2 = (output / 'scenario2.html').read_text(encoding='utf-8')
    assert 'model_services' in scenario2 and 'SCEN2_SUPVISORS_LIST' in scenario2
    assert 'critical_service' in (output / 'rules.html').read_text(encoding='utf-8')
    assert (output / '_images' / 'dashboard_main.png').is_file()


def test_no_inline_configuration_block():
    """ Configuration and code snippets are included from tested files, never written inline in the pages:
    the only fenced blocks are MyST directives (toctree, literalinclude). """
    for name in sorted(os.listdir(DOCS)):
        if not name.endswith('.md'):
            continue
        opening = True
        for number, line in enumerate(read_page(name).splitlines(), 1):
            if line.lstrip().startswith('```'):
                if opening:
                    assert line.lstrip()[3:].startswith('{'), f'{name}:{number}: inline block {line!r}'
                opening = not opening
        assert opening, f'{name}: unterminated block'


# ---------------------------------------------------------------------------------------------------------------------
# docs/examples/supervisord.conf
# ---------------------------------------------------------------------------------------------------------------------
def read_supervisord_conf() -> Tuple[ServerOptions, Dict[str, str]]:
    """ What supervisord reads from the example, and the section given to the Supvisors factory. """
    options = ServerOptions()
    options.configfile = SUPERVISORD_CONF
    options.here = EXAMPLES
    section = options.read_config(SUPERVISORD_CONF)
    factories = {name: (factory, extras) for name, factory, extras in section.rpcinterface_factories}
    factory, extras = factories['supvisors']
    assert factory is make_supvisors_rpcinterface
    assert section.identifier == 'server_1'
    assert [x['port'] for x in section.server_configs] == [60000]
    return options, extras


def test_supervisord_conf_options():
    _, extras = read_supervisord_conf()
    options, records = parse_options(extras, EXAMPLES)
    assert records == []
    assert options == SupvisorsOptions(
        supvisors_list=['<server_1>10.0.0.11:60000:60001', '<server_2>10.0.0.12:60000:60001',
                        '<server_3>10.0.0.13:60000:60001', '<console_1>10.0.0.21:60000:60001'],
        rules_files=[RULES_XML], auto_fence=False, internal_port=0, event_link=EventLinks.WS, event_port=60002,
        synchro_timeout=30, inactivity_ticks=3, core_identifiers={'server_1', 'server_2'},
        disabilities_file=os.path.join(EXAMPLES, 'disabilities.json'),
        starting_strategy=StartingStrategies.LESS_LOADED, conciliation_strategy=ConciliationStrategies.USER,
        stats_enabled=True, stats_periods=[10, 60], stats_histo=200, stats_irix_mode=False,
        stats_collecting_period=5.0, tail_limit=4096, tailf_limit=4096, tick_period=2.0,
        logging=LoggingOptions())


class RecordingSection(dict):
    """ A [rpcinterface:supvisors] section that records the option names looked up by the parser. """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.looked_up = set()

    def __contains__(self, key):
        self.looked_up.add(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self.looked_up.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.looked_up.add(key)
        return super().get(key, default)


def all_option_names() -> List[str]:
    """ Every option of [rpcinterface:supvisors]: the names that the parser of the plugin looks up. """
    section = RecordingSection()
    parse_options(section, EXAMPLES)
    assert {'supvisors_list', 'rules_files', 'tick_period', 'stats_collecting_period', 'loglevel'} <= section.looked_up
    return sorted(section.looked_up)


# options deliberately left out of the example file: a secret is not written in a configuration example
NOT_IN_EXAMPLE = {'internal_secret', 'internal_secret_file'}


def test_supervisord_conf_sets_every_option():
    """ The example shows the syntax of every option. """
    _, extras = read_supervisord_conf()
    assert sorted(extras) == sorted(set(all_option_names()) - NOT_IN_EXAMPLE)


def test_configuration_page_documents_every_option():
    page = read_page('configuration.md')
    for name in all_option_names():
        assert re.search(rf'^\| `{name}` \|', page, re.MULTILINE), f'option {name} not in the options table'


def test_supervisord_conf_fleet():
    """ The supvisors_list of the example: identifiers, ports, and server_1 as the local instance. """
    _, extras = read_supervisord_conf()
    options, _ = parse_options(extras, EXAMPLES)
    logger = FakeLogger()
    mapper = SupvisorsMapper(options.supvisors_list, 60000, options.internal_port, options.event_port,
                             'server_1', logger, local_names=[])
    assert mapper.identifiers == IDENTIFIERS
    assert mapper.local_identifier == 'server_1'
    assert mapper.core_identifiers(options.core_identifiers) is not None
    instance = mapper.instances['server_2']
    assert (instance.host_name, instance.http_port, instance.internal_port) == ('10.0.0.12', 60000, 60001)
    assert logger.levels('error') == [] and logger.levels('critical') == []


def test_minimal_conf():
    """ Without [include], %%(here)s reaches Supvisors, which expands it. """
    options = ServerOptions()
    options.configfile = MINIMAL_CONF
    options.here = EXAMPLES
    section = options.read_config(MINIMAL_CONF)
    factories = {name: (factory, extras) for name, factory, extras in section.rpcinterface_factories}
    factory, extras = factories['supvisors']
    assert factory is make_supvisors_rpcinterface
    assert extras == {'supvisors_list': 'server_1,server_2,server_3', 'rules_files': '%(here)s/rules.xml'}
    parsed, records = parse_options(extras, EXAMPLES)
    assert records == [('warn', 'no persistence for program disabilities')]
    assert parsed.supvisors_list == ['server_1', 'server_2', 'server_3']
    assert parsed.rules_files == [RULES_XML]
    client = ClientOptions()
    client.configfile = MINIMAL_CONF
    client.read_config(MINIMAL_CONF)
    assert {name: factory for name, factory, _ in client.plugin_factories}['supvisors'] \
        is make_supvisors_controller_plugin


def test_supervisord_conf_ctl_plugin():
    options = ClientOptions()
    options.configfile = SUPERVISORD_CONF
    options.read_config(SUPERVISORD_CONF)
    factories = {name: factory for name, factory, _ in options.plugin_factories}
    assert factories['supvisors'] is make_supvisors_controller_plugin


# ---------------------------------------------------------------------------------------------------------------------
# docs/examples/rules.xml (with docs/examples/programs.ini)
# ---------------------------------------------------------------------------------------------------------------------
def test_rules_xml_valid_against_the_schema():
    etree = pytest.importorskip('lxml.etree')
    schema = etree.XMLSchema(etree.parse(SCHEMA))
    assert schema.validate(etree.parse(RULES_XML)), schema.error_log


# namespec -> identifiers, start_sequence, required, wait_exit, expected_loading, starting and running failure
EXPECTED_PROCESS_RULES = {
    'database:db_server': (['server_1', 'server_2'], 1, True, False, 30, 'STOP', 'RESTART_APPLICATION'),
    'database:db_check': (['server_1', 'server_2'], 2, True, True, 0, 'STOP', 'CONTINUE'),
    'web:worker_01': (['server_1'], 2, True, False, 5, 'CONTINUE', 'RESTART_PROCESS'),
    'web:worker_02': (['server_2'], 2, True, False, 5, 'CONTINUE', 'RESTART_PROCESS'),
    'web:worker_03': (['server_3'], 2, True, False, 5, 'CONTINUE', 'RESTART_PROCESS'),
    'web:worker_04': (['server_1'], 2, True, False, 5, 'CONTINUE', 'RESTART_PROCESS'),
    'web:front': (['server_1', 'server_2', 'server_3'], 3, True, False, 5, 'CONTINUE', 'CONTINUE'),
    'report_01:report': (['*'], 1, False, False, 10, 'ABORT', 'CONTINUE'),
    'report_02:report': (['*'], 1, False, False, 10, 'ABORT', 'CONTINUE'),
    'report_03:report': (['*'], 1, False, False, 10, 'ABORT', 'CONTINUE')}
# application -> distribution, identifiers, start_sequence, starting strategy, starting failure strategy
EXPECTED_APPLICATION_RULES = {
    'database': ('ALL_INSTANCES', ['*'], 1, 'LESS_LOADED', 'STOP'),
    'web': ('ALL_INSTANCES', ['*'], 2, 'LESS_LOADED', 'CONTINUE'),
    'report_01': ('SINGLE_INSTANCE', ['server_1'], 3, 'LESS_LOADED', 'ABORT'),
    'report_02': ('SINGLE_INSTANCE', ['server_2'], 3, 'LESS_LOADED', 'ABORT'),
    'report_03': ('SINGLE_INSTANCE', ['server_3'], 3, 'LESS_LOADED', 'ABORT')}


@pytest.mark.parametrize('use_lxml', [True, False], ids=['lxml', 'etree'])
def test_rules_xml_resolution(use_lxml):
    """ The rules given by the table of docs/rules.md, for every process of programs.ini, without any warning. """
    if use_lxml:
        pytest.importorskip('lxml.etree')
    _, extras = read_supervisord_conf()
    options, _ = parse_options(extras, EXAMPLES)
    logger = FakeLogger()
    stderr = io.StringIO()
    parser = load_rules(options.rules_files, IDENTIFIERS, logger, stderr=stderr, use_lxml=use_lxml)
    assert parser is not None, stderr.getvalue()
    programs = read_programs(SUPERVISORD_CONF)
    applications, processes = {}, {}
    for (group, process), (_, index, autorestart) in programs.table.items():
        application_rules = resolve_application_rules(parser, group, options.starting_strategy, IDENTIFIERS, logger)
        rules, force_autorestart = resolve_process_rules(parser, group, process, application_rules, index,
                                                         autorestart, IDENTIFIERS, logger)
        assert force_autorestart is False  # the example sets autorestart = false where the rules need it
        payload = application_rules.serial(group)
        applications[group] = (payload['distribution'], payload['identifiers'], payload['start_sequence'],
                               payload['starting_strategy'], payload['starting_failure_strategy'])
        assert payload['stop_sequence'] == payload['start_sequence']
        payload = rules.serial(group, process)
        processes[f'{group}:{process}'] = (payload['identifiers'], payload['start_sequence'], payload['required'],
                                           payload['wait_exit'], payload['expected_loading'],
                                           payload['starting_failure_strategy'], payload['running_failure_strategy'])
        assert payload['stop_sequence'] == payload['start_sequence']
    assert applications == EXPECTED_APPLICATION_RULES
    assert processes == EXPECTED_PROCESS_RULES
    assert logger.records == []


def test_rules_page_documents_every_element():
    """ Every element of the schema has its entry in docs/rules.md. """
    with open(SCHEMA, encoding='utf-8') as stream:
        elements = set(re.findall(r'<xs:element name="(\w+)"', stream.read()))
    assert {'root', 'alias', 'model', 'application', 'programs', 'program', 'reference'} <= elements
    page = read_page('rules.md')
    for element in elements:
        assert f'`{element}`' in page, f'rules element {element} not documented'


# ---------------------------------------------------------------------------------------------------------------------
# reference pages
# ---------------------------------------------------------------------------------------------------------------------
def test_xml_rpc_page_documents_every_method():
    methods = [name for name, value in vars(RPCInterface).items()
               if isinstance(value, types.FunctionType) and not name.startswith('_')]
    assert len(methods) == 31
    page = read_page('xml_rpc.md')
    for name in methods:
        parameters = [x for x in inspect.signature(getattr(RPCInterface, name)).parameters if x != 'self']
        documented = re.search(rf'`{name}\(([^)]*)\)`', page)
        assert documented, f'XML-RPC method {name} not documented'
        assert [x.split('=')[0].strip() for x in documented.group(1).split(',') if x] == parameters, name


def test_supervisorctl_page_documents_every_command():
    commands = [name[3:] for name in vars(SupvisorsControllerPlugin) if name.startswith('do_')]
    page = read_page('supervisorctl.md')
    for command in commands:
        assert re.search(rf'^\| `{command}[ `]', page, re.MULTILINE), f'command {command} not documented'


def test_scenario2_page_maps_every_requirement():
    """ Each requirement of the use case has its row, citing tests that exist in test_scenario2.py. """
    page = read_page('scenario2.md')
    section = page[page.index('## Requirements, configuration and proofs'):]
    rows = re.findall(r'^\| (\d+) \| (.+) \| (.+) \|$', section, re.MULTILINE)
    assert [int(number) for number, _, _ in rows] == [1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16, 17,
                                                      20, 21, 22, 23, 24, 25, 26, 27]
    with open(os.path.join(ROOT, 'supvisors', 'tests', 'e2e', 'test_scenario2.py'), encoding='utf-8') as stream:
        defined = set(re.findall(r'^def (test_\w+)\(', stream.read(), re.MULTILINE))
    for number, _, proofs in rows:
        cited = re.findall(r'`(test_\w+)`', proofs)
        assert cited and set(cited) <= defined, f'requirement {number}: {cited}'
        assert any(f'req{int(number):02d}' in name for name in cited), f'requirement {number}: {cited}'


# ---------------------------------------------------------------------------------------------------------------------
# docs/examples/ws_client.py and zmq_client.py, against the real publishers
# ---------------------------------------------------------------------------------------------------------------------
PROCESS_PAYLOAD = {'application_name': 'web', 'process_name': 'front', 'statecode': 20, 'statename': 'RUNNING',
                   'expected_exit': True, 'last_event_time': 1.5, 'identifiers': ['server_1'], 'extra_args': ''}
EXPECTED_LINE = 'web:front is RUNNING'


def run_example(capsys, module: types.ModuleType, publisher, port: int) -> None:
    """ Run the listen function of the example while the publisher sends a process event, until it is printed. """
    listener = threading.Thread(target=module.listen, args=(port, 2.0, FakeLogger()), daemon=True)
    listener.start()
    printed: List[str] = []

    def received() -> bool:
        publisher.send('instance', {'identifier': 'server_1'})  # another topic, not printed
        publisher.send('process', PROCESS_PAYLOAD)
        printed.extend(capsys.readouterr().out.splitlines())
        return EXPECTED_LINE in printed
    try:
        wait_for(received, timeout=1.8, interval=0.05, what='the example prints the process event')
    finally:
        listener.join(5)
    assert not listener.is_alive()
    assert set(printed) == {EXPECTED_LINE}


def test_ws_client_example(capsys):
    from supvisors.adapters.ws_publisher import WsEventPublisher
    port = find_free_ports(1)[0]
    publisher = WsEventPublisher(port, FakeLogger(), hold_back=0)
    try:
        assert publisher.bound
        run_example(capsys, load_example_module('ws_client'), publisher, port)
    finally:
        publisher.close()


def test_zmq_client_example(capsys):
    pytest.importorskip('zmq')
    from supvisors.adapters.event_publisher import ZmqEventPublisher
    port = find_free_ports(1)[0]
    publisher = ZmqEventPublisher(port, FakeLogger(), hold_back=0)
    try:
        assert publisher.socket is not None
        run_example(capsys, load_example_module('zmq_client'), publisher, port)
    finally:
        publisher.close()
