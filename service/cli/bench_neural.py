"""`promptcut bench-neural`: our neural segment stage against the naive transformers recipe (a benchmark)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from fusion.imageio import load_image
from fusion.segmenters.models import CLIPSEG_ID, ONEFORMER_ID, require_model
from prompting import build_prompts
from prompting.types import PromptSet
from service.bench.neural import run_neural_bench
from service.bench.pipeline import resize_longest
from service.bench.random_models import build_random_models
from service.cli.errors import user_errors
from service.cli.models import models_dir_option

DEFAULT_TITLE = "White Ceramic Coffee Mug 12oz"


def neural_model_dir(random_init: bool, models: Path, scratch: Path, say) -> Path:
    """The model folder to time: full-size random-init models built into `scratch`, or `models` (checked)."""
    if random_init:
        say("building full-size random-init CLIPSeg rd64 + OneFormer Swin-L (≈1.4 GB, ~20 s)…")
        return build_random_models(scratch, scale="full")
    require_model(models, CLIPSEG_ID)
    require_model(models, ONEFORMER_ID)
    return models


def bench_neural(
    image_path: Path = typer.Option(Path("samples/coffee-cup.jpg"), "--image", help="The product photo to time."),
    title: str = typer.Option(DEFAULT_TITLE, "--title", help="Product title; its first --prompts prompts are used."),
    prompt_count: int = typer.Option(3, "--prompts", min=1, max=16, help="How many prompts per image."),
    longest: int = typer.Option(1024, "--longest", help="Resize the photo so its longest side is this many px."),
    threads: int = typer.Option(2, "--threads", min=1, help="torch intra-op threads."),
    working_size: int = typer.Option(512, "--working-size", min=64, help="Our OneFormer/Evidence max side."),
    repeat: int = typer.Option(3, "--repeat", min=1, help="Timed runs per recipe (after one warm-up)."),
    default_resolution: bool = typer.Option(
        True, "--default-resolution/--no-default-resolution",
        help="Also time the naive recipe at OneFormer's default 800 px short side (slow: ~30 s a run).",
    ),
    random_init: bool = typer.Option(
        False, "--random-init", help="Build full-size random-init models in a temporary folder and time those "
        "(same architectures and compute as the real ones; no weights needed).",
    ),
    models: Path = models_dir_option(),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the result as JSON (- for stdout)."),
) -> None:
    """Time `NeuralSegmenter.segment` against the naive recipe on one photo, in one run."""

    console = Console(stderr=json_path == "-")
    with user_errors(), tempfile.TemporaryDirectory(prefix="promptcut-random-models-") as scratch:
        photo = resize_longest(load_image(image_path).rgb, longest)
        built = build_prompts(title=title)
        phrases = (tuple(built.positives) + tuple(built.negatives))[:prompt_count]
        prompts = PromptSet(positives=phrases, title=title, source="title")
        models = neural_model_dir(random_init, models, Path(scratch), console.print)
        result = run_neural_bench(
            models, photo, prompts, threads=threads, working_size=working_size, repeat=repeat,
            default_resolution=default_resolution, progress=lambda line: console.print(f"timing {line}…"),
        )
    ours = result.timings[0]
    console.print(f"photo {result.image_size[0]}×{result.image_size[1]}, {len(result.prompts)} prompts "
                  f"{list(result.prompts)}, {threads} threads, {repeat} runs per recipe (medians):")
    for timing in result.timings:
        ratio = timing.median / ours.median
        console.print(f"  {timing.recipe:<28} OneFormer at {timing.oneformer_size[0]}×{timing.oneformer_size[1]}: "
                      f"{timing.median:6.2f} s  ({ratio:.2f}× ours)")
    console.print(f"  ours by stage: CLIPSeg {result.ours_stages['clipseg']:.2f} s, "
                  f"OneFormer {result.ours_stages['oneformer']:.2f} s")
    console.print(f"{result.precision} vs fp32 on the same inputs: label-map agreement "
                  f"{result.label_agreement * 100:.2f} % ({result.label_classes} classes in the fp32 map), "
                  f"mask logits: max {result.mask_logit_max_difference:.4f}, "
                  f"mean {result.mask_logit_mean_difference:.4f} against a median "
                  f"lead of the winning query of {result.query_margin_median:.4f} (winning-query agreement "
                  f"{result.query_agreement * 100:.2f} %), "
                  f"OneFormer class-score max difference {result.score_max_difference:.4f}; heatmaps: max "
                  f"{result.heatmap_max_difference:.4f}, mean {result.heatmap_mean_difference:.4f}, "
                  f"99th percentile {result.heatmap_p99_difference:.4f}; CLIPSeg logits differ by "
                  f"{result.heatmap_logit_relative_difference * 100:.2f} % of their mean magnitude")
    console.print(f"peak memory with both models loaded and our recipe run: {result.peak_rss_mb:.0f} MB")
    if json_path:
        text = json.dumps(asdict(result) | {"medians": {t.recipe: t.median for t in result.timings}}, indent=2)
        typer.echo(text) if json_path == "-" else Path(json_path).write_text(text + "\n")


def register(app: typer.Typer) -> None:
    app.command("bench-neural")(bench_neural)
