"""Tests of the supvisors_list resolution (configuration contract 1.5 to 1.7)."""

import socket
from typing import Dict, List, Optional, Tuple

import pytest

from supvisors.mapper import SupvisorsInstanceId, SupvisorsMapper, get_local_names
from supvisors.tests.unit.fakes import FakeLogger

WRONG_CONF = 'Wrong Supvisors configuration (supvisors_list)'

# fake DNS: host (name, alias or address) -> gethostbyaddr result
HOSTS: Dict[str, Tuple[str, List[str], List[str]]] = {}
for _name, _aliases, _address in [('alpha', ['alpha.example.org'], '10.1.2.1'),
                                  ('beta', [], '10.1.2.5'),
                                  ('gamma', [], '10.1.2.6'),
                                  ('delta', [], '10.1.2.7'),
                                  ('eta', [], '10.1.2.8'),
                                  ('node1', ['node1.lan'], '10.0.0.1'),
                                  ('node2', [], '10.0.0.2'),
                                  ('db', [], '10.1.2.3'),
                                  ('gw', [], '10.1.2.4')]:
    for _key in [_name, _address] + _aliases:
        HOSTS[_key] = (_name, _aliases, [_address])
# IP literals that reverse-resolve
HOSTS['10.1.2.3'] = ('db', [], ['10.1.2.3'])
HOSTS['10.1.2.4'] = ('gw', [], ['10.1.2.4'])


def resolver(host: str) -> Tuple[str, List[str], List[str]]:
    if host not in HOSTS:
        raise socket.herror(1, 'Unknown host')
    return HOSTS[host]



@pytest.fixture
def logger() -> FakeLogger:
    return FakeLogger()


def make_mapper(entries: List[str], logger: FakeLogger, supervisor_identifier: str = 'supervisor',
                local_names: Optional[List[str]] = None, internal_port: int = 0, event_port: int = 0,
                local_http_port: int = 7000) -> SupvisorsMapper:
    if local_names is None:
        local_names = ['10.1.2.1', 'alpha', 'alpha.example.org']
    return SupvisorsMapper(entries, local_http_port, internal_port, event_port, supervisor_identifier, logger,
                           resolver=resolver, local_names=local_names)


# ---------------------------------------------------------------------------------------------------------------------
# SupvisorsInstanceId
# ---------------------------------------------------------------------------------------------------------------------

def test_instance_id_url():
    instance = SupvisorsInstanceId('gw', 'gamma', 7200, 7250, 7251, '10.1.2.6')
    assert instance.url == 'http://gamma:7200'


# ---------------------------------------------------------------------------------------------------------------------
# grammar and derived values: example table of 1.5
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('entry, identifier, host, http_port, internal_port, event_port', [
    ('alpha', 'alpha', 'alpha', 7000, 7001, 7002),
    ('<db-1>10.1.2.3', 'db-1', '10.1.2.3', 7000, 7001, 7002),
    ('beta:7100:', 'beta:7100', 'beta', 7100, 7101, 7102),
    ('<gw>gamma:7200:7250', 'gw', 'gamma', 7200, 7250, 7251),
    ('delta::7300', 'delta', 'delta', 7000, 7300, 7301),
    ('10.1.2.4::', '10.1.2.4', '10.1.2.4', 7000, 7001, 7002),
    ('eta:7400:7399', 'eta:7400', 'eta', 7400, 7399, 7401),
    # other valid forms
    ('<my_id>alpha.example.org', 'my_id', 'alpha.example.org', 7000, 7001, 7002),
    ('<x>beta:99999:', 'x', 'beta', 99999, 100000, 100001),
    ('beta:0000:', 'beta', 'beta', 7000, 7001, 7002),
    ('beta:0000:00000', 'beta', 'beta', 7000, 7001, 7002),
    ('beta::0000', 'beta', 'beta', 7000, 7001, 7002),
    ('beta:07100:', 'beta:7100', 'beta', 7100, 7101, 7102),
])
def test_entry_table(logger, entry, identifier, host, http_port, internal_port, event_port):
    mapper = make_mapper([entry], logger, supervisor_identifier=identifier)
    assert mapper.identifiers == [identifier]
    instance = mapper.instances[identifier]
    assert instance.identifier == identifier
    assert instance.host_name == host
    assert instance.http_port == http_port
    assert instance.internal_port == internal_port
    assert instance.event_port == event_port
    assert instance.node_key == resolver(host)[2][0]
    assert instance.url == f'http://{host}:{http_port}'
    assert mapper.local_identifier == identifier
    assert mapper.local_instance is instance


