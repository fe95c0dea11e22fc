"""Fault injection on real supervisord: malformed data files at start-up, and power-downs while a file is written.

* rules files that are truncated, invalid against the schema, binary junk, empty, of another XML vocabulary, or an
  entity bomb: supervisord starts, reaches OPERATION with every application unmanaged, one line tells why;
* disabilities files that are not JSON (truncated, empty, binary junk, too deeply nested): the documented fatal
  error (configuration.md 1.4: a file that exists but cannot be read or does not contain valid JSON), i.e.
  supervisord exits once with a clear one-line reason naming the file, and no traceback on its output; JSON
  that is not an object, or with odd values: supervisord starts, nothing is disabled but the programs set to true;
* in every case, the files are left exactly as they were (Supvisors never rewrites them at start-up);
* power-downs (SIGKILL of the session) while enable/disable rewrite the disabilities file: the file is always a
  valid JSON object afterwards, and supervisord starts again with it.

The supervisord of the start-up cases are launched all at once, each as a fleet of one instance.
"""

import json
import os
import random
import threading
import time
import xmlrpc.client
from typing import Iterator, List, Optional

import pytest

from supvisors.tools.localfleet import LocalFleet, wait_for

from .faults import (FileGuard, assert_supervisords_alive, fsm_state, launch, no_traceback, report, rules_xml,
                     supvisors)

pytestmark = pytest.mark.e2e

PROGRAMS = """
[group:app]
programs=sleeper,other

[program:sleeper]
command=sleep 1000
autostart=false
startsecs=0
stopwaitsecs=2

[program:other]
command=sleep 1000
autostart=false
startsecs=0
stopwaitsecs=2
"""
VALID_RULES = rules_xml("""
    <application name="app">
        <programs><program pattern=""><start_sequence>1</start_sequence></program></programs>
    </application>
""")
ENTITY_BOMB = ('<?xml version="1.0"?>\n<!DOCTYPE root [\n<!ENTITY a0 "ha">\n'
               + ''.join(f'<!ENTITY a{n} "{("&a%d;" % (n - 1)) * 10}">\n' for n in range(1, 10))
               + ']>\n<root><application name="&a9;"/></root>\n')
