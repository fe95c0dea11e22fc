"""Tests of the [rpcinterface:supvisors] section parsing (configuration contract 1.3)."""

import os
import platform
import socket
from typing import Any, Dict, List, Tuple

import pytest

from supvisors.options import (NO_DISABILITIES_FILE_MSG, NO_RULES_FILE_MSG, LoggingOptions, SupvisorsOptions,
                               parse_logging_options, parse_options)
from supvisors.ttypes import ConciliationStrategies, EventLinks, StartingStrategies


def parse(config: Dict[str, str], here: str = '/tmp') -> Tuple[SupvisorsOptions, List[Tuple[str, str]]]:
    return parse_options(config, here)


def errors(records: List[Tuple[str, str]]) -> List[str]:
    return [msg for level, msg in records if level == 'error']


def warnings(records: List[Tuple[str, str]]) -> List[str]:
    return [msg for level, msg in records if level == 'warn']


def check_soft(option: str, value: str, expected: Any) -> None:
    """ Parse one option and check the result and the absence of error. """
    options, records = parse({option: value})
    assert getattr(options, option) == expected
    assert errors(records) == []


def check_invalid(option: str, value: str, default: Any, prefix: str = '') -> None:
    """ Parse one invalid option and check the default and the single error message. """
    options, records = parse({option: value})
    assert getattr(options, option) == default
    errs = errors(records)
    assert len(errs) == 1
    assert errs[0].startswith(prefix or f'invalid value for {option}')


# ---------------------------------------------------------------------------------------------------------------------
# defaults
# ---------------------------------------------------------------------------------------------------------------------

def test_defaults():
    options, records = parse({})
    assert options.supvisors_list == [socket.gethostname()]
    assert options.rules_files is None
    assert options.auto_fence is False
    assert options.internal_port == 0
    assert options.event_link is EventLinks.NONE
    assert options.event_port == 0
    assert options.synchro_timeout == 15
    assert options.inactivity_ticks == 2
    assert options.core_identifiers == set()
    assert options.disabilities_file is None
    assert options.starting_strategy is StartingStrategies.CONFIG
    assert options.conciliation_strategy is ConciliationStrategies.USER
    assert options.partition_safety is False
    assert options.stats_enabled is True
    assert options.stats_periods == [10]
    assert options.stats_histo == 200
    assert options.stats_irix_mode is False
    assert options.stats_collecting_period == 5.0
    assert options.tail_limit == 1024
    assert options.tailf_limit == 1024
    assert options.tick_period == 5.0
    assert options.internal_secret == b''
    assert options.logging == LoggingOptions('AUTO', 50 * 1024 * 1024, 10, 20)
    # only the disabilities warning
    assert records == [('warn', NO_DISABILITIES_FILE_MSG)]


def test_dataclass_defaults_are_independent():
    first, second = SupvisorsOptions(), SupvisorsOptions()
    first.stats_periods.append(20)
    first.core_identifiers.add('x')
    assert second.stats_periods == [10]
    assert second.core_identifiers == set()


def test_unknown_keys_ignored():
    options, records = parse({'address_list': 'a,b', 'force_synchro_if': 'a', 'rules_file': 'x.xml', 'foo': 'bar'})
    assert options == parse({})[0]
    assert errors(records) == []


def test_spec_example():
    """ Example of 1.8. """
    config = {'supvisors_list': '<red>node1:7000:7001,<blue>node1:8000:8001,<green>node2:7000:7001',
              'core_identifiers': 'red,green', 'synchro_timeout': '30', 'inactivity_ticks': '3',
              'event_link': 'zmq', 'event_port': '7002', 'starting_strategy': 'LESS_LOADED',
              'conciliation_strategy': 'INFANTICIDE', 'stats_periods': '60,5', 'tail_limit': '4KB',
              'logfile': 'AUTO'}
    options, records = parse(config)
    assert options.supvisors_list == ['<red>node1:7000:7001', '<blue>node1:8000:8001', '<green>node2:7000:7001']
    assert options.stats_periods == [5, 60]
    assert options.tail_limit == 4096
    assert options.event_link is EventLinks.ZMQ
    assert options.event_port == 7002
    assert options.core_identifiers == {'red', 'green'}
    assert options.synchro_timeout == 30
    assert options.inactivity_ticks == 3
    assert options.starting_strategy is StartingStrategies.LESS_LOADED
    assert options.conciliation_strategy is ConciliationStrategies.INFANTICIDE
    assert options.logging.logfile == 'AUTO'
    assert errors(records) == []


