"""Engine.correct (a seller's keep/remove clicks and box, redone from stored evidence) and the correction
steps kept in an item's metadata (add, undo, back to a version, clear)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from fusion.corrections import Box, Click, Corrections
from fusion.errors import InvalidArtifactError, InvalidOptionError
from fusion.imageio import encode_image
from fusion.segmenters import get_segmenter
from service.engine.blobstore import ArtifactStore
from service.engine.correction_history import CorrectionChange, CorrectionHistory
from service.engine.engine import CORRECTED_NOTE, UNCORRECTED_NOTE, Engine, MissingArtifactError, RenderRequest

WIDTH, HEIGHT = 320, 240
BOX = (96, 60, 224, 204)  # the product's extent in the test photo: left, top, right, bottom (exclusive)
MASK = RenderRequest(format="mask")


class CountingSegmenter:
    def __init__(self) -> None:
        self.inner = get_segmenter("classical")
        self.name = self.inner.name
        self.calls = 0

    def segment(self, image, prompts):
        self.calls += 1
        return self.inner.segment(image, prompts)

    def reprompt(self, evidence, prompts):
        self.calls += 1
        return self.inner.reprompt(evidence, prompts)


def _product_photo() -> np.ndarray:
    """A textured orange box (BOX) on a light gradient: what the classical backend cuts cleanly."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    image = np.empty((HEIGHT, WIDTH, 3), np.float32)
    image[...] = (235 - 20 * yy / HEIGHT)[..., None]
    box = (np.abs(xx - WIDTH / 2) < WIDTH * 0.2) & (np.abs(yy - HEIGHT * 0.55) < HEIGHT * 0.3)
    image[box] = np.stack([np.full(box.sum(), 200.0), 90 + 15 * np.sin(xx[box] / 7), np.full(box.sum(), 40.0)], axis=1)
    image = cv2.GaussianBlur(image, (0, 0), 1.5)
    image += rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo() -> bytes:
    return encode_image(_product_photo(), "png")


@pytest.fixture
def segmenter() -> CountingSegmenter:
    return CountingSegmenter()


@pytest.fixture
def engine(tmp_path, segmenter) -> Engine:
    return Engine(ArtifactStore(tmp_path / "artifacts"), segmenter)


