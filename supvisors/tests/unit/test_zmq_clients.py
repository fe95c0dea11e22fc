"""The Python clients of the PyZMQ event interface (supvisors.supvisorszmq, supvisors.client.zmqsubscriber),
against a PUB socket made here that frames the events as the Supvisors publisher does."""

import inspect
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Tuple

import pytest
import zmq
from supervisor.loggers import LevelsByName

from supvisors.adapters.event_publisher import ZmqEventPublisher
from supvisors.client import zmqsubscriber
from supvisors.client.zmqsubscriber import SupvisorsZmqEventInterface, create_logger
from supvisors.supvisorszmq import EventSubscriber
from supvisors.tests.unit.fakes import CallbackRecorder, FakeLogger
from supvisors.tools.localfleet import find_free_ports, wait_for

TOPICS = ('supvisors', 'instance', 'application', 'event', 'process')
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def context():
    ctx = zmq.Context()
    yield ctx
    ctx.term()


@pytest.fixture
def publisher(context):
    """ A PUB socket on 127.0.0.1 and its port. """
    socket = context.socket(zmq.PUB)
    socket.setsockopt(zmq.LINGER, 0)
    port = socket.bind_to_random_port('tcp://127.0.0.1')
    yield socket, port
    socket.close(0)


@pytest.fixture
def subscriber(context, publisher):
    sub = EventSubscriber(context, publisher[1], FakeLogger())
    yield sub
    if not sub.socket.closed:
        sub.close()


def publish(socket: zmq.Socket, topic: str, payload: Any) -> None:
    """ The framing of the Supvisors publisher. """
    socket.send_string(topic, zmq.SNDMORE)
    socket.send_json(payload)


def drain(subscriber: EventSubscriber, timeout_ms: int = 50) -> List[Tuple[str, Any]]:
    received = []
    while subscriber.socket.poll(timeout_ms):
        received.append(subscriber.receive())
    return received


def receive_n(subscriber: EventSubscriber, count: int, timeout_ms: int = 5000) -> List[Tuple[str, Any]]:
    """ The next count events, then checks that nothing else comes shortly. """
    received = []
    for _ in range(count):
        assert subscriber.socket.poll(timeout_ms), f'only {received} received'
        received.append(subscriber.receive())
    assert not subscriber.socket.poll(50), 'unexpected extra event'
    return received


def synchronize(socket: zmq.Socket, subscriber: EventSubscriber, topic: str = 'supvisors') -> None:
    """ Wait until the subscription is effective (ZeroMQ slow joiner): publish probes until one arrives, then
    forget every probe. The topic must be subscribed. """
    def probe() -> bool:
        publish(socket, topic, {'probe': True})
        return subscriber.socket.poll(20) != 0
    wait_for(probe, timeout=5, interval=0, what='subscription effective')
    drain(subscriber)


# ---------------------------------------------------------------------------------------------------------------------
# EventSubscriber
# ---------------------------------------------------------------------------------------------------------------------

def test_subscriber_creation(context, publisher):
    logger = FakeLogger()
    sub = EventSubscriber(context, publisher[1], logger)
    try:
        assert sub.logger is logger
        assert isinstance(sub.socket, zmq.Socket)
        assert sub.socket.type == zmq.SUB
        assert sub.socket.context is context
    finally:
        sub.close()


def test_subscribe_all_and_receive(publisher, subscriber):
    socket, _ = publisher
    subscriber.subscribe_all()
    synchronize(socket, subscriber)
    payloads = {topic: {'topic': topic, 'value': idx, 'list': ['a', 'b'], 'float': 1.5}
                for idx, topic in enumerate(TOPICS)}
    for topic, payload in payloads.items():
        publish(socket, topic, payload)
    received = receive_n(subscriber, len(payloads))
    assert received == list(payloads.items())
    for header, body in received:
        assert type(header) is str and type(body) is dict


