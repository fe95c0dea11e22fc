"""The local-fleet launcher itself, on plain supervisord (no plugin), so that e2e failures elsewhere are not its own."""

import os
import signal

import pytest

from supvisors.tools.localfleet import FleetError, LocalFleet, find_free_ports, pid_alive, wait_for

pytestmark = pytest.mark.e2e

SLEEPER = """
[program:sleeper]
command=sleep 1000
autostart=true
startsecs=0
"""


def read(path: str) -> str:
    with open(path) as stream:
        return stream.read()


def children_pids(fleet: LocalFleet, identifier: str) -> list:
    infos = fleet[identifier].rpc().supervisor.getAllProcessInfo()
    return [info['pid'] for info in infos if info['pid']]


def running_sleeper(fleet: LocalFleet, identifier: str) -> bool:
    return fleet[identifier].rpc().supervisor.getProcessInfo('sleeper')['statename'] == 'RUNNING'


def test_find_free_ports():
    ports = find_free_ports(20)
    assert len(set(ports)) == 20
    assert all(0 < port < 65536 for port in ports)


def test_config_layout(tmp_path):
    fleet = LocalFleet(['a', 'b'], str(tmp_path), options={'synchro_timeout': '20'},
                       per_instance_options={'b': {'synchro_timeout': '30', 'event_port': '0'}},
                       programs=SLEEPER, per_instance_programs={'a': '[program:only_a]\ncommand=sleep 1\n'},
                       rules='<root/>')
    conf_a, conf_b = (read(fleet[i].conf_path) for i in ('a', 'b'))
    expected_list = (f'<a>127.0.0.1:{fleet["a"].http_port}:{fleet["a"].internal_port},'
                     f'<b>127.0.0.1:{fleet["b"].http_port}:{fleet["b"].internal_port}')
    for conf in (conf_a, conf_b):
        assert f'supvisors_list = {expected_list}' in conf
        assert f'rules_files = {tmp_path / "rules.xml"}' in conf
        assert 'supervisor.ctl_factory = supvisors.supvisorsctl:make_supvisors_controller_plugin' in conf
        assert '[program:sleeper]' in conf
    assert 'synchro_timeout = 20' in conf_a and 'synchro_timeout = 30' in conf_b
    assert f'event_port = {fleet["a"].event_port}' in conf_a
    assert conf_b.count('event_port') == 1 and 'event_port = 0' in conf_b
    assert '[program:only_a]' in conf_a and '[program:only_a]' not in conf_b
    assert 'identifier=a' in conf_a and 'identifier=b' in conf_b
    assert os.path.isdir(os.path.join(fleet['a'].workdir, 'logs'))
    assert (tmp_path / 'rules.xml').read_text() == '<root/>'
    ports = [port for inst in fleet for port in (inst.http_port, inst.internal_port, inst.event_port)]
    assert len(set(ports)) == 6
    plain = LocalFleet(2, str(tmp_path / 'plain'), with_supvisors=False)
    assert plain.identifiers == ['s1', 's2']
    assert 'supvisors' not in read(plain['s1'].conf_path)


def test_wait_for():
    values = iter(range(100))
    assert wait_for(lambda: next(values) >= 3 and 'done', 1, interval=0.01) == 'done'
    with pytest.raises(TimeoutError, match=r'waiting for zero: last=0$'):
        wait_for(lambda: 0, 0.1, what='zero')
    with pytest.raises(TimeoutError, match=r'waiting for the answer: last=ValueError'):
        wait_for(lambda: int('x'), 0.1, what='the answer')


def test_start_kill_restart_stop(fleet_factory):
    fleet = fleet_factory(3, programs=SLEEPER, with_supvisors=False)
    fleet.start()
    fleet.wait_rpc_ready(timeout=30)
    for identifier in fleet.identifiers:
        wait_for(lambda: running_sleeper(fleet, identifier), 10, what=f'sleeper RUNNING on {identifier}')
    recorded = {identifier: [fleet[identifier].pid] + children_pids(fleet, identifier)
                for identifier in fleet.identifiers}
    assert all(len(pids) == 2 for pids in recorded.values())
    # a whole instance crashes: supervisord and its children (own process groups) are gone
    assert fleet['s2'].kill(signal.SIGKILL) == -signal.SIGKILL
    assert not fleet['s2'].alive
    assert not any(pid_alive(pid) for pid in recorded['s2'])
    assert all(pid_alive(pid) for identifier in ('s1', 's3') for pid in recorded[identifier])
    # same configuration and ports again
    http_port = fleet['s2'].http_port
    fleet.restart_instance('s2')
    fleet.wait_rpc_ready(timeout=30, identifiers=['s2'])
    assert fleet['s2'].http_port == http_port
    wait_for(lambda: running_sleeper(fleet, 's2'), 10, what='sleeper RUNNING on s2 after restart')
    recorded['s2'] += [fleet['s2'].pid] + children_pids(fleet, 's2')
    # the log keeps both runs, each line once (stdout copies of the log are left out)
    wait_for(lambda: fleet['s2'].log().count('supervisord started with pid') == 2, 10, what='two starts in s2 log')
    assert fleet['s1'].log().count('supervisord started with pid') == 1
    # a frozen instance does not answer, but stop() still gets rid of it
    fleet['s3'].freeze()
    with pytest.raises(OSError):
        fleet['s3'].rpc(timeout=0.5).supervisor.getState()
    fleet.stop()
    leftovers = [pid for pids in recorded.values() for pid in pids if pid_alive(pid)]
    assert leftovers == []
    assert not any(instance.alive or instance.pids() for instance in fleet)
    fleet.stop()  # idempotent


def test_wait_rpc_ready_fails_fast(fleet_factory):
    fleet = fleet_factory(1, programs='[program:broken]\n', with_supvisors=False)
    fleet.start()
    with pytest.raises(FleetError, match='s1 is not running'):
        fleet.wait_rpc_ready(timeout=30)
