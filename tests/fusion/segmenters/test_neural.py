"""The neural backend end to end on tiny random-init models (built once per module, loaded through the
production loader). Random weights: these tests check plumbing, shapes and contracts, never quality."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO, require_modules  # noqa: E402

require_modules("torch", "transformers")

from fusion.errors import ModelNotFoundError, PromptcutError  # noqa: E402
from fusion.pipeline import cut  # noqa: E402
from fusion.segmenters import get_segmenter  # noqa: E402
from fusion.segmenters.models import CLIPSEG_ID, ONEFORMER_ID, model_folder, model_status  # noqa: E402
from fusion.segmenters.neural import NO_PROMPT_NOTE, NeuralSegmenter  # noqa: E402
from fusion.selection import select  # noqa: E402
from fusion.types import Evidence  # noqa: E402
from prompting.types import PromptSet  # noqa: E402

PROMPTS = PromptSet(positives=("red boot", "a photo of a boot"), negatives=("hand",), source="prompt")


pytestmark = [pytest.mark.neural, pytest.mark.usefixtures("no_network")]


@pytest.fixture(scope="module")
def segmenter(model_dir) -> NeuralSegmenter:
    built = get_segmenter("neural", model_dir=model_dir, working_size=96, threads=1, precision="fp32")
    built.load()
    return built


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 160×120 product-like photo: a saturated block on a light backdrop."""
    image = np.full((160, 120, 3), 235, np.uint8)
    image[50:120, 35:85] = (180, 40, 30)
    noise = np.random.default_rng(1).integers(-6, 7, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)


def test_registry_builds_the_neural_backend_lazily(model_dir) -> None:
    built = get_segmenter("neural", model_dir=model_dir)
    assert built.name == "neural"
    assert not built.loaded


def test_segment_returns_well_formed_evidence(segmenter, photo) -> None:
    evidence = segmenter.segment(photo, PROMPTS)
    assert isinstance(evidence, Evidence)
    assert evidence.backend == "neural" and evidence.prompts_used
    assert evidence.image.shape == (96, 72, 3) and evidence.image.dtype == np.uint8
    for plane in (evidence.heatmap, evidence.negative_heatmap, evidence.prior):
        assert plane.shape == (96, 72) and plane.dtype == np.float32
        assert 0.0 <= plane.min() and plane.max() <= 1.0
    assert evidence.labels.shape == (96, 72) and evidence.labels.dtype == np.int32
    assert len(evidence.label_names) == 133 and evidence.label_names[0] == "person"
    assert 0 <= evidence.labels.min() and evidence.labels.max() < 133
    assert evidence.notes == ()


def test_heatmaps_are_the_max_over_prompts(segmenter, photo) -> None:
    evidence = segmenter.segment(photo, PROMPTS)
    planes = segmenter.heatmaps(evidence.image, PROMPTS.positives + PROMPTS.negatives)
    assert planes.shape == (3, 96, 72)
    np.testing.assert_allclose(evidence.heatmap, planes[:2].max(axis=0), atol=1e-6)
    np.testing.assert_allclose(evidence.negative_heatmap, planes[2], atol=1e-6)


def test_shared_vision_pass_matches_one_call_per_prompt(segmenter, photo) -> None:
    """Reusing the vision encoder gives exactly what the naive recipe (image repeated per prompt) gives."""
    import cv2
    import torch

    loaded = segmenter._loaded
    small = segmenter.segment(photo, PROMPTS).image
    phrases = list(PROMPTS.positives + PROMPTS.negatives)
    pixels = loaded.clipseg_image_processor(images=[small] * len(phrases), return_tensors="pt")["pixel_values"]
    text = loaded.clipseg_tokenizer(phrases, padding=True, return_tensors="pt")
    with torch.inference_mode():
        logits = loaded.clipseg(pixel_values=pixels, **text).logits
    naive = np.stack([cv2.resize(p, (72, 96)) for p in torch.sigmoid(logits).numpy()])
    np.testing.assert_allclose(segmenter.heatmaps(small, tuple(phrases)), naive, atol=1e-5)


