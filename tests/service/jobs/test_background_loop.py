"""The runners' shared loop: a pass that raises is logged and the loop goes on; wake() runs a pass at once;
stop() ends it; every() spaces periodic chores."""

from __future__ import annotations

import logging
import threading

from service.jobs.background_loop import BackgroundLoop


class Flaky(BackgroundLoop):
    poll_seconds = 30.0  # long: only wake() makes passes here

    def __init__(self) -> None:
        super().__init__("test-loop", logging.getLogger("test.loop"))
        self.passes = 0
        self.passed = threading.Semaphore(0)

    def one_pass(self) -> None:
        self.passes += 1
        self.passed.release()
        if self.passes == 1:
            raise RuntimeError("a database hiccup")


def test_a_failed_pass_is_logged_and_the_next_wake_runs_again(caplog) -> None:
    loop = Flaky()
    loop.start()
    try:
        assert loop.passed.acquire(timeout=10)  # the first pass, at start, raises
        loop.wake()
        assert loop.passed.acquire(timeout=10)  # … and the loop is still there
        assert loop.alive()
        assert "pass failed" in caplog.text and "a database hiccup" in caplog.text
    finally:
        loop.stop(timeout=10)
    assert not loop.alive()


def test_every_runs_a_chore_at_most_once_per_interval() -> None:
    loop = Flaky()
    assert loop.every(60, "stale") and not loop.every(60, "stale")
    assert loop.every(60, "purge")  # each chore keeps its own time
    assert loop.every(0, "stale")
