"""Actions returned by the core: the only way decisions leave the pure code.

The adapters turn each action into an effect (bytes on the bus, an XML-RPC to a peer, a supervisord mood change).
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..ttypes import InternalMessages


@dataclass
class Publish:
    """ Publish a message on the internal bus (the local instance has already applied it). """
    code: InternalMessages
    body: Any


@dataclass
class CheckInstance:
    """ Run the handshake with an instance and feed the result back with the same check_id. """
    identifier: str
    check_id: int


@dataclass
class IsolateInstances:
    """ Close the links to these instances for good. """
    identifiers: List[str]


@dataclass
class RestartSupervisor:
    """ Restart the local supervisord. """


@dataclass
class ShutdownSupervisor:
    """ Shut the local supervisord down. """


@dataclass
class ForwardToMaster:
    """ Call a supvisors XML-RPC on the Master (restart, shutdown, restart_sequence). """
    master: str
    method: str
    args: List[Any] = field(default_factory=list)


@dataclass
class StartProcess:
    """ Ask an instance to start one of its processes (supvisors.start_args with wait=False). """
    identifier: str
    namespec: str
    extra_args: str = ''


@dataclass
class StopProcess:
    """ Ask an instance to stop one of its processes (supervisor.stopProcess with wait=False). """
    identifier: str
    namespec: str


@dataclass
class DisableAutorestart:
    """ Set autorestart to false for a local process (its running failure strategy is application-level). """
    namespec: str


@dataclass
class Notify:
    """ Publish an event on the external event interface (topic as in the event contract). """
    topic: str
    payload: Dict[str, Any]


@dataclass
class CheckResult:
    """ Outcome of a handshake, fed back to the core.

    authorized is None when the peer could not be questioned (XML-RPC failure).
    """
    identifier: str
    check_id: int
    authorized: Optional[bool]
    master: str = ''
    fsm_state: int = 0
    starting_jobs: bool = False
    stopping_jobs: bool = False
    process_list: Optional[List[Dict[str, Any]]] = None
