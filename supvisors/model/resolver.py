"""Rules of applications and processes, resolved once when the fleet first learns about them.

Pure: what comes from supervisord (each local process's program index and autorestart setting) is given as a
table, and the processes whose autorestart must be disabled locally are collected for the adapter to apply.
"""

from typing import Callable, List, Optional

from ..rules.parser import resolve_application_rules, resolve_process_rules
from ..ttypes import StartingStrategies, make_namespec

# (group, process) -> local value, or None when the process is not configured locally
LocalLookup = Callable[[str, str], Optional[object]]


def _unknown(group: str, process: str) -> None:
    return None


class RulesResolver:

    def __init__(self, parser, default_strategy: StartingStrategies, identifiers: List[str], logger,
                 index_of: LocalLookup = _unknown, autorestart_of: LocalLookup = _unknown):
        """ index_of: position of a local process in its program (only asked for '#' rules);
        autorestart_of: its autorestart setting. """
        self.parser = parser
        self.default_strategy = default_strategy
        self.identifiers = identifiers
        self.logger = logger
        self.index_of = index_of
        self.autorestart_of = autorestart_of
        self.autorestart_changes: List[str] = []

    def application_rules(self, application_name: str):
        return resolve_application_rules(self.parser, application_name, self.default_strategy, self.identifiers,
                                         self.logger)

    def process_rules(self, application_name: str, process_name: str, application_rules):
        rules, disable_autorestart = resolve_process_rules(
            self.parser, application_name, process_name, application_rules,
            lambda: self.index_of(application_name, process_name), self.autorestart_of(application_name, process_name),
            self.identifiers, self.logger)
        if disable_autorestart:
            self.autorestart_changes.append(make_namespec(application_name, process_name))
        return rules

    def take_autorestart_changes(self) -> List[str]:
        changes, self.autorestart_changes = self.autorestart_changes, []
        return changes


class DefaultResolver(RulesResolver):
    """ No rules files: every application unmanaged, default rules (the state machine alone in tests). """

    def __init__(self):
        super().__init__(None, StartingStrategies.CONFIG, [], _NullLogger())


class _NullLogger:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
