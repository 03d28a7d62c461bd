"""The service engine: cut / reprompt / rerender over a real artifact store, and the fusion pieces it stands
on (Evidence and layer storage, the framed-layer composite, the fast JPEG path, the contact-shadow patch)."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fusion.compose import Framing, ImageFill, Themed, Transparent, compose, contact_shadow, shadow_patch
from fusion.errors import (
    ImageTooLargeError,
    InvalidArtifactError,
    InvalidImageError,
    InvalidOptionError,
    NoProductError,
    UnknownThemeError,
)
from fusion.evidence_io import evidence_from_bytes, evidence_to_bytes
from fusion.imageio import encode_image, srgb_icc_bytes
from fusion.product_layer import build_layer, composite_layer, layer_from_bytes, layer_to_bytes
from fusion.segmenters import get_segmenter
from fusion.themes import load_theme, render_theme
from fusion.types import Evidence
from prompting.types import PromptSet
from service.engine.blobstore import ArtifactStore
from service.engine.engine import ARTIFACT_KINDS, Engine, MissingArtifactError, RenderRequest
from tests.helpers import REPO, SAMPLES, decompression_bomb_png, require_modules

# ----------------------------------------------------------------------------------------------- fixtures


class CountingSegmenter:
    """Wraps a real backend and counts what runs."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.segments = 0
        self.reprompts = 0

    def segment(self, image, prompts):
        self.segments += 1
        return self.inner.segment(image, prompts)

    def reprompt(self, evidence, prompts):
        self.reprompts += 1
        return self.inner.reprompt(evidence, prompts)


class SegmentOnly:
    """A backend without `reprompt` (a third-party one): the engine must segment again."""

    name = "classical"

    def __init__(self) -> None:
        self.inner = get_segmenter("classical")
        self.segments = 0

    def segment(self, image, prompts):
        self.segments += 1
        return self.inner.segment(image, prompts)


class MemoryStore:
    """The engine needs only put/get."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        self.blobs.setdefault(digest, data)
        return digest

    def get(self, digest: str) -> bytes:
        return self.blobs[digest]


def _product_photo(height: int = 240, width: int = 320) -> np.ndarray:
    """A textured orange box on a light gradient: what the classical backend cuts cleanly."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:height, :width]
    image = np.empty((height, width, 3), np.float32)
    image[...] = (235 - 20 * yy / height)[..., None]
    box = (np.abs(xx - width / 2) < width * 0.2) & (np.abs(yy - height * 0.55) < height * 0.3)
    image[box] = np.stack([np.full(box.sum(), 200.0), 90 + 15 * np.sin(xx[box] / 7), np.full(box.sum(), 40.0)], axis=1)
    image = cv2.GaussianBlur(image, (0, 0), 1.5)  # a soft edge, as a lens gives
    image += rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo_bytes() -> bytes:
    return encode_image(_product_photo(), "png")


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def counting() -> CountingSegmenter:
    return CountingSegmenter(get_segmenter("classical"))


@pytest.fixture
def engine(store, counting) -> Engine:
    return Engine(store, counting)


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else img.mode))


# ------------------------------------------------------------------------------------------------- cut


def test_cut_stores_every_artifact(engine, store, counting, photo_bytes) -> None:
    result = engine.cut(photo_bytes, "Orange Storage Box, 30 cm", "", RenderRequest(format="png"))
    assert set(result.artifacts) == set(ARTIFACT_KINDS)
    for digest in result.artifacts.values():
        assert store.exists(digest)
    assert store.get(result.artifacts["original"]) == photo_bytes
    assert store.get(result.artifacts["output"]) == result.output
    assert counting.segments == 1
    assert (result.content_type, result.extension) == ("image/png", "png")
    pixels = _pixels(result.output)
    assert pixels.shape[:2] == tuple(reversed(result.metadata["size"]))
    meta = result.metadata
    assert meta["operation"] == "cut" and meta["backend"] == "classical"
    assert meta["title"] == "Orange Storage Box, 30 cm" and meta["prompt_source"] == "title"
    assert meta["prompts"]["positives"] and meta["labels"] and 0.0 <= meta["confidence"] <= 1.0
    assert {"decode", "segment", "select", "feather", "decontaminate", "frame", "compose", "encode", "store"} <= set(
        meta["timings"]
    )
    assert "classical backend ignores text prompts" in meta["notes"]
    evidence = evidence_from_bytes(store.get(result.artifacts["evidence"]))
    assert evidence.backend == "classical" and max(evidence.labels.shape) <= 320
    alpha = _pixels(store.get(result.artifacts["alpha"]))
    assert alpha.shape == (240, 320) and alpha.dtype == np.uint8 and alpha.max() == 255 and alpha.min() == 0


