"""A sync's cuts, made one after another in a thread of their own, so that writing finished cuts back to the
store (often waiting for its cost bucket) overlaps cutting the next ones instead of adding to them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

STOP_WAIT_S = 60.0  # on leaving early, how long to wait for the cut in hand (a server's item may wait far longer)


class CutAhead:
    """`with CutAhead(process, item_ids) as cuts:` then `cuts.next_done()` once per item, in order. An error of
    `process` is raised by the next_done that reaches its item; leaving the block stops the cutting."""

    def __init__(self, process: Callable[[str], None], item_ids: Iterable[str]) -> None:
        self._process = process
        self._item_ids = list(item_ids)
        self._done: queue.Queue[tuple[str, BaseException | None]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="promptcut-sync-cuts", daemon=True)

    def __enter__(self) -> CutAhead:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=STOP_WAIT_S)

    def _run(self) -> None:
        for item_id in self._item_ids:
            if self._stop.is_set():
                return
            try:
                self._process(item_id)
            except BaseException as exc:  # noqa: BLE001 — handed to the writer, which raises it in its thread
                self._done.put((item_id, exc))
                return
            self._done.put((item_id, None))

    def next_done(self) -> str:
        """The next item in order, once it is cut (or failed: the item's state says so)."""
        item_id, error = self._done.get()
        if error is not None:
            raise error
        return item_id

    def has_next_done(self) -> bool:
        """Whether next_done would return without waiting."""
        return not self._done.empty()
