"""`promptcut replace --keep/--remove/--box`: one photo's automatic cut, corrected by clicks, in a child process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import SAMPLES, run_cli


def _two_objects(path: Path) -> Path:
    """A 240×160 grey-backdrop photo with two products: a red block (left) and a blue block (right)."""
    rng = np.random.default_rng(0)
    pixels = np.full((160, 240, 3), 200, np.int16) + rng.integers(-4, 5, (160, 240, 3))
    pixels[40:120, 25:95] = (190, 30, 30)
    pixels[40:120, 145:215] = (30, 40, 180)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


def _alpha(out: Path, *args: str) -> tuple[np.ndarray, dict]:
    result = run_cli("replace", *args, "--out", str(out), "--format", "png", "--background", "transparent",
                     "--no-crop", "--quiet", "--json", "-")
    assert result.returncode == 0, result.stderr
    with Image.open(out / "photo.png") as image:
        return np.asarray(image)[..., 3], json.loads(result.stdout)


def test_remove_click_takes_the_second_object_out_of_the_cut(tmp_path: Path) -> None:
    photo = str(_two_objects(tmp_path / "photo.png"))
    automatic, _ = _alpha(tmp_path / "auto", photo)
    assert automatic[80, 60] > 200 and automatic[80, 180] > 200, "the automatic cut keeps both blocks"
    corrected, summary = _alpha(tmp_path / "fixed", photo, "--remove", "180,80")
    assert corrected[80, 60] > 200, "the block not clicked stays"
    assert corrected[50:110, 155:205].max() < 30, "the clicked block is gone"
    item = summary["items"][0]
    assert item["metadata"]["corrections"]["points"] == [{"x": 180.0, "y": 80.0, "keep": False}]
    assert "corrected by 1 click" in item["metadata"]["selection"]["reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--remove", "12"], "--remove takes X,Y"),
        (["--keep", "a,b"], "--keep takes X,Y"),
        (["--keep", "nan,3"], "--keep takes X,Y"),
        (["--box", "1,2,3"], "--box takes LEFT,TOP,RIGHT,BOTTOM"),
        (["--remove", "5000,10"], "outside the 240×160 photo"),
        (["--box", "100,10,50,90"], "box (100, 10, 50, 90)"),
    ],
)
def test_bad_coordinates_are_a_one_line_error(tmp_path: Path, args: list[str], message: str) -> None:
    photo = str(_two_objects(tmp_path / "photo.png"))
    result = run_cli("replace", photo, "--out", str(tmp_path / "out"), "--quiet", *args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "photo.png").exists()


def test_clicks_need_exactly_one_photo(tmp_path: Path) -> None:
    result = run_cli("replace", str(SAMPLES), "--out", str(tmp_path / "out"), "--remove", "10,10", "--quiet")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "apply to one photo, but 4 inputs were given" in result.stderr
    assert not any((tmp_path / "out").glob("*.png"))
