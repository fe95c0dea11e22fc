"""Scenario 2 use case on a local fleet: X items, each controlled by a scen2_srv_NN and a scen2_hci_NN application.

* Servers (``server_1..server_S``) define the X groups ``scen2_srv_NN``; consoles (``console_1..console_C``) define
  the X groups ``scen2_hci_NN``.  Every instance runs the unmanaged ``common_data_bus`` (autostart, its own group).
* All scen2 programs are ``autostart=false``: Supvisors starts them from the rules (staged start sequence:
  internal data bus, then its check, then the services and the common data bus check, then the common bus interface).
* The data buses signal readiness with flag files in ``<workdir>/run/`` (``common_data_bus.ready``,
  ``internal_data_bus_NN.ready``) that the check programs poll, so the whole use case runs without any network
  traffic.

Loading figures, which admission tests rely on (keep them): a scen2_srv needs 4 x 10 (model_services) + 2 (data_bus)
= 42 % of an instance, so a server holds 2 of them (84 %) but not 3 (126 %).  A scen2_hci needs 3 x 8 + 2 = 26 %.

Usage::

    fleet = scenario2_fleet(basedir, items=3)
    fleet.start()
    ...
    fleet.stop()
"""

import os
import shlex
from typing import Dict, List, Mapping, Optional, Sequence

from supvisors.tools.localfleet import LocalFleet

__all__ = ['SRV_PROGRAMS', 'HCI_PROGRAMS', 'SRV_APPLICATION_PATTERN', 'HCI_APPLICATION_PATTERN',
           'SRV_EXPECTED_LOADING', 'HCI_EXPECTED_LOADING', 'COMMON_DATA_BUS', 'BIN_DIR',
           'srv_group', 'hci_group', 'process_name', 'srv_section', 'hci_section',
           'common_flag_name', 'internal_flag_name', 'run_dir',
           'server_identifiers', 'console_identifiers', 'server_ids', 'console_ids',
           'scenario2_rules', 'common_programs', 'server_programs', 'console_programs', 'scenario2_fleet']

BIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'bin')
DATA_BUS_SCRIPT = 'data_bus.sh'
CHECK_SCRIPT = 'check_data_bus.sh'
SERVICE_SCRIPT = 'service.sh'

# default delay before a data bus declares itself ready, and default patience of the check programs
DATA_BUS_DELAY = 0.3
CHECK_TIMEOUT = 30.0

COMMON_DATA_BUS = 'common_data_bus'

# program base names (the process name is '<base>_NN'), in start order
SRV_PROGRAMS = ('scen2_internal_data_bus', 'scen2_check_internal_data_bus',
                'scen2_config_manager', 'scen2_data_processing', 'scen2_sensor_acquisition',
                'scen2_check_common_data_bus',
                'scen2_common_bus_interface')
HCI_PROGRAMS = ('scen2_internal_data_bus', 'scen2_check_internal_data_bus',
                'scen2_chart_view', 'scen2_sensor_control', 'scen2_sensor_view')

SRV_APPLICATION_PATTERN = 'scen2_srv_'
HCI_APPLICATION_PATTERN = 'scen2_hci_'

# per application, as resolved from the rules below (see the module docstring)
SRV_EXPECTED_LOADING = 42
HCI_EXPECTED_LOADING = 26

_CHECKS = ('scen2_check_internal_data_bus', 'scen2_check_common_data_bus')


# ----------------------------------------------------------------------------------------------------------------
# names
# ----------------------------------------------------------------------------------------------------------------
def srv_group(n: int) -> str:
    """Group (application) of the services of item n."""
    return 'scen2_srv_%02d' % n


def hci_group(n: int) -> str:
    """Group (application) of the HCI of item n."""
    return 'scen2_hci_%02d' % n


def process_name(base: str, n: int) -> str:
    """Process name of a program of item n, the name that the rules patterns are matched against."""
    return '%s_%02d' % (base, n)


def srv_section(base: str, n: int) -> str:
    """Supervisor program section name of a scen2_srv program: the process name itself."""
    return process_name(base, n)


def hci_section(base: str, n: int) -> str:
    """Supervisor program section name of a scen2_hci program.

    Distinct from the srv sections (``scen2_hci_<rest>_NN``), so that both sets may be included in one supervisord
    without a program definition overwriting the other; ``process_name`` keeps the process name of SRV_PROGRAMS.
    """
    return process_name('scen2_hci_' + base[len('scen2_'):], n)


def common_flag_name() -> str:
    return f'{COMMON_DATA_BUS}.ready'


def internal_flag_name(n: int) -> str:
    return 'internal_data_bus_%02d.ready' % n


