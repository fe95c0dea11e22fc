"""Pages without psutil or matplotlib: statistics sections hidden, images empty, nothing broken (interfaces 3.7, 3.11).

s1 runs with psutil and matplotlib made unimportable (a blocking package first in its PYTHONPATH); s2 has both.
"""

import os

import pytest
from lxml import etree

from supvisors.tools.localfleet import LocalFleet, wait_for

from .helpers import http_request, operational_fleet

pytestmark = pytest.mark.e2e

XHTML = '{http://www.w3.org/1999/xhtml}'

PROGRAMS = """
[program:worker]
command=sleep 1000
startsecs=0
"""


def get(instance, path):
    status, _, body = http_request(instance, path)
    return status, body


def page(instance, path):
    status, body = get(instance, path)
    assert status == 200, (path, status)
    return etree.fromstring(body)


def headers(root):
    return [th.text for th in root.iter(f'{XHTML}th')]


def block(directory, name):
    package = os.path.join(directory, name)
    os.makedirs(package)
    with open(os.path.join(package, '__init__.py'), 'w') as stream:
        stream.write(f'raise ImportError("{name} made unavailable for this test")\n')


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    base = tmp_path_factory.mktemp('degraded')
    blockers = str(base / 'blockers')
    block(blockers, 'psutil')
    block(blockers, 'matplotlib')
    fleet = LocalFleet(2, basedir=str(base / 'fleet'), programs=PROGRAMS,
                       options={'stats_collecting_period': '1', 'stats_periods': '5'})
    env = dict(os.environ)
    env['PYTHONPATH'] = blockers + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    with operational_fleet(fleet, envs={'s1': env}):
        yield fleet


def test_processes_page_hides_statistics_without_psutil(fleet):
    root = page(fleet['s1'], '/proc_instance.html')
    assert 'MEM' not in headers(root) and 'CPU' not in headers(root)
    body = etree.tostring(root).decode()
    assert 'Statistics View' not in body and 'Statistics Periods' not in body
    assert 'worker' in body and 'supervisord' in body
    # the instance with psutil shows them
    root = page(fleet['s2'], '/proc_instance.html')
    assert 'MEM' in headers(root) and 'CPU' in headers(root)


def test_statistics_received_from_peers_are_still_shown(fleet):
    """ s1 collects nothing but compiles what s2 publishes: the application page shows s2's figures. """
    # the program runs on both instances (autostart); keep the copy of s2 only
    fleet['s1'].rpc().supervisor.stopProcess('worker')

    def cpu_cell_on_s1():
        root = page(fleet['s1'], '/application.html?appliname=worker')
        for row in root.iter(f'{XHTML}tr'):
            cells = [''.join(td.itertext()).strip() for td in row.iter(f'{XHTML}td')]
            # Name, State, Supervisor, Description, Load, MEM, CPU, then the action and log buttons
            if len(cells) > 6 and cells[0].endswith('worker'):
                return cells[5] if cells[5] not in ('', '--') else None
        return None
    wait_for(cpu_cell_on_s1, timeout=20, what='statistics of s2 shown by s1')


def test_images_stay_empty_without_matplotlib(fleet):
    page(fleet['s1'], '/application.html?appliname=worker&processname=worker&ident=s2')
    for name in ('process_cpu.png', 'process_mem.png', 'host_cpu.png', 'host_mem.png', 'host_io.png'):
        status, body = get(fleet['s1'], f'/{name}')
        assert status == 200 and body == b''


def test_nothing_failed_in_the_degraded_instance(fleet):
    for path in ('/', '/index.html', '/host_instance.html', '/proc_instance.html?processname=worker'):
        status, _ = get(fleet['s1'], path)
        assert status in (200, 301), path
    assert fleet['s1'].alive
    log = fleet['s1'].log()
    assert 'Traceback' not in log
