"""The learned cut-out segmenter (`--segmenter salient`): one ONNX model maps the photo to a soft "main object"
map (IS-Net, U²-Net, BiRefNet exports), run on ONNX Runtime on the CPU. It reads no text, and says so.

The map becomes Evidence like every backend's: heatmap = the model's probability at the working resolution,
regions = the connected parts of its confident foreground (so selection can drop stray specks) plus the
background, and the centre prior. Selection, feathering, corrections and compositing are the shared code.

Parts of the object the model saw only faintly (low but clearly non-zero, wider than its soft fringe, in the
object's colours) join the foreground on photos that are not studio shots (`extend_unsure`): on eval-dev photos
IoU 0.806 → 0.831, boundary F 0.720 → 0.740 (the model alone: 0.796 / 0.720).

When the model keeps almost nothing of the frame (it comes back near-empty on some natural scenes: landscapes,
displays of many small things), the classical backend's evidence is used for that photo instead, and the
evidence says so: on eval-dev photos that choice lifts IoU from 0.793 to 0.806 with boundary F unchanged.

On a plain/gradient studio backdrop (the classical backend's backdrop fit), holes the model leaves inside the
object where the photo is not the backdrop — pale parts, white on a white sweep — are filled (`studio_refine`).
Cast shadows are the model's own job: it drops them.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
from scipy import ndimage

from fusion.errors import InvalidImageError, ModelLoadError
from fusion.segmenters.classical import ClassicalSegmenter, plain_backdrop, resize_to_working
from fusion.segmenters.cutout_models import (
    MODEL_FILE,
    CutoutContract,
    load_contract,
    require_cutout_model,
    with_input_side,
)
from fusion.segmenters.graphcut import colour_bins, colour_likelihood
from fusion.segmenters.onnx_resize import retarget_input_size
from fusion.segmenters.saliency import against_backdrop, centre_prior
from fusion.types import Evidence
from prompting.types import PromptSet

IGNORED_PROMPTS_NOTE = "the salient backend cuts out the main object and cannot read text prompts"
MIN_MODEL_SHARE = 0.03  # below this share of the frame the model found nothing usable: classical decides
FALLBACK_NOTE = "the cut-out model kept almost nothing of this photo; the classical evidence was used instead"
FOREGROUND = 0.5  # probability above which a pixel belongs to a foreground part (a region of its own)
MIN_PART_PIXELS = 4  # parts smaller than this (working px) join the background region
STUDIO_SIZE = 200  # px: the backdrop is fitted on the classical backend's coarse grid
PALE_DISTANCE = 8.0  # RGB levels from the backdrop (after a 1 px blur) beyond which a pixel is not backdrop
PALE_FILL = 0.75  # probability given to a hole in the model's foreground that is not the backdrop
STUDIO_NOTE = "plain backdrop: holes in the model's map that are not the backdrop (pale parts) were filled"
EXTEND_NOTE = "areas the model was unsure of but saw, in the object's colours, were kept"
UNSURE = 0.03  # probability above which the model still sees something: where it is unsure...
UNSURE_WIDTH = 0.003  # ...areas wider than twice this share of the map's longest side...
COLOUR_MARGIN = -0.5  # ...whose colours are not clearly the background's (mean log likelihood ratio)...
EXTENDED = 0.6  # ...get this probability (above FOREGROUND: they become part of the cut)


def prepare_input(image: np.ndarray, contract: CutoutContract) -> np.ndarray:
    """H×W×3 uint8 RGB → 1×3×h×w array of the contract's dtype: resized to its input size (aspect not kept,
    as these models were trained), normalised (v − mean) / std per channel."""
    width, height = contract.input_size
    interpolation = cv2.INTER_AREA if image.shape[0] * image.shape[1] > width * height else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, height), interpolation=interpolation).astype(np.float32)
    normalised = (resized - np.asarray(contract.mean, np.float32)) / np.asarray(contract.std, np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None]).astype(contract.input_dtype)


def read_output(raw: np.ndarray, contract: CutoutContract) -> np.ndarray:
    """The model's output (1×1×h×w, 1×h×w or h×w) → h×w float32 probability in [0, 1]."""
    values = np.asarray(raw, np.float32)
    while values.ndim > 2:
        values = values[0]
    if contract.sigmoid:
        values = 1.0 / (1.0 + np.exp(-np.clip(values, -30.0, 30.0)))
    if contract.stretch:
        low, high = float(values.min()), float(values.max())
        values = (values - low) / max(high - low, 1e-6)
    return np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0).astype(np.float32)


