"""Entry point of ``[rpcinterface:supvisors]``: ``supervisor.rpcinterface_factory =
supvisors.plugin:make_supvisors_rpcinterface``.

The factory runs in supervisord's thread before daemonisation: it builds everything that needs neither socket nor
thread (options, logger, instance map, decision core) and returns the ``supvisors`` namespace. Sockets and
threads are created when supervisord reaches RUNNING.

Fatal configuration errors raise (Supervisor then exits with ``Could not make supvisors rpc interface``); a clear
one-line reason naming the culprit is written to stderr and to the log first.
"""

import os
import socket
import sys
from typing import Any, Dict, Optional, Tuple

from .adapters.process_control import DisabilitiesStore, patch_supervisor
from .adapters.runtime import SupvisorsRuntime
from .adapters.supervisor_config import LocalPrograms
from .core.engine import SupvisorsCore
from .core.instances import InstanceStatus
from .logger import create_logger
from .mapper import SupvisorsMapper
from .model.context import Context
from .model.resolver import RulesResolver
from .options import parse_logging_options, parse_options
from .rules.parser import load_rules
from .rpcinterface import RPCInterface, patch_fault_marshalling, patch_introspection, register_faults

RUNTIME_ATTRIBUTE = 'supvisors_runtime'


def _fatal(message: str, logger=None) -> ValueError:
    line = f'Error: supvisors: {message}'
    try:
        sys.stderr.write(line + '\n')
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    if logger is not None:
        logger.critical(line)
    return ValueError(message)


def _inet_server(supervisord) -> Tuple[int, Optional[str], Optional[str]]:
    for config in supervisord.options.server_configs:
        if config.get('family') == socket.AF_INET:
            return config['port'], config.get('username'), config.get('password')
    raise _fatal(f'Supervisor MUST be configured using inet_http_server: {supervisord.options.configfile}')


def _check_credentials(username: Optional[str], password: Optional[str], logger) -> bool:
    """ Tell (and log) whether the local credentials can be sent to the other instances.

    Supervisor accepts a ``{SHA}<hex>`` password, which it compares to the SHA-1 of the password received. The
    instances call each other with the local credentials, so they need the password itself: with the hash only,
    every XML-RPC to another instance (start and stop requests, requests forwarded to the Master, the handshake
    fallback) is refused with HTTP 401.
    """
    if username and password and password.startswith('{SHA}'):
        logger.error('Supvisors: the password of [inet_http_server] is a {SHA} hash: the other instances cannot be'
                     ' called with it (HTTP 401 on start/stop requests, forwarding to the Master, handshakes over'
                     ' XML-RPC); set [inet_http_server] password in clear text on every instance')
        return False
    return True


def make_supvisors_rpcinterface(supervisord, **config: Dict[str, Any]) -> RPCInterface:
    # Supervisor calls the factory once per HTTP server: they all share one runtime
    runtime = getattr(supervisord, RUNTIME_ATTRIBUTE, None)
    if runtime is None:
        runtime = _build_runtime(supervisord, {key: str(value) for key, value in config.items()})
        setattr(supervisord, RUNTIME_ATTRIBUTE, runtime)
    return RPCInterface(runtime)


def _build_runtime(supervisord, config: Dict[str, str]) -> SupvisorsRuntime:
    register_faults()
    patch_supervisor()
    patch_introspection()
    patch_fault_marshalling()
    server_options = supervisord.options
    # 1. logging options and logger: any error is fatal
    try:
        logging_options = parse_logging_options(config)
    except ValueError as exc:
        raise _fatal(str(exc), server_options.logger) from None
    logger = create_logger(logging_options, server_options.logger, bool(server_options.nodaemon),
                           bool(getattr(server_options, 'silent', False)))
    # 2. other options: soft errors only, but for an unusable internal secret
    here = os.path.dirname(os.path.abspath(server_options.configfile or '.'))
    try:
        options, records = parse_options(config, here)
    except ValueError as exc:
        raise _fatal(str(exc), logger) from None
    for level, message in records:
        getattr(logger, level, logger.error)(message)
    # 3. what Supervisor does not keep (program of each process, index in the program) is read again from the
    #    configuration, but only when first needed
    programs = LocalPrograms(server_options.configfile, logger)
    # 4. the INET HTTP server gives the local port and credentials; the disabilities file is read (fatal if invalid)
    http_port, username, password = _inet_server(supervisord)
    _check_credentials(username, password, logger)
    disabilities = DisabilitiesStore(options.disabilities_file, logger)
    try:
        disabilities.load()
    except ValueError as exc:
        raise _fatal(f'disabilities_file: {exc}', logger) from None

    # 5. supvisors_list and local identification: any error is fatal
    try:
        mapper = SupvisorsMapper(options.supvisors_list, http_port, options.internal_port, options.event_port,
                                 server_options.identifier, logger)
    except ValueError as exc:
        raise _fatal(f"supvisors_list: {exc}", logger) from None
    # 6. rules files: never fatal (no rules at all when any file fails)
    parser = load_rules(options.rules_files, mapper.identifiers, logger)
    resolver = RulesResolver(parser, options.starting_strategy, mapper.identifiers, logger,
                             programs.index_of, lambda group, name: _autorestart(supervisord, group, name))
    instances = [InstanceStatus(x.identifier, x.host_name, x.http_port, x.node_key)
                 for x in mapper.instances.values()]
    core = SupvisorsCore(mapper.local_identifier, instances, mapper.core_identifiers(options.core_identifiers),
                         options.synchro_timeout, options.inactivity_ticks, options.auto_fence, logger,
                         Context(resolver, logger), tick_period=options.tick_period,
                         conciliation_strategy=options.conciliation_strategy,
                         partition_safety=options.partition_safety)
    logger.info(f'Supvisors: local instance {mapper.local_identifier}, instances {mapper.identifiers}')
    runtime = SupvisorsRuntime(supervisord, options, mapper, core, logger, username, password)
    runtime.local_programs = programs
    runtime.disabilities = disabilities
    return runtime


def _autorestart(supervisord, group: str, process: str):
    """ The autorestart setting of a local process (None when it is not configured locally). """
    group_object = supervisord.process_groups.get(group)
    process_object = group_object.processes.get(process) if group_object else None
    return process_object.config.autorestart if process_object else None
