"""Tests of the rules files: schema, loading, lookup, precedence and identifiers (configuration contract 2 and 3)."""

import io
import os
import sys
from typing import Any, List, Optional

import pytest

from supvisors.rules import (ALL_IDENTIFIERS, UNSET_SEQUENCE, ApplicationRules, ProcessRules, RulesParser,
                             load_rules, resolve_application_rules, resolve_identifiers_text, resolve_process_rules,
                             store_identifiers)
from supvisors.rules import parser as parser_module
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.ttypes import (DistributionRules, RunningFailureStrategies, StartingFailureStrategies,
                              StartingStrategies)

IDS = ['n1', 'n2', 'n3', 'n4']
# aliases of the worked examples, in this registration order
ALIASES = '<alias name="B">A,n2</alias><alias name="A">n3,n1</alias><alias name="C">n4,A</alias>'
MODES = pytest.mark.parametrize('use_lxml', [True, False], ids=['lxml', 'etree'])
CANNOT_PARSE = 'Supvisors: cannot parse rules files: '



@pytest.fixture
def logger() -> FakeLogger:
    return FakeLogger()


class Rules:
    """ Writes rules files into a temporary directory and loads them. """

    def __init__(self, tmp_path: Any, logger: FakeLogger) -> None:
        self.tmp_path = tmp_path
        self.logger = logger
        self.count = 0
        self.stderr = io.StringIO()

    def write(self, body: str, raw: bool = False) -> str:
        self.count += 1
        path = str(self.tmp_path / f'rules_{self.count:02d}.xml')
        content = body if raw else f'<?xml version="1.0" encoding="UTF-8"?>\n<root>\n{body}\n</root>\n'
        with open(path, 'w', encoding='utf-8') as stream:
            stream.write(content)
        return path

    def load_files(self, files: Optional[List[str]], use_lxml: Optional[bool] = True,
                   identifiers: Optional[List[str]] = None) -> Optional[RulesParser]:
        return load_rules(files, IDS if identifiers is None else identifiers, self.logger, stderr=self.stderr,
                          use_lxml=use_lxml)

    def load(self, *bodies: str, use_lxml: Optional[bool] = True) -> Optional[RulesParser]:
        return self.load_files([self.write(body) for body in bodies], use_lxml)


@pytest.fixture
def rules(tmp_path, logger) -> Rules:
    return Rules(tmp_path, logger)


def app_rules(parser: Optional[RulesParser], name: str, logger: FakeLogger,
              strategy: StartingStrategies = StartingStrategies.CONFIG) -> ApplicationRules:
    return resolve_application_rules(parser, name, strategy, IDS, logger)


def proc_rules(parser: Optional[RulesParser], app: str, proc: str, logger: FakeLogger, index: Optional[int] = 0,
               autorestart: Optional[bool] = False) -> ProcessRules:
    application = app_rules(parser, app, logger)
    process, _ = resolve_process_rules(parser, app, proc, application, index, autorestart, IDS, logger)
    return process


def program(body: str, name: str = 'p', app: str = 'a', app_body: str = '') -> str:
    """ One application holding one program. """
    return f'<application name="{app}">{app_body}<programs><program name="{name}">{body}</program></programs>' \
           f'</application>'


# ---------------------------------------------------------------------------------------------------------------------
# schema (lxml mode)
# ---------------------------------------------------------------------------------------------------------------------

SPEC_EXAMPLE = """
    <alias name="front">web-a,web-b</alias>
    <model name="svc">
        <start_sequence>2</start_sequence>
        <required>true</required>
        <expected_loading>10</expected_loading>
    </model>
    <application name="shop">
        <start_sequence>1</start_sequence>
        <starting_failure_strategy>CONTINUE</starting_failure_strategy>
        <programs>
            <program name="cache"><reference>svc</reference><start_sequence>1</start_sequence></program>
            <program pattern="^worker_\\d+$"><reference>svc</reference><identifiers>#,front</identifiers></program>
        </programs>
    </application>
"""

FULL_DOCUMENT = """
    <!-- comments are allowed anywhere -->
    <alias name="empty"></alias>
    <alias name="x"><!-- c -->n1</alias>
    <model name="m" pattern="unused">
        <reference>other</reference>
        <identifiers>n1</identifiers>
        <start_sequence> +05 </start_sequence>
        <stop_sequence>-128</stop_sequence>
        <required> true </required>
        <wait_exit>0</wait_exit>
        <expected_loading>0100</expected_loading>
        <starting_failure_strategy>STOP</starting_failure_strategy>
        <running_failure_strategy>RESTART</running_failure_strategy>
    </model>
    <model/>
    <application/>
    <application name="a" pattern="b">
        <programs/>
        <running_failure_strategy>SHUTDOWN</running_failure_strategy>
        <starting_failure_strategy>ABORT</starting_failure_strategy>
        <starting_strategy>MOST_LOADED_NODE</starting_strategy>
        <stop_sequence>127</stop_sequence>
        <start_sequence>-1</start_sequence>
        <identifiers/>
        <distribution>SINGLE_NODE</distribution>
    </application>
    <application pattern="">
        <programs>
            <!-- comment -->
            <program/>
            <program name="p" pattern="q"><reference/><identifiers/><required>1</required>
                <wait_exit>false</wait_exit><expected_loading>-0</expected_loading></program>
        </programs>
    </application>
"""


@pytest.mark.parametrize('body', [SPEC_EXAMPLE, FULL_DOCUMENT, ''], ids=['spec', 'full', 'empty'])
def test_schema_valid(rules, logger, body):
    assert rules.load(body, use_lxml=True) is not None
    assert rules.stderr.getvalue() == ''
    assert logger.levels('warn') == []


