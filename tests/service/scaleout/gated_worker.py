"""`promptcut worker` whose segmenter waits while a gate file exists, so a test can kill it mid-item.

Run as `python -m tests.service.scaleout.gated_worker GATE [worker options]`: everything but the segmenter is the
production worker (service.jobs.worker.build_worker_app, the same Celery options as `promptcut worker`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from fusion.segmenters import get_segmenter
from service.jobs.worker import build_worker_app
from service.settings import Settings


class GatedSegmenter:
    def __init__(self, gate: Path) -> None:
        self.inner = get_segmenter("classical")
        self.name = self.inner.name
        self.gate = gate

    def segment(self, image: Any, prompts: Any) -> Any:
        (self.gate.parent / f"entered-{Path('/proc/self').resolve().name}").touch()  # "an item is being cut"
        while self.gate.exists():
            time.sleep(0.05)
        return self.inner.segment(image, prompts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def main() -> None:
    gate, options = Path(sys.argv[1]), sys.argv[2:]
    app = build_worker_app(Settings(), segmenter_factory=lambda: GatedSegmenter(gate))
    app.promptcut_services.get()
    app.worker_main(["worker", "--queues=segment,render", "--without-gossip", "--without-mingle",
                     "--loglevel=warning", *options])


if __name__ == "__main__":
    main()