def test_cut_works_with_any_put_get_store(counting, photo_bytes) -> None:
    memory = MemoryStore()
    result = Engine(memory, counting).cut(photo_bytes, "box", "", RenderRequest(format="jpeg"))
    assert set(result.artifacts.values()) <= set(memory.blobs)
    assert result.output.startswith(b"\xff\xd8") and result.content_type == "image/jpeg"


def test_bad_bytes_are_typed_errors_and_store_nothing(engine, store, counting) -> None:
    for data, error in [(b"", InvalidImageError), (b"not a photo at all", InvalidImageError),
                        (decompression_bomb_png(), ImageTooLargeError)]:
        with pytest.raises(error):
            engine.cut(data, "box", "", RenderRequest())
    assert counting.segments == 0
    assert not store.root.exists() or not any(p.is_file() for p in store.root.rglob("*"))


def test_unknown_theme_fails_before_any_work(engine, store, counting, photo_bytes) -> None:
    with pytest.raises(UnknownThemeError):
        engine.check(RenderRequest(theme="no-such-theme"))
    with pytest.raises(UnknownThemeError):
        engine.cut(photo_bytes, "box", "", RenderRequest(theme="no-such-theme"))
    assert counting.segments == 0 and not store.root.exists()


def test_own_alpha_input_skips_segmentation_and_cannot_be_reprompted(engine, counting) -> None:
    rgb = _product_photo()
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[60:200, 100:220] = 255
    data = encode_image(np.dstack([rgb, alpha]), "png")
    result = engine.cut(data, "box", "", RenderRequest(format="mask"))
    assert counting.segments == 0
    assert result.metadata["backend"] == "input-alpha"
    assert "evidence" not in result.artifacts and "selection" not in result.artifacts
    assert np.array_equal(_pixels(result.output), alpha)
    with pytest.raises(MissingArtifactError, match="nothing to reprompt"):
        engine.reprompt(result.artifacts, "box", "the box", RenderRequest())
    swapped = engine.rerender(result.artifacts, RenderRequest(theme="spring", format="jpeg"))
    assert swapped.output.startswith(b"\xff\xd8")


# --------------------------------------------------------------------------------------------- reprompt


def test_reprompt_reuses_evidence_and_never_segments(engine, store, counting, photo_bytes) -> None:
    render = RenderRequest(format="png")
    cut = engine.cut(photo_bytes, "Orange Storage Box", "", render)
    again = engine.reprompt(cut.artifacts, "Orange Storage Box", "the orange box without the lid", render)
    assert counting.segments == 1 and counting.reprompts == 1
    assert again.metadata["operation"] == "reprompt"
    assert again.metadata["prompt"] == "the orange box without the lid" and again.metadata["prompt_source"] == "prompt"
    assert again.metadata["reused"] == {"label_map": True, "alpha": True}
    assert "reprompt" in again.metadata["timings"] and "segment" not in again.metadata["timings"]
    assert "feather" not in again.metadata["timings"]  # the same regions were selected: alpha reused
    assert "classical backend ignores text prompts" in again.metadata["notes"]
    for kind in ("original", "evidence", "selection", "alpha", "foreground", "layer"):
        assert again.artifacts[kind] == cut.artifacts[kind]
    assert again.output == cut.output


