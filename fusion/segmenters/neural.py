"""The text-prompted neural segmenter: CLIPSeg heatmaps over a OneFormer semantic label map.

Per image, at the working resolution (max side `working_size`, never upscaled):
- CLIPSeg (`CIDAS/clipseg-rd64-refined`): the CLIP vision encoder runs ONCE; its pooled/extracted
  activations are repeated for every prompt (positives and negatives together) and only the text encoder
  and the light decoder run per prompt, in one batch. Logits → sigmoid → bilinear resize to the working
  size (transformers has no CLIPSeg post-processor; this is ours).
- OneFormer (`shi-labs/oneformer_coco_swin_large`, task "semantic") on the image already resized to the
  working size; `post_process_semantic_segmentation` gives the label map (COCO-panoptic class ids 0..132)
  at the working size. Class metadata comes from the shipped `prompting/data/coco_panoptic.json`, never
  from the hub.

Evidence: heatmap = max over positive heatmaps; negative_heatmap = max over negatives (None without
negatives); labels = OneFormer class ids with label_names = the 133 class names; prior = the classical
module's centre prior. With no positive prompt (an empty PromptSet) the heatmap is all zeros, so
selection falls back to the centre-prior subject and flags low confidence — we do not invent a generic
"product" prompt, whose CLIPSeg response is unreliable; a note says so.

`reprompt(evidence, prompts)` reruns only CLIPSeg on the stored working image and keeps the label map, so a
seller's retyped prompt never pays for OneFormer again.

Models are loaded once per instance (lazily on the first `segment`, or eagerly with `load()`), always with
`local_files_only=True` from `<model_dir>/<owner>--<name>` (see fusion.segmenters.models). torch and
transformers are imported only inside functions here; `torch.set_num_threads` is called in `load()`.
Inference runs under `torch.inference_mode()`; with precision "bf16" (the default where the CPU has native
bf16 matmul — AVX512-BF16 or AMX) both models run under CPU autocast to bfloat16: matmuls and attention in
bf16, while autocast keeps precision-sensitive ops (softmax reductions, sigmoid) in fp32, and OneFormer's
deformable-attention sampling runs in fp32 (fast_inference.deformable_attention_core).
`promptcut bench-neural` reports the agreement with fp32 and the speed-up.

Our calls also run inference-only fast paths (fusion.segmenters.fast_inference, active only inside
`autocast()`, so the same model objects still run the stock transformers code elsewhere): OneFormer's
deformable attention as one embedding_bag, SDPA instead of weight-returning MultiheadAttention, cached Swin
window biases, and a channels-last post-processing resize; CLIPSeg's vision encoder stops after its last
extracted layer. In bf16, matmul weights are stored in bf16 so autocast does not recast them per call; on
CPUs with native bf16 OneFormer's Linear weights are also held as oneDNN tensors, Swin's q/k/v fused into
one (oneDNN has no bf16 matmul elsewhere, where an explicit bf16 runs emulated).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fusion.errors import InvalidArtifactError, InvalidImageError, ModelLoadError
from fusion.segmenters.classical import resize_to_working
from fusion.segmenters.fast_inference import (
    cast_matmul_weights,
    encoder_depth,
    fast_inference,
    native_bf16,
    semantic_label_map,
)
from fusion.segmenters.fast_inference import install as install_fast_paths
from fusion.segmenters.models import CLIPSEG_ID, ONEFORMER_ID, require_model
from fusion.segmenters.saliency import centre_prior
from fusion.types import Evidence
from prompting.resources import coco_class_info_path, quiet_transformers_progress
from prompting.types import PromptSet

NO_PROMPT_NOTE = "no positive prompt: the centre prior chooses the product"
ONEFORMER_MIN_SIDE = 64  # smaller inputs are upscaled for OneFormer only; its label map returns to h×w
PRECISIONS = ("auto", "bf16", "fp32")


def resolve_precision(precision: str) -> str:
    """"auto" → "bf16" on CPUs with native bf16, else "fp32"; others are returned checked."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


