"""Inference-only speed-ups for the neural segmenter's transformers models (CPU), switched on per call.

Profiled (torch.profiler) on OneFormer Swin-L at 512×342 under bf16 autocast, the stock forward spent about
a third of its time outside matmul/attention kernels, mostly in: (1) the pure-PyTorch multi-scale
deformable attention of the pixel decoder — 18 `grid_sample` calls, a stack of their outputs and a
broadcast multiply-sum over a [8, 32, 3632, 12] fp32 tensor; (2) `nn.MultiheadAttention` called with its
default need_weights=True (explicit 149 × 11008 attention matrices in the query transformer) and an integer
`sum` over every [heads·150, S] masked-attention mask; (3) Swin re-gathering its relative-position bias and
materialising a fresh [windows, heads, 144, 144] fp32 bias+mask sum per layer; (4) autocast casts of
weights and activations; (5) the post-processing NCHW resize + strided argmax of 133 score planes.

- `install(model)` wraps forwards on this model instance only; the wrappers take the fast path only inside
  `fast_inference()` (a context variable) and otherwise call the stock forward, so the same model objects
  still run the stock transformers code (the `bench-neural` naive baseline relies on that).
- Deformable attention: bilinear sampling (grid_sample, align_corners=False, zero padding) and the weighted
  sum over levels × points × 4 corners are one `F.embedding_bag(mode="sum", per_sample_weights=…)`
  (`deformable_attention_core`); matches the stock result to ~1e-5 in fp32.
- MultiheadAttention: one scaled_dot_product_attention call with the boolean mask; OneFormer's decoder
  layers pass one head's mask (the stock code repeats the same mask per head) and release fully-masked
  rows with `all`.
- Swin attention: bias (+ shift mask) summed and cast once per layer and input size; q/k/v from one
  fused matmul when `cast_matmul_weights(pack=True)` prepared it.
- CLIPSeg: `encoder_depth` stops the vision encoder after the last layer the decoder reads.
- `cast_matmul_weights(model)` stores Linear/Conv/MultiheadAttention weights in bf16 (bf16-autocast-only
  models); norms and embeddings keep fp32. pack=True also holds Linear weights as oneDNN tensors (only on
  CPUs with native bf16).
"""

from __future__ import annotations

import contextvars
import functools
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np

_FAST = contextvars.ContextVar("promptcut_fast_inference", default=False)
_ENCODER_DEPTH = contextvars.ContextVar("promptcut_encoder_depth", default=None)
_INSTALLED = "_promptcut_fast_installed"


def native_bf16() -> bool:
    """True when this CPU multiplies bf16 natively (oneDNN's check: AVX512-BF16 or AMX)."""
    import torch  # deferred: heavy, neural backend only

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@contextmanager
def encoder_depth(layers: int):
    """Within this context (and `fast_inference()`), CLIPSeg's CLIP vision encoder runs only its first
    `layers` layers (see `install`)."""
    token = _ENCODER_DEPTH.set(int(layers))
    try:
        yield
    finally:
        _ENCODER_DEPTH.reset(token)


def _truncated_encoder_forward(encoder, stock, inputs_embeds, attention_mask=None, **kwargs):
    """CLIPSegEncoder.forward over the first `encoder_depth` layers only (all of them when unset)."""
    depth = _ENCODER_DEPTH.get()
    if depth is None:
        return stock(inputs_embeds, attention_mask, **kwargs)
    from transformers.modeling_outputs import BaseModelOutput  # deferred: heavy, neural backend only

    hidden = inputs_embeds
    for layer in encoder.layers[:depth]:
        hidden = layer(hidden, attention_mask, **kwargs)
    return BaseModelOutput(last_hidden_state=hidden)


@contextmanager
def fast_inference():
    """Within this context (this thread/task only), models passed to `install` take the fast paths."""
    token = _FAST.set(True)
    try:
        yield
    finally:
        _FAST.reset(token)