def test_a_new_selection_reruns_feathering_and_gives_the_same_result(engine, counting, photo_bytes) -> None:
    """Withholding the stored selection forces select → feather → decontaminate → frame: the pipeline is
    deterministic, so every artifact comes out byte-identical to the cut's."""
    render = RenderRequest(format="png")
    cut = engine.cut(photo_bytes, "box", "", render)
    forced = engine.reprompt({k: v for k, v in cut.artifacts.items() if k != "selection"}, "box", "a box", render)
    assert counting.segments == 1
    assert forced.metadata["reused"] == {"label_map": True, "alpha": False}
    assert {"feather", "decontaminate", "frame"} <= set(forced.metadata["timings"])
    for kind in ("selection", "alpha", "foreground", "layer", "output"):
        assert forced.artifacts[kind] == cut.artifacts[kind], kind


def test_reprompt_without_a_reprompt_method_segments_again(store, photo_bytes) -> None:
    backend = SegmentOnly()
    engine = Engine(store, backend)
    cut = engine.cut(photo_bytes, "box", "", RenderRequest())
    again = engine.reprompt(cut.artifacts, "box", "the box", RenderRequest())
    assert backend.segments == 2
    assert again.metadata["reused"]["label_map"] is False
    assert any("segmented again" in note for note in again.metadata["notes"])


def test_reprompt_needs_evidence_and_well_formed_digests(engine) -> None:
    with pytest.raises(MissingArtifactError):
        engine.reprompt({"original": "0" * 64}, "box", "box", RenderRequest())
    with pytest.raises(MissingArtifactError):
        engine.reprompt({"original": "../../etc/passwd", "evidence": "0" * 64}, "box", "box", RenderRequest())
    with pytest.raises(MissingArtifactError):
        engine.rerender({"original": "0" * 64}, RenderRequest())


# --------------------------------------------------------------------------------------------- rerender


def test_rerender_never_segments_and_changes_only_the_background(engine, store, counting, photo_bytes) -> None:
    cut = engine.cut(photo_bytes, "box", "", RenderRequest(format="png"))
    teal = engine.rerender(cut.artifacts, RenderRequest(format="png", background="#008080"))
    assert counting.segments == 0 + 1 and counting.reprompts == 0
    assert teal.metadata["operation"] == "rerender" and teal.metadata["layer_reused"] is True
    assert "segment" not in teal.metadata["timings"] and "feather" not in teal.metadata["timings"]
    assert {k: v for k, v in teal.artifacts.items() if k != "output"} == {
        k: v for k, v in cut.artifacts.items() if k != "output"
    }
    layer = layer_from_bytes(store.get(cut.artifacts["layer"]))
    cover = np.zeros(tuple(reversed(layer.canvas)), np.uint8)
    x, y = layer.origin
    cover[y:y + layer.cover.shape[0], x:x + layer.cover.shape[1]] = layer.cover
    white, green = _pixels(cut.output).astype(int), _pixels(teal.output).astype(int)
    assert np.array_equal(white[cover == 255], green[cover == 255])  # the product itself is untouched
    assert (white[cover == 0] == 255).all() and (green[cover == 0] == (0, 128, 128)).all()
    edge = (cover > 0) & (cover < 255)
    assert edge.any() and np.abs(white[edge] - green[edge]).max() > 0  # soft edges blend with the new colour


def test_rerender_with_a_theme_matches_compose(engine, store, photo_bytes) -> None:
    cut = engine.cut(photo_bytes, "box", "", RenderRequest(format="png"))
    themed = engine.rerender(cut.artifacts, RenderRequest(format="png", theme="winter-holidays"))
    layer = layer_from_bytes(store.get(cut.artifacts["layer"]))
    alpha = _pixels(store.get(cut.artifacts["alpha"]))
    theme = Themed(load_theme("winter-holidays"))
    # compose() on the stored alpha and the decontaminated foreground gives the same picture within rounding
    from service.engine.codecs import apply_patch

    rgb = _pixels(photo_bytes)[..., :3]
    foreground = apply_patch(np.ascontiguousarray(rgb), store.get(cut.artifacts["foreground"]))
    # the service's theme pixels: the centred crop of the theme rendered at the canvas's size bucket
    backdrop = ImageFill(engine.backgrounds.pixels(theme, *layer.canvas).copy())
    reference = compose(foreground, alpha, backdrop, Framing(shadow=True)).astype(int)
    assert reference.shape[:2] == tuple(reversed(layer.canvas))
    assert np.abs(reference - _pixels(themed.output).astype(int)).max() <= 2


