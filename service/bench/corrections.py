"""What a seller's correction costs through the real API: `POST /v1/items/{id}/corrections` over loopback, as the
client sees it, with the server's own stage timings (the result's metadata) beside it.

    python -m service.bench.corrections samples/coffee-cup.jpg --side 1024 --runs 10

One item is cut (classical backend, SQLite in a temp folder). Each run then adds one "remove" click on the
product (at a slightly different place every run, so every request really changes the cut and writes new blobs)
and undoes it (back to the automatic cut); both requests are timed. Target (issue #14): ≤ 300 ms per correction.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from service.bench.http_overhead import sample_photo
from service.bench.loopback import bench_client
from service.engine.result_meta import stage_seconds
from service.settings import Settings

TARGET_S = 0.300


@dataclass(frozen=True)
class CorrectionTimes:
    runs: int
    photo_size: tuple[int, int]  # (width, height) of the uploaded photo
    output_format: str
    add_median_s: float  # POST .../corrections adding one click, wall time as the client sees it
    undo_median_s: float  # POST .../corrections {"undo": true}
    engine_median_s: float  # the server's own stage timings of the add requests, summed
    stages_median_s: dict[str, float] = field(default_factory=dict)  # per stage, add requests

    @property
    def meets_target(self) -> bool:
        return max(self.add_median_s, self.undo_median_s) <= TARGET_S

    def lines(self) -> list[str]:
        width, height = self.photo_size
        stages = ", ".join(f"{stage} {seconds * 1000:.1f}" for stage, seconds in
                           sorted(self.stages_median_s.items(), key=lambda item: -item[1]) if seconds >= 0.0005)
        verdict = "met" if self.meets_target else "NOT met"
        return [
            f"correction request ({width}x{height} photo, classical, {self.output_format}, median of {self.runs}): "
            f"add a click {self.add_median_s * 1000:.0f} ms, undo {self.undo_median_s * 1000:.0f} ms "
            f"(target ≤ {TARGET_S * 1000:.0f} ms: {verdict})",
            f"  server stages (ms, add): {stages}; HTTP + database + pool "
            f"{(self.add_median_s - self.engine_median_s) * 1000:.0f}",
        ]

    def to_dict(self) -> dict:
        return {"runs": self.runs, "photo_size": list(self.photo_size), "output_format": self.output_format,
                "add_median_ms": self.add_median_s * 1000, "undo_median_ms": self.undo_median_s * 1000,
                "engine_median_ms": self.engine_median_s * 1000,
                "stages_median_ms": {stage: s * 1000 for stage, s in self.stages_median_s.items()},
                "meets_target": self.meets_target}


def _inmost(kept: np.ndarray) -> tuple[int, int, float]:
    """(x, y, distance to the boundary) of the kept pixel farthest from the cut's edge."""
    inside = cv2.distanceTransform(np.pad(kept, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(inside)), inside.shape)
    return int(x), int(y), float(inside[y, x])


def measure_corrections(image_path: Path, *, side: int = 1024, runs: int = 10,
                        output_format: str = "jpeg") -> CorrectionTimes:
    data = sample_photo(image_path, side)
    with tempfile.TemporaryDirectory(prefix="promptcut-correction-bench-") as folder:
        settings = Settings(data_dir=Path(folder), segmenter="classical", workers=1, queue_size=2)
        with bench_client(settings, timeout=120) as client:
            upload = {"image_file": ("photo.jpg", data, "image/jpeg")}
            # where the product is: the automatic cut's alpha (format=mask), on a separate item
            mask = client.post("/v1/cutouts", files=upload, data={"format": "mask"})
            mask.raise_for_status()
            kept = cv2.imdecode(np.frombuffer(mask.content, np.uint8), cv2.IMREAD_UNCHANGED) > 127
            x, y, room = _inmost(kept)
            cut = client.post("/v1/cutouts", files=upload, data={"format": output_format})
            cut.raise_for_status()
            url = f"/v1/items/{cut.headers['x-promptcut-item']}/corrections"
            adds, undos, stages = [], [], []
            step = max(1.0, min(room / 2, 40.0) / max(runs, 1))
            for run in range(runs + 1):  # run 0 warms up and is not counted
                point = {"x": x + run * step, "y": y + 0.5, "keep": False}
                start = time.perf_counter()
                response = client.post(url, json={"points": [point]})
                add = time.perf_counter() - start
                response.raise_for_status()
                metadata = response.json()["metadata"]
                start = time.perf_counter()
                client.post(url, json={"undo": True}).raise_for_status()
                undo = time.perf_counter() - start
                if run:
                    adds.append(add)
                    undos.append(undo)
                    stages.append(stage_seconds(metadata))
            photo_size = tuple(metadata["photo_size"])
    names = sorted({name for timings in stages for name in timings})
    per_stage = {name: statistics.median(timings.get(name, 0.0) for timings in stages) for name in names}
    engine = statistics.median(sum(timings.values()) for timings in stages)
    return CorrectionTimes(runs, photo_size, output_format, statistics.median(adds), statistics.median(undos),
                           engine, per_stage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--format", default="jpeg", help="The item's output format (png, jpeg, webp, mask).")
    args = parser.parse_args()
    for line in measure_corrections(args.image, side=args.side, runs=args.runs, output_format=args.format).lines():
        print(line)


if __name__ == "__main__":
    main()
