#!/usr/bin/env python3
"""Stand-in for any long-running service of the use case: does nothing until asked to stop.

Exits 0 on SIGTERM/SIGINT/SIGHUP, so that a Supervisor stop is a clean, expected exit.

Usage: service.py [ARGS...]  (arguments are ignored, they only tell processes apart in ps)
"""

import os
import signal
import sys
from types import FrameType
from typing import Optional


def _exit(signum: int, frame: Optional[FrameType]) -> None:
    sys.exit(0)


def main() -> int:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _exit)
    print(f'{os.environ.get("SUPERVISOR_PROCESS_NAME", "service")}: running', flush=True)
    while True:
        signal.pause()


if __name__ == '__main__':
    sys.exit(main())
