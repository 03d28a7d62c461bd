"""The inference-only fast paths (fusion.segmenters.fast_inference) against the stock transformers / torch
computations they replace, on random data and on the tiny random-init models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import require_modules  # noqa: E402

require_modules("torch", "transformers")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from transformers.models.oneformer.modeling_oneformer import multi_scale_deformable_attention  # noqa: E402

from fusion.segmenters import fast_inference  # noqa: E402
from fusion.segmenters.fast_inference import (  # noqa: E402
    cast_matmul_weights,
    deformable_attention_core,
    install,
    semantic_label_map,
)
from fusion.segmenters.fast_inference import fast_inference as fast_context  # noqa: E402
from fusion.segmenters.neural import NeuralSegmenter, native_bf16  # noqa: E402

pytestmark = [pytest.mark.neural, pytest.mark.usefixtures("no_network")]


@pytest.mark.parametrize("batch, shapes, spread", [
    (1, [(5, 7), (3, 4), (2, 2)], 2.0),
    (2, [(11, 16), (6, 8), (3, 4)], 6.0),  # large offsets: many corners fall outside (zero padding)
    (2, [(4, 4)], 0.5),
])
def test_deformable_core_matches_the_transformers_implementation(batch, shapes, spread) -> None:
    generator = torch.Generator().manual_seed(batch * 100 + len(shapes))
    heads, dim, points, queries = 3, 8, 4, 17
    levels = len(shapes)
    positions = sum(h * w for h, w in shapes)
    value = torch.randn(batch, positions, heads, dim, generator=generator)
    reference = torch.rand(batch, queries, levels, 2, generator=generator) * 1.2 - 0.1
    offsets = torch.randn(batch, queries, heads, levels, points, 2, generator=generator) * spread
    offsets[0, 0, 0, 0, 0] = torch.tensor([0.5, -0.5])  # exact pixel centres and borders are covered too
    weights = torch.softmax(torch.randn(batch, queries, heads, levels * points, generator=generator), -1)
    weights = weights.view(batch, queries, heads, levels, points)
    normaliser = torch.tensor([[w, h] for h, w in shapes], dtype=torch.float32)
    locations = reference[:, :, None, :, None, :] + offsets / normaliser[None, None, None, :, None, :]
    expected = multi_scale_deformable_attention(value, shapes, locations, weights)
    got = deformable_attention_core(value, shapes, reference, offsets, weights)
    assert got.shape == expected.shape == (batch, queries, heads * dim)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-4)


def test_deformable_core_outside_every_level_is_zero() -> None:
    shapes = [(3, 5), (2, 2)]
    value = torch.randn(1, 19, 2, 4)
    reference = torch.full((1, 3, 2, 2), 0.5)
    offsets = torch.full((1, 3, 2, 2, 4, 2), 50.0)  # every sample far outside its map
    weights = torch.full((1, 3, 2, 2, 4), 1 / 8)
    assert torch.count_nonzero(deformable_attention_core(value, shapes, reference, offsets, weights)) == 0


@pytest.mark.parametrize("mask_kind", ["none", "3d", "4d-first-head"])
def test_attention_fast_path_matches_multihead_attention(mask_kind) -> None:
    torch.manual_seed(0)
    attention = torch.nn.MultiheadAttention(16, 4).eval()
    stock = attention.forward
    install(attention)
    query, memory = torch.randn(5, 2, 16), torch.randn(9, 2, 16)
    mask = torch.rand(2, 5, 9) < 0.4
    mask[..., 0] = False  # no fully-masked row
    per_head = mask[:, None].expand(2, 4, 5, 9)
    stock_mask = {"none": None, "3d": per_head.reshape(8, 5, 9), "4d-first-head": per_head.reshape(8, 5, 9)}[mask_kind]
    fast_mask = {"none": None, "3d": per_head.reshape(8, 5, 9), "4d-first-head": mask[:, None]}[mask_kind]
    with torch.inference_mode():
        expected = stock(query, memory, memory, attn_mask=stock_mask, need_weights=False)[0]
        with fast_context():
            got, weights = attention(query, memory, memory, attn_mask=fast_mask)
    assert weights is None
    assert torch.allclose(got, expected, atol=1e-5)


def test_semantic_label_map_matches_the_transformers_post_processing() -> None:
    generator = torch.Generator().manual_seed(3)
    class_logits = torch.randn(10, 8, generator=generator) * 3  # 7 classes + no-object
    mask_logits = torch.randn(10, 12, 17, generator=generator) * 3
    scores = torch.einsum("qc,qhw->chw", class_logits.softmax(-1)[:, :-1], mask_logits.sigmoid())
    expected = F.interpolate(scores[None], size=(45, 67), mode="bilinear", align_corners=False)[0].argmax(0)
    got = semantic_label_map(class_logits, mask_logits, (45, 67))
    assert got.dtype == np.int32 and got.shape == (45, 67)
    assert (got == expected.numpy()).mean() >= 0.999  # OpenCV and torch may split exact ties differently


def test_cast_matmul_weights_keeps_norms_in_fp32() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4), torch.nn.Conv2d(1, 1, 1),
                                torch.nn.Embedding(3, 4), torch.nn.MultiheadAttention(4, 2))
    cast_matmul_weights(model)
    assert model[0].weight.dtype == model[2].weight.dtype == model[4].in_proj_weight.dtype == torch.bfloat16
    assert model[1].weight.dtype == model[3].weight.dtype == torch.float32


@pytest.fixture(scope="module")
def fp32_segmenter(tiny_model_dir: Path) -> NeuralSegmenter:
    built = NeuralSegmenter(tiny_model_dir, working_size=96, threads=1, precision="fp32")
    built.load()
    return built


def _oneformer_outputs(segmenter: NeuralSegmenter, image: np.ndarray, fast: bool):
    parts = segmenter.components
    inputs = parts.oneformer_processor(images=image, task_inputs=["semantic"], do_resize=False, return_tensors="pt")
    with torch.inference_mode():
        if fast:
            with fast_context():
                return parts.oneformer(**inputs)
        return parts.oneformer(**inputs)


def test_oneformer_fast_paths_match_the_stock_forward(fp32_segmenter) -> None:
    image = np.random.default_rng(0).integers(0, 255, (96, 80, 3), dtype=np.uint8)
    stock, fast = _oneformer_outputs(fp32_segmenter, image, False), _oneformer_outputs(fp32_segmenter, image, True)
    assert torch.allclose(fast.class_queries_logits, stock.class_queries_logits, atol=1e-4)
    assert torch.allclose(fast.masks_queries_logits, stock.masks_queries_logits, atol=1e-3)


def test_fast_paths_run_only_inside_the_context(fp32_segmenter, monkeypatch) -> None:
    """Outside fast_inference() the installed models run the stock code (the naive benchmark relies on it)."""
    calls = []
    core = fast_inference.deformable_attention_core
    monkeypatch.setattr(fast_inference, "deformable_attention_core", lambda *a: calls.append(1) or core(*a))
    image = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    _oneformer_outputs(fp32_segmenter, image, False)
    assert calls == []
    _oneformer_outputs(fp32_segmenter, image, True)
    assert calls  # one per deformable-attention layer
    calls.clear()
    fp32_segmenter.label_map(image)
    assert calls


def test_clipseg_vision_encoder_stops_after_the_last_extracted_layer(fp32_segmenter) -> None:
    model = fp32_segmenter.components.clipseg
    layers = model.clip.vision_model.encoder.layers
    ran = []
    handles = [layer.register_forward_hook(lambda *a: ran.append(1)) for layer in layers]
    try:
        fp32_segmenter.heatmaps(np.full((64, 64, 3), 128, np.uint8), ("boot",))
    finally:
        for handle in handles:
            handle.remove()
    assert len(ran) == max(model.extract_layers) + 1


def test_bf16_fast_paths_match_the_stock_bf16_forward(tiny_model_dir) -> None:
    """The bf16 model (weights cast; on CPUs with native bf16 also Linear weights packed and Swin q/k/v
    fused, elsewhere neither, since oneDNN has no bf16 matmul there) gives the stock bf16-autocast result of
    the same weights up to bf16 rounding."""
    bf16 = NeuralSegmenter(tiny_model_dir, working_size=96, threads=1, precision="bf16")
    bf16.load()
    parts = bf16.components
    fused = any(hasattr(module, "_promptcut_qkv") for module in parts.oneformer.modules())
    packed = any(hasattr(module, "_promptcut_packed") for module in parts.oneformer.modules())
    assert fused == packed == native_bf16()
    image = np.random.default_rng(2).integers(0, 255, (96, 72, 3), dtype=np.uint8)
    inputs = parts.oneformer_processor(images=image, task_inputs=["semantic"], do_resize=False, return_tensors="pt")
    backbone = parts.oneformer.model.pixel_level_module.encoder
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        stock = parts.oneformer(**inputs)
        stock_features = backbone(inputs["pixel_values"]).feature_maps
    with torch.inference_mode(), bf16.autocast():
        fast = parts.oneformer(**inputs)
        fast_features = backbone(inputs["pixel_values"]).feature_maps
    # the Swin backbone (fused q/k/v, cached bias)
    for got, expected in zip(fast_features, stock_features, strict=True):
        error = (got.float() - expected.float()).norm() / expected.float().norm()
        assert float(error) <= 0.02
    scale = float(stock.class_queries_logits.float().abs().max())
    difference = (fast.class_queries_logits.float() - stock.class_queries_logits.float()).abs().max()
    assert float(difference) <= 0.05 * scale
