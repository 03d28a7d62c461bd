"""`promptcut store campaign` as a user runs it (a child process on the published world's database): a dry
run writes the contact sheet and records nothing; create, list and cancel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from tests.fakestore import FakeShopify, sample_products
from tests.helpers import run_cli
from tests.service.store.campaign_world import THEME, published_world


def test_dry_run_then_create_list_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeShopify(sample_products(2)) as shop, published_world(tmp_path, shop) as world:
        for name in ("PROMPTCUT_DATABASE_URL", "PROMPTCUT_STORE_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("PROMPTCUT_DATA_DIR", str(world.settings.data_dir))
        monkeypatch.setenv("PROMPTCUT_SECRET_KEY", "a shared secret")
        monkeypatch.setenv("PROMPTCUT_STORE_API_ALLOW_HOSTS", shop.allow_host)
        monkeypatch.setenv("PROMPTCUT_URL_ALLOW_HOSTS", shop.allow_host)
        start, end = (world.clock() + timedelta(days=30)).isoformat(), (world.clock() + timedelta(days=40)).isoformat()
        sheet = tmp_path / "sheet.png"
        base = ("store", "campaign", "create", world.store_id, "--theme", THEME, "--start", start, "--end", end)
        dry = run_cli(*base, "--dry-run", "--sheet", str(sheet))
        assert dry.returncode == 0, dry.stderr
        assert "2 photo(s) would change" in dry.stdout and Image.open(sheet).format == "PNG"
        assert shop.upload_posts == 2  # the sync's only
        assert run_cli("store", "campaign", "list", world.store_id).stdout == ""
        created = run_cli(*base)
        assert created.returncode == 0 and " scheduled: theme winter-holidays" in created.stdout, created.stderr
        campaign_id = created.stdout.split()[1]
        assert campaign_id in run_cli("store", "campaign", "list", world.store_id).stdout
        cancelled = run_cli("store", "campaign", "cancel", campaign_id)
        assert cancelled.returncode == 0 and " cancelled:" in cancelled.stdout
        backwards = run_cli("store", "campaign", "create", world.store_id, "--theme", THEME, "--start", end,
                            "--end", start)
        assert backwards.returncode == 2 and "must end after it starts" in backwards.stderr