def foreground_parts(probability: np.ndarray) -> np.ndarray:
    """h×w int32 region ids: 0 for the background, 1..n for each connected part above FOREGROUND."""
    count, parts, stats, _ = cv2.connectedComponentsWithStats((probability > FOREGROUND).astype(np.uint8), 8)
    keep = np.zeros(count, np.int32)
    big = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= MIN_PART_PIXELS]
    keep[big] = np.arange(1, len(big) + 1, dtype=np.int32)
    return keep[parts]


def extend_unsure(probability: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """The model's h×w float32 probability with the parts of the object it was unsure of raised to EXTENDED.

    On natural scenes IS-Net often gives part of the object a low but clearly non-zero probability (a textured
    butterfly wing at 0.1–0.4, the far half of a ship): cutting at 0.5 loses them. A plain lower cut would also
    take the soft fringe the model leaves round every confident edge, so only areas above UNSURE that stay
    wider than the fringe are taken (opened with a disc of UNSURE_WIDTH × the longest side, within the unsure
    area), and of those only the connected areas whose colours are on average no less likely under the
    confident foreground's colour histogram than under the background's (below UNSURE) by more than
    COLOUR_MARGIN: a patch of sky or grass the model half-saw stays out. rgb: h×w×3 uint8, the photo at the
    same size. Returns `probability` itself when nothing changes."""
    confident = probability > FOREGROUND
    unsure = probability > UNSURE
    radius = max(1, round(UNSURE_WIDTH * max(probability.shape)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    core = cv2.erode((unsure & ~confident).astype(np.uint8), disc).astype(bool)
    if not core.any() or not confident.any():
        return probability
    grown = cv2.dilate(core.astype(np.uint8), disc).astype(bool) & unsure & ~confident
    count, parts = cv2.connectedComponents(grown.astype(np.uint8), connectivity=8)
    bins = colour_bins(rgb)
    log_ratio = np.log(colour_likelihood(bins, confident.astype(np.float32))) - np.log(
        colour_likelihood(bins, (~unsure).astype(np.float32)))
    like_object = np.concatenate([[False], ndimage.mean(log_ratio, parts, np.arange(1, count)) > COLOUR_MARGIN])
    grown = like_object[parts]
    if not grown.any():
        return probability
    return np.where(grown, np.maximum(probability, EXTENDED), probability).astype(np.float32)


def studio_refine(small: np.ndarray, probability: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """The model's h×w float32 probability on a studio shot, with the pale parts it left out inside the object.

    small: h×w×3 uint8, the photo at working size; backdrop: h'×w'×3 float32, the backdrop's fitted RGB colour
    (`fusion.segmenters.classical.plain_backdrop`, on a coarser grid; it is smooth, so it is resized).
    A hole in the model's foreground is part of the object — white tights against a white sweep, a white
    saucer's rim around a dark cup, a penguin's belly — when most of its inside (3 px clear of the foreground,
    where colours blend) differs from the backdrop by more than `PALE_DISTANCE` levels, and not as a plain
    darkening of it (a shadow seen through a gap); it is then raised to `PALE_FILL`. A hole that shows the
    backdrop (between arm and body) stays open. Returns `probability` itself when nothing changes.
    Cast shadows are left to the model: IS-Net drops them on its own (eval-dev shadow composites: raw model
    0.98 IoU), and scaling its map down over the classical backend's shadows (found on a 5× coarser grid) only
    frayed object edges."""
    h, w = probability.shape
    kept = probability > FOREGROUND
    holes = ndimage.binary_fill_holes(kept) & ~kept
    count, hole_ids = cv2.connectedComponents(holes.astype(np.uint8), connectivity=4)
    if count <= 1:
        return probability
    backdrop = cv2.resize(backdrop, (w, h), interpolation=cv2.INTER_LINEAR)
    level, hue_shift = against_backdrop(small, backdrop)
    darker_backdrop = (hue_shift < 0.06) & (level > 0.25) & (level < 0.92)
    distance = np.linalg.norm(cv2.GaussianBlur(small.astype(np.float32), (0, 0), 1.0) - backdrop, axis=2)
    unlike = (distance > PALE_DISTANCE) & ~darker_backdrop
    inside = cv2.distanceTransform((~kept).astype(np.uint8), cv2.DIST_L2, 3) >= 3.0
    ids = np.arange(1, count)
    unlike_inside = ndimage.sum_labels(unlike & inside, hole_ids, ids)
    clear_inside = np.maximum(ndimage.sum_labels(inside, hole_ids, ids), 1.0)
    pale = np.concatenate([[False], unlike_inside >= 0.5 * clear_inside])
    if not pale.any():
        return probability
    return np.where(pale[hole_ids], np.maximum(probability, PALE_FILL), probability).astype(np.float32)


class SalientSegmenter:
    """`model_dir`/cutout/<name> (default: the preferred installed model). The model loads once, on `load()` or
    the first `segment`; `threads` sets ONNX Runtime's intra-op threads (one per core is the sweet spot).
    `input_side`: run the model at this many px a side instead of the size it was exported for (its contract's):
    fewer px, less time, a coarser map (see `fusion.segmenters.onnx_resize`); 0 = the model's own size.
    `fill_pale_holes`: on a plain/gradient studio backdrop, fill the holes the model leaves in pale parts of the
    object (see `studio_refine`)."""

    name = "salient"

    def __init__(self, model_dir: Path | str, model: str | None = None, *, threads: int = 1,
                 working_size: int = 1024, fill_pale_holes: bool = True, input_side: int = 0,
                 keep_unsure: bool = True) -> None:
        self.folder = require_cutout_model(model_dir, model)
        self.native_contract = load_contract(self.folder)
        self.contract = with_input_side(self.native_contract, input_side)
        self.threads = max(1, int(threads))
        self.working_size = int(working_size)
        self.fill_pale_holes = bool(fill_pale_holes)
        self.keep_unsure = bool(keep_unsure)
        self._session: onnxruntime.InferenceSession | None = None
        self._lock = threading.Lock()
        self._fallback: ClassicalSegmenter | None = None

    @property
    def model_name(self) -> str:
        return self.folder.name

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            # No pre-planned memory pattern: IS-Net at 1024² then peaks at 1.35 GB instead of 2.2 GB and runs
            # ~8 % faster (2 threads, Xeon, 2026-12-05); turning the arena off as well saves 0.2 GB more but
            # costs ~20 % speed.
            options.enable_mem_pattern = False
            options.log_severity_level = 3  # errors only: a rewritten graph's unused constants are not news
            source: str | bytes = str(self.folder / MODEL_FILE)
            if self.contract.input_size != self.native_contract.input_size:
                source = retarget_input_size(
                    self.folder / MODEL_FILE, self.native_contract.input_size, self.contract.input_size
                ).model
            try:
                session = onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime's own exception types: a corrupt or unsupported graph
                detail = " ".join(str(exc).split())[:200]
                raise ModelLoadError(f"cannot load cut-out model {self.folder}: {detail}") from exc
            names = {i.name for i in session.get_inputs()}
            if self.contract.input_name and self.contract.input_name not in names:
                raise ModelLoadError(
                    f"{self.folder}: the contract names input {self.contract.input_name!r}, the graph has "
                    f"{sorted(names)}"
                )
            self._session = session

    def probability(self, image: np.ndarray) -> np.ndarray:
        """H×W×3 uint8 RGB → the model's h×w float32 probability at its own output size."""
        self.load()
        session = self._session
        assert session is not None
        input_name = self.contract.input_name or session.get_inputs()[0].name
        output_name = self.contract.output_name or session.get_outputs()[0].name
        try:
            raw = session.run([output_name], {input_name: prepare_input(image, self.contract)})[0]
        except Exception as exc:  # onnxruntime's own exception types: most likely a size baked into the export
            if self.contract.input_size == self.native_contract.input_size:
                raise
            width, height = self.contract.input_size
            raise ModelLoadError(
                f"cut-out model {self.model_name} cannot run at {width}×{height} (exported for "
                f"{self.native_contract.input_size[0]}×{self.native_contract.input_size[1]}; this export fixes "
                f"sizes we cannot rewrite): leave the model side unset. {' '.join(str(exc).split())[:160]}"
            ) from exc
        return read_output(raw, self.contract)

    def segment(self, image: np.ndarray, prompts: PromptSet) -> Evidence:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InvalidImageError(f"expected H×W×3 uint8 RGB, got {image.shape} {image.dtype}")
        small = resize_to_working(image, self.working_size)
        shape = small.shape[:2]
        probability = cv2.resize(self.probability(image), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        probability = np.clip(probability, 0.0, 1.0).astype(np.float32)
        notes = [f"cut-out model {self.model_name} ({self.contract.input_size[0]}×{self.contract.input_size[1]})"]
        backdrop = plain_backdrop(resize_to_working(small, STUDIO_SIZE))
        if backdrop is None and self.keep_unsure:  # a studio backdrop has no half-seen parts, only shadows
            extended = extend_unsure(probability, small)
            if extended is not probability:
                probability = extended
                notes.append(EXTEND_NOTE)
        if float((probability > FOREGROUND).mean()) < MIN_MODEL_SHARE:
            return self._classical_instead(image, prompts)
        if backdrop is not None and self.fill_pale_holes:
            refined = studio_refine(small, probability, backdrop.backdrop)
            if refined is not probability:
                probability = refined
                notes.append(STUDIO_NOTE)
        if not prompts.empty:
            notes.insert(0, IGNORED_PROMPTS_NOTE)
        return Evidence(
            image=small,
            heatmap=probability,
            labels=foreground_parts(probability),
            prior=centre_prior(shape),
            backend=self.name,
            prompts_used=False,
            notes=tuple(notes),
        )

    def _classical_instead(self, image: np.ndarray, prompts: PromptSet) -> Evidence:
        """The classical backend's evidence for this photo, labelled as this backend's (a reprompt or correction
        of the item comes back here) with a note saying what happened."""
        if self._fallback is None:
            self._fallback = ClassicalSegmenter()
        evidence = self._fallback.segment(image, PromptSet())
        notes = (IGNORED_PROMPTS_NOTE,) if not prompts.empty else ()
        return replace(evidence, backend=self.name, notes=(*notes, FALLBACK_NOTE, *evidence.notes))

    def reprompt(self, evidence: Evidence, prompts: PromptSet) -> Evidence:
        """New prompts for stored evidence of this backend: the model reads no text, so the evidence comes back
        unchanged (no second model run); only its note about ignored prompts follows the new prompts."""
        notes = tuple(note for note in evidence.notes if note != IGNORED_PROMPTS_NOTE)
        notes = notes if prompts.empty else (IGNORED_PROMPTS_NOTE, *notes)
        return evidence if notes == evidence.notes else replace(evidence, notes=notes)
