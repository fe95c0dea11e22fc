"""Example: print the process states published by a Supvisors instance whose event_link is ZMQ.

Run it with the event port of the instance: ``python zmq_client.py 60002 30`` (port, seconds).
Checked by supvisors/tests/unit/test_docs.py against the real PyZMQ publisher.
"""

import sys
import time

import zmq

from supvisors.client.zmqsubscriber import SupvisorsZmqEventInterface, create_logger


class ProcessPrinter(SupvisorsZmqEventInterface):
    """ Receive the events in a thread; only the callbacks of interest are overridden (the others log). """

    def on_process_status(self, data):
        print(f"{data['application_name']}:{data['process_name']} is {data['statename']}", flush=True)


def listen(event_port: int, seconds: float, logger=None) -> None:
    printer = ProcessPrinter(zmq.Context.instance(), event_port, logger or create_logger())
    # subscriptions are made before the thread starts; subscribe_all() would take every topic
    printer.subscriber.subscribe_process_status()
    printer.start()
    try:
        time.sleep(seconds)
    finally:
        printer.stop()
        printer.join()


if __name__ == '__main__':
    listen(int(sys.argv[1]), float(sys.argv[2]))