@pytest.mark.parametrize('method, topic', [('subscribe_supvisors_status', 'supvisors'),
                                           ('subscribe_instance_status', 'instance'),
                                           ('subscribe_application_status', 'application'),
                                           ('subscribe_process_event', 'event'),
                                           ('subscribe_process_status', 'process')])
def test_subscribe_one_topic(publisher, subscriber, method, topic):
    socket, _ = publisher
    getattr(subscriber, method)()
    synchronize(socket, subscriber, topic)
    for other in TOPICS:
        publish(socket, other, {'from': other})
    assert drain(subscriber, 200) == [(topic, {'from': topic})]


class RecordingSocket:
    """ Records the socket options set, in place of the PyZMQ socket. """

    def __init__(self):
        self.options: List[Tuple[int, bytes]] = []
        self.closed_with = None

    def setsockopt(self, option: int, value: bytes) -> None:
        self.options.append((option, value))

    def close(self, linger=None) -> None:
        self.closed_with = linger


@pytest.mark.parametrize('name, prefix', [('all', b''), ('supvisors_status', b'supvisors'),
                                          ('instance_status', b'instance'),
                                          ('application_status', b'application'), ('process_event', b'event'),
                                          ('process_status', b'process')])
def test_subscription_prefixes(subscriber, name, prefix):
    real, subscriber.socket = subscriber.socket, RecordingSocket()
    try:
        getattr(subscriber, f'subscribe_{name}')()
        getattr(subscriber, f'unsubscribe_{name}')()
        assert subscriber.socket.options == [(zmq.SUBSCRIBE, prefix), (zmq.UNSUBSCRIBE, prefix)]
    finally:
        subscriber.socket = real


def test_subscribe_arbitrary_code_utf8(subscriber):
    real, subscriber.socket = subscriber.socket, RecordingSocket()
    try:
        subscriber.subscribe('procé')
        subscriber.unsubscribe('procé')
        assert subscriber.socket.options == [(zmq.SUBSCRIBE, 'procé'.encode('utf-8')),
                                             (zmq.UNSUBSCRIBE, 'procé'.encode('utf-8'))]
    finally:
        subscriber.socket = real


def test_subscribe_prefix_filtering(publisher, subscriber):
    """ A subscription is a prefix of the topic frame. """
    socket, _ = publisher
    subscriber.subscribe('proc')
    synchronize(socket, subscriber, 'process')
    for topic in TOPICS:
        publish(socket, topic, {})
    assert drain(subscriber, 200) == [('process', {})]


def test_unsubscribe(publisher, subscriber):
    socket, _ = publisher
    subscriber.subscribe_process_status()
    subscriber.subscribe_process_event()
    synchronize(socket, subscriber, 'process')
    subscriber.unsubscribe_process_status()

    # the unsubscription travels to the publisher too: wait until process events stop coming
    def unsubscribed() -> bool:
        publish(socket, 'process', {'n': 1})
        publish(socket, 'event', {'n': 2})
        return drain(subscriber, 50)[-1:] == [('event', {'n': 2})] and \
            ('process', {'n': 1}) not in drain(subscriber, 20)
    wait_for(unsubscribed, timeout=5, interval=0, what='unsubscription effective')
    publish(socket, 'process', {'n': 3})
    publish(socket, 'event', {'n': 4})
    assert drain(subscriber, 200) == [('event', {'n': 4})]


def test_unsubscribe_all_keeps_other_subscriptions(publisher, subscriber):
    socket, _ = publisher
    subscriber.subscribe_all()
    subscriber.subscribe_application_status()
    synchronize(socket, subscriber, 'application')
    subscriber.unsubscribe_all()

    def unsubscribed() -> bool:
        publish(socket, 'instance', {})
        publish(socket, 'application', {})
        return drain(subscriber, 50) == [('application', {})]
    wait_for(unsubscribed, timeout=5, interval=0, what='unsubscription effective')


