"""Seasonal campaigns end to end over HTTP, against the fake shop on loopback: applied from the stored layers
(no segmentation), the evergreen photos back byte for byte at the end, the schedule kept across a restart,
opt-out by tag, cancel before the start, and the dry run's contact sheet."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

from service.store import marker
from service.store.campaign import OPT_OUT_TAG
from service.store.campaign_run import themed_render
from service.store.sync_revert import revert_sync
from tests.fakestore import FakeShopify, sample_products
from tests.service.store.campaign_world import THEME, CampaignWorld, published_world, served

P1, P2, P3 = (f"gid://shopify/Product/{number}" for number in (1001, 1002, 1003))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CampaignWorld]:
    with FakeShopify(sample_products(3)) as shop, published_world(tmp_path, shop) as made:
        with shop.lock:
            shop.products[P3].tags.append(OPT_OUT_TAG)
        yield made


def schedule(world: CampaignWorld, start: timedelta, end: timedelta, **extra) -> dict:
    now = world.clock()
    response = world.call("POST", f"/v1/stores/{world.store_id}/campaigns", json={
        "theme": THEME, "start": (now + start).isoformat(), "end": (now + end).isoformat(), **extra})
    assert response.status_code == 201, response.text
    return response.json()


def report(world: CampaignWorld, campaign_id: str) -> dict:
    response = world.call("GET", f"/v1/stores/{world.store_id}/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    return response.json()


def look_of(world: CampaignWorld, product_id: str) -> str:
    with world.shop.lock:
        product = world.shop.products[product_id]
        marks = marker.parse_marks(product.metafields[("promptcut", "media")]["value"])
        return marks[product.media[0].id].look


def test_applied_from_the_stored_layers_then_evergreen_back_byte_identical_across_a_restart(
        world: CampaignWorld) -> None:
    published = {pid: world.main_image(pid) for pid in (P1, P2, P3)}
    staged_before = world.shop.operations["StagedUploadsCreate"]
    added_before = world.shop.operations["ProductAddMedia"]
    with served(world):
        campaign = schedule(world, -timedelta(hours=1), timedelta(days=7))
        world.runner.run_pass()
        applied = report(world, campaign["id"])
        assert world.shop.operations["StagedUploadsCreate"] == staged_before + 1  # both photos in one batch
        assert applied["state"] == "active", applied
        assert applied["counts"]["applied"] == 2 and applied["counts"]["skipped"] == 1, applied
        assert applied["applied_at"] is not None and applied["reverted_at"] is None
        for pid in (P1, P2):  # the store shows the themed photo: new content for the same media, in its place
            media_id, data = world.main_image(pid)
            assert media_id == published[pid][0] and data != published[pid][1]
            assert look_of(world, pid) == marker.look_hash(_normalised(world))
        assert world.shop.operations["ProductAddMedia"] == added_before  # nothing added: one fileUpdate a batch
        assert world.shop.operations["FileUpdate"] == 1
        assert world.main_image(P3) == published[P3]  # opted out: untouched
        assert world.segmenter.calls == 0  # re-rendered from the stored layers: no segmentation
    world.clock.advance(timedelta(days=8))  # the end passes while the server is down
    with served(world):
        world.runner.run_pass()
        done = report(world, campaign["id"])
        assert done["state"] == "done" and done["counts"]["reverted"] == 2, done
        assert done["reverted_at"] is not None
    for pid in (P1, P2):  # the evergreen photo back, byte for byte what the sync published
        assert world.main_image(pid)[1] == published[pid][1]
    assert world.main_image(P3) == published[P3]
    assert world.segmenter.calls == 0
    # the sync still knows which photo is ours: its revert puts the store's original back
    with world.shop.lock:
        uploads = world.shop.upload_posts
    from service.jobs.store_syncs import local_services, sync_context
    from service.store.connections import StoreEndpointRules
    from service.store.secrets import secret_box
    services = local_services(world.settings, world.database, world.segmenter)
    box = secret_box(world.settings.secret_key.get_secret_value(), world.settings.data_dir)
    rules = StoreEndpointRules(tuple(world.settings.store_api_allow_hosts), 10.0)
    reverted = revert_sync(sync_context(services, box, rules), world.sync_id)
    services.pool.shutdown(timeout=5)
    assert reverted.state == "reverted" and reverted.counts["reverted"] == 3, reverted
    assert world.shop.upload_posts == uploads + 3


def _normalised(world: CampaignWorld) -> dict:
    """The sync's render as stored (every RenderRequest field), which the campaign's look is made from."""
    from service.db.schema import Sync

    with world.database.session() as db:
        render = dict(db.get(Sync, world.sync_id).render)
    return themed_render(render, THEME)


def test_the_schedule_survives_a_restart_and_a_start_passed_while_down_is_applied_on_start(
        world: CampaignWorld) -> None:
    with served(world):
        campaign = schedule(world, timedelta(hours=2), timedelta(days=1))
        world.runner.run_pass()
        assert report(world, campaign["id"])["state"] == "scheduled"
    uploads = world.shop.upload_posts
    assert uploads == 3  # the sync's only
    world.clock.advance(timedelta(hours=3))
    with served(world):  # a new app instance on the same database
        world.runner.run_pass()
        applied = report(world, campaign["id"])
        listed = world.call("GET", f"/v1/stores/{world.store_id}/campaigns").json()["campaigns"]
    assert applied["state"] == "active" and applied["counts"]["applied"] == 2, applied
    assert [entry["id"] for entry in listed] == [campaign["id"]]
    assert world.shop.upload_posts == uploads + 2


def test_cancel_before_the_start_does_nothing(world: CampaignWorld) -> None:
    published = {pid: world.main_image(pid) for pid in (P1, P2, P3)}
    with served(world):
        campaign = schedule(world, timedelta(hours=1), timedelta(days=1))
        cancelled = world.call("DELETE", f"/v1/stores/{world.store_id}/campaigns/{campaign['id']}")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled", cancelled.text
        world.clock.advance(timedelta(days=2))
        world.runner.run_pass()
        final = report(world, campaign["id"])
        again = world.call("DELETE", f"/v1/stores/{world.store_id}/campaigns/{campaign['id']}")
    assert final["state"] == "cancelled" and sum(final["counts"].values()) == 0, final
    assert again.status_code == 409
    assert {pid: world.main_image(pid) for pid in (P1, P2, P3)} == published
    assert world.shop.upload_posts == 3


def test_dry_run_answers_a_contact_sheet_and_uploads_nothing(world: CampaignWorld) -> None:
    operations_before = dict(world.shop.operations)
    with served(world):
        response = world.call("POST", f"/v1/stores/{world.store_id}/campaigns", json={
            "theme": THEME, "start": world.clock().isoformat(),
            "end": (world.clock() + timedelta(days=1)).isoformat(), "dry_run": True})
        listed = world.call("GET", f"/v1/stores/{world.store_id}/campaigns").json()["campaigns"]
    assert response.status_code == 200 and response.headers["content-type"] == "image/png", response.text
    assert response.headers["x-promptcut-count"] == "2"  # the opted-out product is not on it
    sheet = Image.open(io.BytesIO(response.content))
    assert sheet.width > sheet.height / 2 and sheet.height > 2 * 240  # two rows of before | after
    assert listed == [] and world.shop.upload_posts == 3
    reads = ("ShopAccess", "ProductsCount", "ProductsPage")  # the dry run only reads the store
    assert world.shop.operations == operations_before | {name: world.shop.operations[name] for name in reads}
    assert world.segmenter.calls == 0


def test_an_unknown_theme_or_an_end_before_the_start_is_refused(world: CampaignWorld) -> None:
    with served(world):
        now = world.clock()
        unknown = world.call("POST", f"/v1/stores/{world.store_id}/campaigns", json={
            "theme": "no-such-theme", "start": now.isoformat(), "end": (now + timedelta(days=1)).isoformat()})
        backwards = world.call("POST", f"/v1/stores/{world.store_id}/campaigns", json={
            "theme": THEME, "start": now.isoformat(), "end": (now - timedelta(days=1)).isoformat()})
        other = world.call("GET", "/v1/stores/not-a-store/campaigns")
    assert unknown.status_code in (400, 422) and backwards.status_code == 400, (unknown.text, backwards.text)
    assert other.status_code == 404
