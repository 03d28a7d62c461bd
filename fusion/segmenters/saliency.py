"""Weight-free foreground evidence: superpixel graphs, background connectivity, border colour models.

Everything here works on small working-resolution arrays (a few hundred px a side). Colours are CIE Lab
as float32 (L in [0, 100], a/b roughly in [-128, 127]); positions are normalised to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse.linalg import spsolve
from skimage.graph import MCP_Geometric
from skimage.segmentation import slic

from fusion.segmenters.regions import adjacent_pairs


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """h×w×3 uint8 RGB → h×w×3 float32 CIE Lab (L 0..100)."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def superpixels(rgb: np.ndarray, count: int = 300, compactness: float = 10.0) -> np.ndarray:
    """SLIC superpixels of an h×w×3 uint8 RGB image → h×w int32 ids 0..n-1 (every id used)."""
    labels = slic(rgb, n_segments=count, compactness=compactness, start_label=0, enforce_connectivity=True)
    _, dense = np.unique(labels, return_inverse=True)
    return dense.reshape(labels.shape).astype(np.int32)


@dataclass(frozen=True)
class RegionGraph:
    """Per-superpixel statistics and 4-neighbour adjacency.

    colour:   n×3 float32 mean Lab.
    position: n×2 float32 mean (x, y) in [0, 1].
    size:     n int, pixel count.
    edges:    m×2 int, each adjacent pair once (i < j).
    border:   n bool, region touches the image frame.
    """

    colour: np.ndarray
    position: np.ndarray
    size: np.ndarray
    edges: np.ndarray
    border: np.ndarray

    @property
    def count(self) -> int:
        return len(self.size)


def region_graph(labels: np.ndarray, lab: np.ndarray) -> RegionGraph:
    """Statistics of the regions of `labels` (h×w int32, ids 0..n-1) over `lab` (h×w×3 float32)."""
    h, w = labels.shape
    n = int(labels.max()) + 1
    flat = labels.ravel()
    size = np.bincount(flat, minlength=n)
    colour = np.stack([np.bincount(flat, lab[..., c].ravel(), n) for c in range(3)], axis=1) / size[:, None]
    ys, xs = np.mgrid[0:h, 0:w]
    position = np.stack(
        [np.bincount(flat, xs.ravel() / max(w - 1, 1), n), np.bincount(flat, ys.ravel() / max(h - 1, 1), n)], axis=1
    ) / size[:, None]
    edges = adjacent_pairs(labels)
    border = np.zeros(n, bool)
    border[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
    return RegionGraph(colour.astype(np.float32), position.astype(np.float32), size, edges, border)


def _geodesic_distances(graph: RegionGraph, weights: np.ndarray) -> np.ndarray:
    """n×n shortest-path lengths over the adjacency graph. Border regions are joined through one extra
    hub node at (almost) no cost, so background split by the object still counts as one backdrop."""
    n = graph.count
    border = np.flatnonzero(graph.border)
    rows = np.concatenate([graph.edges[:, 0], border])
    cols = np.concatenate([graph.edges[:, 1], np.full(len(border), n)])
    vals = np.concatenate([np.maximum(weights, 1e-6), np.full(len(border), 1e-6)])
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(n + 1, n + 1))
    return csgraph.shortest_path(matrix, method="D", directed=False, indices=np.arange(n))[:, :n]