# ---------------------------------------------------------------------------------------------------------------------
# supvisors_list
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('alpha', ['alpha']),
    ('alpha, beta ,gamma', ['alpha', 'beta', 'gamma']),
    ('alpha,,beta,', ['alpha', 'beta']),
    ('beta,alpha,beta,alpha,gamma', ['beta', 'alpha', 'gamma']),
    ('alpha,\nbeta', ['alpha', 'beta']),
    ('', []),
    (',,', []),
    # invalid entries are kept: the grammar is checked by the mapper (fatal)
    ('epsilon:7100,<a.b>zeta', ['epsilon:7100', '<a.b>zeta']),
])
def test_supvisors_list(value, expected):
    check_soft('supvisors_list', value, expected)


# ---------------------------------------------------------------------------------------------------------------------
# booleans
# ---------------------------------------------------------------------------------------------------------------------

BOOLEAN_OPTIONS = [('auto_fence', False), ('stats_enabled', True), ('stats_irix_mode', False),
                   ('partition_safety', False)]


@pytest.mark.parametrize('option, default', BOOLEAN_OPTIONS)
@pytest.mark.parametrize('value, expected', [
    ('true', True), ('TRUE', True), ('Yes', True), ('on', True), ('1', True),
    ('false', False), ('False', False), ('NO', False), ('off', False), ('0', False),
])
def test_boolean_valid(option, default, value, expected):
    check_soft(option, value, expected)


@pytest.mark.parametrize('option, default', BOOLEAN_OPTIONS)
@pytest.mark.parametrize('value', ['', 'y', 'n', 'enabled', '2', 'truee', '-1'])
def test_boolean_invalid(option, default, value):
    check_invalid(option, value, default)


def test_partition_safety_invalid_message():
    options, records = parse({'partition_safety': 'maybe'})
    assert options.partition_safety is False
    assert errors(records) == ["invalid value for partition_safety: 'maybe' (boolean expected)"]


# ---------------------------------------------------------------------------------------------------------------------
# ports
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('option', ['internal_port', 'event_port'])
@pytest.mark.parametrize('value, expected', [('0', 0), ('1', 1), ('7001', 7001), ('65535', 65535), (' +7001 ', 7001)])
def test_port_valid(option, value, expected):
    check_soft(option, value, expected)


@pytest.mark.parametrize('option', ['internal_port', 'event_port'])
@pytest.mark.parametrize('value', ['', '-1', '65536', '99999', '70.01', '0x10', 'port'])
def test_port_invalid(option, value):
    check_invalid(option, value, 0, 'invalid value for port')


# ---------------------------------------------------------------------------------------------------------------------
# ranged integers
# ---------------------------------------------------------------------------------------------------------------------

RANGED_OPTIONS = [('synchro_timeout', 15, 15, 1200), ('inactivity_ticks', 2, 2, 720), ('stats_histo', 200, 10, 1500)]


@pytest.mark.parametrize('option, default, low, high', RANGED_OPTIONS)
def test_ranged_integer_valid(option, default, low, high):
    check_soft(option, str(low), low)
    check_soft(option, str(high), high)
    check_soft(option, str(low + 1), low + 1)
    check_soft(option, f'+{high - 1}', high - 1)


@pytest.mark.parametrize('option, default, low, high', RANGED_OPTIONS)
def test_ranged_integer_invalid(option, default, low, high):
    for value in [str(low - 1), str(high + 1), '-20', '', '20.0', '0x20', 'ten']:
        check_invalid(option, value, default)


