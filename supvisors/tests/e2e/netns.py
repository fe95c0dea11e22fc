"""A real network between the instances of a test fleet, made of Linux network namespaces (root only).

Loopback cannot be partitioned: every instance of a LocalFleet shares the same network stack. Here each instance
runs in its own namespace (``svtest-<tag>-<identifier>``), plugged into a bridge that lives in a hub namespace
(``svtest-<tag>-hub``)::

    instance ns: eth0 10.B.0.N/24  <-- veth -->  hub ns: port pN, member of bridge br0
    instance ns: m0   10.B.N.2/30  <-- veth -->  test ns: svm<tag><N> 10.B.N.1/30, route to 10.B.0.N

The data network (eth0 and the bridge) carries everything the instances exchange: supvisors_list names the
10.B.0.N addresses. The management link (m0) only lets the test process reach each supervisord, even when its data
link is cut; the instances have no route through it to each other (no default route, and the test namespace does
not forward). ``cut`` sets the hub port of an instance down (a cable pulled: packets are lost, nothing is refused),
``heal`` sets it up again.

Every namespace is deleted by ``teardown`` (which also runs at interpreter exit), whatever happened; deleting a
namespace deletes its veth ends, their peers and the routes through them. Nothing outside the namespaces of the
lab is touched but the management veths and their routes in the test namespace.
"""

import atexit
import ipaddress
import os
import random
import subprocess
import sys
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence

from supvisors.tools.localfleet import LocalFleet, LocalInstance

IP = 'ip'


