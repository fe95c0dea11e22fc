"""Shared fixtures: real supervisord fleets that never outlive the test that built them."""

from typing import Any, Callable, Iterator, List, Sequence, Union

import pytest

from supvisors.tools.localfleet import LocalFleet

FleetFactory = Callable[..., LocalFleet]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep each phase report on the item, so that fixtures know at teardown whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f'rep_{report.when}', report)


def _test_failed(node: pytest.Item) -> bool:
    return any(getattr(getattr(node, f'rep_{when}', None), 'failed', False) for when in ('setup', 'call'))


@pytest.fixture
def fleet_factory(request: pytest.FixtureRequest, tmp_path) -> Iterator[FleetFactory]:
    """Build LocalFleet objects under tmp_path: ``fleet_factory(3, options={...}, programs=...)``.

    Every fleet built is stopped at teardown, whatever the outcome; when the test failed, the tail of every
    instance log is printed first (shown by pytest under "Captured stdout teardown").
    """
    fleets: List[LocalFleet] = []

    def factory(identifiers: Union[int, Sequence[str]] = 3, **kwargs: Any) -> LocalFleet:
        kwargs.setdefault('basedir', str(tmp_path / f'fleet{len(fleets)}'))
        fleet = LocalFleet(identifiers, **kwargs)
        fleets.append(fleet)
        return fleet

    yield factory
    failed = _test_failed(request.node)
    errors = []
    for fleet in fleets:
        if failed:
            print(f'\n######## diagnostics of fleet {fleet.basedir}\n{fleet.diagnostics()}')
        try:
            fleet.stop()
        except Exception as exc:  # noqa: BLE001 - stop the other fleets before reporting
            errors.append(exc)
    if errors:
        raise errors[0]