@pytest.mark.parametrize('body', [
    # the list of the contract
    program('<required>yes</required>'),
    program('<start_sequence>200</start_sequence>'),
    program('<start_sequence>1</start_sequence><start_sequence>2</start_sequence>'),
    '<application name="a"><programs><pattern name=""/></programs></application>',
    '<application name="a"><program name="p"/></application>',
    '<application name="a"><operational_status>"p"</operational_status></application>',
    program('<starting_strategy>CONFIG</starting_strategy>'),
    '<application name="a" extra="1"/>',
    # more attributes and structures
    '<alias name="a" extra="1">n1</alias>',
    '<alias>n1</alias>',
    '<alias name="a"><x/></alias>',
    '<model name="m" extra="1"/>',
    '<application name="a"><programs><program name="p" identifiers="n1"/></programs></application>',
    '<application name="a"><programs extra="1"/></application>',
    '<application name="a"><programs/><programs/></application>',
    '<application name="a">text</application>',
    '<application name="a"><distributed>true</distributed></application>',
    '<application name="a"><addresses>n1</addresses></application>',
    '<application name="a"><pattern>x</pattern></application>',
    '<application name="a"><expected_loading>1</expected_loading></application>',
    '<application name="a"><required>true</required></application>',
    '<application name="a"><reference>m</reference></application>',
    '<model name="m"><programs/></model>',
    program('<distribution>ALL_INSTANCES</distribution>'),
    program('<programs/>'),
    '<programs/>',
    '<program name="p"/>',
    # simple types
    program('<start_sequence/>'),
    program('<start_sequence>-129</start_sequence>'),
    program('<start_sequence>1.0</start_sequence>'),
    program('<start_sequence>1_0</start_sequence>'),
    program('<stop_sequence>x</stop_sequence>'),
    program('<expected_loading>101</expected_loading>'),
    program('<expected_loading>-1</expected_loading>'),
    program('<expected_loading/>'),
    program('<required>True</required>'),
    program('<required/>'),
    program('<wait_exit>on</wait_exit>'),
    '<application name="a"><distribution> ALL_INSTANCES</distribution></application>',
    '<application name="a"><distribution>ALL_INSTANCES </distribution></application>',
    '<application name="a"><distribution>all_instances</distribution></application>',
    '<application name="a"><starting_strategy>BEST</starting_strategy></application>',
    '<application name="a"><starting_failure_strategy>RESTART</starting_failure_strategy></application>',
    '<application name="a"><running_failure_strategy>STOP</running_failure_strategy></application>',
    program('<starting_failure_strategy>ABORT </starting_failure_strategy>'),
    program('<running_failure_strategy>UNKNOWN</running_failure_strategy>'),
], ids=lambda body: body[:80])
def test_schema_invalid(rules, logger, body):
    """ Any schema violation discards all rules (case C), the error log going to stderr. """
    path = rules.write(body)
    assert rules.load_files([path], use_lxml=True) is None
    [(level, message)] = logger.records
    # one line naming the file, the line and the element at fault
    assert level == 'warn' and message.startswith(f"{CANNOT_PARSE}['{path}'] - XML NOT validated: {path} (line ")
    assert "Element '" in message
    assert 'ERROR' in rules.stderr.getvalue()


@pytest.mark.parametrize('content', [
    '<?xml version="1.0"?><root xmlns="urn:x"/>',
    '<?xml version="1.0"?><rules/>',
    '<?xml version="1.0"?><alias name="a">n1</alias>',
    '<?xml version="1.0"?><root extra="1"/>',
])
def test_schema_invalid_document_element(rules, logger, content):
    path = rules.write(content, raw=True)
    assert rules.load_files([path], use_lxml=True) is None
    [message] = logger.levels('warn')
    assert message.startswith(f"{CANNOT_PARSE}['{path}'] - XML NOT validated: {path} (line 1: ")


def test_schema_file_is_packaged():
    from importlib import resources
    text = resources.files('supvisors').joinpath('rules.xsd').read_text()
    assert 'targetNamespace' not in text


# ---------------------------------------------------------------------------------------------------------------------
# loading cases A / B / C
# ---------------------------------------------------------------------------------------------------------------------

@MODES
def test_case_a_union_of_files(rules, logger, use_lxml):
    parser = rules.load('<application name="a"><start_sequence>1</start_sequence></application>',
                        '<application name="b"><start_sequence>2</start_sequence></application>', use_lxml=use_lxml)
    assert parser is not None
    assert len(parser.files) == 2
    assert app_rules(parser, 'a', logger).start_sequence == 1
    assert app_rules(parser, 'b', logger).start_sequence == 2
    assert logger.records == []


@MODES
def test_case_b_empty_list(rules, logger, use_lxml):
    parser = rules.load_files([], use_lxml=use_lxml)
    assert parser is not None and parser.files == []
    assert logger.records == []
    application = app_rules(parser, 'a', logger, StartingStrategies.LESS_LOADED)
    assert application.serial('a') == {'managed': False, 'application_name': 'a'}
    assert application.starting_strategy == StartingStrategies.LESS_LOADED
    assert application.stop_sequence == 0
    process, force = resolve_process_rules(parser, 'a', 'p', application, 0, True, IDS, logger)
    assert process.stop_sequence == 0
    assert force is False


def test_case_c_not_set(rules, logger):
    assert rules.load_files(None) is None
    assert logger.records == [('warn', f'{CANNOT_PARSE}None - rules_files not set')]


@MODES
@pytest.mark.parametrize('content', ['<root><application name="a"></root>', '', 'not xml', '<root/><root/>'])
def test_case_c_malformed(rules, logger, use_lxml, content):
    path = rules.write(content, raw=True)
    assert rules.load_files([path], use_lxml=use_lxml) is None
    [message] = logger.levels('warn')
    assert message.startswith(f"{CANNOT_PARSE}['{path}'] - ")
    assert len(message) > len(f"{CANNOT_PARSE}['{path}'] - ")


@MODES
def test_case_c_unreadable(rules, logger, use_lxml, tmp_path):
    missing = str(tmp_path / 'missing.xml')
    assert rules.load_files([missing], use_lxml=use_lxml) is None
    assert logger.levels('warn')[0].startswith(f"{CANNOT_PARSE}['{missing}'] - ")
    directory = str(tmp_path / 'folder.xml')
    os.mkdir(directory)
    assert rules.load_files([directory], use_lxml=use_lxml) is None
    assert logger.levels('warn')[1].startswith(f"{CANNOT_PARSE}['{directory}'] - ")


@MODES
def test_case_c_later_file_discards_earlier(rules, logger, use_lxml):
    good = rules.write('<application name="a"><start_sequence>1</start_sequence></application>')
    bad = rules.write('<root>', raw=True)
    assert rules.load_files([good, bad], use_lxml=use_lxml) is None
    assert logger.levels('warn')[0].startswith(f"{CANNOT_PARSE}['{good}', '{bad}'] - ")


def test_case_c_defaults(logger):
    """ Without a parser: CONFIG whatever the option, no post-processing (stop_sequence -1), nothing logged. """
    application = app_rules(None, 'shop_01', logger, StartingStrategies.MOST_LOADED)
    assert application == ApplicationRules()
    assert application.starting_strategy == StartingStrategies.CONFIG
    assert application.stop_sequence == UNSET_SEQUENCE
    assert application.serial('shop_01') == {'managed': False, 'application_name': 'shop_01'}
    process, force = resolve_process_rules(None, 'shop_01', 'p', application, None, True, IDS, logger)
    assert process.serial('shop_01', 'p') == {
        'identifiers': ['*'], 'start_sequence': 0, 'stop_sequence': -1, 'required': False, 'wait_exit': False,
        'expected_loading': 0, 'starting_failure_strategy': 'ABORT', 'running_failure_strategy': 'CONTINUE',
        'application_name': 'shop_01', 'process_name': 'p'}
    assert force is False
    assert logger.records == []


def test_case_c_process_copies_application_strategies(logger):
    application = ApplicationRules(starting_failure_strategy=StartingFailureStrategies.STOP,
                                   running_failure_strategy=RunningFailureStrategies.STOP_APPLICATION)
    process, force = resolve_process_rules(None, 'a', 'p', application, 0, True, IDS, logger)
    assert process.starting_failure_strategy == StartingFailureStrategies.STOP
    assert process.running_failure_strategy == RunningFailureStrategies.STOP_APPLICATION
    assert force is False