@pytest.mark.parametrize('entry', [
    'epsilon:7100',          # single colon
    'beta:7100',             # single colon, existing host
    '<a.b>zeta',             # '.' in identifier
    '<a:b>beta',             # ':' in identifier
    '<>beta',                # empty identifier
    'beta:80:81',            # ports too short
    'beta:123456:',          # port too long
    'beta:7100:7101:',       # too many colons
    'beta:7a00:',            # not digits
    'beta::-7100',
    '<id>',                  # no host
    '',                      # empty
    'be ta',                 # blank inside
    '<id> beta',
    '[::1]',                 # IPv6
    '::1',
    'fe80::1',
    'beta:\u0667\u0661\u0660\u0660:',  # non-ASCII digits
])
def test_entry_invalid_grammar(logger, entry):
    with pytest.raises(ValueError) as exc:
        make_mapper(['alpha', entry], logger)
    assert str(exc.value) == f'could not define a Supvisors identification from "{entry}"'
    assert logger.records == [('critical', WRONG_CONF)]


def test_entry_unknown_host(logger):
    with pytest.raises(ValueError) as exc:
        make_mapper(['alpha', '<x>unknown:7000:'], logger)
    assert str(exc.value) == 'could not define a Supvisors identification from "<x>unknown:7000:"'
    # the error precedes the critical log
    assert logger.records == [('error', 'get_node_names: unknown host unknown'), ('critical', WRONG_CONF)]


@pytest.mark.parametrize('error', [socket.gaierror(-2, 'Name or service not known'), OSError('fail'),
                                   UnicodeError('bad')])
def test_entry_resolver_errors(logger, error):
    def failing_resolver(host: str):
        raise error
    with pytest.raises(ValueError, match='could not define a Supvisors identification from "alpha"'):
        SupvisorsMapper(['alpha'], 7000, 0, 0, 'alpha', logger, resolver=failing_resolver, local_names=[])
    assert logger.records == [('error', 'get_node_names: unknown host alpha'), ('critical', WRONG_CONF)]


def test_entry_no_address(logger):
    with pytest.raises(ValueError, match='could not define a Supvisors identification from "alpha"'):
        SupvisorsMapper(['alpha'], 7000, 0, 0, 'alpha', logger, resolver=lambda host: (host, [], []), local_names=[])


def test_unicode_identifier(logger):
    mapper = make_mapper(['<été-1>alpha'], logger, supervisor_identifier='été-1')
    assert mapper.identifiers == ['été-1']


# ---------------------------------------------------------------------------------------------------------------------
# port options
# ---------------------------------------------------------------------------------------------------------------------

def test_internal_port_option(logger):
    entries = ['alpha', 'beta:7100:', '<gw>gamma:7200:7250', 'delta::7300', 'eta:7400:7399']
    mapper = make_mapper(entries, logger, internal_port=9000)
    ports = {identifier: (instance.http_port, instance.internal_port, instance.event_port)
             for identifier, instance in mapper.instances.items()}
    assert ports == {'alpha': (7000, 9000, 9001),
                     'beta:7100': (7100, 9000, 9001),
                     'gw': (7200, 7250, 7251),
                     'delta': (7000, 7300, 7301),
                     'eta:7400': (7400, 7399, 7401)}


def test_internal_port_option_next_to_http_port(logger):
    # internal_port + 1 == http_port: event port is http_port + 1
    mapper = make_mapper(['alpha'], logger, internal_port=6999)
    instance = mapper.local_instance
    assert (instance.http_port, instance.internal_port, instance.event_port) == (7000, 6999, 7001)


def test_event_port_option(logger):
    entries = ['alpha', 'beta:7100:', 'eta:7400:7399']
    mapper = make_mapper(entries, logger, internal_port=9000, event_port=9500)
    assert [instance.event_port for instance in mapper.instances.values()] == [9500, 9500, 9500]
    assert [instance.internal_port for instance in mapper.instances.values()] == [9000, 9000, 7399]


def test_local_http_port(logger):
    mapper = make_mapper(['alpha', 'beta:7100:'], logger, local_http_port=60000)
    assert [(i.http_port, i.internal_port, i.event_port) for i in mapper.instances.values()] == \
           [(60000, 60001, 60002), (7100, 7101, 7102)]