@dataclass
class _Loaded:
    """The models and processors, loaded once. Fields hold transformers objects (typed Any: lazy import)."""

    clipseg: Any
    clipseg_tokenizer: Any
    clipseg_image_processor: Any
    oneformer: Any
    oneformer_processor: Any
    label_names: tuple[str, ...]


def _load_clipseg(folder: Path) -> tuple[Any, Any, Any]:
    # deferred: heavy, neural backend only
    from transformers import (
        CLIPSegForImageSegmentation,
        CLIPTokenizer,
        ViTImageProcessorPil,
    )

    model = CLIPSegForImageSegmentation.from_pretrained(str(folder), local_files_only=True)
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
    image_processor = ViTImageProcessorPil.from_pretrained(str(folder), local_files_only=True)
    return model.eval(), tokenizer, image_processor


def _load_oneformer(folder: Path) -> tuple[Any, Any, tuple[str, ...]]:
    # deferred: heavy, neural backend only
    from transformers import (
        CLIPTokenizer,
        OneFormerForUniversalSegmentation,
        OneFormerImageProcessorPil,
        OneFormerProcessor,
    )

    model = OneFormerForUniversalSegmentation.from_pretrained(str(folder), local_files_only=True)
    class_info = coco_class_info_path()
    image_processor = OneFormerImageProcessorPil.from_pretrained(
        str(folder),
        local_files_only=True,
        repo_path=str(class_info.parent),
        class_info_file=class_info.name,
        num_labels=model.config.num_labels,
    )
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
    processor = OneFormerProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        max_seq_length=model.config.text_encoder_context_length,
        task_seq_length=model.config.task_seq_len,
    )
    names = tuple(image_processor.metadata["class_names"])
    return model.eval(), processor, names


def _clipseg_activations(model: Any, pixels: Any) -> list[Any]:
    """The CLIP vision activations CLIPSeg's decoder reads: hidden_states[i + 1] (the output of encoder layer
    i) for i in `extract_layers`, as in CLIPSeg's forward. Run inside `fast_inference()`, the vision encoder
    stops after the last of those layers: the later layers only feed the pooled output, which CLIPSeg uses
    for visual prompts, never for text prompts (rd64 extracts layers 3, 6, 9 of 12: a quarter of the vision
    encoder is skipped; activations are bit-identical)."""
    with encoder_depth(max(model.extract_layers) + 1):
        vision = model.clip.vision_model(pixel_values=pixels, output_hidden_states=True)
    return [vision.hidden_states[i + 1] for i in model.extract_layers]


def hinted_label_ids(label_names: tuple[str, ...], prompts: PromptSet) -> tuple[int, ...]:
    """Ids of the classes named by the prompts' label hints (names as OneFormer spells them)."""
    hints = set(prompts.label_hints)
    return tuple(index for index, name in enumerate(label_names) if name in hints)


