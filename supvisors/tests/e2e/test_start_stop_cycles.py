"""Quick start/stop cycles through Supvisors: answers come with the job's end, and a stop right after a start is
never lost (a stop signal sent between fork and exec used to be swallowed, leaving the process until SIGKILL)."""

import pytest

from supvisors.tools.localfleet import LocalFleet

from .helpers import operational_fleet

pytestmark = pytest.mark.e2e

PROGRAMS = """
[group:app]
programs=worker

[program:worker]
command=sleep 1000
autostart=false
startsecs=0
stopwaitsecs=30
"""


def test_a_stop_right_after_a_start_is_never_lost(tmp_path):
    fleet = LocalFleet(2, basedir=str(tmp_path / 'cycles'), programs=PROGRAMS)
    with operational_fleet(fleet):
        # with stopwaitsecs=30, a lost SIGTERM would make one stop outlast the 10-second XML-RPC timeout
        proxy = fleet['s1'].rpc(timeout=10).supvisors
        for _ in range(40):
            assert proxy.start_process('CONFIG', 'app:worker', '', True)
            assert proxy.stop_process('app:worker', True)
            infos = proxy.get_process_info('app:worker')
            assert infos[0]['statename'] == 'STOPPED'
        for instance in fleet:
            assert 'with SIGKILL' not in instance.log()
