"""The learned cut-out backend on studio shots: holes its model leaves in pale parts are filled from the backdrop.

`studio_refine` is a pure function of the photo, the model's map and the fitted backdrop, so no model runs here.
"""

from __future__ import annotations

import cv2
import numpy as np

from tests.helpers import require_modules

require_modules("onnxruntime")

from fusion.segmenters.classical import plain_backdrop, resize_to_working  # noqa: E402
from fusion.segmenters.salient import PALE_FILL, STUDIO_SIZE, studio_refine  # noqa: E402

H, W, SWEEP = 300, 400, 244.0


def studio_scene(hole: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dark ring-shaped object on a white sweep whose centre is `hole`: "pale" (a white part 14 levels off the
    sweep, as a saucer's rim), "backdrop" (the sweep shows through) or "shadow" (the sweep, 35 % darker).
    Returns (H×W×3 uint8 photo, H×W float32 model map that left the centre out, H×W bool centre)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W]
    r = np.hypot(yy - 150, xx - 200)
    ring, centre = (r < 100) & (r >= 50), r < 50
    image = np.full((H, W, 3), SWEEP, np.float32)
    image[ring] = (60, 40, 35)
    if hole == "pale":
        image[centre] = SWEEP - 14 + rng.normal(0, 2.0, (int(centre.sum()), 1))
    elif hole == "shadow":
        image[centre] = SWEEP * 0.65
    image = np.clip(np.rint(image + rng.normal(0, 1.5, image.shape)), 0, 255).astype(np.uint8)
    model = cv2.GaussianBlur(ring.astype(np.float32), (0, 0), 1.5)
    return image, model, centre


def refined(hole: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image, model, centre = studio_scene(hole)
    fit = plain_backdrop(resize_to_working(image, STUDIO_SIZE))
    assert fit is not None  # a plain sweep
    return studio_refine(image, model, fit.backdrop), model, centre


def test_a_pale_part_the_model_left_out_inside_the_object_is_filled() -> None:
    out, model, centre = refined("pale")
    assert (out[centre] >= PALE_FILL).mean() > 0.99
    ring = model > 0.5
    assert np.array_equal(out[ring], model[ring])  # the model's own foreground is untouched


def test_a_hole_showing_the_backdrop_or_a_shadow_stays_open() -> None:
    for hole in ("backdrop", "shadow"):
        out, model, centre = refined(hole)
        assert out is model, hole  # nothing changed, and the caller can tell
        assert (out[centre] < 0.5).all()