def test_unknown_strategy_names_by_mode(rules, logger):
    body = ('<application name="a"><starting_strategy>BEST</starting_strategy>'
            '<distribution>ANY</distribution><starting_failure_strategy>abort</starting_failure_strategy>'
            '<running_failure_strategy>STOP</running_failure_strategy></application>')
    assert rules.load(body, use_lxml=True) is None
    parser = rules.load(body, use_lxml=False)
    assert parser is not None
    logger.records.clear()
    application = app_rules(parser, 'a', logger, StartingStrategies.LOCAL)
    assert application.managed
    assert (application.starting_strategy, application.distribution) == (StartingStrategies.LOCAL,
                                                                         DistributionRules.ALL_INSTANCES)
    assert application.starting_failure_strategy == StartingFailureStrategies.ABORT
    assert application.running_failure_strategy == RunningFailureStrategies.CONTINUE
    warnings = logger.levels('warn')
    assert len(warnings) == 4
    assert any("starting_strategy: 'BEST'" in msg for msg in warnings)


def test_lxml_missing(rules, logger, monkeypatch):
    """ Forced lxml without the module is a failure (case C); auto mode falls back to the lenient parser. """
    monkeypatch.setitem(sys.modules, 'lxml', None)
    monkeypatch.setitem(sys.modules, 'lxml.etree', None)
    parser_module._rules_schema.cache_clear()
    try:
        path = rules.write(program('<required>yes</required>'))
        assert rules.load_files([path], use_lxml=True) is None
        assert logger.levels('warn')[0].startswith(f"{CANNOT_PARSE}['{path}'] - ")
        parser = rules.load_files([path], use_lxml=None)
        assert parser is not None
        assert proc_rules(parser, 'a', 'p', logger).required is False  # forced: start_sequence is 0
    finally:
        parser_module._rules_schema.cache_clear()


def test_auto_mode_uses_lxml(rules, logger):
    assert rules.load(program('<required>yes</required>'), use_lxml=None) is None


def test_default_stderr(rules, logger, capsys):
    path = rules.write('<application name="a" x="1"/>')
    assert load_rules([path], IDS, logger, use_lxml=True) is None
    assert 'ERROR' in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------------
# lenient mode (no lxml)
# ---------------------------------------------------------------------------------------------------------------------

def test_lenient_accepts_what_schema_refuses(rules, logger):
    body = ('<application name="a" unknown="1"><operational_status>x</operational_status>'
            '<start_sequence>200</start_sequence><stop_sequence>1_0</stop_sequence>'
            '<program name="p"><start_sequence>9</start_sequence></program>'
            '<programs><pattern name="p"/><program name="p" extra="x"><start_sequence>300</start_sequence>'
            '<required>yes</required><wait_exit>On</wait_exit><starting_strategy>LOCAL</starting_strategy>'
            '<unknown/></program></programs></application>')
    assert rules.load(body, use_lxml=True) is None
    parser = rules.load(body, use_lxml=False)
    logger.records.clear()
    application = app_rules(parser, 'a', logger)
    assert (application.start_sequence, application.stop_sequence) == (200, 10)
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.start_sequence, process.required, process.wait_exit) == (300, True, True)
    assert logger.records == []


def test_lenient_document_element_not_checked(rules, logger):
    path = rules.write('<rules><application name="a"><start_sequence>3</start_sequence></application></rules>',
                       raw=True)
    parser = rules.load_files([path], use_lxml=False)
    assert app_rules(parser, 'a', logger).start_sequence == 3


def test_lenient_namespace_gives_no_rules(rules, logger):
    path = rules.write('<root xmlns="urn:x"><application name="a"/></root>', raw=True)
    parser = rules.load_files([path], use_lxml=False)
    assert parser is not None
    assert not app_rules(parser, 'a', logger).managed


def test_lenient_first_duplicate_used(rules, logger):
    parser = rules.load('<application name="a"><start_sequence>1</start_sequence>'
                        '<start_sequence>2</start_sequence><distribution>SINGLE_NODE</distribution>'
                        '<distribution>SINGLE_INSTANCE</distribution><programs><program name="p">'
                        '<identifiers>n2</identifiers><identifiers>n3</identifiers></program></programs>'
                        '</application>', use_lxml=False)
    application = app_rules(parser, 'a', logger)
    assert (application.start_sequence, application.distribution) == (1, DistributionRules.SINGLE_NODE)
    assert proc_rules(parser, 'a', 'p', logger).identifiers == ['n2']


def test_lenient_ignored_alias_and_model_without_name(rules, logger):
    parser = rules.load('<alias>n1</alias><alias name="X">n2</alias><model><start_sequence>4</start_sequence>'
                        '</model>', use_lxml=False)
    assert parser.aliases == {'X': ['n2']}
    assert parser.models == {}


# ---------------------------------------------------------------------------------------------------------------------
# value checks (both modes)
# ---------------------------------------------------------------------------------------------------------------------

MODEL_VALUES = ('<model name="m"><start_sequence>5</start_sequence><stop_sequence>6</stop_sequence>'
                '<required>true</required><wait_exit>true</wait_exit><expected_loading>7</expected_loading></model>')


@MODES
@pytest.mark.parametrize('text, expected', [(' 3 ', 3), ('+3', 3), ('007', 7), ('0', 0), ('-0', 0)])
def test_sequence_accepted(rules, logger, use_lxml, text, expected):
    parser = rules.load(program(f'<start_sequence>{text}</start_sequence><stop_sequence>{text}</stop_sequence>',
                                app_body=f'<start_sequence>{text}</start_sequence>'), use_lxml=use_lxml)
    assert app_rules(parser, 'a', logger).start_sequence == expected
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.start_sequence, process.stop_sequence) == (expected, expected)
    assert logger.records == []


@MODES
@pytest.mark.parametrize('tag', ['start_sequence', 'stop_sequence'])
def test_negative_sequence_error_keeps_previous(rules, logger, use_lxml, tag):
    parser = rules.load(MODEL_VALUES + program(f'<reference>m</reference><{tag}>-1</{tag}>')
                        + f'<application name="b"><{tag}>-2</{tag}></application>', use_lxml=use_lxml)
    process = proc_rules(parser, 'a', 'p', logger)
    assert getattr(process, tag) == {'start_sequence': 5, 'stop_sequence': 6}[tag]
    assert logger.levels('error') == [f"RulesParser: invalid value for {tag}: '-1' in program=a:p"
                                      " (integer >= 0 expected)"]
    logger.records.clear()
    application = app_rules(parser, 'b', logger)
    assert (application.start_sequence, application.stop_sequence) == (0, 0)
    assert len(logger.levels('error')) == 1


@pytest.mark.parametrize('text', ['abc', '1.5', ' '])
def test_non_integer_sequence_lenient(rules, logger, text):
    parser = rules.load(MODEL_VALUES + program(f'<reference>m</reference><start_sequence>{text}</start_sequence>'),
                        use_lxml=False)
    assert proc_rules(parser, 'a', 'p', logger).start_sequence == 5
    assert len(logger.levels('error')) == 1


@pytest.mark.parametrize('text, expected', [('200', 200), ('1_0', 10), ('\n12\t', 12)])
def test_sequence_python_int_lenient(rules, logger, text, expected):
    parser = rules.load(program(f'<start_sequence>{text}</start_sequence>'), use_lxml=False)
    assert proc_rules(parser, 'a', 'p', logger).start_sequence == expected