class NeuralSegmenter:
    """CLIPSeg + OneFormer behind the Segmenter protocol. See the module docstring.

    model_dir: folder holding `<owner>--<name>` model folders (`promptcut models pull` fills it).
    working_size: max side of the working resolution (OneFormer and the Evidence); 512 by default.
    threads: torch intra-op threads, set when the models are loaded (1 per worker when several share a CPU).
    precision: auto | bf16 | fp32 — "auto" picks bf16 where the CPU has native bf16 (see module docstring).
    """

    name = "neural"

    def __init__(
        self,
        model_dir: Path | str,
        clipseg_id: str = CLIPSEG_ID,
        oneformer_id: str = ONEFORMER_ID,
        working_size: int = 512,
        threads: int = 2,
        precision: str = "auto",
    ) -> None:
        if working_size < 32:
            raise ValueError(f"working_size must be at least 32, got {working_size}")
        self.model_dir = Path(model_dir)
        self.clipseg_id = clipseg_id
        self.oneformer_id = oneformer_id
        self.working_size = int(working_size)
        self.threads = max(1, int(threads))
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.precision = precision  # resolved to bf16/fp32 in load(), where torch is imported
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    # --- loading -------------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise ModelNotFoundError if either model folder is missing (cheap; loads nothing)."""
        require_model(self.model_dir, self.clipseg_id)
        require_model(self.model_dir, self.oneformer_id)

    def load(self) -> None:
        """Load both models once (idempotent, thread-safe). Raises ModelNotFoundError / ModelLoadError."""
        with self._lock:
            if self._loaded is not None:
                return
            clipseg_folder = require_model(self.model_dir, self.clipseg_id)
            oneformer_folder = require_model(self.model_dir, self.oneformer_id)
            import torch  # deferred: heavy, neural backend only

            torch.set_num_threads(self.threads)
            self.precision = resolve_precision(self.precision)
            try:
                with quiet_transformers_progress():
                    clipseg, tokenizer, image_processor = _load_clipseg(clipseg_folder)
                    oneformer, processor, names = _load_oneformer(oneformer_folder)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ModelLoadError(f"cannot load the neural models from {self.model_dir}: {exc}") from exc
            # Inference-only fast paths (see fusion.segmenters.fast_inference), active only inside our calls.
            install_fast_paths(oneformer)
            install_fast_paths(clipseg)
            if self.precision == "bf16":  # matmul weights stored in bf16: autocast no longer recasts them per call
                # oneDNN-held Linear weights (native bf16 only): ~6 % faster OneFormer
                cast_matmul_weights(oneformer, pack=True)
                cast_matmul_weights(clipseg, pack=False)  # packing measured no gain on CLIPSeg
            self._loaded = _Loaded(clipseg, tokenizer, image_processor, oneformer, processor, names)

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    @property
    def components(self) -> _Loaded:
        """The loaded models and processors (loads them first); for benchmarks and diagnostics."""
        self.load()
        return self._loaded

    @contextmanager
    def autocast(self):
        """The context our model calls run in: CPU autocast to bfloat16 when precision is bf16 (nothing added for
        fp32), plus the fast inference paths (fusion.segmenters.fast_inference) in both precisions."""
        import torch  # deferred: heavy, neural backend only

        cast = torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "bf16" else nullcontext()
        with cast, fast_inference():
            yield

    # --- inference -----------------------------------------------------------------------------------

    def heatmaps(self, image: np.ndarray, phrases: tuple[str, ...]) -> np.ndarray:
        """CLIPSeg probability per phrase: image h×w×3 uint8 → P×h×w float32 in [0, 1] (same h×w).

        The CLIP vision encoder runs once for all phrases; text encoder + decoder run as one batch."""
        self.load()
        import torch  # deferred: heavy, neural backend only

        h, w = image.shape[:2]
        if not phrases:
            return np.zeros((0, h, w), np.float32)
        count = len(phrases)
        with torch.inference_mode():
            logits = self.clipseg_logits(image, phrases)
            probabilities = torch.sigmoid(logits).reshape(count, logits.shape[-2], logits.shape[-1])
        result = np.empty((count, h, w), np.float32)
        for index, plane in enumerate(probabilities.numpy()):
            result[index] = cv2.resize(plane, (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(result, 0.0, 1.0)

    def clipseg_logits(self, image: np.ndarray, phrases: tuple[str, ...]) -> Any:
        """CLIPSeg's logits at its decoder resolution (352²) for non-empty `phrases`: a float32 tensor P×352×352
        (fewer dims when P is 1, as CLIPSeg returns them). The CLIP vision encoder runs once for all phrases."""
        self.load()
        import torch  # deferred: heavy, neural backend only

        loaded = self._loaded
        model = loaded.clipseg
        pixels = loaded.clipseg_image_processor(images=image, return_tensors="pt")["pixel_values"]
        text = loaded.clipseg_tokenizer(list(phrases), padding=True, return_tensors="pt")
        with torch.inference_mode(), self.autocast():
            activations = [a.expand(len(phrases), -1, -1) for a in _clipseg_activations(model, pixels)]
            conditional = model.clip.get_text_features(
                input_ids=text["input_ids"], attention_mask=text["attention_mask"]
            ).pooler_output
            return model.decoder(activations, conditional).logits.float()

    def label_map(self, image: np.ndarray) -> np.ndarray:
        """OneFormer semantic classes: image h×w×3 uint8 (already at working size) → h×w int32 class ids.

        Images with a side below ONEFORMER_MIN_SIDE are upscaled for OneFormer only."""
        self.load()
        import torch  # deferred: heavy, neural backend only

        h, w = image.shape[:2]
        processor = self._loaded.oneformer_processor
        if min(h, w) < ONEFORMER_MIN_SIDE:  # its stride-32 stage needs more than one cell per side
            scale = ONEFORMER_MIN_SIDE / min(h, w)
            image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
        inputs = processor(images=image, task_inputs=["semantic"], do_resize=False, return_tensors="pt")
        with torch.inference_mode(), self.autocast():
            outputs = self._loaded.oneformer(**inputs)
        # = post_process_semantic_segmentation(outputs, target_sizes=[(h, w)]), resized channels-last (faster)
        return semantic_label_map(outputs.class_queries_logits[0], outputs.masks_queries_logits[0], (h, w))

    def segment(self, image: np.ndarray, prompts: PromptSet) -> Evidence:
        """image: H×W×3 uint8 RGB at full resolution → Evidence at max side `working_size`."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InvalidImageError(f"expected an H×W×3 uint8 RGB image, got {image.dtype} {image.shape}")
        small = resize_to_working(image, self.working_size)
        h, w = small.shape[:2]
        heatmap, negative, notes = self._prompted(small, prompts)
        labels = self.label_map(small)
        return Evidence(
            image=small,
            heatmap=heatmap,
            labels=labels,
            prior=centre_prior((h, w)).astype(np.float32),
            backend=self.name,
            label_names=self._loaded.label_names,
            negative_heatmap=negative,
            prompts_used=True,
            notes=notes,
            hinted_labels=hinted_label_ids(self._loaded.label_names, prompts),
        )

    def reprompt(self, evidence: Evidence, prompts: PromptSet) -> Evidence:
        """New prompts for stored evidence of this backend: CLIPSeg runs again on the stored working image;
        the OneFormer label map, its names and the prior are reused (OneFormer does not run)."""
        if evidence.backend != self.name:
            raise InvalidArtifactError(
                f"evidence from the {evidence.backend!r} backend cannot be reprompted by {self.name!r}"
            )
        heatmap, negative, notes = self._prompted(evidence.image, prompts)
        return replace(evidence, heatmap=heatmap, negative_heatmap=negative, prompts_used=True, notes=notes,
                       hinted_labels=hinted_label_ids(evidence.label_names, prompts))

    def _prompted(self, small: np.ndarray, prompts: PromptSet) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...]]:
        """The prompt-dependent part of the evidence on the working image: (heatmap, negative heatmap or None,
        notes). Positives and negatives share one CLIPSeg batch."""
        h, w = small.shape[:2]
        positives, negatives = tuple(prompts.positives), tuple(prompts.negatives)
        planes = self.heatmaps(small, positives + negatives)
        heatmap = planes[: len(positives)].max(axis=0) if positives else np.zeros((h, w), np.float32)
        negative = planes[len(positives) :].max(axis=0) if negatives else None
        notes = () if positives else (NO_PROMPT_NOTE,)
        return (
            np.ascontiguousarray(heatmap, dtype=np.float32),
            None if negative is None else np.ascontiguousarray(negative, dtype=np.float32),
            notes,
        )


__all__ = ["NO_PROMPT_NOTE", "NeuralSegmenter"]