# ---------------------------------------------------------------------------------------------------------------------
# local identification (1.6)
# ---------------------------------------------------------------------------------------------------------------------

def test_local_by_supervisor_identifier(logger):
    entries = ['<red>node1:7000:7001', '<blue>node1:8000:8001', '<green>node2:7000:7001']
    mapper = make_mapper(entries, logger, supervisor_identifier='blue', local_names=['10.0.0.1', 'node1'])
    assert mapper.local_identifier == 'blue'
    assert mapper.local_instance.http_port == 8000
    # the host is not cross-checked
    mapper = make_mapper(entries, logger, supervisor_identifier='green', local_names=['10.0.0.1', 'node1'])
    assert mapper.local_identifier == 'green'
    mapper = make_mapper(entries, logger, supervisor_identifier='green', local_names=[])
    assert mapper.local_identifier == 'green'


@pytest.mark.parametrize('local_name', ['alpha', '10.1.2.1', 'alpha.example.org'])
def test_local_by_literal_host(logger, local_name):
    mapper = make_mapper(['beta', local_name, 'gamma'], logger, supervisor_identifier='supervisor')
    assert mapper.local_identifier == local_name
    assert mapper.identifiers == ['beta', local_name, 'gamma']


def test_local_by_literal_host_with_ident(logger):
    mapper = make_mapper(['beta', '<me>alpha:7100:', 'gamma'], logger)
    assert mapper.local_identifier == 'me'
    assert mapper.local_instance.http_port == 7100


def test_local_literal_host_not_resolved(logger):
    # 'alpha.example.org' resolves to the same address as 'alpha', but only the literal string counts
    with pytest.raises(ValueError) as exc:
        make_mapper(['alpha.example.org', 'beta'], logger, local_names=['10.1.2.1', 'alpha'])
    assert str(exc.value) == 'could not find the local Supvisors in supvisors_list'
    assert logger.records == [('critical', WRONG_CONF)]


def test_local_http_port_not_checked(logger):
    mapper = make_mapper(['alpha:8000:'], logger, local_http_port=7000)
    assert mapper.local_identifier == 'alpha:8000'


def test_local_not_found(logger):
    with pytest.raises(ValueError) as exc:
        make_mapper(['beta', 'gamma'], logger)
    assert str(exc.value) == 'could not find the local Supvisors in supvisors_list'
    assert logger.records == [('critical', WRONG_CONF)]


def test_local_not_found_empty_list(logger):
    with pytest.raises(ValueError, match='^could not find the local Supvisors in supvisors_list$'):
        make_mapper([], logger)


def test_local_not_found_no_local_names(logger):
    with pytest.raises(ValueError, match='^could not find the local Supvisors in supvisors_list$'):
        make_mapper(['alpha', 'beta'], logger, local_names=[])


def test_local_multiple_candidates(logger):
    entries = ['<red>node1:7000:7001', '<blue>node1:8000:8001', '<green>node2:7000:7001']
    with pytest.raises(ValueError) as exc:
        make_mapper(entries, logger, local_names=['10.0.0.1', 'node1', 'node1.lan'])
    assert str(exc.value) == "multiple candidates for the local Supvisors: ['red', 'blue']"
    assert logger.records == [('critical', WRONG_CONF)]


def test_local_multiple_candidates_by_aliases(logger):
    with pytest.raises(ValueError, match=r"^multiple candidates for the local Supvisors: \['alpha', '10.1.2.1'\]$"):
        make_mapper(['alpha', 'beta', '10.1.2.1'], logger)


def test_get_local_names():
    hostname = socket.gethostname()

    def fake_resolver(host: str):
        assert host == hostname
        return 'canonical', ['alias1', 'alias2'], ['10.0.0.1', '10.0.0.2']
    assert get_local_names(fake_resolver) == ['10.0.0.1', '10.0.0.2', 'canonical', 'alias1', 'alias2']

    def failing_resolver(host: str):
        raise socket.herror(1, 'Unknown host')
    assert get_local_names(failing_resolver) == []


def test_default_local_names_use_resolver(logger, monkeypatch):
    monkeypatch.setattr(socket, 'gethostname', lambda: 'node2')
    mapper = SupvisorsMapper(['node1', 'node2'], 7000, 0, 0, 'supervisor', logger, resolver=resolver)
    assert mapper.local_names == ['10.0.0.2', 'node2']
    assert mapper.local_identifier == 'node2'