def test_receive_blocks_until_an_event(publisher, subscriber):
    socket, _ = publisher
    subscriber.subscribe_all()
    synchronize(socket, subscriber)
    result = []
    thread = threading.Thread(target=lambda: result.append(subscriber.receive()))
    thread.start()
    time.sleep(0.1)  # not a synchronisation: checks that receive is still waiting
    assert thread.is_alive() and not result
    publish(socket, 'instance', {'identifier': 's1'})
    thread.join(5)
    assert result == [('instance', {'identifier': 's1'})]


def test_close(subscriber):
    socket = subscriber.socket
    subscriber.close()
    assert socket.closed


def test_close_linger_zero(subscriber):
    real, subscriber.socket = subscriber.socket, RecordingSocket()
    try:
        subscriber.close()
        assert subscriber.socket.closed_with == 0
    finally:
        subscriber.socket = real


def test_receives_the_supvisors_publisher(context):
    """ Against the real publisher: same framing (topic, then JSON with json.dumps default separators). """
    port = find_free_ports(1)[0]
    logger = FakeLogger()
    server = ZmqEventPublisher(port, logger, hold_back=0)
    sub = EventSubscriber(context, port, FakeLogger())
    raw = context.socket(zmq.SUB)
    raw.setsockopt(zmq.SUBSCRIBE, b'')
    raw.connect(f'tcp://127.0.0.1:{port}')
    try:
        sub.subscribe_all()

        def probe() -> bool:
            server.send('supvisors', {'probe': True})
            return sub.socket.poll(20) != 0 and raw.poll(20) != 0
        wait_for(probe, timeout=5, interval=0, what='subscription effective')
        drain(sub)
        while raw.poll(50):
            raw.recv_multipart()
        payload = {'name': 'x', 'group': 'g', 'state': 20, 'now': 1.5, 'identifier': 's1'}
        server.send('event', payload)
        assert receive_n(sub, 1) == [('event', payload)]
        assert raw.recv_multipart() == [b'event', json.dumps(payload).encode('utf-8')]
    finally:
        raw.close(0)
        sub.close()
        server.close()


def test_publisher_holds_back_the_first_events(context):
    """ A subscriber connected before the publisher binds gets the events published right after the bind. """
    port = find_free_ports(1)[0]
    sub = EventSubscriber(context, port, FakeLogger())
    sub.subscribe_all()
    server = ZmqEventPublisher(port, FakeLogger())
    try:
        for idx in range(3):
            server.send('supvisors', {'idx': idx})
        assert receive_n(sub, 3) == [('supvisors', {'idx': idx}) for idx in range(3)]
    finally:
        sub.close()
        server.close()


# ---------------------------------------------------------------------------------------------------------------------
# SupvisorsZmqEventInterface
# ---------------------------------------------------------------------------------------------------------------------

class Recorder(CallbackRecorder, SupvisorsZmqEventInterface):
    """ Records the callbacks called. """


@pytest.fixture
def interfaces(context):
    made: List[SupvisorsZmqEventInterface] = []

    def factory(port: int, klass=Recorder, logger=None) -> SupvisorsZmqEventInterface:
        interface = klass(context, port, logger or FakeLogger())
        made.append(interface)
        return interface

    yield factory
    for interface in made:
        interface.stop()
        if interface.is_alive():
            interface.join(5)
        if not interface.subscriber.socket.closed:
            interface.subscriber.close()


def start_synchronized(socket: zmq.Socket, interface: Recorder) -> None:
    """ Start the thread and wait until the events flow; forget the probes. """
    interface.subscriber.subscribe_all()
    interface.start()

    def probe() -> bool:
        publish(socket, 'supvisors', {'probe': True})
        return bool(interface.snapshot())
    wait_for(probe, timeout=5, interval=0.02, what='events flowing')
    time.sleep(0.05)  # not a synchronisation: lets the last probes in before forgetting them
    with interface.lock:
        interface.calls.clear()


