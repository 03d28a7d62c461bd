"""`promptcut keys create/list/revoke` against a real SQLite file (and PostgreSQL), with one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from service.cli import keys as keys_cli
from service.db import open_database, repo
from tests.helpers import REPO, temporary_postgres_database

# The lead wires `register` into service/cli.py; here the sub-app is mounted on a bare root the same way.
_root = typer.Typer(pretty_exceptions_enable=False)


@_root.callback()
def _main() -> None:
    pass


keys_cli.register(_root)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch):
    """Run `keys ...` with the environment pointing at a fresh data directory."""
    for name in ("PROMPTCUT_DATABASE_URL", "PROMPTCUT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMPTCUT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(_root, ["keys", *args], catch_exceptions=False)

    return run


def _find(url: str, plain: str):
    database = open_database(url)
    try:
        with database.session() as db:
            return repo.find_key(db, plain)
    finally:
        database.close()


def test_create_prints_the_key_once_and_it_authenticates(cli, tmp_path: Path) -> None:
    result = cli("create", "--store", "Corner Shop")
    assert result.exit_code == 0, result.output
    plain = result.stdout.strip()
    assert "\n" not in plain and plain.startswith(repo.KEY_PREFIX) and len(plain) > 40
    found = _find(f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}", plain)
    assert found is not None and found.store == "Corner Shop"
    assert found.id in result.stderr and plain not in result.stderr

    listing = cli("list")
    assert listing.exit_code == 0
    header, row = listing.stdout.strip().splitlines()
    assert header.split() == ["ID", "STORE", "PREFIX", "CREATED", "REVOKED"]
    assert found.id in row and "Corner Shop" in row and plain[:8] in row and row.rstrip().endswith("-")
    assert plain not in listing.stdout  # the key itself is never shown again


def test_revoke_locks_the_key_out(cli, tmp_path: Path) -> None:
    plain = cli("create", "--store", "s").stdout.strip()
    url = f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}"
    key_id = _find(url, plain).id
    result = cli("revoke", key_id)
    assert result.exit_code == 0 and key_id in result.stdout
    assert _find(url, plain) is None
    assert "UTC" in cli("list").stdout.strip().splitlines()[1].split("UTC", 1)[1]  # a revoked time is listed


def test_data_dir_option_overrides_the_environment(cli, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    plain = cli("create", "--store", "s", "--data-dir", str(other)).stdout.strip()
    assert _find(f"sqlite:///{other / 'promptcut.db'}", plain) is not None
    assert cli("list").stdout.strip().splitlines()[1:] == []  # the default data directory has no keys


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["revoke", "no-such-id"], {}, "no API key with id 'no-such-id'"),
        (["create", "--store", " "], {}, "store name must be"),
        (["list", "--database-url", "postgresql+psycopg://u:s3cret@127.0.0.1:1/x"], {}, "cannot open database"),
        (["list", "--database-url", "nonsense"], {}, "invalid database URL"),
        (["list"], {"PROMPTCUT_WORKERS": "many"}, "invalid setting PROMPTCUT_WORKERS"),
    ],
)
def test_errors_are_one_line_without_a_traceback(tmp_path: Path, args, env, expected) -> None:
    """In a real child process, as a user runs it."""
    script = (
        "import typer; from service.cli import keys as keys_cli; app = typer.Typer(pretty_exceptions_enable=False)\n"
        "app.callback()(lambda: None); keys_cli.register(app); app()"
    )
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PROMPTCUT_DATA_DIR": str(tmp_path / "d"), **env}
    result = subprocess.run(
        [sys.executable, "-c", script, "keys", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and "s3cret" not in result.stderr


@pytest.mark.postgres
def test_keys_on_postgresql(cli) -> None:
    with temporary_postgres_database() as url:
        plain = cli("create", "--store", "pg shop", "--database-url", url).stdout.strip()
        found = _find(url, plain)
        assert found is not None and found.store == "pg shop"
        assert cli("revoke", found.id, "--database-url", url).exit_code == 0
        assert _find(url, plain) is None
