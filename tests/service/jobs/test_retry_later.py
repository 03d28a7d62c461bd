"""An item whose photo cannot be read because the server's own artifact store is down is not failed: its claim
is left to expire, and it is cut once the store is back (the lease re-queues it)."""

from __future__ import annotations

import time
from datetime import timedelta

from fusion.segmenters import get_segmenter
from service.db import repo
from service.db.repo import ArtifactRef, NewItem
from service.db.schema import utcnow
from service.engine.blobstore import ArtifactStoreUnavailableError
from service.jobs.startup import start_services
from service.prometheus import Metrics
from service.settings import Settings
from tests.helpers import sample_jpeg


def wait_state(services, item_id: str, states: tuple[str, ...]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with services.database.session() as db:
            state = repo.load_item(db, item_id).state
        if state in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"item {item_id} never reached {states}")


def test_a_store_outage_leaves_the_item_to_be_retried_not_failed(tmp_path, monkeypatch) -> None:
    settings = Settings(data_dir=tmp_path, workers=1, segmenter="classical")
    services = start_services(settings, Metrics(), segmenter=get_segmenter("classical"))
    try:
        photo = sample_jpeg("coffee-cup.jpg", 128)
        digest = services.store.put(photo)
        read = services.store.get

        def store_down(wanted: str) -> bytes:
            raise ArtifactStoreUnavailableError("artifact store s3://b at http://127.0.0.1:9 is unavailable")

        monkeypatch.setattr(services.store, "get", store_down)
        with services.database.session() as db:
            key, _ = repo.create_key(db, "shop")
            job = repo.create_job(db, key.id, [NewItem(ref="a", original=ArtifactRef(digest, len(photo)))],
                                  render={}, callback_url=None)
            item_id = repo.job_items(db, job.id)[0].id
        services.dispatcher.wake()
        assert wait_state(services, item_id, ("running", "failed")) == "running"
        time.sleep(0.3)  # the worker has given up on it by now; it must still not be failed
        with services.database.session() as db:
            item = repo.load_item(db, item_id)
            assert (item.state, item.error_code) == ("running", None)
        monkeypatch.setattr(services.store, "get", read)
        with services.database.session() as db:  # the lease runs out (moved forward instead of waiting)
            assert repo.requeue_stale(db, utcnow() + timedelta(seconds=1)) == 1
        services.dispatcher.wake()
        assert wait_state(services, item_id, ("done", "failed")) == "done"
    finally:
        services.stop()
