"""What the end-to-end test modules share: a fleet brought to OPERATION and always stopped, HTTP requests."""

import http.client
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Mapping, Optional, Tuple
from urllib.parse import urlencode

from supvisors.tools.localfleet import LocalFleet, wait_for

FORM_HEADERS = {'Content-Type': 'application/x-www-form-urlencoded'}


def fsm_state(instance) -> str:
    return instance.rpc(timeout=10).supvisors.get_supvisors_state()['fsm_statename']


@contextmanager
def operational_fleet(fleet: LocalFleet, timeout: float = 20.0, ready: Optional[Callable[[], bool]] = None,
                      envs: Optional[Mapping[str, Mapping[str, str]]] = None) -> Iterator[LocalFleet]:
    """ Start the fleet (an instance of envs with its own environment), wait for OPERATION everywhere and for the
    extra ready predicate; print the diagnostics if that fails; stop the fleet whatever happens. """
    try:
        for instance in fleet:
            instance.start(env=(envs or {}).get(instance.identifier))
        try:
            fleet.wait_rpc_ready(timeout=timeout)
            wait_for(lambda: all(fsm_state(x) == 'OPERATION' for x in fleet), timeout, what='OPERATION everywhere')
            if ready is not None:
                wait_for(ready, timeout, what='fleet ready')
        except Exception:
            print(f'\n######## diagnostics of fleet {fleet.basedir}\n{fleet.diagnostics(80)}')
            raise
        yield fleet
    finally:
        fleet.stop()


def http_request(instance, path: str, method: str = 'GET', form: Optional[Mapping[str, str]] = None,
                 body: Optional[str] = None, headers: Optional[Mapping[str, str]] = None,
                 timeout: float = 30.0) -> Tuple[int, Dict[str, str], bytes]:
    """ One request to the HTTP server of an instance; a form is POSTed url-encoded. """
    all_headers = dict(headers or {})
    if form is not None:
        method, body = 'POST', urlencode(form)
    if body is not None:
        all_headers.update(FORM_HEADERS)
    connection = http.client.HTTPConnection(instance.host, instance.http_port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
