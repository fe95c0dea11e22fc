"""Scenario 2 use case: the shipped files (rules, templates, supervisord configurations), the rules resolution of
every program and the configurations bred by the fleet builder."""

import filecmp
import io
import os
import shlex
import shutil
from configparser import ConfigParser
from typing import Dict, Tuple

import pytest
from supervisor.options import ServerOptions

from supvisors.adapters.supervisor_config import read_programs
from supvisors.rules.parser import RulesParser, load_rules, resolve_application_rules, resolve_process_rules
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.tools import breed as supvisors_breed
from supvisors.tools.usecases.scenario2 import (BIN_DIR, COMMON_DATA_BUS, CONSOLE_CONF, ETC_DIR, HCI_EXPECTED_LOADING,
                                                HCI_PROGRAMS, RULES_FILE, SERVER_CONF, SRV_EXPECTED_LOADING,
                                                SRV_PROGRAMS, TEMPLATE_DIR, USECASE_DIR, breed_arguments,
                                                console_ids, hci_group, run_dir, scenario2_fleet, scenario2_rules,
                                                server_ids, set_ini_options, srv_group)
from supvisors.ttypes import DistributionRules as DR
from supvisors.ttypes import RunningFailureStrategies as RF
from supvisors.ttypes import StartingFailureStrategies as SF
from supvisors.ttypes import StartingStrategies as SS

SERVERS = ['server_1', 'server_2', 'server_3']
CONSOLES = ['console_1', 'console_2']
IDS = SERVERS + CONSOLES
ITEMS = 3

# process name -> (start_sequence, required, wait_exit, expected_loading, starting failure, running failure)
SRV_EXPECTED: Dict[str, Tuple[int, bool, bool, int, SF, RF]] = {
    'internal_data_bus': (1, True, False, 2, SF.STOP, RF.RESTART_APPLICATION),
    'internal_check_data_bus': (2, True, True, 0, SF.STOP, RF.CONTINUE),
    'config_manager': (3, True, False, 10, SF.STOP, RF.CONTINUE),
    'data_processing': (3, True, False, 10, SF.STOP, RF.CONTINUE),
    'sensor_acquisition': (3, True, False, 10, SF.STOP, RF.CONTINUE),
    'common_check_data_bus': (3, True, True, 0, SF.STOP, RF.CONTINUE),
    'common_bus_interface': (4, True, False, 10, SF.STOP, RF.CONTINUE)}
HCI_EXPECTED: Dict[str, Tuple[int, bool, bool, int, SF, RF]] = {
    'hci_internal_data_bus': (1, True, False, 2, SF.CONTINUE, RF.STOP_APPLICATION),
    'hci_internal_check_data_bus': (2, True, True, 0, SF.CONTINUE, RF.CONTINUE),
    'chart_view': (3, False, False, 8, SF.CONTINUE, RF.CONTINUE),
    'sensor_control': (3, False, False, 8, SF.CONTINUE, RF.CONTINUE),
    'sensor_view': (3, False, False, 8, SF.CONTINUE, RF.CONTINUE)}


@pytest.fixture
def logger() -> FakeLogger:
    return FakeLogger()


@pytest.fixture(params=[True, False], ids=['lxml', 'etree'])
def parser(request, logger) -> RulesParser:
    """ The shipped rules file itself: its aliases are the identifiers of the default fleet. """
    stderr = io.StringIO()
    result = load_rules([os.path.join(ETC_DIR, RULES_FILE)], IDS, logger, stderr=stderr, use_lxml=request.param)
    assert result is not None, stderr.getvalue()
    return result


def test_program_lists_are_consistent():
    assert set(SRV_PROGRAMS) == set(SRV_EXPECTED) and len(SRV_PROGRAMS) == len(SRV_EXPECTED)
    assert set(HCI_PROGRAMS) == set(HCI_EXPECTED) and len(HCI_PROGRAMS) == len(HCI_EXPECTED)
    # 'in start order'
    for programs, expected in ((SRV_PROGRAMS, SRV_EXPECTED), (HCI_PROGRAMS, HCI_EXPECTED)):
        sequences = [expected[name][0] for name in programs]
        assert sequences == sorted(sequences)
    assert srv_group(1) == 'scen2_srv_01' and hci_group(12) == 'scen2_hci_12'


