"""The dashboard inside real supervisord: serving, headers, main tail, tail -f size, live stream, authentication."""

import base64
import re
import socket
import time

import pytest
from lxml import etree

from supvisors.tools.localfleet import LocalFleet, wait_for

from .helpers import http_request, operational_fleet

pytestmark = pytest.mark.e2e

PROGRAMS = """
[program:talker]
command=sh -c 'i=0; while true; do echo "line $i of a talkative program"; i=$((i+1)); sleep 0.01; done'
startsecs=0
"""


def get(instance, path, headers=None, method='GET', body=None):
    return http_request(instance, path, method, body=body, headers=headers)


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    fleet = LocalFleet(2, basedir=str(tmp_path_factory.mktemp('webfw')), programs=PROGRAMS,
                       options={'tailf_limit': '4KB', 'stats_collecting_period': '1', 'stats_periods': '5'})
    with operational_fleet(fleet):
        yield fleet


def test_pages_are_xhtml_with_no_cache_headers(fleet):
    for path in ('/', '/index.html', '/proc_instance.html', '/host_instance.html'):
        status, headers, body = get(fleet['s1'], path)
        assert status == 200, path
        assert headers['Content-Type'] == 'text/html;charset=utf-8'
        assert headers['Pragma'] == 'no-cache' and headers['Cache-Control'] == 'no-cache'
        root = etree.fromstring(body)
        assert root.findtext('.//{http://www.w3.org/1999/xhtml}title') == 'Supvisors status'


def test_post_bodies_override_query_values(fleet):
    status, headers, _ = get(fleet['s1'], '/index.html?ident=s1', method='POST', body='ident=nowhere',
                             headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert status == 301
    assert 'Incorrect%20ident%3A%20nowhere' in headers['Location']


def test_statistics_images_are_served_without_cache(fleet):
    for name in ('process_cpu.png', 'process_mem.png', 'host_cpu.png', 'host_mem.png', 'host_io.png'):
        status, headers, body = get(fleet['s1'], f'/{name}')
        assert status == 200
        assert headers['Content-Type'] == 'image/png'
        assert headers['Pragma'] == 'no-cache' and headers['Cache-Control'] == 'no-cache'
        assert headers['Expires'] == 'Thu, 01 Jan 1970 00:00:00 GMT'
        assert body == b'' or body.startswith(b'\x89PNG')


def test_unknown_files_are_not_found_and_supervisor_paths_still_work(fleet):
    assert get(fleet['s1'], '/css/nothing-here.css')[0] == 404
    assert get(fleet['s1'], '/../../etc/passwd')[0] == 404
    # Supervisor's own process tail view is kept
    status, _, body = get(fleet['s1'], '/tail.html?processname=talker&limit=2048')
    assert status == 200 and b'talkative program' in body


def test_main_tail_page_shows_the_end_of_the_supervisord_log(fleet):
    status, _, body = get(fleet['s1'], '/maintail.html?limit=5000')
    assert status == 200
    root = etree.fromstring(body)
    assert root.findtext('.//{http://www.w3.org/1999/xhtml}title') == 'Supervisor tail'
    tail = root.findtext('.//{http://www.w3.org/1999/xhtml}pre')
    with open(fleet['s1'].logfile, 'rb') as stream:
        log = stream.read()
    assert 0 < len(tail.encode()) <= 5000 and tail.encode() in log
    assert b'maintail.html?limit=5000' in body
    # at least 1024 bytes, whatever the limit asked
    status, _, body = get(fleet['s1'], '/maintail.html?limit=10')
    assert len(etree.fromstring(body).findtext('.//{http://www.w3.org/1999/xhtml}pre').encode()) > 10


def _initial_tail_f(instance, path, settle=0.5):
    """ Bytes of the first chunks streamed by a tail -f handler within a short window. """
    with socket.create_connection(('127.0.0.1', instance.http_port), timeout=5) as sock:
        sock.sendall(f'GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.encode())
        data = b''
        deadline = time.monotonic() + 5
        while b'\r\n\r\n' not in data and time.monotonic() < deadline:
            data += sock.recv(65536)
        header, _, rest = data.partition(b'\r\n\r\n')
        sock.settimeout(0.2)
        end = time.monotonic() + settle
        while time.monotonic() < end:
            try:
                rest += sock.recv(65536)
            except socket.timeout:
                break
    # decode the first chunk only: what was there when the stream began
    size_line, _, remainder = rest.partition(b'\r\n')
    return header, remainder[:int(size_line, 16)]


def test_tail_f_starts_tailf_limit_bytes_before_the_end(fleet):
    stdout = fleet['s1'].rpc().supervisor.getProcessInfo('talker')['stdout_logfile']
    wait_for(lambda: __import__('os').path.getsize(stdout) > 8192, timeout=20, what='talker log > 8 KB')
    header, first = _initial_tail_f(fleet['s1'], '/logtail/talker')
    assert b'200' in header.split(b'\r\n')[0]
    # Supervisor alone starts 1024 bytes before the end; tailf_limit = 4KB here
    assert 3000 < len(first) <= 4096 + 1024


def test_live_stream_announces_changes(fleet):
    with socket.create_connection(('127.0.0.1', fleet['s1'].http_port), timeout=5) as sock:
        sock.sendall(b'GET /supvisors_live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
        data = b''
        deadline = time.monotonic() + 5
        while b'retry:' not in data and time.monotonic() < deadline:
            data += sock.recv(4096)
        assert b'text/event-stream' in data
        data = b''
        fleet['s2'].rpc().supervisor.stopProcess('talker')
        deadline = time.monotonic() + 10
        while not re.search(rb'data: \d+\.\d+', data) and time.monotonic() < deadline:
            data += sock.recv(4096)
        assert re.search(rb'data: \d+\.\d+', data)
    fleet['s2'].rpc().supervisor.startProcess('talker')


def test_dashboard_requires_the_http_credentials(tmp_path):
    fleet = LocalFleet(1, basedir=str(tmp_path / 'auth'))
    instance = fleet['s1']
    with open(instance.conf_path) as stream:
        conf = stream.read()
    conf = conf.replace('[inet_http_server]\n', '[inet_http_server]\nusername=alice\npassword=secret\n', 1)
    with open(instance.conf_path, 'w') as stream:
        stream.write(conf)
    good = {'Authorization': 'Basic ' + base64.b64encode(b'alice:secret').decode()}
    bad = {'Authorization': 'Basic ' + base64.b64encode(b'alice:wrong').decode()}
    try:
        instance.start()

        def answered():
            try:
                return get(instance, '/index.html', good)[0] == 200
            except OSError:
                return False
        wait_for(answered, timeout=20, what='dashboard with credentials')
        for path in ('/index.html', '/proc_instance.html', '/process_cpu.png', '/supvisors_live'):
            assert get(instance, path)[0] == 401, path
            assert get(instance, path, bad)[0] == 401, path
        assert get(instance, '/index.html?action=sup_shutdown', method='POST')[0] == 401
        assert instance.alive
    finally:
        fleet.stop()
