"""External event interface: a PyZMQ PUB socket on 127.0.0.1:<event_port>, two-part messages (topic, JSON)."""

import json
import threading
from typing import Any, Dict, List, Optional, Tuple

# The events of the first moments after the bind are held back for this long (seconds), then sent in order.
# A SUB socket connected before the instance started retries its connection every 100 ms (ZeroMQ default): without
# this delay it would always miss the first events (the INITIALIZATION state is published right after the bind).
HOLD_BACK = 0.5


class ZmqEventPublisher:
    """ Publication never blocks: a PUB socket drops what its subscribers cannot take.

    The socket is used by the caller's thread, and once by the timer thread that ends the hold-back: the lock
    serializes these uses (a ZeroMQ socket may change threads with a memory barrier in between). """

    def __init__(self, port: int, logger, hold_back: float = HOLD_BACK):
        self.logger = logger
        self.context = None
        self.socket = None
        self._lock = threading.Lock()
        self._held: Optional[List[Tuple[str, bytes]]] = None
        self._timer: Optional[threading.Timer] = None
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
            return
        if hold_back > 0:
            self._held = []
            self._timer = threading.Timer(hold_back, self._release)
            self._timer.daemon = True
            self._timer.start()

    def send(self, topic: str, payload: Dict[str, Any]) -> None:
        if self.socket is None:
            return
        body = json.dumps(payload).encode('utf-8')
        with self._lock:
            if self._held is not None:
                self._held.append((topic, body))
            elif self.socket is not None:
                self._send(topic, body)

    def _send(self, topic: str, body: bytes) -> None:
        try:
            self.socket.send_string(topic, self._sndmore | self._noblock)
            self.socket.send(body, self._noblock)
        except self._error as exc:
            self.logger.debug(f'ZmqEventPublisher: event {topic} not sent: {exc}')

    def _release(self) -> None:
        """ End of the hold-back: send what was held, in order. """
        with self._lock:
            held, self._held = self._held, None
            if self.socket is not None:
                for topic, body in held or []:
                    self._send(topic, body)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._held = None
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
    if event_link == EventLinks.WS:
        from .ws_publisher import WsEventPublisher
        return WsEventPublisher(port, logger)
    return None