BAD_RULES = {
    'truncated': VALID_RULES[:len(VALID_RULES) // 2],
    'schema violation': rules_xml('<application name="app"><bogus>1</bogus><required>maybe</required></application>'),
    'binary junk': random.Random(7).randbytes(2048),
    'empty': '',
    'another vocabulary': '<?xml version="1.0"?>\n<html><body><application name="app"/></body></html>\n',
    'entity bomb': ENTITY_BOMB,
}
FATAL_DISABILITIES = {
    'truncated JSON': '{"sleeper": tr',
    'empty': '',
    'binary junk': random.Random(8).randbytes(2048),
    'deeply nested JSON': '[' * 100000 + ']' * 100000,
}
TOLERATED_DISABILITIES = {
    'a JSON list': ('[1, 2, 3]', set()),
    'a JSON string': ('"sleeper"', set()),
    'null': ('null', set()),
    'odd values': ('{"sleeper": "yes", "other": [true], "unknown": true, "": false}', set()),
    'one program disabled': ('{"sleeper": true, "other": 1}', {'sleeper'}),
}


class Case:
    """ One supervisord with a file of its own. """

    def __init__(self, basedir: str, kind: str, name: str, content, rules: Optional[str] = None):
        self.kind, self.name = kind, name
        os.makedirs(basedir, exist_ok=True)
        options = {}
        self.path = os.path.join(basedir, 'data.bin')
        with open(self.path, 'wb') as stream:
            stream.write(content if isinstance(content, bytes) else content.encode('utf-8'))
        if kind == 'rules':
            options['rules_files'] = self.path
        else:
            options['disabilities_file'] = self.path
        self.fleet = LocalFleet(1, os.path.join(basedir, 'fleet'), options=options, programs=PROGRAMS,
                                rules=rules)
        self.instance = self.fleet['s1']
        self.guard = FileGuard([self.path, self.instance.conf_path])

    def __repr__(self) -> str:
        return f'{self.kind} file: {self.name}'


@pytest.fixture(scope='module')
def cases(tmp_path_factory) -> Iterator[List[Case]]:
    base = tmp_path_factory.mktemp('files')
    cases = [Case(str(base / f'rules{n}'), 'rules', name, content) for n, (name, content) in
             enumerate(BAD_RULES.items())]
    cases += [Case(str(base / f'fatal{n}'), 'fatal', name, content, VALID_RULES) for n, (name, content) in
              enumerate(FATAL_DISABILITIES.items())]
    cases += [Case(str(base / f'tolerated{n}'), 'tolerated', name, content, VALID_RULES) for n, (name, (content, _))
              in enumerate(TOLERATED_DISABILITIES.items())]
    start = time.monotonic()
    try:
        for case in cases:
            case.instance.start()
        for case in cases:
            if case.kind == 'fatal':
                wait_for(lambda case=case: not case.instance.alive, 60, what=f'{case} refused')
            else:
                case.fleet.wait_rpc_ready(timeout=60)
                wait_for(lambda case=case: fsm_state(case.instance) == 'OPERATION', 60, what=f'{case} in OPERATION')
        for case in cases:
            case.ready = time.monotonic() - start
        yield cases
    except Exception:
        for case in cases:
            print(f'\n######## {case}\n{case.fleet.diagnostics(40)}')
        raise
    finally:
        for case in cases:
            case.instance.kill()


def select(cases: List[Case], kind: str, name: str) -> Case:
    return next(case for case in cases if case.kind == kind and case.name == name)


@pytest.mark.parametrize('name', list(BAD_RULES))
def test_malformed_rules_file(cases, name):
    case = select(cases, 'rules', name)
    proxy = supvisors(case.instance)
    assert proxy.get_application_rules('app') == {'managed': False, 'application_name': 'app'}
    log = case.instance.log()
    assert log.count(f"cannot parse rules files: ['{case.path}']") == 1
    no_traceback(case.instance)
    assert_supervisords_alive(case.fleet)
    case.guard.check()
    report(f'malformed rules file ({name})', f'rules_files = {name} at start-up', None,
           'the rules only: OPERATION reached, every application unmanaged, one WARN line; file unchanged')


@pytest.mark.parametrize('name', list(FATAL_DISABILITIES))
def test_unusable_disabilities_file_is_fatal_with_a_clear_error(cases, name):
    case = select(cases, 'fatal', name)
    assert case.instance.returncode not in (None, 0)
    with open(case.instance.stderr_path, errors='replace') as stream:
        stderr = stream.read()
    reason = [line for line in stderr.splitlines() if line.startswith('Error: supvisors: disabilities_file:')]
    assert len(reason) == 1, stderr
    assert case.path in reason[0], f'the error does not name the file: {reason[0]}'
    assert 'Error: Could not make supvisors rpc interface' in stderr
    assert 'Traceback' not in stderr
    # the log holds the same line (CRIT), then the traceback that Supervisor itself logs for any plugin failure,
    # which ends with the same reason
    log = case.instance.log()
    assert log.count(f'CRIT;{reason[0]}') == 1
    assert f'ValueError: {reason[0][len("Error: supvisors: "):]}' in log
    # started once, exited once: no restart loop of any kind
    assert case.instance.log().count('supervisord started with pid') == 0
    case.guard.check()
    report(f'unusable disabilities file ({name})', f'disabilities_file = a {name} file at start-up', None,
           f'supervisord refused to start (exit code {case.instance.returncode}) with one clear line: '
           f'{reason[0][:100]}...; file unchanged')


@pytest.mark.parametrize('name', list(TOLERATED_DISABILITIES))
def test_disabilities_file_that_is_not_an_object_of_booleans(cases, name):
    case = select(cases, 'tolerated', name)
    disabled = {info['name'] for info in supvisors(case.instance).get_all_local_process_info() if info['disabled']}
    assert disabled == TOLERATED_DISABILITIES[name][1]
    no_traceback(case.instance)
    assert_supervisords_alive(case.fleet)
    case.guard.check()
    report(f'odd disabilities file ({name})', f'disabilities_file = {name} at start-up', None,
           f'nothing: OPERATION reached, disabled: {sorted(disabled) or "none"}; file unchanged')


def test_power_down_while_the_disabilities_file_is_written(fleet_factory, tmp_path):
    """ A client disables and enables programs in a loop while the instance is powered down (SIGKILL of its
    session) at random moments: the file is a valid JSON object of booleans every time, and supervisord starts
    again with it (the write is atomic). """
    path = str(tmp_path / 'disabilities.json')
    fleet = fleet_factory(1, options={'disabilities_file': path}, programs=PROGRAMS, rules=VALID_RULES)
    instance = fleet['s1']
    rounds, writes, seen = 5, 0, []
    rng = random.Random(11)
    for index in range(rounds):
        launch(fleet)
        stop = threading.Event()
        errors: List[BaseException] = []

        def flip() -> None:
            nonlocal writes
            proxy = instance.rpc(timeout=5).supvisors
            disabled = False
            while not stop.is_set():
                try:
                    disabled = not disabled
                    (proxy.disable if disabled else proxy.enable)('other', False)
                    writes += 1
                except (OSError, xmlrpc.client.Error):
                    return  # powered down
                except BaseException as exc:  # noqa: BLE001 - reported by the test
                    errors.append(exc)
                    return
        thread = threading.Thread(target=flip, daemon=True)
        thread.start()
        wait_for(lambda: os.path.exists(path), 10, what='first write')
        time.sleep(rng.uniform(0.05, 0.5))  # a random moment of the write loop (not a synchronisation)
        instance.kill()
        stop.set()
        thread.join(10)
        assert not errors, errors
        with open(path) as stream:
            content = json.load(stream)  # raises if corrupted
        assert isinstance(content, dict) and all(isinstance(value, bool) for value in content.values()), content
        assert set(content) == {'sleeper', 'other'}
        seen.append(content['other'])
    # powered up again with the last content: the disabled flag is restored
    launch(fleet)
    with open(path) as stream:
        last = json.load(stream)
    disabled = {info['name'] for info in supvisors(instance).get_all_local_process_info() if info['disabled']}
    assert disabled == {name for name, value in last.items() if value}
    leftovers = [name for name in os.listdir(tmp_path) if name.startswith('disabilities.json.')]
    no_traceback(instance)
    report('power-down while the disabilities file is written',
           f'{rounds} SIGKILLs of the instance during enable/disable loops ({writes} writes)', None,
           f'at most the last change (last states of "other": {seen}); the file was valid JSON every time; '
           f'temporary files left: {len(leftovers)}')
