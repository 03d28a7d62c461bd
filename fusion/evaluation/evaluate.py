"""Quality of the cut against human masks, on a folder of `images/NAME.jpg` + `masks/NAME.png` pairs
(and optionally `prompts.csv` triples name,prompt,mask over `prompt_images/`).

Our method is the real pipeline (segmenter → select → feather via `fusion.pipeline.cut`); baselines run on
the same images in the same run. Scores are per image, then averaged per source (the name's prefix before
the first "_") and overall, separately for the dataset's own photos ("pair"), each family of composites built
from them ("studio", "shadow": cast floor/wall shadows, "pale": pale parts on a near-white sweep; see
fusion.evaluation.composites) and prompted triples ("prompt"). Bad items are reported one per line, never a crash.
"""

from __future__ import annotations

import csv
import multiprocessing
import statistics
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

import cv2
import numpy as np
from PIL import Image

from fusion.errors import DatasetError, InvalidOptionError
from fusion.evaluation.baselines import get_baseline
from fusion.evaluation.clicks import REPORTED_AFTER as CLICK_COUNTS
from fusion.evaluation.clicks import ClickSummary, simulate, summarise_clicks
from fusion.evaluation.composites import FAMILIES, make_composite
from fusion.evaluation.metrics import score_all
from fusion.pipeline import cut
from fusion.segmenters import get_segmenter
from prompting.types import PromptSet

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
KINDS = ("pair", *FAMILIES, "prompt")  # report order: photos, each composite family, prompted triples
ALL = "all"  # the `source` of an overall summary


# --------------------------------------------------------------------------- dataset


@dataclass(frozen=True)
class EvalItem:
    """One image with its ground-truth mask (and the prompt naming it, for prompted triples)."""

    name: str  # image stem, e.g. "ccp_0014"
    source: str  # "ccp"; composites of ccp photos are "studio-ccp", "shadow-ccp", "pale-ccp"
    kind: str  # one of KINDS
    image_path: Path
    mask_path: Path
    prompt: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}:{self.prompt}" if self.prompt else self.name


@dataclass(frozen=True)
class ItemProblem:
    """An item that could not be scored, and why (one line)."""

    item: str
    message: str


@dataclass(frozen=True)
class Dataset:
    root: Path
    pairs: tuple[EvalItem, ...]
    prompted: tuple[EvalItem, ...]
    problems: tuple[ItemProblem, ...]


def source_of(name: str) -> str:
    """The source prefix of an image name: text before the first "_" ("ccp_0014" → "ccp")."""
    return name.split("_", 1)[0]