def _mask(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


# ------------------------------------------------------------------------------------------------ engine


def test_a_remove_click_on_the_product_removes_it_without_segmenting(engine, segmenter, photo) -> None:
    cut = engine.cut(photo, "Orange box", "", MASK)
    before = _mask(cut.output)
    assert before[132, 160] == 255 and (before > 127).mean() > 0.2
    fixed = engine.correct(cut.artifacts, Corrections((Click(160, 132, keep=False),)), MASK, title="Orange box")
    after = _mask(fixed.output)
    assert segmenter.calls == 1  # only the cut segmented
    assert after[132, 160] == 0 and (after > 127).mean() < 0.5 * (before > 127).mean()
    meta = fixed.metadata
    assert meta["operation"] == "correct" and meta["backend"] == "classical" and meta["title"] == "Orange box"
    assert meta["photo_size"] == [WIDTH, HEIGHT] and meta["prompts_read"] is False
    assert meta["reused"] == {"alpha": False} and CORRECTED_NOTE in meta["notes"]
    assert "corrected by 1 click" in meta["reason"] and meta["confidence"] == 1.0
    assert {"load", "select", "correct", "feather"} <= set(meta["timings"]) and "segment" not in meta["timings"]
    assert fixed.artifacts["evidence"] == cut.artifacts["evidence"]  # the evidence is never rewritten
    assert fixed.artifacts["alpha"] != cut.artifacts["alpha"] and fixed.output == engine.store.get(
        fixed.artifacts["alpha"])


def test_a_keep_click_adds_background_and_a_box_cuts_outside_it(engine, photo) -> None:
    cut = engine.cut(photo, "box", "", MASK)
    kept = _mask(engine.correct(cut.artifacts, Corrections((Click(20, 20, keep=True),)), MASK).output)
    assert _mask(cut.output)[20, 20] == 0 and kept[20, 20] == 255
    left, top, right, bottom = BOX
    half = Box(left, top, (left + right) / 2, bottom)  # only the left half of the product is the product
    boxed = _mask(engine.correct(cut.artifacts, Corrections(box=half), MASK).output)
    assert boxed[132, 120] == 255 and boxed[132, 200] == 0
    outside = np.ones_like(boxed, bool)
    outside[:, : int(half.right) + 12] = False  # feathering may soften a band of a few pixels at the box's edge
    assert boxed[outside].max() == 0


def test_no_corrections_give_the_automatic_cut_back_byte_for_byte(engine, photo) -> None:
    render = RenderRequest(format="png", theme="spring")
    cut = engine.cut(photo, "box", "", render)
    clicks = Corrections((Click(150, 120, keep=False), Click(30, 200, keep=True)))
    fixed = engine.correct(cut.artifacts, clicks, render)
    assert fixed.output != cut.output
    cleared = engine.correct(fixed.artifacts, Corrections(), render)
    assert UNCORRECTED_NOTE in cleared.metadata["notes"] and "corrected" not in cleared.metadata["reason"]
    for kind in ("selection", "alpha", "foreground", "layer", "output"):
        assert cleared.artifacts[kind] == cut.artifacts[kind], kind
    again = engine.correct(cleared.artifacts, clicks, render)  # deterministic: redoing gives the same bytes
    assert again.output == fixed.output and again.artifacts["alpha"] == fixed.artifacts["alpha"]
    # nothing to change: the stored alpha is reused, no feathering
    same = engine.correct(cut.artifacts, Corrections(), render)
    assert same.metadata["reused"] == {"alpha": True} and "feather" not in same.metadata["timings"]
    assert same.output == cut.output


def test_corrections_outside_the_photo_are_refused(engine, photo) -> None:
    cut = engine.cut(photo, "box", "", MASK)
    with pytest.raises(InvalidOptionError, match=r"outside the 320×240 photo"):
        engine.correct(cut.artifacts, Corrections((Click(320, 10, keep=True),)), MASK)
    with pytest.raises(InvalidOptionError, match="box"):
        engine.correct(cut.artifacts, Corrections(box=Box(10, 10, 400, 100)), MASK)


def test_an_item_cut_by_its_own_transparency_has_nothing_to_correct(engine) -> None:
    rgb = _product_photo()
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[60:200, 100:220] = 255
    cut = engine.cut(encode_image(np.dstack([rgb, alpha]), "png"), "box", "", MASK)
    assert cut.metadata["prompts_read"] is False and cut.metadata["photo_size"] == [WIDTH, HEIGHT]
    with pytest.raises(MissingArtifactError, match="nothing to correct"):
        engine.correct(cut.artifacts, Corrections((Click(5, 5, keep=False),)), MASK)


def test_cut_and_reprompt_say_whether_the_prompt_was_read_and_the_photo_size(engine, photo) -> None:
    cut = engine.cut(photo, "box", "", RenderRequest())
    again = engine.reprompt(cut.artifacts, "box", "the box", RenderRequest())
    assert again.metadata["reused"]["alpha"] is True  # photo_size without decoding the photo
    for meta in (cut.metadata, again.metadata):
        assert meta["prompts_read"] is False and meta["photo_size"] == [WIDTH, HEIGHT]


# ------------------------------------------------------------------------------------------------ steps


def _add(*clicks: tuple[float, float, bool], box: Box | None = None) -> CorrectionChange:
    return CorrectionChange("add", Corrections(tuple(Click(x, y, keep) for x, y, keep in clicks), box))


def test_steps_add_undo_go_back_and_clear() -> None:
    first, second = Box(0, 0, 100, 100), Box(10, 10, 90, 90)
    history = CorrectionHistory().changed(_add((1, 2, True), (3, 4, False)), 1)  # item at v1 → step makes v2
    history = history.changed(_add(box=first), 2)
    history = history.changed(_add((5, 6, False), box=second), 5)  # a theme swap made v3, v4 in between
    assert [step.version for step in history.steps] == [2, 3, 6]
    assert history.corrections == Corrections((Click(1, 2, True), Click(3, 4, False), Click(5, 6, False)), second)
    meta = history.to_metadata()
    assert meta["points"][2] == {"x": 5, "y": 6, "keep": False} and meta["box"]["left"] == 10
    assert [(s["version"], s["points"], s["box"]) for s in meta["steps"]] == [(2, 2, False), (3, 0, True),
                                                                            (6, 1, True)]
    stored = CorrectionHistory.from_metadata({"corrections": meta})
    assert stored == history
    undone = stored.changed(CorrectionChange("undo"), 6)
    assert undone.corrections == Corrections((Click(1, 2, True), Click(3, 4, False)), first)  # the earlier box
    assert stored.changed(CorrectionChange("to_version", version=2), 6).corrections.box is None
    assert stored.changed(CorrectionChange("to_version", version=5), 6) == undone
    assert stored.changed(CorrectionChange("to_version", version=1), 6).corrections.empty
    assert stored.changed(CorrectionChange("clear"), 6) == CorrectionHistory()
    assert CorrectionHistory().to_metadata() == {"points": [], "box": None, "steps": []}
    assert CorrectionHistory.from_metadata({}) == CorrectionHistory()


def test_steps_refuse_what_cannot_be_done() -> None:
    with pytest.raises(InvalidOptionError, match="nothing to undo"):
        CorrectionHistory().changed(CorrectionChange("undo"), 3)
    for version in (-1, 4):
        with pytest.raises(InvalidOptionError, match="0 to 3"):
            CorrectionHistory().changed(CorrectionChange("to_version", version=version), 3)
    with pytest.raises(InvalidOptionError, match="at least one point or a box"):
        CorrectionChange("add", Corrections())
    with pytest.raises(InvalidOptionError):
        CorrectionChange("redo")
    broken = {"corrections": {"points": [{"x": 1, "y": 1, "keep": True}], "box": None,
                              "steps": [{"version": 2, "points": 2, "box": False}]}}
    with pytest.raises(InvalidArtifactError, match="clear them"):
        CorrectionHistory.from_metadata(broken)