def test_templates_define_the_program_lists():
    """ The constants of the module are those of the shipped templates. """
    for path, group, programs in (('server/group_server.ini', 'scen2_srv', SRV_PROGRAMS),
                                  ('console/group_hci.ini', 'scen2_hci', HCI_PROGRAMS)):
        config = ConfigParser(interpolation=None)
        assert config.read(os.path.join(TEMPLATE_DIR, path))
        assert [x for x in config.sections() if x.startswith('group:')] == [f'group:{group}']
        assert tuple(config.get(f'group:{group}', 'programs').split(',')) == programs
        assert sorted(x for x in config.sections() if x.startswith('program:')) == \
            sorted(f'program:{x}' for x in programs)
        for name in programs:
            assert config.getboolean(f'program:{name}', 'autostart') is False


def test_application_rules(parser, logger):
    for n in range(1, ITEMS + 1):
        srv = resolve_application_rules(parser, srv_group(n), SS.CONFIG, IDS, logger)
        assert srv.managed
        assert srv.distribution == DR.SINGLE_INSTANCE
        assert srv.identifiers == SERVERS
        assert (srv.start_sequence, srv.stop_sequence) == (1, 1)
        assert srv.starting_strategy == SS.LESS_LOADED
        assert srv.starting_failure_strategy == SF.STOP
        assert srv.running_failure_strategy == RF.CONTINUE
        hci = resolve_application_rules(parser, hci_group(n), SS.CONFIG, IDS, logger)
        assert hci.managed
        assert hci.distribution == DR.SINGLE_INSTANCE
        assert hci.identifiers == CONSOLES
        assert hci.start_sequence == 0  # started on user request only
        assert hci.starting_strategy == SS.LOCAL
        assert hci.starting_failure_strategy == SF.CONTINUE
    common = resolve_application_rules(parser, COMMON_DATA_BUS, SS.CONFIG, IDS, logger)
    assert not common.managed
    # aliases and identifiers all valid: nothing to complain about
    assert [record for record in logger.records if record[0] in ('warn', 'error')] == []


def _process_rules(parser, logger, group: str, names, expected) -> int:
    application = resolve_application_rules(parser, group, SS.CONFIG, IDS, logger)
    total = 0
    for name in names:
        rules, force_autorestart = resolve_process_rules(parser, group, name, application, 0, True, IDS, logger)
        start, running_failure = expected[name][0], expected[name][5]
        actual = (rules.start_sequence, rules.required, rules.wait_exit, rules.expected_loading,
                  rules.starting_failure_strategy, rules.running_failure_strategy)
        assert actual == expected[name], f'{group}:{name}'
        assert rules.stop_sequence == start
        assert rules.identifiers == ['*']
        assert force_autorestart == (running_failure in (RF.RESTART_APPLICATION, RF.STOP_APPLICATION))
        total += rules.expected_loading
    return total


def test_process_rules(parser, logger):
    for n in range(1, ITEMS + 1):
        srv_total = _process_rules(parser, logger, srv_group(n), SRV_PROGRAMS, SRV_EXPECTED)
        hci_total = _process_rules(parser, logger, hci_group(n), HCI_PROGRAMS, HCI_EXPECTED)
        assert (srv_total, hci_total) == (SRV_EXPECTED_LOADING, HCI_EXPECTED_LOADING)
    # a server holds 2 scen2_srv but not 3 (admission tests rely on it)
    assert 2 * SRV_EXPECTED_LOADING <= 100 < 3 * SRV_EXPECTED_LOADING


