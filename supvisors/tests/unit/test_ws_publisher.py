"""The websocket event link: the frames (supvisors.wsframing), the server (supvisors.adapters.ws_publisher) and the
client thread (supvisors.client.wssubscriber)."""

import json
import os
import socket
import struct
import threading
import time
from typing import Any, List, Optional, Tuple

import pytest

from supvisors.adapters import ws_publisher
from supvisors.adapters.ws_publisher import ALL_TOPICS, WsEventPublisher, message_text, topics_of
from supvisors.client import wssubscriber
from supvisors.client.wssubscriber import SupvisorsWsEventInterface
from supvisors.tests.unit.fakes import CallbackRecorder, FakeLogger
from supvisors.tools.localfleet import find_free_ports, wait_for
from supvisors.wsframing import (OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, FrameDecoder,
                                 ProtocolError, accept_key, encode_frame, new_key)

TOPICS = ('supvisors', 'instance', 'application', 'event', 'process')


# ---------------------------------------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------------------------------------

def test_accept_key_rfc_example():
    assert accept_key('dGhlIHNhbXBsZSBub25jZQ==') == 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    assert len(new_key()) == 24 and new_key() != new_key()


@pytest.mark.parametrize('size', [0, 1, 125, 126, 65535, 65536, 70000])
@pytest.mark.parametrize('mask', [False, True])
def test_frame_round_trip(size, mask):
    payload = os.urandom(size)
    frame = encode_frame(OP_BINARY, payload, mask=mask)
    assert bool(frame[1] & 0x80) is mask
    assert FrameDecoder(require_mask=mask).feed(frame) == [(OP_BINARY, payload)]


def test_frame_header_lengths():
    assert encode_frame(OP_TEXT, b'abc') == b'\x81\x03abc'
    assert encode_frame(OP_TEXT, b'a' * 126)[:4] == b'\x81\x7e' + struct.pack('!H', 126)
    assert encode_frame(OP_TEXT, b'a' * 65536)[:10] == b'\x81\x7f' + struct.pack('!Q', 65536)


def test_decoder_byte_by_byte():
    frames = encode_frame(OP_TEXT, 'é€'.encode('utf-8'), mask=True) + encode_frame(OP_PING, b'p', mask=True)
    decoder = FrameDecoder(require_mask=True)
    messages = []
    for idx in range(len(frames)):
        messages.extend(decoder.feed(frames[idx:idx + 1]))
    assert messages == [(OP_TEXT, 'é€'.encode('utf-8')), (OP_PING, b'p')]


def test_decoder_fragmented_message_with_control_frame_inside():
    data = (encode_frame(OP_TEXT, b'hello ', fin=False) + encode_frame(OP_PING, b'x')
            + encode_frame(OP_CONTINUATION, b'big ', fin=False) + encode_frame(OP_CONTINUATION, b'world'))
    assert FrameDecoder(require_mask=False).feed(data) == [(OP_PING, b'x'), (OP_TEXT, b'hello big world')]


@pytest.mark.parametrize('data, require_mask', [
    (encode_frame(OP_TEXT, b'x'), True),  # unmasked client frame
    (bytes([0x81 | 0x40, 0x01]) + b'x', False),  # reserved bit
    (encode_frame(OP_PING, b'x', fin=False), False),  # fragmented control frame
    (encode_frame(OP_PING, b'x' * 126), False),  # control frame too long
    (encode_frame(OP_CONTINUATION, b'x'), False),  # continuation without start
    (encode_frame(OP_TEXT, b'x', fin=False) + encode_frame(OP_TEXT, b'y'), False),  # interleaved messages
    (encode_frame(0x3, b'x'), False),  # unknown opcode
])
def test_decoder_protocol_errors(data, require_mask):
    with pytest.raises(ProtocolError):
        FrameDecoder(require_mask=require_mask).feed(data)


def test_decoder_size_limit():
    decoder = FrameDecoder(require_mask=False, max_size=10)
    with pytest.raises(ProtocolError) as exc:
        decoder.feed(b'\x81\x7f' + struct.pack('!Q', 1 << 40))  # refused from the header, nothing buffered
    assert exc.value.code == 1009
    decoder = FrameDecoder(require_mask=False, max_size=10)
    with pytest.raises(ProtocolError):
        decoder.feed(encode_frame(OP_TEXT, b'x' * 6, fin=False) + encode_frame(OP_CONTINUATION, b'x' * 6))


