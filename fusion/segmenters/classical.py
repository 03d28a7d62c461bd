"""The weight-free segmenter: background-connectivity saliency seeded into a graph cut.

Nothing runs at full resolution: the image is area-downscaled first, so a 24-megapixel photo costs what a
1024 px one does. At `saliency_size` (~200 px):
1. A smooth (quadratic) backdrop model is fitted to the frame. When it explains the frame almost exactly
   (a plain or gradient studio backdrop) the evidence is how unlike that backdrop each pixel is: another hue,
   fine texture above the backdrop's grain, a brightening, a deep darkening, or a faint but consistent one (a
   white part on a white sweep). Cast shadows (the backdrop's hue, darker, smooth, against the object, with a
   penumbra or no bigger than it) count as backdrop; smooth grey parts of a product do not. The graph cut
   then sees the photo relative to the backdrop (`backdrop_relative`), so a few levels that set a pale part
   off the sweep fall in colour bins of their own.
2. Otherwise the evidence is saliency from background connectivity: robust background detection on SLIC
   superpixels (regions whose colour-geodesic neighbourhood reaches the frame are background) plus the
   geodesic distance from the frame over colour edges; it is mixed with an ellipse, since in
   clutter saliency alone often picks the wrong thing. The ellipse is placed and sized by the saliency's
   own centroid and spread (subjects are often off-centre, and far smaller or larger than a fixed
   ellipse); `centred_framing` puts a fixed centred one instead. When a model's face is found
   (fusion.segmenters.person: a classical face cascade, skin-colour and framing checks; a single weak
   hit or a head-and-shoulders close-up must also pass other detectors) a figure prior below the face
   takes the ellipse's place.
3. An iterated graph cut (colour histograms re-learnt from each cut, contrast-sensitive smoothing)
   turns the evidence into a mask; specks are dropped and enclosed holes that do not show the backdrop
   are filled. A standing model whose face a second detector confirms is cut once on a finer grid
   (`figure_cut_size`, the working size by default) instead: at ~200 px legs are a few pixels wide and
   the smoothing drops them.
Then at `working_size` (~320 px) only a thin band around the mask edge is cut again, for edges that
follow the image. It cannot read text: prompts are ignored and the Evidence says so (a `reprompt` returns
the stored evidence unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy import ndimage

from fusion.errors import InvalidImageError
from fusion.segmenters import graphcut
from fusion.segmenters.person import (
    CLOSE_UP_SHARE,
    Face,
    haar_confirms,
    model_faces,
    person_prior,
)
from fusion.segmenters.saliency import (
    BackdropFit,
    against_backdrop,
    boundary_connectivity_saliency,
    centre_prior,
    centred_ellipse,
    fine_texture,
    fit_backdrop,
    geodesic_saliency,
    region_graph,
    region_means,
    saliency_ellipse,
    superpixels,
    to_lab,
)
from fusion.types import Evidence
from prompting.types import PromptSet

IGNORED_PROMPTS_NOTE = "classical backend ignores text prompts"
TEXTURE_FLOOR = 0.003  # fine texture (ratio to the backdrop) above twice the backdrop's grain that starts to count
TEXTURE_RAMP = 0.008  # … and how much more makes it certain
SHADOW_PENUMBRA = 1.2  # px (working): a darker patch whose outline fades over less than this is in focus, an object
SHADOW_ZONE = 8  # px around a shadow-like patch searched for its penumbra
SHADOW_MAX_AREA = 2.0  # a hard-edged shadow is at most this many times the object's (surely object) area
FAINT_FLOOR = 0.01  # a smooth darkening (ratio) below this, or 4 noise σ, is the backdrop's own
FAINT_RAMP = 0.05  # … and this much more earns the full (modest) weight of a faint darkening
FAINT_WEIGHT = 0.45  # evidence of a faint, smooth darkening: under half, so the colour models decide
RELATIVE_STRENGTH = 5.0  # contrast stretch of a studio photo relative to its backdrop for the coarse cut …
EDGE_RELATIVE_STRENGTH = 3.0  # … and for the edge re-cut (gentler: a strong stretch also sharpens faint shadows)


def resize_to_working(image: np.ndarray, working_size: int) -> np.ndarray:
    """H×W×3 uint8 → h×w×3 uint8 with max(h, w) ≤ working_size (area-averaged; never upscaled)."""
    h, w = image.shape[:2]
    scale = working_size / max(h, w)
    if scale >= 1.0:
        return np.ascontiguousarray(image)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _normalise(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return ((values - low) / max(high - low, 1e-6)).astype(np.float32)


@dataclass(frozen=True)
class BackdropEvidence:
    """How unlike a fitted studio backdrop each pixel of a small image is (all h×w float32 in [0, 1]).

    evidence: foreground evidence (see `backdrop_evidence`).
    shadow: cast shadows: how much a pixel looks like the backdrop in shadow (its hue, 10–75 % darker, no texture
        of its own), inside the patches `cast_shadows` accepts, else 0.
    """

    evidence: np.ndarray
    shadow: np.ndarray


def backdrop_evidence(rgb: np.ndarray, backdrop: np.ndarray) -> BackdropEvidence:
    """How unlike the fitted backdrop each pixel is, with cast shadows told apart from objects.

    rgb: h×w×3 uint8; backdrop: h×w×3 float32 predicted backdrop RGB (0..255). A pixel is compared as the
    per-channel ratio to the backdrop. A cast shadow scales all channels alike (the backdrop's chromaticity),
    keeps the backdrop's smoothness, lies against the object that casts it and has a penumbra; an object — even
    a white one on a white sweep — has texture of its own (weave, fur, print, grain), a hue of its own or an
    in-focus outline. So the evidence is a change of hue, a brightening, a darkening deeper than any shadow, fine
    texture above the backdrop's own grain, or a darkening that is not a cast shadow (`cast_shadows`); a faint
    darkening, consistent beyond the backdrop's noise, gets a modest weight (a pale part or a contact shadow: the
    graph cut's colour models decide)."""
    level, hue_shift = against_backdrop(rgb, backdrop)
    texture = fine_texture(level)
    frame = _frame(level.shape, 4)
    grain = float(np.median(texture[frame]))  # the backdrop's own noise at this scale
    textured = np.clip((texture - 2.0 * grain - TEXTURE_FLOOR) / TEXTURE_RAMP, 0.0, 1.0)
    neutral = np.clip((0.08 - hue_shift) / 0.04, 0.0, 1.0)
    # A darkening counts from where it is surely not the backdrop's own noise (it is measured after a small blur,
    # so a consistent few levels count): a white part on a white sweep starts there too.
    darkening = 1.0 - cv2.GaussianBlur(level, (0, 0), 1.0)
    spread = 1.4826 * float(np.median(np.abs(darkening[frame] - np.median(darkening[frame]))))
    faint = np.clip((darkening - max(4.0 * spread, FAINT_FLOOR)) / FAINT_RAMP, 0.0, 1.0)
    depth = np.clip((0.9 - level) / 0.08, 0.0, 1.0)  # 0 for a faint darkening (≤ 10 %), 1 from 18 % darker
    surely_object = np.maximum.reduce(
        [
            np.clip((hue_shift - 0.04) / 0.12, 0.0, 1.0),  # chromaticity differs from the backdrop's
            np.clip((0.3 - level) / 0.1, 0.0, 1.0),  # darker than a cast shadow gets
            np.clip((level - 1.04) / 0.08, 0.0, 1.0),  # brighter than the backdrop
            textured,  # texture of its own
        ]
    )
    shadow_like = neutral * (1.0 - textured) * np.clip((level - 0.25) / 0.1, 0.0, 1.0) * depth
    shadow = shadow_like * cast_shadows(level, shadow_like >= 0.5, surely_object >= 0.5)
    evidence = np.maximum.reduce(
        [
            surely_object,
            (1.0 - shadow) * np.clip((0.75 - level) / 0.2, 0.0, 1.0),  # deeply darker, and not a cast shadow
            FAINT_WEIGHT * faint * (1.0 - shadow),  # let colour decide
        ]
    )
    return BackdropEvidence(evidence.astype(np.float32), shadow.astype(np.float32))


def cast_shadows(level: np.ndarray, candidate: np.ndarray, surely_object: np.ndarray) -> np.ndarray:
    """h×w float32 in {0, 1}: the patches of `candidate` (h×w bool: smooth, backdrop-coloured, clearly darker)
    that are cast shadows, not smooth grey parts of a product.

    A cast shadow lies on the backdrop (it can be reached from the frame without crossing the object), against
    the object that casts it (`surely_object`, h×w bool: hue, texture, depth or brightness of its own), and
    either fades out over a penumbra (outside its outline, away from the object, the darkening takes more than
    `SHADOW_PENUMBRA` working px to fall to 8 % of its depth; an in-focus outline takes under one) or, if
    hard-edged, is no larger than `SHADOW_MAX_AREA` × the object and does not surround most of what it touches.
    So a smooth grey product alone, a grey body around its printed logo, a grey kettle beside its small black
    handle, or a penguin's grey belly stay objects. level: h×w float32, brightness as a ratio to the backdrop's.
    """
    count, patches = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=8)
    if count <= 1 or not surely_object.any():
        return np.zeros(level.shape, np.float32)
    ids = np.arange(1, count)
    darkening = 1.0 - level
    near_object = cv2.dilate(surely_object.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    touches = ndimage.maximum(near_object, patches, ids) > 0
    depth = ndimage.median(darkening, patches, ids)
    area = ndimage.sum_labels(candidate, patches, ids)
    # Every pixel just outside a patch, measured against that patch's depth: the band where the darkening fades
    # from the patch's edge to 8 % of its depth, per px of the patch's outline (both away from the object, which
    # hides the rest). Outside only: inside, a grey product's own shading would pass for a penumbra.
    distance, nearest = cv2.distanceTransformWithLabels(
        (patches == 0).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(patches)
    owner = np.zeros(int(nearest.max()) + 1, np.int32)
    owner[nearest[ys, xs]] = patches[ys, xs]  # each patch pixel is its own nearest source
    zone = np.where(distance <= SHADOW_ZONE, owner[nearest], 0)
    away = ~near_object
    own_depth = np.concatenate([[np.inf], depth])[zone]
    transition = (darkening > 0.08 * own_depth) & ~candidate & away & (zone > 0)
    outline = candidate & away & (cv2.erode(candidate.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0)
    width = ndimage.sum_labels(transition, zone, ids) / np.maximum(ndimage.sum_labels(outline, patches, ids), 1.0)
    # … and it lies on the backdrop: it can be reached from the frame without crossing the object (a smooth grey
    # part inside the object, a penguin's belly, cannot).
    _, free = cv2.connectedComponents((~surely_object).astype(np.uint8), connectivity=4)
    outside = np.zeros(int(free.max()) + 1, bool)
    outside[np.unique(free[_frame(free.shape)])] = True
    outside[0] = False
    on_backdrop = ndimage.maximum(outside[free], patches, ids) > 0
    accepted = touches & on_backdrop & (
        (width >= SHADOW_PENUMBRA) | (area <= SHADOW_MAX_AREA * float(surely_object.sum())))
    for index in np.flatnonzero(accepted & (width < SHADOW_PENUMBRA)):
        patch = patches == index + 1  # a hard-edged one: does it surround (most of) the object it touches?
        beside = cv2.dilate(patch.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & surely_object
        inside = ndimage.binary_fill_holes(patch) & ~patch & surely_object
        if inside.sum() > 0.5 * beside.sum():
            accepted[index] = False
    return np.concatenate([[False], accepted])[patches].astype(np.float32)


@dataclass(frozen=True)
class StudioBackdrop:
    """A plain/gradient studio backdrop found in a small h×w image (all arrays h×w, float32).

    backdrop: h×w×3, the backdrop's fitted RGB colour (0..255) everywhere.
    evidence: in [0, 1], how unlike the backdrop each pixel is (`backdrop_evidence`).
    shadow: in [0, 1], cast shadows on the backdrop (`cast_shadows`).
    unlike: in {0, 1}, 1 where a pixel is not the backdrop within its noise and not a cast shadow on it.
    """

    backdrop: np.ndarray
    evidence: np.ndarray
    shadow: np.ndarray
    unlike: np.ndarray


def plain_backdrop(rgb: np.ndarray, max_residual: float = 3.0) -> BackdropFit | None:
    """The smooth backdrop fitted (in RGB) to the frame of a small h×w×3 uint8 image (a few hundred px a side), or
    None when it is no plain/gradient studio backdrop: the fit leaves more than `max_residual` (Lab units, robust
    spread) unexplained."""
    if fit_backdrop(to_lab(rgb)).residual > max_residual:
        return None
    return fit_backdrop(rgb.astype(np.float32))


def studio_backdrop(rgb: np.ndarray, max_residual: float = 3.0) -> StudioBackdrop | None:
    """The plain/gradient studio backdrop of a small h×w×3 uint8 image (`plain_backdrop`) and how each pixel
    differs from it, or None when there is none."""
    fit = plain_backdrop(rgb, max_residual)
    if fit is None:
        return None
    distance = np.linalg.norm(rgb.astype(np.float32) - fit.backdrop, axis=2)
    found = backdrop_evidence(rgb, fit.backdrop)
    unlike = ((distance > max(2.0 * fit.residual, 6.0)) & (found.shadow < 0.5)).astype(np.float32)
    return StudioBackdrop(fit.backdrop, found.evidence, found.shadow, unlike)


def backdrop_relative(rgb: np.ndarray, backdrop: np.ndarray, strength: float = RELATIVE_STRENGTH) -> np.ndarray:
    """h×w×3 uint8: each channel as its log-ratio to the backdrop, 128 + 127·tanh(strength·log(v / backdrop)).

    rgb: h×w×3 uint8; backdrop: h×w×3 float32 (0..255). The backdrop becomes an even mid-grey whatever its colour
    or gradient, and the few levels that set a white part off a white sweep are stretched over several of the
    graph cut's colour bins (5 % darker lands 2 bins away, noise stays within one), while deep colours, which
    need no such help, are compressed towards the ends. The cut's colour models and contrast weights then see
    pale-on-pale edges they would otherwise lose in the backdrop's own bin."""
    ratio = (rgb.astype(np.float32) + 1.0) / (np.maximum(backdrop, 0.0) + 1.0)
    return np.clip(np.rint(128.0 + 127.0 * np.tanh(strength * np.log(ratio))), 0, 255).astype(np.uint8)


def clean_mask(
    mask: np.ndarray,
    evidence: np.ndarray,
    min_share: float = 0.1,
    hole_evidence: np.ndarray | None = None,
    max_hole_share: float = 0.002,
) -> np.ndarray:
    """Drop components holding less than `min_share` of the strongest component's evidence mass, then
    fill enclosed holes that are tiny (< `max_hole_share` of the image) or look like foreground (mean
    `hole_evidence`, default `evidence`, ≥ 0.5); a gap between legs showing the backdrop stays open.
    mask: h×w bool; evidence, hole_evidence: h×w float32 in [0, 1]."""
    hole_evidence = evidence if hole_evidence is None else hole_evidence
    count, components = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask
    mass = ndimage.sum_labels(evidence, components, index=np.arange(1, count))
    kept = np.isin(components, np.flatnonzero(mass >= min_share * mass.max()) + 1)
    holes = ndimage.binary_fill_holes(kept) & ~kept
    count, hole_ids = cv2.connectedComponents(holes.astype(np.uint8), connectivity=4)
    if count <= 1:
        return kept
    ids = np.arange(1, count)
    area = ndimage.sum_labels(np.ones_like(evidence), hole_ids, index=ids)
    mean = ndimage.mean(hole_evidence, hole_ids, index=ids)
    fill = ids[(area < max_hole_share * mask.size) | (mean >= 0.5)]
    return kept | np.isin(hole_ids, fill)


def split_regions(labels: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Cut every superpixel along the foreground boundary → h×w int32 ids 0..n-1."""
    _, dense = np.unique(labels.astype(np.int64) * 2 + foreground, return_inverse=True)
    return dense.reshape(labels.shape).astype(np.int32)


def _frame(shape: tuple[int, int], width: int = 1) -> np.ndarray:
    frame = np.zeros(shape, bool)
    frame[:width], frame[-width:], frame[:, :width], frame[:, -width:] = True, True, True, True
    return frame


def _resize(values: np.ndarray, shape: tuple[int, int], interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    return cv2.resize(values, (shape[1], shape[0]), interpolation=interpolation)


@dataclass(frozen=True)
class Figure:
    """A model found in the photo: person_prior()'s soft `prior` (h×w float32 in [0, 1]) and `envelope`
    (h×w bool) on the grid they were drawn for, the `face` (px of the working-size image) they hang from,
    and whether a second, Haar-feature detector also sees that face (`confirmed`)."""

    prior: np.ndarray
    envelope: np.ndarray
    face: Face
    confirmed: bool


class ClassicalSegmenter:
    """Saliency + graph cut segmenter with no learned weights (see module docstring).

    working_size: longest side (px) of the returned Evidence and of the edge refinement.
    saliency_size: longest side (px) of superpixels, saliency and the coarse cut.
    superpixel_count: SLIC regions at saliency_size.
    studio_residual: Lab spread of the frame around a smooth backdrop below which the image counts as
        a plain/gradient studio shot.
    cut_iterations: coarse graph-cut passes (the first over the whole image, later ones near its edge).
    smoothness: weight of the contrast-sensitive smoothing between neighbouring pixels.
    edge_band: half-width (px at working_size) of the band re-cut at working resolution.
    min_component_share: components with less evidence than this share of the strongest are dropped.
    prior_weight: weight of the evidence itself (besides the colour models) in the coarse cut.
    studio_prior_weight: the same on a plain/gradient studio backdrop, where the backdrop evidence is more
        reliable than colour histograms (a pale part shares the backdrop's bins, a cast shadow an object's).
    centre_share: weight of the framing ellipse in the seed (non-studio images only).
    centred_framing: a fixed centred ellipse instead of one placed by the saliency's centroid and spread.
    coarse_diagonal: 8-connected coarse cut of photos (better edges and fewer staircase errors; a little
        slower) instead of 4-connected. Studio cuts stay 4-connected: their backdrop evidence is already
        decisive, and the 8-connected graph measured slightly worse there.
    surely_background: seed level under which a pixel is fixed as background.
    person_prior: look for a model's face (skin-coloured, near the top of the frame, figure reaching the
        lower part of it, or a confirmed close-up) and, when found, seed with a figure prior instead of the ellipse.
    person_share: weight of that figure prior in the seed.
    person_envelope: also fix everything far outside the figure's outline as background.
    person_min_neighbours, person_scale_step: face-detector settings (detections confirming a face; window growth).
    figure_cut_size: longest side (px) of the coarse cut of a standing model (not a close-up) whose face
        a second detector confirms (a single pass, `figure_cut_iterations`): legs and arms are a few pixels
        wide at `saliency_size` and the cut there drops them. 0 keeps such photos at `saliency_size`.
    """

    name = "classical"

    def __init__(
        self,
        working_size: int = 320,
        saliency_size: int = 200,
        superpixel_count: int = 300,
        studio_residual: float = 3.0,
        cut_iterations: int = 3,
        smoothness: float = 12.0,
        edge_band: int = 3,
        min_component_share: float = 0.1,
        prior_weight: float = 0.5,
        studio_prior_weight: float = 1.0,
        centre_share: float = 0.5,
        centred_framing: bool = False,
        coarse_diagonal: bool = True,
        surely_background: float = 0.06,
        person_prior: bool = True,
        person_share: float = 0.7,
        person_envelope: bool = False,
        person_min_neighbours: int = 2,
        person_scale_step: float = 1.05,
        figure_cut_size: int = 320,
        figure_cut_iterations: int = 1,
    ) -> None:
        self.working_size = working_size
        self.saliency_size = min(saliency_size, working_size)
        self.superpixel_count = superpixel_count
        self.studio_residual = studio_residual
        self.cut_iterations = cut_iterations
        self.smoothness = smoothness
        self.edge_band = edge_band
        self.min_component_share = min_component_share
        self.prior_weight = prior_weight
        self.studio_prior_weight = studio_prior_weight
        self.centre_share = centre_share
        self.centred_framing = centred_framing
        self.coarse_diagonal = coarse_diagonal
        self.surely_background = surely_background
        self.person_prior = person_prior
        self.person_share = person_share
        self.person_envelope = person_envelope
        self.person_min_neighbours = person_min_neighbours
        self.person_scale_step = person_scale_step
        self.figure_cut_size = min(figure_cut_size, working_size)
        self.figure_cut_iterations = figure_cut_iterations

    def foreground_evidence(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, StudioBackdrop | None]:
        """Superpixels and foreground evidence of a small h×w×3 uint8 image.

        Returns (labels h×w int32, evidence h×w float32 in [0, 1], studio): `studio` is None unless a
        plain/gradient studio backdrop was detected (`studio_backdrop`); the evidence is then its own."""
        labels = superpixels(rgb, self.superpixel_count)
        studio = studio_backdrop(rgb, self.studio_residual)
        if studio is not None:
            return labels, studio.evidence, studio
        lab = to_lab(rgb)
        connectivity, _ = boundary_connectivity_saliency(region_graph(labels, lab))
        geodesic = region_means(labels, geodesic_saliency(lab))
        return labels, _normalise(_normalise(connectivity) + _normalise(geodesic))[labels], None

    def figure_prior(self, small: np.ndarray, evidence: np.ndarray, faces: list[Face] | None = None) -> Figure | None:
        """The Figure on the grid of `evidence` when a model's face is found in `small` (h×w×3 uint8 at
        working size; `faces` found there already, if given), else None. Of several faces, the figure the
        evidence supports best wins."""
        if faces is None:
            faces = model_faces(small, min_neighbours=self.person_min_neighbours, scale_step=self.person_scale_step)
        ratio = evidence.shape[0] / small.shape[0]
        best, best_support = None, -1.0
        for face in faces:
            prior, envelope = person_prior(evidence.shape, Face(face.x * ratio, face.y * ratio, face.width * ratio))
            core = prior >= 0.85
            support = float(evidence[core].mean()) if core.any() else 0.0
            if support > best_support:
                best, best_support = (prior, envelope, face), support
        if best is None:
            return None
        prior, envelope, face = best
        return Figure(prior, envelope, face, confirmed=haar_confirms(small, face))

    def coarse_cut(
        self,
        rgb: np.ndarray,
        evidence: np.ndarray,
        studio: bool,
        figure: Figure | None = None,
        iterations: int | None = None,
    ) -> np.ndarray:
        """Graph cut of a small h×w×3 uint8 image seeded by `evidence` (h×w float32) → h×w bool;
        `figure` is figure_prior()'s on the same grid, if a model was found; `iterations` defaults to
        `cut_iterations`."""
        seed = cv2.GaussianBlur(evidence, (0, 0), 1.0)
        if figure is not None:
            seed = (1.0 - self.person_share) * seed + self.person_share * figure.prior
        elif not studio:
            framing = centred_ellipse(seed.shape) if self.centred_framing else saliency_ellipse(evidence)
            seed = (1.0 - self.centre_share) * seed + self.centre_share * framing
        # The frame is backdrop unless the evidence says otherwise; so is anything with next to no
        # evidence (off-centre and not salient), which also keeps the graph small.
        sure_bg = (_frame(seed.shape) & (seed < 0.3)) | (seed < self.surely_background)
        if figure is not None and self.person_envelope:
            sure_bg |= ~figure.envelope
        return graphcut.refine(
            rgb,
            seed,
            np.zeros(seed.shape, bool),
            sure_bg,
            iterations=self.cut_iterations if iterations is None else iterations,
            smoothness=self.smoothness,
            prior_weight=self.studio_prior_weight if studio else self.prior_weight,
            diagonal=self.coarse_diagonal and not studio,
        )

    def reprompt(self, evidence: Evidence, prompts: PromptSet) -> Evidence:
        """New prompts for stored evidence of this backend: nothing here reads text, so the evidence comes back
        unchanged (same arrays), only its note about ignored prompts follows the new prompts."""
        notes = tuple(note for note in evidence.notes if note != IGNORED_PROMPTS_NOTE)
        notes = notes if prompts.empty else (IGNORED_PROMPTS_NOTE, *notes)
        return evidence if notes == evidence.notes else replace(evidence, notes=notes)

    def segment(self, image: np.ndarray, prompts: PromptSet) -> Evidence:
        """image: H×W×3 uint8 RGB at full resolution → Evidence at working resolution."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InvalidImageError(f"segmenter needs an H×W×3 uint8 RGB image, got {image.shape} {image.dtype}")
        small = resize_to_working(image, self.working_size)
        coarse = resize_to_working(small, self.saliency_size)
        labels, evidence, backdrop = self.foreground_evidence(coarse)
        studio = backdrop is not None
        min_share = 0.01 if studio else self.min_component_share  # a studio shot may hold several items
        faces = [] if studio or not self.person_prior else model_faces(
            small, min_neighbours=self.person_min_neighbours, scale_step=self.person_scale_step
        )
        figure = self.figure_prior(small, evidence, faces) if faces else None
        fine_cut = (
            figure is not None
            and figure.confirmed
            and figure.face.width < CLOSE_UP_SHARE * small.shape[0]
            and self.figure_cut_size > self.saliency_size
        )
        shape = small.shape[:2]
        unlike_backdrop, guide = None, small
        if backdrop is not None:
            # On a studio backdrop both cuts see the photo relative to the backdrop (see backdrop_relative).
            unlike_backdrop = _resize(backdrop.unlike, shape)
            guide = backdrop_relative(small, _resize(backdrop.backdrop, shape), EDGE_RELATIVE_STRENGTH)
            coarse = backdrop_relative(coarse, backdrop.backdrop)
        if fine_cut:
            # A confirmed standing model: cut at a finer grid so that legs and arms survive (one pass is
            # enough there). An unconfirmed face (fur, a lion's muzzle) keeps the coarse grid, where a wrong
            # figure prior costs less; so does a close-up, which has no thin limbs and scored better coarse.
            grid = resize_to_working(small, self.figure_cut_size)
            fine_evidence = np.clip(_resize(evidence, grid.shape[:2]), 0.0, 1.0)
            ratio = grid.shape[0] / small.shape[0]
            face = Face(figure.face.x * ratio, figure.face.y * ratio, figure.face.width * ratio)
            prior, envelope = person_prior(grid.shape[:2], face)  # the same figure, drawn on the finer grid
            fine_figure = replace(figure, prior=prior, envelope=envelope)
            cut = self.coarse_cut(grid, fine_evidence, studio, fine_figure, self.figure_cut_iterations)
            cut = clean_mask(cut, fine_evidence, min_share)
        else:
            coarse_unlike = None if backdrop is None else backdrop.unlike
            cut = clean_mask(self.coarse_cut(coarse, evidence, studio, figure), evidence, min_share, coarse_unlike)

        evidence = np.clip(_resize(evidence, shape), 0.0, 1.0)
        upsampled = _resize(cut.astype(np.float32), shape) >= 0.5
        foreground = graphcut.refine_edges(guide, upsampled, evidence, self.edge_band, self.smoothness)
        foreground = clean_mask(foreground, evidence, min_share, unlike_backdrop)

        notes = () if prompts.empty else (IGNORED_PROMPTS_NOTE,)
        if studio:
            notes += ("plain backdrop detected",)
        if figure is not None:
            notes += ("model's face found: seeded with a figure prior below it",)
        if fine_cut:
            notes += (f"face confirmed by a second detector: figure cut at {max(grid.shape[:2])} px so limbs survive",)
        return Evidence(
            image=small,
            # Decisive inside/outside the cut, with the raw evidence kept as a tie-breaking shade.
            heatmap=np.clip(0.75 * foreground + 0.25 * evidence, 0.0, 1.0).astype(np.float32),
            labels=split_regions(_resize(labels, shape, cv2.INTER_NEAREST), foreground),
            prior=centre_prior(shape),
            backend=self.name,
            prompts_used=False,
            notes=notes,
        )