# ---------------------------------------------------------------------------------------------------------------------
# enumerations
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('NONE', EventLinks.NONE), ('none', EventLinks.NONE), ('ZMQ', EventLinks.ZMQ), ('zmq', EventLinks.ZMQ),
    ('Zmq', EventLinks.ZMQ), ('WS', EventLinks.WS), ('ws', EventLinks.WS),
])
def test_event_link_valid(value, expected):
    check_soft('event_link', value, expected)


@pytest.mark.parametrize('value', ['', 'zeromq', '1'])
def test_event_link_invalid(value):
    check_invalid('event_link', value, EventLinks.NONE)


@pytest.mark.parametrize('strategy', list(StartingStrategies))
def test_starting_strategy_valid(strategy):
    check_soft('starting_strategy', strategy.name, strategy)


@pytest.mark.parametrize('value', ['', 'less_loaded', 'Local', '1', 'UNKNOWN'])
def test_starting_strategy_invalid(value):
    check_invalid('starting_strategy', value, StartingStrategies.CONFIG)


@pytest.mark.parametrize('strategy', list(ConciliationStrategies))
def test_conciliation_strategy_valid(strategy):
    check_soft('conciliation_strategy', strategy.name, strategy)


@pytest.mark.parametrize('value', ['', 'senicide', 'Stop', '0', 'UNKNOWN'])
def test_conciliation_strategy_invalid(value):
    check_invalid('conciliation_strategy', value, ConciliationStrategies.USER)


# ---------------------------------------------------------------------------------------------------------------------
# core_identifiers
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('', set()),
    ('red', {'red'}),
    ('red, green,,red ,', {'red', 'green'}),
    ('unknown,host:7000', {'unknown', 'host:7000'}),
])
def test_core_identifiers(value, expected):
    check_soft('core_identifiers', value, expected)


# ---------------------------------------------------------------------------------------------------------------------
# disabilities_file
# ---------------------------------------------------------------------------------------------------------------------

def test_disabilities_file_valid(tmp_path, monkeypatch):
    path = str(tmp_path / 'disabilities.json')
    options, records = parse({'disabilities_file': path})
    assert options.disabilities_file == path
    assert records == []
    # relative path without directory: made absolute against the current directory
    monkeypatch.chdir(tmp_path)
    options, records = parse({'disabilities_file': 'disabilities.json'})
    assert options.disabilities_file == os.path.join(str(tmp_path), 'disabilities.json')
    assert records == []
    # relative path with existing directory
    (tmp_path / 'data').mkdir()
    options, records = parse({'disabilities_file': 'data/red.json'})
    assert options.disabilities_file == os.path.join(str(tmp_path), 'data', 'red.json')


def test_disabilities_file_home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    options, records = parse({'disabilities_file': '~/disabilities.json'})
    assert options.disabilities_file == os.path.join(str(tmp_path), 'disabilities.json')
    assert records == []


def test_disabilities_file_invalid(tmp_path):
    options, records = parse({'disabilities_file': str(tmp_path / 'missing' / 'disabilities.json')})
    assert options.disabilities_file is None
    assert len(errors(records)) == 1
    assert errors(records)[0].startswith('invalid value for disabilities_file')
    assert warnings(records) == [NO_DISABILITIES_FILE_MSG]


def test_disabilities_file_empty():
    options, records = parse({'disabilities_file': ''})
    assert options.disabilities_file is None
    assert records == [('warn', NO_DISABILITIES_FILE_MSG)]


# ---------------------------------------------------------------------------------------------------------------------
# stats_periods
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('5', [5]), ('3600', [3600]), ('60,5', [5, 60]), ('60, 5 ,20', [5, 20, 60]), ('10,10', [10, 10]),
    ('3600,5,3600', [5, 3600, 3600]), ('+15', [15]),
])
def test_stats_periods_valid(value, expected):
    check_soft('stats_periods', value, expected)


@pytest.mark.parametrize('value', ['', ',', '0', '4', '3605', '7', '5,10,15,20', '5,,10', '5,', '10.0', 'ten', '-5'])
def test_stats_periods_invalid(value):
    check_invalid('stats_periods', value, [10])


