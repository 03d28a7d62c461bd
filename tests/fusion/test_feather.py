"""Guided filter and edge feathering: values checked against references, not just shapes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fusion.errors import InvalidOptionError
from fusion.feather import FeatherOptions, feather, guided_filter, otsu_threshold, sharpen
from fusion.types import Mask


def _mask(prob: np.ndarray) -> Mask:
    p = prob.astype(np.float32)
    return Mask(probability=p, binary=p >= 0.5, regions=(), tie_broken=False, confidence=1.0, reason="test")


def _reference_guided(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Slow, literal He et al.: per-window least squares (Σ + εU)a = cov(I, p), b = p̄ − a·Ī, then
    output_i = mean over windows covering i of (a_k · I_i + b_k). Borders mirrored (reflect-101)."""
    g = guide.astype(np.float64)
    g = g[..., None] if g.ndim == 2 else g
    h, w, c = g.shape
    gp = np.pad(g, ((r, r), (r, r), (0, 0)), mode="reflect")
    pp = np.pad(src.astype(np.float64), r, mode="reflect")
    a = np.zeros((h, w, c))
    b = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            win_i = gp[y:y + 2 * r + 1, x:x + 2 * r + 1].reshape(-1, c)
            win_p = pp[y:y + 2 * r + 1, x:x + 2 * r + 1].reshape(-1)
            mean_i, mean_p = win_i.mean(0), win_p.mean()
            sigma = (win_i - mean_i).T @ (win_i - mean_i) / len(win_p)
            cov = (win_i - mean_i).T @ (win_p - mean_p) / len(win_p)
            a[y, x] = np.linalg.solve(sigma + eps * np.eye(c), cov)
            b[y, x] = mean_p - a[y, x] @ mean_i
    ap = np.pad(a, ((r, r), (r, r), (0, 0)), mode="reflect")
    bp = np.pad(b, r, mode="reflect")
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            mean_a = ap[y:y + 2 * r + 1, x:x + 2 * r + 1].reshape(-1, c).mean(0)
            out[y, x] = mean_a @ g[y, x] + bp[y:y + 2 * r + 1, x:x + 2 * r + 1].mean()
    return out


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("radius, eps", [(1, 1e-2), (2, 1e-3), (3, 0.1)])
def test_guided_filter_equals_brute_force_reference(channels: int, radius: int, eps: float) -> None:
    rng = np.random.default_rng(radius * 10 + channels)
    guide = rng.random((13, 11, channels) if channels == 3 else (13, 11)).astype(np.float32)
    src = rng.random((13, 11)).astype(np.float32)
    ours = guided_filter(guide, src, radius, eps)
    assert ours.dtype == np.float32 and ours.shape == (13, 11)
    np.testing.assert_allclose(ours, _reference_guided(guide, src, radius, eps), atol=2e-4)


def test_guided_filter_uint8_guide_is_scaled_and_radius_zero_is_identity() -> None:
    rng = np.random.default_rng(1)
    guide = rng.integers(0, 256, (9, 8, 3), dtype=np.uint8)
    src = rng.random((9, 8)).astype(np.float32)
    np.testing.assert_allclose(guided_filter(guide, src, 2, 1e-3),
                               guided_filter(guide.astype(np.float32) / 255, src, 2, 1e-3), atol=1e-5)
    np.testing.assert_allclose(guided_filter(guide, src, 0, 1e-3), src, atol=1e-6)


def test_guided_filter_keeps_step_edge_and_smooths_flat_noise() -> None:
    rng = np.random.default_rng(0)
    guide = np.full((64, 64), 0.2, np.float32)
    guide[:, 32:] = 0.8
    step = (guide > 0.5).astype(np.float32)
    noisy = step + rng.normal(0, 0.1, step.shape).astype(np.float32)
    out = guided_filter(guide, noisy, 4, 1e-3)
    # The edge stays where the guide's edge is: between columns 31 and 32 on every row.
    assert (out[:, 31] < 0.5).all() and (out[:, 32] > 0.5).all()
    # Right at the edge the error is small (a box blur of the same radius would give ~0.4 there)...
    assert np.abs(out[:, 30:34] - step[:, 30:34]).mean() < 0.06
    blurred = cv2.blur(noisy, (9, 9), borderType=cv2.BORDER_REFLECT_101)
    assert np.abs(blurred[:, 30:34] - step[:, 30:34]).mean() > 0.2
    # ...while flat areas are denoised: residual noise well below the input's 0.1.
    assert (out[:, 4:26] - step[:, 4:26]).std() < 0.03
    assert (out[:, 38:60] - step[:, 38:60]).std() < 0.03


