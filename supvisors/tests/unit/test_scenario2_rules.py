"""Scenario 2 use case: rules resolution of every program and generated Supervisor configurations."""

import io
import os
import shlex
from typing import Dict, Tuple

import pytest
from supervisor.options import ServerOptions

from supvisors.adapters.supervisor_config import read_programs
from supvisors.rules.parser import RulesParser, load_rules, resolve_application_rules, resolve_process_rules
from supvisors.tests.unit.fakes import FakeLogger
from supvisors.tools.usecases.scenario2 import (BIN_DIR, COMMON_DATA_BUS, HCI_EXPECTED_LOADING, HCI_PROGRAMS,
                                                SRV_EXPECTED_LOADING, SRV_PROGRAMS, console_ids, hci_group,
                                                hci_section, process_name, run_dir, scenario2_fleet,
                                                scenario2_rules, server_ids, srv_group, srv_section)
from supvisors.ttypes import DistributionRules as DR
from supvisors.ttypes import RunningFailureStrategies as RF
from supvisors.ttypes import StartingFailureStrategies as SF
from supvisors.ttypes import StartingStrategies as SS

SERVERS = ['server_1', 'server_2', 'server_3']
CONSOLES = ['console_1', 'console_2']
IDS = SERVERS + CONSOLES
ITEMS = 3

# base name -> (start_sequence, required, wait_exit, expected_loading, starting failure, running failure)
SRV_EXPECTED: Dict[str, Tuple[int, bool, bool, int, SF, RF]] = {
    'scen2_internal_data_bus': (1, True, False, 2, SF.STOP, RF.RESTART_APPLICATION),
    'scen2_check_internal_data_bus': (2, True, True, 0, SF.STOP, RF.CONTINUE),
    'scen2_config_manager': (3, True, False, 10, SF.STOP, RF.CONTINUE),
    'scen2_data_processing': (3, True, False, 10, SF.STOP, RF.CONTINUE),
    'scen2_sensor_acquisition': (3, True, False, 10, SF.STOP, RF.CONTINUE),
    'scen2_check_common_data_bus': (3, True, True, 0, SF.STOP, RF.CONTINUE),
    'scen2_common_bus_interface': (4, True, False, 10, SF.STOP, RF.CONTINUE)}
HCI_EXPECTED: Dict[str, Tuple[int, bool, bool, int, SF, RF]] = {
    'scen2_internal_data_bus': (1, True, False, 2, SF.CONTINUE, RF.STOP_APPLICATION),
    'scen2_check_internal_data_bus': (2, True, True, 0, SF.CONTINUE, RF.CONTINUE),
    'scen2_chart_view': (3, False, False, 8, SF.CONTINUE, RF.CONTINUE),
    'scen2_sensor_control': (3, False, False, 8, SF.CONTINUE, RF.CONTINUE),
    'scen2_sensor_view': (3, False, False, 8, SF.CONTINUE, RF.CONTINUE)}


@pytest.fixture
def logger() -> FakeLogger:
    return FakeLogger()


@pytest.fixture(params=[True, False], ids=['lxml', 'etree'])
def parser(request, tmp_path, logger) -> RulesParser:
    path = tmp_path / 'rules.xml'
    path.write_text(scenario2_rules(SERVERS, CONSOLES))
    stderr = io.StringIO()
    result = load_rules([str(path)], IDS, logger, stderr=stderr, use_lxml=request.param)
    assert result is not None, stderr.getvalue()
    return result


def test_program_lists_are_consistent():
    assert set(SRV_PROGRAMS) == set(SRV_EXPECTED) and len(SRV_PROGRAMS) == len(SRV_EXPECTED)
    assert set(HCI_PROGRAMS) == set(HCI_EXPECTED) and len(HCI_PROGRAMS) == len(HCI_EXPECTED)
    # 'in start order'
    for programs, expected in ((SRV_PROGRAMS, SRV_EXPECTED), (HCI_PROGRAMS, HCI_EXPECTED)):
        sequences = [expected[base][0] for base in programs]
        assert sequences == sorted(sequences)
    assert srv_group(1) == 'scen2_srv_01' and hci_group(12) == 'scen2_hci_12'
    assert srv_section('scen2_internal_data_bus', 2) == 'scen2_internal_data_bus_02'
    assert hci_section('scen2_internal_data_bus', 2) == 'scen2_hci_internal_data_bus_02'


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


