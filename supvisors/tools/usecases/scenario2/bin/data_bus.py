#!/usr/bin/env python3
"""Stand-in for a data bus: declares itself operational by creating a ready flag after a short delay.

The flag is removed at start (a stale flag of a killed predecessor must not fool the check programs) and on
SIGTERM/SIGINT/SIGHUP or normal exit, so that it exists only while this bus is up.

Usage: data_bus.py FLAG_FILE [DELAY_SECONDS=0.3]
"""

import os
import signal
import sys
import time
from types import FrameType
from typing import List, Optional


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _exit(signum: int, frame: Optional[FrameType]) -> None:
    sys.exit(0)


def main(argv: List[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    flag = argv[0]
    delay = float(argv[1]) if len(argv) > 1 else 0.3
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _exit)
    os.makedirs(os.path.dirname(os.path.abspath(flag)), exist_ok=True)
    _remove(flag)
    try:
        time.sleep(delay)
        with open(flag, 'w') as stream:
            stream.write(f'{os.getpid()}\n')
        print(f'{os.environ.get("SUPERVISOR_PROCESS_NAME", "data_bus")}: ready ({flag})', flush=True)
        while True:
            signal.pause()
    finally:
        _remove(flag)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