# ---------------------------------------------------------------------------------------------------------------------
# byte sizes
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('option', ['tail_limit', 'tailf_limit'])
@pytest.mark.parametrize('value, expected', [
    ('0', 0), ('512', 512), ('4KB', 4096), ('4kb', 4096), ('1MB', 1048576), ('1mB', 1048576), ('2GB', 2 * 1024 ** 3),
])
def test_byte_size_valid(option, value, expected):
    check_soft(option, value, expected)


@pytest.mark.parametrize('option', ['tail_limit', 'tailf_limit'])
@pytest.mark.parametrize('value', ['', 'KB', '1.5MB', '4K', '1TB', 'big'])
def test_byte_size_invalid(option, value):
    check_invalid(option, value, 1024)


# ---------------------------------------------------------------------------------------------------------------------
# tick_period
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [('0.5', 0.5), ('1', 1.0), ('2.5', 2.5), ('3600', 3600.0), ('1e1', 10.0)])
def test_tick_period_valid(value, expected):
    check_soft('tick_period', value, expected)


@pytest.mark.parametrize('value', ['', '0.49', '0', '-1', '3600.1', 'nan', 'inf', 'fast'])
def test_tick_period_invalid(value):
    check_invalid('tick_period', value, 5.0)


# ---------------------------------------------------------------------------------------------------------------------
# stats_collecting_period
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [('1', 1.0), ('2.5', 2.5), ('5', 5.0), ('3600', 3600.0), ('1e1', 10.0),
                                             (' 7 ', 7.0)])
def test_stats_collecting_period_valid(value, expected):
    check_soft('stats_collecting_period', value, expected)


@pytest.mark.parametrize('value', ['', '0.99', '0', '-5', '3600.5', 'nan', 'inf', '-inf', 'often', '5s'])
def test_stats_collecting_period_invalid(value):
    check_invalid('stats_collecting_period', value, 5.0)


def test_stats_collecting_period_error_message():
    options, records = parse({'stats_collecting_period': '0.5'})
    assert options.stats_collecting_period == 5.0
    assert errors(records) == ["invalid value for stats_collecting_period: '0.5' (float expected in [1.0;3600.0])"]


# ---------------------------------------------------------------------------------------------------------------------
# several soft errors at once
# ---------------------------------------------------------------------------------------------------------------------

def test_several_soft_errors():
    config = {'synchro_timeout': '5', 'event_port': 'x', 'stats_periods': '1', 'auto_fence': 'maybe',
              'inactivity_ticks': '3'}
    options, records = parse(config)
    assert options.synchro_timeout == 15
    assert options.event_port == 0
    assert options.stats_periods == [10]
    assert options.auto_fence is False
    assert options.inactivity_ticks == 3
    errs = errors(records)
    assert len(errs) == 4
    assert any(msg.startswith('invalid value for synchro_timeout') for msg in errs)
    assert any(msg.startswith('invalid value for port') for msg in errs)
    assert any(msg.startswith('invalid value for stats_periods') for msg in errs)
    assert any(msg.startswith('invalid value for auto_fence') for msg in errs)


# ---------------------------------------------------------------------------------------------------------------------
# rules_files
# ---------------------------------------------------------------------------------------------------------------------

@pytest.fixture
def rules_dir(tmp_path, monkeypatch):
    """ A working directory with some rules files. """
    (tmp_path / 'conf').mkdir()
    (tmp_path / 'conf' / 'rules').mkdir()
    for name in ['b.xml', 'a.xml', 'c.txt']:
        (tmp_path / 'conf' / 'rules' / name).write_text('<root/>')
    (tmp_path / 'conf' / 'rules' / 'sub').mkdir()
    (tmp_path / 'conf' / 'rules' / 'sub' / 'd.xml').write_text('<root/>')
    (tmp_path / 'top.xml').write_text('<root/>')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_rules_files_not_set():
    options, records = parse({})
    assert options.rules_files is None
    assert NO_RULES_FILE_MSG not in warnings(records)


