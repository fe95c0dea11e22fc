"""Launch a fleet of real supervisord instances on 127.0.0.1, for end-to-end tests and the demo.

Each instance runs ``python -m supervisor.supervisord -n -c <conf>`` in a new session, so that everything it
spawns can be found again and signalled *by session and process group* (never by process name), even after
supervisord itself has been killed.  Supervisor puts every child in its own process group (``setpgrp``), which
is why a plain ``killpg`` of supervisord's group is not enough to simulate the loss of a whole instance.

Typical use::

    with LocalFleet(3, basedir) as fleet:
        fleet.start()
        fleet.wait_rpc_ready(timeout=30)
        fleet.instances['s1'].rpc().supvisors.get_supvisors_state()
"""

import atexit
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections import OrderedDict
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, TypeVar,
                    Union)
from urllib.parse import quote

import psutil

__all__ = ['FleetError', 'find_free_ports', 'wait_for', 'session_pids', 'pid_alive', 'stop_instances',
           'LocalInstance', 'LocalFleet']

LOCALHOST = '127.0.0.1'

# the folder that contains the supvisors package, so that child supervisord processes import this very source tree
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

T = TypeVar('T')


class FleetError(RuntimeError):
    """A failure that no amount of waiting can fix (e.g. a supervisord that exited); ends wait_for at once."""


