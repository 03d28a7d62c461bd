"""A campaign's dry run: the contact sheet. Every image the campaign would change, before (the photo a sync
published) and after (the same stored layer in the campaign's theme), side by side in one PNG; the store is only
read (which products are selected, their tags), never written.

    contact_sheet  pure: (label, before bytes, after bytes) rows → PNG bytes
    dry_run        plans the campaign as the runner would and renders its sheet
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from service.db import repo
from service.db.schema import Item, Sync, SyncItem
from service.store.campaign import CampaignPlan
from service.store.campaign_run import CampaignContext, PlannedImage, plan_images, themed_render
from service.store.shopify_api import ShopifyClient

THUMB = 240  # px, the side of each cell
LABEL = 20  # px of text under each row's pair
GAP = 8
BACKDROP = (236, 236, 236)


@dataclass(frozen=True)
class SheetRow:
    label: str
    before: bytes
    after: bytes


@dataclass(frozen=True)
class DryRun:
    """The sheet (PNG) and what the campaign covers now: `rows` images shown, `skipped` (handle, reason)."""

    png: bytes
    rows: int
    skipped: tuple[tuple[str, str], ...]

    def line(self) -> str:
        return f"dry run: {self.rows} photo(s) would change, {len(self.skipped)} product(s) skipped"


def contact_sheet(rows: Sequence[SheetRow]) -> bytes:
    """Rows of before | after thumbnails (each fitted into THUMB × THUMB), a label under each row → PNG."""
    height = GAP + max(len(rows), 1) * (THUMB + LABEL + GAP)
    sheet = Image.new("RGB", (GAP * 3 + THUMB * 2, height), BACKDROP)
    draw = ImageDraw.Draw(sheet)
    for index, row in enumerate(rows):
        top = GAP + index * (THUMB + LABEL + GAP)
        for column, data in enumerate((row.before, row.after)):
            with Image.open(io.BytesIO(data)) as image:
                thumb = image.convert("RGB")
                thumb.thumbnail((THUMB, THUMB))
            left = GAP + column * (THUMB + GAP)
            sheet.paste(thumb, (left + (THUMB - thumb.width) // 2, top + (THUMB - thumb.height) // 2))
        draw.text((GAP, top + THUMB + 4), f"{row.label[:60]}   before | after", fill=(40, 40, 40))
    out = io.BytesIO()
    sheet.save(out, "PNG")
    return out.getvalue()


def dry_run(context: CampaignContext, client: ShopifyClient, store_id: str, plan: CampaignPlan) -> DryRun:
    planned = plan_images(context, client, store_id, plan.selection)
    rows = [_row(context, image, plan.theme) for image in planned if image.sync_item_id is not None]
    skipped = tuple((image.handle, image.reason or "") for image in planned if image.sync_item_id is None)
    return DryRun(contact_sheet(rows), len(rows), skipped)


def _row(context: CampaignContext, image: PlannedImage, theme: str) -> SheetRow:
    with context.sync.database.session() as db:
        row = db.get(SyncItem, image.sync_item_id)
        sync = db.get(Sync, row.sync_id)
        item = db.get(Item, row.item_id)
        artifacts = repo.current_artifacts(db, row.item_id)
        render = dict(sync.render)
        published = artifacts.get("output") if item is not None and item.render == render else None
    before = published or context.rerender(artifacts, render)
    after = context.rerender(artifacts, themed_render(render, theme))
    return SheetRow(image.handle, context.sync.blobs.get(before), context.sync.blobs.get(after))
