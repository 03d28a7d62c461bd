"""`--segmenter auto|neural|classical` with `--models DIR` on replace, eval and bench, and prompted eval
with the neural backend. Tiny random-init models (built once per module), network blocked, CLIs run
in-process: these tests check which backend runs and what the user is told, never quality."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.helpers import require_modules  # noqa: E402

require_modules("torch", "transformers")

from fusion.errors import ModelNotFoundError, UnknownSegmenterError  # noqa: E402
from fusion.segmenters import choose_segmenter, resolve_segmenter, segmenter_choices  # noqa: E402
from fusion.segmenters.models import CLIPSEG_ID  # noqa: E402
from service.cli import app  # noqa: E402

NOTICE_START = "no models found in"


pytestmark = [pytest.mark.neural, pytest.mark.usefixtures("no_network")]


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    image = np.full((96, 72, 3), 235, np.uint8)
    image[25:75, 20:52] = (150, 60, 30)
    Image.fromarray(image).save(folder / "boot.png")
    return folder


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def lines(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()]


# --------------------------------------------------------------------------- resolver


def test_auto_without_models_is_classical_with_a_notice(tmp_path) -> None:
    choice = choose_segmenter("auto", tmp_path / "empty")
    assert choice.name == "classical" and choice.options == ()
    assert choice.notice.startswith(NOTICE_START) and str(tmp_path / "empty") in choice.notice
    assert "promptcut models pull" in choice.notice and "\n" not in choice.notice
    segmenter, notice = resolve_segmenter("auto", tmp_path / "empty")
    assert segmenter.name == "classical" and notice == choice.notice


def test_auto_with_one_model_missing_is_classical(model_dir, tmp_path) -> None:
    import shutil

    from fusion.segmenters.models import model_folder

    shutil.copytree(model_folder(model_dir, CLIPSEG_ID), model_folder(tmp_path, CLIPSEG_ID))
    assert choose_segmenter("auto", tmp_path).name == "classical"


def test_auto_with_models_is_neural_and_loads_nothing(model_dir) -> None:
    segmenter, notice = resolve_segmenter("auto", model_dir)
    assert segmenter.name == "neural" and notice is None
    assert not segmenter.loaded and segmenter.model_dir == model_dir


def test_explicit_choices(model_dir, tmp_path) -> None:
    assert choose_segmenter("classical", model_dir).name == "classical"
    assert choose_segmenter("neural", model_dir).notice is None
    with pytest.raises(ModelNotFoundError, match="promptcut models pull"):
        choose_segmenter("neural", tmp_path / "none")
    with pytest.raises(UnknownSegmenterError, match="auto, classical, neural"):
        choose_segmenter("sam", model_dir)
    assert segmenter_choices()[0] == "auto"


# --------------------------------------------------------------------------- replace / bench


def test_cli_replace_auto_without_models_notes_and_runs_classical(photo_dir, tmp_path) -> None:
    empty = tmp_path / "no-models"
    result = invoke("replace", str(photo_dir), "--out", str(tmp_path / "out"), "--models", str(empty),
                    "--quiet", "--json", "-", "--format", "mask")
    assert result.exit_code == 0, result.output
    notices = [line for line in lines(result.stderr) if line.startswith(NOTICE_START)]
    assert notices == [
        f"no models found in {empty}; using the classical segmenter (promptcut models pull for the text-prompted "
        "models, `promptcut models add NAME FILE.onnx` for a cut-out model)"
    ]
    item = json.loads(result.stdout)["items"][0]
    assert item["status"] == "done" and item["metadata"]["backend"] == "classical"


def test_cli_replace_auto_with_models_runs_neural(model_dir, photo_dir, tmp_path) -> None:
    result = invoke("replace", str(photo_dir), "--out", str(tmp_path / "out"), "--models", str(model_dir),
                    "--prompt", "red boot", "--quiet", "--json", "-", "--format", "mask")
    assert result.exit_code == 0, result.output
    assert NOTICE_START not in result.stderr
    item = json.loads(result.stdout)["items"][0]
    assert item["status"] == "done" and item["metadata"]["backend"] == "neural"


def test_cli_models_option_reads_the_environment(model_dir, photo_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PROMPTCUT_MODELS", str(model_dir))
    result = invoke("replace", str(photo_dir), "--out", str(tmp_path / "out"), "--quiet", "--json", "-",
                    "--format", "mask")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items"][0]["metadata"]["backend"] == "neural"


@pytest.mark.parametrize("command", ["replace", "bench", "eval"])
def test_cli_neural_without_models_is_one_line_exit_2(command, photo_dir, tmp_path) -> None:
    missing = tmp_path / "nothing"
    if command == "eval":
        dataset = tmp_path / "data"
        _write_pair(dataset)
        args = ["eval", str(dataset)]
    elif command == "bench":
        args = ["bench", str(photo_dir)]
    else:
        args = ["replace", str(photo_dir), "--out", str(tmp_path / "out")]
    result = invoke(*args, "--segmenter", "neural", "--models", str(missing))
    assert result.exit_code == 2
    assert len(lines(result.stderr)) == 1 and lines(result.stderr)[0].startswith("error:")
    assert "promptcut models pull" in result.stderr and str(missing / "CIDAS--clipseg-rd64-refined") in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_bench_auto_with_models_times_the_neural_backend(model_dir, photo_dir) -> None:
    result = invoke("bench", str(photo_dir), "--models", str(model_dir), "--longest", "96", "--repeat", "1")
    assert result.exit_code == 0, result.output
    assert "(neural)" in result.stdout and NOTICE_START not in result.stderr


# --------------------------------------------------------------------------- eval with prompts.csv


def _write_pair(root: Path) -> np.ndarray:
    """images/ + masks/ with one foreground pair; returns the image."""
    image = np.full((64, 48, 3), 230, np.uint8)
    mask = np.zeros((64, 48), np.uint8)
    mask[16:48, 12:36] = 255
    image[mask > 0] = (40, 90, 160)
    for folder, name, pixels in (("images", "ccp_one", image), ("masks", "ccp_one", mask)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / folder / f"{name}.png")
    return image


@pytest.fixture
def prompted_dataset(tmp_path) -> Path:
    root = tmp_path / "data"
    image = _write_pair(root)
    mask = np.zeros((64, 48), np.uint8)
    mask[16:48, 12:36] = 255
    (root / "prompt_images").mkdir()
    (root / "prompt_masks").mkdir()
    Image.fromarray(image).save(root / "prompt_images" / "coco_one.png")
    Image.fromarray(mask).save(root / "prompt_masks" / "coco_one__box.png")
    Image.fromarray(255 - mask).save(root / "prompt_masks" / "coco_one__wall.png")
    (root / "prompts.csv").write_text(
        "name,prompt,mask\n"
        "coco_one,blue box,prompt_masks/coco_one__box.png\n"
        "coco_one,wall,prompt_masks/coco_one__wall.png\n"
    )
    return root


def test_cli_eval_neural_scores_prompted_triples(model_dir, prompted_dataset) -> None:
    result = invoke("eval", str(prompted_dataset), "--segmenter", "neural", "--models", str(model_dir),
                    "--quiet", "--json", "-")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["methods"] == ["neural"] and report["skipped_prompted"] == 0
    prompted = [r for r in report["images"] if r["kind"] == "prompt"]
    assert sorted(r["prompt"] for r in prompted) == ["blue box", "wall"]
    assert all(r["method"] == "neural" and 0.0 <= r["iou"] <= 1.0 for r in prompted)
    assert any(s["kind"] == "prompt" for s in report["summaries"])
    assert [r["kind"] for r in report["images"]] == ["pair", "prompt", "prompt"]  # pairs still scored
    assert "does not understand prompts" not in result.stderr


def test_cli_eval_classical_still_refuses_prompts(prompted_dataset, tmp_path) -> None:
    result = invoke("eval", str(prompted_dataset), "--models", str(tmp_path / "none"), "--quiet", "--json", "-")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["methods"] == ["classical"] and report["skipped_prompted"] == 2
    assert not [r for r in report["images"] if r["kind"] == "prompt"]
    assert "classical backend does not understand prompts" in result.stderr
    assert f"no models found in {tmp_path / 'none'}" in result.stderr
