"""Region adjacency on label maps, shared by the classical backend and by selection."""

from __future__ import annotations

import numpy as np


def adjacent_pairs(labels: np.ndarray) -> np.ndarray:
    """Pairs of region ids that touch (4-neighbourhood) in an h×w int label map → m×2 int64, each pair
    once with the smaller id first, sorted."""
    n = int(labels.max()) + 1
    pairs = np.concatenate(
        [
            np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], axis=1),
            np.stack([labels[:-1].ravel(), labels[1:].ravel()], axis=1),
        ]
    ).astype(np.int64)
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    codes = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([codes // n, codes % n], axis=1)
