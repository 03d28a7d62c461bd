"""`promptcut store sync|revert` (the real command, a child process) and POST/GET /v1/stores/{id}/syncs and
…/revert (the app on loopback) against the fake shop; and a 50-product catalogue under a small cost bucket."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from fusion.segmenters.classical import ClassicalSegmenter
from service.api.app import create_app
from service.db import open_database, repo
from service.settings import Settings
from tests.fakestore import FakeShopify, LeakyBucket, sample_products
from tests.helpers import run_cli
from tests.service.api.test_api import ServerThread
from tests.service.store.sync_fixtures import make_harness, serve_photos


def test_cli_sync_then_rerun_then_revert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeShopify(sample_products(3)) as shop:
        serve_photos(shop)
        originals = {pid: [m.file_name for m in p.media] for pid, p in shop.products.items()}
        for name in ("PROMPTCUT_DATABASE_URL", "PROMPTCUT_SECRET_KEY", "PROMPTCUT_STORE_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("PROMPTCUT_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("PROMPTCUT_STORE_API_ALLOW_HOSTS", shop.allow_host)
        monkeypatch.setenv("PROMPTCUT_URL_ALLOW_HOSTS", shop.allow_host)
        monkeypatch.setenv("PROMPTCUT_ALLOW_HTTP_URLS", "true")
        database = open_database(f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}")
        with database.session() as db:
            key_id = repo.create_key(db, "Corner Shop")[0].id
        database.close()
        connected = run_cli("store", "connect", "--key", key_id, "--shop", "fake-shop", "--token", shop.token,
                            "--api-url", shop.api_url)
        store_id = connected.stdout.split(" as store ", 1)[1].split()[0]
        synced = run_cli("store", "sync", store_id, "--segmenter", "classical", "--size", "300", "--format", "png",
                         "--tag", "new", "--publish-all")
        assert synced.returncode == 0, synced.stderr
        line = synced.stdout.strip()
        assert line.endswith("done: 2 published, 0 held, 0 failed, 0 unchanged"), line  # tag "new": 1002, 1003
        assert originals["gid://shopify/Product/1001"] == [m.file_name for m in shop.products[
            "gid://shopify/Product/1001"].media]
        sync_id = line.split()[1]
        posts = shop.upload_posts
        rerun = run_cli("store", "sync", store_id, "--segmenter", "classical", "--size", "300", "--format", "png",
                        "--tag", "new", "--publish-all")
        assert rerun.stdout.strip().endswith("0 published, 0 held, 0 failed, 2 unchanged")
        assert shop.upload_posts == posts
        reverted = run_cli("store", "revert", sync_id)
        assert reverted.returncode == 0 and f"sync {sync_id} reverted" in reverted.stdout, reverted.stderr
        bad = run_cli("store", "sync", store_id, "--policy", "sideways")
        assert bad.returncode == 2 and bad.stderr.strip().startswith("error: policy must be one of replace")


def test_http_sync_progress_and_revert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cutting_threads: list[str] = []
    segment = ClassicalSegmenter.segment

    def recorded(self, image, prompts):
        cutting_threads.append(threading.current_thread().name)
        return segment(self, image, prompts)

    monkeypatch.setattr(ClassicalSegmenter, "segment", recorded)
    with FakeShopify(sample_products(2)) as shop:
        serve_photos(shop)
        settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=2,
                            secret_key="a shared secret", store_api_allow_hosts=[shop.allow_host],
                            allow_http_urls=True, url_allow_hosts=[shop.allow_host])
        database = open_database(settings.db_url)
        with database.session() as db:
            keys = {name: repo.create_key(db, f"store-{name}")[1] for name in ("a", "b")}
        database.close()
        with ServerThread(create_app(settings)) as server:
            a = httpx.Client(base_url=server.url, headers={"X-Api-Key": keys["a"]}, timeout=60)
            b = httpx.Client(base_url=server.url, headers={"X-Api-Key": keys["b"]}, timeout=60)
            store = a.post("/v1/stores", json={"shop": "fake-shop", "token": shop.token,
                                               "api_url": shop.api_url}).json()
            started = a.post(f"/v1/stores/{store['id']}/syncs", json={"size": "300", "publish_all": True})
            assert started.status_code == 202, started.text
            sync_id = started.json()["id"]
            assert b.get(f"/v1/stores/{store['id']}/syncs/{sync_id}").status_code == 404
            deadline = time.monotonic() + 60
            while (body := a.get(f"/v1/stores/{store['id']}/syncs/{sync_id}").json())["state"] == "running":
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert body["state"] == "done" and body["counts"]["published"] == 2 and body["job_id"]
            assert a.get(f"/v1/jobs/{body['job_id']}").json()["counts"]["done"] == 2  # an ordinary job
            # cut by the server's bounded worker pool (in turn with other stores' work), never by the sync itself
            assert len(cutting_threads) == 2 and all("worker" in name for name in cutting_threads), cutting_threads
            undone = a.post(f"/v1/stores/{store['id']}/syncs/{sync_id}/revert")
            assert undone.status_code == 200 and undone.json()["state"] == "reverted"
            again = a.post(f"/v1/stores/{store['id']}/syncs/{sync_id}/revert")
            assert again.status_code == 409
            bad = a.post(f"/v1/stores/{store['id']}/syncs", json={"policy": "sideways"})
            assert bad.status_code == 400 and "policy" in bad.text


@pytest.mark.parametrize("count", [50, pytest.param(500, marks=pytest.mark.slow)])
def test_a_catalogue_under_a_small_cost_bucket_is_polite(tmp_path: Path, count: int) -> None:
    with FakeShopify(sample_products(count, images_per_product=1),
                     bucket=LeakyBucket(maximum=500, restore_rate=250)) as shop:
        serve_photos(shop, side=96)
        harness = make_harness(tmp_path, shop)
        summary = harness.sync(render={"format": "png", "size": "120"}, publish_all=True)
        assert summary.state == "done" and summary.counts["published"] == count, summary
        assert shop.throttled <= max(3, shop.requests // 50), (shop.throttled, shop.requests)
        assert shop.upload_posts == count  # no duplicate uploads
        assert all(sum("promptcut-" in m.file_name for m in p.media) == 1 for p in shop.products.values())
        rerun = harness.sync(render={"format": "png", "size": "120"}, publish_all=True)
        assert rerun.counts["unchanged"] == count and shop.upload_posts == count, rerun  # uploads nothing
        harness.services.pool.shutdown(timeout=5)
        harness.database.close()
