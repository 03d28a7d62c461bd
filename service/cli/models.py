"""`promptcut models status|pull`: the neural backend's models on disk.

The model directory comes from `--models`, else the PROMPTCUT_MODELS environment variable, else
~/.cache/promptcut/models. Each model lives in <dir>/<owner>--<name> (see fusion.segmenters.models).
`pull` needs internet (huggingface_hub); everything else, including loading, is offline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from fusion.segmenters.models import (
    DEFAULT_MODEL_IDS,
    PULL_COMMAND,
    model_status,
    pull_model,
)
from service.cli.errors import fail, user_errors

MODELS_ENVVAR = "PROMPTCUT_MODELS"
DEFAULT_MODELS_DIR = Path.home() / ".cache" / "promptcut" / "models"

models_app = typer.Typer(help="Neural models: what is present (status) and fetching them (pull).", no_args_is_help=True)


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
    """Show which neural models are present under the model folder, where, and their sizes.

    Exit status 0 when every model is present, 1 otherwise."""
    rows = model_status(models, DEFAULT_MODEL_IDS)
    if as_json:
        payload = {
            "models_dir": str(models),
            "models": [
                {"id": r.model_id, "folder": str(r.folder), "present": r.present, "size_bytes": r.size_bytes,
                 "files": r.files}
                for r in rows
            ],
        }
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        typer.echo(f"model folder: {models}")
        for r in rows:
            state = "present" if r.present else "missing"
            typer.echo(f"  {r.model_id:<36} {state:<8} {_human(r.size_bytes):>9}  {r.folder}")
        if not all(r.present for r in rows):
            typer.echo(f"fetch missing models with `{PULL_COMMAND} --models {models}` (needs internet)", err=True)
    if not all(r.present for r in rows):
        raise typer.Exit(1)


@models_app.command("pull")
def pull(
    models: Path = models_dir_option(),
    model_ids: Optional[list[str]] = typer.Option(
        None, "--model", help="Hub id to fetch (repeatable); default: CLIPSeg and OneFormer."
    ),
    revision: Optional[str] = typer.Option(None, "--revision", help="Branch, tag or commit on the hub."),
) -> None:
    """Download the neural models from the Hugging Face Hub into the model folder (needs internet)."""
    with user_errors():
        for model_id in model_ids or list(DEFAULT_MODEL_IDS):
            if "/" not in model_id:
                raise fail(f"model id must look like owner/name, got {model_id!r}")
            typer.echo(f"fetching {model_id} ...", err=True)
            folder = pull_model(models, model_id, revision=revision)
            typer.echo(f"{model_id} -> {folder}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
