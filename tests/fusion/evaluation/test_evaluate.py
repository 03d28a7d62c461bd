"""`promptcut eval` and its library (fusion/evaluation/: evaluate.py, composites.py, baselines.py).

Scores are checked against numbers worked out by hand: the fixture's images are built so that a fake
"ours" (alpha = red channel) and a fake baseline (everything is foreground) score exactly known values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fusion.errors import DatasetError, InvalidOptionError
from fusion.evaluation import evaluate as ev
from service.cli import eval as cli_eval
from tests.helpers import build_tiny_cutout_model, require_modules, run_cli

SIZE = 20  # fixture images are SIZE×SIZE


# --------------------------------------------------------------------------- fakes


@dataclass(frozen=True)
class RedChannel:
    """Fake ours: alpha = red channel / 255. With prompt_aware, the prompt names the channel to keep."""

    name: str = "classical"
    role: str = "ours"
    prompt_aware: bool = False

    def predict(self, image, prompts):
        channel = 0
        if self.prompt_aware and prompts.positives:
            channel = {"red": 0, "green": 1, "blue": 2}[prompts.positives[0]]
        return image[..., channel].astype(np.float32) / 255.0

    def reads_prompts(self, image, prompts):
        return self.prompt_aware


@dataclass(frozen=True)
class Everything:
    """Fake baseline: the whole frame is foreground."""

    name: str = "everything"
    role: str = "baseline"

    def predict(self, image, prompts):
        return np.ones(image.shape[:2], bool)

    def reads_prompts(self, image, prompts):
        return False


# --------------------------------------------------------------------------- fixture


def box(top: int, left: int, height: int, width: int, shape=(SIZE, SIZE)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top:top + height, left:left + width] = True
    return mask


def rgb(red: np.ndarray, green: np.ndarray | None = None, blue: np.ndarray | None = None) -> np.ndarray:
    zero = np.zeros_like(red, dtype=np.uint8)
    return np.dstack([red.astype(np.uint8), zero if green is None else green.astype(np.uint8),
                      zero if blue is None else blue.astype(np.uint8)])


def save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)  # PNG: lossless, so the fake's output is exact


def write_pair(root: Path, name: str, image: np.ndarray, mask: np.ndarray) -> None:
    save(root / "images" / f"{name}.png", image)
    save(root / "masks" / f"{name}.png", np.where(mask, 255, 0).astype(np.uint8))


SQUARE = box(5, 5, 10, 10)  # 100 px


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    """Four pairs over two sources and a prompts.csv with two prompts on one image.

    With RedChannel as ours (per image: IoU, accuracy, relaxed F1, MAE):
      ccp_a  red square = truth                          1,     1,    1, 0
      ccp_b  no red, truth = square                      0,     0.75, 0, 0.25
      sod_c  red square, truth 2 px wider (10×12)        5/6,   0.95, 1, 0.05   (edges 2 px apart ≤ 3)
      sod_d  red square + a 0.2 ring (44 px), truth = square   1, 1, 1, 44·0.2/400 = 0.022
    With Everything (truth areas 100, 100, 120, 100 of 400): IoU = accuracy = area/400, F1 0, MAE 1 - area/400.
    prompts: coco_x has a red square (36 px) and a blue square (64 px); "red"/"blue" name each.
    """
    root = tmp_path / "data"
    write_pair(root, "ccp_a", rgb(SQUARE * 255), SQUARE)
    write_pair(root, "ccp_b", rgb(np.zeros((SIZE, SIZE))), SQUARE)
    write_pair(root, "sod_c", rgb(SQUARE * 255), box(5, 5, 10, 12))
    ring = box(4, 4, 12, 12) & ~SQUARE
    write_pair(root, "sod_d", rgb(SQUARE * 255 + ring * 51), SQUARE)
    red, blue = box(2, 2, 6, 6), box(10, 10, 8, 8)
    save(root / "prompt_images" / "coco_x.png", rgb(red * 255, blue=blue * 255))
    save(root / "prompt_masks" / "coco_x__red.png", np.where(red, 255, 0).astype(np.uint8))
    save(root / "prompt_masks" / "coco_x__blue.png", np.where(blue, 255, 0).astype(np.uint8))
    (root / "prompts.csv").write_text(
        "name,prompt,mask\ncoco_x,red,prompt_masks/coco_x__red.png\ncoco_x,blue,prompt_masks/coco_x__blue.png\n"
    )
    return root


def summary(report: ev.EvalReport, kind: str, source: str, method: str) -> ev.SourceSummary:
    (found,) = [s for s in report.summaries if (s.kind, s.source, s.method) == (kind, source, method)]
    return found


def metrics(s) -> tuple[float, float, float, float]:
    return s.iou, s.accuracy, s.boundary_f1, s.mae


# --------------------------------------------------------------------------- library


def test_dataset_listing(dataset_dir: Path):
    data = ev.load_dataset(dataset_dir)
    assert [p.name for p in data.pairs] == ["ccp_a", "ccp_b", "sod_c", "sod_d"]
    assert [p.source for p in data.pairs] == ["ccp", "ccp", "sod", "sod"]
    assert [(p.name, p.prompt) for p in data.prompted] == [("coco_x", "red"), ("coco_x", "blue")]
    assert data.problems == ()


def test_per_image_per_source_and_overall_scores(dataset_dir: Path):
    report = ev.evaluate(ev.load_dataset(dataset_dir), [RedChannel(), Everything()])
    by_image = {(s.name, s.method): s for s in report.scores}
    assert metrics(by_image["ccp_a", "classical"]) == pytest.approx((1, 1, 1, 0))
    assert metrics(by_image["ccp_b", "classical"]) == pytest.approx((0, 0.75, 0, 0.25))
    assert metrics(by_image["sod_c", "classical"]) == pytest.approx((5 / 6, 0.95, 1, 0.05))
    assert metrics(by_image["sod_d", "classical"]) == pytest.approx((1, 1, 1, 0.022), abs=1e-6)
    assert metrics(by_image["sod_c", "everything"]) == pytest.approx((0.3, 0.3, 0, 0.7))

    assert metrics(summary(report, "pair", "ccp", "classical")) == pytest.approx((0.5, 0.875, 0.5, 0.125))
    assert metrics(summary(report, "pair", "sod", "classical")) == pytest.approx(
        ((5 / 6 + 1) / 2, 0.975, 1, (0.05 + 0.022) / 2), abs=1e-6)
    overall = summary(report, "pair", ev.ALL, "classical")
    assert overall.count == 4
    assert metrics(overall) == pytest.approx(((1 + 0 + 5 / 6 + 1) / 4, 0.925, 0.75, 0.322 / 4), abs=1e-6)
    assert metrics(summary(report, "pair", ev.ALL, "everything")) == pytest.approx(
        (0.2625, 0.2625, 0, 0.7375))
    assert [t.method for t in report.timings] == ["classical", "everything"]
    assert report.speed_ratio("everything") is not None and report.speed_ratio("everything") > 0


def test_prompt_blind_backend_skips_prompted_triples_and_says_why(dataset_dir: Path):
    report = ev.evaluate(ev.load_dataset(dataset_dir), [RedChannel()])
    assert report.skipped_prompted == 2
    assert not [s for s in report.scores if s.kind == "prompt"]
    (note,) = [n for n in report.notes if "prompts.csv" in n]
    assert "2 prompted triples skipped" in note and "classical backend does not understand prompts" in note


def test_prompt_reading_backend_is_scored_per_prompt(dataset_dir: Path):
    report = ev.evaluate(ev.load_dataset(dataset_dir), [RedChannel(prompt_aware=True), Everything()])
    prompted = {(s.prompt, s.method): s for s in report.scores if s.kind == "prompt"}
    assert metrics(prompted["red", "classical"]) == pytest.approx((1, 1, 1, 0))
    assert metrics(prompted["blue", "classical"]) == pytest.approx((1, 1, 1, 0))
    assert metrics(prompted["red", "everything"]) == pytest.approx((0.09, 0.09, 0, 0.91))
    assert summary(report, "prompt", "coco", "classical").count == 2
    assert report.skipped_prompted == 0


def test_studio_composites_are_scored_as_their_own_sources(dataset_dir: Path):
    report = ev.evaluate(ev.load_dataset(dataset_dir), [Everything()], ev.EvalOptions(studio=True))
    studio = [s for s in report.scores if s.kind == "studio"]
    assert sorted(s.source for s in studio) == ["studio-ccp", "studio-ccp", "studio-sod", "studio-sod"]
    assert summary(report, "studio", ev.ALL, "everything").count == 4
    # The backdrop is visible around the object, so "everything" is no longer right about most pixels.
    assert all(s.iou < 0.8 for s in studio)


def test_shadow_and_pale_composites_are_kinds_of_their_own(dataset_dir: Path):
    report = ev.evaluate(ev.load_dataset(dataset_dir), [Everything()], ev.EvalOptions(studio=True))
    for kind in ("studio", "shadow", "pale"):
        rows = [s for s in report.scores if s.kind == kind]
        assert sorted(s.source for s in rows) == [f"{kind}-ccp"] * 2 + [f"{kind}-sod"] * 2
        assert summary(report, kind, ev.ALL, "everything").count == 4
    assert [s.kind for s in report.summaries if s.source == ev.ALL] == ["pair", "studio", "shadow", "pale"]


def test_limit_takes_sources_round_robin(dataset_dir: Path):
    report = ev.evaluate(ev.load_dataset(dataset_dir), [RedChannel()], ev.EvalOptions(limit=2))
    assert [s.name for s in report.scores] == ["ccp_a", "sod_c"]


def test_bad_items_are_reported_one_by_one(dataset_dir: Path):
    save(dataset_dir / "images" / "ccp_nomask.png", rgb(SQUARE * 255))
    save(dataset_dir / "images" / "sod_small.png", rgb(SQUARE * 255))
    save(dataset_dir / "masks" / "sod_small.png", np.zeros((10, 10), np.uint8))
    (dataset_dir / "images" / "sod_broken.png").write_bytes(b"not a png")
    save(dataset_dir / "masks" / "sod_broken.png", np.zeros((SIZE, SIZE), np.uint8))
    with (dataset_dir / "prompts.csv").open("a") as handle:
        handle.write("coco_x,green,prompt_masks/coco_x__green.png\n")
    report = ev.evaluate(ev.load_dataset(dataset_dir), [RedChannel()])
    problems = {p.item: p.message for p in report.problems}
    assert problems["ccp_nomask"] == "no mask masks/ccp_nomask.png for images/ccp_nomask.png"
    assert problems["sod_small"] == "mask 10×10 differs from image 20×20"
    assert "sod_broken" in problems
    assert problems["coco_x:green"] == "no mask prompt_masks/coco_x__green.png"
    assert summary(report, "pair", ev.ALL, "classical").count == 4  # the good ones still count


def test_bad_folders_raise_one_line_dataset_errors(tmp_path: Path):
    with pytest.raises(DatasetError, match="is not a folder"):
        ev.load_dataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no images/ folder"):
        ev.load_dataset(tmp_path)
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError, match="no .jpg/.png images"):
        ev.load_dataset(tmp_path)
    (tmp_path / "prompts.csv").write_text("file,text\na,b\n")
    with pytest.raises(DatasetError, match="lacks column"):
        ev.load_dataset(tmp_path)


def test_worker_processes_give_the_same_scores(dataset_dir: Path):
    data = ev.load_dataset(dataset_dir)
    one = ev.evaluate(data, [RedChannel(), Everything()])
    two = ev.evaluate(data, [RedChannel(), Everything()], ev.EvalOptions(workers=2))
    strip = lambda r: [(s.name, s.method, s.iou, s.accuracy, s.boundary_f1, s.mae) for s in r.scores]  # noqa: E731
    assert strip(two) == strip(one)


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def fake_methods(monkeypatch):
    """The CLI builds its methods through fusion.evaluation.evaluate.build_methods; swap in the fakes (in the CLI
    module too, which imports the name)."""

    def build(segmenter="classical", baselines=(), feather_options=None):
        return (RedChannel(), *(Everything() for _ in baselines))

    monkeypatch.setattr(ev, "build_methods", build)
    monkeypatch.setattr(cli_eval, "build_methods", build)


def test_cli_end_to_end_with_json_file(dataset_dir: Path, tmp_path: Path, fake_methods):
    from service.cli import app

    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", str(dataset_dir), "--baseline", "everything", "--quiet",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "ccp" in result.stdout and "sod" in result.stdout
    assert "2 prompted triples skipped" in result.stdout
    assert "time ratio classical / everything" in result.stdout
    report = json.loads(out.read_text())
    assert report["methods"] == ["classical", "everything"]
    rows = {(r["name"], r["method"]): r for r in report["images"]}
    assert len(rows) == 8
    assert rows["sod_c", "classical"]["iou"] == pytest.approx(5 / 6, abs=1e-4)
    ccp = [s for s in report["summaries"] if (s["kind"], s["source"], s["method"]) == ("pair", "ccp", "classical")]
    assert ccp[0]["iou"] == pytest.approx(0.5) and ccp[0]["mae"] == pytest.approx(0.125)
    assert report["skipped_prompted"] == 2
    assert report["speed_ratio"]["everything"] > 0


def test_cli_json_to_stdout_keeps_stdout_clean(dataset_dir: Path, fake_methods):
    from service.cli import app

    result = CliRunner().invoke(app, ["eval", str(dataset_dir), "--quiet", "--json", "-"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["images"]) == 4
    assert "prompted triples skipped" in result.stderr  # the table and notes went to stderr


def test_cli_reports_bad_items_and_exits_1(dataset_dir: Path, fake_methods):
    from service.cli import app

    save(dataset_dir / "images" / "ccp_nomask.png", rgb(SQUARE * 255))
    result = CliRunner().invoke(app, ["eval", str(dataset_dir), "--quiet"])
    assert result.exit_code == 1
    assert "ccp_nomask: no mask masks/ccp_nomask.png" in result.stdout


def test_cli_bad_folder_is_a_one_line_error(tmp_path: Path):
    result = run_cli("eval", str(tmp_path), timeout=60)
    assert result.returncode == 2
    expected = f"error: {tmp_path} has no images/ folder (expected images/NAME.jpg with masks/NAME.png)"
    assert result.stderr.strip() == expected
    assert "Traceback" not in result.stderr


def test_cli_unknown_baseline_lists_the_valid_ones(dataset_dir: Path):
    result = run_cli("eval", str(dataset_dir), "--baseline", "magic", timeout=60)
    assert result.returncode == 2
    assert "unknown baseline 'magic'" in result.stderr and "grabcut-rect" in result.stderr


def test_cli_real_classical_pipeline_and_grabcut(tmp_path: Path):
    """The real path end to end: classical segmenter → select → feather, GrabCut beside it."""
    root = tmp_path / "real"
    big = box(20, 24, 56, 48, (96, 96))
    image = np.full((96, 96, 3), 235, np.uint8)
    image[big] = (40, 90, 160)
    write_pair(root, "ccp_one", image, big)
    save(root / "prompt_images" / "coco_y.png", image)
    save(root / "prompt_masks" / "coco_y__box.png", np.where(big, 255, 0).astype(np.uint8))
    (root / "prompts.csv").write_text("name,prompt,mask\ncoco_y,box,prompt_masks/coco_y__box.png\n")
    result = run_cli("eval", str(root), "--baseline", "grabcut-rect", "--quiet", "--json", "-", timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [r["method"] for r in report["images"]] == ["classical", "grabcut-rect"]
    assert report["skipped_prompted"] == 1
    assert "classical backend does not understand prompts" in result.stderr
    assert all(r["iou"] > 0.8 for r in report["images"])  # an easy photo: both must get it


# --------------------------------------------------------------------------- studio + baseline


def photo_with_object() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    mask = np.zeros((120, 90), bool)
    yy, xx = np.mgrid[:120, :90]
    mask[((yy - 60) / 40) ** 2 + ((xx - 45) / 25) ** 2 <= 1] = True
    return image, mask


def test_studio_composite_is_deterministic_per_name():
    from fusion.evaluation.composites import studio_composite

    image, mask = photo_with_object()
    a, truth_a = studio_composite(image, mask, "ccp_0001")
    b, truth_b = studio_composite(image, mask, "ccp_0001")
    assert a.dtype == np.uint8 and a.ndim == 3 and truth_a.dtype == bool
    assert a.shape[:2] == truth_a.shape
    assert np.array_equal(a, b) and np.array_equal(truth_a, truth_b)
    others = [studio_composite(image, mask, f"sod_{i}")[0] for i in range(4)]
    assert any(o.shape != a.shape or not np.array_equal(o, a) for o in others)


def test_studio_composite_shows_backdrop_around_the_object():
    from fusion.evaluation.composites import studio_composite

    image, mask = photo_with_object()
    for name in ("ccp_0001", "sod_2", "x_3", "y_4"):
        out, truth = studio_composite(image, mask, name)
        assert abs(int(truth.sum()) - int(mask.sum())) <= 0.02 * mask.sum()  # the object, not rescaled much
        frame = np.concatenate([truth[0], truth[-1], truth[:, 0], truth[:, -1]])
        assert not frame.any()
        # backdrop pixels are plain: far from the object, neighbouring pixels barely differ
        corner = out[:6, :6].astype(int)
        assert np.abs(np.diff(corner, axis=1)).mean() < 8


def test_studio_recentres_an_object_cut_by_the_frame():
    from fusion.evaluation.composites import studio_composite

    image, _ = photo_with_object()
    mask = np.zeros(image.shape[:2], bool)
    mask[60:, 30:60] = True  # runs off the bottom edge
    _, truth = studio_composite(image, mask, "ccp_0001")
    assert not truth[-1].any() and truth.sum() > 0


def test_grabcut_rect_finds_an_easy_object():
    from fusion.evaluation.baselines import get_baseline
    from fusion.evaluation.metrics import iou

    image, mask = np.full((80, 80, 3), 240, np.uint8), box(20, 25, 40, 30, (80, 80))
    image[mask] = (30, 60, 200)
    result = get_baseline("grabcut-rect")(image)
    assert result.shape == mask.shape and result.dtype == bool
    assert iou(result, mask) > 0.95


def test_unknown_baseline_lists_names():
    from fusion.evaluation.baselines import get_baseline

    with pytest.raises(InvalidOptionError, match="grabcut-rect"):
        get_baseline("nope")


# --- a model backend beside its model alone and the classical pipeline ----------------------------------------


@pytest.fixture
def cutout_model_dir(tmp_path: Path) -> Path:
    require_modules("onnx", "onnxruntime")
    from fusion.segmenters.cutout_models import add_cutout_model

    add_cutout_model(tmp_path / "models", "isnet-tiny", build_tiny_cutout_model(tmp_path / "isnet-tiny.onnx"))
    return tmp_path / "models"


def test_raw_model_and_classical_run_beside_the_salient_pipeline(dataset_dir: Path, cutout_model_dir: Path):
    from fusion.segmenters import choose_segmenter

    methods = ev.build_methods(choose_segmenter("salient", cutout_model_dir), ["raw-model", "classical"])
    assert [(m.name, m.role) for m in methods] == [("salient", "ours"), ("raw-model", "baseline"),
                                                   ("classical", "baseline")]
    report = ev.evaluate(ev.load_dataset(dataset_dir), methods, ev.EvalOptions(workers=1))
    scored = {s.method for s in report.scores}
    assert scored == {"salient", "raw-model", "classical"}
    raw = methods[1].predict(np.full((30, 40, 3), 128, np.uint8), None)
    assert raw.shape == (30, 40) and raw.dtype == np.float32 and 0.0 <= raw.min() <= raw.max() <= 1.0


def test_comparisons_that_make_no_sense_are_refused_before_any_work(cutout_model_dir: Path):
    with pytest.raises(InvalidOptionError, match="raw-model compares the salient backend"):
        ev.build_methods("classical", ["raw-model"])
    with pytest.raises(InvalidOptionError, match="needs another --segmenter"):
        ev.build_methods("classical", ["classical"])


def test_cli_clicks_reports_clicks_to_fix_per_backend(tmp_path: Path):
    """--clicks runs the simulated user on the real pipeline and reports NoC and IoU after 1/3/5 clicks."""
    root = tmp_path / "clicks"
    image = np.full((96, 128, 3), 235, np.uint8)
    image[20:76, 16:60] = (200, 40, 40)
    image[30:66, 76:110] = (40, 40, 200)  # a second object the truth leaves out
    write_pair(root, "ccp_two", image, box(20, 16, 56, 44, (96, 128)))
    result = run_cli("eval", str(root), "--clicks", "5", "--quiet", "--json", "-", timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    overall = next(c for c in report["click_summaries"] if c["source"] == "all")
    assert overall["method"] == "classical" and overall["cap"] == 5 and overall["noc90"] <= 2
    assert overall["iou_after"]["1"] > report["images"][0]["iou"]
    assert "NoC@85" in result.stderr and report["median_click_seconds"] > 0
    refused = run_cli("eval", str(root), "--clicks", "-1", timeout=60)
    assert refused.returncode != 0 and "--clicks" in refused.stderr