def boundary_connectivity_saliency(
    graph: RegionGraph,
    sigma_colour: float = 10.0,
    sigma_connectivity: float = 1.0,
    sigma_space: float = 0.25,
    smoothness: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Robust background detection (Zhu et al., CVPR 2014) on a region graph.

    A region whose colour-geodesic neighbourhood touches the frame a lot is background. Returns
    (saliency, background_weight): two n-vectors of float32 in [0, 1].
    """
    colour_step = np.linalg.norm(graph.colour[graph.edges[:, 0]] - graph.colour[graph.edges[:, 1]], axis=1)
    geodesic = _geodesic_distances(graph, colour_step)
    similarity = np.exp(-(geodesic**2) / (2 * sigma_colour**2))
    span_area = similarity.sum(axis=1)
    span_border = similarity[:, graph.border].sum(axis=1)
    connectivity = span_border / np.sqrt(span_area)
    background = 1.0 - np.exp(-(connectivity**2) / (2 * sigma_connectivity**2))

    colour_distance = np.linalg.norm(graph.colour[:, None, :] - graph.colour[None, :, :], axis=2)
    space_distance = np.linalg.norm(graph.position[:, None, :] - graph.position[None, :, :], axis=2)
    spatial = np.exp(-(space_distance**2) / (2 * sigma_space**2))
    contrast = (colour_distance * spatial * background[None, :]).sum(axis=1)
    foreground = contrast / max(float(contrast.max()), 1e-6)

    # Quadratic energy: background pulled to 0, foreground to 1, similar neighbours kept together.
    n = graph.count
    pair_weight = np.exp(-(colour_step**2) / (2 * sigma_colour**2)) + smoothness
    i, j = graph.edges[:, 0], graph.edges[:, 1]
    adjacency = sparse.csr_matrix(
        (np.concatenate([pair_weight, pair_weight]), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n)
    )
    laplacian = sparse.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency
    system = sparse.diags(background + foreground) + laplacian
    saliency = spsolve(system.tocsc(), foreground)
    return np.clip(saliency, 0.0, 1.0).astype(np.float32), background.astype(np.float32)


def centre_prior(shape: tuple[int, int], sigma: float = 0.3) -> np.ndarray:
    """h×w float32 in (0, 1]: a Gaussian centred on the frame, `sigma` in fractions of each side."""
    h, w = shape
    y = (np.arange(h, dtype=np.float32) / max(h - 1, 1) - 0.5)[:, None]
    x = (np.arange(w, dtype=np.float32) / max(w - 1, 1) - 0.5)[None, :]
    return np.exp(-(x**2 + y**2) / (2 * sigma**2)).astype(np.float32)


@dataclass(frozen=True)
class BackdropFit:
    """A smooth backdrop model fitted to the frame of the image.

    backdrop: h×w×3 float32 Lab, the predicted backdrop colour everywhere (quadratic in x, y).
    residual: float, robust spread (Lab units) of the frame pixels around the fit; small = plain studio.
    """

    backdrop: np.ndarray
    residual: float


def _design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)


def fit_backdrop(lab: np.ndarray, strip: int = 4) -> BackdropFit:
    """Fit a quadratic colour surface to the outer `strip` px of `lab` (h×w×3 float32).

    The fit is repeated on the better-fitting 70 % of frame pixels, so an object touching the frame
    does not bend the backdrop."""
    h, w = lab.shape[:2]
    frame = np.zeros((h, w), bool)
    frame[:strip], frame[-strip:], frame[:, :strip], frame[:, -strip:] = True, True, True, True
    ys, xs = np.nonzero(frame)
    xn, yn = xs / max(w - 1, 1), ys / max(h - 1, 1)
    design = _design(xn, yn)
    target = lab[ys, xs].astype(np.float64)
    keep = np.ones(len(ys), bool)
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(design[keep], target[keep], rcond=None)
        error = np.linalg.norm(design @ coef - target, axis=1)
        keep = error <= np.quantile(error, 0.7)
    residual = float(np.quantile(error, 0.9))
    gy, gx = np.mgrid[0:h, 0:w]
    backdrop = (_design(gx / max(w - 1, 1), gy / max(h - 1, 1)) @ coef).astype(np.float32)
    return BackdropFit(backdrop, residual)


def against_backdrop(rgb: np.ndarray, backdrop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(level, hue_shift), both h×w float32: each pixel of `rgb` (h×w×3 uint8) as a per-channel ratio to the
    fitted `backdrop` (h×w×3 float32, 0..255). level is the mean ratio (1 = the backdrop's brightness, 0.6 = 40 %
    darker); hue_shift how far the ratios differ from each other (0 = the backdrop's chromaticity, as in a cast
    shadow, which scales every channel alike)."""
    ratio = rgb.astype(np.float32) / np.maximum(backdrop, 8.0)
    level = ratio.mean(axis=2)
    hue_shift = np.linalg.norm(ratio / np.maximum(level, 1e-3)[..., None] - 1.0, axis=2)
    return level.astype(np.float32), hue_shift.astype(np.float32)


def fine_texture(values: np.ndarray, window: int = 5, cap: float = 0.064) -> np.ndarray:
    """h×w float32 in [0, cap]: how much `values` (h×w float, e.g. a ratio to the backdrop) vary at the finest
    scale around each pixel, ignoring outlines and ramps.

    Per pixel, the smallest of the four second differences |v(p−u) − 2·v(p) + v(p+u)| / 2 (along the row, the
    column and both diagonals): a ramp of any slope or direction (a shadow's penumbra, shading) has none, a
    straight edge has none along itself, while texture (weave, fur, print) and noise have them every way. Then
    the median over a `window`×`window` neighbourhood, so an outline, a corner or a speck, a line or a point
    under half the window, does not count either. Saturates at `cap` (8 bits for OpenCV's fast median: steps of
    cap/255)."""
    padded = np.pad(values.astype(np.float32), 1, mode="edge")
    h, w = values.shape
    centre = padded[1:1 + h, 1:1 + w]

    def curvature(dy: int, dx: int) -> np.ndarray:
        before = padded[1 - dy:1 - dy + h, 1 - dx:1 - dx + w]
        after = padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
        return np.abs(before + after - 2.0 * centre)

    straight = np.minimum(curvature(0, 1), curvature(1, 0))
    detail = 0.5 * np.minimum(straight, np.minimum(curvature(1, 1), curvature(1, -1)))
    coded = np.clip(np.rint(detail * (255.0 / cap)), 0, 255).astype(np.uint8)
    return (cv2.medianBlur(coded, window).astype(np.float32) * (cap / 255.0)).astype(np.float32)


def geodesic_saliency(lab: np.ndarray, floor: float = 0.5) -> np.ndarray:
    """Geodesic distance from the image frame over colour edges → h×w float32 in [0, 1].

    Paths that must cross strong edges to reach a pixel from the frame make it salient; `floor` is the
    cost of a step through flat colour, so large flat regions far from the frame score a little too."""
    smooth = cv2.GaussianBlur(lab, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    gradient = np.sqrt((gx**2 + gy**2).sum(axis=2)) / 8.0
    h, w = gradient.shape
    frame = np.zeros((h, w), bool)
    frame[0], frame[-1], frame[:, 0], frame[:, -1] = True, True, True, True
    distance, _ = MCP_Geometric(gradient + floor).find_costs(np.argwhere(frame))
    distance = distance.astype(np.float32)
    return (distance - distance.min()) / max(float(distance.max() - distance.min()), 1e-6)


def region_means(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of `values` (h×w) inside each region of `labels` (h×w int, ids 0..n-1) → n float32."""
    flat = labels.ravel()
    n = int(flat.max()) + 1
    return (np.bincount(flat, values.ravel(), n) / np.maximum(np.bincount(flat, minlength=n), 1)).astype(np.float32)


def _soft_ellipse(
    shape: tuple[int, int], centre: tuple[float, float], half_axes: tuple[float, float], softness: float
) -> np.ndarray:
    """h×w float32 in [0, 1]: 1 inside an axis-aligned ellipse (centre and half-axes in fractions of each
    side, centre measured from the middle of the frame), falling to 0 over `softness` (fraction of the
    shorter side) outside it."""
    h, w = shape
    y = (np.arange(h, dtype=np.float32) / max(h - 1, 1) - 0.5)[:, None]
    x = (np.arange(w, dtype=np.float32) / max(w - 1, 1) - 0.5)[None, :]
    inside = (((x - centre[0]) / half_axes[0]) ** 2 + ((y - centre[1]) / half_axes[1]) ** 2 <= 1.0).astype(np.float32)
    sigma = max(softness * min(h, w), 0.5)
    return np.clip(cv2.GaussianBlur(inside, (0, 0), sigma), 0.0, 1.0)


def centred_ellipse(
    shape: tuple[int, int], half_width: float = 0.36, half_height: float = 0.42, softness: float = 0.04
) -> np.ndarray:
    """h×w float32 in [0, 1]: 1 inside a centred ellipse (half-axes as fractions of each side), falling
    to 0 over `softness` (fraction of the shorter side) outside it — where a photographer puts the subject."""
    return _soft_ellipse(shape, (0.0, 0.0), (half_width, half_height), softness)


def saliency_ellipse(
    saliency: np.ndarray, spread: float = 2.0, min_half_axis: float = 0.05, softness: float = 0.04
) -> np.ndarray:
    """h×w float32 in [0, 1]: the ellipse with the centroid and spread of `saliency` (h×w float in [0, 1]).

    Where the subject is and how big, read off the saliency itself instead of assumed to be centred:
    moments weighted by saliency² (so the strongest parts lead, a faint backdrop barely does), half-axes
    `spread` standard deviations (2 is exact for a uniformly filled ellipse). A flat or empty map gives
    a centred ellipse just larger than the frame, i.e. no framing preference."""
    h, w = saliency.shape
    y = (np.arange(h, dtype=np.float64) / max(h - 1, 1) - 0.5)[:, None]
    x = (np.arange(w, dtype=np.float64) / max(w - 1, 1) - 0.5)[None, :]
    weight = saliency.astype(np.float64) ** 2
    total = float(weight.sum())
    if total <= 1e-9:
        weight, total = np.ones_like(weight), float(weight.size)
    weight = weight / total
    cx, cy = float((weight * x).sum()), float((weight * y).sum())
    half_width = spread * np.sqrt(float((weight * (x - cx) ** 2).sum()))
    half_height = spread * np.sqrt(float((weight * (y - cy) ** 2).sum()))
    return _soft_ellipse(
        shape=(h, w),
        centre=(cx, cy),
        half_axes=(max(half_width, min_half_axis), max(half_height, min_half_axis)),
        softness=softness,
    )
