"""Where the neural backend's models live on disk, what is present, and how to fetch them.

Layout: one folder per hub id under a model directory, the "/" replaced by "--":

    <model_dir>/CIDAS--clipseg-rd64-refined/            config.json, model.safetensors, tokenizer + processor files
    <model_dir>/shi-labs--oneformer_coco_swin_large/    config.json, model.safetensors, tokenizer + processor files

Nothing here imports torch or transformers; `pull_model` imports huggingface_hub only when called.
Loading is always `local_files_only`: a folder that is missing or has no config.json raises
ModelNotFoundError naming the folder and `promptcut models pull`, never a hub download.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fusion.errors import ModelNotFoundError

CLIPSEG_ID = "CIDAS/clipseg-rd64-refined"
ONEFORMER_ID = "shi-labs/oneformer_coco_swin_large"
DEFAULT_MODEL_IDS: tuple[str, ...] = (CLIPSEG_ID, ONEFORMER_ID)
PULL_COMMAND = "promptcut models pull"

# Files worth fetching from a model repository (weights in safetensors only; no TF/Flax/pickle duplicates).
PULL_PATTERNS: tuple[str, ...] = ("*.json", "*.safetensors", "*.txt", "*.model")


def model_folder(model_dir: Path | str, model_id: str) -> Path:
    """The folder of `model_id` ("owner/name") inside `model_dir`: <model_dir>/owner--name."""
    return Path(model_dir) / model_id.replace("/", "--")


def is_present(model_dir: Path | str, model_id: str) -> bool:
    """True when the model's folder holds a config.json and at least one weights file."""
    folder = model_folder(model_dir, model_id)
    has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))
    return (folder / "config.json").is_file() and has_weights


def require_model(model_dir: Path | str, model_id: str) -> Path:
    """The folder of `model_id`, or ModelNotFoundError (one line: folder searched + pull command)."""
    folder = model_folder(model_dir, model_id)
    if not is_present(model_dir, model_id):
        raise ModelNotFoundError(
            f"model {model_id} not found in {folder} (no config.json + weights); "
            f"fetch it with `{PULL_COMMAND} --models {Path(model_dir)}` on a machine with internet"
        )
    return folder


@dataclass(frozen=True)
class ModelStatus:
    """One model's state on disk. size_bytes counts every file in its folder (0 when absent)."""

    model_id: str
    folder: Path
    present: bool
    size_bytes: int
    files: int


def model_status(model_dir: Path | str, model_ids: tuple[str, ...] = DEFAULT_MODEL_IDS) -> list[ModelStatus]:
    """What is present under `model_dir` for each of `model_ids`."""
    result = []
    for model_id in model_ids:
        folder = model_folder(model_dir, model_id)
        files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
        result.append(
            ModelStatus(
                model_id=model_id,
                folder=folder,
                present=is_present(model_dir, model_id),
                size_bytes=sum(p.stat().st_size for p in files),
                files=len(files),
            )
        )
    return result


def pull_model(model_dir: Path | str, model_id: str, revision: str | None = None) -> Path:
    """Download `model_id` from the Hugging Face Hub into its folder under `model_dir` (needs internet).

    Uses huggingface_hub.snapshot_download with local_dir, so the folder is self-contained and later loads
    stay offline. Errors from the hub (no network, unknown id) are re-raised as ModelNotFoundError.
    """
    from huggingface_hub import snapshot_download  # deferred: only `models pull` needs it

    folder = model_folder(model_dir, model_id)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        snapshot_download(
            repo_id=model_id, revision=revision, local_dir=str(folder), allow_patterns=list(PULL_PATTERNS)
        )
    except Exception as exc:  # network, auth, unknown repo: one line for the user
        detail = " ".join(str(exc).split())[:300]
        raise ModelNotFoundError(
            f"could not download {model_id} into {folder}: {type(exc).__name__}: {detail}"
        ) from exc
    return folder


__all__ = [
    "CLIPSEG_ID",
    "DEFAULT_MODEL_IDS",
    "ONEFORMER_ID",
    "PULL_COMMAND",
    "ModelStatus",
    "model_folder",
    "model_status",
    "pull_model",
    "require_model",
]