def test_jpeg_strips_are_composited_and_encoded_like_one_image(engine, store, photo_bytes) -> None:
    """A large JPEG output is composited and encoded strip by strip on several threads: its pixels equal
    those of the whole composite encoded in one piece."""
    cut = engine.cut(photo_bytes, "box", "", RenderRequest(format="jpeg", size="1000x800"))
    themed = engine.rerender(cut.artifacts, RenderRequest(format="jpeg", size="1000x800", theme="winter-holidays"))
    assert "compose_encode" in themed.metadata["timings"]
    layer = layer_from_bytes(store.get(themed.artifacts["layer"]))
    whole = composite_layer(layer, render_theme(load_theme("winter-holidays"), 1024, 896)[48:848, 12:1012], True)
    expected = _pixels(encode_image(whole, "jpeg", quality=92))
    assert np.array_equal(_pixels(themed.output), expected)


def test_rerender_with_new_framing_rebuilds_the_layer(engine, store, counting, photo_bytes) -> None:
    cut = engine.cut(photo_bytes, "box", "", RenderRequest(format="png"))
    framed = engine.rerender(cut.artifacts, RenderRequest(format="png", size="300x200", align="bottom",
                                                          background="transparent", shadow=True))
    assert counting.segments == 1
    assert framed.metadata["layer_reused"] is False and framed.artifacts["layer"] != cut.artifacts["layer"]
    pixels = _pixels(framed.output)
    assert pixels.shape == (200, 300, 4) and pixels[0, 0, 3] == 0
    # back to the original framing: a layer byte-identical to the cut's
    back = engine.rerender(framed.artifacts, RenderRequest(format="png"))
    assert back.artifacts["layer"] == cut.artifacts["layer"] and back.output == cut.output


def test_mask_output_is_the_stored_alpha(engine, store, photo_bytes) -> None:
    cut = engine.cut(photo_bytes, "box", "", RenderRequest(format="jpeg"))
    mask = engine.rerender(cut.artifacts, RenderRequest(format="mask"))
    assert mask.output == store.get(cut.artifacts["alpha"]) and mask.content_type == "image/png"
    assert mask.metadata["size"] == [320, 240]


# ---------------------------------------------------------------------------------------------- review


def test_every_result_says_whether_it_needs_review(engine, photo_bytes) -> None:
    cut = engine.cut(photo_bytes, "box", "", RenderRequest())
    assert cut.metadata["needs_review"] is False and cut.metadata["review_reasons"] == []
    assert cut.metadata["review"]["plain_background"] is True and cut.metadata["review"]["messages"] == []
    assert 0.1 < cut.metadata["review"]["measures"]["coverage"] < 0.5 and "review" in cut.artifacts
    again = engine.reprompt(cut.artifacts, "box", "the box", RenderRequest())
    assert again.metadata["needs_review"] is False and again.metadata["reused"]["alpha"] is True
    assert again.metadata["review"]["measures"] == cut.metadata["review"]["measures"]
    swapped = engine.rerender(cut.artifacts, RenderRequest(theme="spring"))
    assert swapped.metadata["needs_review"] is False and swapped.metadata["review"]["plain_background"] is False


def test_a_photo_of_one_flat_colour_is_no_product_before_segmenting(engine, store, counting) -> None:
    blank = encode_image(np.full((240, 320, 3), 250, np.uint8), "png")
    with pytest.raises(NoProductError, match="flat colour"):
        engine.cut(blank, "white coffee mug", "", RenderRequest())
    assert counting.segments == 0


def test_noise_is_cut_but_flagged(engine) -> None:
    noise = np.random.default_rng(5).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    result = engine.cut(encode_image(noise, "png"), "white coffee mug", "", RenderRequest())
    assert result.metadata["needs_review"] is True and "uniform_photo" in result.metadata["review_reasons"]
    assert len(result.metadata["review"]["messages"]) == len(result.metadata["review_reasons"])


