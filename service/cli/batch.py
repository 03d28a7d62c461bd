"""Run a batch of files through cut → render → atomic write. One bad file never stops the batch."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from fusion.compose import Background, Framing, is_plain
from fusion.corrections import Corrections, apply_corrections
from fusion.errors import InvalidOptionError, PromptcutError
from fusion.feather import FeatherOptions
from fusion.imageio import load_image, write_atomic
from fusion.pipeline import cut, cut_from_mask, cut_from_own_alpha, has_own_cutout, segment
from fusion.protocol import Segmenter
from fusion.render import OutputOptions, render
from fusion.selection import select
from fusion.types import Cutout
from prompting import PromptSet, build_prompts
from service.cli.inputs import BatchItem, TitleRow, title_for


@dataclass(frozen=True)
class BatchSettings:
    out_dir: Path
    background: Background
    framing: Framing
    output: OutputOptions
    feather: FeatherOptions
    overwrite: bool = False
    max_pixels: int = 40_000_000
    prompt: str = ""  # typed prompt for every item (overrides titles)
    title: str = ""  # one title for every item (a titles CSV row wins)
    use_input_alpha: bool = True
    corrections: Corrections = Corrections()  # clicks / box for a single photo: the automatic cut, corrected

CORRECTED_NOTE = "corrected: the automatic cut, then the given clicks/box applied to it (one segmentation)"


@dataclass(frozen=True)
class ItemResult:
    """One file's outcome. needs_review / review_reasons / review_messages: fusion.review's verdict on a done
    cut (stable codes, and a sentence each), for the background it was put on."""

    source: str
    output: str
    status: str  # done | skipped | failed
    error: str = ""
    seconds: float = 0.0
    metadata: dict = field(default_factory=dict)
    needs_review: bool = False
    review_reasons: tuple[str, ...] = ()
    review_messages: tuple[str, ...] = ()


def output_path(item: BatchItem, settings: BatchSettings) -> Path:
    return settings.out_dir / item.relative.with_name(f"{item.relative.name}.{settings.output.extension}")


def process_item(
    item: BatchItem, segmenter: Segmenter, settings: BatchSettings, titles: dict[str, TitleRow]
) -> ItemResult:
    target = output_path(item, settings)
    if target.exists() and not settings.overwrite:
        return ItemResult(str(item.source), str(target), "skipped")
    start = time.perf_counter()
    try:
        row = title_for(item, titles)
        prompts = build_prompts(
            title=row.title if row else settings.title,
            prompt=settings.prompt or (row.prompt if row else ""),
        )
        decoded = load_image(item.source, max_pixels=settings.max_pixels)
        if not settings.corrections.empty:
            cutout = _corrected_cut(decoded.rgb, decoded.alpha, prompts, segmenter, settings)
        elif settings.use_input_alpha and has_own_cutout(decoded.alpha):
            cutout = cut_from_own_alpha(decoded.rgb, decoded.alpha)
        else:
            cutout = cut(decoded.rgb, prompts, segmenter, settings.feather)
        data = render(cutout, settings.background, settings.framing, settings.output)
        write_atomic(target, data)
    except PromptcutError as exc:
        return ItemResult(str(item.source), str(target), "failed", str(exc), time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 — an unexpected bug on one file must not lose the batch
        message = f"internal error ({type(exc).__name__}: {exc}); please report it"
        return ItemResult(str(item.source), str(target), "failed", message, time.perf_counter() - start)
    plain = is_plain(settings.background)
    review = cutout.review(plain)
    metadata = cutout.metadata(plain) | {
        "title": prompts.title,
        "prompt": prompts.prompt,
        "prompt_source": prompts.source,
        "prompts": prompts.to_dict(),
    }
    if not settings.corrections.empty:
        metadata["corrections"] = settings.corrections.to_dict()
    return ItemResult(str(item.source), str(target), "done", seconds=time.perf_counter() - start, metadata=metadata,
                      needs_review=review.needs_review, review_reasons=review.reasons, review_messages=review.messages)


def _corrected_cut(
    rgb: np.ndarray, alpha: np.ndarray | None, prompts: PromptSet, segmenter: Segmenter, settings: BatchSettings
) -> Cutout:
    """The automatic cut of `rgb` (H×W×3 uint8) corrected by settings.corrections, as the service's correct
    step does it: one segmentation, its automatic selection, the clicks/box applied, then feathered."""
    height, width = rgb.shape[:2]
    settings.corrections.check(width, height)  # before segmenting: a typo costs nothing
    if settings.use_input_alpha and has_own_cutout(alpha):
        raise InvalidOptionError("this photo already carries its own transparency, which is used as the cut; "
                                 "clicks and boxes correct an automatic cut only")
    evidence = segment(rgb, prompts, segmenter, settings.feather)
    mask = apply_corrections(evidence, select(evidence), settings.corrections, (width, height))
    return cut_from_mask(rgb, mask, evidence.backend, settings.feather, notes=(*evidence.notes, CORRECTED_NOTE))


def run_batch(
    items: list[BatchItem],
    segmenter: Segmenter,
    settings: BatchSettings,
    titles: dict[str, TitleRow],
    on_item: Callable[[ItemResult], None] = lambda result: None,
) -> list[ItemResult]:
    results = []
    for item in items:
        result = process_item(item, segmenter, settings, titles)
        on_item(result)
        results.append(result)
    return results