def test_rules_files_empty(rules_dir):
    options, records = parse({'rules_files': ''})
    assert options.rules_files == []
    assert warnings(records) == [NO_DISABILITIES_FILE_MSG]
    assert errors(records) == []


def test_rules_files_relative_glob(rules_dir):
    options, records = parse({'rules_files': 'conf/rules/*.xml'}, here='/elsewhere')
    base = str(rules_dir / 'conf' / 'rules')
    assert options.rules_files == [os.path.join(base, 'a.xml'), os.path.join(base, 'b.xml')]
    assert errors(records) == []
    assert NO_RULES_FILE_MSG not in warnings(records)


def test_rules_files_several_patterns_sorted_unique(rules_dir):
    options, _ = parse({'rules_files': 'top.xml conf/rules/b.xml   conf/rules/*.xml ./top.xml conf/rules/../../top.xml'})
    base = str(rules_dir / 'conf' / 'rules')
    assert options.rules_files == sorted([os.path.join(base, 'a.xml'), os.path.join(base, 'b.xml'),
                                          str(rules_dir / 'top.xml')])


def test_rules_files_non_recursive(rules_dir):
    # '**' behaves like '*': exactly one directory level
    options, _ = parse({'rules_files': 'conf/**/*.xml'})
    base = str(rules_dir / 'conf' / 'rules')
    assert options.rules_files == [os.path.join(base, 'a.xml'), os.path.join(base, 'b.xml')]
    options, records = parse({'rules_files': 'conf/**/d.xml'})
    assert options.rules_files == []
    assert ('warn', NO_RULES_FILE_MSG) in records


def test_rules_files_absolute(rules_dir, tmp_path_factory):
    other = tmp_path_factory.mktemp('other')
    (other / 'x.xml').write_text('<root/>')
    options, _ = parse({'rules_files': f'{other}/*.xml'})
    assert options.rules_files == [str(other / 'x.xml')]


def test_rules_files_no_match(rules_dir):
    options, records = parse({'rules_files': 'conf/*.xml missing.xml'})
    assert options.rules_files == []
    assert ('warn', NO_RULES_FILE_MSG) in records
    assert errors(records) == []


def test_rules_files_here(rules_dir, monkeypatch, tmp_path_factory):
    config_dir = tmp_path_factory.mktemp('etc')
    (config_dir / 'rules.xml').write_text('<root/>')
    options, records = parse({'rules_files': '%(here)s/rules.xml'}, here=str(config_dir))
    assert options.rules_files == [str(config_dir / 'rules.xml')]
    # here is made absolute
    monkeypatch.chdir(config_dir.parent)
    options, records = parse({'rules_files': '%(here)s/rules.xml'}, here=config_dir.name)
    assert options.rules_files == [str(config_dir / 'rules.xml')]


def test_rules_files_host_node_name(rules_dir):
    node = platform.node()
    (rules_dir / f'{node}.xml').write_text('<root/>')
    options, records = parse({'rules_files': '%(host_node_name)s.xml'})
    assert options.rules_files == [str(rules_dir / f'{node}.xml')]


def test_rules_files_env(rules_dir, monkeypatch):
    monkeypatch.setenv('RULES_DIR', 'conf/rules')
    options, records = parse({'rules_files': '%(ENV_RULES_DIR)s/a.xml'})
    assert options.rules_files == [str(rules_dir / 'conf' / 'rules' / 'a.xml')]
    assert errors(records) == []


@pytest.mark.parametrize('value', ['%(unknown)s/*.xml', '%(ENV_SUPVISORS_NOT_SET_VAR)s.xml', 'rules%.xml',
                                   '%(here)d.xml', '%(here)'])
def test_rules_files_expansion_error(rules_dir, monkeypatch, value):
    monkeypatch.delenv('SUPVISORS_NOT_SET_VAR', raising=False)
    options, records = parse({'rules_files': value})
    assert options.rules_files is None
    errs = errors(records)
    assert len(errs) == 1
    assert errs[0].startswith('invalid value for rules_files')
    assert NO_RULES_FILE_MSG not in warnings(records)


