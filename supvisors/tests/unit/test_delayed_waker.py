"""The delayed waker of supervisord's loop (deferred answers are polled at most every 0.05 s by their channel)."""

import threading
import time

from supvisors.adapters.runtime import DelayedWaker


def test_wakes_once_at_the_latest_deadline_asked_for():
    woken = []
    done = threading.Event()

    def wake():
        woken.append(time.monotonic())
        done.set()
    waker = DelayedWaker(wake)
    waker.start()
    try:
        start = time.monotonic()
        waker.schedule(start + 0.05)
        waker.schedule(start + 0.15)
        waker.schedule(start + 0.10)  # earlier than the pending one: ignored
        assert done.wait(5)
        time.sleep(0.2)  # nothing else may come (a second wake-up would be a bug)
        assert len(woken) == 1
        assert woken[0] >= start + 0.15
        # it can be asked again
        done.clear()
        waker.schedule(time.monotonic())
        assert done.wait(5)
        assert len(woken) == 2
    finally:
        waker.stop()
        waker.join(5)
    assert not waker.is_alive()


def test_stops_even_with_a_pending_deadline():
    waker = DelayedWaker(lambda: None)
    waker.start()
    waker.schedule(time.monotonic() + 3600)
    waker.stop()
    waker.join(5)
    assert not waker.is_alive()
