"""system.listMethods and system.methodSignature of the supvisors namespace (XML-RPC contract 4.32)."""

from types import SimpleNamespace

import pytest
from supervisor.xmlrpc import Faults, RPCError, SystemNamespaceRPCInterface, traverse

from supvisors.rpcinterface import RPCInterface, patch_introspection

SIGNATURES = {
    'get_api_version': ['str'], 'get_master_identifier': ['str'],
    'get_supvisors_state': ['dict[str, Any]'], 'get_strategies': ['dict[str, Any]'],
    'get_all_instances_info': ['list[dict[str, Any]]'], 'get_all_applications_info': ['list[dict[str, Any]]'],
    'get_all_process_info': ['list[dict[str, Any]]'], 'get_all_local_process_info': ['list[dict[str, Any]]'],
    'get_conflicts': ['list[dict[str, Any]]'],
    'get_instance_info': ['dict[str, Any]', 'str'], 'get_application_info': ['dict[str, Any]', 'str'],
    'get_application_rules': ['dict[str, Any]', 'str'], 'get_local_process_info': ['dict[str, Any]', 'str'],
    'get_process_info': ['list[dict[str, Any]]', 'str'], 'get_process_rules': ['list[dict[str, Any]]', 'str'],
    'start_application': ['bool', 'StartingStrategies', 'str', 'bool'],
    'restart_application': ['bool', 'StartingStrategies', 'str', 'bool'],
    'stop_application': ['bool', 'str', 'bool'],
    'start_args': ['bool', 'str', 'str', 'bool'],
    'start_process': ['bool', 'StartingStrategies', 'str', 'str', 'bool'],
    'restart_process': ['bool', 'StartingStrategies', 'str', 'str', 'bool'],
    'start_any_process': ['str', 'StartingStrategies', 'str', 'str', 'bool'],
    'stop_process': ['bool', 'str', 'bool'], 'enable': ['bool', 'str', 'bool'], 'disable': ['bool', 'str', 'bool'],
    'update_numprocs': ['bool', 'str', 'int', 'bool'],
    'conciliate': ['bool', 'ConciliationStrategies'],
    'restart_sequence': ['bool', 'bool'],
    'restart': ['bool'], 'shutdown': ['bool'],
    'change_log_level': ['bool', 'Union[str, int]'],
}
NOT_CALLABLE = ['get_logger_levels', 'EnumParameterType', 'OnWaitReturnType', 'OnWaitStringReturnType',
                'WaitReturnType', 'WaitStringReturnType']


@pytest.fixture
def system():
    patch_introspection()
    return SystemNamespaceRPCInterface([('supvisors', RPCInterface(runtime=SimpleNamespace(core=None)))])


def test_list_methods(system):
    methods = [x for x in system.listMethods() if x.startswith('supvisors.')]
    assert sorted(methods) == sorted(f'supvisors.{x}' for x in list(SIGNATURES) + NOT_CALLABLE)


@pytest.mark.parametrize('method', sorted(SIGNATURES))
def test_method_signature(system, method):
    assert system.methodSignature(f'supvisors.{method}') == SIGNATURES[method]


@pytest.mark.parametrize('name', NOT_CALLABLE)
def test_listed_names_that_are_not_methods(name):
    class Root:
        supvisors = RPCInterface(runtime=SimpleNamespace(core=None))
    with pytest.raises(RPCError) as exc:
        traverse(Root(), f'supvisors.{name}', [])
    assert exc.value.code == Faults.UNKNOWN_METHOD


def test_supervisor_signatures_unchanged(system):
    from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
    patch_introspection()
    plain = SystemNamespaceRPCInterface([('supervisor', SupervisorNamespaceRPCInterface(None))])
    assert plain.methodSignature('supervisor.startProcess') == ['boolean', 'string', 'boolean']