def test_rules_files_escaped_percent(rules_dir):
    (rules_dir / 'r%1.xml').write_text('<root/>')
    options, records = parse({'rules_files': 'r%%1.xml'})
    assert options.rules_files == [str(rules_dir / 'r%1.xml')]


# ---------------------------------------------------------------------------------------------------------------------
# logging options (fatal)
# ---------------------------------------------------------------------------------------------------------------------

def test_logging_defaults():
    assert parse_logging_options({}) == LoggingOptions(logfile='AUTO', logfile_maxbytes=52428800, logfile_backups=10,
                                                       loglevel=20)


@pytest.mark.parametrize('value', ['AUTO', 'auto', 'Auto'])
def test_logfile_auto(value):
    assert parse_logging_options({'logfile': value}).logfile == 'AUTO'


def test_logfile_path(tmp_path, monkeypatch):
    path = str(tmp_path / 'supvisors.log')
    assert parse_logging_options({'logfile': path}).logfile == path
    monkeypatch.chdir(tmp_path)
    assert parse_logging_options({'logfile': 'supvisors.log'}).logfile == path
    (tmp_path / 'log').mkdir()
    assert parse_logging_options({'logfile': 'log/supvisors.log'}).logfile == str(tmp_path / 'log' / 'supvisors.log')
    monkeypatch.setenv('HOME', str(tmp_path))
    assert parse_logging_options({'logfile': '~/supvisors.log'}).logfile == path


@pytest.mark.parametrize('value', ['NONE', 'none', 'OFF', 'off', 'SYSLOG', 'syslog', '', '/no/such/dir/supvisors.log'])
def test_logfile_invalid(value):
    with pytest.raises(ValueError, match='^invalid value for logfile'):
        parse_logging_options({'logfile': value})
    with pytest.raises(ValueError, match='^invalid value for logfile'):
        parse_options({'logfile': value}, '/tmp')


@pytest.mark.parametrize('value, expected', [('0', 0), ('1024', 1024), ('10KB', 10240), ('50mb', 52428800),
                                             ('1GB', 1024 ** 3)])
def test_logfile_maxbytes_valid(value, expected):
    assert parse_logging_options({'logfile_maxbytes': value}).logfile_maxbytes == expected


@pytest.mark.parametrize('value', ['', 'MB', '1.5MB', 'big', '10K'])
def test_logfile_maxbytes_invalid(value):
    with pytest.raises(ValueError, match='^invalid value for logfile_maxbytes'):
        parse_logging_options({'logfile_maxbytes': value})


@pytest.mark.parametrize('value, expected', [('0', 0), ('5', 5), (' 20 ', 20), ('+3', 3)])
def test_logfile_backups_valid(value, expected):
    assert parse_logging_options({'logfile_backups': value}).logfile_backups == expected


@pytest.mark.parametrize('value', ['', '5.0', '0x10', 'ten'])
def test_logfile_backups_invalid(value):
    with pytest.raises(ValueError, match='^invalid value for logfile_backups'):
        parse_logging_options({'logfile_backups': value})


@pytest.mark.parametrize('value, expected', [
    ('critical', 50), ('error', 40), ('warn', 30), ('info', 20), ('debug', 10), ('trace', 5), ('blather', 3),
    ('CRITICAL', 50), ('Warn', 30), ('BLATHER', 3),
])
def test_loglevel_valid(value, expected):
    assert parse_logging_options({'loglevel': value}).loglevel == expected


@pytest.mark.parametrize('value', ['warning', 'WARNING', 'crit', 'erro', 'fatal', '', '20', '__module__', '__doc__'])
def test_loglevel_invalid(value):
    with pytest.raises(ValueError, match="^invalid value for loglevel: "):
        parse_logging_options({'loglevel': value})


def test_loglevel_invalid_message():
    with pytest.raises(ValueError) as exc:
        parse_logging_options({'loglevel': 'warning'})
    assert str(exc.value).startswith("invalid value for loglevel: 'warning'")