def run_dir(workdir: str) -> str:
    """Folder of the ready flags of one instance."""
    return os.path.join(workdir, 'run')


def server_identifiers(servers: int) -> List[str]:
    return [f'server_{idx}' for idx in range(1, servers + 1)]


def console_identifiers(consoles: int) -> List[str]:
    return [f'console_{idx}' for idx in range(1, consoles + 1)]


def server_ids(fleet: LocalFleet) -> List[str]:
    """Server identifiers of a scenario 2 fleet, in fleet order."""
    return [identifier for identifier in fleet.identifiers if identifier.startswith('server_')]


def console_ids(fleet: LocalFleet) -> List[str]:
    """Console identifiers of a scenario 2 fleet, in fleet order."""
    return [identifier for identifier in fleet.identifiers if identifier.startswith('console_')]


# ----------------------------------------------------------------------------------------------------------------
# rules
# ----------------------------------------------------------------------------------------------------------------
RULES_TEMPLATE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<root>
    <!-- aliases -->
    <alias name="servers">{servers}</alias>
    <alias name="consoles">{consoles}</alias>

    <!-- models -->
    <model name="model_services">
        <start_sequence>3</start_sequence>
        <required>true</required>
        <expected_loading>10</expected_loading>
    </model>
    <model name="check_data_bus">
        <start_sequence>2</start_sequence>
        <required>true</required>
        <wait_exit>true</wait_exit>
    </model>
    <model name="data_bus">
        <start_sequence>1</start_sequence>
        <required>true</required>
        <expected_loading>2</expected_loading>
    </model>

    <!-- Scenario 2 applications -->
    <!-- services -->
    <application pattern="scen2_srv_">
        <distribution>SINGLE_INSTANCE</distribution>
        <identifiers>servers</identifiers>
        <start_sequence>1</start_sequence>
        <starting_strategy>LESS_LOADED</starting_strategy>
        <starting_failure_strategy>STOP</starting_failure_strategy>
        <programs>
            <program pattern="common_bus_interface">
                <reference>model_services</reference>
                <start_sequence>4</start_sequence>
            </program>
            <program pattern="check_common_data_bus">
                <reference>check_data_bus</reference>
                <start_sequence>3</start_sequence>
            </program>
            <program pattern="">
                <reference>model_services</reference>
            </program>
            <program pattern="check_internal_data_bus">
                <reference>check_data_bus</reference>
            </program>
            <program pattern="internal_data_bus">
                <reference>data_bus</reference>
                <running_failure_strategy>RESTART_APPLICATION</running_failure_strategy>
            </program>
        </programs>
    </application>

    <!-- HCI -->
    <application pattern="scen2_hci_">
        <distribution>SINGLE_INSTANCE</distribution>
        <identifiers>consoles</identifiers>
        <starting_strategy>LOCAL</starting_strategy>
        <starting_failure_strategy>CONTINUE</starting_failure_strategy>
        <programs>
            <program pattern="">
                <start_sequence>3</start_sequence>
                <expected_loading>8</expected_loading>
            </program>
            <program pattern="check_internal_data_bus">
                <reference>check_data_bus</reference>
            </program>
            <program pattern="internal_data_bus">
                <reference>data_bus</reference>
                <running_failure_strategy>STOP_APPLICATION</running_failure_strategy>
            </program>
        </programs>
    </application>