def _find_image(folder: Path, stem: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    return None


def load_dataset(root: str | Path) -> Dataset:
    """List the items of an evaluation folder without decoding any image.

    Raises DatasetError (one line) when the folder itself is unusable: missing, no `images/`, a
    `prompts.csv` without the name,prompt,mask columns, or nothing at all to evaluate. A single image
    without its mask (or a prompt row whose files are missing) becomes an ItemProblem instead.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    images_dir, masks_dir = root / "images", root / "masks"
    if not images_dir.is_dir():
        raise DatasetError(f"{root} has no images/ folder (expected images/NAME.jpg with masks/NAME.png)")
    problems: list[ItemProblem] = []
    pairs: list[EvalItem] = []
    seen: set[str] = set()
    for path in sorted(p for p in images_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        if path.stem in seen:
            problems.append(ItemProblem(path.name, f"another image is also named {path.stem}; skipped"))
            continue
        seen.add(path.stem)
        mask = masks_dir / f"{path.stem}.png"
        if not mask.is_file():
            problems.append(ItemProblem(path.stem, f"no mask masks/{path.stem}.png for images/{path.name}"))
            continue
        pairs.append(EvalItem(path.stem, source_of(path.stem), "pair", path, mask))
    prompted = _load_prompts(root, problems) if (root / "prompts.csv").is_file() else []
    if not pairs and not prompted and not problems:
        raise DatasetError(f"{root}/images has no .jpg/.png images to evaluate")
    return Dataset(root, tuple(pairs), tuple(prompted), tuple(problems))


def _load_prompts(root: Path, problems: list[ItemProblem]) -> list[EvalItem]:
    path = root / "prompts.csv"
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
            columns = set(rows[0]) if rows else set()
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    missing = {"name", "prompt", "mask"} - columns
    if rows and missing:
        raise DatasetError(f"{path} lacks column(s) {', '.join(sorted(missing))} (expected name,prompt,mask)")
    items = []
    for row in rows:
        name, prompt, mask = (row.get(k, "").strip() for k in ("name", "prompt", "mask"))
        key = f"{name}:{prompt}"
        if not name or not prompt or not mask:
            problems.append(ItemProblem(key, "prompts.csv row with an empty name, prompt or mask"))
            continue
        image = _find_image(root / "prompt_images", name)
        if image is None:
            problems.append(ItemProblem(key, f"no image prompt_images/{name}.jpg"))
        elif not (root / mask).is_file():
            problems.append(ItemProblem(key, f"no mask {mask}"))
        else:
            items.append(EvalItem(name, source_of(name), "prompt", image, root / mask, prompt))
    return items


def take(items: Sequence[EvalItem], limit: int) -> tuple[EvalItem, ...]:
    """At most `limit` items (0 = all), round-robin over sources so every source is represented;
    deterministic (items keep their sorted order within a source)."""
    if limit <= 0 or limit >= len(items):
        return tuple(items)
    by_source: dict[str, list[EvalItem]] = defaultdict(list)
    for item in items:
        by_source[item.source].append(item)
    queues = [by_source[s] for s in sorted(by_source)]
    chosen: list[EvalItem] = []
    depth = 0
    while len(chosen) < limit:
        for queue in queues:
            if depth < len(queue) and len(chosen) < limit:
                chosen.append(queue[depth])
        depth += 1
    return tuple(chosen)


def read_pair(item: EvalItem) -> tuple[np.ndarray, np.ndarray]:
    """Decode an item: (H×W×3 uint8 RGB image, H×W bool mask, foreground = value > 127).

    Pixel order as stored (the annotations refer to it), so no EXIF rotation. Raises ValueError when
    the two differ in size, OSError when a file cannot be decoded.
    """
    with Image.open(item.image_path) as img:
        image = np.asarray(img.convert("RGB"))
    with Image.open(item.mask_path) as img:
        mask = np.asarray(img.convert("L")) > 127
    if image.shape[:2] != mask.shape:
        raise ValueError(
            f"mask {mask.shape[1]}×{mask.shape[0]} differs from image {image.shape[1]}×{image.shape[0]}"
        )
    return image, mask


# --------------------------------------------------------------------------- methods


class Method(Protocol):
    """Something that cuts out a photo: ours (the pipeline) or a baseline."""

    name: str
    role: str  # "ours" | "baseline"

    def predict(self, image: np.ndarray, prompts: PromptSet) -> np.ndarray:
        """image: H×W×3 uint8 RGB → H×W alpha (float in [0, 1]) or bool mask, full resolution."""
        ...

    def reads_prompts(self, image: np.ndarray, prompts: PromptSet) -> bool:
        """Whether the method's output depends on the prompt text."""
        ...


@lru_cache(maxsize=None)
def _segmenter(name: str, options: tuple[tuple[str, Any], ...] = ()) -> Any:
    # One instance per process, backend and options: model loading, if any, happens once.
    return get_segmenter(name, **dict(options))


@dataclass(frozen=True)
class PipelineMethod:
    """Ours: the production path `fusion.pipeline.cut` with the named segmenter. Picklable (by name),
    so worker processes build their own segmenter."""

    segmenter: str = "classical"
    feather_options: Any = None  # fusion.feather.FeatherOptions; None = the pipeline's defaults
    role: str = "ours"
    segmenter_options: tuple[tuple[str, Any], ...] = ()  # e.g. (("model_dir", Path), ) for the neural backend

    @property
    def name(self) -> str:
        return self.segmenter

    def predict(self, image: np.ndarray, prompts: PromptSet) -> np.ndarray:
        if self.feather_options is None:
            return cut(image, prompts, _segmenter(self.segmenter, self.segmenter_options)).alpha
        return cut(image, prompts, _segmenter(self.segmenter, self.segmenter_options), self.feather_options).alpha

    def reads_prompts(self, image: np.ndarray, prompts: PromptSet) -> bool:
        return bool(_segmenter(self.segmenter, self.segmenter_options).segment(image, prompts).prompts_used)

    def simulate_clicks(self, image: np.ndarray, prompts: PromptSet, truth: np.ndarray, max_clicks: int) -> Any:
        """The automatic cut, then a simulated user's clicks on it (fusion.evaluation.clicks.ClickRun)."""
        segmenter = _segmenter(self.segmenter, self.segmenter_options)
        if self.feather_options is None:
            return simulate(image, truth, prompts, segmenter, max_clicks)
        return simulate(image, truth, prompts, segmenter, max_clicks, self.feather_options)


@dataclass(frozen=True)
class BaselineMethod:
    """A registered baseline from `fusion.evaluation.baselines` (prompt-blind)."""

    baseline: str
    role: str = "baseline"

    @property
    def name(self) -> str:
        return self.baseline

    def predict(self, image: np.ndarray, prompts: PromptSet) -> np.ndarray:
        return get_baseline(self.baseline)(image)

    def reads_prompts(self, image: np.ndarray, prompts: PromptSet) -> bool:
        return False


@dataclass(frozen=True)
class RawModelMethod:
    """The learned cut-out model on its own: its probability map resized to the photo, no selection, feathering or
    decontamination — what the pipeline around the model must beat."""

    segmenter: str = "salient"
    segmenter_options: tuple[tuple[str, Any], ...] = ()
    role: str = "baseline"

    @property
    def name(self) -> str:
        return RAW_MODEL

    def predict(self, image: np.ndarray, prompts: PromptSet) -> np.ndarray:
        probability = _segmenter(self.segmenter, self.segmenter_options).probability(image)
        return cv2.resize(probability, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)

    def reads_prompts(self, image: np.ndarray, prompts: PromptSet) -> bool:
        return False


RAW_MODEL = "raw-model"  # --baseline raw-model: the salient backend's model alone
CLASSICAL = "classical"  # --baseline classical: the weight-free pipeline beside a model backend
COMPARISONS = (RAW_MODEL, CLASSICAL)  # accepted by --baseline besides the registered baselines


def build_methods(segmenter: Any = "classical", baselines: Iterable[str] = (), feather_options: Any = None) -> tuple:
    """Ours first, then the baselines; names are checked now (UnknownSegmenterError / InvalidOptionError),
    before any image is touched. `segmenter` is a registered name or a `fusion.segmenters.SegmenterChoice`
    (what `--segmenter auto|neural|salient|classical --models DIR` resolves to). Besides the registered
    baselines, `raw-model` (the salient backend's model alone) and `classical` (the weight-free pipeline) compare
    a model backend with what it improves on, in the same run."""
    names = list(dict.fromkeys(baselines))
    if isinstance(segmenter, str):
        name, options = segmenter, ()
    else:
        name, options = segmenter.name, tuple(segmenter.options)
    for baseline in names:  # cheap checks first: a typo must not wait for a model to load
        if baseline == RAW_MODEL and name != "salient":
            raise InvalidOptionError(f"--baseline {RAW_MODEL} compares the salient backend with its model alone; "
                                     f"this run uses {name}")
        if baseline == CLASSICAL and name == CLASSICAL:
            raise InvalidOptionError("--baseline classical needs another --segmenter to compare it with")
        if baseline not in COMPARISONS:
            get_baseline(baseline)
    _segmenter(name, options)
    methods: list[Any] = [PipelineMethod(name, feather_options, segmenter_options=options)]
    for baseline in names:
        if baseline == RAW_MODEL:
            methods.append(RawModelMethod(name, options))
        elif baseline == CLASSICAL:
            methods.append(PipelineMethod(CLASSICAL, feather_options, role="baseline"))
        else:
            methods.append(BaselineMethod(baseline))
    return tuple(methods)


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ImageScore:
    """One method on one item. Metrics: IoU, pixel accuracy, relaxed boundary F1 (higher is better) and
    MAE (lower is better), all in [0, 1]; seconds = wall time of the method's cut (decode excluded)."""

    name: str
    source: str
    kind: str
    method: str
    iou: float
    accuracy: float
    boundary_f1: float
    mae: float
    seconds: float
    prompt: str = ""
    width: int = 0
    height: int = 0
    click_ious: tuple[float, ...] = ()  # with --clicks: IoU after 0, 1, … simulated clicks
    click_seconds: tuple[float, ...] = ()  # and the seconds each correction took


@dataclass(frozen=True)
class ItemResult:
    scores: tuple[ImageScore, ...] = ()
    problem: ItemProblem | None = None


def prompts_for(item: EvalItem) -> PromptSet:
    """What the pipeline is told: nothing for foreground pairs, the typed prompt for triples."""
    if item.prompt:
        return PromptSet(positives=(item.prompt,), prompt=item.prompt, source="prompt")
    return PromptSet()


def score_item(item: EvalItem, methods: Sequence[Method], tolerance: float = 3.0, clicks: int = 0) -> ItemResult:
    """Decode `item` (building its composite when its kind is a composite family), run every method, score it; with
    `clicks` > 0, methods that take corrections also run the simulated user (fusion.evaluation.clicks).
    Any failure becomes an ItemProblem naming the item (and the method, if one failed)."""
    try:
        image, truth = read_pair(item)
        if item.kind in FAMILIES:
            if not truth.any():
                raise ValueError("empty mask: nothing to put on a studio backdrop")
            image, truth = make_composite(image, truth, item.name, item.kind)
    except Exception as exc:  # noqa: BLE001 - a bad file is one item's problem, not the run's
        return ItemResult(problem=ItemProblem(_label(item), _describe(exc)))
    prompts = prompts_for(item)
    scores = []
    for method in methods:
        click_ious: tuple[float, ...] = ()
        click_seconds: tuple[float, ...] = ()
        try:
            if clicks > 0 and hasattr(method, "simulate_clicks"):
                run = method.simulate_clicks(image, prompts, truth, clicks)
                pred, seconds, click_ious, click_seconds = run.automatic, run.seconds, run.scores, run.click_seconds
            else:
                start = time.perf_counter()
                pred = method.predict(image, prompts)
                seconds = time.perf_counter() - start
            metrics = score_all(pred, truth, tolerance)
        except Exception as exc:  # noqa: BLE001 - reported per item with its type, then the run goes on
            return ItemResult(problem=ItemProblem(_label(item), f"{method.name}: {_describe(exc)}"))
        scores.append(ImageScore(
            name=item.name, source=item.source, kind=item.kind, method=method.name, seconds=seconds,
            prompt=item.prompt, width=int(truth.shape[1]), height=int(truth.shape[0]), click_ious=click_ious,
            click_seconds=click_seconds, **metrics,
        ))
    return ItemResult(scores=tuple(scores))


def _label(item: EvalItem) -> str:
    return f"{item.kind}:{item.key}" if item.kind != "pair" else item.key


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no message"
    return text if isinstance(exc, (ValueError, OSError)) else f"{type(exc).__name__}: {text}"


# --------------------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class SourceSummary:
    """Mean metrics of one method over one source (or ALL) of one kind; median seconds per image."""

    kind: str
    source: str
    method: str
    count: int
    iou: float
    accuracy: float
    boundary_f1: float
    mae: float
    median_seconds: float


@dataclass(frozen=True)
class MethodTiming:
    method: str
    role: str
    count: int
    median_seconds: float


def summarise(scores: Sequence[ImageScore], method_order: Sequence[str]) -> tuple[SourceSummary, ...]:
    """Per (kind, source, method) and per (kind, ALL, method) means, in report order."""
    groups: dict[tuple[str, str, str], list[ImageScore]] = defaultdict(list)
    for s in scores:
        groups[(s.kind, s.source, s.method)].append(s)
        groups[(s.kind, ALL, s.method)].append(s)
    rank = {m: i for i, m in enumerate(method_order)}

    def order(key: tuple[str, str, str]) -> tuple:
        kind, source, method = key
        return KINDS.index(kind), source == ALL, source, rank.get(method, len(rank)), method

    return tuple(
        SourceSummary(
            kind=kind, source=source, method=method, count=len(group),
            iou=float(np.mean([s.iou for s in group])),
            accuracy=float(np.mean([s.accuracy for s in group])),
            boundary_f1=float(np.mean([s.boundary_f1 for s in group])),
            mae=float(np.mean([s.mae for s in group])),
            median_seconds=float(statistics.median(s.seconds for s in group)),
        )
        for (kind, source, method), group in sorted(groups.items(), key=lambda kv: order(kv[0]))
    )


@dataclass(frozen=True)
class EvalReport:
    """Everything one `evaluate` run measured."""

    dataset: str
    methods: tuple[str, ...]  # ours first
    scores: tuple[ImageScore, ...]
    summaries: tuple[SourceSummary, ...]
    timings: tuple[MethodTiming, ...]
    problems: tuple[ItemProblem, ...]
    notes: tuple[str, ...]
    tolerance: float
    workers: int
    skipped_prompted: int = 0
    clicks: int = 0  # the simulated user's click cap (0 = not run)
    click_summaries: tuple[ClickSummary, ...] = ()

    @property
    def ours(self) -> str:
        return self.methods[0]

    def speed_ratio(self, baseline: str) -> float | None:
        """Median seconds per image of ours divided by the baseline's (< 1 = ours is faster)."""
        times = {t.method: t.median_seconds for t in self.timings}
        if self.ours not in times or not times.get(baseline):
            return None
        return times[self.ours] / times[baseline]

    def median_click_seconds(self) -> float | None:
        """Median seconds of one correction (corrections + feathering) over every simulated click."""
        seconds = [t for s in self.scores for t in s.click_seconds]
        return float(statistics.median(seconds)) if seconds else None

    def to_dict(self) -> dict:
        def rounded(d: dict) -> dict:
            return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in d.items()}

        return {
            "dataset": self.dataset,
            "methods": list(self.methods),
            "ours": self.ours,
            "tolerance_px": self.tolerance,
            "workers": self.workers,
            "summaries": [rounded(asdict(s)) for s in self.summaries],
            "timings": [rounded(asdict(t)) for t in self.timings],
            "speed_ratio": {m: _round(self.speed_ratio(m)) for m in self.methods[1:]},
            "skipped_prompted": self.skipped_prompted,
            "clicks": self.clicks,
            "click_summaries": [
                {**rounded({k: v for k, v in asdict(c).items() if k != "iou_after"}),
                 "iou_after": {str(n): round(v, 5) for n, v in zip(CLICK_COUNTS, c.iou_after, strict=True)}}
                for c in self.click_summaries
            ],
            "median_click_seconds": _round(self.median_click_seconds()),
            "notes": list(self.notes),
            "problems": [asdict(p) for p in self.problems],
            "images": [rounded(asdict(s)) for s in self.scores],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class EvalOptions:
    studio: bool = False  # also score every composite family (studio, shadow, pale) of every foreground pair
    limit: int = 0  # at most this many foreground pairs and this many prompted triples (0 = all)
    workers: int = 1  # processes; > 1 uses a spawn pool with one OpenCV thread per worker
    tolerance: float = 3.0  # relaxed boundary F1 tolerance ρ, px
    prompts: bool = True  # score prompts.csv triples when the backend reads prompts
    clicks: int = 0  # > 0: also run the simulated user, at most this many clicks per item
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)