def test_a_theme_swap_rejudges_the_stored_measures_without_decoding(engine) -> None:
    """The rocket's cut runs through sky: flagged on any background, and more strictly on plain white."""
    rocket = (SAMPLES / "rocket.jpg").read_bytes()
    white = engine.cut(rocket, "Falcon rocket model", "", RenderRequest())
    assert white.metadata["review_reasons"] == ["weak_outline", "backdrop_not_uniform"]
    themed = engine.rerender(white.artifacts, RenderRequest(theme="winter-holidays"))
    assert themed.metadata["review_reasons"] == ["weak_outline"] and themed.metadata["needs_review"] is True
    assert "decode" not in themed.metadata["timings"] and "review" not in themed.metadata["timings"]
    back = engine.rerender(themed.artifacts, RenderRequest(background="white"))
    assert back.metadata["review_reasons"] == white.metadata["review_reasons"]
    # an item stored before reviews existed is measured once, from its stored alpha and original
    older = {kind: digest for kind, digest in white.artifacts.items() if kind != "review"}
    measured = engine.rerender(older, RenderRequest(theme="winter-holidays"))
    assert measured.metadata["review_reasons"] == ["weak_outline"] and "review" in measured.artifacts
    assert measured.metadata["review"]["measures"] == pytest.approx(white.metadata["review"]["measures"], abs=0.01)


def test_own_alpha_results_are_reviewed_by_shape(engine) -> None:
    rgb = _product_photo()
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[100:104, 60:260] = 255  # a hand-made "cut-out" that is a thin strip
    result = engine.cut(encode_image(np.dstack([rgb, alpha]), "png"), "box", "", RenderRequest())
    assert result.metadata["backend"] == "input-alpha" and result.metadata["review_reasons"] == ["sliver"]
    assert result.metadata["review"]["measures"]["weak_outline"] is None
    older = {kind: digest for kind, digest in result.artifacts.items() if kind != "review"}
    assert engine.rerender(older, RenderRequest(theme="spring")).metadata["review_reasons"] == ["sliver"]


# ------------------------------------------------------------------------------------------ render request


def test_render_request_normalises_and_round_trips() -> None:
    render = RenderRequest(format="JPG", size="1000", align="Centre", theme="Winter-Holidays", fill=1)
    assert (render.format, render.size, render.align, render.theme, render.fill) == (
        "jpeg", "1000x1000", "center", "winter-holidays", 1.0)
    assert RenderRequest.from_dict(render.to_dict()) == render
    assert (render.content_type, render.extension) == ("image/jpeg", "jpg")
    assert render.framing == Framing(size=(1000, 1000), fill=1.0)
    assert RenderRequest(background="Transparent").transparent


@pytest.mark.parametrize(
    "options",
    [
        {"format": "gif"}, {"quality": 0}, {"quality": True}, {"quality": "92"}, {"background": "/etc/passwd"},
        {"theme": "../../etc/passwd"}, {"theme": "spring", "background": "red"}, {"size": "12"},
        {"format": "jpeg", "background": "transparent"}, {"fill": 2}, {"fill": float("nan")}, {"margin": 0.5},
        {"align": "left"}, {"crop": "yes"}, {"shadow": "no"}, {"unknown": 1},
    ],
)
def test_render_request_refuses_bad_options(options) -> None:
    with pytest.raises(InvalidOptionError):
        RenderRequest.from_dict(options)


# ----------------------------------------------------------------------------------------- evidence storage


def test_evidence_round_trip_is_exact_and_deterministic() -> None:
    evidence = get_segmenter("classical").segment(_product_photo(), PromptSet(positives=("box",)))
    data = evidence_to_bytes(evidence)
    assert evidence_to_bytes(evidence) == data  # no timestamps: equal evidence, equal digest
    back = evidence_from_bytes(data)
    for name in ("image", "heatmap", "labels", "prior"):
        original, restored = getattr(evidence, name), getattr(back, name)
        assert restored.dtype == original.dtype and np.array_equal(restored, original), name
    assert (back.backend, back.label_names, back.negative_heatmap, back.prompts_used, back.notes) == (
        evidence.backend, evidence.label_names, None, evidence.prompts_used, evidence.notes)
    with np.load(io.BytesIO(data), allow_pickle=False) as plain:  # an ordinary .npz
        assert {"image", "heatmap", "labels", "prior"} <= set(plain.files)


