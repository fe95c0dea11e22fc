"""Fakes shared by the unit tests."""

import threading
from typing import List, Tuple


class FakeLogger:
    """ Supervisor-like logger (``warn``, not ``warning``) recording (level, message); usable from any thread. """

    def __init__(self) -> None:
        self.records: List[Tuple[str, str]] = []
        self._lock = threading.Lock()

    def _record(self, level: str, msg: str) -> None:
        with self._lock:
            self.records.append((level, msg))

    def critical(self, msg: str) -> None:
        self._record('critical', msg)

    def error(self, msg: str) -> None:
        self._record('error', msg)

    def warn(self, msg: str) -> None:
        self._record('warn', msg)

    def info(self, msg: str) -> None:
        self._record('info', msg)

    def debug(self, msg: str) -> None:
        self._record('debug', msg)

    def trace(self, msg: str) -> None:
        self._record('trace', msg)

    def blather(self, msg: str) -> None:
        self._record('blather', msg)

    def levels(self, level: str) -> List[str]:
        with self._lock:
            return [msg for lvl, msg in self.records if lvl == level]

    def count(self, level: str, text: str) -> int:
        return sum(text in msg for msg in self.levels(level))

    @property
    def messages(self) -> List[Tuple[str, str]]:
        return self.records
