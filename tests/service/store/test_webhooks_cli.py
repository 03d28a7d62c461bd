"""`promptcut store webhooks` through the real command (a child process): the secret set sealed and never
echoed, auto-process and the look set, an unknown store one line with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.db import open_database, repo
from service.db.schema import StoreConnection
from tests.fakestore import FakeShopify
from tests.helpers import run_cli

SECRET = "shpss_cli_secret_0123456789"


@pytest.fixture
def store_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: FakeShopify) -> str:
    for name in ("PROMPTCUT_DATABASE_URL", "PROMPTCUT_SECRET_KEY", "PROMPTCUT_STORE_TOKEN",
                 "PROMPTCUT_STORE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMPTCUT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PROMPTCUT_STORE_API_ALLOW_HOSTS", shop.allow_host)
    database = open_database(f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}")
    with database.session() as db:
        row, _ = repo.create_key(db, "Corner Shop")
    database.close()
    connected = run_cli("store", "connect", "--key", row.id, "--shop", "fake-shop", "--token", shop.token,
                        "--api-url", shop.api_url)
    assert connected.returncode == 0, connected.stderr
    return connected.stdout.split(" as store ", 1)[1].split()[0]


def test_webhook_settings_from_the_command_line(store_id: str, tmp_path: Path) -> None:
    shown = run_cli("store", "webhooks", store_id)
    assert shown.returncode == 0, shown.stderr
    assert "secret not set" in shown.stdout and "auto-process off" in shown.stdout

    changed = run_cli("store", "webhooks", store_id, "--secret", SECRET, "--auto-process", "--background",
                      "#ffcc00", "--format", "png")
    assert changed.returncode == 0, changed.stderr
    assert "secret set" in changed.stdout and "auto-process on" in changed.stdout
    assert "background #ffcc00" in changed.stdout and "format png" in changed.stdout
    assert SECRET not in changed.stdout + changed.stderr
    database = open_database(f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}")
    with database.session() as db:
        row = db.get(StoreConnection, store_id)
        assert row.auto_process is True and row.webhook_secret_sealed and SECRET not in row.webhook_secret_sealed
    database.close()

    off = run_cli("store", "webhooks", store_id, "--no-auto-process")
    assert "auto-process off" in off.stdout and "secret set" in off.stdout and "#ffcc00" in off.stdout

    unknown = run_cli("store", "webhooks", "nope")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
    bad = run_cli("store", "webhooks", store_id, "--format", "gif")
    assert bad.returncode == 2 and "format" in bad.stderr
