"""Review before publishing over HTTP: list a sync's held cuts (doubtful first, reasons in words), fix one like
any job item, approve it (its CURRENT result is written back, the counts follow) or skip it; 404 for another
key's sync or an unknown item, 409 for an item that is not held (or a reverted sync)."""

from __future__ import annotations

from pathlib import Path

from service.store.marker import is_our_url
from tests.service.store.review_fixtures import FLAT, MUG, held_sync


def test_held_cuts_are_listed_fixed_approved_and_skipped(tmp_path: Path) -> None:
    with held_sync(tmp_path) as held, held.client("a") as a, held.client("b") as b:
        originals = {pid: held.file_names(pid) for pid in (MUG, FLAT)}
        listed = a.get(f"{held.sync_path}/items", params={"state": "held"})
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert [entry["product_id"] for entry in items] == [FLAT, MUG]  # the doubtful cut first
        flat, mug = items
        assert flat["doubtful"] and flat["reasons"] and all(" " in reason for reason in flat["reasons"])
        assert not mug["doubtful"] and mug["reasons"] == [
            "The picture is smaller than 1000 px on its longest side."]
        assert mug["item"]["state"] == "done" and mug["item"]["result_url"]  # an ordinary job item
        assert b.get(f"{held.sync_path}/items").status_code == 404
        assert a.get(f"{held.sync_path}/items", params={"state": "sideways"}).status_code == 400
        assert len(a.get(f"{held.sync_path}/items").json()["items"]) == 2
        listed_syncs = a.get(f"/v1/stores/{held.store_id}/syncs").json()["syncs"]
        assert [sync["id"] for sync in listed_syncs] == [held.sync_id]
        assert b.get(f"/v1/stores/{held.store_id}/syncs").status_code == 404

        # the seller fixes the mug (a box around part of it): a new version, with other pixels
        item_id = mug["item_id"]
        first = a.get(f"/v1/items/{item_id}/result").content
        fixed = a.post(f"/v1/items/{item_id}/corrections",
                       json={"box": {"left": 0, "top": 0, "right": 80, "bottom": 80}})
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["version"] == 2
        current = a.get(f"/v1/items/{item_id}/result").content
        assert current != first

        assert b.post(f"{held.sync_path}/items/{item_id}/approve").status_code == 404
        assert a.post(f"{held.sync_path}/items/no-such-item/approve").status_code == 404
        approved = a.post(f"{held.sync_path}/items/{item_id}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["state"] == "published" and approved.json()["new_media_id"]
        ours = held.file_names(MUG)
        assert len(ours) == 1 and ours != originals[MUG] and is_our_url(f"/images/{ours[0]}")
        with held.shop.lock:
            assert held.shop.images[ours[0]] == current  # the fixed version, not the one the sync held
        again = a.post(f"{held.sync_path}/items/{item_id}/approve")
        assert again.status_code == 409 and again.json()["error"]["code"] == "sync_conflict"
        assert a.post(f"{held.sync_path}/items/{item_id}/skip").status_code == 409

        assert b.post(f"{held.sync_path}/items/{flat['item_id']}/skip").status_code == 404
        skipped = a.post(f"{held.sync_path}/items/{flat['item_id']}/skip")
        assert skipped.status_code == 200 and skipped.json()["state"] == "skipped"
        assert held.file_names(FLAT) == originals[FLAT]  # nothing written
        assert a.get(f"{held.sync_path}/items", params={"state": "held"}).json()["items"] == []
        counts = a.get(held.sync_path).json()["counts"]
        assert (counts["published"], counts["held"], counts["skipped"]) == (1, 0, 1), counts

        # an approved cut is the sync's like any published one: revert puts the original back
        reverted = a.post(f"{held.sync_path}/revert")
        assert reverted.status_code == 200 and reverted.json()["counts"]["reverted"] == 1
        restored = held.file_names(MUG)
        assert len(restored) == 1 and not is_our_url(f"/images/{restored[0]}")
        with held.shop.lock:
            assert held.shop.images[restored[0]] == held.shop.images[originals[MUG][0]]  # byte-identical
        assert a.post(f"{held.sync_path}/items/{flat['item_id']}/approve").status_code == 409


def test_approving_while_the_store_refuses_keeps_the_cut_held(tmp_path: Path) -> None:
    with held_sync(tmp_path) as held, held.client("a") as a:
        mug = next(entry for entry in a.get(f"{held.sync_path}/items").json()["items"] if entry["product_id"] == MUG)
        held.shop.fail_product(MUG, "Media limit reached for this product")
        refused = a.post(f"{held.sync_path}/items/{mug['item_id']}/approve")
        assert refused.status_code == 422 and "Media limit reached" in refused.json()["error"]["message"]
        assert [entry["state"] for entry in a.get(f"{held.sync_path}/items").json()["items"]] == ["held", "held"]
        with held.shop.lock:
            held.shop.user_errors.clear()
        assert a.post(f"{held.sync_path}/items/{mug['item_id']}/approve").status_code == 200
        assert a.get(held.sync_path).json()["counts"]["published"] == 1
