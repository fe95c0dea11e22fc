"""Scenario 2 use case: X items, each controlled by a scen2_srv_NN application (servers) and a scen2_hci_NN
application (consoles).

The use case is shipped as files, in this folder::

    bin/                            stand-ins of the programs: data_bus.sh, check_data_bus.sh, service.sh
    template_etc/
        server/group_server.ini     generic configuration of scen2_srv (group and programs of one item)
        console/group_hci.ini       generic configuration of scen2_hci (group and programs of one item)
    etc/
        common/services.ini         the common data bus, auto-started by every supervisord, not managed
        supervisord_server.conf     supervisord of a server: includes common/*.ini and server/*.ini
        supervisord_console.conf    supervisord of a console: includes common/*.ini and console/*.ini
        supvisors_rules.xml         the Supvisors rules of scen2_srv_NN and scen2_hci_NN

Before use, ``supvisors_breed`` duplicates the generic groups X times into ``etc``::

    supvisors_breed -t template_etc -d etc -b scen2_srv=X scen2_hci=X

which writes ``etc/server/group_server.ini`` (groups scen2_srv_01..XX) and ``etc/console/group_hci.ini`` (groups
scen2_hci_01..XX).  The groups of one kind list the same programs, so the process names are the same in every group
(``scen2_srv_01:config_manager``, ``scen2_srv_02:config_manager``...).

``scenario2_fleet`` runs these files on a local fleet: it lays out a working folder like this one once bred (a copy
of ``bin`` and ``etc``, then ``supvisors_breed`` run on ``template_etc`` into ``<basedir>/etc``), and starts every
server with ``<basedir>/etc/supervisord_server.conf`` and every console with ``<basedir>/etc/supervisord_console.conf``.
What differs between two instances comes from their environment (``SCEN2_*`` variables, see the .conf files);
the launcher only adapts the rules aliases to the identifiers of the fleet (``server_1..server_S``,
``console_1..console_C``; the shipped file lists the default fleet, 3 servers and 2 consoles), and, when asked to,
Supvisors options and the ``startsecs`` of the programs.

* All scen2 programs are ``autostart=false``: Supvisors starts them from the rules (staged start sequence:
  internal data bus, then its check, then the services and the common data bus check, then the common bus interface).
* The data buses signal readiness with flag files in ``<workdir>/run/`` (``common_data_bus.ready``,
  ``<group>.internal_data_bus.ready``) that the check programs poll, so the whole use case runs without any network
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
import re
import shutil
from typing import Dict, List, Mapping, Optional, Sequence

from supvisors.tools import breed as supvisors_breed
from supvisors.tools.localfleet import LocalFleet, LocalInstance

__all__ = ['USECASE_DIR', 'BIN_DIR', 'ETC_DIR', 'TEMPLATE_DIR', 'RULES_FILE', 'SERVER_CONF', 'CONSOLE_CONF',
           'SRV_PROGRAMS', 'HCI_PROGRAMS', 'SRV_DATA_BUS', 'HCI_DATA_BUS',
           'SRV_APPLICATION_PATTERN', 'HCI_APPLICATION_PATTERN',
           'SRV_EXPECTED_LOADING', 'HCI_EXPECTED_LOADING', 'COMMON_DATA_BUS',
           'srv_group', 'hci_group', 'namespec', 'common_flag_name', 'internal_flag_name', 'run_dir',
           'server_identifiers', 'console_identifiers', 'server_ids', 'console_ids',
           'scenario2_rules', 'breed_arguments', 'breed', 'set_ini_options', 'instance_env',
           'Scenario2Fleet', 'scenario2_fleet']

USECASE_DIR = os.path.dirname(os.path.abspath(__file__))
BIN_DIR = os.path.join(USECASE_DIR, 'bin')
ETC_DIR = os.path.join(USECASE_DIR, 'etc')
TEMPLATE_DIR = os.path.join(USECASE_DIR, 'template_etc')

RULES_FILE = 'supvisors_rules.xml'
SERVER_CONF = 'supervisord_server.conf'
CONSOLE_CONF = 'supervisord_console.conf'
# what the launcher copies from etc (bred folders that a user may have added there are left out)
COMMON_DIR = 'common'
SHIPPED_ETC_FILES = (SERVER_CONF, CONSOLE_CONF, RULES_FILE)

COMMON_DATA_BUS = 'common_data_bus'

# process names of one item (the same in every group of a kind), in start order
SRV_PROGRAMS = ('internal_data_bus', 'internal_check_data_bus',
                'config_manager', 'data_processing', 'sensor_acquisition',
                'common_check_data_bus',
                'common_bus_interface')
HCI_PROGRAMS = ('hci_internal_data_bus', 'hci_internal_check_data_bus',
                'chart_view', 'sensor_control', 'sensor_view')
SRV_DATA_BUS = 'internal_data_bus'
HCI_DATA_BUS = 'hci_internal_data_bus'

SRV_APPLICATION_PATTERN = 'scen2_srv_'
HCI_APPLICATION_PATTERN = 'scen2_hci_'
SRV_TEMPLATE = 'scen2_srv'
HCI_TEMPLATE = 'scen2_hci'

# per application, as resolved from the rules file (see the module docstring)
SRV_EXPECTED_LOADING = 42
HCI_EXPECTED_LOADING = 26

# the startsecs of the long-running programs in the shipped files (the checks have 0)
SHIPPED_STARTSECS = 1


# ----------------------------------------------------------------------------------------------------------------
# names
# ----------------------------------------------------------------------------------------------------------------
def srv_group(n: int) -> str:
    """Group (application) of the services of item n, as named by supvisors_breed."""
    return '%s_%02d' % (SRV_TEMPLATE, n)


def hci_group(n: int) -> str:
    """Group (application) of the HCI of item n, as named by supvisors_breed."""
    return '%s_%02d' % (HCI_TEMPLATE, n)


def namespec(group: str, process: str) -> str:
    return f'{group}:{process}'


def common_flag_name() -> str:
    return f'{COMMON_DATA_BUS}.ready'


def internal_flag_name(group: str) -> str:
    """Ready flag of the internal data bus of a scen2_srv_NN or scen2_hci_NN group."""
    return f'{group}.internal_data_bus.ready'


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
def _read(path: str) -> str:
    with open(path) as stream:
        return stream.read()


def _write(path: str, text: str) -> None:
    with open(path, 'w') as stream:
        stream.write(text)


def scenario2_rules(servers: Sequence[str], consoles: Sequence[str]) -> str:
    """The shipped rules file, with the aliases set to the identifiers of the fleet.

    With the default fleet (server_1..3, console_1..2), this is the shipped file as it is.
    """
    text = _read(os.path.join(ETC_DIR, RULES_FILE))
    for alias, identifiers in (('servers', servers), ('consoles', consoles)):
        text, count = re.subn(rf'(<alias name="{alias}">)[^<]*(</alias>)',
                              lambda match: match.group(1) + ','.join(identifiers) + match.group(2), text)
        if count != 1:
            raise ValueError(f'{RULES_FILE}: one alias "{alias}" expected, found {count}')
    return text


# ----------------------------------------------------------------------------------------------------------------
# Supervisor configuration
# ----------------------------------------------------------------------------------------------------------------
def breed_arguments(destination: str, items: int) -> List[str]:
    """Arguments of supvisors_breed that duplicate the scen2_srv and scen2_hci templates X times into destination."""
    return ['-t', TEMPLATE_DIR, '-d', destination, '-b', f'{SRV_TEMPLATE}={items}', f'{HCI_TEMPLATE}={items}']


def breed(destination: str, items: int) -> None:
    """Run supvisors_breed on template_etc: writes <destination>/server/group_server.ini and
    <destination>/console/group_hci.ini with X groups each."""
    supvisors_breed.main(breed_arguments(os.path.abspath(destination), items))


def set_ini_options(text: str, section: str, values: Mapping[str, str]) -> str:
    """Set options of one section of an ini text: an existing option line is replaced, a new one is added at the end
    of the section.  The rest of the text (comments included) is kept as it is."""
    lines = text.splitlines(keepends=True)
    header = f'[{section}]'
    try:
        start = next(idx for idx, line in enumerate(lines) if line.strip() == header)
    except StopIteration:
        raise ValueError(f'no section {header}') from None
    end = next((idx for idx in range(start + 1, len(lines)) if lines[idx].lstrip().startswith('[')), len(lines))
    for key, value in values.items():
        new_line = f'{key} = {value}\n'
        pattern = re.compile(rf'\s*{re.escape(key)}\s*[=:]')
        found = next((idx for idx in range(start + 1, end) if pattern.match(lines[idx])), None)
        if found is not None:
            lines[found] = new_line
            continue
        # after the last option of the section (before its trailing blank lines and comments)
        last = max((idx for idx in range(start, end) if lines[idx].strip() and
                    not lines[idx].lstrip().startswith((';', '#'))), default=start)
        if not lines[last].endswith('\n'):
            lines[last] += '\n'
        lines.insert(last + 1, new_line)
        end += 1
    return ''.join(lines)


def _set_startsecs(path: str, startsecs: int) -> None:
    """Replace the startsecs of the long-running programs (the checks keep their startsecs=0)."""
    text = _read(path)
    _write(path, re.sub(r'(?m)^(startsecs\s*=\s*)[1-9]\d*\s*$', rf'\g<1>{startsecs}', text))


def instance_env(fleet: LocalFleet, instance: LocalInstance) -> Dict[str, str]:
    """The SCEN2_* variables of one instance, expanded by Supervisor in the shipped configuration files."""
    return {'SCEN2_IDENTIFIER': instance.identifier,
            'SCEN2_HOST': instance.host,
            'SCEN2_HTTP_PORT': str(instance.http_port),
            'SCEN2_EVENT_PORT': str(instance.event_port),
            'SCEN2_SUPVISORS_LIST': fleet.supvisors_list,
            # every instance is a core instance, so that synchronisation ends as soon as all of them are seen
            # instead of waiting synchro_timeout
            'SCEN2_CORE_IDENTIFIERS': ','.join(fleet.identifiers),
            'SCEN2_WORKDIR': instance.workdir}


# ----------------------------------------------------------------------------------------------------------------
# fleet
# ----------------------------------------------------------------------------------------------------------------
class Scenario2Fleet(LocalFleet):
    """A configured, not started, fleet of servers then consoles running the shipped scenario 2 files.

    The working folder ``basedir`` is laid out as the use case folder once bred::

        <basedir>/bin/                          copy of the shipped bin
        <basedir>/etc/                          copy of the shipped etc (common/, the .conf files, the rules)
        <basedir>/etc/server/group_server.ini   bred by supvisors_breed from template_etc (X groups scen2_srv_NN)
        <basedir>/etc/console/group_hci.ini     bred by supvisors_breed from template_etc (X groups scen2_hci_NN)
        <basedir>/<identifier>/                 workdir of an instance: supervisord.log, logs/, run/

    ``options`` are Supvisors options added to (or replacing) the ones of the shipped .conf files, in the copies.
    ``startsecs`` replaces the startsecs of the long-running programs (1 in the shipped files) in the copies.
    """

    def __init__(self, basedir: str, items: int = 3, servers: int = 3, consoles: int = 2,
                 options: Optional[Mapping[str, str]] = None, startsecs: int = SHIPPED_STARTSECS):
        if items < 1 or servers < 1 or consoles < 1:
            raise ValueError(f'items, servers and consoles must be >= 1: {items}, {servers}, {consoles}')
        if items > 99:
            raise ValueError(f'items must be <= 99 (two-digit names): {items}')
        self.items = items
        self.startsecs = startsecs
        self.etc_dir = os.path.join(os.path.abspath(basedir), 'etc')
        self.bin_dir = os.path.join(os.path.abspath(basedir), 'bin')
        self.server_identifiers = server_identifiers(servers)
        self.console_identifiers = console_identifiers(consoles)
        # each server and console is a node of its own (its own loopback address), as on real hosts
        super().__init__(self.server_identifiers + self.console_identifiers, basedir, options=options,
                         distinct_hosts=True)

    @property
    def server_conf(self) -> str:
        return os.path.join(self.etc_dir, SERVER_CONF)

    @property
    def console_conf(self) -> str:
        return os.path.join(self.etc_dir, CONSOLE_CONF)

    def write_configs(self, options: Mapping[str, str], per_instance_options: Mapping[str, Mapping[str, str]],
                      programs: str, per_instance_programs: Mapping[str, str]) -> None:
        """Lay out the working folder with the shipped files and point every instance at them."""
        shutil.copytree(BIN_DIR, self.bin_dir, dirs_exist_ok=True)
        os.makedirs(self.etc_dir, exist_ok=True)
        shutil.copytree(os.path.join(ETC_DIR, COMMON_DIR), os.path.join(self.etc_dir, COMMON_DIR), dirs_exist_ok=True)
        for name in (SERVER_CONF, CONSOLE_CONF):
            text = _read(os.path.join(ETC_DIR, name))
            if options:
                text = set_ini_options(text, 'rpcinterface:supvisors', options)
            _write(os.path.join(self.etc_dir, name), text)
        self.rules_path = os.path.join(self.etc_dir, RULES_FILE)
        _write(self.rules_path, scenario2_rules(self.server_identifiers, self.console_identifiers))
        breed(self.etc_dir, self.items)
        if self.startsecs != SHIPPED_STARTSECS:
            for path in self.program_files():
                _set_startsecs(path, self.startsecs)
        for instance in self:
            instance.conf_path = self.server_conf if instance.identifier in self.server_identifiers \
                else self.console_conf
            instance.env = instance_env(self, instance)
            os.makedirs(run_dir(instance.workdir), exist_ok=True)

    def program_files(self) -> List[str]:
        """The program definitions run by the fleet: the common data bus, then the bred files."""
        return [os.path.join(self.etc_dir, COMMON_DIR, 'services.ini'),
                os.path.join(self.etc_dir, 'server', 'group_server.ini'),
                os.path.join(self.etc_dir, 'console', 'group_hci.ini')]


def scenario2_fleet(basedir: str, items: int = 3, servers: int = 3, consoles: int = 2,
                    options: Optional[Mapping[str, str]] = None, startsecs: int = SHIPPED_STARTSECS) -> Scenario2Fleet:
    """A configured, not started, fleet of servers then consoles running scenario 2 for ``items`` items.

    The workdir of each instance is ``<basedir>/<identifier>``, so its flags are in ``<basedir>/<identifier>/run``.
    See Scenario2Fleet.
    """
    return Scenario2Fleet(basedir, items, servers, consoles, options, startsecs)
