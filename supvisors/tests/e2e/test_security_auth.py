"""HTTP credentials on a fleet: the instances call each other with them, and every instance refuses XML-RPC and
dashboard requests without them or with wrong ones (HTTP 401)."""

import base64
import hashlib
import http.client
import xmlrpc.client
from typing import Optional

import pytest

from supvisors.tools.localfleet import LocalInstance, wait_for

pytestmark = pytest.mark.e2e

USERNAME = 'admin'
PASSWORD = 'p@ss:w%rd/1'  # characters that need quoting in URLs and escaping in supervisord.conf

REMOTE_PROGRAM = """
[program:remote]
command=sleep 1000
autostart=false
startsecs=0
"""

DASHBOARD_PATHS = ['/', '/index.html', '/application.html?appname=remote', '/proc_instance.html',
                   '/host_instance.html', '/maintail.html', '/process_cpu.png', '/host_cpu.png', '/supvisors_live',
                   '/css/supvisors.css', '/js/supvisors.js', '/img/supvisors.svg']


def basic(username: str, password: str) -> str:
    return 'Basic ' + base64.b64encode(f'{username}:{password}'.encode()).decode()


def http_status(instance: LocalInstance, path: str, method: str = 'GET', authorization: Optional[str] = None) -> int:
    """ The status of one request (the body is not read: /supvisors_live never ends). """
    connection = http.client.HTTPConnection(instance.host, instance.http_port, timeout=5)
    try:
        headers = {'Authorization': authorization} if authorization else {}
        body = b'' if method == 'POST' else None
        if body is not None:
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        connection.request(method, path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def fsm_state(instance: LocalInstance) -> str:
    return instance.rpc(timeout=2).supvisors.get_supvisors_state()['fsm_statename']


def process_state(instance: LocalInstance, namespec: str) -> str:
    return instance.rpc(timeout=2).supervisor.getProcessInfo(namespec)['statename']


@pytest.fixture
def fleet(fleet_factory):
    fleet = fleet_factory(3, options={'core_identifiers': 's1,s2,s3'}, per_instance_programs={'s2': REMOTE_PROGRAM},
                          username=USERNAME, password=PASSWORD)
    fleet.start()
    fleet.wait_rpc_ready(timeout=20)
    wait_for(lambda: all(fsm_state(instance) == 'OPERATION' for instance in fleet), timeout=10,
             what='OPERATION everywhere')
    return fleet


def test_fleet_with_credentials(fleet):
    # the configuration files carry the credentials ('%' escaped for Supervisor's expansion)
    with open(fleet['s1'].conf_path) as stream:
        text = stream.read()
    assert text.count('username=admin\npassword=p@ss:w%%rd/1\n') == 2  # [inet_http_server] and [supervisorctl]
    # a start placed on another instance: the Master calls s2 over XML-RPC with the credentials
    assert fleet['s1'].rpc().supvisors.get_master_identifier() == 's1'
    assert fleet['s1'].rpc().supvisors.start_process('CONFIG', 'remote:remote', '', True) is True
    assert process_state(fleet['s2'], 'remote:remote') == 'RUNNING'
    # a stop requested on a third instance: s3 calls s2 (supervisor.stopProcess) with the credentials
    assert fleet['s3'].rpc().supvisors.stop_process('remote:remote', True) is True
    assert process_state(fleet['s2'], 'remote:remote') == 'STOPPED'
    for instance in fleet:
        assert 'failed: <ProtocolError' not in instance.log()
        assert 'is a {SHA} hash' not in instance.log()


def test_requests_without_credentials_refused(fleet):
    wrong_urls = ['http://{host}:{port}/RPC2', 'http://admin:wrong@{host}:{port}/RPC2',
                  'http://other:p%40ss%3Aw%25rd%2F1@{host}:{port}/RPC2']
    for instance in fleet:
        for url in wrong_urls:
            proxy = xmlrpc.client.ServerProxy(url.format(host=instance.host, port=instance.http_port))
            for call in (lambda: proxy.supvisors.get_supvisors_state(), lambda: proxy.supervisor.getState(),
                         lambda: proxy.supvisors.start_process('CONFIG', 'remote:remote', '', False)):
                with pytest.raises(xmlrpc.client.ProtocolError) as exc:
                    call()
                assert exc.value.errcode == 401
        for path in DASHBOARD_PATHS:
            assert http_status(instance, path) == 401, path
            assert http_status(instance, path, authorization=basic(USERNAME, 'wrong')) == 401, path
            assert http_status(instance, path, authorization=basic(USERNAME, PASSWORD)) in (200, 301), path
        # an action posted without credentials does nothing
        assert http_status(instance, '/index.html?action=sup_shutdown', 'POST') == 401
        assert http_status(instance, '/index.html?action=sup_shutdown', 'POST', basic('x', 'y')) == 401
    assert process_state(fleet['s2'], 'remote:remote') == 'STOPPED'
    assert all(instance.alive and fsm_state(instance) == 'OPERATION' for instance in fleet)


def test_sha_password_is_reported_at_start_up(fleet_factory):
    """ With a {SHA} password in [inet_http_server], the peers cannot authenticate: the log says so. """
    digest = hashlib.sha1(b'clear').hexdigest()
    fleet = fleet_factory(1, username=USERNAME, password='{SHA}' + digest)
    fleet['s1'].password = 'clear'  # what a user types; Supervisor compares its SHA-1
    fleet.start()
    fleet.wait_rpc_ready(timeout=20)
    wait_for(lambda: 'the password of [inet_http_server] is a {SHA} hash' in fleet['s1'].log(), timeout=5,
             what='{SHA} password reported')