def test_logging_options_in_parse_options(tmp_path):
    path = str(tmp_path / 'supvisors.log')
    options, _ = parse_options({'logfile': path, 'logfile_maxbytes': '1MB', 'logfile_backups': '3',
                                'loglevel': 'debug'}, str(tmp_path))
    assert options.logging == LoggingOptions(path, 1048576, 3, 10)


# ---------------------------------------------------------------------------------------------------------------------
# internal_secret / internal_secret_file (fatal errors: a secret that cannot be read must not disable authentication)
# ---------------------------------------------------------------------------------------------------------------------

def test_internal_secret_value():
    options, records = parse({'internal_secret': 'my fleet secret é'})
    assert options.internal_secret == 'my fleet secret é'.encode('utf-8')
    assert errors(records) == [] and warnings(records) == [NO_DISABILITIES_FILE_MSG]
    # empty: no authentication
    assert parse({'internal_secret': ''})[0].internal_secret == b''
    assert parse({'internal_secret': '', 'internal_secret_file': ''})[0].internal_secret == b''


def test_internal_secret_not_in_repr():
    options, _ = parse({'internal_secret': 'do-not-show-me'})
    assert 'do-not-show-me' not in repr(options)


def test_internal_secret_file(tmp_path):
    path = tmp_path / 'secret'
    path.write_bytes(b'  \x00\xffbinary secret\n\n')
    path.chmod(0o600)
    options, records = parse({'internal_secret_file': str(path)})
    assert options.internal_secret == b'\x00\xffbinary secret'
    assert warnings(records) == [NO_DISABILITIES_FILE_MSG] and errors(records) == []


def test_internal_secret_file_relative_to_the_configuration(tmp_path, monkeypatch):
    (tmp_path / 'etc').mkdir()
    (tmp_path / 'etc' / 'secret').write_text('relative\n')
    (tmp_path / 'etc' / 'secret').chmod(0o400)
    monkeypatch.chdir('/')
    options, _ = parse({'internal_secret_file': 'secret'}, here=str(tmp_path / 'etc'))
    assert options.internal_secret == b'relative'
    monkeypatch.setenv('HOME', str(tmp_path))
    options, _ = parse({'internal_secret_file': '~/etc/secret'}, here='/nowhere')
    assert options.internal_secret == b'relative'


def test_internal_secret_file_readable_by_others_is_a_warning(tmp_path):
    path = tmp_path / 'secret'
    path.write_text('shared')
    path.chmod(0o644)
    options, records = parse({'internal_secret_file': str(path)})
    assert options.internal_secret == b'shared'
    assert [msg for msg in warnings(records) if msg.startswith('internal_secret_file:')] == \
        [f'internal_secret_file: {path} can be read or written by other users than its owner (mode 644)']


@pytest.mark.parametrize('content, message', [
    (b'', 'is empty'), (b' \n\t\n', 'is empty'), (b'x' * (64 * 1024 + 1), 'more than 65536 bytes')])
def test_internal_secret_file_unusable(tmp_path, content, message):
    path = tmp_path / 'secret'
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^invalid value for internal_secret_file: '{path}' .*{message}"):
        parse({'internal_secret_file': str(path)})


def test_internal_secret_file_missing(tmp_path):
    path = tmp_path / 'missing'
    with pytest.raises(ValueError) as exc:
        parse({'internal_secret_file': str(path)})
    assert str(exc.value) == (f"invalid value for internal_secret_file: '{path}' (cannot read {path}:"
                              f" No such file or directory)")
    with pytest.raises(ValueError, match='cannot read .*Is a directory'):
        parse({'internal_secret_file': str(tmp_path)})


def test_internal_secret_both_options(tmp_path):
    path = tmp_path / 'secret'
    path.write_text('file secret')
    with pytest.raises(ValueError, match='^internal_secret and internal_secret_file are both set'):
        parse({'internal_secret': 'value', 'internal_secret_file': str(path)})
