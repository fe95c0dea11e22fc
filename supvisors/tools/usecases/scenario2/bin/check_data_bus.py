#!/usr/bin/env python3
"""Stand-in for a data bus check: exits 0 as soon as the bus ready flag exists, 1 if it does not come in time.

Used with wait_exit, so that the next start sequence waits until the bus is operational.

Usage: check_data_bus.py FLAG_FILE [TIMEOUT_SECONDS=30]
"""

import os
import signal
import sys
import time
from types import FrameType
from typing import List, Optional

PERIOD = 0.01


def _exit(signum: int, frame: Optional[FrameType]) -> None:
    # stopped before the bus was ready: not a success
    sys.exit(1)


def main(argv: List[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    flag = argv[0]
    timeout = float(argv[1]) if len(argv) > 1 else 30.0
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _exit)
    name = os.environ.get('SUPERVISOR_PROCESS_NAME', 'check_data_bus')
    deadline = time.monotonic() + timeout
    while not os.path.exists(flag):
        if time.monotonic() >= deadline:
            print(f'{name}: {flag} not ready after {timeout}s', flush=True)
            return 1
        time.sleep(PERIOD)
    print(f'{name}: {flag} ready', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
