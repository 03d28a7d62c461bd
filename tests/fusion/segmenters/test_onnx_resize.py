"""Running a cut-out model at another input size than it was exported for (`--model-side`): the sizes a traced
export baked into its Resize nodes are recomputed, tested on tiny traced-style ONNX models built here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import SAMPLES, build_traced_cutout_model, require_modules, run_cli

require_modules("onnx", "onnxruntime")

import onnxruntime  # noqa: E402

from fusion.errors import InvalidOptionError, ModelLoadError  # noqa: E402
from fusion.segmenters import choose_segmenter, get_segmenter  # noqa: E402
from fusion.segmenters.cutout_models import CutoutContract, add_cutout_model, with_input_side  # noqa: E402
from fusion.segmenters.onnx_resize import retarget_input_size  # noqa: E402
from prompting.types import PromptSet  # noqa: E402

NATIVE = 64


def run(model: str | bytes, side: int, seed: int = 1) -> np.ndarray:
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    image = np.random.default_rng(seed).random((1, 3, side, side), dtype=np.float32)
    return session.run(["mask"], {"image": image})[0]


def test_at_its_own_size_the_rewritten_model_computes_what_the_export_does(tmp_path) -> None:
    path = build_traced_cutout_model(tmp_path / "m.onnx", side=NATIVE)
    same = retarget_input_size(path, (NATIVE, NATIVE), (NATIVE, NATIVE))
    assert same.resizes == 3
    np.testing.assert_allclose(run(same.model, NATIVE), run(str(path), NATIVE), atol=1e-6)


@pytest.mark.parametrize("side", [96, 128, 70, 32])  # 70: ceil-mode pooling gives 35, 18, 9
def test_a_traced_export_fails_at_another_size_and_runs_once_rewritten(tmp_path, side) -> None:
    path = build_traced_cutout_model(tmp_path / "m.onnx", side=NATIVE)
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error types: the baked sizes do not fit
        run(str(path), side)
    out = run(retarget_input_size(path, (NATIVE, NATIVE), (side, side)).model, side)
    assert out.shape == (1, 1, side, side) and np.isfinite(out).all()


def test_the_side_keeps_the_models_aspect_and_must_be_a_multiple_of_32() -> None:
    square = CutoutContract((1024, 1024), (0, 0, 0), (1, 1, 1))
    assert with_input_side(square, 0) is square
    assert with_input_side(square, 640).input_size == (640, 640)
    assert with_input_side(CutoutContract((1024, 768), (0, 0, 0), (1, 1, 1)), 640).input_size == (640, 480)
    for bad in (100, 96, 4096):
        with pytest.raises(InvalidOptionError, match="multiple of 32"):
            with_input_side(square, bad)


def test_the_salient_backend_runs_its_model_at_the_side_asked_for(tmp_path) -> None:
    models = tmp_path / "models"
    add_cutout_model(models, "isnet-traced", build_traced_cutout_model(tmp_path / "t.onnx", side=NATIVE))
    choice = choose_segmenter("salient", models).with_model_side(128)
    segmenter = choice.build()
    assert segmenter.contract.input_size == (128, 128) and segmenter.native_contract.input_size == (NATIVE, NATIVE)
    assert segmenter.probability(np.full((90, 120, 3), 200, np.uint8)).shape == (128, 128)
    evidence = segmenter.segment(np.full((90, 120, 3), 200, np.uint8), PromptSet())
    assert evidence.backend == "salient"
    assert choose_segmenter("classical", models).with_model_side(128).options == ()  # classical has no model


def test_an_export_with_a_size_we_cannot_rewrite_is_a_one_line_error(tmp_path) -> None:
    models = tmp_path / "models"
    add_cutout_model(models, "isnet-fixed", build_traced_cutout_model(tmp_path / "f.onnx", side=NATIVE,
                                                                        fixed_reshape=True))
    segmenter = get_segmenter("salient", model_dir=models, input_side=128)
    with pytest.raises(ModelLoadError, match="cannot run at 128×128") as caught:
        segmenter.segment(np.full((40, 40, 3), 200, np.uint8), PromptSet())
    assert "\n" not in str(caught.value)


def test_the_cli_takes_model_side_and_rejects_a_bad_one_in_one_line(tmp_path) -> None:
    models = tmp_path / "models"
    add_cutout_model(models, "isnet-traced", build_traced_cutout_model(tmp_path / "t.onnx", side=NATIVE))
    photo = str(SAMPLES / "coffee-cup.jpg")
    result = run_cli("replace", photo, "--out", str(tmp_path / "out"), "--models", str(models), "--segmenter",
                     "salient", "--model-side", "128", "--json", "-", "--format", "mask")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["items"][0]["metadata"]["backend"] == "salient"
    bad = run_cli("replace", photo, "--out", str(tmp_path / "bad"), "--models", str(models), "--segmenter",
                  "salient", "--model-side", "100")
    assert bad.returncode != 0 and "multiple of 32" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists()