def test_common_data_bus_rules(parser, logger):
    application = resolve_application_rules(parser, COMMON_DATA_BUS, SS.CONFIG, IDS, logger)
    rules, force = resolve_process_rules(parser, COMMON_DATA_BUS, COMMON_DATA_BUS, application, 0, True, IDS,
                                         logger)
    assert (rules.start_sequence, rules.required, rules.expected_loading, force) == (0, False, 0, False)


def test_rules_text_uses_015_syntax():
    text = scenario2_rules(SERVERS, CONSOLES)
    with open(os.path.join(ETC_DIR, RULES_FILE)) as stream:
        assert stream.read() == text  # the default fleet runs the shipped file as it is
    assert '<alias name="servers">server_1,server_2,server_3</alias>' in text
    assert '<alias name="consoles">console_1,console_2</alias>' in text
    for legacy in ('<distributed>', '<addresses>', '<pattern'):
        assert legacy not in text
    other = scenario2_rules(['server_1', 'server_2'], ['console_1', 'console_2', 'console_3'])
    assert '<alias name="servers">server_1,server_2</alias>' in other
    assert '<alias name="consoles">console_1,console_2,console_3</alias>' in other
    assert other.replace('server_1,server_2<', 'server_1,server_2,server_3<').replace(
        'console_1,console_2,console_3<', 'console_1,console_2<') == text




# ----------------------------------------------------------------------------------------------------------------
# Supervisor configuration
# ----------------------------------------------------------------------------------------------------------------
def _expected_table(kind: str, items: int) -> Dict[Tuple[str, str], str]:
    """(group, process) -> program section."""
    table = {(COMMON_DATA_BUS, COMMON_DATA_BUS): COMMON_DATA_BUS}
    for n in range(1, items + 1):
        group, names = (srv_group(n), SRV_PROGRAMS) if kind == 'srv' else (hci_group(n), HCI_PROGRAMS)
        table.update({(group, name): name for name in names})
    return table


def _read_config(monkeypatch, instance):
    """ What supervisord reads with the environment of the instance. """
    for key, value in instance.env.items():
        monkeypatch.setenv(key, value)
    options = ServerOptions()
    options.configfile = instance.conf_path
    options.here = os.path.dirname(instance.conf_path)
    return options.read_config(instance.conf_path)


@pytest.mark.parametrize('items', [1, 3, 5])
def test_bred_configurations_parse_with_supervisor(tmp_path, monkeypatch, items):
    fleet = scenario2_fleet(str(tmp_path), items=items, servers=2, consoles=3)
    assert fleet.identifiers == ['server_1', 'server_2', 'console_1', 'console_2', 'console_3']
    assert server_ids(fleet) == ['server_1', 'server_2']
    assert console_ids(fleet) == ['console_1', 'console_2', 'console_3']
    assert fleet.rules_path == str(tmp_path / 'etc' / RULES_FILE)
    with open(fleet.rules_path) as stream:
        assert stream.read() == scenario2_rules(server_ids(fleet), console_ids(fleet))
    for instance in fleet:
        assert instance.workdir == str(tmp_path / instance.identifier)
        assert os.path.isdir(run_dir(instance.workdir))
        kind = 'srv' if instance.identifier.startswith('server_') else 'hci'
        conf = SERVER_CONF if kind == 'srv' else CONSOLE_CONF
        assert instance.conf_path == str(tmp_path / 'etc' / conf)
        assert instance.env['SCEN2_IDENTIFIER'] == instance.identifier
        for key, value in instance.env.items():
            monkeypatch.setenv(key, value)
        # the table of the plugin, read in the environment of supervisord
        info = read_programs(instance.conf_path)
        assert {key: value[0] for key, value in info.table.items()} == _expected_table(kind, items)
        # check programs are never restarted by Supervisor
        for (group, process), (_, index, autorestart) in info.table.items():
            assert index == 0
            if '_check_' in process:
                assert autorestart is False
        section = _read_config(monkeypatch, instance)
        assert section.identifier == instance.identifier
        assert section.logfile == instance.logfile
        assert section.childlogdir == os.path.join(instance.workdir, 'logs')
        assert [(x['host'], x['port']) for x in section.server_configs] == [(instance.host, instance.http_port)]


