"""Segmentation metrics used by the project's users: IoU, pixel accuracy, relaxed boundary F1, MAE.

All take H×W arrays; `pred` may be bool or a probability/alpha in [0, 1] (binarised at 0.5 where a
binary mask is needed), `gt` is bool (or 0/255 uint8, binarised at > 127).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _binary(a: np.ndarray) -> np.ndarray:
    if a.dtype == bool:
        return a
    if a.dtype == np.uint8:
        return a > 127
    return a >= 0.5


def _check(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape[:2] != gt.shape[:2]:
        raise ValueError(f"prediction {pred.shape[:2]} and ground truth {gt.shape[:2]} differ in size")


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of the foregrounds; 1.0 when both are empty."""
    _check(pred, gt)
    p, g = _binary(pred), _binary(gt)
    union = np.logical_or(p, g).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, g).sum() / union)


def pixel_accuracy(pred: np.ndarray, gt: np.ndarray) -> float:
    _check(pred, gt)
    return float((_binary(pred) == _binary(gt)).mean())


def mae(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute error between a soft prediction in [0, 1] and the binary truth."""
    _check(pred, gt)
    p = pred.astype(np.float32) if pred.dtype != np.uint8 else pred.astype(np.float32) / 255.0
    return float(np.abs(p - _binary(gt).astype(np.float32)).mean())


def boundary(mask: np.ndarray) -> np.ndarray:
    """One-pixel inner boundary of an H×W bool mask: foreground pixels with a 4-connected background
    neighbour. The image frame is not an object contour: pixels outside the image count as foreground,
    as in the reference XOR(mask, erode(mask)) with MATLAB imerode / cv2.erode padding, so a product cut
    by the frame (a person's feet, a close-up) gets no free "boundary" along the image edge."""
    eroded = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(2, 1), border_value=1)
    return mask & ~eroded


def boundary_f1(pred: np.ndarray, gt: np.ndarray, tolerance: float = 3.0) -> float:
    """Relaxed boundary F1 (relax-F of U²-Net): a predicted boundary pixel is correct when a true
    boundary pixel lies within `tolerance` px (Euclidean), and vice versa for recall.
    When both boundaries are empty each mask is all-background or all-foreground: 1.0 if they agree,
    else 0.0; 0.0 when exactly one boundary is empty."""
    _check(pred, gt)
    p, g = _binary(pred), _binary(gt)
    bp, bg = boundary(p), boundary(g)
    n_p, n_g = int(bp.sum()), int(bg.sum())
    if n_p == 0 and n_g == 0:
        return 1.0 if bool(p.any()) == bool(g.any()) else 0.0
    if n_p == 0 or n_g == 0:
        return 0.0
    dist_to_g = ndimage.distance_transform_edt(~bg)
    dist_to_p = ndimage.distance_transform_edt(~bp)
    precision = float((dist_to_g[bp] <= tolerance).mean())
    recall = float((dist_to_p[bg] <= tolerance).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def score_all(pred: np.ndarray, gt: np.ndarray, tolerance: float = 3.0) -> dict[str, float]:
    """All four metrics for one image, keys: iou, accuracy, boundary_f1, mae."""
    return {
        "iou": iou(pred, gt),
        "accuracy": pixel_accuracy(pred, gt),
        "boundary_f1": boundary_f1(pred, gt, tolerance),
        "mae": mae(pred, gt),
    }
