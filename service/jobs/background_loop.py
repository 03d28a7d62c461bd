"""The skeleton every background runner of the server shares (job dispatcher, store webhooks, campaigns): one
daemon thread that runs a pass, then sleeps until woken or `poll_seconds` pass, until stopped. A pass that raises
(a database hiccup) is logged and the loop goes on: the work is in the database and the next pass retries it."""

from __future__ import annotations

import logging
import threading
import time


class BackgroundLoop:
    poll_seconds: float = 1.0

    def __init__(self, name: str, log: logging.Logger) -> None:
        self._log = log
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._last_run: dict[str, float] = {}

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Run a pass now (new work was recorded)."""
        self._wake.set()

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the pass under way; work in hand is finished or taken back on the next start."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def pause(self, seconds: float) -> None:
        """Sleep inside a pass, cut short by stop()."""
        self._stop.wait(seconds)

    def every(self, seconds: float, what: str) -> bool:
        """True at most once per `seconds` for `what` (periodic chores inside a pass, such as lease checks)."""
        now = time.monotonic()
        if now - self._last_run.get(what, float("-inf")) < seconds:
            return False
        self._last_run[what] = now
        return True

    def one_pass(self) -> None:
        """The runner's work: what is due now."""
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.one_pass()
            except Exception:  # noqa: BLE001 — a database hiccup must not kill the loop; try again shortly
                self._log.exception("%s: pass failed", self._thread.name)
            self._wake.wait(self.poll_seconds)
