"""A thread that receives the Supvisors events (event_link = ZMQ) and hands them to overridable callbacks.

Typical use::

    from supvisors.client.zmqsubscriber import *

    class MyInterface(SupvisorsZmqEventInterface):
        def on_process_status(self, data):
            ...

    iface = MyInterface(zmq.Context.instance(), 60002, create_logger())
    iface.subscriber.subscribe_process_status()
    iface.start()
    ...
    iface.stop()
    iface.join()

Run as a script, the module prints every event received during a few seconds:
``python -m supvisors.client.zmqsubscriber -p 60002 -s 10``.
"""

import argparse
import threading
import time
from typing import Any, List, Optional

import zmq
from supervisor.loggers import LevelsByName  # noqa: F401 - re-exported for user code

from supvisors.client.clientutils import EventCallbacks, EventHeaders, create_logger  # noqa: F401 - re-exported
from supvisors.supvisorszmq import EventSubscriber

# no __all__: a star import gives user code zmq (for zmq.Context.instance()), LevelsByName, create_logger...


class SupvisorsZmqEventInterface(threading.Thread, EventCallbacks):
    """ Receive the events of one Supvisors instance in a thread and dispatch them to the on_* callbacks.

    The subscriber exists from construction, so that subscriptions are made before the thread starts (e.g.
    ``iface.subscriber.subscribe_all()``). The socket is polled with a timeout, so that stop() is honoured within
    _Poll_timeout milliseconds even when no event comes. The socket is closed by the thread when it ends, as a
    ZeroMQ socket must not be used by several threads.
    """

    _Poll_timeout = 500  # milliseconds

    def __init__(self, zmq_context: zmq.Context, event_port: int, logger: Any):
        threading.Thread.__init__(self)
        self.zmq_context = zmq_context
        self.event_port = event_port
        self.logger = logger
        self.subscriber = EventSubscriber(zmq_context, event_port, logger)
        self.stop_event = threading.Event()

    def stop(self) -> None:
        """ Ask the thread to end (within _Poll_timeout). """
        self.stop_event.set()

    def run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.subscriber.socket, zmq.POLLIN)
        self.logger.info('SupvisorsZmqEventInterface.run: entering main loop')
        try:
            while not self.stop_event.is_set():
                events = dict(poller.poll(self._Poll_timeout))
                if events.get(self.subscriber.socket, 0) & zmq.POLLIN:
                    self._receive()
        finally:
            poller.unregister(self.subscriber.socket)
            self.subscriber.close()
            self.logger.info('SupvisorsZmqEventInterface.run: exiting main loop')

    def _receive(self) -> None:
        try:
            header, body = self.subscriber.receive()
        except zmq.ZMQError as exc:
            self.logger.error(f'SupvisorsZmqEventInterface: failed to get data from subscriber: {exc}')
            return
        except ValueError as exc:  # payload that is not JSON: drop it, keep listening
            self.logger.error(f'SupvisorsZmqEventInterface: invalid message received: {exc}')
            return
        self.dispatch(header, body)


def main(args: Optional[List[str]] = None) -> None:
    """ Print every event published on the port for a while. """
    parser = argparse.ArgumentParser(description='Start a subscriber to Supvisors events.')
    parser.add_argument('-p', '--port', type=int, default=60002, help='the event port of Supvisors')
    parser.add_argument('-s', '--sleep', type=int, metavar='SEC', default=10,
                        help='the duration of the subscription')
    options = parser.parse_args(args)
    interface = SupvisorsZmqEventInterface(zmq.Context.instance(), options.port, create_logger())
    interface.subscriber.subscribe_all()
    interface.start()
    time.sleep(options.sleep)
    interface.stop()
    interface.join()


if __name__ == '__main__':
    main()
