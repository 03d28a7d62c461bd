"""Campaign work in the library, without a server: an image written but not recorded (the server died in
between) is recorded on the next pass, not written twice; a product the store refuses fails alone and keeps its
evergreen photo; a store that stops answering postpones the campaign, which then resumes where it stopped."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import update

from service.db.schema import CampaignItem, SyncItem
from service.jobs.store_campaigns import campaign_context
from service.jobs.store_syncs import local_services
from service.store import campaign as campaigns
from service.store.campaign_run import CampaignContext, work
from service.store.connections import StoreEndpointRules
from service.store.secrets import secret_box
from tests.fakestore import FakeShopify, sample_products
from tests.service.store.campaign_world import THEME, CampaignWorld, published_world
from tests.service.store.sync_fixtures import FAST_RETRY

P1, P2 = "gid://shopify/Product/1001", "gid://shopify/Product/1002"
LEASE = timedelta(minutes=10)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[CampaignWorld, CampaignContext]]:
    with FakeShopify(sample_products(2)) as shop, published_world(tmp_path, shop) as made:
        services = local_services(made.settings, made.database, made.segmenter)
        box = secret_box(made.settings.secret_key.get_secret_value(), made.settings.data_dir)
        rules = StoreEndpointRules(tuple(made.settings.store_api_allow_hosts), 10.0, FAST_RETRY)
        yield made, campaign_context(services, box, rules, made.clock)
        services.pool.shutdown(timeout=5)


def run_due(world: CampaignWorld, context: CampaignContext) -> int:
    worked = 0
    for campaign_id in campaigns.due_campaigns(world.database, world.clock()):
        if campaigns.claim(world.database, campaign_id, "test", world.clock(), LEASE):
            work(context, campaign_id)
            worked += 1
    return worked


def start_now(world: CampaignWorld) -> str:
    plan = campaigns.CampaignPlan(THEME, world.clock() - timedelta(minutes=1), world.clock() + timedelta(days=1))
    return campaigns.create_campaign(world.database, world.key_id, world.store_id, plan).id


def test_an_image_written_but_not_recorded_is_not_written_twice(world) -> None:
    made, context = world
    evergreen_ids = {pid: made.main_image(pid)[0] for pid in (P1, P2)}
    campaign_id = start_now(made)
    assert run_due(made, context) == 1
    themed = {pid: made.main_image(pid) for pid in (P1, P2)}
    uploads = made.shop.upload_posts
    with made.database.session() as db:  # as if the server died right after the store took P1's photo
        db.execute(update(CampaignItem).where(CampaignItem.campaign_id == campaign_id,
                                              CampaignItem.product_id == P1).values(state="pending"))
        db.execute(update(SyncItem).where(SyncItem.product_id == P1).values(new_media_id=evergreen_ids[P1]))
        db.execute(update(campaigns.Campaign).where(campaigns.Campaign.id == campaign_id)
                   .values(state="applying", due_at=made.clock()))
    assert run_due(made, context) == 1
    assert made.shop.upload_posts == uploads  # recorded from the store's marker, not uploaded again
    assert {pid: made.main_image(pid) for pid in (P1, P2)} == themed
    report = campaigns.get_campaign(made.database, campaign_id)
    assert report.state == "active" and report.counts["applied"] == 2, report
    with made.database.session() as db:
        assert db.query(SyncItem).filter(SyncItem.product_id == P1).one().new_media_id == themed[P1][0]


def test_a_refused_product_fails_alone_and_a_store_outage_postpones_the_rest(world) -> None:
    made, context = world
    published = {pid: made.main_image(pid) for pid in (P1, P2)}
    made.shop.fail_product(P1, "Product is locked")
    campaign_id = start_now(made)
    run_due(made, context)
    report = campaigns.get_campaign(made.database, campaign_id)
    assert report.counts["failed"] == 1 and report.counts["applied"] == 1, report
    assert made.main_image(P1) == published[P1]  # kept its evergreen photo
    assert made.main_image(P2) != published[P2]
    made.clock.advance(timedelta(days=2))
    made.shop.revoke_token()
    run_due(made, context)
    stalled = campaigns.get_campaign(made.database, campaign_id)
    assert stalled.state == "reverting" and stalled.error_message and "refused" in stalled.error_message, stalled
    assert run_due(made, context) == 0  # left alone until the retry time
    made.shop.revoked = False
    made.clock.advance(context.retry)
    assert run_due(made, context) == 1
    final = campaigns.get_campaign(made.database, campaign_id)
    assert final.state == "done" and final.counts["reverted"] == 1 and final.error_message is None, final
    assert made.main_image(P2)[1] == published[P2][1]


def test_new_content_the_store_cannot_process_is_undone_and_fails_that_image_alone(world) -> None:
    made, context = world
    published = {pid: made.main_image(pid) for pid in (P1, P2)}
    made.shop.media_polls_to_ready = 1  # the store processes new content after it answers
    made.shop.failing_processing.add(P1)
    campaign_id = start_now(made)
    run_due(made, context)
    report = campaigns.get_campaign(made.database, campaign_id)
    assert report.counts["failed"] == 1 and report.counts["applied"] == 1, report
    assert made.main_image(P1)[1] == published[P1][1]  # the evergreen bytes are back on the same media
    assert made.main_image(P2)[0] == published[P2][0] and made.main_image(P2)[1] != published[P2][1]
    with made.database.session() as db:
        failed = db.query(CampaignItem).filter(CampaignItem.product_id == P1).one()
    assert "could not process the new photo" in failed.reason


def test_ours_removed_by_the_seller_is_added_again_themed(world) -> None:
    made, context = world
    published = {pid: made.main_image(pid) for pid in (P1, P2)}
    with made.shop.lock:  # the seller deleted our photo of P1 (its mark stays behind)
        product = made.shop.products[P1]
        product.media = [media for media in product.media if media.id != published[P1][0]]
    added = made.shop.operations["ProductAddMedia"]
    campaign_id = start_now(made)
    run_due(made, context)
    report = campaigns.get_campaign(made.database, campaign_id)
    assert report.counts["applied"] == 2, report
    assert made.shop.operations["ProductAddMedia"] == added + 1  # P1 added again; P2 got new content in place
    assert made.main_image(P2)[0] == published[P2][0]
    with made.database.session() as db:
        ours = db.query(SyncItem).filter(SyncItem.product_id == P1).one().new_media_id
    assert ours != published[P1][0] and ours in [media.id for media in made.shop.products[P1].media]


def test_shop_redact_deletes_the_stores_campaigns(world) -> None:
    from service.store.webhooks_redact import redact_store

    made, context = world
    campaign_id = start_now(made)
    run_due(made, context)
    with made.database.session() as db:
        themed = db.query(CampaignItem).filter(CampaignItem.campaign_id == campaign_id).first().themed_digest
    redact_store(made.database, context.sync.blobs, made.store_id)
    with made.database.session() as db:
        assert db.get(campaigns.Campaign, campaign_id) is None
        assert db.query(CampaignItem).count() == 0
    assert not context.sync.blobs.path(themed).exists()