@MODES
@pytest.mark.parametrize('text, expected', [('0', 0), ('100', 100), (' 50 ', 50), ('+1', 1)])
def test_expected_loading_accepted(rules, logger, use_lxml, text, expected):
    parser = rules.load(program(f'<expected_loading>{text}</expected_loading>'), use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'p', logger).expected_loading == expected


@pytest.mark.parametrize('text', ['101', '-1', 'x', '1.0', ' '])
def test_expected_loading_refused_lenient(rules, logger, text):
    parser = rules.load(MODEL_VALUES + program(f'<reference>m</reference><expected_loading>{text}</expected_loading>'),
                        use_lxml=False)
    assert proc_rules(parser, 'a', 'p', logger).expected_loading == 7
    assert logger.levels('warn') == [f"RulesParser: invalid value for expected_loading: {text!r} in program=a:p"
                                     " (integer in [0;100] expected)"]


@MODES
@pytest.mark.parametrize('text, expected', [('true', True), ('1', True), ('false', False), ('0', False)])
def test_boolean_accepted(rules, logger, use_lxml, text, expected):
    parser = rules.load(program(f'<start_sequence>1</start_sequence><required>{text}</required>'
                                f'<wait_exit>{text}</wait_exit>'), use_lxml=use_lxml)
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.required, process.wait_exit) == (expected, expected)


@pytest.mark.parametrize('text, expected', [('y', True), ('YES', True), ('t', True), ('True', True), ('on', True),
                                            ('n', False), ('No', False), ('F', False), ('OFF', False)])
def test_boolean_strtobool_lenient(rules, logger, text, expected):
    parser = rules.load(program(f'<start_sequence>1</start_sequence><required>{text}</required>'
                                f'<wait_exit>{text}</wait_exit>'), use_lxml=False)
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.required, process.wait_exit) == (expected, expected)
    assert logger.records == []


@MODES
def test_boolean_not_trimmed(rules, logger, use_lxml):
    """ XSD-valid (whitespace collapse) but refused by strtobool: only a WARN, the previous value is kept. """
    parser = rules.load(MODEL_VALUES + program('<reference>m</reference><required> true </required>'
                                               '<wait_exit> false </wait_exit>'), use_lxml=use_lxml)
    assert parser is not None
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.required, process.wait_exit) == (True, True)
    assert logger.levels('warn') == ["RulesParser: invalid value for required: ' true ' in program=a:p"
                                     " (boolean expected)",
                                     "RulesParser: invalid value for wait_exit: ' false ' in program=a:p"
                                     " (boolean expected)"]


@pytest.mark.parametrize('text', ['maybe', '2', ' '])
def test_boolean_refused_lenient(rules, logger, text):
    parser = rules.load(program(f'<start_sequence>1</start_sequence><required>{text}</required>'), use_lxml=False)
    assert proc_rules(parser, 'a', 'p', logger).required is False
    assert len(logger.levels('warn')) == 1


@pytest.mark.parametrize('text', [' CONFIG', 'CONFIG ', 'config', 'Config', 'NONE'])
def test_enum_exact_names_lenient(rules, logger, text):
    parser = rules.load(f'<application name="a"><starting_strategy>{text}</starting_strategy>'
                        f'<distribution>{text}</distribution><starting_failure_strategy>{text}'
                        f'</starting_failure_strategy><running_failure_strategy>{text}</running_failure_strategy>'
                        '</application>', use_lxml=False)
    application = app_rules(parser, 'a', logger, StartingStrategies.LOCAL)
    assert application.starting_strategy == StartingStrategies.LOCAL
    assert len(logger.levels('warn')) == 4


@MODES
def test_empty_elements_are_absent(rules, logger, use_lxml):
    parser = rules.load('<model name="m"><identifiers>n2</identifiers><start_sequence>3</start_sequence></model>'
                        + program('<reference>m</reference><identifiers/>'), use_lxml=use_lxml)
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.identifiers, process.start_sequence) == (['n2'], 3)
    assert logger.records == []


def test_empty_value_elements_are_absent_lenient(rules, logger):
    parser = rules.load(MODEL_VALUES + program(
        '<reference>m</reference><start_sequence></start_sequence><stop_sequence/><required/><wait_exit/>'
        '<expected_loading/><starting_failure_strategy/><running_failure_strategy/><identifiers></identifiers>',
        app_body='<distribution/><starting_strategy/>'), use_lxml=False)
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.start_sequence, process.stop_sequence, process.required, process.wait_exit,
            process.expected_loading) == (5, 6, True, True, 7)
    assert logger.records == []


# ---------------------------------------------------------------------------------------------------------------------
# every element: application and program
# ---------------------------------------------------------------------------------------------------------------------

@MODES
def test_application_all_elements(rules, logger, use_lxml):
    parser = rules.load('<application name="shop"><distribution>SINGLE_INSTANCE</distribution>'
                        '<identifiers>n3, n2</identifiers><start_sequence>4</start_sequence>'
                        '<stop_sequence>9</stop_sequence><starting_strategy>LESS_LOADED_NODE</starting_strategy>'
                        '<starting_failure_strategy>STOP</starting_failure_strategy>'
                        '<running_failure_strategy>RESTART_APPLICATION</running_failure_strategy></application>',
                        use_lxml=use_lxml)
    payload = app_rules(parser, 'shop', logger).serial('shop')
    assert payload == {'managed': True, 'distribution': 'SINGLE_INSTANCE', 'identifiers': ['n3', 'n2'],
                       'start_sequence': 4, 'stop_sequence': 9, 'starting_strategy': 'LESS_LOADED_NODE',
                       'starting_failure_strategy': 'STOP', 'running_failure_strategy': 'RESTART_APPLICATION',
                       'application_name': 'shop'}
    assert list(payload) == ['managed', 'distribution', 'identifiers', 'start_sequence', 'stop_sequence',
                             'starting_strategy', 'starting_failure_strategy', 'running_failure_strategy',
                             'application_name']
    assert logger.records == []


@MODES
def test_application_defaults_when_managed(rules, logger, use_lxml):
    parser = rules.load('<application name="shop"/>', use_lxml=use_lxml)
    assert app_rules(parser, 'shop', logger, StartingStrategies.MOST_LOADED).serial('shop') == {
        'managed': True, 'distribution': 'ALL_INSTANCES', 'identifiers': ['*'], 'start_sequence': 0,
        'stop_sequence': 0, 'starting_strategy': 'MOST_LOADED', 'starting_failure_strategy': 'ABORT',
        'running_failure_strategy': 'CONTINUE', 'application_name': 'shop'}


@MODES
def test_application_stop_sequence_defaults_to_start(rules, logger, use_lxml):
    parser = rules.load('<application name="a"><start_sequence>3</start_sequence></application>'
                        '<application name="b"><stop_sequence>0</stop_sequence><start_sequence>3</start_sequence>'
                        '</application>', use_lxml=use_lxml)
    assert app_rules(parser, 'a', logger).stop_sequence == 3
    assert app_rules(parser, 'b', logger).stop_sequence == 0


@MODES
def test_unmanaged_application_payload(rules, logger, use_lxml):
    parser = rules.load('<application name="a"/>', use_lxml=use_lxml)
    application = app_rules(parser, 'z', logger)
    payload = application.serial('z')
    assert payload == {'managed': False, 'application_name': 'z'}
    assert list(payload) == ['managed', 'application_name']
    assert application.stop_sequence == 0


