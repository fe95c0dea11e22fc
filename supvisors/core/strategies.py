"""Where to start a process or an application: candidates, load accounting and the starting strategies.

Pure functions over plain data. Loads are percentages declared by the rules (``expected_loading``): an instance's
load is what its running processes declared, a node's load is the sum over its instances, and nothing may be placed
where the node would exceed 100 %. Pending loads (start requests not yet effective) count as if already running.
"""

from typing import Dict, Iterable, List, Optional, Sequence

from ..ttypes import StartingStrategies

MAX_LOAD = 100


class LoadView:
    """ Loads of every instance and node, running and pending, as seen by the instance that chooses. """

    def __init__(self, node_of: Dict[str, str], running: Dict[str, int], pending: Optional[Dict[str, int]] = None):
        self.node_of = node_of
        self.running = running
        self.pending = dict(pending or {})

    def instance_load(self, identifier: str) -> int:
        return self.running.get(identifier, 0) + self.pending.get(identifier, 0)

    def node_load(self, identifier: str) -> int:
        node = self.node_of.get(identifier, identifier)
        return sum(self.instance_load(x) for x, n in self.node_of.items() if n == node)

    def add_pending(self, identifier: str, load: int) -> None:
        self.pending[identifier] = self.pending.get(identifier, 0) + load

    def fits(self, identifier: str, load: int) -> bool:
        return self.node_load(identifier) + load <= MAX_LOAD


def restrict(candidates: Sequence[str], all_identifiers: Sequence[str], allowed: Iterable[str]) -> List[str]:
    """ Expand '*' in supvisors_list order, then keep the allowed identifiers, in candidate order. """
    expanded = list(all_identifiers) if '*' in candidates else list(candidates)
    allowed = set(allowed)
    return [x for x in expanded if x in allowed]


def choose(strategy: StartingStrategies, candidates: Sequence[str], load: int, view: LoadView,
           local_identifier: str) -> Optional[str]:
    """ The instance chosen by the strategy among the candidates where the load fits, or None. """
    valid = [x for x in candidates if view.fits(x, load)]
    if not valid:
        return None
    if strategy == StartingStrategies.CONFIG:
        return valid[0]
    if strategy == StartingStrategies.LOCAL:
        return local_identifier if local_identifier in valid else None
    if strategy in (StartingStrategies.LESS_LOADED, StartingStrategies.MOST_LOADED):
        ranked = sorted(valid, key=lambda x: (view.instance_load(x), view.node_load(x)))
    else:
        ranked = sorted(valid, key=lambda x: (view.node_load(x), view.instance_load(x)))
    if strategy in (StartingStrategies.LESS_LOADED, StartingStrategies.LESS_LOADED_NODE):
        return ranked[0]
    return ranked[-1]  # the last one of the ascending order, as 0.15 does for ties
