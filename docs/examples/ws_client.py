"""Example: print the process states published by a Supvisors instance whose event_link is WS.

Run it with the event port of the instance: ``python ws_client.py 60002 30`` (port, seconds).
Checked by supvisors/tests/unit/test_docs.py against the real websocket publisher.
"""

import sys
import time

from supvisors.client.wssubscriber import SupvisorsWsEventInterface, create_logger


class ProcessPrinter(SupvisorsWsEventInterface):
    """ Receive the events in a thread; only the callbacks of interest are overridden (the others log). """

    def on_process_status(self, data):
        print(f"{data['application_name']}:{data['process_name']} is {data['statename']}", flush=True)


def listen(event_port: int, seconds: float, logger=None) -> None:
    # topics=None would subscribe to every topic (path /all)
    printer = ProcessPrinter(event_port, logger or create_logger(), topics=['process'])
    printer.start()
    try:
        time.sleep(seconds)
    finally:
        printer.stop()
        printer.join()


if __name__ == '__main__':
    listen(int(sys.argv[1]), float(sys.argv[2]))
