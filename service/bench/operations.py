"""`promptcut bench-service`: what the service's three operations cost per item, measured in one run.

For each photo (resized so its longest side is `longest` px, JPEG-encoded like an upload), with a real
ArtifactStore in a temporary folder and one Engine:
- cut: decode → segment → select → feather → decontaminate → frame → compose → encode, storing every
  intermediate result;
- reprompt: a retyped prompt, as the service runs it (stored evidence reused; feathering skipped when the
  selection does not change — always the case for the classical backend, which cannot read text);
- reprompt, new selection: the same with the stored selection withheld, so select → feather →
  decontaminate → frame → compose → encode all run (what a prompt that changes the chosen regions costs);
- rerender: a theme swap from the stored layer, the theme already rendered at this canvas size (the steady
  state of a catalogue swap), and once cold (the theme's first rendering at this size).
Each timed call pays for the blobs it writes: blobs it would find already stored (from an earlier round)
are deleted first. Per-item medians over `repeat` rounds in which the operations take turns; ratios are
per item, against that item's cut from the same rounds.
"""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from fusion.errors import InvalidOptionError
from fusion.imageio import encode_image, load_image
from fusion.protocol import Segmenter
from fusion.segmenters import get_segmenter
from fusion.themes import renderer as theme_renderer
from service.bench.pipeline import resize_longest
from service.engine.backgrounds import BackgroundCache
from service.engine.blobstore import ArtifactStore
from service.engine.engine import Engine
from service.engine.render_request import RenderRequest

REPROMPT_TARGET = 0.15  # issue #4: reprompt ≤ 15 % of a full cut's time per item
RERENDER_TARGET = 0.02  # theme swap ≤ 2 %
RETYPED_PROMPTS = ("the product only", "red object in the middle", "without the background", "main subject")


@dataclass(frozen=True)
class ItemTimes:
    """Median seconds per operation for one photo."""

    name: str
    image_size: tuple[int, int]  # (width, height) of the resized photo
    canvas: tuple[int, int]  # (width, height) of the output
    cut: float
    reprompt: float
    reprompt_new_selection: float
    rerender: float
    rerender_cold: float

    @property
    def reprompt_ratio(self) -> float:
        return self.reprompt / self.cut

    @property
    def reprompt_new_selection_ratio(self) -> float:
        return self.reprompt_new_selection / self.cut

    @property
    def rerender_ratio(self) -> float:
        return self.rerender / self.cut

    @property
    def rerender_cold_ratio(self) -> float:
        return self.rerender_cold / self.cut


@dataclass(frozen=True)
class ServiceBench:
    """One run's results; `meets_targets` is judged per item (every item must be within both targets)."""

    items: tuple[ItemTimes, ...]
    backend: str
    longest: int
    repeat: int
    output_format: str
    theme: str
    size: str | None

    @property
    def worst_reprompt_ratio(self) -> float:
        return max(item.reprompt_ratio for item in self.items)

    @property
    def worst_rerender_ratio(self) -> float:
        return max(item.rerender_ratio for item in self.items)

    @property
    def meets_targets(self) -> bool:
        return self.worst_reprompt_ratio <= REPROMPT_TARGET and self.worst_rerender_ratio <= RERENDER_TARGET

    def to_dict(self) -> dict:
        out = asdict(self)
        for item, row in zip(self.items, out["items"], strict=True):
            row.update(reprompt_ratio=item.reprompt_ratio,
                       reprompt_new_selection_ratio=item.reprompt_new_selection_ratio,
                       rerender_ratio=item.rerender_ratio, rerender_cold_ratio=item.rerender_cold_ratio)
        out.update(worst_reprompt_ratio=self.worst_reprompt_ratio, worst_rerender_ratio=self.worst_rerender_ratio,
                   meets_targets=self.meets_targets)
        return out

    def lines(self) -> list[str]:
        """A plain-text report (milliseconds, ratios in % of the same item's cut)."""
        size = self.size or "sized from the product"
        out = [
            f"{len(self.items)} photos at {self.longest} px, {self.repeat} runs each, {self.backend} backend, "
            f"{self.output_format} output, canvas {size}; theme swap to {self.theme}",
            f"{'photo':<18}{'canvas':>11}{'cut':>9}{'reprompt':>16}{'new selection':>20}{'theme swap':>17}{'cold':>16}",
        ]
        for item in self.items:
            out.append(
                f"{item.name:<18}{'%dx%d' % item.canvas:>11}{item.cut * 1000:>7.1f}ms"
                f"{item.reprompt * 1000:>8.1f}ms {item.reprompt_ratio:>5.1%}"
                f"{item.reprompt_new_selection * 1000:>12.1f}ms {item.reprompt_new_selection_ratio:>5.1%}"
                f"{item.rerender * 1000:>9.1f}ms {item.rerender_ratio:>5.1%}"
                f"{item.rerender_cold * 1000:>8.1f}ms {item.rerender_cold_ratio:>5.1%}"
            )
        verdict = "met" if self.meets_targets else "NOT met"
        out.append(
            f"worst item: reprompt {self.worst_reprompt_ratio:.1%} (target ≤ {REPROMPT_TARGET:.0%}), theme swap "
            f"{self.worst_rerender_ratio:.1%} (target ≤ {RERENDER_TARGET:.0%}): targets {verdict}"
        )
        return out


class _ForgetfulStore:
    """A real ArtifactStore that can drop blobs again, so a repeated call pays for its writes every time."""

    def __init__(self, root: Path) -> None:
        self.store = ArtifactStore(root)

    def put(self, data: bytes) -> str:
        return self.store.put(data)

    def get(self, digest: str) -> bytes:
        return self.store.get(digest)

    def forget(self, digests: Iterable[str]) -> None:
        for digest in digests:
            self.store.delete(digest)