def test_vision_encoder_runs_once_per_image(segmenter, photo) -> None:
    calls = []
    vision = segmenter._loaded.clipseg.clip.vision_model
    handle = vision.register_forward_hook(lambda module, args, output: calls.append(1))
    try:
        many = PromptSet(positives=("boot", "red boot", "leather boot", "shoe"), negatives=("hand", "floor"))
        segmenter.segment(photo, many)
    finally:
        handle.remove()
    assert len(calls) == 1


def test_select_and_cut_run_end_to_end(segmenter, photo) -> None:
    mask = select(segmenter.segment(photo, PROMPTS))
    assert mask.binary.shape == (96, 72) and mask.binary.any()
    cutout = cut(photo, PROMPTS, segmenter)
    assert cutout.backend == "neural"
    assert cutout.alpha.shape == photo.shape[:2] and cutout.alpha.dtype == np.float32
    assert 0.0 <= cutout.alpha.min() and cutout.alpha.max() <= 1.0
    assert cutout.metadata()["backend"] == "neural"


def test_empty_prompts_fall_back_to_the_centre_prior(segmenter, photo) -> None:
    evidence = segmenter.segment(photo, PromptSet())
    assert not evidence.heatmap.any() and evidence.negative_heatmap is None
    assert NO_PROMPT_NOTE in evidence.notes
    mask = select(evidence)
    assert mask.binary.any() and mask.confidence < 0.5


def test_small_images_are_not_upscaled(segmenter) -> None:
    tiny = np.full((40, 50, 3), 128, np.uint8)
    evidence = segmenter.segment(tiny, PROMPTS)
    assert evidence.heatmap.shape == (40, 50) and evidence.labels.shape == (40, 50)


def test_models_load_once_per_instance(segmenter, monkeypatch) -> None:
    import fusion.segmenters.neural as neural

    monkeypatch.setattr(neural, "_load_clipseg", lambda folder: pytest.fail("reloaded"))
    segmenter.load()
    segmenter.segment(np.zeros((32, 32, 3), np.uint8), PROMPTS)


def test_missing_model_names_the_folder_and_the_pull_command(tmp_path) -> None:
    built = NeuralSegmenter(tmp_path / "empty")
    with pytest.raises(ModelNotFoundError) as caught:
        built.segment(np.zeros((64, 64, 3), np.uint8), PROMPTS)
    message = str(caught.value)
    assert str(model_folder(tmp_path / "empty", CLIPSEG_ID)) in message
    assert "promptcut models pull" in message and "\n" not in message
    assert isinstance(caught.value, PromptcutError) and caught.value.code == "model_missing"


def test_one_missing_model_is_reported(model_dir, tmp_path) -> None:
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(model_folder(model_dir, CLIPSEG_ID), model_folder(partial, CLIPSEG_ID))
    with pytest.raises(ModelNotFoundError, match="oneformer"):
        NeuralSegmenter(partial).load()


def test_model_status_reports_presence_and_size(model_dir, tmp_path) -> None:
    present = {s.model_id: s for s in model_status(model_dir)}
    assert present[CLIPSEG_ID].present and present[ONEFORMER_ID].present
    assert present[CLIPSEG_ID].size_bytes > 10_000 and present[ONEFORMER_ID].files >= 3
    assert not any(s.present for s in model_status(tmp_path / "none"))


def test_importing_the_neural_module_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import fusion.segmenters.neural, fusion.segmenters.models\n"
        "from fusion.segmenters import get_segmenter\n"
        "get_segmenter('neural', model_dir='/nonexistent')\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_very_small_images_still_get_a_label_map(segmenter) -> None:
    evidence = segmenter.segment(np.full((20, 32, 3), 90, np.uint8), PROMPTS)
    assert evidence.labels.shape == (20, 32) and evidence.heatmap.shape == (20, 32)


