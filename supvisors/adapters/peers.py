"""XML-RPC calls to other instances, always bounded in time (they run in worker threads, never in supervisord's)."""

import http.client
import xmlrpc.client
from typing import Any, List, Optional
from urllib.parse import quote

from ..core.actions import CheckResult
from ..ttypes import SupvisorsInstanceStates

DEFAULT_TIMEOUT = 10.0


class _TimeoutTransport(xmlrpc.client.Transport):
    """ Standard transport whose connections time out, so a hung peer cannot hold a worker forever.

    Answers are parsed with lxml when available: process lists of hundreds of entries are exchanged at every
    handshake, and the standard library's pure-Python unmarshaller is the main cost of a fleet start-up.
    """

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection

    def parse_response(self, response):
        data = response.read()
        try:
            return fast_loads(data)
        except xmlrpc.client.Fault:
            raise
        except Exception:
            parser, unmarshaller = self.getparser()
            parser.feed(data)
            parser.close()
            return unmarshaller.close()


def _value(node):
    if not len(node):
        return node.text or ''  # a value without type is a string
    child = node[0]
    tag = child.tag
    if tag == 'string':
        return child.text or ''
    if tag in ('int', 'i4', 'i8'):
        return int(child.text)
    if tag == 'boolean':
        return child.text.strip() == '1'
    if tag == 'double':
        return float(child.text)
    if tag == 'array':
        return [_value(value) for value in child[0]]
    if tag == 'struct':
        return {member.find('name').text or '': _value(member.find('value')) for member in child}
    if tag == 'nil':
        return None
    raise ValueError(f'unsupported XML-RPC type {tag}')


def fast_loads(data: bytes):
    """ The single value of an XML-RPC methodResponse (a tuple like xmlrpc.client's), or raise its Fault. """
    from lxml import etree
    root = etree.fromstring(data)
    body = root[0]
    if body.tag == 'fault':
        fault = _value(body[0])
        raise xmlrpc.client.Fault(fault['faultCode'], fault['faultString'])
    if body.tag != 'params':
        raise ValueError('not a methodResponse')
    return (_value(body[0][0]),)


def make_proxy(host: str, port: int, username: Optional[str] = None, password: Optional[str] = None,
               timeout: float = DEFAULT_TIMEOUT) -> xmlrpc.client.ServerProxy:
    credentials = ''
    if username:
        credentials = f'{quote(username, safe="")}:{quote(password or "", safe="")}@'
    return xmlrpc.client.ServerProxy(f'http://{credentials}{host}:{port}/RPC2',
                                     transport=_TimeoutTransport(timeout), allow_none=False)


class PeerClient:
    """ Talks to the supvisors namespace of the other instances with the local credentials. """

    def __init__(self, username: Optional[str], password: Optional[str], logger,
                 timeout: float = DEFAULT_TIMEOUT):
        self.username = username
        self.password = password
        self.logger = logger
        self.timeout = timeout

    def proxy(self, host: str, port: int) -> xmlrpc.client.ServerProxy:
        return make_proxy(host, port, self.username, self.password, self.timeout)

    def handshake(self, local_identifier: str, identifier: str, host: str, port: int,
                  check_id: int) -> CheckResult:
        """ Ask the peer who the Master is, how it sees us, its own state, then its processes. """
        proxy = self.proxy(host, port)
        try:
            master = proxy.supvisors.get_master_identifier()
            seen = proxy.supvisors.get_instance_info(local_identifier)
            itself = proxy.supvisors.get_instance_info(identifier)
        except (OSError, xmlrpc.client.Error, http.client.HTTPException, ValueError) as exc:
            self.logger.warn(f'PeerClient.handshake: cannot check Supvisors instance {identifier}: {exc}')
            return CheckResult(identifier, check_id, None)
        try:
            authorized = seen['statecode'] not in (SupvisorsInstanceStates.ISOLATING,
                                                   SupvisorsInstanceStates.ISOLATED)
            result = CheckResult(identifier, check_id, authorized, str(master or ''),
                                 int(itself['fsm_statecode']), bool(itself['starting_jobs']),
                                 bool(itself['stopping_jobs']))
        except (KeyError, TypeError, ValueError) as exc:
            self.logger.warn(f'PeerClient.handshake: unexpected answer from Supvisors instance {identifier}: {exc!r}')
            return CheckResult(identifier, check_id, None)
        if authorized:
            try:
                process_list = proxy.supvisors.get_all_local_process_info()
                if isinstance(process_list, list):
                    result.process_list = [x for x in process_list if isinstance(x, dict)]
            except (OSError, xmlrpc.client.Error, http.client.HTTPException, ValueError) as exc:
                self.logger.warn(f'PeerClient.handshake: cannot get the processes of {identifier}: {exc}')
        return result

    def call(self, host: str, port: int, method: str, args: List[Any], namespace: str = 'supvisors') -> Any:
        """ Call <namespace>.<method>(*args) on a peer; errors are logged, not raised. """
        try:
            return getattr(getattr(self.proxy(host, port), namespace), method)(*args)
        except (OSError, xmlrpc.client.Error, http.client.HTTPException, ValueError) as exc:
            self.logger.error(f'PeerClient.call: {namespace}.{method} on {host}:{port} failed: {exc}')
            return None
