"""What the local instance knows of every configured instance (itself included), and the rules of its states."""

from typing import Any, Dict

from ..ttypes import SupvisorsInstanceStates, SupvisorsStates

S = SupvisorsInstanceStates

ALLOWED_TRANSITIONS = {
    S.UNKNOWN: (S.CHECKING, S.SILENT, S.ISOLATING),
    S.CHECKING: (S.RUNNING, S.SILENT, S.ISOLATING),
    S.RUNNING: (S.SILENT, S.ISOLATING, S.CHECKING),
    S.SILENT: (S.CHECKING, S.ISOLATING),
    S.ISOLATING: (S.ISOLATED,),
    S.ISOLATED: (),
}

INT32_MAX = 2 ** 31 - 1


class InvalidTransition(Exception):
    pass


def _xmlrpc_int(value: float) -> int:
    """ Times are exported as truncated ints, capped to the XML-RPC int32 range. """
    return max(-INT32_MAX - 1, min(INT32_MAX, int(value)))


class InstanceStatus:
    """ Liveness data and reported state of one instance, as seen locally. """

    def __init__(self, identifier: str, host_name: str, http_port: int, node_key: str):
        self.identifier = identifier
        self.host_name = host_name
        self.http_port = http_port
        self.node_key = node_key
        self.state = S.UNKNOWN
        self.sequence_counter = 0  # last tick counter received from that instance
        self.local_sequence_counter = 0  # local tick counter when that tick was received
        self.remote_time = 0.0
        self.local_time = 0.0
        # (FSM state, starting jobs, stopping jobs) last reported by that instance
        self.fsm_state = SupvisorsStates.OFF
        self.starting_jobs = False
        self.stopping_jobs = False
        self.check_id = 0  # id of the handshake in progress (results of older ones are ignored)
        self.state_received = False  # a state message arrived since the handshake began (its answer is older)
        self.check_counter = 0  # local tick counter when the handshake began (a lost answer is asked again)

    @property
    def in_isolation(self) -> bool:
        return self.state in (S.ISOLATING, S.ISOLATED)

    def set_state(self, state: SupvisorsInstanceStates) -> None:
        if state == self.state:
            return
        if state not in ALLOWED_TRANSITIONS[self.state]:
            raise InvalidTransition(f'instance {self.identifier}: {self.state.name} -> {state.name}')
        self.state = state
        if state in (S.SILENT, S.ISOLATING, S.ISOLATED):
            self.fsm_state = SupvisorsStates.OFF
            self.starting_jobs = self.stopping_jobs = False

    def reset(self) -> None:
        """ Entering INITIALIZATION forgets what was checked (outside the transition table). """
        if self.state in (S.CHECKING, S.RUNNING):
            self.state = S.UNKNOWN

    def update_tick(self, counter: int, when: float, local_counter: int, now: float) -> None:
        self.sequence_counter = counter
        self.remote_time = when
        self.local_sequence_counter = local_counter
        self.local_time = now

    def update_state_modes(self, fsm_state: int, starting_jobs: bool, stopping_jobs: bool) -> bool:
        """ Record the state reported by the instance. Return True if it changed. """
        try:
            new = (SupvisorsStates(fsm_state), bool(starting_jobs), bool(stopping_jobs))
        except ValueError:
            return False
        changed = new != (self.fsm_state, self.starting_jobs, self.stopping_jobs)
        self.fsm_state, self.starting_jobs, self.stopping_jobs = new
        return changed

    def serial(self, loading: int = 0) -> Dict[str, Any]:
        """ The InstanceInfo structure, keys in the contract order. """
        return {'identifier': self.identifier,
                'node_name': self.host_name,
                'port': self.http_port,
                'statecode': self.state.value,
                'statename': self.state.name,
                'sequence_counter': self.sequence_counter,
                'remote_time': _xmlrpc_int(self.remote_time),
                'local_time': _xmlrpc_int(self.local_time),
                'loading': loading,
                'fsm_statecode': self.fsm_state.value,
                'fsm_statename': self.fsm_state.name,
                'starting_jobs': self.starting_jobs,
                'stopping_jobs': self.stopping_jobs}