# ---------------------------------------------------------------------------------------------------------------------
# ordering, duplicates and nodes
# ---------------------------------------------------------------------------------------------------------------------

def test_order_kept(logger):
    entries = ['gamma', 'alpha', '<gw>gamma:7200:', 'beta:7100:']
    mapper = make_mapper(entries, logger)
    assert mapper.identifiers == ['gamma', 'alpha', 'gw', 'beta:7100']
    assert list(mapper.instances) == mapper.identifiers


def test_duplicate_identifier_replaces_keeping_position(logger):
    entries = ['<x>beta:7100:', 'alpha', '<x>gamma:7200:']
    mapper = make_mapper(entries, logger)
    assert mapper.identifiers == ['x', 'alpha']
    assert mapper.instances['x'].host_name == 'gamma'
    assert mapper.instances['x'].http_port == 7200
    assert mapper.nodes == {'10.1.2.6': ['x'], '10.1.2.1': ['alpha']}


def test_nodes(logger):
    entries = ['<red>node1:7000:7001', 'alpha', '<green>node2:7000:7001', '<blue>node1.lan:8000:8001',
               '<db>10.1.2.3', 'db:7500:']
    mapper = make_mapper(entries, logger)
    assert mapper.nodes == {'10.0.0.1': ['red', 'blue'], '10.1.2.1': ['alpha'], '10.0.0.2': ['green'],
                            '10.1.2.3': ['db', 'db:7500']}
    assert mapper.same_node('red', 'blue')
    assert mapper.same_node('blue', 'red')
    assert mapper.same_node('red', 'red')
    assert mapper.same_node('db', 'db:7500')
    assert not mapper.same_node('red', 'green')
    assert not mapper.same_node('red', 'unknown')
    assert not mapper.same_node('unknown', 'unknown')


def test_resolution_cached(logger):
    calls: List[str] = []

    def counting_resolver(host: str):
        calls.append(host)
        return resolver(host)
    SupvisorsMapper(['alpha', 'alpha:7100:', 'beta'], 7000, 0, 0, 'alpha', logger, resolver=counting_resolver,
                    local_names=[])
    assert calls == ['alpha', 'beta']


# ---------------------------------------------------------------------------------------------------------------------
# filtering and core identifiers (1.7)
# ---------------------------------------------------------------------------------------------------------------------

@pytest.fixture
def mapper(logger) -> SupvisorsMapper:
    entries = ['<red>node1:7000:7001', '<blue>node1:8000:8001', '<green>node2:7000:7001', 'alpha']
    mapper = make_mapper(entries, logger, supervisor_identifier='red')
    logger.records.clear()
    return mapper


def test_filter(mapper, logger):
    assert mapper.filter([]) == []
    assert mapper.filter(['green', 'red']) == ['green', 'red']
    assert logger.records == []
    assert mapper.filter(['green', 'node1', 'red', 'green', 'node1', 'alpha']) == ['green', 'red', 'alpha']
    assert logger.records == [('warn', 'identifier=node1 invalid')]


def test_core_identifiers(mapper, logger):
    assert mapper.core_identifiers(set()) == []
    assert mapper.core_identifiers({'red', 'green'}) == ['green', 'red']
    assert logger.records == []
    assert mapper.core_identifiers({'red', 'node2', 'alpha', 'blue:8000'}) == ['alpha', 'red']
    assert logger.records == [('warn', 'identifier=blue:8000 invalid'), ('warn', 'identifier=node2 invalid')]
    logger.records.clear()
    assert mapper.core_identifiers({'unknown'}) == []
    assert logger.records == [('warn', 'identifier=unknown invalid')]


def test_info_logged(mapper, logger):
    entries = ['<red>node1:7000:7001', 'alpha']
    make_mapper(entries, logger, supervisor_identifier='red')
    assert logger.levels('info')
    assert logger.levels('critical') == []


def test_ipv4_literal_without_reverse_resolution_is_its_own_node(logger):
    """ An address designates a node without any name service (0.15 refused it). """
    mapper = make_mapper(['alpha', '<gw2>10.9.8.7:7100:7101', '<gw3>10.9.8.7:7200:7201', '<gw4>10.9.8.6::'], logger)
    assert mapper.instances['gw2'].node_key == '10.9.8.7'
    assert mapper.same_node('gw2', 'gw3') and not mapper.same_node('gw2', 'gw4')
    assert mapper.nodes['10.9.8.7'] == ['gw2', 'gw3']
    assert logger.levels('error') == []
