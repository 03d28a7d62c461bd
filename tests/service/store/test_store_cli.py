"""`promptcut store connect|list|disconnect` through the real command (a child process) against the fake shop:
one-line errors, exit 2 for bad options, the token never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.db import open_database, repo
from tests.fakestore import FakeShopify
from tests.helpers import run_cli


@pytest.fixture
def key_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: FakeShopify) -> str:
    """A key in a fresh data directory; the environment (inherited by run_cli's child) points at it."""
    for name in ("PROMPTCUT_DATABASE_URL", "PROMPTCUT_SECRET_KEY", "PROMPTCUT_STORE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMPTCUT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PROMPTCUT_STORE_API_ALLOW_HOSTS", shop.allow_host)
    database = open_database(f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}")
    with database.session() as db:
        row, _ = repo.create_key(db, "Corner Shop")
    database.close()
    return row.id


def test_connect_list_disconnect(key_id: str, shop: FakeShopify, tmp_path: Path) -> None:
    connected = run_cli("store", "connect", "--key", key_id, "--shop", "fake-shop", "--token", shop.token,
                        "--api-url", shop.api_url)
    assert connected.returncode == 0, connected.stderr
    assert "connected fake-shop.myshopify.com" in connected.stdout and key_id in connected.stdout
    assert shop.token not in connected.stdout + connected.stderr
    store_id = connected.stdout.split(" as store ", 1)[1].split()[0]
    assert (tmp_path / "data" / "secret.key").is_file()  # no PROMPTCUT_SECRET_KEY: the key file was made

    listing = run_cli("store", "list")
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.strip().splitlines()
    assert header.split() == ["ID", "KEY", "SHOP", "CONNECTED", "API", "URL"]
    assert row.split()[:3] == [store_id, key_id, "fake-shop.myshopify.com"] and shop.token not in listing.stdout
    assert run_cli("store", "list", "--key", "someone-else").stdout.strip().count("\n") == 0  # header only

    gone = run_cli("store", "disconnect", store_id)
    assert gone.returncode == 0 and "token is deleted" in gone.stdout
    assert run_cli("store", "list").stdout.strip().count("\n") == 0
    again = run_cli("store", "disconnect", store_id)
    assert again.returncode == 2 and again.stderr.strip() == f"error: no connected store with id {store_id!r}"


def test_the_token_can_come_from_the_environment(key_id: str, shop: FakeShopify,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTCUT_STORE_TOKEN", shop.token)
    result = run_cli("store", "connect", "--key", key_id, "--shop", "fake-shop", "--api-url", shop.api_url)
    assert result.returncode == 0, result.stderr
    assert "webhook secret not set" in result.stdout


def test_the_webhook_secret_can_be_given_when_connecting(key_id: str, shop: FakeShopify) -> None:
    secret = "the app's client secret"
    result = run_cli("store", "connect", "--key", key_id, "--shop", "fake-shop", "--token", shop.token,
                     "--api-url", shop.api_url, "--webhook-secret", secret)
    assert result.returncode == 0 and "webhook secret set" in result.stdout, result.stderr
    store_id = result.stdout.split(" as store ", 1)[1].split()[0]
    shown = run_cli("store", "webhooks", store_id)
    assert "webhook secret set" in shown.stdout and secret not in shown.stdout + result.stdout
    empty = run_cli("store", "connect", "--key", key_id, "--shop", "fake-shop", "--token", shop.token,
                    "--api-url", shop.api_url, "--webhook-secret", " ")
    assert empty.returncode == 2 and "--webhook-secret" in empty.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["--shop", "fake-shop", "--token", "shpat_wrong_value"], "refused the access token (HTTP 401)"),
    (["--shop", "not a shop", "--token", "shpat_wrong_value"], "is not a Shopify shop"),
    (["--shop", "fake-shop", "--token", "shpat_wrong_value", "--api-url", "http://127.0.0.1:1/graphql.json"],
     "must use https"),
])
def test_errors_are_one_line_exit_2_and_never_echo_the_token(key_id: str, shop: FakeShopify, args: list[str],
                                                             expected: str) -> None:
    if "--api-url" not in args:
        args = [*args, "--api-url", shop.api_url]
    result = run_cli("store", "connect", "--key", key_id, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "shpat_wrong_value" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_a_missing_scope_and_an_unknown_key(key_id: str, shop: FakeShopify) -> None:
    shop.scopes = ("read_products",)
    result = run_cli("store", "connect", "--key", key_id, "--shop", "fake-shop", "--token", shop.token,
                     "--api-url", shop.api_url)
    assert result.returncode == 2 and "lacks the scopes write_products, write_files" in result.stderr
    unknown = run_cli("store", "connect", "--key", "nope", "--shop", "fake-shop", "--token", shop.token,
                      "--api-url", shop.api_url)
    assert unknown.returncode == 2 and "no active API key with id 'nope'" in unknown.stderr
    missing = run_cli("store", "connect", "--shop", "fake-shop", "--token", shop.token)
    assert missing.returncode == 2 and "--key" in missing.stderr
