"""The benchmark commands run end to end on tiny inputs (their numbers are reported, never asserted)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import SAMPLES, require_modules, run_cli


def test_bench_service_reports_ratios_as_json(tmp_path) -> None:
    out = tmp_path / "bench.json"
    result = run_cli("bench-service", str(SAMPLES / "coffee-cup.jpg"), "--longest", "256", "--repeat", "1",
                     "--no-api", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "theme swap" in result.stdout
    engine = json.loads(out.read_text())["engine"]
    assert engine["items"] and engine["items"][0]["cut"] > 0


@pytest.mark.neural
@pytest.mark.slow
def test_bench_neural_runs_on_tiny_models(tiny_model_dir, tmp_path) -> None:
    require_modules("torch", "transformers")
    out = tmp_path / "neural.json"
    result = run_cli("bench-neural", "--image", str(SAMPLES / "coffee-cup.jpg"), "--models", str(tiny_model_dir),
                     "--longest", "128", "--working-size", "64", "--repeat", "1", "--threads", "1",
                     "--no-default-resolution", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report["medians"]) >= {"naive, same resolution"}
    assert 0.0 <= report["label_agreement"] <= 1.0
    assert 0.0 <= report["query_agreement"] <= 1.0 and report["query_margin_median"] >= 0


def test_bench_neural_without_models_is_one_line(tmp_path) -> None:
    result = run_cli("bench-neural", "--models", str(tmp_path / "none"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "promptcut models pull" in result.stderr


def test_the_correction_bench_times_requests_over_loopback() -> None:
    from service.bench.corrections import measure_corrections

    result = measure_corrections(SAMPLES / "coffee-cup.jpg", side=256, runs=1)
    assert result.add_median_s > 0 and result.undo_median_s > 0 and max(result.photo_size) == 256
    assert {"correct", "feather"} <= set(result.stages_median_s) and "segment" not in result.stages_median_s
    assert "correction request" in result.lines()[0] and result.to_dict()["add_median_ms"] > 0