def test_fleet_runs_the_shipped_files(tmp_path):
    """ The working folder of the default fleet: copies of the shipped files and the output of supvisors_breed. """
    fleet = scenario2_fleet(str(tmp_path / 'fleet'))
    etc = tmp_path / 'fleet' / 'etc'
    assert fleet.etc_dir == str(etc)
    for name in (SERVER_CONF, CONSOLE_CONF, RULES_FILE, os.path.join('common', 'services.ini')):
        assert filecmp.cmp(os.path.join(ETC_DIR, name), etc / name, shallow=False), name
    for name in os.listdir(BIN_DIR):
        assert filecmp.cmp(os.path.join(BIN_DIR, name), tmp_path / 'fleet' / 'bin' / name, shallow=False), name
    # the documented command line, run on the shipped templates
    assert breed_arguments('etc', 3) == ['-t', TEMPLATE_DIR, '-d', 'etc', '-b', 'scen2_srv=3', 'scen2_hci=3']
    supvisors_breed.main(['-t', TEMPLATE_DIR, '-d', str(tmp_path / 'ref'), '-b', 'scen2_srv=3', 'scen2_hci=3'])
    for name in ('server/group_server.ini', 'console/group_hci.ini'):
        assert filecmp.cmp(tmp_path / 'ref' / name, etc / name, shallow=False), name
    config = ConfigParser(interpolation=None)
    config.read(etc / 'server' / 'group_server.ini')
    assert [x for x in config.sections() if x.startswith('group:')] == [f'group:{srv_group(n)}' for n in (1, 2, 3)]
    assert sorted(os.listdir(etc)) == sorted([SERVER_CONF, CONSOLE_CONF, RULES_FILE, 'common', 'server', 'console'])


def test_generated_program_options(tmp_path, monkeypatch):
    # a blank in the paths must survive Supervisor's command splitting
    basedir = tmp_path / 'with blank'
    fleet = scenario2_fleet(str(basedir), items=2, servers=1, consoles=1, startsecs=3,
                            options={'synchro_timeout': '20', 'core_identifiers': 'server_1'})
    bin_dir = str(basedir / 'bin')
    for instance in fleet:
        for name in (SERVER_CONF, CONSOLE_CONF):
            config = ConfigParser(interpolation=None)
            config.read(os.path.join(fleet.etc_dir, name))
            assert config.get('rpcinterface:supvisors', 'synchro_timeout') == '20'
            assert config.get('rpcinterface:supvisors', 'core_identifiers') == 'server_1'
        section = _read_config(monkeypatch, instance)
        # normalized: the scripts are found from the folder of the configuration files (%(here)s/../../bin)
        configs = {(group.name, config.name): [os.path.normpath(word) if word.startswith('/') else word
                                               for word in shlex.split(config.command)]
                   for group in section.process_group_configs for config in group.process_configs}
        settings = {(group.name, config.name): config for group in section.process_group_configs
                    for config in group.process_configs}
        run = run_dir(instance.workdir)
        common = (COMMON_DATA_BUS, COMMON_DATA_BUS)
        assert settings[common].autostart is True
        assert configs[common] == ['/bin/bash', os.path.join(bin_dir, 'data_bus.sh'),
                                   os.path.join(run, 'common_data_bus.ready'), '0.3']
        for (group, name), config in settings.items():
            assert (config.stopwaitsecs, config.stopasgroup, config.killasgroup) == (2, True, True)
            if name == COMMON_DATA_BUS:
                continue
            assert config.autostart is False
            if '_check_' in name:
                assert (config.startsecs, config.exitcodes, config.autorestart) == (0, [0], False)
            else:
                assert config.startsecs == 3
        if instance.identifier.startswith('server_'):
            group, bus, check = srv_group(2), 'internal_data_bus', 'internal_check_data_bus'
            assert configs[(srv_group(1), 'common_check_data_bus')][1:] == [
                os.path.join(bin_dir, 'check_data_bus.sh'), os.path.join(run, 'common_data_bus.ready'), '30']
            assert configs[(srv_group(1), 'config_manager')][1:] == [os.path.join(bin_dir, 'service.sh')]
        else:
            group, bus, check = hci_group(2), 'hci_internal_data_bus', 'hci_internal_check_data_bus'
            assert configs[(hci_group(1), 'sensor_view')][1:] == [os.path.join(bin_dir, 'service.sh')]
        flag = os.path.join(run, f'{group}.internal_data_bus.ready')
        assert configs[(group, bus)][1:] == [os.path.join(bin_dir, 'data_bus.sh'), flag, '0.3']
        assert configs[(group, check)][1:] == [os.path.join(bin_dir, 'check_data_bus.sh'), flag, '30']