def test_interface_attributes(context, publisher, interfaces):
    logger = FakeLogger()
    interface = interfaces(publisher[1], SupvisorsZmqEventInterface, logger)
    assert isinstance(interface, threading.Thread)
    assert interface.zmq_context is context
    assert interface.event_port == publisher[1]
    assert interface.logger is logger
    assert isinstance(interface.subscriber, EventSubscriber)
    assert interface.subscriber.logger is logger
    assert isinstance(interface.stop_event, threading.Event) and not interface.stop_event.is_set()
    assert SupvisorsZmqEventInterface._Poll_timeout == 500
    assert not interface.is_alive()


def test_interface_dispatch(publisher, interfaces):
    socket, port = publisher
    interface = interfaces(port)
    start_synchronized(socket, interface)
    for topic in TOPICS:
        publish(socket, topic, {'topic': topic})
    expected = [('on_supvisors_status', {'topic': 'supvisors'}), ('on_instance_status', {'topic': 'instance'}),
                ('on_application_status', {'topic': 'application'}), ('on_process_event', {'topic': 'event'}),
                ('on_process_status', {'topic': 'process'})]
    assert wait_for(lambda: interface.snapshot() == expected and expected, timeout=5, what='dispatch')


def test_interface_unknown_header_dropped(publisher, interfaces):
    socket, port = publisher
    interface = interfaces(port)
    start_synchronized(socket, interface)
    publish(socket, 'statistics', {'cpu': 1})
    publish(socket, 'process', {'n': 1})
    wait_for(lambda: interface.snapshot() == [('on_process_status', {'n': 1})], timeout=5, what='dispatch')
    errors = interface.logger.levels('error')
    assert len(errors) == 1 and 'statistics' in errors[0]


def test_interface_default_callbacks_log_at_info(publisher, interfaces):
    socket, port = publisher
    logger = FakeLogger()
    interface = interfaces(port, SupvisorsZmqEventInterface, logger)
    interface.subscriber.subscribe_all()
    interface.start()

    def logged() -> bool:
        for topic in TOPICS:
            publish(socket, topic, {'topic': topic})
        messages = logger.levels('info')
        return all(any(f"'topic': '{topic}'" in message for message in messages) for topic in TOPICS)
    wait_for(logged, timeout=5, interval=0.02, what='every payload logged')
    assert not logger.levels('error')


def test_interface_stop_closes_subscriber(publisher, interfaces):
    _, port = publisher
    interface = interfaces(port)
    interface.start()
    started = time.monotonic()
    interface.stop()
    assert interface.stop_event.is_set()
    interface.join(5)
    assert not interface.is_alive()
    assert time.monotonic() - started < 2  # within a poll timeout
    assert interface.subscriber.socket.closed


def test_interface_zmq_error_logged(publisher, interfaces):
    socket, port = publisher
    interface = interfaces(port)
    start_synchronized(socket, interface)

    def failing_receive():
        raise zmq.ZMQError(zmq.EAGAIN)
    interface.subscriber.receive = failing_receive
    publish(socket, 'process', {})
    wait_for(lambda: interface.logger.levels('error'), timeout=5, what='error logged')
    assert interface.is_alive()  # an error does not stop the thread
    interface.stop()
    interface.join(5)
    assert not interface.is_alive()


def test_interface_invalid_json_logged(publisher, interfaces):
    socket, port = publisher
    interface = interfaces(port)
    start_synchronized(socket, interface)
    socket.send_multipart([b'process', b'{not json'])
    publish(socket, 'process', {'n': 2})
    wait_for(lambda: interface.snapshot() == [('on_process_status', {'n': 2})], timeout=5, what='next event')
    assert len(interface.logger.levels('error')) == 1


# ---------------------------------------------------------------------------------------------------------------------
# create_logger, module contents, script
# ---------------------------------------------------------------------------------------------------------------------

def close_files(logger) -> None:
    """ Close the file handlers only: the stdout handler holds pytest's capture stream. """
    for handler in logger.handlers:
        if hasattr(handler, 'baseFilename'):
            handler.close()