@MODES
def test_program_all_elements(rules, logger, use_lxml):
    parser = rules.load(program('<identifiers>n4,n1</identifiers><start_sequence>2</start_sequence>'
                                '<stop_sequence>8</stop_sequence><required>true</required>'
                                '<wait_exit>true</wait_exit><expected_loading>25</expected_loading>'
                                '<starting_failure_strategy>CONTINUE</starting_failure_strategy>'
                                '<running_failure_strategy>RESTART_PROCESS</running_failure_strategy>',
                                name='worker', app='shop'), use_lxml=use_lxml)
    application = app_rules(parser, 'shop', logger)
    process, force = resolve_process_rules(parser, 'shop', 'worker', application, 0, True, IDS, logger)
    payload = process.serial('shop', 'worker')
    assert payload == {'identifiers': ['n4', 'n1'], 'start_sequence': 2, 'stop_sequence': 8, 'required': True,
                       'wait_exit': True, 'expected_loading': 25, 'starting_failure_strategy': 'CONTINUE',
                       'running_failure_strategy': 'RESTART_PROCESS', 'application_name': 'shop',
                       'process_name': 'worker'}
    assert list(payload) == ['identifiers', 'start_sequence', 'stop_sequence', 'required', 'wait_exit',
                             'expected_loading', 'starting_failure_strategy', 'running_failure_strategy',
                             'application_name', 'process_name']
    assert force is False
    assert logger.records == []


@MODES
def test_program_defaults(rules, logger, use_lxml):
    parser = rules.load('<application name="shop"/>', use_lxml=use_lxml)
    process = proc_rules(parser, 'shop', 'x', logger)
    assert process.serial('shop', 'x') == {
        'identifiers': ['*'], 'start_sequence': 0, 'stop_sequence': 0, 'required': False, 'wait_exit': False,
        'expected_loading': 0, 'starting_failure_strategy': 'ABORT', 'running_failure_strategy': 'CONTINUE',
        'application_name': 'shop', 'process_name': 'x'}


def test_serial_returns_copies():
    rules = ProcessRules(identifiers=['n1'])
    rules.serial('a', 'p')['identifiers'].append('n2')
    assert rules.identifiers == ['n1']
    application = ApplicationRules(managed=True, identifiers=['n1'])
    application.serial('a')['identifiers'].append('n2')
    assert application.identifiers == ['n1']


# ---------------------------------------------------------------------------------------------------------------------
# precedence
# ---------------------------------------------------------------------------------------------------------------------

@MODES
def test_process_strategies_from_application(rules, logger, use_lxml):
    parser = rules.load('<application name="a"><starting_failure_strategy>STOP</starting_failure_strategy>'
                        '<running_failure_strategy>SHUTDOWN</running_failure_strategy><programs>'
                        '<program name="p"><start_sequence>1</start_sequence></program>'
                        '<program name="q"><starting_failure_strategy>CONTINUE</starting_failure_strategy>'
                        '<running_failure_strategy>RESTART</running_failure_strategy></program>'
                        '<program name="r"><reference>m</reference></program>'
                        '<program name="s"><reference>m</reference>'
                        '<running_failure_strategy>CONTINUE</running_failure_strategy></program>'
                        '</programs></application>'
                        '<model name="m"><starting_failure_strategy>ABORT</starting_failure_strategy>'
                        '<running_failure_strategy>RESTART_PROCESS</running_failure_strategy></model>',
                        use_lxml=use_lxml)
    expected = {'p': ('STOP', 'SHUTDOWN'), 'q': ('CONTINUE', 'RESTART'), 'r': ('ABORT', 'RESTART_PROCESS'),
                's': ('ABORT', 'CONTINUE'), 'unknown': ('STOP', 'SHUTDOWN')}
    for name, (starting, running) in expected.items():
        process = proc_rules(parser, 'a', name, logger)
        assert (process.starting_failure_strategy.name, process.running_failure_strategy.name) == (starting, running)


@MODES
def test_model_chain_precedence(rules, logger, use_lxml):
    """ deepest model, then intermediate model, then the program itself. """
    parser = rules.load('<model name="deep"><identifiers>n1</identifiers><start_sequence>1</start_sequence>'
                        '<stop_sequence>1</stop_sequence><expected_loading>1</expected_loading>'
                        '<wait_exit>true</wait_exit></model>'
                        '<model name="mid"><reference>deep</reference><start_sequence>2</start_sequence>'
                        '<stop_sequence>2</stop_sequence><identifiers>n2</identifiers></model>'
                        + program('<reference>mid</reference><start_sequence>3</start_sequence>'),
                        use_lxml=use_lxml)
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.identifiers, process.start_sequence, process.stop_sequence, process.expected_loading,
            process.wait_exit) == (['n2'], 3, 2, 1, True)
    assert logger.records == []


@MODES
def test_model_third_level_not_applied(rules, logger, use_lxml):
    parser = rules.load('<model name="m3"><expected_loading>30</expected_loading><wait_exit>true</wait_exit>'
                        '</model>'
                        '<model name="m2"><reference>m3</reference><expected_loading>20</expected_loading></model>'
                        '<model name="m1"><reference>m2</reference><start_sequence>1</start_sequence></model>'
                        + program('<reference>m1</reference>'), use_lxml=use_lxml)
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.start_sequence, process.expected_loading, process.wait_exit) == (1, 20, False)
    assert logger.records == [('warn', 'RulesParser: maximum number of references reached in program=a:p')]


@MODES
def test_model_self_reference(rules, logger, use_lxml):
    parser = rules.load('<model name="m"><reference>m</reference><start_sequence>4</start_sequence></model>'
                        + program('<reference>m</reference>'), use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'p', logger).start_sequence == 4
    assert logger.levels('warn') == ['RulesParser: maximum number of references reached in program=a:p']


@MODES
def test_model_across_files_and_defined_later(rules, logger, use_lxml):
    parser = rules.load(program('<reference>m1</reference>') + '<model name="m1"><reference>m2</reference></model>',
                        '<model name="m2"><start_sequence>6</start_sequence></model>', use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'p', logger).start_sequence == 6


@MODES
def test_model_unknown_or_empty_reference(rules, logger, use_lxml):
    parser = rules.load('<model name="m"><start_sequence>4</start_sequence></model>'
                        '<model><start_sequence>5</start_sequence></model>'
                        '<model name="e"><reference></reference><start_sequence>7</start_sequence></model>'
                        '<application name="a"><programs>'
                        '<program name="p"><reference>unknown</reference></program>'
                        '<program name="q"><reference/></program>'
                        '<program name="r"><reference>M</reference></program>'
                        '<program name="s"><reference> m</reference></program>'
                        '<program name="t"><reference>e</reference></program>'
                        '</programs></application>', use_lxml=use_lxml)
    for name in 'pqrs':
        assert proc_rules(parser, 'a', name, logger).start_sequence == 0
    assert proc_rules(parser, 'a', 't', logger).start_sequence == 7
    assert logger.records == []


