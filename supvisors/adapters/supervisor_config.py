"""What Supervisor's live objects do not keep: the program of each process and its index in that program.

The configuration file is read again (includes and expansions as Supervisor does) with a ServerOptions whose
process builder records, for every program section and group, the ordered list of processes it produces.
"""

import os
from typing import Callable, Dict, List, Tuple

from supervisor.options import ProcessConfig, ServerOptions


def recording_factory(klass=None) -> Tuple[Callable[..., object], List[object]]:
    """ A process config class for processes_from_section that records the configs in creation order, i.e. in
    process index order (Supervisor sorts the configs it returns by priority and name). """
    created: List[object] = []
    base = klass or ProcessConfig

    def factory(*args, **kwargs):
        config = base(*args, **kwargs)
        created.append(config)
        return config
    return factory, created


class _RecordingOptions(ServerOptions):

    def __init__(self):
        super().__init__()
        self.recorded: List[Tuple[str, str, List[object]]] = []

    def processes_from_section(self, parser, section, group_name, klass=None):
        factory, created = recording_factory(klass)
        configs = super().processes_from_section(parser, section, group_name, factory)
        self.recorded.append((section.split(':', 1)[1], group_name, created))
        return configs


class ProgramsInfo:
    """ Program name, index and autorestart of every process of the local configuration. """

    def __init__(self, recorded: List[Tuple[str, str, List[object]]]):
        # (group, process) -> (program, index, autorestart)
        self.table: Dict[Tuple[str, str], Tuple[str, int, object]] = {}
        # program -> [(group, process)]
        self.programs: Dict[str, List[Tuple[str, str]]] = {}
        for program, group, configs in recorded:
            for index, config in enumerate(configs):
                self.table[(group, config.name)] = (program, index, config.autorestart)
                self.programs.setdefault(program, []).append((group, config.name))

    def program_of(self, group: str, process: str) -> str:
        entry = self.table.get((group, process))
        return entry[0] if entry else process


def read_programs(configfile: str) -> ProgramsInfo:
    """ Raise ValueError when the configuration cannot be read (fatal at start-up). """
    options = _RecordingOptions()
    options.configfile = configfile
    options.here = os.path.dirname(os.path.abspath(configfile))
    try:
        options.read_config(configfile)
    except Exception as exc:
        raise ValueError(f'cannot read the Supervisor configuration {configfile}: {exc}') from None
    return ProgramsInfo(options.recorded)


class LocalPrograms:
    """ The program table of the local configuration, read only when first needed (``#`` in the rules,
    enable/disable, numprocs, a program disabled in the disabilities file): reading the configuration again is
    the most expensive part of the plugin start-up on a configuration with hundreds of processes. """

    def __init__(self, configfile: str, logger):
        self.configfile = configfile
        self.logger = logger
        self._info = None

    @property
    def info(self) -> ProgramsInfo:
        if self._info is None:
            try:
                self._info = read_programs(self.configfile)
            except ValueError as exc:
                self.logger.error(f'LocalPrograms: {exc}')
                self._info = ProgramsInfo([])
        return self._info

    def invalidate(self) -> None:
        """ The configuration changed (group added): read it again when next needed. """
        self._info = None

    def index_of(self, group: str, process: str):
        entry = self.info.table.get((group, process))
        return entry[1] if entry else None