def probe_prompts(method: Method, items: Sequence[EvalItem]) -> bool | None:
    """Ask `method` on the first decodable prompted item whether it reads prompts (None: none decodes)."""
    for item in items[:5]:
        try:
            image, _ = read_pair(item)
        except (OSError, ValueError):
            continue
        return bool(method.reads_prompts(image, prompts_for(item)))
    return None


def evaluate(dataset: Dataset, methods: Sequence[Method], options: EvalOptions = EvalOptions()) -> EvalReport:
    """Score `methods` (ours first, then baselines) on `dataset`. Pure orchestration: no printing."""
    if not methods:
        raise ValueError("evaluate needs at least one method")
    ours = methods[0]
    pairs = take(dataset.pairs, options.limit)
    prompted = take(dataset.prompted, options.limit) if options.prompts else ()
    notes: list[str] = []
    skipped = 0
    if prompted and probe_prompts(ours, prompted) is False:
        skipped, prompted = len(prompted), ()
        notes.append(
            f"prompts.csv: {skipped} prompted triple{'s' * (skipped != 1)} skipped: the {ours.name} backend "
            f"does not understand prompts (it ignores the text), so scores on them would not measure prompting"
        )
    elif prompted and len(methods) > 1:
        notes.append("baselines ignore prompts; on prompted triples they cut out the whole salient object")
    tasks = list(pairs)
    if options.studio:
        tasks += [EvalItem(p.name, f"{kind}-{p.source}", kind, p.image_path, p.mask_path)
                  for kind in FAMILIES for p in pairs]
    tasks += prompted

    results = _run(tasks, tuple(methods), options)
    method_order = [m.name for m in methods]
    scores = tuple(sorted(
        (s for r in results for s in r.scores),
        key=lambda s: (KINDS.index(s.kind), s.name, s.prompt, method_order.index(s.method)),
    ))
    problems = dataset.problems + tuple(sorted((r.problem for r in results if r.problem), key=lambda p: p.item))
    timings = tuple(
        MethodTiming(m.name, m.role, len(secs), float(statistics.median(secs)))
        for m in methods
        if (secs := [s.seconds for s in scores if s.method == m.name])
    )
    if options.workers > 1 and len(methods) > 1:
        notes.append(f"timings measured with {options.workers} worker processes side by side; "
                     "ours and baselines ran on the same worker for each image, so their ratio is fair")
    return EvalReport(
        dataset=str(dataset.root),
        methods=tuple(method_order),
        scores=scores,
        summaries=summarise(scores, method_order),
        timings=timings,
        problems=problems,
        notes=tuple(notes),
        tolerance=options.tolerance,
        workers=options.workers,
        skipped_prompted=skipped,
        clicks=options.clicks,
        click_summaries=_click_summaries(scores, method_order, options.clicks),
    )


