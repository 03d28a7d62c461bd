"""Speed of the neural segment stage against the naive transformers recipe, measured in one run.

Naive recipe (what a first integration does): processor defaults (OneFormer resizes to 800 px short side),
fp32 eager, one full CLIPSeg call per prompt (the CLIP vision encoder re-run for each), the label map
post-processed at the photo's size. It is timed at the processor's default resolution and at our working
resolution, so the speed-up from resolution and the speed-up from everything else are reported apart.

Ours: `NeuralSegmenter.segment` — working resolution (max side 512), the vision encoder run once for all
prompts, bf16 autocast where the CPU has native bf16, post-processing at the working size. fp32 is timed too,
and bf16 outputs are compared with fp32 on the same inputs (label-map agreement, heatmap max difference).
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from fusion.segmenters.classical import resize_to_working
from fusion.segmenters.neural import NeuralSegmenter
from prompting.types import PromptSet


@dataclass(frozen=True)
class Timing:
    """Seconds per run of one recipe and the resolution OneFormer saw (width, height)."""

    recipe: str
    seconds: tuple[float, ...]
    oneformer_size: tuple[int, int]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass(frozen=True)
class NeuralBenchResult:
    image_size: tuple[int, int]  # (width, height) of the photo
    prompts: tuple[str, ...]
    threads: int
    precision: str  # what "ours" ran in
    timings: tuple[Timing, ...]
    ours_stages: dict[str, float]  # median seconds: clipseg, oneformer (bf16/our path)
    label_agreement: float  # share of pixels where bf16 and fp32 label maps agree
    label_classes: int  # distinct classes in the fp32 label map (1 makes the agreement trivially 100 %)
    query_agreement: float  # share of mask pixels where bf16 and fp32 pick the same winning query (argmax mask logit)
    query_margin_median: float  # fp32: median lead of a pixel's winning query over the runner-up, in logits
    mask_logit_max_difference: float  # max |bf16 − fp32| of OneFormer's mask logits
    mask_logit_mean_difference: float
    score_max_difference: float  # max |bf16 − fp32| of OneFormer's per-class semantic scores
    heatmap_max_difference: float  # max |bf16 − fp32| over all prompt heatmaps
    heatmap_mean_difference: float
    heatmap_p99_difference: float
    # mean |bf16 − fp32| of CLIPSeg's logits over their mean magnitude: random-init logits run to ±1000s (a
    # trained model's to about ±10), so a small relative error still flips the sigmoid of pixels near 0
    heatmap_logit_relative_difference: float
    peak_rss_mb: float  # process peak after loading both models and running our recipe

    def timing(self, recipe: str) -> Timing:
        return next(t for t in self.timings if t.recipe == recipe)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _repeat(fn: Callable[[], object], repeat: int) -> tuple[float, ...]:
    fn()  # warm-up: first-call allocations and oneDNN kernel selection are not per-image costs
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return tuple(seconds)


def naive_segment(segmenter: NeuralSegmenter, image: np.ndarray, phrases: tuple[str, ...],
                  oneformer_size: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """The naive recipe on an fp32 segmenter's models: heatmaps P×H×W and labels H×W at the photo's size.

    oneformer_size: the OneFormer processor's size dict, or None for its default (800 px short side)."""
    import torch  # deferred: heavy, neural backend only

    parts = segmenter.components
    h, w = image.shape[:2]
    heatmaps = []
    with torch.inference_mode():
        for phrase in phrases:  # one full CLIPSeg call per prompt, as in the model card's example
            pixels = parts.clipseg_image_processor(images=image, return_tensors="pt")["pixel_values"]
            text = parts.clipseg_tokenizer([phrase], padding=True, return_tensors="pt")
            logits = parts.clipseg(pixel_values=pixels, **text).logits
            plane = torch.sigmoid(logits).reshape(logits.shape[-2:]).numpy()
            heatmaps.append(cv2.resize(plane, (w, h), interpolation=cv2.INTER_LINEAR))
        extra = {} if oneformer_size is None else {"size": oneformer_size}
        inputs = parts.oneformer_processor(images=image, task_inputs=["semantic"], return_tensors="pt", **extra)
        outputs = parts.oneformer(**inputs)
    processor = parts.oneformer_processor.image_processor
    labels = processor.post_process_semantic_segmentation(outputs, target_sizes=[(h, w)])[0].numpy()
    return np.stack(heatmaps), labels