# ---------------------------------------------------------------------------------------------------------------------
# Topic selection and message format
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('path, expected', [
    ('/', ALL_TOPICS), ('', ALL_TOPICS), ('/all', ALL_TOPICS), ('/all/', ALL_TOPICS),
    ('/process', {'process'}), ('/process,event', {'process', 'event'}), ('/event,all', ALL_TOPICS),
    ('/process?x=1', {'process'}), ('/%70rocess', {'process'}), ('/supvisors, instance', {'supvisors', 'instance'}),
    ('/unknown', None), ('/process,unknown', None), ('/process/event', None), ('/Process', None)])
def test_topics_of(path, expected):
    assert topics_of(path) == (None if expected is None else frozenset(expected))


def test_all_topics():
    assert ALL_TOPICS == frozenset(TOPICS)
    assert topics_of('/all') is ALL_TOPICS and topics_of('/') is ALL_TOPICS


def test_message_text():
    text = message_text('process', {'application_name': 'app', 'identifiers': ['s1'], 'last_event_time': 1.5})
    assert text == '{"topic": "process", "payload": {"application_name": "app", "identifiers": ["s1"], ' \
                   '"last_event_time": 1.5}}'
    assert list(json.loads(text)) == ['topic', 'payload']


# ---------------------------------------------------------------------------------------------------------------------
# Server, with a raw client
# ---------------------------------------------------------------------------------------------------------------------

@pytest.fixture
def publishers():
    made: List[WsEventPublisher] = []

    def factory(port: Optional[int] = None, logger=None, hold_back: float = 0) -> WsEventPublisher:
        publisher = WsEventPublisher(port or find_free_ports(1)[0], logger or FakeLogger(), hold_back=hold_back)
        made.append(publisher)
        return publisher

    yield factory
    for publisher in made:
        publisher.close()
        assert not publisher.thread.is_alive()


@pytest.fixture
def publisher(publishers):
    return publishers()