@MODES
def test_model_registry_last_duplicate_wins(rules, logger, use_lxml):
    parser = rules.load('<model name="m"><start_sequence>1</start_sequence></model>'
                        '<model name="m"><start_sequence>2</start_sequence></model>' + program('<reference>m</reference>'),
                        '<model name="m"><expected_loading>3</expected_loading></model>', use_lxml=use_lxml)
    process = proc_rules(parser, 'a', 'p', logger)
    assert (process.start_sequence, process.expected_loading) == (0, 3)


# ---------------------------------------------------------------------------------------------------------------------
# lookup of elements
# ---------------------------------------------------------------------------------------------------------------------

@MODES
def test_application_exact_name_first_across_files(rules, logger, use_lxml):
    parser = rules.load('<application pattern="shop"><start_sequence>1</start_sequence></application>'
                        '<application name="shop"><start_sequence>2</start_sequence></application>',
                        '<application name="shop"><start_sequence>3</start_sequence></application>'
                        '<application name="shopping"><start_sequence>4</start_sequence></application>',
                        use_lxml=use_lxml)
    assert app_rules(parser, 'shop', logger).start_sequence == 2
    assert app_rules(parser, 'shopping', logger).start_sequence == 4
    assert app_rules(parser, 'myshop', logger).start_sequence == 1
    assert not app_rules(parser, 'other', logger).managed


@MODES
def test_application_name_and_pattern(rules, logger, use_lxml):
    parser = rules.load('<application name="web" pattern="^srv"><start_sequence>5</start_sequence></application>',
                        use_lxml=use_lxml)
    assert app_rules(parser, 'web', logger).start_sequence == 5
    assert app_rules(parser, 'srv_1', logger).start_sequence == 5
    assert not app_rules(parser, 'webs', logger).managed


@MODES
def test_application_pattern_redefinition_keeps_position(rules, logger, use_lxml):
    """ 'work' and 'er_0' tie on worker_03: 'work' wins because its redefinition kept its first position. """
    parser = rules.load('<application pattern="work"><start_sequence>1</start_sequence></application>'
                        '<application pattern="er_0"><start_sequence>2</start_sequence></application>',
                        '<application pattern="work"><start_sequence>3</start_sequence></application>',
                        use_lxml=use_lxml)
    assert list(parser.application_patterns) == ['work', 'er_0']
    assert app_rules(parser, 'worker_03', logger).start_sequence == 3


@MODES
def test_application_pattern_last_duplicate_in_file(rules, logger, use_lxml):
    parser = rules.load('<application pattern="^x"><start_sequence>1</start_sequence></application>'
                        '<application pattern="^x"><start_sequence>2</start_sequence></application>',
                        use_lxml=use_lxml)
    assert app_rules(parser, 'x1', logger).start_sequence == 2


@MODES
def test_program_lookup_inside_application_element_only(rules, logger, use_lxml):
    parser = rules.load('<application name="shop"><programs><program name="db"><start_sequence>1</start_sequence>'
                        '</program><program pattern="^db"><start_sequence>2</start_sequence></program>'
                        '</programs></application>'
                        '<application pattern="^sh"><programs><program pattern="worker">'
                        '<start_sequence>3</start_sequence></program></programs></application>',
                        use_lxml=use_lxml)
    assert proc_rules(parser, 'shop', 'db', logger).start_sequence == 1
    assert proc_rules(parser, 'shop', 'db_2', logger).start_sequence == 2
    # the pattern of the other (matching) application element is never considered
    assert proc_rules(parser, 'shop', 'worker_01', logger).start_sequence == 0
    assert proc_rules(parser, 'shell', 'worker_01', logger).start_sequence == 3
    assert proc_rules(parser, 'shell', 'db', logger).start_sequence == 0


@MODES
def test_program_name_is_process_name(rules, logger, use_lxml):
    parser = rules.load('<application name="a"><programs><program name="worker"><start_sequence>1</start_sequence>'
                        '</program><program name="worker_01" pattern="^x"><start_sequence>2</start_sequence>'
                        '</program></programs></application>', use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'worker_01', logger).start_sequence == 2
    assert proc_rules(parser, 'a', 'xyz', logger).start_sequence == 2
    assert proc_rules(parser, 'a', 'worker_02', logger).start_sequence == 0


@MODES
def test_program_first_exact_name_wins(rules, logger, use_lxml):
    parser = rules.load('<application name="a"><programs><program name="p"><start_sequence>1</start_sequence>'
                        '</program><program name="p"><start_sequence>2</start_sequence></program>'
                        '</programs></application>', use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'p', logger).start_sequence == 1


@MODES
def test_program_patterns_use_first_exact_application(rules, logger, use_lxml):
    """ Two elements with the same name: the program patterns of the first one only. """
    parser = rules.load('<application name="a"><programs><program pattern="x"><start_sequence>1</start_sequence>'
                        '</program></programs></application>'
                        '<application name="a"><programs><program pattern="xy"><start_sequence>2</start_sequence>'
                        '</program></programs></application>', use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'xy', logger).start_sequence == 1


# ---------------------------------------------------------------------------------------------------------------------
# pattern matching
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('patterns, name, expected', [
    (['', 'worker', r'^worker_\d+$'], 'worker_03', r'^worker_\d+$'),
    ([r'^worker_\d+$', 'worker', ''], 'worker_03', r'^worker_\d+$'),
    (['work', 'er_0'], 'worker_03', 'work'),
    (['er_0', 'work'], 'worker_03', 'er_0'),
    (['a|ab', '.b'], 'ab', '.b'),
    (['a|ab', 'b'], 'ab', 'a|ab'),
    (['', 'zzz'], 'worker', ''),
    (['zzz'], 'worker', None),
    ([], 'worker', None),
    (['a.c'], 'abc', 'a.c'),
    (['a.c'], 'ac', None),
    (['w+'], 'www', 'w+'),
    (['^ker'], 'worker', None),
    (['a)(b'], 'ab', 'a)(b'),  # the pattern is wrapped in a group before being searched
])
def test_best_pattern(logger, patterns, name, expected):
    assert RulesParser().best_pattern(patterns, name, logger) == expected
    assert logger.records == []


def test_invalid_pattern_logged_once(logger):
    parser = RulesParser()
    for _ in range(3):
        assert parser.best_pattern(['(', 'wor[', 'ker'], 'worker', logger) == 'ker'
    errors = logger.levels('error')
    assert len(errors) == 2
    assert errors[0].startswith("RulesParser: invalid pattern='(' ignored")


@MODES
def test_patterns_in_files(rules, logger, use_lxml):
    parser = rules.load('<application pattern="("><start_sequence>9</start_sequence></application>'
                        '<application pattern=""><start_sequence>1</start_sequence><programs>'
                        '<program pattern=""><start_sequence>1</start_sequence></program>'
                        '<program pattern="worker"><start_sequence>2</start_sequence></program>'
                        '<program pattern="^worker_\\d+$"><start_sequence>3</start_sequence></program>'
                        '<program pattern="[x"><start_sequence>4</start_sequence></program>'
                        '</programs></application>'
                        '<application pattern="^shop"><start_sequence>2</start_sequence></application>',
                        use_lxml=use_lxml)
    assert app_rules(parser, 'anything', logger).start_sequence == 1
    assert app_rules(parser, 'shop_1', logger).start_sequence == 2
    assert proc_rules(parser, 'x', 'worker_03', logger).start_sequence == 3
    assert proc_rules(parser, 'x', 'my_worker', logger).start_sequence == 2
    assert proc_rules(parser, 'x', 'other', logger).start_sequence == 1
    assert len(logger.levels('error')) == 2