def _timed(call: Callable[[], object], before: Callable[[], None] = lambda: None) -> tuple[float, object]:
    before()
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def bench_service(
    photos: Sequence[Path],
    segmenter: Segmenter | None = None,
    *,
    longest: int = 1024,
    repeat: int = 5,
    theme: str = "winter-holidays",
    output_format: str = "jpeg",
    size: str | None = None,
    titles: dict[str, str] | None = None,
    work_dir: Path | None = None,
) -> ServiceBench:
    """Time cut, reprompt and rerender per photo (see the module docstring). `segmenter` defaults to the
    classical backend; `titles` maps a file name to its catalogue title (used as the cut's prompt)."""
    if not photos:
        raise InvalidOptionError("no photos to benchmark")
    segmenter = segmenter or get_segmenter("classical")
    if hasattr(segmenter, "load"):
        segmenter.load()  # model loading is not a per-item cost
    plain = RenderRequest(format=output_format, size=size)
    themed = RenderRequest(format=output_format, size=size, theme=theme)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="promptcut-bench-") as folder:
        store = _ForgetfulStore(Path(folder))
        engine = Engine(store, segmenter)
        # room for every photo's canvas in both backgrounds: "warm" must mean warm
        engine.backgrounds = BackgroundCache(engine.backgrounds.theme_dirs, capacity=2 * len(photos) + 2)
        cases = [_Case.prepare(photo, engine, store, longest, titles, plain, themed) for photo in photos]
        # Rounds: each photo is cut, reprompted and reprompted with a new selection in turn, then the whole
        # set is theme-swapped back to back (as a catalogue swap runs), so load elsewhere hits all alike.
        for _ in range(repeat):
            for case in cases:
                case.time_cut_and_reprompts(engine, store, plain)
            for case in cases:
                case.time_rerender(engine, store, themed)
    items = tuple(case.result() for case in cases)
    return ServiceBench(items, segmenter.name, longest, repeat, plain.format, theme, themed.size)


class _Case:
    """One photo's upload, stored artifacts and timings during a benchmark run."""

    def __init__(self, photo: Path, upload: bytes, image_size: tuple[int, int], title: str, artifacts: dict,
                 canvas: tuple[int, int], cold: float, themed_output: str) -> None:
        self.photo, self.upload, self.image_size, self.title = photo, upload, image_size, title
        self.artifacts, self.canvas, self.cold, self.themed_output = artifacts, canvas, cold, themed_output
        self.prompts = iter(RETYPED_PROMPTS * 1000)
        self.times: dict[str, list[float]] = {"cut": [], "reprompt": [], "reselect": [], "rerender": []}

    @classmethod
    def prepare(cls, photo: Path, engine, store: _ForgetfulStore, longest: int, titles: dict[str, str] | None,
                plain, themed) -> "_Case":
        rgb = resize_longest(load_image(photo).rgb, longest)
        upload = encode_image(rgb, "jpeg", quality=92)
        title = (titles or {}).get(photo.name, photo.stem.replace("-", " "))
        artifacts = engine.cut(upload, title, "", plain).artifacts  # warm-up (first-call costs)
        # Cold: the theme's first rendering at this canvas size, by an engine with empty caches.
        fresh = Engine(store, engine.segmenter, feather=engine.feather, theme_dirs=engine.backgrounds.theme_dirs)
        theme_renderer._render_cached.cache_clear()
        cold, swapped = _timed(lambda: fresh.rerender(artifacts, themed))
        engine.rerender(artifacts, themed)  # the benchmarked engine now has this theme at this size
        return cls(photo, upload, (rgb.shape[1], rgb.shape[0]), title, artifacts, tuple(swapped.metadata["size"]),
                   cold, swapped.artifacts["output"])

    def time_cut_and_reprompts(self, engine, store: _ForgetfulStore, plain) -> None:
        artifacts = self.artifacts
        # every timed call first loses the blobs it would otherwise find already stored
        cut_time, _ = _timed(lambda: engine.cut(self.upload, self.title, "", plain),
                             lambda: store.forget(artifacts.values()))
        prompt = next(self.prompts)
        reprompt_time, _ = _timed(lambda: engine.reprompt(artifacts, self.title, prompt, plain))
        without_selection = {kind: digest for kind, digest in artifacts.items() if kind != "selection"}
        rewritten = [artifacts[kind] for kind in ("selection", "alpha", "foreground", "layer", "output")]
        reselect_time, _ = _timed(lambda: engine.reprompt(without_selection, self.title, prompt, plain),
                                  lambda: store.forget(rewritten))
        self.times["cut"].append(cut_time)
        self.times["reprompt"].append(reprompt_time)
        self.times["reselect"].append(reselect_time)

    def time_rerender(self, engine, store: _ForgetfulStore, themed) -> None:
        seconds, _ = _timed(lambda: engine.rerender(self.artifacts, themed), lambda: store.forget([self.themed_output]))
        self.times["rerender"].append(seconds)

    def result(self) -> ItemTimes:
        median = {name: statistics.median(values) for name, values in self.times.items()}
        return ItemTimes(
            name=self.photo.name,
            image_size=self.image_size,
            canvas=self.canvas,
            cut=median["cut"],
            reprompt=median["reprompt"],
            reprompt_new_selection=median["reselect"],
            rerender=median["rerender"],
            rerender_cold=self.cold,
        )


def sample_titles(folder: Path) -> dict[str, str]:
    """file name → title from a folder's titles.csv (the samples' catalogue titles), if there is one."""
    path = folder / "titles.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row["title"] for row in csv.DictReader(handle) if row.get("file")}
