"""Faults echo the caller's arguments: their control characters must not make the XML-RPC answer unreadable."""

import xmlrpc.client

import pytest
from supervisor import xmlrpc as supervisor_xmlrpc

from supvisors.rpcinterface import patch_fault_marshalling, xml_safe


def test_xml_safe_escapes_only_what_xml_cannot_carry():
    assert xml_safe('plain <text> & \t\n\r é ✪') == 'plain <text> & \t\n\r é ✪'
    assert xml_safe('a\x00b\x1fc\x0bd') == 'a\\x00b\\x1fc\\x0bd'


def test_faults_with_control_characters_stay_parsable():
    patch_fault_marshalling()
    patch_fault_marshalling()  # idempotent
    body = supervisor_xmlrpc.xmlrpc_marshal(xmlrpc.client.Fault(10, 'BAD_NAME: \x01app\x02'))
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(body)
    assert info.value.faultCode == 10 and info.value.faultString == 'BAD_NAME: \\x01app\\x02'
    # regular answers are untouched
    assert xmlrpc.client.loads(supervisor_xmlrpc.xmlrpc_marshal({'name': 'x'}))[0] == ({'name': 'x'},)
