"""Fatal configuration errors stop supervisord with one clear line; soft ones are logged and defaulted."""

import pytest

from supvisors.tools.localfleet import wait_for

pytestmark = pytest.mark.e2e


def _read(path):
    with open(path) as stream:
        return stream.read()


def _wait_exit(instance):
    wait_for(lambda: not instance.alive, timeout=20, what=f'{instance.identifier} exits')
    return _read(instance.stderr_path)


@pytest.mark.parametrize('options, expected', [
    ({'loglevel': 'warning'}, 'Error: supvisors: invalid value for loglevel'),
    ({'logfile': '/no/such/dir/supvisors.log'}, 'Error: supvisors: invalid value for logfile'),
    ({'logfile_maxbytes': 'ten'}, 'Error: supvisors: invalid value for logfile_maxbytes'),
])
def test_fatal_logging_option(fleet_factory, options, expected):
    fleet = fleet_factory(1, options=options)
    fleet.start()
    stderr = _wait_exit(fleet['s1'])
    assert expected in stderr
    assert 'Error: Could not make supvisors rpc interface' in stderr
    assert fleet['s1'].returncode != 0


def _resolvable_foreign_name():
    """ A host name that resolves but is not literally one of the local names (so not identified as local). """
    import socket
    from supvisors.mapper import get_local_names
    local_names = get_local_names(socket.gethostbyaddr)
    with open('/etc/hosts') as stream:
        names = [word for line in stream if not line.startswith('#') for word in line.split()[1:]]
    for name in names + ['ip6-localhost', 'localhost.localdomain']:
        try:
            socket.gethostbyaddr(name)
        except OSError:
            continue
        if name not in local_names:
            return name
    pytest.skip('no resolvable host name that is not local')


def test_supvisors_list_without_local_match(fleet_factory):
    host = _resolvable_foreign_name()
    fleet = fleet_factory(['s1'], options={'supvisors_list': f'<other>{host}:7000:7001'})
    fleet.start()
    stderr = _wait_exit(fleet['s1'])
    assert 'Error: supvisors: supvisors_list: could not find the local Supvisors in supvisors_list' in stderr


def test_supvisors_list_with_unknown_host(fleet_factory):
    fleet = fleet_factory(['s1'])
    entry = f'<s1>127.0.0.1:{fleet["s1"].http_port}:{fleet["s1"].internal_port}'
    fleet = fleet_factory(['s1'], options={'supvisors_list': f'{entry},<s2>no-such-host.invalid:7000:7001'})
    fleet.start()
    stderr = _wait_exit(fleet['s1'])
    assert ('Error: supvisors: supvisors_list: could not define a Supvisors identification from'
            ' "<s2>no-such-host.invalid:7000:7001"') in stderr
    assert 'get_node_names: unknown host no-such-host.invalid' in fleet['s1'].log()


def test_supvisors_list_with_bad_entry(fleet_factory):
    fleet = fleet_factory(['s1'], options={'supvisors_list': '<s1>127.0.0.1:7100'})
    fleet.start()
    stderr = _wait_exit(fleet['s1'])
    assert 'could not define a Supvisors identification from "<s1>127.0.0.1:7100"' in stderr


def test_soft_errors_are_logged_and_defaulted(fleet_factory):
    fleet = fleet_factory(1, options={'synchro_timeout': 'abc', 'inactivity_ticks': '1', 'starting_strategy': 'less',
                                      'auto_fence': 'maybe', 'tick_period': '0.1'})
    fleet.start()
    fleet.wait_rpc_ready(timeout=20)
    wait_for(lambda: fleet['s1'].rpc().supvisors.get_supvisors_state()['fsm_statename'] == 'OPERATION',
             timeout=10, what='OPERATION')
    log = fleet['s1'].log()
    for option in ('synchro_timeout', 'inactivity_ticks', 'starting_strategy', 'auto_fence', 'tick_period'):
        assert f'invalid value for {option}' in log
    assert fleet['s1'].rpc().supvisors.get_strategies() == {'auto-fencing': False, 'starting': 'CONFIG',
                                                            'conciliation': 'USER'}


def test_unix_only_http_server_is_fatal(tmp_path):
    """ Without an inet_http_server, supervisord cannot start with the plugin. """
    import subprocess
    import sys
    conf = tmp_path / 'supervisord.conf'
    conf.write_text(f"""[supervisord]
logfile={tmp_path}/supervisord.log
pidfile={tmp_path}/supervisord.pid
[unix_http_server]
file={tmp_path}/supervisor.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[rpcinterface:supvisors]
supervisor.rpcinterface_factory = supvisors.plugin:make_supvisors_rpcinterface
supvisors_list = 127.0.0.1
""")
    result = subprocess.run([sys.executable, '-m', 'supervisor.supervisord', '-n', '-c', str(conf)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert f'Supervisor MUST be configured using inet_http_server: {conf}' in result.stderr


def test_internal_port_already_in_use(fleet_factory):
    """ The instance cannot be heard: critical log, and it stays in INITIALIZATION instead of joining blindly. """
    import socket
    fleet = fleet_factory(2)
    blocker = socket.socket()
    blocker.bind(('', fleet['s1'].internal_port))
    blocker.listen(1)
    try:
        fleet.start()
        fleet.wait_rpc_ready(timeout=20)
        wait_for(lambda: 'cannot bind the internal port' in fleet['s1'].log(), timeout=10, what='bind error logged')
        proxy = fleet['s1'].rpc()
        assert proxy.supvisors.get_supvisors_state()['fsm_statename'] == 'INITIALIZATION'
        assert proxy.supvisors.get_instance_info('s1')['statename'] == 'SILENT'
    finally:
        blocker.close()


def test_invalid_rules_file_leaves_every_application_unmanaged(fleet_factory):
    rules = '<?xml version="1.0"?>\n<root>\n  <application name="sleeper">\n    <required>yes</required>\n' \
            '  </application>\n</root>\n'
    fleet = fleet_factory(1, rules=rules, programs='[program:sleeper]\ncommand=sleep 100\nautostart=false\n')
    fleet.start()
    fleet.wait_rpc_ready(timeout=20)
    proxy = fleet['s1'].rpc()
    wait_for(lambda: proxy.supvisors.get_supvisors_state()['fsm_statename'] == 'OPERATION', timeout=10,
             what='OPERATION')
    log = fleet['s1'].log()
    assert f"cannot parse rules files: ['{fleet.rules_path}'] - XML NOT validated: {fleet.rules_path} (line 4:" in log
    assert proxy.supvisors.get_application_rules('sleeper') == {'managed': False, 'application_name': 'sleeper'}
    # case C: rules are not post-processed, the stop_sequence stays at -1
    assert proxy.supvisors.get_process_rules('sleeper')[0]['stop_sequence'] == -1
