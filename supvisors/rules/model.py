"""Typed rule objects of applications and processes, and their XML-RPC payloads.

The payload key order follows the XML-RPC contract (ApplicationRules and ProcessRules structures), because
answers are compared field by field with upstream Supvisors.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List

from supvisors.ttypes import (DistributionRules, RunningFailureStrategies, StartingFailureStrategies,
                              StartingStrategies)

# internal marker of a stop_sequence not set by any rule; post-processing replaces it when a rules parser exists
UNSET_SEQUENCE = -1

# the wildcard meaning 'all instances of supvisors_list, in list order'
ALL_IDENTIFIERS = '*'
# the sign requesting one identifier per process (or per application) by index
HASH_IDENTIFIER = '#'

# failure strategies that make Supvisors handle the whole application, hence conflicting with Supervisor autorestart
APPLICATION_RUNNING_FAILURES = (RunningFailureStrategies.STOP_APPLICATION,
                                RunningFailureStrategies.RESTART_APPLICATION)


def _all_identifiers() -> List[str]:
    return [ALL_IDENTIFIERS]


@dataclass
class ApplicationRules:
    """ Rules of one application (a Supervisor group).

    ``hash_identifiers`` is not empty when '#' has been used; it holds the reference list of the '#' resolution
    (['*'] meaning all instances). It is never exported.
    """

    managed: bool = False
    distribution: DistributionRules = DistributionRules.ALL_INSTANCES
    identifiers: List[str] = field(default_factory=_all_identifiers)
    hash_identifiers: List[str] = field(default_factory=list)
    start_sequence: int = 0
    stop_sequence: int = UNSET_SEQUENCE
    starting_strategy: StartingStrategies = StartingStrategies.CONFIG
    starting_failure_strategy: StartingFailureStrategies = StartingFailureStrategies.ABORT
    running_failure_strategy: RunningFailureStrategies = RunningFailureStrategies.CONTINUE

    def serial(self, application_name: str) -> Dict[str, Any]:
        """ Payload of supvisors.get_application_rules (unmanaged applications only expose their name). """
        if not self.managed:
            return {'managed': False, 'application_name': application_name}
        return {'managed': True,
                'distribution': self.distribution.name,
                'identifiers': list(self.identifiers),
                'start_sequence': self.start_sequence,
                'stop_sequence': self.stop_sequence,
                'starting_strategy': self.starting_strategy.name,
                'starting_failure_strategy': self.starting_failure_strategy.name,
                'running_failure_strategy': self.running_failure_strategy.name,
                'application_name': application_name}


@dataclass
class ProcessRules:
    """ Rules of one process. ``hash_identifiers`` has the same meaning as in ApplicationRules. """

    identifiers: List[str] = field(default_factory=_all_identifiers)
    hash_identifiers: List[str] = field(default_factory=list)
    start_sequence: int = 0
    stop_sequence: int = UNSET_SEQUENCE
    required: bool = False
    wait_exit: bool = False
    expected_loading: int = 0
    starting_failure_strategy: StartingFailureStrategies = StartingFailureStrategies.ABORT
    running_failure_strategy: RunningFailureStrategies = RunningFailureStrategies.CONTINUE

    def serial(self, application_name: str, process_name: str) -> Dict[str, Any]:
        """ Payload of supvisors.get_process_rules for one process. """
        return {'identifiers': list(self.identifiers),
                'start_sequence': self.start_sequence,
                'stop_sequence': self.stop_sequence,
                'required': self.required,
                'wait_exit': self.wait_exit,
                'expected_loading': self.expected_loading,
                'starting_failure_strategy': self.starting_failure_strategy.name,
                'running_failure_strategy': self.running_failure_strategy.name,
                'application_name': application_name,
                'process_name': process_name}