def oneformer_outputs(segmenter: NeuralSegmenter, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OneFormer's semantic scores and mask logits at mask resolution, in the segmenter's precision.

    Scores C×h×w float32: softmax(class logits) · sigmoid(mask logits), the quantity whose argmax is the label
    map. Mask logits Q×h×w float32: one plane per query. A random-init class head makes one class win
    everywhere, so label-map agreement says little on random models; the mask logits vary across the image
    and carry the whole network's error."""
    import torch  # deferred: heavy, neural backend only

    parts = segmenter.components
    inputs = parts.oneformer_processor(images=image, task_inputs=["semantic"], do_resize=False, return_tensors="pt")
    with torch.inference_mode(), segmenter.autocast():
        outputs = parts.oneformer(**inputs)
    classes = outputs.class_queries_logits.float().softmax(-1)[..., :-1]
    masks = outputs.masks_queries_logits.float()
    scores = torch.einsum("bqc,bqhw->bchw", classes, masks.sigmoid())[0].numpy()
    return scores, masks[0].numpy()


def _oneformer_input_size(
    segmenter: NeuralSegmenter, image: np.ndarray, oneformer_size: dict | None
) -> tuple[int, int]:
    extra = {} if oneformer_size is None else {"size": oneformer_size}
    pixels = segmenter.components.oneformer_processor.image_processor(images=image, return_tensors="np", **extra)
    return int(pixels["pixel_values"].shape[-1]), int(pixels["pixel_values"].shape[-2])


def run_neural_bench(model_dir, image: np.ndarray, prompts: PromptSet, *, threads: int = 2, working_size: int = 512,
                     repeat: int = 3, default_resolution: bool = True,
                     progress: Callable[[str], None] = lambda line: None) -> NeuralBenchResult:
    """Time naive vs ours on `image` (H×W×3 uint8) with `prompts` (positives + negatives are all prompted)."""
    ours = NeuralSegmenter(model_dir, working_size=working_size, threads=threads, precision="auto")
    fp32 = NeuralSegmenter(model_dir, working_size=working_size, threads=threads, precision="fp32")
    ours.load()
    phrases = tuple(prompts.positives) + tuple(prompts.negatives)
    small = resize_to_working(image, working_size)
    working = (small.shape[1], small.shape[0])
    timings = []

    progress(f"ours ({ours.precision}, working size {working_size})")
    timings.append(Timing(f"ours {ours.precision}", _repeat(lambda: ours.segment(image, prompts), repeat), working))
    stages = {
        "clipseg": statistics.median(_repeat(lambda: ours.heatmaps(small, phrases), repeat)),
        "oneformer": statistics.median(_repeat(lambda: ours.label_map(small), repeat)),
    }
    peak = _peak_rss_mb()  # before the fp32 copies exist: what serving our recipe needs

    fp32.load()
    if ours.precision != "fp32":
        progress("ours (fp32)")
        timings.append(Timing("ours fp32", _repeat(lambda: fp32.segment(image, prompts), repeat), working))
    reference_labels, candidate_labels = fp32.label_map(small), ours.label_map(small)
    reference_heat, candidate_heat = fp32.heatmaps(small, phrases), ours.heatmaps(small, phrases)
    heat_difference = np.abs(reference_heat - candidate_heat)
    reference_logits = fp32.clipseg_logits(small, phrases).numpy()
    logit_difference = np.abs(reference_logits - ours.clipseg_logits(small, phrases).numpy())
    (reference_scores, reference_masks), (candidate_scores, candidate_masks) = (
        oneformer_outputs(fp32, small), oneformer_outputs(ours, small))
    score_difference = np.abs(reference_scores - candidate_scores)
    mask_difference = np.abs(reference_masks - candidate_masks)
    ranked = np.sort(reference_masks, axis=0)

    same_size = {"shortest_edge": min(working), "longest_edge": max(working)}
    progress(f"naive at the working resolution {working[0]}×{working[1]}")
    timings.append(Timing("naive, same resolution",
                          _repeat(lambda: naive_segment(fp32, image, phrases, same_size), repeat),
                          _oneformer_input_size(fp32, image, same_size)))
    if default_resolution:
        size = _oneformer_input_size(fp32, image, None)
        progress(f"naive at the processor's default resolution {size[0]}×{size[1]}")
        timings.append(Timing("naive, default resolution",
                              _repeat(lambda: naive_segment(fp32, image, phrases, None), repeat), size))
    return NeuralBenchResult(
        image_size=(image.shape[1], image.shape[0]),
        prompts=phrases,
        threads=threads,
        precision=ours.precision,
        timings=tuple(timings),
        ours_stages=stages,
        label_agreement=float((reference_labels == candidate_labels).mean()),
        label_classes=int(len(np.unique(reference_labels))),
        query_agreement=float((reference_masks.argmax(0) == candidate_masks.argmax(0)).mean()),
        query_margin_median=float(np.median(ranked[-1] - ranked[-2])),
        mask_logit_max_difference=float(mask_difference.max()),
        mask_logit_mean_difference=float(mask_difference.mean()),
        score_max_difference=float(score_difference.max()),
        heatmap_max_difference=float(heat_difference.max()),
        heatmap_mean_difference=float(heat_difference.mean()),
        heatmap_p99_difference=float(np.percentile(heat_difference, 99)),
        heatmap_logit_relative_difference=float(logit_difference.mean() / np.abs(reference_logits).mean()),
        peak_rss_mb=peak,
    )


__all__ = ["NeuralBenchResult", "Timing", "naive_segment", "run_neural_bench"]