# ---------------------------------------------------------------------------------------------------------------------
# identifiers, aliases, '*' and '#'
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text, identifiers, hash_identifiers, warnings', [
    ('n2,n1', ['n2', 'n1'], [], []),
    ('n1,x9', ['n1'], [], ['x9']),
    ('A', ['n3', 'n1'], [], []),
    ('B', ['n3', 'n1', 'n2'], [], []),
    ('C', ['n4'], [], ['A']),
    ('n1,n1,n2', ['n1', 'n2'], [], []),
    ('n1,*', ['*'], [], []),
    ('#', [], ['*'], []),
    ('#,A', [], ['n3', 'n1'], []),
    ('#,x9', [], ['*'], ['x9']),
    ('#,*,n2', [], ['*'], []),
    ('   ', [], [], ['']),
    (' n1 ,\tn2 ', ['n1', 'n2'], [], []),
    ('A,A', ['n3', 'n1'], [], ['A']),
    ('n2,A,n1', ['n2', 'n3', 'n1'], [], []),
    ('*,x9', ['*'], [], []),
    ('n4,#,n2', [], ['n4', 'n2'], []),
    (',', [], [], ['', '']),
], ids=lambda value: repr(value) if isinstance(value, str) else None)
def test_identifiers_worked_examples(rules, logger, text, identifiers, hash_identifiers, warnings):
    parser = rules.load(ALIASES)
    assert list(parser.aliases) == ['B', 'A', 'C']
    result = ProcessRules()
    store_identifiers(result, resolve_identifiers_text(text, parser.aliases, IDS, logger, 'program=a:p'))
    assert (result.identifiers, result.hash_identifiers) == (identifiers, hash_identifiers)
    assert logger.levels('warn') == [f'RulesParser: identifier={item} invalid in program=a:p' for item in warnings]


@MODES
@pytest.mark.parametrize('text, expected', [
    ('n2,n1', ['n2', 'n1']), ('n1,x9', ['n1']), ('A', ['n3', 'n1']), ('B', ['n3', 'n1', 'n2']), ('C', ['n4']),
    ('n1,n1,n2', ['n1', 'n2']), ('n1,*', ['*']), ('#', ['n2']), ('#,A', ['n1']), ('#,x9', ['n2']),
    ('#,*,n2', ['n2']), ('   ', [])])
def test_identifiers_in_files(rules, logger, use_lxml, text, expected):
    """ The same table through the files, for a program of index 1 and for the application shop_2. """
    parser = rules.load(ALIASES + program(f'<identifiers>{text}</identifiers>', app='shop_2',
                                          app_body=f'<identifiers>{text}</identifiers>'), use_lxml=use_lxml)
    assert app_rules(parser, 'shop_2', logger).identifiers == expected
    assert proc_rules(parser, 'shop_2', 'p', logger, index=1).identifiers == expected


@MODES
def test_alias_registry(rules, logger, use_lxml):
    parser = rules.load('<alias name="E"></alias><alias name="F"/><alias name="W"> </alias>'
                        '<alias name="D">n1</alias><alias name="D">n2 , n3</alias>', use_lxml=use_lxml)
    assert parser.aliases == {'W': [''], 'D': ['n2', 'n3']}


@MODES
def test_alias_redefinition_across_files_keeps_position(rules, logger, use_lxml):
    parser = rules.load(ALIASES, '<alias name="B">A,n4</alias>', use_lxml=use_lxml)
    assert list(parser.aliases) == ['B', 'A', 'C']
    assert resolve_identifiers_text('B', parser.aliases, IDS, logger) == ['n3', 'n1', 'n4']


@MODES
def test_alias_whitespace_text(rules, logger, use_lxml):
    parser = rules.load('<alias name="W"> </alias>' + program('<identifiers>W</identifiers>'), use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'p', logger).identifiers == []
    assert logger.levels('warn') == ['RulesParser: identifier= invalid in program=a:p']


def test_alias_with_special_items(logger):
    aliases = {'ALL': ['*'], 'H': ['#', 'n2', 'n3']}
    assert resolve_identifiers_text('ALL,n1', aliases, IDS, logger) == ['*']
    assert resolve_identifiers_text('H', aliases, IDS, logger) == ['n2', 'n3', '#']


@MODES
def test_hash_never_cleared_by_override(rules, logger, use_lxml):
    """ A '#' of the model still applies when the program overrides the identifiers without '#'. """
    parser = rules.load('<model name="m"><identifiers>#,n3,n4</identifiers></model>'
                        '<model name="k"><identifiers>n2</identifiers></model>'
                        '<application name="a"><programs>'
                        '<program name="p"><reference>m</reference><identifiers>n2</identifiers></program>'
                        '<program name="q"><reference>k</reference><identifiers>#</identifiers></program>'
                        '<program name="r"><reference>m</reference><identifiers>*</identifiers></program>'
                        '</programs></application>', use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'p', logger, index=1).identifiers == ['n4']
    assert proc_rules(parser, 'a', 'q', logger, index=2).identifiers == ['n3']
    assert proc_rules(parser, 'a', 'r', logger, index=0).identifiers == ['n3']
    process = proc_rules(parser, 'a', 'p', logger, index=None)
    assert (process.identifiers, process.start_sequence) == (['n2'], 0)


WORKERS = ['worker_01', 'worker_02', 'worker_03', 'worker_04', 'worker_05']


@MODES
@pytest.mark.parametrize('text, expected', [('#,A', ['n3', 'n1', 'n3', 'n1', 'n3']),
                                            ('#', ['n1', 'n2', 'n3', 'n4', 'n1']),
                                            ('n2,#', ['n2'] * 5)])
def test_hash_programs(rules, logger, use_lxml, text, expected):
    """ numprocs_start=1: worker_01 has index 0, so the assignment is not shifted; roll-over after n4. """
    parser = rules.load(ALIASES + '<application name="shop"><programs><program pattern="^worker_">'
                        f'<identifiers>{text}</identifiers><start_sequence>2</start_sequence></program>'
                        '</programs></application>', use_lxml=use_lxml)
    result = [proc_rules(parser, 'shop', name, logger, index=index).identifiers
              for index, name in enumerate(WORKERS)]
    assert result == [[identifier] for identifier in expected]
    assert logger.records == []


@MODES
def test_hash_program_on_name_element(rules, logger, use_lxml):
    parser = rules.load(program('<identifiers>#</identifiers>', name='single'), use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'single', logger, index=0).identifiers == ['n1']