def test_evidence_round_trip_with_names_negatives_and_wide_labels() -> None:
    rng = np.random.default_rng(0)
    shape = (20, 30)
    evidence = Evidence(
        image=rng.integers(0, 256, (*shape, 3), dtype=np.uint8),
        heatmap=rng.random(shape, dtype=np.float32),
        labels=rng.integers(0, 70_000, shape).astype(np.int32),
        prior=rng.random(shape, dtype=np.float32),
        backend="neural",
        label_names=("person", "cup"),
        negative_heatmap=rng.random(shape, dtype=np.float32),
        prompts_used=True,
        notes=("a note",),
    )
    back = evidence_from_bytes(evidence_to_bytes(evidence))
    assert np.array_equal(back.labels, evidence.labels) and back.labels.dtype == np.int32
    assert np.array_equal(back.negative_heatmap, evidence.negative_heatmap)
    assert back.label_names == ("person", "cup") and back.prompts_used and back.notes == ("a note",)


def test_corrupt_or_pickled_evidence_is_refused() -> None:
    data = evidence_to_bytes(get_segmenter("classical").segment(_product_photo(120, 160), PromptSet()))
    for bad in (b"", b"PK\x03\x04 nonsense", data[: len(data) // 2]):
        with pytest.raises(InvalidArtifactError):
            evidence_from_bytes(bad)
    pickled = io.BytesIO()
    np.savez(pickled, image=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(InvalidArtifactError):
        evidence_from_bytes(pickled.getvalue())
    wrong = io.BytesIO()
    with zipfile.ZipFile(wrong, "w") as archive:
        archive.writestr("meta.npy", b"\x93NUMPY garbage")
    with pytest.raises(InvalidArtifactError):
        evidence_from_bytes(wrong.getvalue())


# --------------------------------------------------------------------------------------------- the layer


def test_layer_composite_matches_compose_and_round_trips() -> None:
    rng = np.random.default_rng(5)
    foreground = rng.integers(0, 256, (180, 240, 3), dtype=np.uint8)
    alpha = np.zeros((180, 240), np.float32)
    alpha[40:170, 70:180] = 1.0
    alpha[40:170, 68:70] = 0.4
    theme = Themed(load_theme("spring"))
    for framing in (Framing(), Framing(size=(200, 150), align="bottom"), Framing(crop=False), Framing(fill=1.0)):
        layer = layer_from_bytes(layer_to_bytes(build_layer(foreground, alpha, framing, key="k")))
        assert layer.key == "k"
        width, height = layer.canvas
        for shadow in (False, True):
            reference = compose(foreground, alpha, theme, Framing(**{**framing.__dict__, "shadow": shadow}))
            ours = composite_layer(layer, render_theme(theme.theme, width, height), shadow)
            assert ours.shape == reference.shape
            assert np.abs(ours.astype(int) - reference).max() <= 2
        rgba = composite_layer(layer, None, False)
        reference = compose(foreground, alpha, Transparent(), Framing(**{**framing.__dict__, "shadow": False}))
        assert np.abs(rgba[..., 3].astype(int) - reference[..., 3]).max() <= 1


def test_an_empty_cut_is_refused_not_rendered_as_a_bare_background() -> None:
    with pytest.raises(NoProductError):
        build_layer(np.zeros((50, 60, 3), np.uint8), np.zeros((50, 60), np.float32), Framing(size=(40, 30)))


def test_layer_bytes_are_validated() -> None:
    with pytest.raises(InvalidArtifactError):
        layer_from_bytes(b"nonsense")
    layer = build_layer(np.zeros((50, 60, 3), np.uint8), np.ones((50, 60), np.float32), Framing())
    with pytest.raises(InvalidArtifactError):
        evidence_from_bytes(layer_to_bytes(layer))  # a layer is not evidence


# ---------------------------------------------------------------------------------- shadow and JPEG fast paths


def test_shadow_patch_is_exactly_the_nonzero_part_of_the_contact_shadow() -> None:
    alpha = np.zeros((400, 300), np.float32)
    alpha[60:400, 90:210] = 1.0  # touches the bottom: the shadow is clipped by the canvas
    full = contact_shadow(alpha)
    (x, y), patch = shadow_patch(alpha[60:400, 90:210], origin=(90, 60), canvas=(400, 300))
    pasted = np.zeros_like(full)
    pasted[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    assert np.array_equal(pasted, full) and full.max() > 0.2


def test_shadow_matches_a_full_canvas_blur_within_a_level() -> None:
    """The wide blur runs on a coarser grid; against the direct full-resolution recipe it is within 1/255·2."""
    alpha = np.zeros((500, 700), np.float32)
    alpha[50:420, 150:560] = 1.0
    ours = contact_shadow(alpha)
    # the direct recipe: the same two ellipses, drawn and blurred on the whole canvas
    x0, x1, y1 = 150, 560, 420  # the box's top (y0 = 50) does not enter the shadow
    span = float(np.clip((x1 - x0) * 1.15, 0.5 * (x1 - x0), 1.05 * (x1 - x0)))
    direct = np.zeros_like(alpha)
    for share, ratio, opacity, blur in ((1.0, 0.10, 0.55, 0.35), (0.7, 0.045, 0.9, 0.25)):
        rx, ry = span * share / 2, max(1.0, span * share * ratio / 2)
        layer = np.zeros_like(alpha)
        cv2.ellipse(
            layer,
            (int(round(x0 + (x1 - 1 - x0) / 2)), int(round(y1 - ry * 0.25))),
            (int(round(rx)), int(round(ry))),
            0,
            0,
            360,
            opacity,
            -1,
            cv2.LINE_AA,
        )
        layer = cv2.GaussianBlur(layer, (0, 0), max(0.8, ry * blur * 2))
        direct = 1.0 - (1.0 - direct) * (1.0 - layer)
    assert np.abs(ours - np.clip(direct * 0.45, 0, 1)).max() <= 2 / 255


def test_large_jpegs_are_encoded_in_strips_with_the_same_pixels() -> None:
    """Above PARALLEL_MIN_PIXELS strips are encoded on several threads and joined with restart markers:
    decoded pixels equal Pillow's single-pass file exactly, for both samplings and uneven sizes."""
    from fusion import jpeg

    rng = np.random.default_rng(2)
    photo = cv2.resize(np.asarray(Image.open(SAMPLES / "astronaut.jpg").convert("RGB")), (1003, 997))
    noise = rng.integers(0, 256, (1201, 650, 3), dtype=np.uint8)
    for pixels in (photo, noise):
        assert pixels.shape[0] * pixels.shape[1] >= jpeg.PARALLEL_MIN_PIXELS
        for quality in (75, 92):
            ours = encode_image(pixels, "jpeg", quality=quality)
            expected = io.BytesIO()
            Image.fromarray(pixels).save(
                expected, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2, icc_profile=srgb_icc_bytes()
            )
            with Image.open(io.BytesIO(ours)) as img:
                assert img.size == (pixels.shape[1], pixels.shape[0])
                assert img.info.get("icc_profile") == srgb_icc_bytes()
                decoded = np.asarray(img.convert("RGB"))
            if jpeg._threads() > 1:
                assert b"\xff\xdd\x00\x04" in ours and b"\xff\xd0" in ours  # DRI and the first restart marker
            assert np.array_equal(decoded, np.asarray(Image.open(expected).convert("RGB")))
            opencv = cv2.imdecode(np.frombuffer(ours, np.uint8), cv2.IMREAD_COLOR)
            assert np.array_equal(opencv[..., ::-1], decoded)


def test_fast_jpeg_is_byte_identical_to_pil() -> None:
    rng = np.random.default_rng(1)
    photo = np.asarray(Image.open(SAMPLES / "rocket.jpg").convert("RGB"))
    for pixels in (photo, photo[::3, ::2], rng.integers(0, 256, (17, 9, 3), dtype=np.uint8)):
        for quality in (40, 89, 90, 92, 100):
            expected = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(pixels)).save(
                expected, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2, icc_profile=srgb_icc_bytes()
            )
            assert encode_image(pixels, "jpeg", quality=quality) == expected.getvalue()


# ----------------------------------------------------------------------------------------------- neural


@pytest.fixture
def neural_models(request) -> Path:
    """The tiny random-init models (skipped without torch/transformers, failing under CI=true)."""
    require_modules("torch", "transformers")
    return request.getfixturevalue("tiny_model_dir")


@pytest.mark.neural
def test_neural_reprompt_recomputes_heatmaps_but_not_the_label_map(neural_models, store, monkeypatch) -> None:
    from fusion.segmenters.neural import NeuralSegmenter

    neural = NeuralSegmenter(neural_models, working_size=96, threads=1)
    neural.load()
    calls = {"label_map": 0, "heatmaps": 0}
    for name in calls:
        real = getattr(neural, name)

        def counted(*args, _real=real, _name=name):
            calls[_name] += 1
            return _real(*args)

        monkeypatch.setattr(neural, name, counted)
    engine = Engine(store, neural)
    photo = encode_image(_product_photo(160, 120), "png")
    cut = engine.cut(photo, "Red Leather Boot", "", RenderRequest(format="png"))
    assert calls == {"label_map": 1, "heatmaps": 1}
    again = engine.reprompt(
        cut.artifacts, "Red Leather Boot", "a blue mug without the saucer", RenderRequest(format="png")
    )
    assert calls == {"label_map": 1, "heatmaps": 2}
    assert again.metadata["reused"]["label_map"] is True and again.metadata["backend"] == "neural"
    before = evidence_from_bytes(store.get(cut.artifacts["evidence"]))
    after = evidence_from_bytes(store.get(again.artifacts["evidence"]))
    assert again.artifacts["evidence"] != cut.artifacts["evidence"]  # new heatmaps were stored
    assert np.array_equal(after.labels, before.labels) and after.label_names == before.label_names
    assert np.array_equal(after.image, before.image)
    assert not np.array_equal(after.heatmap, before.heatmap)
    assert after.negative_heatmap is not None  # "without the saucer" became a negative prompt


@pytest.mark.neural
def test_evidence_from_another_backend_is_not_fed_to_the_neural_reprompt(neural_models) -> None:
    from fusion.segmenters.neural import NeuralSegmenter

    classical = get_segmenter("classical").segment(_product_photo(120, 160), PromptSet())
    with pytest.raises(InvalidArtifactError):
        NeuralSegmenter(neural_models, working_size=96, threads=1).reprompt(classical, PromptSet())


# ------------------------------------------------------------------------------------------- import hygiene


def test_importing_the_engine_does_not_import_torch() -> None:
    code = "import sys, service.engine.engine, service.bench.operations; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_bench_service_runs_and_reports(tmp_path) -> None:
    from service.bench.operations import bench_service

    result = bench_service([SAMPLES / "coffee-cup.jpg"], longest=256, repeat=1, theme="spring", work_dir=tmp_path)
    (item,) = result.items
    assert item.cut > 0 and item.reprompt > 0 and item.rerender > 0 and item.rerender_cold > 0
    assert result.backend == "classical" and result.output_format == "jpeg"
    assert "worst item" in result.lines()[-1] and result.to_dict()["items"][0]["name"] == "coffee-cup.jpg"
    assert not any(tmp_path.iterdir())  # its temporary store is gone


def test_theme_backgrounds_are_rendered_once_per_size_bucket(monkeypatch) -> None:
    """Product-sized canvases differ by a few px; they share one render (centred crops of it)."""
    import service.engine.backgrounds as backgrounds
    from fusion.compose import Themed
    from fusion.themes import load_theme, render_theme

    calls = []

    def counting(theme, width, height):
        calls.append((width, height))
        return render_theme(theme, width, height)

    monkeypatch.setattr(backgrounds, "render_theme", counting)
    cache = backgrounds.BackgroundCache()
    themed = Themed(load_theme("winter-holidays"))
    first, second = cache.pixels(themed, 700, 690), cache.pixels(themed, 711, 701)
    assert calls == [(768, 768)]
    assert first.shape == (690, 700, 3) and second.shape == (701, 711, 3)
    bucket = render_theme(themed.theme, 768, 768)
    assert np.array_equal(first, bucket[39:729, 34:734])  # the centred window
    assert not first.flags.writeable
    cache.pixels(themed, 769, 700)
    assert calls[-1] == (896, 768)
