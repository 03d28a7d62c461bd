"""`promptcut bench-store` end to end on a tiny shop (its fields and their consistency, never its timings), and
the clock it measures the store with."""

from __future__ import annotations

import json

from service.bench.fakestore import FakeShopify, LeakyBucket, sample_products
from service.bench.store_sync import StoreClock, TimedClient
from service.store import queries
from service.store.shopify_api import RetryPolicy
from tests.helpers import run_cli

PRODUCTS = 5


def test_bench_store_reports_the_first_sync_the_rerun_and_the_revert(tmp_path) -> None:
    out = tmp_path / "store.json"
    result = run_cli("bench-store", "--products", str(PRODUCTS), "--min-side", "200", "--max-side", "320",
                     "--json", str(out))
    assert result.returncode == 0, result.stderr
    for words in ("CPU: ", "first sync", "cutting", "store", "uploads/s", "throttled", "rerun", "revert", "goal:"):
        assert words in result.stdout
    report = json.loads(out.read_text())
    assert report["products"] == PRODUCTS and report["cpu"]
    first, rerun, revert = report["first"], report["rerun"], report["revert"]

    assert first["state"] == "done" and first["counts"]["published"] == PRODUCTS
    assert first["uploads"] == first["shop_uploads"] == PRODUCTS and first["downloads"] == PRODUCTS
    assert first["cut_s"] > 0 and first["api_s"] > 0 and first["api_calls"] >= PRODUCTS + 3  # batched calls
    assert first["uploads_per_s"] == first["uploads"] / first["wall_s"]
    assert first["overhead_s"] == first["wall_s"] - first["cut_s"] > 0
    assert report["overhead_ratio"] == first["overhead_s"] / first["cut_s"]

    assert rerun["state"] == "done" and rerun["counts"]["unchanged"] == PRODUCTS
    assert rerun["uploads"] == rerun["shop_uploads"] == 0 and rerun["cut_s"] == 0 and rerun["downloads"] == 0

    apply, unapply = report["campaign_apply"], report["campaign_revert"]
    assert apply["state"] == "active" and apply["counts"]["applied"] == PRODUCTS
    assert apply["uploads"] == apply["shop_uploads"] == PRODUCTS and apply["cut_s"] > 0  # theme swaps, timed
    assert unapply["state"] == "done" and unapply["counts"]["reverted"] == PRODUCTS
    assert unapply["uploads"] == PRODUCTS and "campaign apply" in result.stdout

    assert revert["state"] == "reverted" and revert["counts"]["reverted"] == PRODUCTS
    assert revert["uploads"] == revert["shop_uploads"] == PRODUCTS and revert["cut_s"] == 0

    for phase in (first, rerun, apply, unapply, revert):
        assert phase["store_s"] == phase["api_s"] + phase["download_s"] + phase["upload_s"]
        assert 0 <= phase["wait_s"] <= phase["api_s"]
        assert phase["cut_s"] <= phase["wall_s"] and phase["store_s"] <= phase["wall_s"]  # they may overlap
        assert abs(phase["cut_share"] + phase["overhead_share"] - 1) < 1e-9


def test_the_clock_counts_throttle_waits_inside_the_api_time() -> None:
    clock = StoreClock()
    with FakeShopify(sample_products(1), bucket=LeakyBucket(100, restore_rate=5)) as shop:
        shop.drain()  # the first call is throttled (2 points take 0.4 s to come back); the client waits, succeeds
        with TimedClient(shop.api_url, shop.token, clock=clock, retry=RetryPolicy(max_attempts=4)) as client:
            assert client.execute(queries.SHOP_ACCESS)["shop"]["name"] == shop.shop_name
        assert shop.throttled >= 1
    seconds, calls = clock.snapshot()
    assert calls == {"api": 1, "wait": shop.throttled}
    assert 0.03 < seconds["wait"] <= seconds["api"]