@pytest.mark.slow
def test_cli_replace_with_the_neural_backend(model_dir, tmp_path) -> None:
    import json

    from PIL import Image

    from tests.helpers import run_cli

    source = tmp_path / "in" / "boot.png"
    source.parent.mkdir()
    image = np.full((120, 90, 3), 235, np.uint8)
    image[30:100, 25:65] = (150, 60, 30)
    Image.fromarray(image).save(source)
    out = tmp_path / "out"
    result = run_cli("replace", str(source), "--out", str(out), "--segmenter", "neural", "--models", str(model_dir),
                     "--prompt", "red boot", "--quiet", "--json", "-", "--format", "mask", "--threads", "1",
                     "--precision", "fp32")
    assert result.returncode == 0, result.stderr
    item = json.loads(result.stdout)["items"][0]
    assert item["status"] == "done" and item["metadata"]["backend"] == "neural"
    assert (out / "boot.png").is_file()


def test_cli_replace_neural_without_models_is_one_line(tmp_path) -> None:
    from tests.helpers import run_cli

    result = run_cli("replace", str(tmp_path), "--out", str(tmp_path / "out"), "--segmenter", "neural",
                     "--models", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "promptcut models pull" in result.stderr
    assert str(tmp_path / "nothing" / "CIDAS--clipseg-rd64-refined") in result.stderr


def test_cli_models_status(model_dir, tmp_path) -> None:
    import json

    from tests.helpers import run_cli

    present = run_cli("models", "status", "--models", str(model_dir), "--json")
    assert present.returncode == 0, present.stderr
    rows = json.loads(present.stdout)["models"]
    assert [r["id"] for r in rows] == [CLIPSEG_ID, ONEFORMER_ID] and all(r["present"] for r in rows)
    missing = run_cli("models", "status", "--models", str(tmp_path / "none"))
    assert missing.returncode == 1 and "missing" in missing.stdout and "models pull" in missing.stderr


def test_pull_without_network_fails_with_a_typed_error(tmp_path) -> None:
    from fusion.segmenters.models import pull_model

    with pytest.raises(ModelNotFoundError, match="could not download") as caught:
        pull_model(tmp_path, "CIDAS/clipseg-rd64-refined")
    assert "\n" not in str(caught.value)


def test_unknown_precision_is_refused(model_dir) -> None:
    with pytest.raises(ValueError, match="precision"):
        NeuralSegmenter(model_dir, precision="fp8")


def test_bf16_stays_close_to_fp32(model_dir, photo) -> None:
    """bf16 autocast changes numerics only slightly: same label map almost everywhere, close heatmaps."""
    fp32 = NeuralSegmenter(model_dir, working_size=96, threads=1, precision="fp32")
    bf16 = NeuralSegmenter(model_dir, working_size=96, threads=1, precision="bf16")
    reference, candidate = fp32.segment(photo, PROMPTS), bf16.segment(photo, PROMPTS)
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert float(np.abs(reference.heatmap - candidate.heatmap).max()) < 0.05
    assert float((reference.labels == candidate.labels).mean()) >= 0.9


def test_cli_replace_refuses_an_unknown_precision(model_dir, tmp_path) -> None:
    from tests.helpers import run_cli

    result = run_cli("replace", str(tmp_path), "--out", str(tmp_path / "out"), "--segmenter", "neural",
                     "--models", str(model_dir), "--precision", "fp8")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--precision" in result.stderr


def test_label_hints_mark_their_classes_and_survive_storage(segmenter, photo) -> None:
    from dataclasses import replace

    from fusion.evidence_io import evidence_from_bytes, evidence_to_bytes

    hinted = replace(PROMPTS, label_hints=("cup", "bottle"))
    evidence = segmenter.segment(photo, hinted)
    assert [evidence.label_names[i] for i in evidence.hinted_labels] == ["bottle", "cup"]
    assert evidence_from_bytes(evidence_to_bytes(evidence)).hinted_labels == evidence.hinted_labels
    fixed = segmenter.reprompt(evidence, replace(PROMPTS, label_hints=("dining table",)))
    assert [fixed.label_names[i] for i in fixed.hinted_labels] == ["dining table"]
