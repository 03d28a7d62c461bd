"""Measure what the HTTP API adds to a cut: POST /v1/cutouts over loopback vs Engine.cut in-process, same
image, same options, medians over interleaved runs (one warm-up each).

    python -m service.bench.http_overhead samples/coffee-cup.jpg --side 1024 --runs 10

The server is this package's real app (uvicorn on a loopback port, SQLite in a temp folder, classical
segmenter), so the difference covers HTTP and multipart parsing, authentication, the pool hand-off, the
database writes that persist the item, and the response.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from fusion.segmenters import get_segmenter
from service.bench.loopback import bench_client
from service.engine.blobstore import ArtifactStore
from service.engine.engine import Engine
from service.engine.render_request import RenderRequest
from service.settings import Settings


@dataclass(frozen=True)
class Overhead:
    runs: int
    side: int
    engine_median_s: float  # Engine.cut called directly
    api_median_s: float  # POST /v1/cutouts, as the client sees it
    paired_overhead_median_s: float  # per request: client time − the server's own Engine.cut time (Server-Timing)

    @property
    def overhead_s(self) -> float:
        return self.api_median_s - self.engine_median_s

    @property
    def overhead_share(self) -> float:
        return self.overhead_s / self.engine_median_s if self.engine_median_s else 0.0


def sample_photo(path: Path, side: int) -> bytes:
    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=92)
    return out.getvalue()


def measure(image_path: Path, *, side: int = 1024, runs: int = 10, title: str = "product") -> Overhead:

    data = sample_photo(image_path, side)
    with tempfile.TemporaryDirectory(prefix="promptcut-overhead-") as folder:
        settings = Settings(data_dir=Path(folder) / "api", segmenter="classical", workers=1, queue_size=2)
        engine = Engine(ArtifactStore(Path(folder) / "engine"), get_segmenter("classical"))
        render = RenderRequest()

        engine_times, api_times, paired = [], [], []
        with bench_client(settings) as client:
            for run in range(runs + 1):  # run 0 warms both paths up and is not counted
                start = time.perf_counter()
                engine.cut(data, title, "", render)
                engine_seconds = time.perf_counter() - start
                start = time.perf_counter()
                response = client.post("/v1/cutouts", files={"image_file": ("photo.jpg", data, "image/jpeg")},
                                       data={"title": title})
                api_seconds = time.perf_counter() - start
                response.raise_for_status()
                if run:
                    engine_times.append(engine_seconds)
                    api_times.append(api_seconds)
                    paired.append(api_seconds - _server_cut_seconds(response.headers["server-timing"]))
    return Overhead(runs, side, statistics.median(engine_times), statistics.median(api_times),
                    statistics.median(paired))


def _server_cut_seconds(header: str) -> float:
    for part in header.split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name == "cut":
            return float(duration) / 1000
    raise ValueError("no cut entry in Server-Timing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    result = measure(args.image, side=args.side, runs=args.runs)
    print(f"{result.runs} runs, {result.side}-px photo, classical backend")
    print(f"Engine.cut in-process   median {result.engine_median_s * 1000:8.1f} ms")
    print(f"POST /v1/cutouts        median {result.api_median_s * 1000:8.1f} ms")
    print(f"difference of the medians      {result.overhead_s * 1000:8.1f} ms ({result.overhead_share:.1%})")
    print(f"API overhead per request       {result.paired_overhead_median_s * 1000:8.1f} ms (median of client time "
          "minus the server's own Engine.cut time, same request)")


if __name__ == "__main__":
    main()
