"""`promptcut replace` end to end on real photos, in a child process, as a seller runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import SAMPLES, run_cli


def test_replace_on_white_writes_framed_jpegs_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("replace", str(SAMPLES), "--out", str(out), "--format", "jpeg", "--size", "600",
                     "--titles", str(SAMPLES / "titles.csv"), "--json", "-", "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["done"] == 4 and summary["failed"] == 0
    item = next(i for i in summary["items"] if i["source"].endswith("coffee-cup.jpg"))
    assert item["metadata"]["backend"] == "classical"
    assert item["metadata"]["title"].startswith("Espresso Cup")
    assert item["metadata"]["prompts"]["noun"] == "cup"
    assert "selection" in item["metadata"] and "confidence" in item["metadata"]["selection"]
    with Image.open(out / "coffee-cup.jpg") as image:
        assert image.size == (600, 600)
        assert image.info.get("icc_profile"), "output must carry an sRGB profile"
        pixels = np.asarray(image.convert("RGB"))
    # White background at the corners, something that is not white in the middle.
    assert pixels[:10, :10].min() > 240
    assert pixels[250:350, 250:350].mean() < 235


def test_mask_format_writes_8bit_alpha_at_input_size(tmp_path: Path) -> None:
    out = tmp_path / "masks"
    result = run_cli("replace", str(SAMPLES / "coffee-cup.jpg"), "--out", str(out), "--format", "mask", "--quiet")
    assert result.returncode == 0, result.stderr
    with Image.open(out / "coffee-cup.png") as mask, Image.open(SAMPLES / "coffee-cup.jpg") as photo:
        assert mask.mode == "L" and mask.size == photo.size
        values = np.asarray(mask)
    assert values.min() == 0 and values.max() == 255
    assert 0.05 < (values > 127).mean() < 0.95


def test_transparent_cutout_and_theme(tmp_path: Path) -> None:
    result = run_cli("replace", str(SAMPLES / "coffee-cup.jpg"), "--out", str(tmp_path / "cut"),
                     "--background", "transparent", "--format", "webp", "--quiet")
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "cut" / "coffee-cup.webp") as image:
        assert image.mode == "RGBA"
        alpha = np.asarray(image)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255
    result = run_cli("replace", str(SAMPLES / "coffee-cup.jpg"), "--out", str(tmp_path / "themed"),
                     "--theme", "winter-holidays", "--size", "400x300", "--quiet")
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "themed" / "coffee-cup.png") as image:
        assert image.size == (400, 300) and image.mode == "RGB"


def test_existing_outputs_are_skipped_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cli("replace", str(SAMPLES / "rocket.jpg"), "--out", str(out), "--quiet", "--json", "-")
    assert json.loads(first.stdout)["done"] == 1
    target = out / "rocket.png"
    target.write_bytes(b"sentinel")
    again = run_cli("replace", str(SAMPLES / "rocket.jpg"), "--out", str(out), "--quiet", "--json", "-")
    assert json.loads(again.stdout)["skipped"] == 1 and target.read_bytes() == b"sentinel"
    forced = run_cli("replace", str(SAMPLES / "rocket.jpg"), "--out", str(out), "--quiet", "--overwrite")
    assert forced.returncode == 0 and target.read_bytes() != b"sentinel"


@pytest.mark.parametrize("kind", ["truncated", "empty", "tiny", "bomb", "text", "transparent"])
def test_bad_file_is_one_line_error_no_partial_output_and_batch_goes_on(
    tmp_path: Path, hostile_files: dict[str, Path], kind: str
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(hostile_files[kind], folder / hostile_files[kind].name)
    shutil.copy(SAMPLES / "rocket.jpg", folder / "rocket.jpg")
    out = tmp_path / "out"
    result = run_cli("replace", str(folder), "--out", str(out), "--quiet", "--json", "-")
    assert result.returncode == 1, "a failed item must make the exit status non-zero"
    assert "Traceback" not in result.stderr
    failures = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert len(failures) == 1 and hostile_files[kind].name in failures[0]
    summary = json.loads(result.stdout)
    assert summary["done"] == 1 and summary["failed"] == 1
    assert "internal error" not in summary["items"][0]["error"] + summary["items"][1]["error"]
    written = sorted(p.name for p in out.rglob("*"))
    assert written == ["rocket.png"], f"no partial or temporary output may remain: {written}"


def test_doubtful_cuts_are_flagged_and_blank_photos_fail_as_no_product(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("coffee-cup.jpg", "rocket.jpg"):
        shutil.copy(SAMPLES / name, folder / name)
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "noise.png")
    Image.new("RGB", (320, 240), "white").save(folder / "blank.png")
    result = run_cli("replace", str(folder), "--out", str(tmp_path / "out"), "--titles", str(SAMPLES / "titles.csv"),
                     "--quiet", "--json", "-")
    assert result.returncode == 1, "the blank photo failed"
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["needs_review"], summary["failed"]) == (3, 2, 1)
    items = {Path(item["source"]).name: item for item in summary["items"]}
    assert items["blank.png"]["status"] == "failed" and "no product found" in items["blank.png"]["error"]
    assert items["coffee-cup.jpg"]["needs_review"] is False and items["coffee-cup.jpg"]["review_reasons"] == []
    assert "uniform_photo" in items["noise.png"]["review_reasons"] and items["noise.png"]["needs_review"] is True
    assert "weak_outline" in items["rocket.jpg"]["review_reasons"]
    for item in (items["noise.png"], items["rocket.jpg"], items["coffee-cup.jpg"]):
        assert item["metadata"]["needs_review"] is item["needs_review"]
        assert item["metadata"]["review_reasons"] == item["review_reasons"]
        assert len(item["review_messages"]) == len(item["review_reasons"])
    flagged = [line for line in result.stderr.splitlines() if line.startswith("needs review")]
    assert len(flagged) == 2 and any("rocket.jpg" in line and "[weak_outline" in line for line in flagged)
    assert "3 done (2 need review), 0 skipped (already there), 1 failed" in result.stderr
    # a themed output is not judged by the plain-background rule
    themed = run_cli("replace", str(folder / "rocket.jpg"), "--out", str(tmp_path / "themed"), "--theme", "spring",
                     "--quiet", "--json", "-")
    assert json.loads(themed.stdout)["items"][0]["review_reasons"] == ["weak_outline"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--theme", "winter-holidays", "--background", "white"], "either a theme or a background"),
        (["--theme", "no-such-theme"], "winter-holidays"),
        (["--format", "gif"], "png"),
        (["--format", "jpeg", "--background", "transparent"], "transparency"),
        (["--size", "huge"], "WIDTHxHEIGHT"),
        (["--segmenter", "magic"], "classical"),
        (["--background", "not-a-colour"], "not-a-colour"),
    ],
)
def test_bad_options_fail_before_any_work(tmp_path: Path, args: list[str], words: str) -> None:
    out = tmp_path / "out"
    result = run_cli("replace", str(SAMPLES / "rocket.jpg"), "--out", str(out), *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0]
    assert not out.exists()


def test_missing_input_is_clear(tmp_path: Path) -> None:
    result = run_cli("replace", str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "nope.jpg" in result.stderr and "Traceback" not in result.stderr
