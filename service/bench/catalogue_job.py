"""Wall time of a catalogue job through the real API: POST /v1/jobs with N uploaded photos → every item done,
then one job-wide theme swap (POST /v1/jobs/{id}/theme), both as the client sees them."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from service.bench.http_overhead import sample_photo
from service.bench.loopback import bench_client
from service.settings import Settings


@dataclass(frozen=True)
class JobTimes:
    items: int
    workers: int
    side: int
    wall_s: float  # POST /v1/jobs → job done (polled every 50 ms)
    theme_swap_s: float  # POST /v1/jobs/{id}/theme for the whole job
    failed: int

    @property
    def per_item_s(self) -> float:
        return self.wall_s / self.items


def measure_job(photos: list[Path], *, items: int = 50, side: int = 1024, workers: int = 2,
                theme: str = "winter-holidays") -> JobTimes:
    """Cycle `photos` (resized to `side`) into an `items`-item job on a fresh server (classical backend)."""

    uploads = [sample_photo(photos[i % len(photos)], side) for i in range(items)]
    with tempfile.TemporaryDirectory(prefix="promptcut-job-bench-") as folder:
        settings = Settings(data_dir=Path(folder), segmenter="classical", workers=workers, max_items_per_job=items)
        with bench_client(settings, timeout=600) as client:
            files = [("image_file", (f"{i}.jpg", data, "image/jpeg")) for i, data in enumerate(uploads)]
            start = time.perf_counter()
            response = client.post("/v1/jobs", files=files, data={"format": "jpeg"})
            response.raise_for_status()
            job_id = response.json()["id"]
            while (job := client.get(f"/v1/jobs/{job_id}").json())["state"] not in ("done", "failed"):
                time.sleep(0.05)
            wall = time.perf_counter() - start
            start = time.perf_counter()
            client.post(f"/v1/jobs/{job_id}/theme", json={"theme": theme}).raise_for_status()
            swap = time.perf_counter() - start
    return JobTimes(items, workers, side, wall, swap, job["counts"]["failed"])