@MODES
def test_hash_program_unknown_locally(rules, logger, use_lxml):
    parser = rules.load('<application name="shop"><programs><program pattern="^worker_">'
                        '<identifiers>#</identifiers><start_sequence>2</start_sequence><required>true</required>'
                        '</program><program name="shop"><identifiers>#</identifiers>'
                        '<start_sequence>1</start_sequence></program></programs></application>', use_lxml=use_lxml)
    process = proc_rules(parser, 'shop', 'worker_01', logger, index=None)
    # required is not re-evaluated and the derived stop_sequence is kept
    assert process.serial('shop', 'worker_01') == {
        'identifiers': [], 'start_sequence': 0, 'stop_sequence': 2, 'required': True, 'wait_exit': False,
        'expected_loading': 0, 'starting_failure_strategy': 'ABORT', 'running_failure_strategy': 'CONTINUE',
        'application_name': 'shop', 'process_name': 'worker_01'}
    assert logger.records == [('error', 'RulesParser: cannot apply "#" to unknown program=shop:worker_01')]
    logger.records.clear()
    proc_rules(parser, 'shop', 'shop', logger, index=None)
    assert logger.records == [('error', 'RulesParser: cannot apply "#" to unknown program=shop')]


@MODES
@pytest.mark.parametrize('name, expected', [('shop_01', ['n1']), ('shop-2', ['n2']), ('shop_7', ['n3']),
                                            ('shop_4', ['n4']), ('shop_5', ['n1']), ('shop_x_0010', ['n2'])])
def test_hash_applications(rules, logger, use_lxml, name, expected):
    parser = rules.load('<application pattern="^shop"><identifiers>#</identifiers>'
                        '<start_sequence>3</start_sequence></application>', use_lxml=use_lxml)
    application = app_rules(parser, name, logger)
    assert (application.identifiers, application.start_sequence, application.stop_sequence) == (expected, 3, 3)
    assert logger.records == []


@MODES
@pytest.mark.parametrize('name', ['shop_00', 'shop', 'shop_', 'shop_1a', 'shop1'])
def test_hash_applications_failure(rules, logger, use_lxml, name):
    parser = rules.load('<application pattern="^shop"><identifiers>#</identifiers>'
                        '<start_sequence>3</start_sequence></application>', use_lxml=use_lxml)
    application = app_rules(parser, name, logger)
    # the stop_sequence derived before the failure is kept
    assert (application.identifiers, application.start_sequence, application.stop_sequence) == ([], 0, 3)
    assert application.serial(name)['identifiers'] == []
    [error] = logger.levels('error')
    assert f'cannot apply "#" to application={name}' in error


@MODES
@pytest.mark.parametrize('name, expected', [('shop_1', 'n4'), ('shop_2', 'n2'), ('shop_3', 'n4')])
def test_hash_applications_subset(rules, logger, use_lxml, name, expected):
    parser = rules.load(f'<application name="{name}"><identifiers>#,n4,x9,n2</identifiers></application>',
                        use_lxml=use_lxml)
    assert app_rules(parser, name, logger).identifiers == [expected]


# ---------------------------------------------------------------------------------------------------------------------
# post-processing
# ---------------------------------------------------------------------------------------------------------------------

@MODES
def test_required_forced_false_without_start_sequence(rules, logger, use_lxml):
    parser = rules.load('<model name="m"><required>true</required></model>'
                        '<application name="a"><programs>'
                        '<program name="p"><reference>m</reference></program>'
                        '<program name="q"><reference>m</reference><start_sequence>1</start_sequence></program>'
                        '<program name="r"><required>true</required><start_sequence>0</start_sequence></program>'
                        '</programs></application>', use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'p', logger).required is False
    assert logger.levels('warn') == ['RulesParser: required forced to False because no start_sequence defined'
                                     ' in program=a:p']
    assert proc_rules(parser, 'a', 'q', logger).required is True
    assert proc_rules(parser, 'a', 'r', logger).required is False
    assert len(logger.levels('warn')) == 2


@MODES
def test_process_stop_sequence_defaults(rules, logger, use_lxml):
    parser = rules.load('<application name="a"><programs>'
                        '<program name="p"><start_sequence>4</start_sequence></program>'
                        '<program name="q"><start_sequence>4</start_sequence><stop_sequence>0</stop_sequence>'
                        '</program></programs></application>', use_lxml=use_lxml)
    assert proc_rules(parser, 'a', 'p', logger).stop_sequence == 4
    assert proc_rules(parser, 'a', 'q', logger).stop_sequence == 0
    assert proc_rules(parser, 'a', 'unknown', logger).stop_sequence == 0
    assert proc_rules(parser, 'unmanaged', 'p', logger).stop_sequence == 0


class RestartWhenExitUnexpected:
    """ Stands for Supervisor's non-boolean autorestart value. """


@MODES
@pytest.mark.parametrize('app_strategy, prog_strategy, autorestart, forced', [
    ('CONTINUE', 'STOP_APPLICATION', True, True),
    ('CONTINUE', 'RESTART_APPLICATION', True, True),
    ('CONTINUE', 'RESTART_APPLICATION', RestartWhenExitUnexpected, True),
    ('CONTINUE', 'STOP_APPLICATION', False, False),
    ('CONTINUE', 'STOP_APPLICATION', None, False),
    ('STOP_APPLICATION', None, True, True),
    ('RESTART_APPLICATION', None, True, True),
    ('RESTART_APPLICATION', 'CONTINUE', True, False),
    ('CONTINUE', 'RESTART_PROCESS', True, False),
    ('CONTINUE', 'SHUTDOWN', True, False),
    ('CONTINUE', 'RESTART', True, False),
])
def test_autorestart_forcing(rules, logger, use_lxml, app_strategy, prog_strategy, autorestart, forced):
    prog_body = f'<running_failure_strategy>{prog_strategy}</running_failure_strategy>' if prog_strategy else ''
    parser = rules.load(program(prog_body, app_body=f'<running_failure_strategy>{app_strategy}'
                                                    '</running_failure_strategy>'), use_lxml=use_lxml)
    application = app_rules(parser, 'a', logger)
    process, force = resolve_process_rules(parser, 'a', 'p', application, 0, autorestart, IDS, logger)
    assert force is forced
    if forced:
        assert logger.levels('warn') == ['RulesParser: autorestart forced to False in program=a:p because of'
                                         f' running_failure_strategy={process.running_failure_strategy.name}']
    else:
        assert logger.records == []


def test_post_processing_order(rules, logger):
    """ required is evaluated before '#': a '#' failure leaves required True; autorestart is still reported. """
    parser = rules.load('<application name="a"><running_failure_strategy>STOP_APPLICATION'
                        '</running_failure_strategy><programs><program name="p"><identifiers>#</identifiers>'
                        '<required>true</required><start_sequence>5</start_sequence></program></programs>'
                        '</application>')
    application = app_rules(parser, 'a', logger)
    process, force = resolve_process_rules(parser, 'a', 'p', application, None, True, IDS, logger)
    assert (process.required, process.start_sequence, process.stop_sequence, process.identifiers, force) == \
           (True, 0, 5, [], True)
    assert [level for level, _ in logger.records] == ['warn', 'error']


def test_rules_defaults_and_sentinel():
    assert ApplicationRules().stop_sequence == UNSET_SEQUENCE == -1
    assert ProcessRules().stop_sequence == -1
    assert ProcessRules().identifiers == [ALL_IDENTIFIERS]
    assert ProcessRules().identifiers is not ProcessRules().identifiers
