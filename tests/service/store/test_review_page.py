"""The seller page's "Held for review" in real headless Chromium (the system's, through Playwright) against the
real app on loopback and the fake shop: the held cuts appear (doubtful first, with before/after and the reasons),
approving one writes it to the store, skipping one takes it off the list and writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from service.store.marker import is_our_url
from tests.service.store.review_fixtures import FLAT, MUG, held_sync

SHOTS = Path("/tmp/promptcut-shots")  # what the page looked like, for a person to check (as test_web.py)

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def test_held_cuts_are_approved_and_skipped_from_the_page(tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "the browser tests need the system's chromium"
    with held_sync(tmp_path) as held, held.client("a") as a, sync_playwright() as playwright:
        items = {entry["product_id"]: entry["item_id"] for entry in a.get(f"{held.sync_path}/items").json()["items"]}
        original_flat = held.file_names(FLAT)
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(held.url + "/")
        page.get_by_label("API key", exact=True).fill(held.keys["a"])
        page.get_by_role("button", name="Save key").click()

        cards = page.locator("#held-list > li")
        expect(cards).to_have_count(2)
        assert cards.evaluate_all("cards => cards.map((card) => card.dataset.itemId)") == [items[FLAT], items[MUG]]
        mug = page.locator(f"#held-list > li[data-item-id='{items[MUG]}']")
        expect(mug.locator(".held-why")).to_contain_text("smaller than 1000 px")
        expect(mug.locator(".held-why")).to_contain_text("product-1001")
        flat = page.locator(f"#held-list > li[data-item-id='{items[FLAT]}']")
        expect(flat.locator(".review-note")).to_contain_text("no distinct object")  # the reasons, said once
        expect(flat.locator(".held-why")).to_contain_text("doubts this cut")
        expect(flat.locator(".held-why")).not_to_contain_text("no distinct object")
        page.wait_for_function("""() => [...document.querySelectorAll('#held-list img.before, #held-list img.after')]
            .every((img) => img.complete && img.naturalWidth > 0 && img.src.startsWith('blob:'))""")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#held-list").screenshot(path=str(SHOTS / "store-held-for-review.png"))

        mug.get_by_role("button", name="Approve and publish").click()
        expect(cards).to_have_count(1)
        expect(page.locator("#message")).to_contain_text("Published")
        ours = held.file_names(MUG)
        assert len(ours) == 1 and is_our_url(f"/images/{ours[0]}")  # the fake store shows our photo

        page.locator(f"#held-list > li[data-item-id='{items[FLAT]}']").get_by_role("button", name="Skip").click()
        expect(cards).to_have_count(0)
        expect(page.locator("#held-status")).to_have_text("Nothing is waiting for review.")
        assert held.file_names(FLAT) == original_flat
        page.get_by_role("button", name="Refresh held cuts").click()
        expect(page.locator("#held-status")).to_have_text("Nothing is waiting for review.")
        expect(cards).to_have_count(0)
        counts = a.get(held.sync_path).json()["counts"]
        assert (counts["published"], counts["skipped"], counts["held"]) == (1, 1, 0)
        browser.close()
        assert not errors, errors
