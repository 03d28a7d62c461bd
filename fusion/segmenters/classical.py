"""The weight-free segmenter: background-connectivity saliency seeded into a graph cut.

Nothing runs at full resolution: the image is area-downscaled first, so a 24-megapixel photo costs what a
1024 px one does. At `saliency_size` (~200 px):
1. A smooth (quadratic) backdrop model is fitted to the frame. When it explains the frame almost exactly
   (a plain or gradient studio backdrop) the evidence is how unlike that backdrop each pixel is, with cast
   shadows (same hue, darker) discounted.
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
    boundary_connectivity_saliency,
    centre_prior,
    centred_ellipse,
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


def backdrop_evidence(rgb: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """h×w float32 in [0, 1]: how unlike the fitted backdrop each pixel is.

    rgb: h×w×3 uint8; backdrop: h×w×3 float32 predicted backdrop RGB (0..255). A pixel is compared as
    the per-channel ratio to the backdrop: a cast shadow scales all channels alike (same chromaticity,
    down to about half the brightness), so only a change of hue, a deeper darkening or a brightening
    counts as object."""
    ratio = rgb.astype(np.float32) / np.maximum(backdrop, 8.0)
    level = ratio.mean(axis=2)
    hue_shift = np.linalg.norm(ratio / np.maximum(level, 1e-3)[..., None] - 1.0, axis=2)
    evidence = np.maximum.reduce(
        [
            np.clip((hue_shift - 0.04) / 0.12, 0.0, 1.0),  # chromaticity differs from the backdrop's
            np.clip((0.6 - level) / 0.2, 0.0, 1.0),  # darker than a soft shadow gets
            np.clip((level - 1.04) / 0.08, 0.0, 1.0),  # brighter than the backdrop
            0.45 * np.clip((0.96 - level) / 0.1, 0.0, 1.0),  # shadow or grey object: let colour decide
        ]
    )
    return evidence.astype(np.float32)


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


def _frame(shape: tuple[int, int]) -> np.ndarray:
    frame = np.zeros(shape, bool)
    frame[0], frame[-1], frame[:, 0], frame[:, -1] = True, True, True, True
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

    def foreground_evidence(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Superpixels and foreground evidence of a small h×w×3 uint8 image.

        Returns (labels h×w int32, evidence h×w float32 in [0, 1], unlike_backdrop): the last is None
        unless a plain/gradient studio backdrop was detected, then h×w float32 in {0, 1}, 1 where a pixel
        is not the backdrop within its noise."""
        lab = to_lab(rgb)
        labels = superpixels(rgb, self.superpixel_count)
        if fit_backdrop(lab).residual <= self.studio_residual:
            fit = fit_backdrop(rgb.astype(np.float32))
            distance = np.linalg.norm(rgb.astype(np.float32) - fit.backdrop, axis=2)
            unlike = (distance > max(2.0 * fit.residual, 6.0)).astype(np.float32)
            return labels, backdrop_evidence(rgb, fit.backdrop), unlike
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
            prior_weight=self.prior_weight,
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
        labels, evidence, unlike_backdrop = self.foreground_evidence(coarse)
        studio = unlike_backdrop is not None
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
            cut = clean_mask(self.coarse_cut(coarse, evidence, studio, figure), evidence, min_share, unlike_backdrop)

        shape = small.shape[:2]
        evidence = np.clip(_resize(evidence, shape), 0.0, 1.0)
        upsampled = _resize(cut.astype(np.float32), shape) >= 0.5
        foreground = graphcut.refine_edges(small, upsampled, evidence, self.edge_band, self.smoothness)
        if studio:
            unlike_backdrop = _resize(unlike_backdrop, shape)
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