</root>
"""


def scenario2_rules(servers: Sequence[str], consoles: Sequence[str]) -> str:
    """Rules file text (0.15 syntax); the aliases list the actual identifiers of the fleet.

    Patterns rely on "most specific pattern wins" (length of the leftmost match): ``check_internal_data_bus``
    (23 characters) beats ``internal_data_bus`` (17) on the check programs, and ``""`` (0) only catches the services.
    """
    return RULES_TEMPLATE.format(servers=','.join(servers), consoles=','.join(consoles))


# ----------------------------------------------------------------------------------------------------------------
# Supervisor configuration
# ----------------------------------------------------------------------------------------------------------------
def _quote(word: str) -> str:
    """A command word safe for Supervisor: shell-quoted (shlex.split) and '%' escaped (string expansion)."""
    return shlex.quote(word).replace('%', '%%')


def _command(script: str, *args: object) -> str:
    # light shell scripts, as in the use case: hundreds of them start in a large fleet
    words = ['/bin/bash', os.path.join(BIN_DIR, script)] + [str(arg) for arg in args]
    return ' '.join(_quote(word) for word in words)


def _program_section(section: str, process: str, command: str, startsecs: int, check: bool,
                     autostart: bool = False) -> str:
    lines = [f'[program:{section}]']
    if process != section:
        lines.append(f'process_name={process}')
    lines += [f'command={command}',
              f'autostart={str(autostart).lower()}',
              f'startsecs={0 if check else startsecs}']
    if check:
        # exits 0 as soon as its data bus is ready: a normal end, never to be restarted
        lines += ['exitcodes=0', 'autorestart=false']
    lines += ['stopwaitsecs=2', 'stopasgroup=true', 'killasgroup=true', 'redirect_stderr=true']
    return '\n'.join(lines) + '\n'


def _program_command(base: str, n: int, run: str) -> str:
    if base == 'scen2_internal_data_bus':
        return _command(DATA_BUS_SCRIPT, os.path.join(run, internal_flag_name(n)), DATA_BUS_DELAY)
    if base == 'scen2_check_internal_data_bus':
        return _command(CHECK_SCRIPT, os.path.join(run, internal_flag_name(n)), CHECK_TIMEOUT)
    if base == 'scen2_check_common_data_bus':
        return _command(CHECK_SCRIPT, os.path.join(run, common_flag_name()), CHECK_TIMEOUT)
    return _command(SERVICE_SCRIPT)


def common_programs(workdir: str, startsecs: int = 1) -> str:
    """The common data bus, out of the application scope: auto-started everywhere, in its own (unmanaged) group."""
    command = _command(DATA_BUS_SCRIPT, os.path.join(run_dir(workdir), common_flag_name()), DATA_BUS_DELAY)
    return _program_section(COMMON_DATA_BUS, COMMON_DATA_BUS, command, startsecs, check=False, autostart=True)


def _groups(kind: str, items: int, workdir: str, startsecs: int) -> str:
    """X copies of the generic group definition, one per item (what supvisors_breed does with a template)."""
    bases, group, section = ((SRV_PROGRAMS, srv_group, srv_section) if kind == 'srv'
                             else (HCI_PROGRAMS, hci_group, hci_section))
    run = run_dir(workdir)
    parts = []
    for n in range(1, items + 1):
        sections = [section(base, n) for base in bases]
        parts.append(f'[group:{group(n)}]\nprograms={",".join(sections)}\n')
        for base, name in zip(bases, sections):
            parts.append(_program_section(name, process_name(base, n), _program_command(base, n, run), startsecs,
                                          check=base in _CHECKS))
    return '\n'.join(parts)


def server_programs(items: int, workdir: str, startsecs: int = 1) -> str:
    """Programs of a server: the common data bus and the X scen2_srv groups."""
    return common_programs(workdir, startsecs) + '\n' + _groups('srv', items, workdir, startsecs)


def console_programs(items: int, workdir: str, startsecs: int = 1) -> str:
    """Programs of a console: the common data bus and the X scen2_hci groups."""
    return common_programs(workdir, startsecs) + '\n' + _groups('hci', items, workdir, startsecs)


# ----------------------------------------------------------------------------------------------------------------
# fleet
# ----------------------------------------------------------------------------------------------------------------
def scenario2_fleet(basedir: str, items: int = 3, servers: int = 3, consoles: int = 2,
                    options: Optional[Dict[str, str]] = None, startsecs: int = 1) -> LocalFleet:
    """A configured, not started, fleet of servers then consoles running scenario 2 for ``items`` items.

    ``options`` are Supvisors options added to (or replacing) the defaults; by default every instance is a core
    instance, so that synchronisation ends as soon as all of them are seen instead of waiting synchro_timeout.
    The workdir of each instance is ``<basedir>/<identifier>``, so its flags are in ``<basedir>/<identifier>/run``.
    """
    if items < 1 or servers < 1 or consoles < 1:
        raise ValueError(f'items, servers and consoles must be >= 1: {items}, {servers}, {consoles}')
    if items > 99:
        raise ValueError(f'items must be <= 99 (two-digit names): {items}')
    srv_ids, hci_ids = server_identifiers(servers), console_identifiers(consoles)
    identifiers = srv_ids + hci_ids
    all_options: Dict[str, str] = {'core_identifiers': ','.join(identifiers)}
    all_options.update(options or {})
    basedir = os.path.abspath(basedir)
    per_instance: Mapping[str, str] = {
        **{identifier: server_programs(items, os.path.join(basedir, identifier), startsecs) for identifier in srv_ids},
        **{identifier: console_programs(items, os.path.join(basedir, identifier), startsecs)
           for identifier in hci_ids}}
    # each server and console is a node of its own (its own loopback address), as on real hosts
    fleet = LocalFleet(identifiers, basedir, options=all_options, per_instance_programs=per_instance,
                       rules=scenario2_rules(srv_ids, hci_ids), distinct_hosts=True)
    for instance in fleet:
        os.makedirs(run_dir(instance.workdir), exist_ok=True)
    return fleet
