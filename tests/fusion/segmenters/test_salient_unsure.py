"""The learned cut-out backend on natural scenes: parts of the object the model saw only faintly are kept,
its soft fringe and faintly seen background are not.

`extend_unsure` is a pure function of the model's map and the photo, so no model runs here.
"""

from __future__ import annotations

import cv2
import numpy as np

from tests.helpers import require_modules

require_modules("onnxruntime")

from fusion.segmenters.salient import EXTENDED, FOREGROUND, extend_unsure  # noqa: E402

H, W = 750, 1000  # a working-size photo: the fringe test needs the opening's real width (3 px)
OBJECT, WING, GRASS = (200, 160, 40), (190, 150, 50), (60, 140, 60)


def scene(wing_colour: tuple[int, int, int], wing_probability: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """A textured yellow body the model is sure of (0.95, soft edge) beside a wide "wing" it saw faintly
    (`wing_probability`), on grass. Returns (photo, model map, masks by name)."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:H, 0:W]
    body = (np.abs(yy - 375) < 150) & (np.abs(xx - 300) < 125)
    wing = (np.abs(yy - 375) < 125) & (xx >= 425) & (xx < 750)
    image = np.empty((H, W, 3), np.float32)
    image[:] = GRASS
    clumps = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 12)
    image += (clumps / clumps.std() * 25)[..., None]  # grass in clumps of light and shade: not a backdrop
    image[body] = OBJECT
    image[wing] = wing_colour
    image = np.clip(image + rng.normal(0, 6.0, image.shape), 0, 255).astype(np.uint8)
    model = cv2.GaussianBlur(body.astype(np.float32), (0, 0), 1.5) * 0.95  # a soft fringe round the body
    model = np.where(wing, np.maximum(model, wing_probability), model).astype(np.float32)
    fringe = (model > 0.03) & (model <= FOREGROUND) & ~wing
    return image, model, {"body": body, "wing": wing, "fringe": fringe}


def test_a_wide_part_seen_faintly_in_the_objects_colours_joins_the_foreground() -> None:
    image, model, masks = scene(WING, 0.15)
    out = extend_unsure(model, image)
    assert (out[masks["wing"]] >= EXTENDED).mean() > 0.95
    assert (out[masks["fringe"]] > FOREGROUND).mean() < 0.05  # the soft edge round the body stays soft
    body = masks["body"] & (model > FOREGROUND)
    assert np.array_equal(out[body], model[body])  # the model's own foreground is untouched


def test_a_faintly_seen_patch_in_the_backgrounds_colours_stays_out() -> None:
    image, model, masks = scene(GRASS, 0.15)
    out = extend_unsure(model, image)
    assert out is model  # nothing changed, and the caller can tell
    assert (out[masks["wing"]] <= FOREGROUND).all()


def test_a_fringe_alone_or_a_map_with_no_confident_part_changes_nothing() -> None:
    image, model, _ = scene(WING, 0.0)
    assert extend_unsure(model, image) is model
    faint = np.full((H, W), 0.2, np.float32)
    assert extend_unsure(faint, image) is faint  # nothing sure to compare colours with


def test_the_backend_keeps_them_on_a_busy_photo_and_not_on_a_studio_backdrop(tmp_path) -> None:
    from fusion.segmenters import get_segmenter
    from fusion.segmenters.cutout_models import add_cutout_model
    from fusion.segmenters.salient import EXTEND_NOTE
    from prompting.types import PromptSet
    from tests.helpers import build_tiny_cutout_model

    add_cutout_model(tmp_path / "m", "isnet-tiny", build_tiny_cutout_model(tmp_path / "t.onnx"))
    segmenter = get_segmenter("salient", model_dir=tmp_path / "m", working_size=W)
    busy, model, masks = scene(WING, 0.15)
    segmenter.probability = lambda image: model  # the map a real model would give, at the working size
    evidence = segmenter.segment(busy, PromptSet())
    assert EXTEND_NOTE in evidence.notes and (evidence.heatmap[masks["wing"]] >= EXTENDED).mean() > 0.95

    studio = busy.copy()
    studio[~(masks["body"] | masks["wing"])] = 245  # the same object on a plain white sweep
    evidence = segmenter.segment(studio, PromptSet())
    assert EXTEND_NOTE not in evidence.notes and (evidence.heatmap[masks["wing"]] < FOREGROUND).all()
