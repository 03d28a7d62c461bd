"""fusion.evaluation.clicks: the standard simulated user and the clicks-to-fix measures."""

from __future__ import annotations

import numpy as np

from fusion.evaluation.clicks import iou_after, next_click, noc, simulate, summarise_clicks
from fusion.segmenters.classical import ClassicalSegmenter
from prompting.types import PromptSet


def test_the_next_click_is_inside_the_largest_error_farthest_from_its_edge():
    truth = np.zeros((100, 100), bool)
    truth[10:90, 10:50] = True
    prediction = truth.copy()
    prediction[10:90, 30:50] = False  # missed product: 80×20
    prediction[60:70, 70:80] = True  # kept background: 10×10, smaller
    click = next_click(prediction, truth)
    assert click is not None and click.keep
    assert 10 <= click.y <= 90 and abs(click.x - 40) <= 1.5  # on the centre line of the 20 px wide miss
    prediction[10:90, 30:50] = True
    click = next_click(prediction, truth)
    assert click is not None and not click.keep and 70 <= click.x <= 80 and 60 <= click.y <= 70
    assert next_click(truth, truth) is None


def test_the_frame_edge_counts_as_the_error_regions_boundary():
    truth = np.zeros((50, 100), bool)
    truth[:, :40] = True  # the product runs off the left edge
    prediction = np.zeros_like(truth)
    click = next_click(prediction, truth)
    assert click is not None and 15 <= click.x <= 25


def test_noc_and_iou_after_carry_the_last_value_forward():
    scores = (0.7, 0.8, 0.86, 0.91)
    assert noc(scores, 0.85, 20) == 2 and noc(scores, 0.90, 20) == 3 and noc(scores, 0.95, 20) == 20
    assert noc((0.95,), 0.90, 20) == 0
    assert iou_after(scores, 1) == 0.8 and iou_after(scores, 5) == 0.91
    summary = summarise_clicks("pair", "all", "classical", [scores, (0.5,)], 20)
    assert summary.noc85 == (2 + 20) / 2 and summary.failed90 == 1
    assert summary.iou_after == ((0.8 + 0.5) / 2, (0.91 + 0.5) / 2, (0.91 + 0.5) / 2)


def test_the_simulated_user_fixes_a_cut_that_kept_a_second_object():
    rng = np.random.default_rng(1)
    image = np.full((240, 320, 3), 235, np.uint8)
    image[60:180, 80:160] = (200, 40, 40)
    image[80:160, 180:240] = (40, 40, 200)
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    truth = np.zeros((240, 320), bool)
    truth[60:180, 80:160] = True  # only the red one is the product
    run = simulate(image, truth, PromptSet(), ClassicalSegmenter(), max_clicks=5)
    assert run.scores[0] < 0.75  # the automatic cut keeps both
    assert max(run.scores[1:]) > 0.95 and noc(run.scores, 0.9, 5) == 1
    assert len(run.click_seconds) == len(run.scores) - 1 and run.automatic.shape == truth.shape