def _click_summaries(scores: Sequence[ImageScore], method_order: Sequence[str], cap: int) -> tuple[ClickSummary, ...]:
    """Per (kind, source, method) and per (kind, ALL, method), for the methods that took clicks."""
    if cap <= 0:
        return ()
    groups: dict[tuple[str, str, str], list[tuple[float, ...]]] = defaultdict(list)
    for s in scores:
        if s.click_ious:
            groups[(s.kind, s.source, s.method)].append(s.click_ious)
            groups[(s.kind, ALL, s.method)].append(s.click_ious)
    rank = {m: i for i, m in enumerate(method_order)}
    ordered = sorted(groups, key=lambda k: (KINDS.index(k[0]), k[1] == ALL, k[1], rank.get(k[2], len(rank))))
    return tuple(summarise_clicks(kind, source, method, groups[(kind, source, method)], cap)
                 for kind, source, method in ordered)


def _run(tasks: list[EvalItem], methods: tuple, options: EvalOptions) -> list[ItemResult]:
    total = len(tasks)
    results: list[ItemResult] = []
    if options.workers <= 1 or total <= 1:
        for item in tasks:
            results.append(score_item(item, methods, options.tolerance, options.clicks))
            if options.progress:
                options.progress(len(results), total)
        return results

    # spawn, not fork: forking a process whose OpenCV/BLAS thread pools are running can deadlock. An
    # executor, not multiprocessing.Pool: a worker that dies raises BrokenProcessPool instead of hanging.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(options.workers, total), mp_context=context, initializer=_init_worker) as pool:
        futures = [pool.submit(score_item, item, methods, options.tolerance, options.clicks) for item in tasks]
        for future in as_completed(futures):
            results.append(future.result())
            if options.progress:
                options.progress(len(results), total)
    return results


def _init_worker() -> None:
    # Each worker owns one core's worth of work; OpenCV's own thread pool would oversubscribe the machine.

    cv2.setNumThreads(1)
