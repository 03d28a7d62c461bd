"""`promptcut models status|pull|add`: the model backends' files on disk.

The model directory comes from `--models`, else the PROMPTCUT_MODELS environment variable, else
~/.cache/promptcut/models. The text-prompted neural models live in <dir>/<owner>--<name>
(fusion.segmenters.models); learned cut-out models in <dir>/cutout/<name> (fusion.segmenters.cutout_models).
`pull` needs internet; `add` registers an ONNX file you have; everything else, including loading, is offline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from fusion.segmenters.cutout_models import (
    PULLABLE,
    add_cutout_model,
    cutout_status,
    pull_cutout_model,
)
from fusion.segmenters.models import (
    DEFAULT_MODEL_IDS,
    PULL_COMMAND,
    model_status,
    pull_model,
)
from service.cli.errors import fail, user_errors

MODELS_ENVVAR = "PROMPTCUT_MODELS"
CUTOUT_HELP = "Cut-out model to fetch instead (repeatable): " + ", ".join(PULLABLE) + "."
DEFAULT_MODELS_DIR = Path.home() / ".cache" / "promptcut" / "models"

models_app = typer.Typer(
    help="Models: what is present (status), fetching them (pull), registering a cut-out model file (add).",
    no_args_is_help=True,
)


SEGMENTER_HELP = (
    "auto (neural when both its models are in --models, else salient when a cut-out model is, else classical) "
    "| neural | salient | classical."
)


def segmenter_option(what: str = "") -> str:
    """The shared `--segmenter NAME` option; `what` prefixes its help (e.g. "Backend to evaluate: ")."""
    return typer.Option("auto", "--segmenter", help=what + SEGMENTER_HELP)


def threads_option() -> int:
    """The shared `--threads N` option of the commands that run a model backend."""
    return typer.Option(
        2, "--threads", min=1, help="Threads for a model backend (neural: torch, salient: ONNX Runtime)."
    )


def model_side_option() -> int:
    """The shared `--model-side PX` option of the commands that can run the learned cut-out backend."""
    return typer.Option(
        0, "--model-side", min=0,
        help="Salient backend: run the cut-out model at this many px a side (a multiple of 32, e.g. 640) instead "
        "of its own input size: faster on CPUs without AVX-512, a coarser map. 0 = the model's own size.",
    )


def models_dir_option() -> Path:
    """The shared `--models DIR` option (also read from PROMPTCUT_MODELS)."""
    return typer.Option(
        DEFAULT_MODELS_DIR, "--models", envvar=MODELS_ENVVAR, help="Folder holding the neural models.",
        show_default=True,
    )


def _human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


@models_app.command("status")
def status(
    models: Path = models_dir_option(),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout instead of a table."),
) -> None:
    """Show the text-prompted neural models and the learned cut-out models under the model folder.

    Exit status 0 when a model backend can run (both neural models, or at least one cut-out model), 1 otherwise."""
    rows = model_status(models, DEFAULT_MODEL_IDS)
    cutouts = cutout_status(models)
    neural_ready = all(r.present for r in rows)
    usable = neural_ready or any(c.present for c in cutouts)
    if as_json:
        payload = {
            "models_dir": str(models),
            "models": [
                {"id": r.model_id, "folder": str(r.folder), "present": r.present, "size_bytes": r.size_bytes,
                 "files": r.files}
                for r in rows
            ],
            "cutout_models": [
                {"name": c.name, "folder": str(c.folder), "present": c.present, "size_bytes": c.size_bytes,
                 "pullable": c.name in PULLABLE}
                for c in cutouts
            ],
        }
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        typer.echo(f"model folder: {models}")
        typer.echo("text-prompted (neural):")
        for r in rows:
            state = "present" if r.present else "missing"
            typer.echo(f"  {r.model_id:<36} {state:<8} {_human(r.size_bytes):>9}  {r.folder}")
        typer.echo("cut-out (salient):")
        for c in cutouts:
            state = "present" if c.present else "pullable"
            typer.echo(f"  {c.name:<36} {state:<8} {_human(c.size_bytes):>9}  {c.folder}")
        if not neural_ready:
            typer.echo(f"fetch missing models with `{PULL_COMMAND} --models {models}` (needs internet)", err=True)
    if not usable:
        raise typer.Exit(1)


@models_app.command("pull")
def pull(
    models: Path = models_dir_option(),
    model_ids: Optional[list[str]] = typer.Option(
        None, "--model", help="Hub id to fetch (repeatable); default: CLIPSeg and OneFormer."
    ),
    cutout: Optional[list[str]] = typer.Option(
        None, "--cutout", help=CUTOUT_HELP
    ),
    revision: Optional[str] = typer.Option(None, "--revision", help="Branch, tag or commit on the hub."),
) -> None:
    """Download models into the model folder (needs internet): the neural models, or --cutout NAME."""
    with user_errors():
        for name in cutout or []:
            typer.echo(f"fetching cut-out model {name} ...", err=True)
            typer.echo(f"{name} -> {pull_cutout_model(models, name)}", err=True)
        if cutout:
            return
        for model_id in model_ids or list(DEFAULT_MODEL_IDS):
            if "/" not in model_id:
                raise fail(f"model id must look like owner/name, got {model_id!r}")
            typer.echo(f"fetching {model_id} ...", err=True)
            folder = pull_model(models, model_id, revision=revision)
            typer.echo(f"{model_id} -> {folder}", err=True)


@models_app.command("add")
def add(
    name: str = typer.Argument(..., help="Name to register it under, e.g. isnet-general-use."),
    onnx_file: Path = typer.Argument(..., help="The .onnx file (one image in, one soft mask out)."),
    contract: Optional[Path] = typer.Option(
        None, "--contract", help="JSON with input_size, mean, std (and sigmoid / stretch); default: recognised "
        "from the name (isnet, u2net, birefnet) and the graph."
    ),
    models: Path = models_dir_option(),
) -> None:
    """Register a learned cut-out model you have (IS-Net, U²-Net, BiRefNet ONNX exports) for --segmenter salient."""
    with user_errors():
        folder = add_cutout_model(models, name, onnx_file, contract)
        typer.echo(f"{name} -> {folder}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
