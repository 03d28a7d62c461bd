"""Hand-computed values for the evaluation metrics (fusion/metrics.py)."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.evaluation.metrics import boundary, boundary_f1, iou, mae, pixel_accuracy, score_all


def square(top: int, left: int, size: int = 10, shape: tuple[int, int] = (40, 40)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top:top + size, left:left + size] = True
    return mask


def test_iou_of_two_offset_squares():
    # 4×4 squares offset by 2 columns: intersection 4×2 = 8, union 16 + 16 - 8 = 24.
    a, b = square(2, 2, 4, (10, 10)), square(2, 4, 4, (10, 10))
    assert iou(a, b) == pytest.approx(8 / 24)


def test_iou_empty_cases():
    empty, one = np.zeros((5, 5), bool), square(1, 1, 2, (5, 5))
    assert iou(empty, empty) == 1.0
    assert iou(empty, one) == 0.0
    assert iou(one, empty) == 0.0


def test_pixel_accuracy_counts_disagreeing_pixels():
    # The two squares above disagree on 8 + 8 = 16 of 100 pixels.
    a, b = square(2, 2, 4, (10, 10)), square(2, 4, 4, (10, 10))
    assert pixel_accuracy(a, b) == pytest.approx(0.84)


def test_soft_prediction_is_binarised_at_half():
    gt = square(1, 1, 2, (4, 4))
    pred = np.where(gt, 0.5, 0.49).astype(np.float32)  # 0.5 counts as foreground, 0.49 not
    assert iou(pred, gt) == 1.0
    assert pixel_accuracy(pred, gt) == 1.0


def test_mae_of_soft_prediction():
    # 0.25 everywhere on 4×4 with 4 true pixels: 4 × 0.75 + 12 × 0.25 = 6 → 6 / 16.
    gt = square(0, 0, 2, (4, 4))
    assert mae(np.full((4, 4), 0.25, np.float32), gt) == pytest.approx(0.375)


def test_mae_accepts_bool_and_8bit_predictions():
    gt = square(0, 0, 2, (4, 4))
    assert mae(gt, gt) == 0.0
    assert mae(np.where(gt, 255, 0).astype(np.uint8), gt) == 0.0
    assert mae(~gt, gt) == 1.0
    # a 0/255 ground truth is read as binary too
    assert mae(gt.astype(np.float32), np.where(gt, 255, 0).astype(np.uint8)) == 0.0


def test_boundary_f1_tolerates_two_px_offset():
    # Shifted 2 px right, every boundary pixel of one square is within 2 px of the other's boundary.
    assert boundary_f1(square(10, 12), square(10, 10), tolerance=3) == pytest.approx(1.0)


def test_boundary_f1_five_px_offset_by_hand():
    # gt cols 10..19, pred cols 15..24 (rows 10..19); 36 boundary pixels each. Pred pixels farther than 3 px
    # from gt's boundary: top and bottom rows at cols 23, 24 (4, 5 px) = 4; left column at rows 14, 15
    # (4 px from col 19 and from the top/bottom rows) = 2; the whole right column inside rows 11..18 (5 px) = 8.
    # 14 misses → precision 22/36; the layout is mirror-symmetric, so recall is 22/36 too.
    pred, gt = square(10, 15), square(10, 10)
    assert boundary_f1(pred, gt, tolerance=3) == pytest.approx(22 / 36)
    # A wider tolerance forgives it all; a zero tolerance only keeps exactly shared boundary pixels.
    assert boundary_f1(pred, gt, tolerance=6) == pytest.approx(1.0)
    assert boundary_f1(pred, gt, tolerance=0) == pytest.approx(10 / 36)


def test_boundary_is_one_pixel_and_ignores_the_image_frame():
    inner = square(10, 10)
    assert boundary(inner).sum() == 36
    # A product cut by the frame (bottom half, full width): only the top edge is an object contour.
    half = np.zeros((10, 10), bool)
    half[5:] = True
    assert boundary(half).sum() == 10
    assert boundary(half)[5].all()


def test_boundary_f1_with_a_mask_touching_the_frame():
    # gt = rows 5..9 full width: boundary = row 5 (10 px). pred = rows 5..9, cols 0..4: boundary = row 5
    # cols 0..4 + col 4 rows 6..9 = 9 px. Precision: (9, 4) is 4 px from row 5 → 8/9. Recall: (5, 8), (5, 9)
    # are 4 and 5 px from pred's boundary → 8/10. F1 = 2·(8/9)(4/5) / (8/9 + 4/5) = 16/19.
    gt = np.zeros((10, 10), bool)
    gt[5:] = True
    pred = np.zeros((10, 10), bool)
    pred[5:, :5] = True
    assert boundary_f1(pred, gt, tolerance=3) == pytest.approx(16 / 19)


def test_boundary_f1_empty_and_full_cases():
    empty, full, one = np.zeros((6, 6), bool), np.ones((6, 6), bool), square(1, 1, 3, (6, 6))
    assert boundary_f1(empty, empty) == 1.0
    assert boundary_f1(full, full) == 1.0
    assert boundary_f1(empty, full) == 0.0  # both boundaries empty, masks opposite
    assert boundary_f1(full, one) == 0.0  # the full mask has no contour, the truth does
    assert boundary_f1(one, empty) == 0.0


def test_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in size"):
        iou(np.zeros((4, 4), bool), np.zeros((4, 5), bool))


def test_score_all_keys_and_values():
    pred, gt = square(10, 15), square(10, 10)
    scores = score_all(pred, gt)
    assert set(scores) == {"iou", "accuracy", "boundary_f1", "mae"}
    assert scores["iou"] == pytest.approx(50 / 150)
    assert scores["accuracy"] == pytest.approx(1 - 100 / 1600)
    assert scores["mae"] == pytest.approx(100 / 1600)
    assert scores["boundary_f1"] == pytest.approx(22 / 36)
