"""Random-init CLIPSeg + OneFormer saved exactly as the production loader expects (no network, no weights).

Pretrained weights cannot be fetched on our machines, so the neural path is tested with TINY models and
timed with FULL-size ones (the real architectures: CLIPSeg rd64-refined on CLIP ViT-B/16, OneFormer with a
Swin-L backbone, COCO panoptic's 133 classes) built from configs. Random weights give meaningless masks but
the same compute, so timings and numeric agreement between precisions are real; segmentation quality is not.

`build_random_models(model_dir, scale)` writes <model_dir>/CIDAS--clipseg-rd64-refined and
<model_dir>/shi-labs--oneformer_coco_swin_large (config, safetensors, a CLIP BPE tokenizer, processor configs).
The tokenizer is a stand-in: the real CLIP vocabulary is not shipped here, so words are made single tokens from
a small word list (sequence lengths like the real tokenizer's for product prompts) and the vocabulary is
padded to CLIP's 49,408 entries. torch/transformers are imported inside functions only.
"""

from __future__ import annotations

from pathlib import Path

from fusion.segmenters.models import CLIPSEG_ID, ONEFORMER_ID, model_folder
from prompting.resources import coco_class_info_path, coco_panoptic_classes

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CLIP_VOCAB_SIZE = 49408
LETTERS = "abcdefghijklmnopqrstuvwxyz"

# Each spec: the config arguments that differ between the tiny test models and the real architectures.
SPECS: dict[str, dict] = {
    "tiny": dict(
        vocab_size=None,  # only what the tokenizer needs
        text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  max_position_embeddings=32),
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                    image_size=32, patch_size=8),
        clipseg=dict(projection_dim=16, extract_layers=[1, 2], reduce_dim=16, decoder_num_attention_heads=2,
                     decoder_intermediate_size=32),
        clipseg_size=32,
        swin=dict(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4, image_size=64),
        oneformer=dict(hidden_dim=32, conv_dim=32, mask_dim=32, num_queries=8, encoder_layers=1, decoder_layers=2,
                       encoder_feedforward_dim=32, dim_feedforward=32, num_attention_heads=2,
                       text_encoder_width=32, text_encoder_num_layers=1, text_encoder_proj_layers=1,
                       text_encoder_n_ctx=2),
        context=8,
        oneformer_size={"shortest_edge": 64, "longest_edge": 128},
    ),
    # CIDAS/clipseg-rd64-refined and shi-labs/oneformer_coco_swin_large, from their published configs.
    "full": dict(
        vocab_size=CLIP_VOCAB_SIZE,
        text=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                  max_position_embeddings=77),
        vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                    image_size=224, patch_size=16),
        clipseg=dict(projection_dim=512, extract_layers=[3, 6, 9], reduce_dim=64, decoder_num_attention_heads=4,
                     decoder_intermediate_size=2048, use_complex_transposed_convolution=True),
        clipseg_size=352,
        swin=dict(embed_dim=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48], window_size=12, image_size=384),
        oneformer=dict(hidden_dim=256, conv_dim=256, mask_dim=256, num_queries=150, encoder_layers=6,
                       decoder_layers=10, encoder_feedforward_dim=1024, dim_feedforward=2048,
                       num_attention_heads=8, text_encoder_width=256, text_encoder_num_layers=6,
                       text_encoder_proj_layers=2, text_encoder_n_ctx=16),
        context=77,
        oneformer_size={"shortest_edge": 800, "longest_edge": 1333},
    ),
}

# Words that become single tokens (product nouns, attributes, prompt templates, COCO/OneFormer task words).
WORDS = (
    "a an the of photo product on in with and or for to is this that semantic panoptic instance task "
    "boot shoe sneaker bag handbag mug cup bottle watch ring necklace earring bracelet shirt dress jacket "
    "chair lamp vase table sofa plate bowl phone laptop camera toy teddy bear doll ball hat cap "
    "black white red blue green brown grey gray pink gold silver leather ceramic wooden cotton glass metal "
    "person hand mannequin hanger floor wall background coffee women's men's kids"
).split()


