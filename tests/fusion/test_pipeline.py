"""The stages wired together: full-resolution alpha from a working-resolution segmentation, input alpha kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fusion.compose import Framing, Solid
from fusion.evaluation.metrics import iou
from fusion.pipeline import cut, cut_from_own_alpha, has_own_cutout
from fusion.render import OutputOptions, alpha_to_mask, render
from fusion.segmenters import get_segmenter
from prompting import PromptSet
from tests.helpers import run_cli


def _product_on_backdrop(height: int = 900, width: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    """A textured red-orange box on a light grey gradient with noise; returns (image, truth)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:height, :width]
    image = np.empty((height, width, 3), np.float32)
    image[...] = (235 - 25 * yy / height)[..., None]
    truth = (np.abs(xx - width / 2) < width * 0.18) & (np.abs(yy - height * 0.55) < height * 0.3)
    ripple = 20 * np.sin(xx[truth] / 9)
    image[truth] = np.stack([np.full_like(ripple, 190), 70 + ripple, np.full_like(ripple, 40)], axis=1)
    image += rng.normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), truth


def test_cut_gives_full_resolution_alpha_from_working_resolution() -> None:
    image, truth = _product_on_backdrop()
    cutout = cut(image, PromptSet(), get_segmenter("classical"))
    assert cutout.alpha.shape == truth.shape and cutout.alpha.dtype == np.float32
    assert 0.0 <= cutout.alpha.min() and cutout.alpha.max() <= 1.0
    assert max(cutout.mask.binary.shape) < max(truth.shape), "segmentation must run below full resolution"
    assert iou(cutout.alpha, truth) > 0.95
    assert {"segment", "select", "feather", "decontaminate"} <= set(cutout.timings)
    assert cutout.metadata()["backend"] == "classical"


def test_own_transparency_is_used_as_is() -> None:
    image, truth = _product_on_backdrop(200, 300)
    alpha = np.where(truth, 255, 0).astype(np.uint8)
    assert has_own_cutout(alpha) and not has_own_cutout(np.full_like(alpha, 255)) and not has_own_cutout(None)
    cutout = cut_from_own_alpha(image, alpha)
    assert np.array_equal(alpha_to_mask(cutout.alpha), alpha)
    png = render(cutout, Solid((255, 255, 255)), Framing(), OutputOptions("mask"))
    assert png.startswith(b"\x89PNG")


def test_rgba_input_keeps_its_alpha_through_the_cli(tmp_path: Path) -> None:
    image, truth = _product_on_backdrop(240, 320)
    rgba = np.dstack([image, np.where(truth, 255, 0).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    result = run_cli("replace", str(tmp_path / "cut.png"), "--out", str(tmp_path / "out"), "--format", "mask",
                     "--quiet", "--json", "-")
    assert result.returncode == 0, result.stderr
    assert '"backend": "input-alpha"' in result.stdout
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "cut.png")), rgba[..., 3])