class RawClient:
    """ A websocket client written here, byte by byte, to check what the server sends. """

    def __init__(self, port: int, path: str = '/all', headers: Optional[str] = None):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=5)
        self.key = new_key()
        if headers is None:
            headers = (f'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n'
                       'Sec-WebSocket-Version: 13\r\n')
        self.sock.sendall(f'GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n'.encode('ascii'))
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = self.sock.recv(4096)
            assert chunk, f'connection closed during handshake: {data!r}'
            data += chunk
        head, self.leftover = data.split(b'\r\n\r\n', 1)
        self.head = head.decode('ascii')
        self.decoder = FrameDecoder(require_mask=False)
        self.pending: List[Tuple[int, bytes]] = []

    @property
    def status(self) -> str:
        return self.head.split('\r\n')[0]

    def send(self, opcode: int, payload: bytes = b'') -> None:
        self.sock.sendall(encode_frame(opcode, payload, mask=True))

    def next_message(self, timeout: float = 5) -> Tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        while not self.pending:
            data, self.leftover = self.leftover, b''
            if not data:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError('connection closed')
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def next_event(self, timeout: float = 5) -> Any:
        opcode, payload = self.next_message(timeout)
        assert opcode == OP_TEXT
        return json.loads(payload.decode('utf-8'))

    def closed_by_server(self, timeout: float = 5) -> bool:
        """ Read until the server closes the TCP connection. """
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except socket.timeout:
            return False
        except OSError:
            pass
        return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_clients():
    made: List[RawClient] = []

    def factory(*args, **kwargs) -> RawClient:
        client = RawClient(*args, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


def wait_clients(publisher: WsEventPublisher, count: int) -> None:
    """ The server registers a client once its handshake is answered: wait for it (clients set is loop-owned,
    reading its size is enough here). """
    wait_for(lambda: len(publisher.clients) == count, timeout=5, what=f'{count} clients registered')


def test_handshake_accepted(publisher, raw_clients):
    client = raw_clients(publisher.port)
    assert client.status == 'HTTP/1.1 101 Switching Protocols'
    headers = dict(line.split(': ', 1) for line in client.head.split('\r\n')[1:])
    assert headers['Upgrade'] == 'websocket' and headers['Connection'] == 'Upgrade'
    assert headers['Sec-WebSocket-Accept'] == accept_key(client.key)


@pytest.mark.parametrize('path, headers, status', [
    ('/unknown', None, 'HTTP/1.1 404 Not Found'),
    ('/all', 'Connection: close\r\n', 'HTTP/1.1 400 Bad Request'),
    ('/all', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 8\r\n',
     'HTTP/1.1 426 Upgrade Required')])
def test_handshake_refused(publisher, raw_clients, path, headers, status):
    client = raw_clients(publisher.port, path, headers)
    assert client.status == status
    assert client.closed_by_server()
    assert not publisher.clients


def test_handshake_garbage_dropped(publisher):
    with socket.create_connection(('127.0.0.1', publisher.port), timeout=5) as sock:
        sock.sendall(b'\x00' * 10000)
        sock.settimeout(5)
        try:
            while sock.recv(4096):
                pass
        except ConnectionResetError:
            pass
    assert not publisher.clients


def test_events_to_all(publisher, raw_clients):
    client = raw_clients(publisher.port)
    wait_clients(publisher, 1)
    for topic in TOPICS:
        publisher.send(topic, {'topic': topic, 'value': [1, 2.5, 'é']})
    for topic in TOPICS:
        opcode, payload = client.next_message()
        assert opcode == OP_TEXT
        assert payload == message_text(topic, {'topic': topic, 'value': [1, 2.5, 'é']}).encode('utf-8')


def test_events_selected_by_path(publisher, raw_clients):
    process_client = raw_clients(publisher.port, '/process')
    both_client = raw_clients(publisher.port, '/application,event')
    wait_clients(publisher, 2)
    for topic in TOPICS:
        publisher.send(topic, {'t': topic})
    publisher.send('process', {'t': 'last'})
    publisher.send('event', {'t': 'last'})
    assert [process_client.next_event() for _ in range(2)] == [
        {'topic': 'process', 'payload': {'t': 'process'}}, {'topic': 'process', 'payload': {'t': 'last'}}]
    assert [both_client.next_event() for _ in range(3)] == [
        {'topic': 'application', 'payload': {'t': 'application'}}, {'topic': 'event', 'payload': {'t': 'event'}},
        {'topic': 'event', 'payload': {'t': 'last'}}]


def test_ping_pong_and_close(publisher, raw_clients):
    client = raw_clients(publisher.port)
    wait_clients(publisher, 1)
    client.send(OP_PING, b'hello')
    assert client.next_message() == (OP_PONG, b'hello')
    client.send(OP_TEXT, b'ignored')
    client.send(OP_CLOSE, struct.pack('!H', 1000))
    opcode, payload = client.next_message()
    assert opcode == OP_CLOSE and struct.unpack('!H', payload[:2])[0] == 1000
    assert client.closed_by_server()
    wait_clients(publisher, 0)


def test_protocol_error_drops_client(publisher, raw_clients):
    client = raw_clients(publisher.port)
    wait_clients(publisher, 1)
    client.sock.sendall(encode_frame(OP_TEXT, b'not masked'))
    opcode, payload = client.next_message()
    assert opcode == OP_CLOSE and struct.unpack('!H', payload[:2])[0] == 1002
    assert client.closed_by_server()
    wait_clients(publisher, 0)


def test_client_gone(publisher, raw_clients):
    client = raw_clients(publisher.port)
    wait_clients(publisher, 1)
    client.close()
    wait_clients(publisher, 0)
    publisher.send('process', {})  # nobody left: nothing to do


def test_close_says_goodbye(publishers, raw_clients):
    publisher = publishers()
    client = raw_clients(publisher.port)
    wait_clients(publisher, 1)
    publisher.close()
    assert not publisher.thread.is_alive()
    opcode, payload = client.next_message()
    assert opcode == OP_CLOSE and struct.unpack('!H', payload[:2])[0] == 1001
    assert client.closed_by_server()
    assert not publisher.bound
    publisher.send('process', {})  # no effect, no error
    publisher.close()  # twice is harmless
    with pytest.raises(OSError):
        RawClient(publisher.port)


def test_bind_error(publishers):
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        logger = FakeLogger()
        publisher = publishers(busy.getsockname()[1], logger)
        assert not publisher.bound
        errors = logger.levels('error')
        assert len(errors) == 1 and 'cannot bind the event port' in errors[0]
        publisher.send('process', {})  # no effect, no error


def test_send_never_blocks(publishers, raw_clients):
    """ A client that does not read: send stays fast, the excess is dropped for that client only. """
    logger = FakeLogger()
    publisher = publishers(logger=logger)
    stuck = raw_clients(publisher.port)
    wait_clients(publisher, 1)
    payload = {'data': 'x' * 1000}
    started = time.monotonic()
    for _ in range(3 * ws_publisher.QUEUE_SIZE):
        publisher.send('process', payload)
    assert time.monotonic() - started < 10
    wait_for(lambda: logger.count('warn', 'too slow'), timeout=10, what='drop reported')
    # the stuck client is still served with what its queue held
    assert stuck.next_event() == {'topic': 'process', 'payload': payload}
    # and a new client is served normally
    fresh = raw_clients(publisher.port)
    wait_clients(publisher, 2)
    publisher.send('event', {'n': 1})
    assert fresh.next_event() == {'topic': 'event', 'payload': {'n': 1}}


def test_send_unserializable_payload(publisher, raw_clients):
    client = raw_clients(publisher.port)
    wait_clients(publisher, 1)
    publisher.send('process', {'bad': object()})
    publisher.send('process', {'good': True})
    assert client.next_event() == {'topic': 'process', 'payload': {'good': True}}
    assert publisher.logger.count('error', 'cannot be serialized') == 1


def test_hold_back(publishers):
    """ The events of the first moments wait for the clients that connect right after the bind. """
    port = find_free_ports(1)[0]
    publisher = publishers(port, hold_back=0.5)
    publisher.send('supvisors', {'fsm_statename': 'INITIALIZATION'})
    publisher.send('supvisors', {'fsm_statename': 'DEPLOYMENT'})
    client = RawClient(port)
    try:
        assert client.next_event() == {'topic': 'supvisors', 'payload': {'fsm_statename': 'INITIALIZATION'}}
        assert client.next_event() == {'topic': 'supvisors', 'payload': {'fsm_statename': 'DEPLOYMENT'}}
    finally:
        client.close()


def test_default_hold_back():
    assert ws_publisher.HOLD_BACK == 0.5


# ---------------------------------------------------------------------------------------------------------------------
# Client thread
# ---------------------------------------------------------------------------------------------------------------------

class Recorder(CallbackRecorder, SupvisorsWsEventInterface):
    """ Records the callbacks called. """


@pytest.fixture
def interfaces():
    made: List[SupvisorsWsEventInterface] = []

    def factory(port: int, klass=Recorder, logger=None, **kwargs) -> SupvisorsWsEventInterface:
        interface = klass(port, logger or FakeLogger(), **kwargs)
        made.append(interface)
        interface.start()
        return interface

    yield factory
    for interface in made:
        interface.stop()
    for interface in made:
        interface.join(5)
        assert not interface.is_alive()


def test_interface_attributes():
    logger = FakeLogger()
    interface = SupvisorsWsEventInterface(7777, logger)
    assert isinstance(interface, threading.Thread)
    assert interface.event_port == 7777 and interface.logger is logger
    assert interface.url == 'ws://127.0.0.1:7777/all'
    assert isinstance(interface.stop_event, threading.Event)
    assert SupvisorsWsEventInterface._Poll_timeout == 500
    interface = SupvisorsWsEventInterface(7777, logger, topics=['process', 'event'], host='localhost')
    assert interface.url == 'ws://localhost:7777/process,event'


def test_interface_dispatch(publisher, interfaces):
    interface = interfaces(publisher.port)
    assert interface.connected.wait(5)
    wait_clients(publisher, 1)
    for topic in TOPICS:
        publisher.send(topic, {'topic': topic})
    expected = [('on_supvisors_status', {'topic': 'supvisors'}), ('on_instance_status', {'topic': 'instance'}),
                ('on_application_status', {'topic': 'application'}), ('on_process_event', {'topic': 'event'}),
                ('on_process_status', {'topic': 'process'})]
    wait_for(lambda: interface.snapshot() == expected, timeout=5, what='dispatch')


def test_interface_topics(publisher, interfaces):
    interface = interfaces(publisher.port, topics=['application', 'process'])
    wait_clients(publisher, 1)
    for topic in TOPICS:
        publisher.send(topic, {'topic': topic})
    expected = [('on_application_status', {'topic': 'application'}), ('on_process_status', {'topic': 'process'})]
    wait_for(lambda: interface.snapshot() == expected, timeout=5, what='dispatch')


def test_interface_unknown_topic(publisher, interfaces):
    interface = interfaces(publisher.port)
    wait_clients(publisher, 1)
    publisher.send('hstats', {'cpu': 1})
    publisher.send('process', {'n': 1})
    wait_for(lambda: interface.snapshot() == [('on_process_status', {'n': 1})], timeout=5, what='dispatch')
    errors = interface.logger.levels('error')
    assert len(errors) == 1 and 'hstats' in errors[0]


def test_interface_bad_messages_logged():
    interface = Recorder(7777, FakeLogger())
    assert interface._handle(None, [(OP_TEXT, b'{not json'), (OP_TEXT, b'{"topic": "process"}'), (OP_TEXT, b'[1]'),
                                    (OP_TEXT, b'\xff'), (OP_TEXT, b'{"topic": "process", "payload": 3}')])
    assert len(interface.logger.levels('error')) == 4
    assert interface.snapshot() == [('on_process_status', 3)]


def test_interface_default_callbacks_log(publisher, interfaces):
    logger = FakeLogger()
    interfaces(publisher.port, SupvisorsWsEventInterface, logger)
    wait_clients(publisher, 1)
    for topic in TOPICS:
        publisher.send(topic, {'topic': topic})
    wait_for(lambda: all(logger.count('info', f"'topic': '{topic}'") for topic in TOPICS), timeout=5,
             what='payloads logged')


def test_interface_started_before_server(publishers, interfaces):
    """ The client tries again until the server exists, and gets the first events (hold-back). """
    port = find_free_ports(1)[0]
    interface = interfaces(port)
    time.sleep(0.3)  # not a synchronisation: the client has failed a few times
    assert not interface.connected.is_set()
    publisher = publishers(port, hold_back=0.5)
    publisher.send('supvisors', {'fsm_statename': 'INITIALIZATION'})
    wait_for(lambda: interface.snapshot() == [('on_supvisors_status', {'fsm_statename': 'INITIALIZATION'})],
             timeout=5, what='first event')
    assert interface.logger.count('warn', 'cannot connect') == 1  # said once, not at every attempt


def test_interface_reconnects(publishers, interfaces):
    publisher = publishers()
    port = publisher.port
    interface = interfaces(port)
    assert interface.connected.wait(5)
    publisher.close()
    wait_for(lambda: not interface.connected.is_set(), timeout=5, what='disconnection seen')
    publisher = publishers(port)
    assert interface.connected.wait(5)
    wait_clients(publisher, 1)
    publisher.send('process', {'n': 2})
    wait_for(lambda: interface.snapshot() == [('on_process_status', {'n': 2})], timeout=5, what='event')


def test_interface_refused(publisher, interfaces):
    interface = interfaces(publisher.port, topics=['bad'])
    interface.join(5)
    assert not interface.is_alive()
    assert interface.logger.count('error', '404 Not Found') == 1


def test_interface_stop(publisher, interfaces, raw_clients):
    interface = interfaces(publisher.port)
    assert interface.connected.wait(5)
    wait_clients(publisher, 1)
    started = time.monotonic()
    interface.stop()
    interface.join(5)
    assert not interface.is_alive() and time.monotonic() - started < 2
    # the client said goodbye: the server forgets it
    wait_clients(publisher, 0)


def test_wssubscriber_main(monkeypatch):
    created = []

    class FakeInterface:
        def __init__(self, port, logger, topics):
            created.append(self)
            self.args = (port, topics)
            self.calls = []

        def start(self):
            self.calls.append('start')

        def stop(self):
            self.calls.append('stop')

        def join(self):
            self.calls.append('join')

    sleeps = []
    monkeypatch.setattr(wssubscriber, 'SupvisorsWsEventInterface', FakeInterface)
    monkeypatch.setattr(wssubscriber, 'create_logger', lambda: FakeLogger())
    monkeypatch.setattr(wssubscriber.time, 'sleep', sleeps.append)
    wssubscriber.main([])
    wssubscriber.main(['-p', '7777', '-s', '3', '-t', 'process', 'event'])
    assert [x.args for x in created] == [(60002, None), (7777, ['process', 'event'])]
    assert sleeps == [10, 3]
    assert all(x.calls == ['start', 'stop', 'join'] for x in created)
