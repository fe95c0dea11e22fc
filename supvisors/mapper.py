"""Resolution of the ``supvisors_list`` entries into Supvisors instances, and identification of the local one.

The order of ``supvisors_list`` is the instance order used everywhere (``*`` expansion, ``#`` assignment, display),
so every collection built here keeps it.
"""

import re
import socket
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

# resolver(host) -> (canonical host name, aliases, IP addresses), as socket.gethostbyaddr
Resolver = Callable[[str], Tuple[str, List[str], List[str]]]

# full-match grammar of a supvisors_list entry; the port part needs both colons, each port being optional
ENTRY_REGEX = re.compile(r'(?:<(?P<identifier>[\w-]+)>)?'
                         r'(?P<host>[\w.-]+)'
                         r'(?::(?P<http_port>[0-9]{4,5})?:(?P<internal_port>[0-9]{4,5})?)?')

WRONG_CONFIGURATION_MSG = 'Wrong Supvisors configuration (supvisors_list)'


@dataclass
class SupvisorsInstanceId:
    """ Identification and network parameters of one Supvisors instance, all derived from its supvisors_list entry. """
    identifier: str
    host_name: str
    http_port: int
    internal_port: int
    event_port: int
    node_key: str

    @property
    def url(self) -> str:
        """ Supervisor XML-RPC base address of the instance. """
        return f'http://{self.host_name}:{self.http_port}'


def get_local_names(resolver: Resolver) -> List[str]:
    """ Names designating the local host: IP addresses, then the canonical name, then the aliases.

    Empty when the local host name cannot be resolved.
    """
    try:
        hostname, aliases, addresses = resolver(socket.gethostname())
    except (OSError, UnicodeError, ValueError):
        return []
    return list(addresses) + [hostname] + list(aliases)


class SupvisorsMapper:
    """ Build the instances from the supvisors_list entries and find the local one.

    Any failure raises ValueError (fatal for the plugin factory), after a CRITICAL log.
    """

    def __init__(self, entries: Sequence[str], local_http_port: int, internal_port: int, event_port: int,
                 supervisor_identifier: str, logger: Any, resolver: Optional[Resolver] = None,
                 local_names: Optional[Iterable[str]] = None) -> None:
        """
        :param entries: the supvisors_list option (already cleaned from empty items and duplicates)
        :param local_http_port: the port of the local INET HTTP server, assumed by entries without http port
        :param internal_port: the internal_port option (0 if not set)
        :param event_port: the event_port option (0 if not set)
        :param supervisor_identifier: the Supervisor identifier of the local supervisord
        :param logger: a Supervisor-like logger (critical/error/warn/info/debug)
        :param resolver: host resolution, socket.gethostbyaddr by default (injectable for tests)
        :param local_names: the names of the local host, computed with the resolver by default
        """
        self.logger = logger
        self.resolver: Resolver = resolver or socket.gethostbyaddr
        self.local_names: List[str] = (list(local_names) if local_names is not None
                                       else get_local_names(self.resolver))
        self._resolved: Dict[str, str] = {}
        self.instances: Dict[str, SupvisorsInstanceId] = {}
        for entry in entries:
            instance = self._create_instance(entry, local_http_port, internal_port, event_port)
            # a duplicate identifier replaces the data but keeps the position of the first occurrence
            self.instances[instance.identifier] = instance
        self.identifiers: List[str] = list(self.instances)
        self.nodes: Dict[str, List[str]] = {}
        for identifier, instance in self.instances.items():
            self.nodes.setdefault(instance.node_key, []).append(identifier)
        self.local_identifier: str = self._find_local_identifier(supervisor_identifier)
        self.local_instance: SupvisorsInstanceId = self.instances[self.local_identifier]
        self.logger.info(f'SupvisorsMapper: identifiers={self.identifiers} local_identifier={self.local_identifier}')

    def _fatal(self, message: str) -> ValueError:
        """ Log the configuration error and return the exception to raise. """
        self.logger.critical(WRONG_CONFIGURATION_MSG)
        return ValueError(message)

    def _get_node_key(self, host: str) -> Optional[str]:
        """ First IP address of the host, None if it cannot be resolved. """
        if host not in self._resolved:
            if _is_ipv4(host):
                # an address designates its node without any name service: a reverse lookup would return that
                # same address first (0.15 required it to succeed, and it can stall when DNS is unreachable)
                addresses = [host]
            else:
                try:
                    _, _, addresses = self.resolver(host)
                except (OSError, UnicodeError, ValueError):
                    addresses = []
            if not addresses:
                self.logger.error(f'get_node_names: unknown host {host}')
                return None
            self._resolved[host] = addresses[0]
        return self._resolved[host]

    def _create_instance(self, entry: str, local_http_port: int, internal_port_option: int,
                         event_port_option: int) -> SupvisorsInstanceId:
        """ Apply the entry grammar, the identifier deduction and the port derivation rules. """
        error_message = f'could not define a Supvisors identification from "{entry}"'
        match = ENTRY_REGEX.fullmatch(entry)
        if match is None:
            raise self._fatal(error_message)
        host = match.group('host')
        # a port written as 0 counts as absent
        explicit_http_port = int(match.group('http_port') or 0)
        explicit_internal_port = int(match.group('internal_port') or 0)
        identifier = match.group('identifier')
        if not identifier:
            identifier = f'{host}:{explicit_http_port}' if explicit_http_port else host
        http_port = explicit_http_port or local_http_port
        internal_port = explicit_internal_port or internal_port_option or http_port + 1
        if event_port_option:
            event_port = event_port_option
        elif internal_port + 1 != http_port:
            event_port = internal_port + 1
        else:
            event_port = http_port + 1
        node_key = self._get_node_key(host)
        if node_key is None:
            raise self._fatal(error_message)
        return SupvisorsInstanceId(identifier=identifier, host_name=host, http_port=http_port,
                                   internal_port=internal_port, event_port=event_port, node_key=node_key)

    def _find_local_identifier(self, supervisor_identifier: str) -> str:
        """ The Supervisor identifier wins; otherwise the single entry whose host, as written, names the local host. """
        if supervisor_identifier in self.instances:
            return supervisor_identifier
        candidates = [identifier for identifier, instance in self.instances.items()
                      if instance.host_name in self.local_names]
        if not candidates:
            raise self._fatal('could not find the local Supvisors in supvisors_list')
        if len(candidates) > 1:
            raise self._fatal(f'multiple candidates for the local Supvisors: {candidates}')
        return candidates[0]

    def filter(self, items: Iterable[str]) -> List[str]:
        """ Keep the known identifiers in the given order, without duplicates; unknown names are reported. """
        result: List[str] = []
        invalid: Set[str] = set()
        for item in items:
            if item in self.instances:
                if item not in result:
                    result.append(item)
            elif item not in invalid:
                invalid.add(item)
                self.logger.warn(f'identifier={item} invalid')
        return result

    def core_identifiers(self, raw: Iterable[str]) -> List[str]:
        """ Filter the core_identifiers option; sorted because the option is an unordered set. """
        return self.filter(sorted(raw))

    def same_node(self, identifier_1: str, identifier_2: str) -> bool:
        """ True when both instances are known and share the same node key (first IP address of their host). """
        instance_1 = self.instances.get(identifier_1)
        instance_2 = self.instances.get(identifier_2)
        return instance_1 is not None and instance_2 is not None and instance_1.node_key == instance_2.node_key


def _is_ipv4(host: str) -> bool:
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return host.count('.') == 3
