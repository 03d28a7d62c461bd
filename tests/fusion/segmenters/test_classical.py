"""The weight-free classical segmenter and the segmenter registry."""

from __future__ import annotations

import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from fusion.errors import UnknownSegmenterError
from fusion.evaluation import metrics
from fusion.segmenters import available_segmenters, get_segmenter
from fusion.segmenters.classical import IGNORED_PROMPTS_NOTE, ClassicalSegmenter
from fusion.segmenters.saliency import centred_ellipse, saliency_ellipse
from fusion.selection import select
from prompting.types import PromptSet


def _backdrop(h: int, w: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> np.ndarray:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    return np.broadcast_to(np.float32(top) * (1 - t) + np.float32(bottom) * t, (h, w, 3)).copy()


def _product_photo(backdrop: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A shaded, textured two-part object (body + handle) on `backdrop` with sensor noise.
    Returns (H×W×3 uint8 image, H×W bool truth)."""
    rng = np.random.default_rng(seed)
    h, w = backdrop.shape[:2]
    truth = np.zeros((h, w), np.uint8)
    cv2.ellipse(truth, (w // 2, h // 2 + h // 20), (w // 6, h // 4), 10, 0, 360, 1, -1)
    cv2.rectangle(truth, (w // 2 + w // 8, h // 2 - h // 16), (w // 2 + w // 4, h // 2 + h // 20), 1, -1)
    truth = truth.astype(bool)
    ys, xs = np.mgrid[0:h, 0:w]
    shade = 0.75 + 0.25 * np.sin(xs / 9.0) * np.cos(ys / 13.0)
    colour = np.float32([200, 60, 40])[None, None, :] * shade[..., None]
    image = np.where(truth[..., None], colour, backdrop)
    image = image + rng.normal(0.0, 3.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), truth


def _cut_iou(image: np.ndarray, truth: np.ndarray) -> float:
    mask = select(ClassicalSegmenter().segment(image, PromptSet()))
    prob = cv2.resize(mask.probability, (truth.shape[1], truth.shape[0]), interpolation=cv2.INTER_LINEAR)
    return metrics.iou(prob >= 0.5, truth)


@pytest.mark.parametrize(
    "top, bottom",
    [((245, 245, 245), (245, 245, 245)), ((235, 238, 242), (150, 160, 175)), ((120, 160, 200), (120, 160, 200))],
    ids=["plain-white", "gradient", "plain-blue"],
)
def test_object_on_studio_backdrop_is_cut_out(top, bottom) -> None:
    image, truth = _product_photo(_backdrop(480, 640, top, bottom))
    assert _cut_iou(image, truth) > 0.9


def test_object_on_textured_background_is_cut_out() -> None:
    rng = np.random.default_rng(3)
    clutter = cv2.resize(
        rng.uniform(60, 200, (12, 16, 3)).astype(np.float32), (640, 480), interpolation=cv2.INTER_CUBIC
    )
    clutter[..., 0] *= 0.4  # keep the clutter bluish-green so the red object stands out by colour
    image, truth = _product_photo(clutter, seed=1)
    assert _cut_iou(image, truth) > 0.9


def test_saliency_ellipse_is_placed_and_sized_by_the_saliency() -> None:
    saliency = np.zeros((100, 150), np.float32)
    saliency[10:40, 90:140] = 1.0  # a bright block in the top right
    ellipse = saliency_ellipse(saliency)
    assert ellipse[25, 115] > 0.99 and ellipse[75, 40] < 0.01
    ys, xs = np.nonzero(ellipse >= 0.5)
    assert abs(ys.mean() - 24.5) < 2 and abs(xs.mean() - 114.5) < 2
    # About the block's size (a filled ellipse of the same moments covers ~π/4·(2/√3)² of its box ≈ 1.05).
    assert 0.8 < (ellipse >= 0.5).sum() / (30 * 50) < 1.4


def test_saliency_ellipse_of_a_flat_or_empty_map_is_centred() -> None:
    for flat in (np.ones((90, 120), np.float32), np.zeros((90, 120), np.float32)):
        ellipse = saliency_ellipse(flat)
        assert ellipse.shape == flat.shape and ellipse.dtype == np.float32
        assert ellipse[45, 60] > 0.99 and ellipse[0, 0] < 0.5
        ys, xs = np.nonzero(ellipse >= 0.5)
        assert abs(ys.mean() - 44.5) < 1 and abs(xs.mean() - 59.5) < 1
    assert np.allclose(
        centred_ellipse((90, 120), 0.3, 0.3), saliency_ellipse(centred_ellipse((90, 120), 0.3, 0.3)), atol=0.5
    )


def test_evidence_contract() -> None:
    image, _ = _product_photo(_backdrop(300, 400, (240, 240, 240), (240, 240, 240)))
    evidence = ClassicalSegmenter(working_size=200).segment(image, PromptSet())
    h, w = evidence.shape
    assert max(h, w) == 200
    assert evidence.image.shape == (h, w, 3) and evidence.image.dtype == np.uint8
    assert evidence.heatmap.dtype == np.float32 and 0.0 <= evidence.heatmap.min() <= evidence.heatmap.max() <= 1.0
    assert evidence.prior.dtype == np.float32 and evidence.prior.shape == (h, w)
    assert evidence.labels.dtype == np.int32 and evidence.labels.shape == (h, w)
    assert set(np.unique(evidence.labels)) == set(range(int(evidence.labels.max()) + 1))
    assert evidence.backend == "classical" and not evidence.prompts_used
    assert evidence.negative_heatmap is None


def test_huge_input_is_processed_at_working_resolution_quickly() -> None:
    image, _ = _product_photo(_backdrop(400, 600, (240, 240, 240), (200, 200, 200)))
    huge = cv2.resize(image, (6000, 4000), interpolation=cv2.INTER_LINEAR)
    segmenter = ClassicalSegmenter(working_size=320)
    segmenter.segment(huge[:400, :600], PromptSet())  # warm-up (imports, allocator)
    start = time.perf_counter()
    evidence = segmenter.segment(huge, PromptSet())
    elapsed = time.perf_counter() - start
    assert max(evidence.shape) <= 320
    assert evidence.shape == (213, 320)
    assert elapsed < 3.0


def test_prompts_are_ignored_and_the_note_says_so() -> None:
    image, _ = _product_photo(_backdrop(120, 160, (240, 240, 240), (240, 240, 240)))
    segmenter = ClassicalSegmenter()
    with_prompt = segmenter.segment(image, PromptSet(positives=("red mug",), source="prompt"))
    without = segmenter.segment(image, PromptSet())
    assert IGNORED_PROMPTS_NOTE in with_prompt.notes
    assert IGNORED_PROMPTS_NOTE not in without.notes
    assert not with_prompt.prompts_used
    assert np.array_equal(with_prompt.heatmap, without.heatmap)


def test_registry_builds_classical_and_rejects_unknown_names() -> None:
    assert "classical" in available_segmenters()
    segmenter = get_segmenter("classical", working_size=256)
    assert segmenter.name == "classical" and segmenter.working_size == 256
    assert get_segmenter().name == "classical"
    with pytest.raises(UnknownSegmenterError) as error:
        get_segmenter("sam")
    assert "sam" in str(error.value)
    for name in available_segmenters():
        assert name in str(error.value)


def test_classical_backend_never_imports_torch() -> None:
    code = (
        "import sys, numpy as np\n"
        "import fusion.segmenters, fusion.segmenters.classical, fusion.selection\n"
        "from prompting.types import PromptSet\n"
        "ev = fusion.segmenters.get_segmenter('classical').segment(np.zeros((40, 50, 3), np.uint8), PromptSet())\n"
        "fusion.selection.select(ev)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'transformers' not in sys.modules, 'transformers was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_non_rgb_input_is_a_typed_error() -> None:
    from fusion.errors import InvalidImageError

    with pytest.raises(InvalidImageError):
        ClassicalSegmenter().segment(np.zeros((40, 50), np.uint8), PromptSet())
    with pytest.raises(InvalidImageError):
        ClassicalSegmenter().segment(np.zeros((40, 50, 4), np.uint8), PromptSet())


# --- person-shaped prior from a model's face -------------------------------------------------------


def _standing_figure(
    h: int = 640, w: int = 427, face_share: float = 0.09, face_height: float = 0.13, leg_width: float = 0.8
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """A full-length figure: a real face (scikit-image's bundled astronaut photo) `face_share` of the height
    wide, centred `face_height` down the frame, on a drawn torso and legs (each `leg_width` face-widths
    wide), over smooth colour clutter.
    Returns (image, truth, (face x, face y, face width) in px)."""
    from skimage.data import astronaut

    rng = np.random.default_rng(0)
    image = cv2.resize(rng.uniform(90, 170, (8, 6, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    face_width = face_share * h
    scale = face_width / 85.0  # the astronaut's face is ~85 px wide, centred at (223, 122)
    head = cv2.resize(
        astronaut()[40:200, 160:285].astype(np.float32), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
    )
    cx, cy = w // 2, int(face_height * h)
    y0, x0 = cy - int(82 * scale), cx - int(63 * scale)
    image[y0 : y0 + head.shape[0], x0 : x0 + head.shape[1]] = head
    body = np.zeros((h, w), np.uint8)
    f = face_width
    cv2.rectangle(body, (int(cx - 1.2 * f), int(cy + 0.9 * f)), (int(cx + 1.2 * f), int(cy + 5 * f)), 1, -1)
    for left, right in ((-0.1 - leg_width, -0.1), (0.1, 0.1 + leg_width)):
        cv2.rectangle(body, (int(cx + left * f), int(cy + 5 * f)), (int(cx + right * f), int(cy + 9.6 * f)), 1, -1)
    image[body > 0] = (40, 50, 110)
    truth = body.astype(bool)
    truth[y0 : y0 + head.shape[0], x0 + int(0.15 * head.shape[1]) : x0 + int(0.85 * head.shape[1])] = True
    image = np.clip(image + rng.normal(0.0, 3.0, image.shape), 0, 255).astype(np.uint8)
    return image, truth, (float(cx), float(cy), f)


def test_model_face_is_found_and_the_prior_covers_the_body_below_it() -> None:
    from fusion.segmenters.classical import resize_to_working
    from fusion.segmenters.person import Face, model_faces, person_prior

    image, truth, (cx, cy, fw) = _standing_figure()
    small = resize_to_working(image, 320)
    ratio = small.shape[0] / image.shape[0]
    faces = model_faces(small)
    assert len(faces) == 1
    face = faces[0]
    assert abs(face.x - cx * ratio) < 0.3 * fw * ratio and abs(face.y - cy * ratio) < 0.3 * fw * ratio
    prior, _ = person_prior(small.shape[:2], face)
    small_truth = (
        cv2.resize(truth.astype(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    )
    core = prior >= 0.85
    assert core[int(face.y + 6 * face.width) :].any(), "the core reaches down to the legs"
    assert small_truth[core].mean() > 0.85
    # Geometry on an open grid: nothing above the head, nor far to the side; the legs reach down.
    prior, envelope = person_prior((400, 300), Face(x=150.0, y=100.0, width=20.0))
    assert prior[:60].max() <= 0.1 and not envelope[:35].any()
    assert prior[:, :70].max() <= 0.1 and prior[:, 230:].max() <= 0.1
    assert prior[290, 150] >= 0.85 and prior[320, 150] <= 0.1


def test_small_standing_face_is_found_by_the_fine_pass_only_when_confirmed(monkeypatch) -> None:
    from fusion.segmenters import person
    from fusion.segmenters.classical import resize_to_working

    # A small face (0.045 of the height; the detector's box is ~1.3× that) of a figure reaching 3/4 down.
    image, _, (cx, cy, fw) = _standing_figure(face_share=0.045, face_height=0.2)
    small = resize_to_working(image, 320)
    ratio = small.shape[0] / image.shape[0]
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    assert person.detect_faces(grey, search_height=0.4) == []  # the first pass alone misses it
    faces = person.model_faces(small)
    assert len(faces) == 1
    face = faces[0]
    assert abs(face.x - cx * ratio) < 0.3 * fw * ratio and abs(face.y - cy * ratio) < 0.3 * fw * ratio
    assert face.width < 0.07 * small.shape[0]
    assert person.haar_confirms(small, face, model="alt") and person.haar_confirms(small, face, model="alt2")
    assert (
        person.model_faces(np.repeat(grey[..., None], 3, axis=2)) == []
    )  # a lone weak hit must still be skin-coloured
    # Both Haar models must agree: with either one refusing, the weak hit is dropped.
    for refusing in ("alt", "alt2"):
        original = person.haar_confirms

        def confirms(rgb, f, side=96, model="alt2", refusing=refusing, original=original):
            return model != refusing and original(rgb, f, side, model)

        monkeypatch.setattr(person, "haar_confirms", confirms)
        assert person.model_faces(small) == []
        monkeypatch.undo()


def test_figure_with_a_face_is_cut_out() -> None:
    image, truth, _ = _standing_figure()
    segmenter = ClassicalSegmenter()
    small = cv2.resize(image, (213, 320), interpolation=cv2.INTER_AREA)
    figure = segmenter.figure_prior(small, np.zeros((200, 133), np.float32))
    assert figure is not None and figure.confirmed and figure.prior.shape == (200, 133)
    assert _cut_iou(image, truth) > 0.85


def test_a_confirmed_model_is_cut_on_the_finer_grid_and_keeps_thin_legs(monkeypatch) -> None:
    from fusion.segmenters import classical

    image, truth, (_, cy, fw) = _standing_figure(leg_width=0.2)  # legs ~3.5 px wide at the 200-px grid

    def leg_recall(segmenter: ClassicalSegmenter) -> tuple[float, tuple[str, ...]]:
        evidence = segmenter.segment(image, PromptSet())
        cut = evidence.heatmap >= 0.5
        small_truth = (
            cv2.resize(truth.astype(np.uint8), (cut.shape[1], cut.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
        )
        legs = small_truth.copy()
        legs[: int((cy + 5.5 * fw) * cut.shape[0] / image.shape[0])] = False
        return float((cut & legs).sum() / legs.sum()), evidence.notes

    fine, notes = leg_recall(ClassicalSegmenter())
    coarse, coarse_notes = leg_recall(ClassicalSegmenter(figure_cut_size=0))
    assert any("figure cut at 320 px" in note for note in notes)
    assert not any("figure cut" in note for note in coarse_notes)
    assert fine >= 0.98 and fine > coarse + 0.03
    # An unconfirmed face (the LBP model alone takes fur for one) keeps the coarse grid.
    monkeypatch.setattr(classical, "haar_confirms", lambda *args, **kwargs: False)
    unconfirmed, unconfirmed_notes = leg_recall(ClassicalSegmenter())
    assert not any("figure cut" in note for note in unconfirmed_notes) and unconfirmed == coarse


def _close_up_portrait() -> np.ndarray:
    """The astronaut sample cropped to a head-and-shoulders frame: face ~0.3 of the height, centre at ~0.35
    (below where a standing figure's face is, so only the close-up rule can take it)."""
    from PIL import Image

    from tests.helpers import SAMPLES

    photo = np.asarray(Image.open(SAMPLES / "astronaut.jpg").convert("RGB"))
    return np.ascontiguousarray(photo[0:332, 90:356])


def test_close_up_portrait_face_is_found_confirmed_and_seeds_a_bust_to_the_frame_bottom() -> None:
    from fusion.segmenters.classical import resize_to_working
    from fusion.segmenters.person import haar_confirms, model_faces

    small = resize_to_working(_close_up_portrait(), 320)
    h = small.shape[0]
    faces = model_faces(small)
    assert len(faces) == 1
    face = faces[0]
    assert face.width >= 0.18 * h and 0.25 * h < face.y <= 0.45 * h and 0.35 < face.x / small.shape[1] < 0.65
    assert haar_confirms(small, face)
    assert model_faces(small, close_up_share=1.0) == []  # it is the close-up rule that took it
    grey = np.repeat(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    assert model_faces(grey) == []  # and a face must still be skin-coloured
    figure = ClassicalSegmenter().figure_prior(small, np.zeros((200, 160), np.float32))
    assert figure is not None
    prior = figure.prior
    assert (prior[-1] >= 0.85).any(), "the figure below a close-up face runs out of the bottom of the frame"
    assert prior[:8, :20].max() <= 0.1 and prior[:8, -20:].max() <= 0.1  # nothing beside the head
    # A close-up has no thin limbs: it keeps the coarse grid even though its face is confirmed.
    notes = ClassicalSegmenter().segment(_close_up_portrait(), PromptSet()).notes
    assert any("model's face found" in note for note in notes) and not any("figure cut" in note for note in notes)


def test_haar_confirmation_needs_a_face() -> None:
    from PIL import Image

    from fusion.segmenters.person import Face, haar_confirms
    from tests.helpers import SAMPLES

    cat = np.asarray(Image.open(SAMPLES / "chelsea-cat.jpg").convert("RGB").resize((320, 213)))
    rng = np.random.default_rng(5)
    texture = cv2.resize(rng.uniform(90, 200, (24, 24, 3)).astype(np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC)
    for model in ("alt2", "alt"):
        assert not haar_confirms(cat, Face(x=150.0, y=80.0, width=80.0), model=model)  # a cat's face is not a person's
        assert not haar_confirms(texture, Face(x=100.0, y=100.0, width=90.0), model=model)


def test_person_prior_is_skipped_without_a_skin_coloured_face() -> None:
    from fusion.segmenters.person import model_faces

    rng = np.random.default_rng(3)
    clutter = cv2.resize(
        rng.uniform(60, 200, (12, 16, 3)).astype(np.float32), (640, 480), interpolation=cv2.INTER_CUBIC
    )
    image, _ = _product_photo(clutter, seed=1)
    assert ClassicalSegmenter().figure_prior(image, np.zeros((150, 200), np.float32)) is None
    with_cue = ClassicalSegmenter().segment(image, PromptSet())
    without = ClassicalSegmenter(person_prior=False).segment(image, PromptSet())
    assert np.array_equal(with_cue.heatmap, without.heatmap)
    # A face without skin colour (a grey print of one) is not taken for a model.
    figure, _, _ = _standing_figure()
    grey = np.repeat(cv2.cvtColor(figure, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    assert model_faces(cv2.resize(grey, (213, 320), interpolation=cv2.INTER_AREA)) == []


def test_face_detection_is_safe_across_threads() -> None:
    """The HTTP service cuts in worker threads; OpenCV's cascade objects keep per-call state, so threads sharing
    one failed with assertion errors or found the wrong faces."""
    from concurrent.futures import ThreadPoolExecutor

    from fusion.segmenters.classical import resize_to_working
    from fusion.segmenters.person import model_faces

    rng = np.random.default_rng(1)
    images = [resize_to_working(_standing_figure(face_share=share, face_height=0.2)[0], 320) for share in (0.045, 0.09)]
    images += [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for h, w in ((320, 213), (60, 90), (320, 320))]
    expected = [model_faces(image) for image in images]
    assert expected[0] and expected[1]

    def agree(start: int) -> bool:
        return all(
            model_faces(images[(start + i) % len(images)]) == expected[(start + i) % len(images)] for i in range(20)
        )

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(agree, range(8)))
