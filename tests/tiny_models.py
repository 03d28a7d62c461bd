"""Tiny random-init CLIPSeg and OneFormer saved as the production loader expects (no network, no weights).

`build_tiny_models(model_dir)` writes <model_dir>/CIDAS--clipseg-rd64-refined and
<model_dir>/shi-labs--oneformer_coco_swin_large with config, safetensors, a tiny BPE CLIP tokenizer and
the image processor configs. Used by tests only; takes a few seconds.
"""

from __future__ import annotations

from pathlib import Path

from fusion.segmenters.models import CLIPSEG_ID, ONEFORMER_ID, model_folder

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
TASK_SEQ_LEN = 8
TEXT_CONTEXT = 8


def tiny_tokenizer():
    """A CLIP BPE tokenizer over lowercase letters (+ end-of-word forms); <|endoftext|> has the highest id."""
    from transformers import CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = ["<|startoftext|>"] + list(letters) + [c + "</w>" for c in letters] + ["!", "!</w>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    vocab["th</w>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[("t", "h</w>")])


def build_tiny_models(model_dir: Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        CLIPSegConfig,
        CLIPSegForImageSegmentation,
        OneFormerConfig,
        OneFormerForUniversalSegmentation,
        OneFormerImageProcessorPil,
        ViTImageProcessorPil,
    )

    from prompting.resources import coco_class_info_path, coco_panoptic_classes

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    vocab_size = len(tokenizer)
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    bos = tokenizer.convert_tokens_to_ids("<|startoftext|>")

    clipseg_dir = model_folder(model_dir, CLIPSEG_ID)
    clipseg_config = CLIPSegConfig(
        text_config=dict(
            vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=32, eos_token_id=eos, bos_token_id=bos, pad_token_id=eos,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
            image_size=32, patch_size=8,
        ),
        projection_dim=16, extract_layers=[1, 2], reduce_dim=16, decoder_num_attention_heads=2,
        decoder_intermediate_size=32,
    )
    CLIPSegForImageSegmentation(clipseg_config).save_pretrained(clipseg_dir)
    tokenizer.save_pretrained(clipseg_dir)
    ViTImageProcessorPil(
        size={"height": 32, "width": 32}, image_mean=CLIP_MEAN, image_std=CLIP_STD, resample=3
    ).save_pretrained(clipseg_dir)

    oneformer_dir = model_folder(model_dir, ONEFORMER_ID)
    names = coco_panoptic_classes()
    oneformer_config = OneFormerConfig(
        backbone_config=dict(
            model_type="swin", embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4,
            out_features=["stage1", "stage2", "stage3", "stage4"], image_size=64,
        ),
        num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
        hidden_dim=32, conv_dim=32, mask_dim=32, num_queries=8, encoder_layers=1, decoder_layers=2,
        encoder_feedforward_dim=32, dim_feedforward=32, num_attention_heads=2, text_encoder_width=32,
        text_encoder_context_length=TEXT_CONTEXT, text_encoder_num_layers=1, text_encoder_vocab_size=vocab_size,
        text_encoder_proj_layers=1, text_encoder_n_ctx=2, task_seq_len=TASK_SEQ_LEN, max_seq_len=TEXT_CONTEXT,
        use_auxiliary_loss=False, is_training=False,
    )
    OneFormerForUniversalSegmentation(oneformer_config).save_pretrained(oneformer_dir)
    tokenizer.save_pretrained(oneformer_dir)
    class_info = coco_class_info_path()
    OneFormerImageProcessorPil(
        repo_path=str(class_info.parent), class_info_file=class_info.name, num_text=TEXT_CONTEXT,
        num_labels=len(names), size={"shortest_edge": 64, "longest_edge": 128},
    ).save_pretrained(oneformer_dir)
    return model_dir