def _process_rules(parser, logger, group: str, bases, expected) -> int:
    application = resolve_application_rules(parser, group, SS.CONFIG, IDS, logger)
    n = int(group[-2:])
    total = 0
    for base in bases:
        rules, force_autorestart = resolve_process_rules(parser, group, process_name(base, n), application, 0,
                                                         True, IDS, logger)
        start, running_failure = expected[base][0], expected[base][5]
        actual = (rules.start_sequence, rules.required, rules.wait_exit, rules.expected_loading,
                  rules.starting_failure_strategy, rules.running_failure_strategy)
        assert actual == expected[base], f'{group}:{process_name(base, n)}'
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
    assert '<alias name="servers">server_1,server_2,server_3</alias>' in text
    assert '<alias name="consoles">console_1,console_2</alias>' in text
    for legacy in ('<distributed>', '<addresses>', '<pattern'):
        assert legacy not in text


# ----------------------------------------------------------------------------------------------------------------
# Supervisor configuration
# ----------------------------------------------------------------------------------------------------------------
def _expected_table(kind: str, items: int) -> Dict[Tuple[str, str], str]:
    """(group, process) -> program section."""
    table = {(COMMON_DATA_BUS, COMMON_DATA_BUS): COMMON_DATA_BUS}
    for n in range(1, items + 1):
        if kind == 'srv':
            table.update({(srv_group(n), process_name(base, n)): srv_section(base, n) for base in SRV_PROGRAMS})
        else:
            table.update({(hci_group(n), process_name(base, n)): hci_section(base, n) for base in HCI_PROGRAMS})
    return table


@pytest.mark.parametrize('items', [1, 3, 5])
def test_generated_configurations_parse_with_supervisor(tmp_path, items):
    fleet = scenario2_fleet(str(tmp_path), items=items, servers=2, consoles=3)
    assert fleet.identifiers == ['server_1', 'server_2', 'console_1', 'console_2', 'console_3']
    assert server_ids(fleet) == ['server_1', 'server_2']
    assert console_ids(fleet) == ['console_1', 'console_2', 'console_3']
    assert fleet.rules_path and os.path.exists(fleet.rules_path)
    for instance in fleet:
        assert instance.workdir == str(tmp_path / instance.identifier)
        assert os.path.isdir(run_dir(instance.workdir))
        info = read_programs(instance.conf_path)
        kind = 'srv' if instance.identifier.startswith('server_') else 'hci'
        expected = _expected_table(kind, items)
        assert {key: value[0] for key, value in info.table.items()} == expected
        # check programs are never restarted by Supervisor
        for (group, process), (_, index, autorestart) in info.table.items():
            assert index == 0
            if '_check_' in process:
                assert autorestart is False


def test_generated_program_options(tmp_path):
    # a blank in the paths must survive Supervisor's command splitting
    fleet = scenario2_fleet(str(tmp_path / 'with blank'), items=2, servers=1, consoles=1, startsecs=3)
    for instance in fleet:
        options = ServerOptions()
        options.configfile = instance.conf_path
        section = options.read_config(instance.conf_path)
        configs = {config.name: shlex.split(config.command) for group in section.process_group_configs
                   for config in group.process_configs}
        settings = {config.name: config for group in section.process_group_configs
                    for config in group.process_configs}
        run = run_dir(instance.workdir)
        assert settings[COMMON_DATA_BUS].autostart is True
        assert configs[COMMON_DATA_BUS] == ['/bin/bash', os.path.join(BIN_DIR, 'data_bus.sh'),
                                            os.path.join(run, 'common_data_bus.ready'), '0.3']
        for name, config in settings.items():
            assert (config.stopwaitsecs, config.stopasgroup, config.killasgroup) == (2, True, True)
            if name == COMMON_DATA_BUS:
                continue
            assert config.autostart is False
            if '_check_' in name:
                assert (config.startsecs, config.exitcodes, config.autorestart) == (0, [0], False)
            else:
                assert config.startsecs == 3
        flag = os.path.join(run, 'internal_data_bus_02.ready')
        assert configs['scen2_internal_data_bus_02'][1:] == [os.path.join(BIN_DIR, 'data_bus.sh'), flag, '0.3']
        assert configs['scen2_check_internal_data_bus_02'][1:] == [os.path.join(BIN_DIR, 'check_data_bus.sh'),
                                                                   flag, '30.0']
        if instance.identifier.startswith('server_'):
            assert configs['scen2_check_common_data_bus_01'][1:] == [os.path.join(BIN_DIR, 'check_data_bus.sh'),
                                                                     os.path.join(run, 'common_data_bus.ready'),
                                                                     '30.0']
            assert configs['scen2_config_manager_01'][1:] == [os.path.join(BIN_DIR, 'service.sh')]
        else:
            assert configs['scen2_sensor_view_01'][1:] == [os.path.join(BIN_DIR, 'service.sh')]


def test_bin_scripts_are_executable():
    for script in ('data_bus.sh', 'check_data_bus.sh', 'service.sh'):
        path = os.path.join(BIN_DIR, script)
        assert os.access(path, os.X_OK)
        with open(path) as stream:
            assert stream.readline() == '#!/bin/bash\n'