def test_guided_filter_rejects_bad_arguments() -> None:
    g = np.zeros((8, 8), np.float32)
    with pytest.raises(InvalidOptionError, match="radius"):
        guided_filter(g, g, -1, 1e-3)
    with pytest.raises(InvalidOptionError, match="eps"):
        guided_filter(g, g, 2, 0.0)
    with pytest.raises(InvalidOptionError, match="same height and width"):
        guided_filter(g, np.zeros((8, 9), np.float32), 2, 1e-3)
    with pytest.raises(InvalidOptionError, match="guide"):
        guided_filter(np.zeros((8, 8, 2), np.float32), g, 2, 1e-3)


def _disc_scene(size: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured red product disc on a light background (H×W×3 uint8) and its true mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    inside = (yy - size * 0.5) ** 2 + (xx - size * 0.45) ** 2 <= (size * 0.3) ** 2
    img = np.where(inside[..., None], np.array([170, 50, 40]), np.array([225, 228, 230])).astype(np.int16)
    # A dark ring in the background a few px outside the product: a strong photo edge near the contour
    # that full-image filtering would turn into partial alpha.
    dist = np.sqrt((yy - size * 0.5) ** 2 + (xx - size * 0.45) ** 2) - size * 0.3
    img[(dist > 7) & (dist < 11)] = (60, 60, 70)
    img += rng.integers(-6, 7, img.shape, dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8), inside


def test_feather_is_binary_outside_the_band_and_fractional_only_inside() -> None:
    img, inside = _disc_scene()
    # A working mask at half resolution, slightly off (dilated), as a segmenter would give.
    low = cv2.resize(inside.astype(np.uint8), (128, 128), interpolation=cv2.INTER_NEAREST)
    low = cv2.dilate(low, np.ones((3, 3), np.uint8)).astype(np.float32)
    options = FeatherOptions(band=4, radius=12)
    alpha = feather(img, _mask(low), options)
    assert alpha.dtype == np.float32 and alpha.shape == (256, 256)
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    binary = cv2.resize(low, (256, 256), interpolation=cv2.INTER_LINEAR) >= 0.5
    # Chebyshev distance to the other class (square structuring element, as documented).
    kernel = np.ones((9, 9), np.uint8)
    near_edge = cv2.dilate(binary.astype(np.uint8), kernel) != cv2.erode(binary.astype(np.uint8), kernel)
    far = ~near_edge
    assert far.sum() > 0.8 * far.size
    np.testing.assert_array_equal(alpha[far], binary[far].astype(np.float32))
    fractional = (alpha > 0) & (alpha < 1)
    assert fractional.any() and not (fractional & far).any()
    # And the guided result is closer to the truth than the working mask it started from.
    assert np.abs(alpha - inside).mean() < 0.5 * np.abs(binary.astype(np.float32) - inside).mean()


def test_band_caps_the_soft_zone_even_when_the_photo_has_no_edge_to_follow() -> None:
    # A flat photo: the guided filter degenerates to a box blur of radius 12 around the mask's contour;
    # only pixels within band = 3 px of the contour may be fractional.
    img = np.full((96, 96, 3), 128, np.uint8)
    prob = np.zeros((96, 96), np.float32)
    prob[:, 48:] = 1
    alpha = feather(img, _mask(prob), FeatherOptions(band=3, radius=12))
    row = alpha[48]
    assert (row[:45] == 0).all() and (row[51:] == 1).all()
    assert 0 < row[46] < row[47] < 0.5 < row[48] < row[49] < 1


def test_feather_upsampling_follows_the_photo_edge_not_the_mask_grid() -> None:
    """64×64 mask → 512×512 photo whose edge lies at a sub-cell position (x = 202.5: cell 25.3)."""
    rng = np.random.default_rng(3)
    size, edge = 512, 203  # columns ≥ 203 are product; the boundary is at x = 202.5 (pixel centres)
    img = np.full((size, size, 3), 40, np.int16)
    img[:, edge:] = (200, 190, 150)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    truth = np.zeros((size, size), np.float32)
    truth[:, edge:] = 1
    low = (cv2.resize(truth, (64, 64), interpolation=cv2.INTER_AREA) >= 0.5).astype(np.float32)
    alpha = feather(img, _mask(low))
    plain = cv2.resize(low, (size, size), interpolation=cv2.INTER_LINEAR)

    def crossing(row: np.ndarray) -> float:
        i = int(np.argmax(row >= 0.5))
        return i - 1 + (0.5 - row[i - 1]) / (row[i] - row[i - 1])

    ours = np.array([crossing(r) for r in alpha[::16]])
    bilinear = np.array([crossing(r) for r in plain[::16]])
    assert np.abs(bilinear - 202.5).max() > 2.5  # the grid puts the plain edge 3 px off
    assert np.abs(ours - 202.5).max() < 1.0
    assert (alpha[:, :180] == 0).all() and (alpha[:, 225:] == 1).all()


def test_feather_empty_or_full_mask_has_no_edge() -> None:
    img = np.zeros((40, 30, 3), np.uint8)
    assert (feather(img, _mask(np.zeros((20, 15)))) == 0).all()
    assert (feather(img, _mask(np.ones((20, 15)))) == 1).all()


def test_threshold_method_binarises_the_upsampled_probability_at_the_level() -> None:
    prob = np.tile(np.linspace(0, 1, 11, dtype=np.float32), (4, 1))  # 4×11 ramp
    img = np.zeros((4, 11, 3), np.uint8)
    alpha = feather(img, _mask(prob), FeatherOptions(method="threshold", threshold=0.3))
    np.testing.assert_array_equal(alpha[0], (prob[0] >= 0.3).astype(np.float32))
    assert alpha.dtype == np.float32 and set(np.unique(alpha)) == {0.0, 1.0}


def test_otsu_separates_two_weak_clusters_that_a_fixed_half_would_not() -> None:
    prob = np.full((20, 20), 0.30, np.float32)
    prob[5:15, 5:15] = 0.45  # the product is only weakly above the background, both below 0.5
    t = otsu_threshold(prob)
    assert 0.30 < t <= 0.45
    img = np.zeros((40, 40, 3), np.uint8)
    alpha = feather(img, _mask(prob), FeatherOptions(method="otsu"))
    assert alpha[20, 20] == 1 and alpha[2, 2] == 0 and set(np.unique(alpha)) == {0.0, 1.0}
    assert (feather(img, _mask(prob), FeatherOptions(method="threshold")) == 0).all()
    assert otsu_threshold(np.full((5, 5), 0.7)) == 0.5


def test_blur_method_is_a_symmetric_soft_step() -> None:
    prob = np.zeros((64, 64), np.float32)
    prob[:, 32:] = 1
    alpha = feather(np.zeros((64, 64, 3), np.uint8), _mask(prob), FeatherOptions(method="blur", blur_sigma=2.0))
    row = alpha[32]
    assert (row[:26] == 0).all() and (row[38:] == 1).all()
    assert np.all(np.diff(row) >= 0)
    assert 0 < row[31] < 0.5 < row[32] < 1
    np.testing.assert_allclose(row[31] + row[32], 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"radius": -1}, "radius"),
        ({"eps": 0.0}, "eps"),
        ({"eps": -1e-3}, "eps"),
        ({"method": "magic"}, "guided, threshold, otsu, blur"),
        ({"threshold": 1.5}, "threshold"),
        ({"band": -2}, "band"),
        ({"blur_sigma": 0}, "blur_sigma"),
        ({"sharpen": -1}, "sharpen"),
        ({"radius": 2.5}, "whole number"),
        ({"eps": float("nan")}, "finite"),
    ],
)
def test_bad_feather_options_are_refused(kwargs: dict, words: str) -> None:
    with pytest.raises(InvalidOptionError, match=words):
        FeatherOptions(**kwargs)


def test_feather_rejects_wrong_image() -> None:
    with pytest.raises(InvalidOptionError, match="H×W×3 uint8"):
        feather(np.zeros((8, 8), np.uint8), _mask(np.zeros((4, 4))))


def test_sharpen_is_identity_at_zero_and_overshoots_edges_otherwise() -> None:
    img = np.full((20, 20, 3), 100, np.uint8)
    img[:, 10:] = 150
    same = sharpen(img, 0)
    np.testing.assert_array_equal(same, img)
    assert same is not img
    out = sharpen(img, 1.0)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert out[5, 9, 0] < 100 and out[5, 10, 0] > 150  # unsharp mask: darker/brighter either side
    np.testing.assert_array_equal(out[:, :5], img[:, :5])  # flat areas untouched
    with pytest.raises(InvalidOptionError):
        sharpen(img, -0.5)
