"""The learned cut-out backend on ONNX Runtime, with tiny random ONNX models built here (the `onnx` package) and
registered and loaded through the production code: contracts, the registry's `auto` order, the CLI, errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SAMPLES, build_tiny_cutout_model, require_modules, run_cli

require_modules("onnx", "onnxruntime")

from fusion.errors import ModelLoadError, ModelNotFoundError  # noqa: E402
from fusion.segmenters import choose_segmenter, get_segmenter  # noqa: E402
from fusion.segmenters.cutout_models import (  # noqa: E402
    CONTRACT_FILE,
    PULLABLE,
    CutoutContract,
    add_cutout_model,
    installed_cutout_models,
    parse_contract,
    pull_cutout_model,
    require_cutout_model,
)
from fusion.segmenters.models import DEFAULT_MODEL_IDS, model_folder  # noqa: E402
from fusion.segmenters.salient import foreground_parts, prepare_input, read_output  # noqa: E402
from prompting.types import PromptSet  # noqa: E402

SIDE = 32  # the tiny models' input side (build_tiny_cutout_model)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    add_cutout_model(folder, "isnet-tiny", build_tiny_cutout_model(tmp_path / "isnet-tiny.onnx"))
    return folder


def photo(height: int = 60, width: int = 80) -> np.ndarray:
    image = np.full((height, width, 3), 240, np.uint8)
    image[15:45, 25:55] = (200, 30, 30)
    return image


def test_a_registered_model_recognised_by_name_gets_its_familys_contract_and_the_graphs_size(model_dir) -> None:
    folder = require_cutout_model(model_dir)
    contract = json.loads((folder / CONTRACT_FILE).read_text())
    assert folder.name == "isnet-tiny" and contract["input_size"] == [SIDE, SIDE]
    assert contract["mean"] == [127.5] * 3 and contract["std"] == [255.0] * 3 and not contract["sigmoid"]


def test_the_salient_backend_turns_the_models_map_into_evidence(model_dir) -> None:
    segmenter = get_segmenter("salient", model_dir=model_dir, working_size=48)
    assert not segmenter.loaded
    evidence = segmenter.segment(photo(), PromptSet(positives=("red box",), source="prompt"))
    assert segmenter.loaded and evidence.backend == "salient" and not evidence.prompts_used
    assert evidence.heatmap.shape == evidence.labels.shape == (36, 48) and evidence.image.shape == (36, 48, 3)
    assert evidence.heatmap.dtype == np.float32 and 0.0 <= evidence.heatmap.min() <= evidence.heatmap.max() <= 1.0
    assert any("cannot read text" in note for note in evidence.notes)
    again = segmenter.reprompt(evidence, PromptSet())
    assert again.heatmap is evidence.heatmap and not any("cannot read text" in n for n in again.notes)


def test_its_probability_is_what_onnx_runtime_computes_for_the_contracts_input(model_dir, tmp_path) -> None:
    import onnxruntime

    segmenter = get_segmenter("salient", model_dir=model_dir)
    image = photo()
    session = onnxruntime.InferenceSession(str(tmp_path / "isnet-tiny.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"image": prepare_input(image, segmenter.contract)})[0][0, 0]
    assert np.allclose(segmenter.probability(image), expected, atol=1e-6)


def test_input_preparation_resizes_and_normalises_per_channel() -> None:
    contract = CutoutContract((4, 2), (10.0, 20.0, 30.0), (2.0, 4.0, 5.0))
    tensor = prepare_input(np.full((6, 9, 3), (20, 40, 80), np.uint8), contract)
    assert tensor.shape == (1, 3, 2, 4) and tensor.dtype == np.float32
    assert np.allclose(tensor[0, :, 0, 0], [5.0, 5.0, 10.0])
    assert prepare_input(np.zeros((4, 4, 3), np.uint8), CutoutContract((4, 4), (0,) * 3, (1,) * 3,
                                                                       input_dtype="float16")).dtype == np.float16


def test_outputs_become_probabilities() -> None:
    logits = np.array([[[[-40.0, 0.0], [2.0, 40.0]]]])
    plain = CutoutContract((2, 2), (0,) * 3, (1,) * 3)
    assert np.allclose(read_output(np.array([[0.2, 1.5]]), plain), [[0.2, 1.0]])  # clipped
    squashed = read_output(logits, CutoutContract((2, 2), (0,) * 3, (1,) * 3, sigmoid=True))
    assert squashed.shape == (2, 2) and squashed[0, 1] == pytest.approx(0.5) and squashed[1, 1] == pytest.approx(1.0)
    stretched = read_output(np.array([[0.2, 0.4], [0.3, 0.6]]), CutoutContract((2, 2), (0,) * 3, (1,) * 3,
                                                                               stretch=True))
    assert stretched.min() == 0.0 and stretched.max() == pytest.approx(1.0)


def test_foreground_parts_are_regions_and_specks_join_the_background() -> None:
    probability = np.zeros((20, 20), np.float32)
    probability[2:8, 2:8] = 0.9  # a part
    probability[12:18, 12:18] = 0.8  # another
    probability[0, 19] = 0.95  # a one-pixel speck
    parts = foreground_parts(probability)
    assert sorted(np.unique(parts)) == [0, 1, 2] and parts[0, 19] == 0 and parts[5, 5] != parts[15, 15]


def test_contracts_are_read_from_our_json_and_from_the_isnet_tool_layout() -> None:
    ours = parse_contract({"input_size": [320, 320], "mean": 0.5, "std": [1, 2, 3], "sigmoid": True})
    assert ours.input_size == (320, 320) and ours.mean == (0.5,) * 3 and ours.std == (1.0, 2.0, 3.0) and ours.sigmoid
    tool = parse_contract({
        "input": {"name": "input", "size": [1024, 1024], "normalise": "(v - 128) / 256", "dtype": "float32"},
        "output": {"name": "output", "activation": "sigmoid already applied"},
    })
    assert tool == CutoutContract((1024, 1024), (128.0,) * 3, (256.0,) * 3, "input", "output")


@pytest.mark.parametrize("bad", [
    {}, {"input_size": [320], "mean": 0, "std": 1}, {"input_size": [320, 320], "mean": 0, "std": 0},
    {"input_size": [2, 2], "mean": 0, "std": 1}, {"input_size": [64, 64], "mean": "x", "std": 1},
    {"input_size": [64, 64], "mean": 0, "std": 1, "input_dtype": "int8"},
    {"input": {"size": [64, 64], "normalise": "v / 255"}},
])
def test_a_bad_contract_is_one_line_naming_its_source(bad) -> None:
    with pytest.raises(ModelLoadError) as caught:
        parse_contract(bad, "contract.json")
    assert "contract.json" in str(caught.value) or "contract field" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_logits_model_with_dynamic_size_runs_with_a_given_contract(tmp_path) -> None:
    contract = tmp_path / "birefnet.json"
    contract.write_text(json.dumps({"input_size": [24, 16], "mean": [123.675, 116.28, 103.53],
                                    "std": [58.395, 57.12, 57.375], "sigmoid": True}))
    logits = build_tiny_cutout_model(tmp_path / "x.onnx", side=None, sigmoid=False)
    add_cutout_model(tmp_path / "m", "mine", logits, contract)
    evidence = get_segmenter("salient", model_dir=tmp_path / "m").segment(photo(), PromptSet())
    assert 0.0 <= evidence.heatmap.min() and evidence.heatmap.max() <= 1.0 and evidence.heatmap.std() > 0


def test_auto_prefers_neural_then_salient_then_classical(tmp_path) -> None:
    models = tmp_path / "models"
    assert choose_segmenter("auto", models).name == "classical"
    add_cutout_model(models, "u2net-tiny", build_tiny_cutout_model(tmp_path / "u.onnx"))
    assert choose_segmenter("auto", models).name == "salient"
    assert choose_segmenter("salient", models).build().model_name == "u2net-tiny"
    for model_id in DEFAULT_MODEL_IDS:  # what `is_present` looks for: a config and a weights file
        folder = model_folder(models, model_id)
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"0")
    assert choose_segmenter("auto", models).name == "neural"


def test_several_models_the_preferred_one_wins(tmp_path) -> None:
    for name in ("zz-isnet", "isnet-general-use", "u2net"):
        add_cutout_model(tmp_path, name, build_tiny_cutout_model(tmp_path / f"{name}.onnx"))
    assert installed_cutout_models(tmp_path) == ["isnet-general-use", "u2net", "zz-isnet"]


def test_missing_unknown_and_broken_models_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match="no cut-out model in .*models add NAME FILE.onnx"):
        choose_segmenter("salient", tmp_path / "empty")
    with pytest.raises(ModelLoadError, match="name it after its family"):
        add_cutout_model(tmp_path / "m", "mystery", build_tiny_cutout_model(tmp_path / "plain.onnx"))
    broken = tmp_path / "isnet-broken.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(ModelLoadError, match="not a loadable ONNX model"):
        add_cutout_model(tmp_path / "m", "isnet-broken", broken)
    with pytest.raises(ModelLoadError, match="model name"):
        add_cutout_model(tmp_path / "m", "../escape", build_tiny_cutout_model(tmp_path / "isnet-ok.onnx"))
    assert not (tmp_path / "m" / "cutout").exists() or installed_cutout_models(tmp_path / "m") == []


def test_pull_without_network_is_a_typed_one_line_error(tmp_path, monkeypatch) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on: the download is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(PULLABLE, "isnet-general-use", (f"http://127.0.0.1:{port}/isnet.onnx", "isnet"))
    with pytest.raises(ModelNotFoundError, match="could not download isnet-general-use") as caught:
        pull_cutout_model(tmp_path, "isnet-general-use", timeout=2)
    assert "\n" not in str(caught.value)
    with pytest.raises(ModelNotFoundError, match="no public source known"):
        pull_cutout_model(tmp_path, "nope")
    assert installed_cutout_models(tmp_path) == []  # nothing half-written was registered


def test_the_cli_registers_a_model_and_replaces_with_it(tmp_path) -> None:
    models = tmp_path / "models"
    onnx_file = build_tiny_cutout_model(tmp_path / "t.onnx")
    added = run_cli("models", "add", "isnet-tiny", str(onnx_file), "--models", str(models))
    assert added.returncode == 0, added.stderr
    status = run_cli("models", "status", "--models", str(models), "--json")
    assert status.returncode == 0, status.stderr
    rows = {row["name"]: row for row in json.loads(status.stdout)["cutout_models"]}
    assert rows["isnet-tiny"]["present"] and not rows["isnet-general-use"]["present"]
    out = tmp_path / "out"
    result = run_cli("replace", str(SAMPLES / "coffee-cup.jpg"), "--out", str(out), "--models", str(models),
                     "--json", "-", "--format", "mask")
    assert result.returncode == 0, result.stderr
    item = json.loads(result.stdout)["items"][0]
    assert item["status"] == "done" and item["metadata"]["backend"] == "salient"
    assert (out / "coffee-cup.png").is_file()
    missing = run_cli("models", "add", "isnet-x", str(tmp_path / "absent.onnx"), "--models", str(models))
    assert missing.returncode != 0 and "no such file" in missing.stderr and "Traceback" not in missing.stderr


def test_the_service_picks_and_loads_the_cutout_model_once_at_start(model_dir, tmp_path) -> None:
    from service.jobs.startup import build_segmenter
    from service.settings import Settings

    segmenter, notice = build_segmenter(Settings(data_dir=tmp_path / "data", models=model_dir, torch_threads=2))
    assert segmenter.name == "salient" and segmenter.loaded and notice is None and segmenter.threads == 2


def test_a_model_that_keeps_nothing_hands_the_photo_to_the_classical_evidence(tmp_path) -> None:
    from fusion.segmenters.salient import FALLBACK_NOTE

    add_cutout_model(tmp_path / "m", "isnet-blind", build_tiny_cutout_model(tmp_path / "b.onnx", bias=-30.0))
    add_cutout_model(tmp_path / "m", "isnet-all", build_tiny_cutout_model(tmp_path / "a.onnx", bias=30.0))
    blind = get_segmenter("salient", model_dir=tmp_path / "m", model="isnet-blind").segment(photo(), PromptSet())
    assert blind.backend == "salient" and FALLBACK_NOTE in blind.notes
    assert blind.heatmap[30, 40] > blind.heatmap[2, 2]  # the classical evidence finds the red box
    everything = get_segmenter("salient", model_dir=tmp_path / "m", model="isnet-all").segment(photo(), PromptSet())
    assert FALLBACK_NOTE not in everything.notes and everything.heatmap.min() > 0.99
