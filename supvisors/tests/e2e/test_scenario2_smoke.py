"""Scenario 2 on a local fleet of 3 servers and 2 consoles: rules and common data bus as seen by Supvisors.

Nothing is asserted about the scen2 applications being started: automatic starting is not part of this check.
"""

import os
from typing import Iterator, Set

import pytest

from supvisors.tools.localfleet import LocalFleet
from supvisors.tools.usecases.scenario2 import (COMMON_DATA_BUS, common_flag_name, console_ids, hci_group, run_dir,
                                                scenario2_fleet, server_ids, srv_group)

pytestmark = pytest.mark.e2e

ITEMS = 3


@pytest.fixture
def fleet(request: pytest.FixtureRequest, tmp_path) -> Iterator[LocalFleet]:
    """The scenario 2 fleet, always stopped; logs printed at teardown when the test failed."""
    fleet = scenario2_fleet(str(tmp_path / 'scen2'), items=ITEMS)
    try:
        yield fleet
    finally:
        report = getattr(request.node, 'rep_call', None)
        if report is None or report.failed:
            print(f'\n######## diagnostics of fleet {fleet.basedir}\n{fleet.diagnostics()}')
        fleet.stop()


def fsm_state(fleet: LocalFleet, identifier: str) -> str:
    return fleet[identifier].rpc(timeout=2).supvisors.get_supvisors_state()['fsm_statename']


def application_names(proxy) -> Set[str]:
    return {info['application_name'] for info in proxy.supvisors.get_all_applications_info()}


def test_scenario2_smoke(fleet):
    servers, consoles = server_ids(fleet), console_ids(fleet)
    assert servers == ['server_1', 'server_2', 'server_3'] and consoles == ['console_1', 'console_2']
    fleet.start()
    fleet.wait_rpc_ready(timeout=30)
    fleet.wait_for(lambda: all(fsm_state(fleet, x) == 'OPERATION' for x in fleet.identifiers), timeout=30,
                   interval=0.1, what='every instance in OPERATION')
    expected_applications = {COMMON_DATA_BUS} | {srv_group(n) for n in range(1, ITEMS + 1)} \
        | {hci_group(n) for n in range(1, ITEMS + 1)}
    for instance in fleet:
        proxy = instance.rpc()
        # every instance knows every application, whatever the groups of its own configuration
        fleet.wait_for(lambda: application_names(proxy) >= expected_applications, timeout=10,
                       what=f'all applications known by {instance.identifier}')
        assert application_names(proxy) == expected_applications
        rules = proxy.supvisors.get_application_rules('scen2_srv_01')
        assert rules['managed'] is True
        assert rules['distribution'] == 'SINGLE_INSTANCE'
        assert rules['identifiers'] == servers
        assert rules['start_sequence'] == 1
        assert rules['starting_strategy'] == 'LESS_LOADED'
        assert rules['starting_failure_strategy'] == 'STOP'
        hci_rules = proxy.supvisors.get_application_rules('scen2_hci_01')
        assert (hci_rules['identifiers'], hci_rules['starting_strategy']) == (consoles, 'LOCAL')
        assert proxy.supvisors.get_application_rules(COMMON_DATA_BUS)['managed'] is False

    def common_bus_everywhere() -> bool:
        infos = fleet[servers[0]].rpc(timeout=2).supvisors.get_process_info(COMMON_DATA_BUS)
        return (len(infos) == 1 and infos[0]['statename'] == 'RUNNING'
                and infos[0]['identifiers'] == sorted(fleet.identifiers))
    fleet.wait_for(common_bus_everywhere, timeout=15, interval=0.1, what='common_data_bus RUNNING everywhere')
    for instance in fleet:
        info, = instance.rpc().supvisors.get_process_info(COMMON_DATA_BUS)
        assert info['statename'] == 'RUNNING'
        assert info['identifiers'] == sorted(fleet.identifiers)
        # the bus declared itself ready in the run folder of its instance
        fleet.wait_for(lambda: os.path.exists(os.path.join(run_dir(instance.workdir), common_flag_name())),
                       timeout=5, what=f'common data bus flag of {instance.identifier}')