# ----------------------------------------------------------------------------------------------------------------
# low-level helpers
# ----------------------------------------------------------------------------------------------------------------
def _ephemeral_range() -> Tuple[int, int]:
    """The range the kernel picks from for bind(0) and for the local side of outgoing connections."""
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as stream:
            low, high = (int(value) for value in stream.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def find_free_ports(n: int, host: str = LOCALHOST) -> List[int]:
    """Return n distinct ports that are free on host.

    Ports are drawn at random below the ephemeral range when possible: a port handed out by bind(0) may be taken
    as the local port of any outgoing connection (e.g. an XML-RPC call of a running fleet) before supervisord
    binds it.  All sockets stay bound until every port is chosen, so that the ports are distinct.
    """
    low, _ = _ephemeral_range()
    candidates = list(range(10000, low)) if low - 10000 >= 1000 else []
    random.shuffle(candidates)
    sockets: List[socket.socket] = []
    try:
        while len(sockets) < n:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            port = candidates.pop() if candidates else 0
            try:
                sock.bind((host, port))
            except OSError:
                sock.close()
                if port == 0:
                    raise
                continue
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for(predicate: Callable[[], T], timeout: float, interval: float = 0.05, what: str = '') -> T:
    """Poll predicate until it returns a truthy value, and return that value.

    Exceptions raised by predicate count as "not yet", except FleetError which is raised at once.
    On expiry, TimeoutError tells what was awaited and the last value or exception seen, so that a failing
    test says why without extra logging.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = predicate()
        except FleetError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the predicate means "not ready yet"
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise TimeoutError(f'timeout after {timeout}s waiting for {what or repr(predicate)}: last={last!r}')
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """Tell if pid is a living process; a zombie counts as dead because nothing runs any more."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def session_pids(sid: int) -> List[int]:
    """Return the living processes of session sid (the supervisord started by LocalInstance and its children)."""
    pids = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == sid and pid_alive(pid):
                pids.append(pid)
        except OSError:
            continue
    return pids


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; return False if it no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _signal_session(sid: int, sig: int) -> List[int]:
    """Signal every process group found in session sid; return the pids that were found."""
    pids = session_pids(sid)
    pgids = set()
    for pid in pids:
        try:
            pgids.add(os.getpgid(pid))
        except OSError:
            continue
    for pgid in pgids:
        _signal_group(pgid, sig)
    return pids


def _kill_session(sid: int, timeout: float = 5.0) -> None:
    """SIGKILL everything left in session sid, until it is empty (supervisord may have been spawning)."""
    wait_for(lambda: not _signal_session(sid, signal.SIGKILL), timeout, what=f'session {sid} to be empty')


def _tail(text: str, lines: int) -> str:
    return '\n'.join(text.splitlines()[-lines:])


def _read(path: str) -> str:
    try:
        with open(path, errors='replace') as stream:
            return stream.read()
    except OSError as exc:
        return f'<{exc}>'


class _TimeoutTransport(xmlrpc.client.Transport):
    """XML-RPC transport whose HTTP connections time out, so that a frozen instance cannot hang a test."""

    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection

    def request(self, host: Any, handler: str, request_body: bytes, verbose: bool = False) -> Any:
        # no keep-alive: proxies are thrown away without close(), which would leak sockets
        try:
            return super().request(host, handler, request_body, verbose)
        finally:
            self.close()


# safety net: processes started by this interpreter are killed when it exits, unless detached on purpose
_STARTED: 'Set[LocalInstance]' = set()


@atexit.register
def _kill_leftovers() -> None:
    for instance in list(_STARTED):
        try:
            instance.kill()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


# ----------------------------------------------------------------------------------------------------------------
# one supervisord
# ----------------------------------------------------------------------------------------------------------------
class LocalInstance:
    """One supervisord of the fleet, with its ports, its folder and the process that runs it."""

    def __init__(self, identifier: str, http_port: int, internal_port: int, event_port: int,
                 workdir: str, conf_path: str, host: str = LOCALHOST,
                 username: Optional[str] = None, password: Optional[str] = None):
        """ username/password: the credentials of its [inet_http_server], used by rpc(). """
        self.identifier = identifier
        self.username = username
        self.password = password
        self.host = host
        self.http_port = http_port
        self.internal_port = internal_port
        self.event_port = event_port
        self.workdir = workdir
        self.conf_path = conf_path
        # environment variables given to supervisord in addition to the current environment (e.g. for %(ENV_X)s
        # expansions in a configuration file shared by several instances); kept for restarts
        self.env: Dict[str, str] = {}
        self.proc: Optional[subprocess.Popen] = None
        # pid of the supervisord started (or attached); it is also its pgid and sid (new session)
        self.pid: Optional[int] = None
        self.create_time: Optional[float] = None

    def __repr__(self) -> str:
        return f'LocalInstance({self.identifier!r}, http={self.http_port}, pid={self.pid})'

    # paths
    @property
    def logfile(self) -> str:
        return os.path.join(self.workdir, 'supervisord.log')

    @property
    def stdout_path(self) -> str:
        return os.path.join(self.workdir, 'supervisord.stdout')

    @property
    def stderr_path(self) -> str:
        return os.path.join(self.workdir, 'supervisord.stderr')

    @property
    def url(self) -> str:
        return f'http://{self.host}:{self.http_port}'

    # life cycle
    @property
    def alive(self) -> bool:
        """True while the supervisord runs (frozen included)."""
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and self._same_process()

    @property
    def returncode(self) -> Optional[int]:
        return self.proc.returncode if self.proc is not None else None

    def start(self, env: Optional[Mapping[str, str]] = None) -> None:
        """Start supervisord in the foreground of a new session; output goes to files of the workdir."""
        if self.alive:
            raise FleetError(f'{self.identifier} is already running (pid {self.pid})')
        child_env = dict(os.environ if env is None else env)
        child_env.update(self.env)
        python_path = child_env.get('PYTHONPATH')
        child_env['PYTHONPATH'] = _SOURCE_ROOT + (os.pathsep + python_path if python_path else '')
        child_env.setdefault('PYTHONUNBUFFERED', '1')
        with open(self.stdout_path, 'ab') as stdout, open(self.stderr_path, 'ab') as stderr:
            self.proc = subprocess.Popen(self.command([sys.executable, '-m', 'supervisor.supervisord', '-n',
                                                       '-c', self.conf_path]),
                                         cwd=self.workdir, env=child_env, stdin=subprocess.DEVNULL,
                                         stdout=stdout, stderr=stderr, start_new_session=True)
        self.pid = self.proc.pid
        try:
            self.create_time = psutil.Process(self.pid).create_time()
        except psutil.Error:
            self.create_time = None
        _STARTED.add(self)

    def command(self, argv: List[str]) -> List[str]:
        """ The command line that runs supervisord (a subclass may run it elsewhere, e.g. in a namespace). """
        return argv

    def attach(self, pid: int, create_time: Optional[float] = None) -> bool:
        """Take control of a supervisord started by another process (demo state file); True if it still runs.

        When it has exited, its pid is kept only if nothing else uses it, so that stop() can still sweep its
        orphaned children (Linux does not reuse a pid while it names a living session).
        """
        self.proc, self.pid, self.create_time = None, pid, create_time
        if self._same_process():
            return True
        if pid_alive(pid):
            self.pid = None  # reused by an unrelated process: never signal it
        return False

    def detach(self) -> None:
        """Let this supervisord outlive the current interpreter (no kill at exit)."""
        _STARTED.discard(self)

    def _same_process(self) -> bool:
        """Check that self.pid is still the supervisord of this config, and not a reused pid."""
        try:
            process = psutil.Process(self.pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return False
            if self.create_time is not None and abs(process.create_time() - self.create_time) > 1.0:
                return False
            return self.conf_path in process.cmdline()
        except (psutil.Error, TypeError, ValueError):
            return False

    def _signal_supervisord(self, sig: int) -> bool:
        if self.pid is None or not self.alive:
            return False
        try:
            os.kill(self.pid, sig)
            return True
        except ProcessLookupError:
            return False

    def _wait(self, timeout: float) -> bool:
        """Wait for supervisord to exit (reaping it when it is our child); return True if it did."""
        if self.proc is not None:
            try:
                self.proc.wait(timeout=max(timeout, 0))
                return True
            except subprocess.TimeoutExpired:
                return False
        try:
            wait_for(lambda: not self.alive, timeout, what=f'{self.identifier} to exit')
            return True
        except TimeoutError:
            return False

    def freeze(self) -> None:
        """SIGSTOP supervisord only: it stops answering while its children keep running (a hung instance)."""
        self._signal_supervisord(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT supervisord after freeze()."""
        self._signal_supervisord(signal.SIGCONT)

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 10.0) -> Optional[int]:
        """Signal supervisord's process group and wait for it; return its exit code when known.

        With SIGKILL (a crash of the whole instance), every process left in its session is killed as well,
        since supervisord children live in their own process groups.  With another signal, supervisord is
        resumed first (it may be frozen) and handles the signal itself.
        """
        if self.pid is None:
            return None
        if sig == signal.SIGKILL:
            if self.alive:
                _signal_group(self.pid, signal.SIGKILL)
            self._wait(timeout)
            _kill_session(self.pid, timeout)
        elif self.alive:
            _signal_group(self.pid, signal.SIGCONT)
            _signal_group(self.pid, sig)
            self._wait(timeout)
        if not self.alive:
            _STARTED.discard(self)
        return self.returncode

    def _terminate(self) -> None:
        """Ask supervisord to shut down gracefully (resuming it first, in case it is frozen)."""
        if self.pid is not None and self.alive:
            _signal_group(self.pid, signal.SIGCONT)
            _signal_group(self.pid, signal.SIGTERM)

    def _finish(self, timeout: float) -> None:
        """Wait for a graceful exit until timeout, then kill whatever is left in the session."""
        if self.pid is None:
            return
        if not self._wait(timeout) and self.alive:
            _signal_group(self.pid, signal.SIGKILL)
            self._wait(5.0)
        _kill_session(self.pid)
        _STARTED.discard(self)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM supervisord's group, wait up to timeout, then SIGKILL all that remains of the instance."""
        self._terminate()
        self._finish(timeout)

    def pids(self) -> List[int]:
        """Living processes of the instance: supervisord and everything it spawned (same session)."""
        return session_pids(self.pid) if self.pid is not None else []

    # access
    @property
    def auth_url(self) -> str:
        """The URL with the credentials, when there are some (as xmlrpc.client takes them)."""
        if not self.username:
            return self.url
        credentials = f'{quote(self.username, safe="")}:{quote(self.password or "", safe="")}'
        return f'http://{credentials}@{self.host}:{self.http_port}'

    def rpc(self, timeout: float = 10.0) -> xmlrpc.client.ServerProxy:
        """XML-RPC proxy to this supervisord (supervisor.* and supvisors.* namespaces), with its credentials."""
        return xmlrpc.client.ServerProxy(self.auth_url + '/RPC2', transport=_TimeoutTransport(timeout))

    def _stdout_only(self, logged: Set[str]) -> str:
        """stdout lines missing from the log: in the foreground, supervisord copies its log to stdout."""
        return '\n'.join(line for line in _read(self.stdout_path).splitlines() if line not in logged)

    def log(self) -> str:
        """supervisord log, then what only stdout has (tracebacks, prints), then stderr, for diagnostics.

        Each log line appears once, so that counting a message in the result counts its occurrences.
        """
        logged = _read(self.logfile)
        return '\n'.join([f'--- {self.logfile}', logged,
                          f'--- {self.stdout_path} (lines not in the log)', self._stdout_only(set(logged.splitlines())),
                          f'--- {self.stderr_path}', _read(self.stderr_path)])

    def diagnostics(self, lines: int = 60) -> str:
        """Tail of every log of the instance, including other *.log files of its workdir (e.g. a plugin log)."""
        state = 'alive' if self.alive else f'dead (exit code {self.returncode})'
        parts = [f'===== {self.identifier}: pid={self.pid} {state} url={self.url} '
                 f'internal_port={self.internal_port} event_port={self.event_port} conf={self.conf_path}']
        paths = [self.logfile, self.stdout_path, self.stderr_path]
        try:
            paths += sorted(os.path.join(self.workdir, name) for name in os.listdir(self.workdir)
                            if name.endswith('.log') and os.path.join(self.workdir, name) != self.logfile)
        except OSError:
            pass
        logged = set(_read(self.logfile).splitlines())
        for path in paths:
            if os.path.exists(path):
                text = self._stdout_only(logged) if path == self.stdout_path else _read(path)
                if text:
                    parts.append(f'--- {path} (last {lines} lines)')
                    parts.append(_tail(text, lines))
        return '\n'.join(parts)

    def to_dict(self) -> Dict[str, Any]:
        """State that lets another process find and stop this instance (see attach)."""
        return {'identifier': self.identifier, 'pid': self.pid, 'pgid': self.pid, 'sid': self.pid,
                'create_time': self.create_time, 'http_port': self.http_port,
                'internal_port': self.internal_port, 'event_port': self.event_port, 'url': self.url,
                'workdir': self.workdir, 'conf_path': self.conf_path, 'host': self.host,
                'username': self.username, 'password': self.password}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> 'LocalInstance':
        """Rebuild an instance from to_dict() and attach it to its supervisord if that one still runs."""
        instance = cls(data['identifier'], data['http_port'], data['internal_port'], data['event_port'],
                       data['workdir'], data['conf_path'], data.get('host', LOCALHOST),
                       data.get('username'), data.get('password'))
        if data.get('pid'):
            instance.attach(data['pid'], data.get('create_time'))
        return instance


def stop_instances(instances: Iterable[LocalInstance], timeout: float = 10.0) -> None:
    """Stop instances in parallel: SIGTERM all, wait until a common deadline, then SIGKILL what is left.

    Tolerant to instances never started, already dead or frozen; raise FleetError at the end if one resisted.
    """
    started = [instance for instance in instances if instance.pid is not None]
    for instance in started:
        instance._terminate()
    deadline = time.monotonic() + timeout
    errors = []
    for instance in started:
        try:
            instance._finish(deadline - time.monotonic())
        except Exception as exc:  # noqa: BLE001 - stop the others anyway
            errors.append(f'{instance.identifier}: {exc!r}')
    if errors:
        raise FleetError('could not stop cleanly: ' + '; '.join(errors))


# ----------------------------------------------------------------------------------------------------------------
# the fleet
# ----------------------------------------------------------------------------------------------------------------
class LocalFleet:
    """A set of supervisord instances on 127.0.0.1 that know each other through supvisors_list.

    The configuration files are written at construction (``<basedir>/<identifier>/supervisord.conf``), so they
    can be inspected or edited before start().  Used as a context manager, the fleet is stopped on exit (it is
    not started on entry).
    """

    def __init__(self, identifiers: Union[int, Sequence[str]], basedir: str,
                 options: Optional[Mapping[str, str]] = None,
                 per_instance_options: Optional[Mapping[str, Mapping[str, str]]] = None,
                 programs: str = '',
                 per_instance_programs: Optional[Mapping[str, str]] = None,
                 rules: Optional[str] = None,
                 with_supvisors: bool = True,
                 distinct_hosts: bool = False,
                 username: Optional[str] = None,
                 password: Optional[str] = None):
        """ With distinct_hosts, every instance has its own loopback address (127.0.10.N), hence its own node,
        as if the fleet ran on several hosts (loads and SINGLE_NODE are per node).

        With username (and password), every [inet_http_server] requires these credentials, as Supvisors requires
        them identical on every instance; [supervisorctl] and LocalInstance.rpc() use them.
        """
        if isinstance(identifiers, int):
            identifiers = [f's{idx}' for idx in range(1, identifiers + 1)]
        identifiers = list(identifiers)
        if not identifiers or len(set(identifiers)) != len(identifiers):
            raise ValueError(f'identifiers must be non-empty and unique: {identifiers}')
        unknown = set(per_instance_options or {}) | set(per_instance_programs or {})
        unknown -= set(identifiers)
        if unknown:
            raise ValueError(f'per-instance settings for unknown identifiers: {sorted(unknown)}')
        self.basedir = os.path.abspath(basedir)
        os.makedirs(self.basedir, exist_ok=True)
        self.with_supvisors = with_supvisors
        self.username = username or None
        self.password = password if username else None
        self.rules_path: Optional[str] = None
        if rules is not None:
            self.rules_path = os.path.join(self.basedir, 'rules.xml')
            with open(self.rules_path, 'w') as stream:
                stream.write(rules)
        ports = find_free_ports(3 * len(identifiers))
        self.instances: 'OrderedDict[str, LocalInstance]' = OrderedDict()
        for idx, identifier in enumerate(identifiers):
            workdir = os.path.join(self.basedir, identifier)
            os.makedirs(os.path.join(workdir, 'logs'), exist_ok=True)
            http_port, internal_port, event_port = ports[3 * idx: 3 * idx + 3]
            host = f'127.0.10.{idx + 1}' if distinct_hosts else LOCALHOST
            self.instances[identifier] = LocalInstance(identifier, http_port, internal_port, event_port, workdir,
                                                       os.path.join(workdir, 'supervisord.conf'), host,
                                                       self.username, self.password)
        self.supvisors_list = ','.join(f'<{inst.identifier}>{inst.host}:{inst.http_port}:{inst.internal_port}'
                                       for inst in self.instances.values())
        self.write_configs(options or {}, per_instance_options or {}, programs, per_instance_programs or {})

    def write_configs(self, options: Mapping[str, str], per_instance_options: Mapping[str, Mapping[str, str]],
                      programs: str, per_instance_programs: Mapping[str, str]) -> None:
        """Write the configuration file of every instance (called once, at construction, when the ports are known).

        A subclass that runs configuration files of its own overrides it, setting ``conf_path`` (and ``env``) of
        every instance instead.
        """
        for instance in self.instances.values():
            text = self._config_text(instance, options, per_instance_options.get(instance.identifier, {}),
                                     programs, per_instance_programs.get(instance.identifier, ''))
            with open(instance.conf_path, 'w') as stream:
                stream.write(text)

    def _credential_lines(self) -> List[str]:
        """username/password lines of [inet_http_server] and [supervisorctl] ('%' doubled: Supervisor expands)."""
        if not self.username:
            return []
        return [f'username={self.username.replace("%", "%%")}',
                f'password={(self.password or "").replace("%", "%%")}']

    def _config_text(self, instance: LocalInstance, options: Mapping[str, str],
                     own_options: Mapping[str, str], programs: str, own_programs: str) -> str:
        credentials = self._credential_lines()
        lines = ['[supervisord]',
                 f'logfile={instance.logfile}',
                 f'pidfile={os.path.join(instance.workdir, "supervisord.pid")}',
                 f'childlogdir={os.path.join(instance.workdir, "logs")}',
                 f'identifier={instance.identifier}',
                 'loglevel=info',
                 '',
                 '[inet_http_server]',
                 f'port={instance.host}:{instance.http_port}',
                 *credentials,
                 '',
                 '[supervisorctl]',
                 f'serverurl={instance.url}',
                 *credentials,
                 '',
                 '[rpcinterface:supervisor]',
                 'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
                 '']
        if self.with_supvisors:
            # one dict, so that a key given by the caller replaces the default instead of being duplicated
            values: Dict[str, str] = {'supvisors_list': self.supvisors_list, 'event_port': str(instance.event_port)}
            if self.rules_path:
                values['rules_files'] = self.rules_path
            values.update(options)
            values.update(own_options)
            lines += ['[rpcinterface:supvisors]',
                      'supervisor.rpcinterface_factory = supvisors.plugin:make_supvisors_rpcinterface']
            lines += [f'{key} = {value}' for key, value in values.items()]
            lines += ['',
                      '[ctlplugin:supvisors]',
                      'supervisor.ctl_factory = supvisors.supvisorsctl:make_supvisors_controller_plugin',
                      '']
        return '\n'.join(lines) + '\n' + programs.strip('\n') + '\n\n' + own_programs.strip('\n') + '\n'

    # access
    def __getitem__(self, identifier: str) -> LocalInstance:
        return self.instances[identifier]

    def __iter__(self) -> Iterator[LocalInstance]:
        return iter(self.instances.values())

    @property
    def identifiers(self) -> List[str]:
        return list(self.instances)

    def _select(self, identifiers: Optional[Iterable[str]]) -> List[LocalInstance]:
        return list(self.instances.values()) if identifiers is None else [self.instances[i] for i in identifiers]

    # life cycle
    def start(self, identifiers: Optional[Iterable[str]] = None) -> None:
        """Launch the instances (all by default) without waiting between them, as a fleet boots."""
        for instance in self._select(identifiers):
            instance.start()

    def restart_instance(self, identifier: str) -> None:
        """Start again an instance (e.g. after kill) with the same configuration and ports; stop it first if needed."""
        instance = self.instances[identifier]
        if instance.alive:
            instance.stop()
        instance.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every instance ever started, in parallel; tolerant to dead or frozen instances."""
        stop_instances(self.instances.values(), timeout)

    def detach(self) -> None:
        """Let the started instances outlive the current interpreter (background demo)."""
        for instance in self.instances.values():
            instance.detach()

    def __enter__(self) -> 'LocalFleet':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # waiting
    @staticmethod
    def wait_for(predicate: Callable[[], T], timeout: float, interval: float = 0.05, what: str = '') -> T:
        """See the module-level wait_for."""
        return wait_for(predicate, timeout, interval, what)

    def _check_alive(self, instance: LocalInstance) -> None:
        if not instance.alive:
            raise FleetError(f'supervisord {instance.identifier} is not running (exit code {instance.returncode})\n'
                             + instance.diagnostics(30))

    def wait_rpc_ready(self, timeout: float = 30.0, identifiers: Optional[Iterable[str]] = None) -> None:
        """Wait until each supervisord answers supervisor.getState() with RUNNING; fail fast if one exits."""
        for instance in self._select(identifiers):
            def ready(instance: LocalInstance = instance) -> bool:
                self._check_alive(instance)
                return instance.rpc(timeout=2).supervisor.getState()['statename'] == 'RUNNING'
            wait_for(ready, timeout, interval=0.1, what=f'{instance.identifier} supervisord RUNNING')

    # diagnostics and state
    def diagnostics(self, lines: int = 60) -> str:
        """Tail of every instance log, for failure reports."""
        return '\n'.join(instance.diagnostics(lines) for instance in self.instances.values())

    def to_dict(self) -> Dict[str, Any]:
        return {'basedir': self.basedir, 'supvisors_list': self.supvisors_list,
                'instances': [instance.to_dict() for instance in self.instances.values()]}

    def save_state(self, path: str) -> None:
        """Write pids, process groups and ports, so that another process can find and stop this fleet."""
        with open(path, 'w') as stream:
            json.dump(self.to_dict(), stream, indent=2)

    @staticmethod
    def load_instances(path: str) -> List[LocalInstance]:
        """Instances described by a save_state() file, attached to their supervisord when it still runs."""
        with open(path) as stream:
            data = json.load(stream)
        return [LocalInstance.from_dict(item) for item in data['instances']]
