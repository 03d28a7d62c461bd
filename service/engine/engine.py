"""The engine behind the service: cut, reprompt, correct and rerender one item, keeping what each stage costs.

Pure of HTTP and SQL: bytes and a RenderRequest in, a CutResult out, intermediate results kept in an
artifact store (anything with `put(bytes) -> sha256 hex` and `get(digest) -> bytes`).

A cut is expensive (segmentation); everything after it is cheap if its inputs are kept, so a cut stores:
    original    the uploaded bytes
    evidence    the segmenter's Evidence (working image, label map, heatmaps, prior) — fusion.evidence_io
    selection   what was selected and what feathering depends on — equal digests ⇒ the alpha still holds
    alpha       8-bit alpha at the photo's size (PNG; also the "mask" output as is)
    foreground  the decontaminated edge colours (a patch over the decoded original)
    layer       the product framed on its canvas, premultiplied, raw, with its shadow — fusion.product_layer
    output      the encoded result
    review      the cut's review measures (fusion.review): coverage, outline, backdrop... as JSON
Then:
- reprompt: reloads the evidence, lets the segmenter redo only what depends on the text (neural: CLIPSeg
  on the stored working image, never OneFormer; classical: nothing, it cannot read text), selects again, and
  feathers only when the selection changed; otherwise the stored alpha and layer are reused.
- correct (a seller's keep/remove clicks and box, fusion.corrections): reloads the evidence, selects as the cut
  did, applies every correction to that selection, then feather → decontaminate → frame → compose → encode. No
  segmenter runs, on any backend; no corrections gives the automatic cut again, byte for byte.
- rerender (theme/background/format swap): no segmentation, no feathering: the stored layer over a cached
  background, then encode (JPEG: composited and encoded in strips on all cores, fusion.jpeg). A framing
  change rebuilds the layer from the stored alpha and foreground.

Every result says whether the cut needs a person's look (fusion.review): `needs_review`, `review_reasons`
(stable codes) and `review` (sentences, measures) in its metadata. A cut measures itself; a reprompt that keeps
the alpha takes the stored measures with the new confidence; a rerender re-judges the stored measures for the
new background (a plain one is judged more strictly). A photo of one flat colour fails with no_product
before it is segmented.

Stage timings (seconds, in each result's metadata): decode, segment, reprompt (the segmenter's prompt step),
select, correct (fusion.corrections), feather, decontaminate, review, frame, background, compose, encode
(compose_encode when fused), load, store. Blobs are written on writer threads while the next stages run (each
write is durable: fsync); "store" is the time spent preparing them plus waiting, at the end, for the writes still
running. A correction decodes the photo on one of those threads while it loads, selects and corrects.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Protocol

import numpy as np

from fusion.compose import Background, Themed, is_plain
from fusion.corrections import Corrections, apply_corrections
from fusion.errors import InvalidArtifactError, PromptcutError
from fusion.evidence_io import evidence_from_bytes, evidence_to_bytes
from fusion.feather import FeatherOptions
from fusion.imageio import DecodedImage, decode_image, encode_image, encode_jpeg_rows
from fusion.pipeline import cut_from_evidence, cut_from_mask, cut_from_own_alpha, has_own_cutout, segment
from fusion.product_layer import ProductLayer, build_layer, composite_layer, layer_from_bytes, layer_to_bytes
from fusion.protocol import Repromptable, Segmenter
from fusion.review import CutMeasures, judge, measure_cut
from fusion.selection import select
from fusion.types import Cutout, Evidence, Mask
from prompting import build_prompts
from prompting.types import PromptSet
from service.engine.backgrounds import BackgroundCache
from service.engine.codecs import (
    alpha_from_png,
    alpha_to_png,
    alpha_to_u8,
    apply_patch,
    edge_patch,
    measures_from_bytes,
    measures_to_bytes,
    selection_record,
    sha256,
)
from service.engine.render_request import RenderRequest

__all__ = ["ARTIFACT_KINDS", "CutResult", "Engine", "MissingArtifactError", "RenderRequest"]

ARTIFACT_KINDS = ("original", "evidence", "selection", "alpha", "foreground", "layer", "output", "review")

REUSED_EVIDENCE_NOTE = "reprompt: the stored segmentation was reused; only prompt-dependent stages ran"
SAME_SELECTION_NOTE = "reprompt: the same regions were selected, so the stored alpha was reused"
CORRECTED_NOTE = "correction: the stored segmentation was reused; no segmenter ran"
UNCORRECTED_NOTE = "correction: no corrections left, so this is the automatic cut again"
_HEX = frozenset("0123456789abcdef")


class MissingArtifactError(PromptcutError):
    """An item lacks a stored intermediate result the operation needs (e.g. no evidence to reprompt)."""

    code = "artifact_missing"


class ArtifactStoreLike(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...


@dataclass(frozen=True)
class CutResult:
    """One operation's result.

    output: the encoded image (content_type, extension say which format).
    metadata: JSON-ready. cut/reprompt/correct: operation, backend, labels, scores, confidence, reason,
        tie_broken, selection (the same, grouped), notes, title, prompt, prompt_source, prompts
        (PromptSet.to_dict()), prompts_read (did the backend read the text prompt), render, needs_review,
        review_reasons, review {messages, plain_background, measures}, size [w, h] (the output),
        photo_size [w, h] (the original as displayed: the pixels corrections are given in), timings
        {stage: seconds}; reprompt adds reused {label_map, alpha}, correct adds reused {alpha}.
        rerender: operation, render, needs_review, review_reasons, review, size, timings, layer_reused only —
        merge it over the item's metadata.
    artifacts: kind → digest of the item's current artifacts, all in the store (unchanged kinds included:
        compare with what you had to see what is new).
    """

    output: bytes
    content_type: str
    extension: str
    metadata: dict
    artifacts: dict[str, str] = field(default_factory=dict)


class _Clock:
    """One operation's bookkeeping: wall time per stage (seconds), and the artifact writes it has in flight.

    `put` hands a blob to a writer thread and returns its digest at once, so the durable write (fsync, several ms
    a blob) overlaps with the stages after it; `get` serves a blob still being written from memory; `finish`
    waits for every write (timed as "store"), so a result is only handed back once all its blobs are stored.
    """

    def __init__(self, store: ArtifactStoreLike, writer: Executor) -> None:
        self.timings: dict[str, float] = {}
        self.store = store
        self.writer = writer
        self.pending: dict[str, tuple[bytes, Future]] = {}

    def put(self, data: bytes) -> str:
        digest = sha256(data)  # what the store names it (ArtifactStoreLike: put returns the sha256 hex)
        if digest not in self.pending:
            self.pending[digest] = (data, self.writer.submit(self.store.put, data))
        return digest

    def get(self, digest: str) -> bytes:
        waiting = self.pending.get(digest)
        return waiting[0] if waiting is not None else self.store.get(digest)

    def finish(self) -> None:
        """Wait for every write; the first failure is raised (OutputWriteError from the store, ...)."""
        with self("store"):
            for digest, (_, future) in self.pending.items():
                if future.result() != digest:
                    raise InvalidArtifactError("the artifact store named a blob by something other than its sha256")

    def settle(self) -> None:
        """After a failed operation: wait for its writes, ignoring their errors (the operation's error is the
        one to report)."""
        for _, future in self.pending.values():
            try:
                future.result()
            except Exception:  # noqa: BLE001 — reported by the operation's own error instead
                pass

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    def add(self, timings: Mapping[str, float]) -> None:
        for stage, seconds in timings.items():
            self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def rounded(self) -> dict[str, float]:
        return {stage: round(seconds, 6) for stage, seconds in self.timings.items()}


class Engine:
    """Cut, reprompt, correct and rerender items. Thread-safe if the segmenter is (several pool threads share one).

    store: put/get artifact store. segmenter: any fusion Segmenter; reprompts are cheapest when it is also
    `Repromptable`. feather: edge options. max_pixels: decompression-bomb limit for uploads.
    theme_dirs: extra folders searched for themes by name.
    """

    def __init__(
        self,
        store: ArtifactStoreLike,
        segmenter: Segmenter,
        *,
        feather: FeatherOptions = FeatherOptions(),
        max_pixels: int = 40_000_000,
        theme_dirs: Iterable[str | Path] = (),
    ) -> None:
        self.store = store
        self.segmenter = segmenter
        self.feather = feather
        self.max_pixels = int(max_pixels)
        self.backgrounds = BackgroundCache(theme_dirs)
        # Blob writes (and the photo's decoding during a correction) run here, beside the operation's stages.
        self.writer = ThreadPoolExecutor(max_workers=4, thread_name_prefix="promptcut-store")

    # ---------------------------------------------------------------------------------------- operations

    @contextmanager
    def _operation(self) -> Iterator[_Clock]:
        """One operation's clock; its writes are all stored before the operation returns (or raises)."""
        clock = _Clock(self.store, self.writer)
        try:
            yield clock
        except BaseException:
            clock.settle()
            raise
        clock.finish()

    def check(self, render: RenderRequest) -> None:
        """Raise the error a render would raise for its background (an unknown theme), without any work."""
        self.backgrounds.resolve(render)

    def cut(self, image_bytes: bytes, title: str, prompt: str, render: RenderRequest) -> CutResult:
        """A new photo: decode (bomb guard) → its own alpha, or segment → select → feather → decontaminate →
        frame → compose → encode, storing every intermediate result (see the module docstring)."""
        with self._operation() as clock:
            background = self.backgrounds.resolve(render)  # an unknown theme fails before any work
            with clock("decode"):
                decoded = decode_image(image_bytes, max_pixels=self.max_pixels)
            prompts = build_prompts(title=title or "", prompt=prompt or "")
            stored: dict[str, str] = {}
            with clock("store"):
                stored["original"] = clock.put(image_bytes)
            prompts_read = False
            if has_own_cutout(decoded.alpha):
                cutout = cut_from_own_alpha(decoded.rgb, decoded.alpha)
                clock.add(cutout.timings)
            else:
                evidence = self._segment(decoded.rgb, prompts, clock)
                prompts_read = evidence.prompts_used
                cutout = cut_from_evidence(decoded.rgb, evidence, self.feather)
                clock.add(cutout.timings)
                with clock("store"):
                    stored["evidence"] = clock.put(evidence_to_bytes(evidence))
                    stored["selection"] = clock.put(selection_record(cutout.mask, stored["original"], self.feather))
            measures = self._keep_measures(cutout, stored, clock)
            output, size = self._finish_cut(decoded.rgb, cutout, render, background, stored, clock)
            metadata = {"operation": "cut",
                        **self._describe(cutout.mask, cutout.backend, cutout.notes, prompts, render),
                        "prompts_read": prompts_read, **self._review(measures, background), "size": size,
                        "photo_size": _photo_size(decoded)}
        return self._result(output, render, {**metadata, "timings": clock.rounded()}, stored)

    def reprompt(self, artifacts: Mapping[str, str], title: str, prompt: str, render: RenderRequest) -> CutResult:
        """A retyped prompt for a cut item: reuse its stored evidence, redo only the prompt-dependent stages."""
        with self._operation() as clock:
            stored = self._known(artifacts)
            self._require(stored, "original", "evidence", why="to reprompt it", action="reprompt")
            background = self.backgrounds.resolve(render)
            prompts = build_prompts(title=title or "", prompt=prompt or "")
            with clock("load"):
                evidence = evidence_from_bytes(clock.get(stored["evidence"]))
            decoded: DecodedImage | None = None
            notes: tuple[str, ...]
            if isinstance(self.segmenter, Repromptable) and evidence.backend == self.segmenter.name:
                with clock("reprompt"):
                    fresh = self.segmenter.reprompt(evidence, prompts)
                notes = (REUSED_EVIDENCE_NOTE,)
                reused_label_map = True
            else:  # another backend made the stored evidence, or this one cannot reprompt: segment again
                decoded = self._decode_original(stored, clock)
                fresh = self._segment(decoded.rgb, prompts, clock)
                notes = (f"reprompt: the stored evidence came from the {evidence.backend!r} backend; "
                         f"segmented again with {self.segmenter.name!r}",)
                reused_label_map = False
            if not _same_evidence(fresh, evidence):
                with clock("store"):
                    stored["evidence"] = clock.put(evidence_to_bytes(fresh))
            with clock("select"):
                mask = select(fresh)
            known = decoded
            output, size, measures, same_alpha = self._output_for_selection(
                mask, fresh.backend, fresh.notes, stored, render, background, clock,
                lambda: known or self._decode_original(stored, clock))
            notes = (*notes, *fresh.notes, *((SAME_SELECTION_NOTE,) if same_alpha else ()))
            photo_size = _photo_size(decoded) if decoded is not None else self._stored_photo_size(stored, clock)
            metadata = {
                "operation": "reprompt",
                **self._describe(mask, fresh.backend, notes, prompts, render),
                "prompts_read": fresh.prompts_used,
                **self._review(measures, background),
                "reused": {"label_map": reused_label_map, "alpha": same_alpha},
                "size": size,
                "photo_size": photo_size,
            }
        return self._result(output, render, {**metadata, "timings": clock.rounded()}, stored)

    def correct(
        self, artifacts: Mapping[str, str], corrections: Corrections, render: RenderRequest, *,
        title: str = "", prompt: str = "",
    ) -> CutResult:
        """A seller's clicks and box (photo pixels, as displayed) for a cut item: the automatic selection of its
        stored evidence, corrected (fusion.corrections), then feathered and rendered — no segmenter runs.
        `corrections` is everything said so far (empty → the automatic cut again); `title`/`prompt` are the
        item's, for the description. InvalidOptionError for a click or box outside the photo,
        MissingArtifactError for an item without stored evidence (its own transparency was used)."""
        with self._operation() as clock:
            stored = self._known(artifacts)
            self._require(stored, "original", "evidence", why="to correct it", action="correct")
            background = self.backgrounds.resolve(render)
            prompts = build_prompts(title=title or "", prompt=prompt or "")
            with clock("load"):
                evidence = evidence_from_bytes(clock.get(stored["evidence"]))
            # the photo is decoded beside loading, selecting and correcting (it is only needed for feathering)
            decoding = self.writer.submit(self._decode_original, stored, clock)
            if "alpha" in stored:  # the alpha is at the photo's size: no need to wait for the photo to know it
                photo_size = self._stored_photo_size(stored, clock)
            else:
                photo_size = _photo_size(decoding.result())
            corrections.check(*photo_size)  # before any work
            with clock("select"):
                base = select(evidence)
            with clock("correct"):
                mask = apply_corrections(evidence, base, corrections, (photo_size[0], photo_size[1]))
            notes = (*evidence.notes, UNCORRECTED_NOTE if corrections.empty else CORRECTED_NOTE)
            output, size, measures, same_alpha = self._output_for_selection(
                mask, evidence.backend, notes, stored, render, background, clock, decoding.result)
            metadata = {
                "operation": "correct",
                **self._describe(mask, evidence.backend, notes, prompts, render),
                "prompts_read": evidence.prompts_used,
                **self._review(measures, background),
                "reused": {"alpha": same_alpha},
                "size": size,
                "photo_size": photo_size,
            }
        return self._result(output, render, {**metadata, "timings": clock.rounded()}, stored)

    def rerender(self, artifacts: Mapping[str, str], render: RenderRequest) -> CutResult:
        """Another theme, background, format or framing for a cut item: no segmentation, no feathering."""
        with self._operation() as clock:
            stored = self._known(artifacts)
            self._require(stored, "original", "alpha", "foreground", why="to render it again")
            background = self.backgrounds.resolve(render)
            output, size, layer_reused = self._render_stored(stored, render, background, clock)
            measures = self._stored_measures(stored, clock)
            metadata = {
                "operation": "rerender",
                "render": render.to_dict(),
                **self._review(measures, background),
                "size": size,
                "layer_reused": layer_reused,
            }
        return self._result(output, render, {**metadata, "timings": clock.rounded()}, stored)

    # ------------------------------------------------------------------------------------------- stages

    def _output_for_selection(
        self, mask: Mask, backend: str, notes: tuple[str, ...], stored: dict[str, str], render: RenderRequest,
        background: Background, clock: _Clock, photo: Callable[[], DecodedImage],
    ) -> tuple[bytes, list[int], CutMeasures, bool]:
        """A new selection of a cut item → (output, its [width, height], review measures, whether the stored alpha
        was reused). Feathering is a pure function of (original, selection, options): when the selection is the
        stored one the stored alpha still holds and only the render runs; else `photo()` is feathered again."""
        record = selection_record(mask, stored["original"], self.feather)
        if sha256(record) == stored.get("selection") and all(kind in stored for kind in ("alpha", "foreground")):
            output, size, _ = self._render_stored(stored, render, background, clock)
            # same alpha, same shape measures; only the selection's confidence may have moved
            measures = replace(self._stored_measures(stored, clock, mask.confidence), confidence=mask.confidence)
            with clock("store"):
                stored["review"] = clock.put(measures_to_bytes(measures))
            return output, size, measures, True
        decoded = photo()
        cutout = cut_from_mask(decoded.rgb, mask, backend, self.feather, notes=notes)
        clock.add(cutout.timings)
        with clock("store"):
            stored["selection"] = clock.put(record)
        measures = self._keep_measures(cutout, stored, clock)
        output, size = self._finish_cut(decoded.rgb, cutout, render, background, stored, clock)
        return output, size, measures, False

    def _segment(self, rgb: np.ndarray, prompts: PromptSet, clock: _Clock) -> Evidence:
        timings: dict[str, float] = {}
        try:
            return segment(rgb, prompts, self.segmenter, self.feather, timings)
        finally:
            clock.add(timings)

    def _decode_original(self, stored: Mapping[str, str], clock: _Clock) -> DecodedImage:
        with clock("decode"):
            return decode_image(clock.get(stored["original"]), max_pixels=self.max_pixels)

    def _stored_photo_size(self, stored: Mapping[str, str], clock: _Clock) -> list[int]:
        """[width, height] of the photo as displayed, read from the stored alpha's PNG header (no decoding)."""
        with clock("load"):
            return _png_size(clock.get(stored["alpha"]))

    def _keep_measures(self, cutout: Cutout, stored: dict[str, str], clock: _Clock) -> CutMeasures:
        """Store a fresh cut's review measures (fusion.pipeline always measures; a hand-built Cutout is
        measured here)."""
        measures = cutout.measures
        if measures is None:
            with clock("review"):
                own = cutout.backend == "input-alpha"
                measures = measure_cut(cutout.mask.confidence, cutout.alpha, None if own else cutout.image)
        with clock("store"):
            stored["review"] = clock.put(measures_to_bytes(measures))
        return measures

    def _stored_measures(
        self, stored: dict[str, str], clock: _Clock, confidence: float | None = None
    ) -> CutMeasures:
        """The stored cut's review measures. An item cut before reviews were stored is measured once, from its
        stored alpha and original (and its evidence's selection for the confidence, unless given)."""
        if "review" in stored:
            with clock("load"):
                return measures_from_bytes(clock.get(stored["review"]))
        decoded = self._decode_original(stored, clock)
        with clock("load"):
            alpha = alpha_from_png(clock.get(stored["alpha"]), decoded.rgb.shape[:2])
        own = "evidence" not in stored  # the input's own transparency: only the cut's shape is judged
        if confidence is None and not own:
            with clock("load"):
                evidence = evidence_from_bytes(clock.get(stored["evidence"]))
            with clock("select"):
                confidence = select(evidence).confidence
        with clock("review"):
            measures = measure_cut(1.0 if confidence is None else confidence, alpha, None if own else decoded.rgb)
        with clock("store"):
            stored["review"] = clock.put(measures_to_bytes(measures))
        return measures

    def _finish_cut(
        self, rgb: np.ndarray, cutout: Cutout, render: RenderRequest, background: Background,
        stored: dict[str, str], clock: _Clock,
    ) -> tuple[bytes, list[int]]:
        """Store alpha and foreground, frame a new layer, compose and encode → (output, its [width, height])."""
        with clock("store"):
            alpha = alpha_to_u8(cutout.alpha)
            alpha_png = alpha_to_png(alpha)
            stored["alpha"] = clock.put(alpha_png)
            stored["foreground"] = clock.put(edge_patch(rgb, cutout.foreground))
        layer = self._new_layer(cutout.foreground, alpha, render, stored, clock)
        return self._output(layer, alpha_png, render, background, stored, clock)

    def _render_stored(
        self, stored: dict[str, str], render: RenderRequest, background: Background, clock: _Clock
    ) -> tuple[bytes, list[int], bool]:
        """Output from stored artifacts: the stored layer when it was framed the same way, else a new one.
        → (output, its [width, height], whether the stored layer was used)."""
        if render.format == "mask":
            with clock("load"):
                alpha_png = clock.get(stored["alpha"])
            with clock("store"):
                stored["output"] = clock.put(alpha_png)
            return alpha_png, _png_size(alpha_png), False
        layer = None
        key = self._layer_key(render, stored)
        if "layer" in stored:
            with clock("load"):
                candidate = layer_from_bytes(clock.get(stored["layer"]))
            layer = candidate if candidate.key == key else None
        reused = layer is not None
        if layer is None:
            decoded = self._decode_original(stored, clock)
            with clock("load"):
                alpha = alpha_from_png(clock.get(stored["alpha"]), decoded.rgb.shape[:2])
                foreground = apply_patch(decoded.rgb, clock.get(stored["foreground"]))
            layer = self._new_layer(foreground, alpha, render, stored, clock)
        output, size = self._output(layer, b"", render, background, stored, clock)
        return output, size, reused

    def _new_layer(
        self, foreground: np.ndarray, alpha: np.ndarray, render: RenderRequest, stored: dict[str, str], clock: _Clock
    ) -> ProductLayer:
        with clock("frame"):
            layer = build_layer(foreground, alpha, render.framing, key=self._layer_key(render, stored))
        with clock("store"):
            stored["layer"] = clock.put(layer_to_bytes(layer))
        return layer

    def _output(
        self, layer: ProductLayer, alpha_png: bytes, render: RenderRequest, background: Background,
        stored: dict[str, str], clock: _Clock,
    ) -> tuple[bytes, list[int]]:
        size = list(layer.canvas)
        if render.format == "mask":
            output = alpha_png or clock.get(stored["alpha"])
            size = _png_size(output)
        else:
            with clock("background"):
                pixels = self.backgrounds.pixels(background, *layer.canvas)
            shadow = render.shadow if render.shadow is not None else isinstance(background, Themed)
            if render.format == "jpeg" and pixels is not None:
                # strips are composited and encoded together, on several threads (fusion.jpeg)
                with clock("compose_encode"):
                    output = encode_jpeg_rows(lambda top, bottom: composite_layer(layer, pixels, shadow, (top, bottom)),
                                              *layer.canvas, quality=render.quality)
            else:
                with clock("compose"):
                    image = composite_layer(layer, pixels, shadow)
                with clock("encode"):
                    output = encode_image(image, render.format, quality=render.quality)
        with clock("store"):
            stored["output"] = clock.put(output)
        return output, size

    # ------------------------------------------------------------------------------------------ helpers

    @staticmethod
    def _layer_key(render: RenderRequest, stored: Mapping[str, str]) -> str:
        """A layer is valid for one framing of one alpha + foreground."""
        return json.dumps(
            {"framing": render.framing_key, "alpha": stored.get("alpha"), "foreground": stored.get("foreground")},
            sort_keys=True,
        )

    @staticmethod
    def _known(artifacts: Mapping[str, str]) -> dict[str, str]:
        """The artifact kinds the engine uses, with digests checked (never a path from a bad value)."""
        stored = {}
        for kind in ARTIFACT_KINDS:
            digest = artifacts.get(kind)
            if digest is None:
                continue
            if not (isinstance(digest, str) and len(digest) == 64 and set(digest) <= _HEX):
                raise MissingArtifactError(f"the stored {kind} reference is not a sha256 digest")
            stored[kind] = digest
        return stored

    @staticmethod
    def _require(stored: Mapping[str, str], *kinds: str, why: str, action: str = "redo") -> None:
        missing = [kind for kind in kinds if kind not in stored]
        if not missing:
            return
        if missing == ["evidence"]:
            raise MissingArtifactError(
                "this item has no stored segmentation (its own transparency was used, or it was never cut), "
                f"so there is nothing to {action}"
            )
        raise MissingArtifactError(f"the item has no stored {', '.join(missing)} {why}")

    @staticmethod
    def _describe(mask: Mask, backend: str, notes: tuple[str, ...], prompts: PromptSet, render: RenderRequest) -> dict:
        explain = mask.explain()
        return {
            "backend": backend,
            "labels": explain["chosen"],
            "scores": explain["scores"],
            "confidence": explain["confidence"],
            "reason": explain["reason"],
            "tie_broken": explain["tie_broken"],
            "selection": explain,
            "notes": list(dict.fromkeys(notes)),
            "title": prompts.title,
            "prompt": prompts.prompt,
            "prompt_source": prompts.source,
            "prompts": prompts.to_dict(),
            "render": render.to_dict(),
        }

    @staticmethod
    def _review(measures: CutMeasures, background: Background) -> dict:
        """needs_review, review_reasons, review: the verdict for this output's background (fusion.review)."""
        plain = is_plain(background)
        return judge(measures, plain).metadata(measures, plain)

    @staticmethod
    def _result(output: bytes, render: RenderRequest, metadata: dict, stored: dict[str, str]) -> CutResult:
        return CutResult(output, render.content_type, render.extension, metadata, dict(stored))


def _same_evidence(a: Evidence, b: Evidence) -> bool:
    """True when `a` is `b` with at most new notes (a backend that cannot read text returns the same arrays)."""
    return (
        a.heatmap is b.heatmap
        and a.negative_heatmap is b.negative_heatmap
        and a.labels is b.labels
        and a.image is b.image
    )


def _photo_size(decoded: DecodedImage) -> list[int]:
    return [int(decoded.rgb.shape[1]), int(decoded.rgb.shape[0])]


def _png_size(data: bytes) -> list[int]:
    """[width, height] from a PNG's IHDR chunk."""
    return [int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")]