def test_create_logger_signature():
    parameters = inspect.signature(create_logger).parameters
    assert {name: param.default for name, param in parameters.items()} == {
        'logfile': 'subscriber.log', 'loglevel': LevelsByName.INFO, 'fmt': '%(asctime)s;%(levelname)s;%(message)s\n',
        'rotating': True, 'maxbytes': 10485760, 'backups': 1, 'stdout': True}


def test_create_logger_writes_file_and_stdout(tmp_path, capsys):
    logfile = str(tmp_path / 'sub.log')
    logger = create_logger(logfile=logfile, loglevel=LevelsByName.DEBG)
    try:
        logger.debug('hello debug')
        logger.blather('not shown')
        assert logger.level == LevelsByName.DEBG
        assert hasattr(logger, 'warn') and hasattr(logger, 'trace')
    finally:
        close_files(logger)
    with open(logfile) as stream:
        lines = stream.read().splitlines()
    assert len(lines) == 1 and lines[0].endswith(';DEBG;hello debug')
    assert 'hello debug' in capsys.readouterr().out


def test_create_logger_without_stdout(tmp_path, capsys):
    logfile = str(tmp_path / 'sub.log')
    logger = create_logger(logfile=logfile, stdout=False, rotating=True, maxbytes=200, backups=1)
    try:
        for idx in range(20):
            logger.info(f'message {idx}')
    finally:
        close_files(logger)
    assert capsys.readouterr().out == ''
    assert os.path.exists(logfile + '.1')  # rotated


def test_module_exports_zmq():
    namespace: Dict[str, Any] = {}
    exec('from supvisors.client.zmqsubscriber import *', namespace)
    assert namespace['zmq'] is zmq
    assert namespace['create_logger'] is create_logger
    assert namespace['SupvisorsZmqEventInterface'] is SupvisorsZmqEventInterface
    assert zmqsubscriber.zmq is zmq


def test_main_options(monkeypatch):
    created = []

    class FakeInterface:
        def __init__(self, zmq_context, port, logger):
            created.append(self)
            self.port = port
            self.calls = []
            self.subscriber = self

        def subscribe_all(self):
            self.calls.append('subscribe_all')

        def start(self):
            self.calls.append('start')

        def stop(self):
            self.calls.append('stop')

        def join(self):
            self.calls.append('join')

    sleeps = []
    monkeypatch.setattr(zmqsubscriber, 'SupvisorsZmqEventInterface', FakeInterface)
    monkeypatch.setattr(zmqsubscriber, 'create_logger', lambda: FakeLogger())
    monkeypatch.setattr(zmqsubscriber.time, 'sleep', sleeps.append)
    zmqsubscriber.main([])
    zmqsubscriber.main(['-p', '7777', '-s', '3'])
    zmqsubscriber.main(['--port', '8888', '--sleep', '4'])
    assert [x.port for x in created] == [60002, 7777, 8888]
    assert sleeps == [10, 3, 4]
    assert all(x.calls == ['subscribe_all', 'start', 'stop', 'join'] for x in created)


def test_run_as_script(tmp_path, publisher):
    """ python -m supvisors.client.zmqsubscriber -p PORT -s 1 logs the events received, then ends. """
    socket, port = publisher
    process = subprocess.Popen([sys.executable, '-m', 'supvisors.client.zmqsubscriber', '-p', str(port), '-s', '2'],
                               cwd=str(tmp_path), env={**os.environ, 'PYTHONPATH': ROOT},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    logfile = tmp_path / 'subscriber.log'
    try:
        def logged() -> bool:
            publish(socket, 'application', {'application_name': 'app'})
            return logfile.exists() and "{'application_name': 'app'}" in logfile.read_text()
        wait_for(logged, timeout=10, interval=0.05, what='event logged by the script')
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert b'got Application Status message' in out
