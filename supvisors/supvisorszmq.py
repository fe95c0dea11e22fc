"""Subscriber side of the Supvisors event interface (PyZMQ).

Every Supvisors instance configured with ``event_link = ZMQ`` publishes its own view of the fleet on a PUB socket
bound to ``tcp://127.0.0.1:<event_port>``. Each event is a 2-part message: the topic (UTF-8 string), then the
payload (JSON object). The topic frame comes first so that ZeroMQ prefix filtering selects the events.
"""

from typing import Any, Tuple

import zmq

from supvisors.client.clientutils import EVENT_HEADERS, EventHeaders

__all__ = ['EventHeaders', 'EVENT_HEADERS', 'EventSubscriber']


class EventSubscriber:
    """ A SUB socket connected to the event port of one Supvisors instance.

    Nothing is received until at least one subscription is made (ZeroMQ SUB semantics). Subscriptions are prefixes
    of the topic frame, so the empty prefix selects everything.
    """

    def __init__(self, zmq_context: zmq.Context, port: int, logger: Any):
        self.logger = logger
        self.socket = zmq_context.socket(zmq.SUB)
        url = f'tcp://127.0.0.1:{port}'
        self.logger.info(f'EventSubscriber: connecting to {url}')
        self.socket.connect(url)

    # ------------------------------------------------------------------ subscriptions
    def subscribe_all(self) -> None:
        """ Subscribe to every event. """
        self.socket.setsockopt(zmq.SUBSCRIBE, b'')

    def subscribe_supvisors_status(self) -> None:
        self.subscribe(EventHeaders.SUPVISORS)

    def subscribe_instance_status(self) -> None:
        self.subscribe(EventHeaders.INSTANCE)

    def subscribe_application_status(self) -> None:
        self.subscribe(EventHeaders.APPLICATION)

    def subscribe_process_event(self) -> None:
        self.subscribe(EventHeaders.PROCESS_EVENT)

    def subscribe_process_status(self) -> None:
        self.subscribe(EventHeaders.PROCESS_STATUS)

    def subscribe(self, code: str) -> None:
        """ Subscribe to the events whose topic starts with code. """
        self.socket.setsockopt(zmq.SUBSCRIBE, code.encode('utf-8'))

    def unsubscribe_all(self) -> None:
        """ Remove the subscription made by subscribe_all (the other subscriptions are kept). """
        self.socket.setsockopt(zmq.UNSUBSCRIBE, b'')

    def unsubscribe_supvisors_status(self) -> None:
        self.unsubscribe(EventHeaders.SUPVISORS)

    def unsubscribe_instance_status(self) -> None:
        self.unsubscribe(EventHeaders.INSTANCE)

    def unsubscribe_application_status(self) -> None:
        self.unsubscribe(EventHeaders.APPLICATION)

    def unsubscribe_process_event(self) -> None:
        self.unsubscribe(EventHeaders.PROCESS_EVENT)

    def unsubscribe_process_status(self) -> None:
        self.unsubscribe(EventHeaders.PROCESS_STATUS)

    def unsubscribe(self, code: str) -> None:
        """ Remove a subscription made with the same code. """
        self.socket.setsockopt(zmq.UNSUBSCRIBE, code.encode('utf-8'))

    # ------------------------------------------------------------------ reception
    def receive(self) -> Tuple[str, Any]:
        """ Block until an event arrives and return (topic, payload). """
        return self.socket.recv_string(), self.socket.recv_json()

    def close(self) -> None:
        """ Close the socket at once, dropping what is still queued. """
        self.socket.close(linger=0)