def test_use_case_folder_anywhere(tmp_path, monkeypatch):
    """ The procedure of the use case, on a copy of its folder: breed in place, then supervisord reads
    etc/supervisord_server.conf, whose programs refer to the scripts of this copy. """
    folder = tmp_path / 'any where'
    for name in ('bin', 'etc', 'template_etc'):
        shutil.copytree(os.path.join(USECASE_DIR, name), folder / name)
    monkeypatch.chdir(folder)
    supvisors_breed.main(['-t', 'template_etc', '-d', 'etc', '-b', 'scen2_srv=3', 'scen2_hci=3'])
    workdir = tmp_path / 'server_1'
    (workdir / 'logs').mkdir(parents=True)
    for key, value in {'SCEN2_IDENTIFIER': 'server_1', 'SCEN2_HOST': '127.0.0.1', 'SCEN2_HTTP_PORT': '60000',
                       'SCEN2_EVENT_PORT': '60001', 'SCEN2_SUPVISORS_LIST': '<server_1>127.0.0.1:60000:60002',
                       'SCEN2_CORE_IDENTIFIERS': 'server_1', 'SCEN2_WORKDIR': str(workdir)}.items():
        monkeypatch.setenv(key, value)
    for conf, groups in ((SERVER_CONF, [srv_group(n) for n in (1, 2, 3)]),
                         (CONSOLE_CONF, [hci_group(n) for n in (1, 2, 3)])):
        options = ServerOptions()
        options.configfile = str(folder / 'etc' / conf)
        options.here = str(folder / 'etc')
        section = options.read_config(options.configfile)
        assert sorted(x.name for x in section.process_group_configs) == sorted([COMMON_DATA_BUS] + groups)
        for group in section.process_group_configs:
            for config in group.process_configs:
                script = os.path.normpath(shlex.split(config.command)[1])
                assert os.path.dirname(script) == str(folder / 'bin') and os.path.exists(script)
        # the plugin reads the rules file next to the configuration file
        extras = {name: extras for name, _, extras in section.rpcinterface_factories}['supvisors']
        assert extras['rules_files'] == str(folder / 'etc' / RULES_FILE)
        assert (extras['supvisors_list'], extras['core_identifiers'], extras['event_port']) == \
            ('<server_1>127.0.0.1:60000:60002', 'server_1', '60001')


def test_set_ini_options():
    text = '; head\n[a]\nx = 1\n\n[b]\ny = 2\n; tail\n\n[c]\n'
    assert set_ini_options(text, 'b', {'y': '3', 'z': '4'}) == '; head\n[a]\nx = 1\n\n[b]\ny = 3\nz = 4\n; tail\n\n[c]\n'
    assert set_ini_options(text, 'c', {'w': '5'}) == text + 'w = 5\n'
    with pytest.raises(ValueError):
        set_ini_options(text, 'd', {'w': '5'})


def test_bin_scripts_are_executable():
    for script in ('data_bus.sh', 'check_data_bus.sh', 'service.sh'):
        path = os.path.join(BIN_DIR, script)
        assert os.access(path, os.X_OK)
        with open(path) as stream:
            assert stream.readline() == '#!/bin/bash\n'