def stand_in_tokenizer(vocab_size: int | None = None):
    """A CLIP BPE tokenizer: letters, then every word in WORDS merged into one token; padded to
    `vocab_size` with unused entries; <|endoftext|> at the highest id (CLIP's text pooler relies on it)."""
    from transformers import CLIPTokenizer  # deferred: heavy, neural backend only

    tokens = ["<|startoftext|>"] + list(LETTERS) + [c + "</w>" for c in LETTERS] + ["!", "!</w>", "'", "'</w>"]
    merges: list[tuple[str, str]] = []
    known = set(tokens)
    for word in WORDS:
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        while len(symbols) > 1:  # merge left to right: ((w o) r) d</w>
            pair = (symbols[0], symbols[1])
            merged = pair[0] + pair[1]
            if pair not in merges:
                merges.append(pair)
            if merged not in known:
                known.add(merged)
                tokens.append(merged)
            symbols = [merged] + symbols[2:]
    if vocab_size is not None:
        tokens += [f"<unused{i}>" for i in range(vocab_size - len(tokens) - 1)]
    vocab = {token: index for index, token in enumerate(tokens)}
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges)


def build_random_models(model_dir: Path | str, scale: str = "tiny", seed: int = 0) -> Path:
    """Write random-init CLIPSeg and OneFormer of `scale` ("tiny" | "full") into `model_dir`; returns it."""
    import torch  # deferred: heavy, neural backend only
    from transformers import (
        CLIPSegConfig,
        CLIPSegForImageSegmentation,
        OneFormerConfig,
        OneFormerForUniversalSegmentation,
        OneFormerImageProcessorPil,
        ViTImageProcessorPil,
    )


    spec = SPECS[scale]
    model_dir = Path(model_dir)
    torch.manual_seed(seed)
    tokenizer = stand_in_tokenizer(spec["vocab_size"])
    vocab_size = len(tokenizer)
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    bos = tokenizer.convert_tokens_to_ids("<|startoftext|>")

    clipseg_dir = model_folder(model_dir, CLIPSEG_ID)
    clipseg_config = CLIPSegConfig(
        text_config=dict(vocab_size=vocab_size, eos_token_id=eos, bos_token_id=bos, pad_token_id=eos, **spec["text"]),
        vision_config=spec["vision"],
        **spec["clipseg"],
    )
    CLIPSegForImageSegmentation(clipseg_config).save_pretrained(clipseg_dir)
    tokenizer.save_pretrained(clipseg_dir)
    side = spec["clipseg_size"]
    ViTImageProcessorPil(
        size={"height": side, "width": side}, image_mean=IMAGENET_MEAN if scale == "full" else CLIP_MEAN,
        image_std=IMAGENET_STD if scale == "full" else CLIP_STD, resample=2 if scale == "full" else 3,
    ).save_pretrained(clipseg_dir)

    oneformer_dir = model_folder(model_dir, ONEFORMER_ID)
    names = coco_panoptic_classes()
    context = spec["context"]
    oneformer_config = OneFormerConfig(
        backbone_config=dict(model_type="swin", out_features=["stage1", "stage2", "stage3", "stage4"], **spec["swin"]),
        num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
        text_encoder_context_length=context, text_encoder_vocab_size=vocab_size, task_seq_len=context,
        max_seq_len=context, use_auxiliary_loss=False, is_training=False, **spec["oneformer"],
    )
    OneFormerForUniversalSegmentation(oneformer_config).save_pretrained(oneformer_dir)
    tokenizer.save_pretrained(oneformer_dir)
    class_info = coco_class_info_path()
    OneFormerImageProcessorPil(
        repo_path=str(class_info.parent), class_info_file=class_info.name, num_text=context,
        num_labels=len(names), size=spec["oneformer_size"],
    ).save_pretrained(oneformer_dir)
    return model_dir


__all__ = ["SPECS", "build_random_models", "stand_in_tokenizer"]
