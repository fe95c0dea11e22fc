"""Fakes shared by the unit tests."""

import threading
from typing import Any, List, Tuple


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


class CallbackRecorder:
    """ Mixin for an event-interface client: records the callbacks called as (name, data), from any thread. """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: List[Tuple[str, Any]] = []
        self.lock = threading.Lock()

    def _add(self, name: str, data: Any) -> None:
        with self.lock:
            self.calls.append((name, data))

    def on_supvisors_status(self, data):
        self._add('on_supvisors_status', data)

    def on_instance_status(self, data):
        self._add('on_instance_status', data)

    def on_application_status(self, data):
        self._add('on_application_status', data)

    def on_process_event(self, data):
        self._add('on_process_event', data)

    def on_process_status(self, data):
        self._add('on_process_status', data)

    def snapshot(self) -> List[Tuple[str, Any]]:
        with self.lock:
            return list(self.calls)
