"""External event interface: a PyZMQ PUB socket on 127.0.0.1:<event_port>, two-part messages (topic, JSON)."""

import json
from typing import Any, Dict, Optional


class ZmqEventPublisher:
    """ Publication never blocks: a PUB socket drops what its subscribers cannot take. """

    def __init__(self, port: int, logger):
        self.logger = logger
        self.context = None
        self.socket = None
        try:
            import zmq
        except ImportError:
            logger.error('ZmqEventPublisher: pyzmq is not installed: no event published')
            return
        try:
            self.context = zmq.Context()
            self.socket = self.context.socket(zmq.PUB)
            self.socket.setsockopt(zmq.LINGER, 0)
            self.socket.bind(f'tcp://127.0.0.1:{port}')
            self._sndmore = zmq.SNDMORE
            self._noblock = zmq.NOBLOCK
            self._error = zmq.ZMQError
        except Exception as exc:
            logger.error(f'ZmqEventPublisher: cannot bind the event port {port}: {exc}')
            self.close()

    def send(self, topic: str, payload: Dict[str, Any]) -> None:
        if self.socket is None:
            return
        try:
            self.socket.send_string(topic, self._sndmore | self._noblock)
            self.socket.send(json.dumps(payload).encode('utf-8'), self._noblock)
        except self._error as exc:
            self.logger.debug(f'ZmqEventPublisher: event {topic} not sent: {exc}')

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close(0)
            self.socket = None
        if self.context is not None:
            self.context.term()
            self.context = None


def create_event_publisher(event_link: int, port: int, logger) -> Optional[ZmqEventPublisher]:
    from ..ttypes import EventLinks
    if event_link == EventLinks.ZMQ:
        return ZmqEventPublisher(port, logger)
    return None