def _run(*args: str) -> str:
    """ Run an ip command; raise RuntimeError with its output when it fails. """
    result = subprocess.run([IP, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            timeout=10)
    if result.returncode:
        raise RuntimeError(f'ip {" ".join(args)}: {result.stdout.decode(errors="replace").strip()}')
    return result.stdout.decode(errors='replace')


def unavailable_reason() -> Optional[str]:
    """ Why network namespaces cannot be used here (None when they can): root is needed, and ip netns. """
    if os.geteuid() != 0:
        return 'network namespaces need root'
    name = f'svtest-probe-{os.getpid()}'
    try:
        _run('netns', 'add', name)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return f'ip netns unusable: {exc}'
    try:
        _run('netns', 'del', name)
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        pass
    return None


def _used_networks() -> List[ipaddress.IPv4Network]:
    networks = []
    for line in _run('-4', 'route', 'show', 'table', 'all').splitlines():
        word = line.split()[0] if line.split() else ''
        if word in ('local', 'broadcast', 'unreachable', 'prohibit', 'blackhole'):
            word = line.split()[1]
        try:
            networks.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            continue
    return networks


class NetnsLab:
    """ The namespaces, the bridge and the links of a fleet (see the module docstring). """

    def __init__(self, identifiers: Sequence[str]):
        self.tag = f'{random.randrange(16 ** 4):04x}'
        self.hub = f'svtest-{self.tag}-hub'
        self.identifiers = list(identifiers)
        self.namespaces: 'OrderedDict[str, str]' = OrderedDict((x, f'svtest-{self.tag}-{x}') for x in identifiers)
        used = [x for x in _used_networks() if x.prefixlen > 0]
        octets = [b for b in range(100, 250) if not any(ipaddress.ip_network(f'10.{b}.0.0/16').overlaps(x)
                                                        for x in used)]
        if not octets:
            raise RuntimeError('no free 10.x.0.0/16 network for the lab')
        self.octet = random.choice(octets)
        self.addresses: Dict[str, str] = {x: f'10.{self.octet}.0.{idx}' for idx, x in enumerate(identifiers, 1)}
        self.created: List[str] = []
        self.port_of: Dict[str, str] = {x: f'p{idx}' for idx, x in enumerate(identifiers, 1)}
        atexit.register(self.teardown)

    def __enter__(self) -> 'NetnsLab':
        self.setup()
        return self

    def __exit__(self, *exc_info) -> None:
        self.teardown()

    def setup(self) -> None:
        """ Create everything; on any failure, delete what was created and raise. """
        try:
            self._add_namespace(self.hub)
            _run('-n', self.hub, 'link', 'add', 'br0', 'type', 'bridge')
            _run('-n', self.hub, 'link', 'set', 'br0', 'up')
            for idx, (identifier, namespace) in enumerate(self.namespaces.items(), 1):
                self._add_namespace(namespace)
                _run('-n', namespace, 'link', 'set', 'lo', 'up')
                port = self.port_of[identifier]
                _run('-n', namespace, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', self.hub)
                _run('-n', self.hub, 'link', 'set', port, 'master', 'br0')
                _run('-n', self.hub, 'link', 'set', port, 'up')
                _run('-n', namespace, 'addr', 'add', f'{self.addresses[identifier]}/24', 'dev', 'eth0')
                _run('-n', namespace, 'link', 'set', 'eth0', 'up')
                outer = f'svm{self.tag}{idx}'
                _run('-n', namespace, 'link', 'add', 'm0', 'type', 'veth', 'peer', 'name', outer,
                     'netns', str(os.getpid()))
                _run('-n', namespace, 'addr', 'add', f'10.{self.octet}.{idx}.2/30', 'dev', 'm0')
                _run('-n', namespace, 'link', 'set', 'm0', 'up')
                _run('addr', 'add', f'10.{self.octet}.{idx}.1/30', 'dev', outer)
                _run('link', 'set', outer, 'up')
                _run('route', 'add', f'{self.addresses[identifier]}/32', 'dev', outer)
        except BaseException:
            self.teardown()
            raise

    def _add_namespace(self, name: str) -> None:
        _run('netns', 'add', name)
        self.created.append(name)

    def teardown(self) -> None:
        """ Delete every namespace of the lab (idempotent, never raises). """
        while self.created:
            name = self.created.pop()
            try:
                _run('netns', 'del', name)
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
                sys.stderr.write(f'NetnsLab: cannot delete namespace {name}: {exc}\n')

    def cut(self, identifier: str) -> None:
        """ Disconnect the instance from the data network (its link to the bridge goes down). """
        _run('-n', self.hub, 'link', 'set', self.port_of[identifier], 'down')

    def heal(self, identifier: str) -> None:
        _run('-n', self.hub, 'link', 'set', self.port_of[identifier], 'up')

    def command(self, identifier: str, argv: Sequence[str]) -> List[str]:
        """ The command line that runs argv in the namespace of the instance (``ip netns exec`` execs argv in place:
        the process started is the one that runs argv). """
        return [IP, 'netns', 'exec', self.namespaces[identifier], *argv]


class NetnsInstance(LocalInstance):
    """ A LocalInstance whose supervisord runs in the namespace of the lab. """

    def __init__(self, lab: NetnsLab, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lab = lab

    def command(self, argv: List[str]) -> List[str]:
        """ supervisord runs through ip netns exec, which execs it in place (the pid started is supervisord's). """
        return self.lab.command(self.identifier, argv)

    def start(self, env: Optional[Mapping[str, str]] = None) -> None:
        super().start(env)
        # a deleted namespace does not stop what runs in it: kill the instance at exit if the test could not
        # (registered after the teardown of the lab, so run before it)
        atexit.register(self._kill_if_alive)

    def _kill_if_alive(self) -> None:
        if self.alive:
            self.kill()


class NetnsFleet(LocalFleet):
    """ A LocalFleet whose instances run in the namespaces of a lab, named by their data addresses. """

    def __init__(self, lab: NetnsLab, basedir: str, options: Optional[Mapping[str, str]] = None, programs: str = '',
                 rules: Optional[str] = None):
        super().__init__(lab.identifiers, basedir, options=options, programs=programs, rules=rules)
        for identifier, instance in list(self.instances.items()):
            self.instances[identifier] = NetnsInstance(lab, identifier, instance.http_port, instance.internal_port,
                                                       instance.event_port, instance.workdir, instance.conf_path,
                                                       lab.addresses[identifier])
        self.supvisors_list = ','.join(f'<{x.identifier}>{x.host}:{x.http_port}:{x.internal_port}'
                                       for x in self.instances.values())
        self.write_configs(options or {}, {}, programs, {})
