"""`promptcut keys create [--json]`, `keys rotate-webhook-secret` and the legacy notice of `keys list`, against
a real SQLite file: the signing secret printed once is the one webhooks are signed with."""

from __future__ import annotations

import json
from pathlib import Path

from service.db import open_database, repo
from service.db.schema import ApiKey
from service.jobs.webhook_secrets import SECRET_PREFIX, signing_secrets
from service.store.secrets import secret_box
from tests.service.cli.test_keys_cli import _find, cli  # noqa: F401 — the fixture


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}"


def _signing(tmp_path: Path, key_id: str) -> tuple[str, ...]:
    """What the server would sign this key's webhooks with (its key file is the data directory's)."""
    database = open_database(_url(tmp_path))
    try:
        with database.session() as db:
            return signing_secrets(db.get(ApiKey, key_id), lambda: secret_box("", tmp_path / "data"))
    finally:
        database.close()


def test_create_prints_the_key_on_stdout_and_the_signing_secret_once_on_stderr(cli, tmp_path: Path) -> None:  # noqa: F811
    result = cli("create", "--store", "Corner Shop")
    assert result.exit_code == 0, result.output
    plain = result.stdout.strip()
    assert "\n" not in plain and plain.startswith(repo.KEY_PREFIX)  # scripts capturing stdout get the key alone
    labelled = [line for line in result.stderr.splitlines() if line.startswith("webhook signing secret: ")]
    assert len(labelled) == 1
    secret = labelled[0].removeprefix("webhook signing secret: ")
    assert secret.startswith(SECRET_PREFIX) and secret not in result.stdout
    found = _find(_url(tmp_path), plain)
    assert _signing(tmp_path, found.id) == (secret,)
    assert secret not in cli("list").output  # shown only once


def test_create_json_gives_key_secret_and_id_on_stdout(cli, tmp_path: Path) -> None:  # noqa: F811
    result = cli("create", "--store", "s", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert set(created) == {"key", "webhook_secret", "id"}
    assert _find(_url(tmp_path), created["key"]).id == created["id"]
    assert _signing(tmp_path, created["id"]) == (created["webhook_secret"],)
    assert created["webhook_secret"] not in result.stderr and created["id"] in result.stderr


def test_rotate_prints_the_new_secret_and_honours_the_old_one_for_the_grace(cli, tmp_path: Path) -> None:  # noqa: F811
    created = json.loads(cli("create", "--store", "s", "--json").stdout)
    rotated = cli("rotate-webhook-secret", created["id"])
    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip()
    assert new.startswith(SECRET_PREFIX) and new != created["webhook_secret"] and "\n" not in new
    assert "also signs until" in rotated.stderr and new not in rotated.stderr
    assert _signing(tmp_path, created["id"]) == (new, created["webhook_secret"])

    at_once = cli("rotate-webhook-secret", created["id"], "--grace-hours", "0")
    assert at_once.exit_code == 0 and "no longer signs" in at_once.stderr
    assert _signing(tmp_path, created["id"]) == (at_once.stdout.strip(),)


def test_rotate_refuses_unknown_and_revoked_keys_and_odd_grace(cli) -> None:  # noqa: F811
    created = json.loads(cli("create", "--store", "s", "--json").stdout)
    for grace in ("10000", "-1", "nan"):
        refused = cli("rotate-webhook-secret", created["id"], "--grace-hours", grace)
        assert refused.exit_code == 2 and "--grace-hours must be 0 to 720" in refused.stderr, refused.output
    assert cli("revoke", created["id"]).exit_code == 0
    for key_id in (created["id"], "no-such-id"):
        refused = cli("rotate-webhook-secret", key_id)
        assert refused.exit_code == 2 and f"no active API key with id {key_id!r}" in refused.stderr
        assert refused.stdout == ""


def test_list_names_the_active_keys_still_on_the_legacy_secret(cli, tmp_path: Path) -> None:  # noqa: F811
    cli("create", "--store", "new")
    database = open_database(_url(tmp_path))
    with database.session() as db:
        legacy_id = repo.create_key(db, "made before 0007")[0].id  # no secret of its own, as a migrated key
    database.close()
    listing = cli("list")
    assert listing.exit_code == 0 and legacy_id in listing.stdout
    notice = [line for line in listing.stderr.splitlines() if "legacy secret" in line]
    assert len(notice) == 1 and "1 key(s)" in notice[0] and legacy_id in notice[0]
    assert "rotate-webhook-secret" in notice[0]

    assert cli("rotate-webhook-secret", legacy_id).exit_code == 0
    assert "legacy" not in cli("list").stderr