def deformable_attention_core(value, spatial_shapes: list[tuple[int, int]], reference_points, offsets, weights):
    """Multi-scale deformable attention core: what transformers' `multi_scale_deformable_attention` returns
    for the locations reference_points + offsets / (w, h) of each level, computed by one `embedding_bag`.

    value [B, S, H, D] (S = Σ h·w over levels); reference_points [B, Q, L, 2] as (x, y) in [0, 1];
    offsets [B, Q, H, L, P, 2] in pixels of each level; weights [B, Q, H, L, P] → [B, Q, H·D] float32.

    Each (batch, query, head) is one bag of L·P·4 table rows (the bilinear corners) weighted by
    attention weight × bilinear weight. Zero padding (grid_sample's padding_mode="zeros") comes from a zero
    border around every level — 1 pixel before, 2 after — with coordinates clamped to [−1, size], so no
    validity masks are needed. All index/weight arithmetic is on (B·Q·H, L·P)-shaped tensors in the
    layouts the projections produce: no transposes, and no broadcasting over tiny trailing dims (both are
    slow on CPU)."""
    import torch  # deferred: heavy, neural backend only
    import torch.nn.functional as F

    batch, positions, heads, dim = value.shape
    _, queries, _, levels, points, _ = offsets.shape
    device = value.device
    n, slots = batch * queries * heads, levels * points
    # zero-bordered table, rows ordered (batch, padded position, head): row = (b·S' + s')·H + h
    padded, start, sizes = [], [], []
    offset = 0
    for level, (h, w) in enumerate(spatial_shapes):
        level_value = value[:, offset : offset + h * w].float().reshape(batch, h, w, heads * dim)
        padded.append(F.pad(level_value, (0, 0, 1, 2, 1, 2)).reshape(batch, (h + 3) * (w + 3), heads * dim))
        start.append(sum((hh + 3) * (ww + 3) for hh, ww in spatial_shapes[:level]))
        sizes.append((w, h))
        offset += h * w
    table = torch.cat(padded, 1).reshape(-1, dim)
    padded_positions = table.shape[0] // (batch * heads)

    def per_slot(values):  # one value per level → [L·P] (levels outer, points inner, as in the model)
        return torch.tensor(values, dtype=torch.int32, device=device).repeat_interleave(points)

    size_xy = torch.tensor(sizes, dtype=torch.float32, device=device)  # [L, 2] (w, h)
    # pixel coordinate of location u is u·size − 0.5 (grid_sample, align_corners=False)
    base = reference_points.float() * size_xy - 0.5  # [B, Q, L, 2]
    base = base[:, :, :, None, :].expand(batch, queries, levels, points, 2).reshape(batch * queries, 1, slots * 2)
    coords = offsets.reshape(batch * queries, heads, slots * 2) + base  # float32 [B·Q, H, L·P·2]
    low_limit = torch.full((slots, 2), -1.0, device=device)
    high_limit = size_xy.repeat_interleave(points, 0)  # [L·P, 2]
    coords = torch.clamp(coords.view(n, slots, 2), min=low_limit, max=high_limit)
    low = coords.floor()
    frac = coords - low
    frac_x, frac_y = frac[..., 0], frac[..., 1]  # [N, L·P] views
    low = low.to(torch.int32)  # int32 rows: half the index traffic of int64 (embedding_bag takes either)
    low_x, low_y = low[..., 0], low[..., 1]
    # row of the (low_x, low_y) corner; +1 on both axes for the leading zero border
    row_stride = per_slot([(w + 3) * heads for w, _ in sizes])
    slot_base = per_slot([(start[level] + sizes[level][0] + 3 + 1) * heads for level in range(levels)])
    bag = torch.arange(n, dtype=torch.int32, device=device)
    bag_base = (bag // (queries * heads)) * (padded_positions * heads) + bag % heads
    rows = torch.empty(n, 4, slots, dtype=torch.int32, device=device)
    torch.add(torch.addcmul(slot_base + bag_base[:, None], low_y, row_stride), low_x, alpha=heads, out=rows[:, 0])
    torch.add(rows[:, 0], heads, out=rows[:, 1])
    torch.add(rows[:, 0], row_stride, out=rows[:, 2])
    torch.add(rows[:, 2], heads, out=rows[:, 3])
    attention = weights.reshape(n, slots).float()
    high_y = frac_y * attention
    low_y_weight = attention - high_y
    low_x_weight = 1 - frac_x
    corner_weight = torch.empty(n, 4, slots, dtype=torch.float32, device=device)
    torch.mul(low_y_weight, low_x_weight, out=corner_weight[:, 0])
    torch.mul(low_y_weight, frac_x, out=corner_weight[:, 1])
    torch.mul(high_y, low_x_weight, out=corner_weight[:, 2])
    torch.mul(high_y, frac_x, out=corner_weight[:, 3])
    out = F.embedding_bag(rows.view(n, 4 * slots), table, mode="sum",
                          per_sample_weights=corner_weight.view(n, 4 * slots))
    return out.view(batch, queries, heads * dim)


def _deformable_forward(module, hidden_states, attention_mask=None, encoder_hidden_states=None,
                        encoder_attention_mask=None, position_embeddings=None, reference_points=None,
                        spatial_shapes=None, level_start_index=None, output_attentions=False,
                        spatial_shapes_list=None):
    """OneFormerPixelDecoderEncoderMultiscaleDeformableAttention.forward with `deformable_attention_core`
    (same projections; OneFormer's pixel decoder uses 2-d reference points)."""
    import torch  # deferred: heavy, neural backend only

    if reference_points.shape[-1] != 2:
        raise ValueError("the fast deformable attention handles 2-d reference points only")
    if position_embeddings is not None:
        hidden_states = hidden_states + position_embeddings
    batch, queries, _ = hidden_states.shape
    positions = encoder_hidden_states.shape[1]
    value = module.value_proj(encoder_hidden_states)
    if attention_mask is not None and bool(attention_mask.any()):
        value = value.masked_fill(attention_mask[..., None], 0.0)
    value = value.view(batch, positions, module.n_heads, module.d_model // module.n_heads)
    offsets = module.sampling_offsets(hidden_states).view(batch, queries, module.n_heads, module.n_levels,
                                                          module.n_points, 2)
    weights = module.attention_weights(hidden_states).view(batch, queries, module.n_heads,
                                                           module.n_levels * module.n_points)
    weights = torch.softmax(weights, -1).view(batch, queries, module.n_heads, module.n_levels, module.n_points)
    shapes = spatial_shapes_list or [tuple(int(v) for v in s) for s in spatial_shapes.tolist()]
    output = deformable_attention_core(value, shapes, reference_points, offsets, weights)
    return module.output_proj(output), weights


def _attention_forward(module, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                       average_attn_weights=True, is_causal=False):
    """nn.MultiheadAttention (sequence-first, packed projections) at inference, without attention weights:
    one scaled_dot_product_attention call. A boolean attn_mask (True = masked out, MultiheadAttention's
    convention) may be [T, S], [B·heads, T, S] or — from `_decoder_layer_forward` — [B, 1 or heads, T, S].
    Other configurations use the stock forward with need_weights=False."""
    import torch  # deferred: heavy, neural backend only
    import torch.nn.functional as F

    simple = (not module.batch_first and module._qkv_same_embed_dim and module.bias_k is None
              and not module.add_zero_attn and key_padding_mask is None and not is_causal and query.dim() == 3
              and (attn_mask is None or attn_mask.dtype == torch.bool))
    if not simple:
        return module._promptcut_stock(query, key, value, key_padding_mask=key_padding_mask, need_weights=False,
                                       attn_mask=attn_mask, average_attn_weights=average_attn_weights,
                                       is_causal=is_causal)
    targets, batch, embed = query.shape
    sources = key.shape[0]
    heads = module.num_heads
    w_q, w_k, w_v = module.in_proj_weight.chunk(3)
    b_q, b_k, b_v = module.in_proj_bias.chunk(3) if module.in_proj_bias is not None else (None, None, None)

    def split(x, length):  # [T, B, E] → [B, heads, T, E/heads]
        return x.view(length, batch, heads, embed // heads).permute(1, 2, 0, 3)

    q = split(F.linear(query, w_q, b_q), targets)
    k = split(F.linear(key, w_k, b_k), sources)
    v = split(F.linear(value, w_v, b_v), sources)
    allowed = None
    if attn_mask is not None:
        if attn_mask.dim() == 3:
            attn_mask = attn_mask.view(batch, heads, targets, sources)
        allowed = ~attn_mask  # scaled_dot_product_attention: True = may attend
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # [B, heads, T, E/heads]
    out = out.permute(2, 0, 1, 3).reshape(targets, batch, embed)
    return module.out_proj(out), None


def _decoder_layer_forward(layer, index, output, multi_stage_features, multi_stage_positional_embeddings,
                           attention_mask=None, query_embeddings=None, output_attentions=False):
    """OneFormerTransformerDecoderLayer.forward with a cheaper masked-attention mask. OneFormer builds the
    [B·heads, T, S] mask by repeating one [B, T, S] mask over the heads, so the first head's copy is used
    ([B, 1, T, S], broadcast by SDPA), and fully-masked rows are released with `all` instead of an integer
    `sum` over the whole mask — the same rule (a query that may attend nowhere attends everywhere)."""
    level = index % layer.num_feature_levels
    if attention_mask is not None:
        batch = output.shape[1]
        first = attention_mask.view(batch, -1, *attention_mask.shape[-2:])[:, :1]
        attention_mask = first & ~first.all(-1, keepdim=True)
    output, cross_weights = layer.cross_attn(
        output, multi_stage_features[level], memory_mask=attention_mask, memory_key_padding_mask=None,
        pos=multi_stage_positional_embeddings[level], query_pos=query_embeddings,
    )
    output, self_weights = layer.self_attn(output, output_mask=None, output_key_padding_mask=None,
                                           query_pos=query_embeddings)
    output = layer.ffn(output)
    return (output, self_weights, cross_weights) if output_attentions else (output,)


def _swin_attn_mask(layer, stock, height, width, dtype, device):
    """SwinLayer.get_attn_mask, cached per layer for the last (height, width, dtype): the shifted-window mask
    depends only on those, and returning the same tensor lets `_swin_attention_forward` cache its sum."""
    key = (height, width, dtype, device)
    cached = getattr(layer, "_promptcut_mask", None)
    if cached is None or cached[0] != key:
        cached = (key, stock(height, width, dtype=dtype, device=device))
        layer._promptcut_mask = cached
    return cached[1]


def _swin_attention_forward(module, hidden_states, attention_mask=None, **kwargs):
    """SwinAttention.forward at inference: the relative-position bias (+ shift mask) is gathered, summed and
    cast to the attention dtype once per layer and input size, not per call (the stock forward re-gathers
    the bias table and materialises a fresh [windows, heads, 144, 144] fp32 sum every call); q/k/v come from
    one fused projection when `cast_matmul_weights` prepared it. Same arithmetic as the stock SDPA path."""
    import torch  # deferred: heavy, neural backend only
    import torch.nn.functional as F

    windows, tokens, channels = hidden_states.shape
    heads, head_dim = module.num_attention_heads, module.head_dim
    fused = getattr(module, "_promptcut_qkv", None)
    if fused is not None:
        qkv = torch.ops.mkldnn._linear_pointwise(hidden_states.to(torch.bfloat16), fused[0], fused[1], "none", [], "")
        q, k, v = qkv.view(windows, tokens, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    else:
        q, k, v = (proj(hidden_states).view(windows, tokens, heads, head_dim).transpose(1, 2)
                   for proj in (module.q_proj, module.k_proj, module.v_proj))
    cached = getattr(module, "_promptcut_bias", None)
    if cached is None or cached[0] is not attention_mask or cached[1] != q.dtype or cached[2] != windows:
        bias = module.relative_position_bias()  # [1, heads, N, N]
        if attention_mask is not None:
            per_image = attention_mask.shape[0]
            mask = attention_mask[None].expand(windows // per_image, -1, -1, -1).reshape(-1, 1, tokens, tokens)
            bias = bias + mask
        cached = (attention_mask, q.dtype, windows, bias.to(q.dtype))
        module._promptcut_bias = cached
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=cached[3], scale=module.scaling)
    out = out.transpose(1, 2).reshape(windows, tokens, channels)
    return module.o_proj(out), None


def _wrap(module, fast_forward) -> None:
    stock = module.forward

    @functools.wraps(stock)
    def forward(*args, **kwargs):
        if _FAST.get():
            return fast_forward(*args, **kwargs)
        return stock(*args, **kwargs)

    module.forward = forward


def _wrap_method(module, name: str, fast_method) -> None:
    stock = getattr(module, name)

    @functools.wraps(stock)
    def method(*args, **kwargs):
        if _FAST.get():
            return fast_method(module, stock, *args, **kwargs)
        return stock(*args, **kwargs)

    setattr(module, name, method)


def install(model: Any) -> Any:
    """Add the fast paths (active only inside `fast_inference()`) to this model instance; idempotent."""
    import torch  # deferred: heavy, neural backend only

    if getattr(model, _INSTALLED, False):
        return model
    for module in model.modules():
        kind = type(module).__name__
        if kind == "OneFormerPixelDecoderEncoderMultiscaleDeformableAttention":
            _wrap(module, functools.partial(_deformable_forward, module))
        elif kind == "SwinLayer":
            _wrap_method(module, "get_attn_mask", _swin_attn_mask)
        elif kind == "SwinAttention":
            _wrap(module, functools.partial(_swin_attention_forward, module))
        elif kind == "OneFormerTransformerDecoderLayer":
            _wrap(module, functools.partial(_decoder_layer_forward, module))
        elif isinstance(module, torch.nn.MultiheadAttention):
            module._promptcut_stock = module.forward
            _wrap(module, functools.partial(_attention_forward, module))
    vision = getattr(getattr(model, "clip", None), "vision_model", None)
    if vision is not None:  # CLIPSeg: its vision encoder may stop early (encoder_depth)
        encoder = vision.encoder
        _wrap(encoder, functools.partial(_truncated_encoder_forward, encoder, encoder.forward))
    setattr(model, _INSTALLED, True)
    return model


def _packed_linear_forward(module, input):
    """nn.Linear in bf16 through oneDNN with the weight held as a oneDNN tensor (see cast_matmul_weights)."""
    import torch  # deferred: heavy, neural backend only

    return torch.ops.mkldnn._linear_pointwise(input.to(torch.bfloat16), module._promptcut_packed, module.bias,
                                              "none", [], "")


def cast_matmul_weights(model: Any, pack: bool = True) -> Any:
    """Store Linear / Conv / MultiheadAttention projection parameters in bf16 (for bf16-autocast-only models).

    pack: also keep each Linear weight as a oneDNN tensor (and Swin's q/k/v as one fused one), used inside
    `fast_inference()` — the same bf16 matmul, bit-identical output, without the per-call weight handling of
    addmm (≈5 % per Linear on one thread, more with two). Costs one more bf16 copy of the Linear weights in
    memory. Needs a CPU with native bf16 (AVX512-BF16 or AMX): elsewhere oneDNN cannot build that matmul at
    all, so `pack` is ignored there and the cast weights go through the stock (emulated) bf16 path."""
    import torch  # deferred: heavy, neural backend only

    pack = pack and native_bf16()

    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            module.to(torch.bfloat16)
            if (pack and type(module) in (torch.nn.Linear, torch.nn.modules.linear.NonDynamicallyQuantizableLinear)
                    and not getattr(module, "_promptcut_in_fused_qkv", False)):
                module._promptcut_packed = module.weight.detach().to_mkldnn()
                _wrap(module, functools.partial(_packed_linear_forward, module))
        elif pack and type(module).__name__ == "SwinAttention" and module.q_proj.bias is not None:
            fused = torch.cat([module.q_proj.weight, module.k_proj.weight, module.v_proj.weight]).to(torch.bfloat16)
            bias = torch.cat([module.q_proj.bias, module.k_proj.bias, module.v_proj.bias]).to(torch.bfloat16)
            module._promptcut_qkv = (fused.detach().to_mkldnn(), bias.detach())  # one q/k/v matmul, not three
            for projection in (module.q_proj, module.k_proj, module.v_proj):  # (visited next: not packed again)
                projection._promptcut_in_fused_qkv = True
        elif isinstance(module, torch.nn.MultiheadAttention):
            for name in ("in_proj_weight", "in_proj_bias", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
                parameter = getattr(module, name, None)
                if parameter is not None:
                    parameter.data = parameter.data.to(torch.bfloat16)
    return model


def semantic_label_map(class_logits, mask_logits, size: tuple[int, int]):
    """OneFormer semantic label map (h×w int32 numpy) from one image's class logits [Q, C+1] and mask logits
    [Q, h', w']: argmax over classes of bilinear-resized softmax(class)·sigmoid(mask) scores — the quantity
    transformers' `post_process_semantic_segmentation` ranks. The C score planes are resized as one
    channels-last image by OpenCV (same half-pixel bilinear rule as F.interpolate, align_corners=False) and
    argmax runs over the contiguous class axis; torch's NCHW resize + strided argmax took ~0.15 s."""
    import torch  # deferred: heavy, neural backend only

    h, w = size
    classes = class_logits.float().softmax(-1)[:, :-1]  # drop the no-object class
    masks = mask_logits.float().sigmoid()
    scores = torch.einsum("qc,qhw->hwc", classes, masks).contiguous().numpy()  # h'×w'×C
    if scores.shape[2] <= 512:  # OpenCV's channel limit (CV_CN_MAX)
        resized = cv2.resize(scores, (w, h), interpolation=cv2.INTER_LINEAR)
        resized = resized.reshape(h, w, -1)  # a single class would come back 2-d
    else:
        planes = torch.from_numpy(scores).permute(2, 0, 1)[None].contiguous(memory_format=torch.channels_last)
        resized = torch.nn.functional.interpolate(planes, size=(h, w), mode="bilinear", align_corners=False)
        resized = resized[0].permute(1, 2, 0).numpy()
    return np.ascontiguousarray(resized.argmax(-1).astype(np.int32))


__all__ = [
    "semantic_label_map",
    "cast_matmul_weights",
    "native_bf16",
    "deformable_attention_core",
    "encoder_depth",
    "fast_inference",
    "install",
]
