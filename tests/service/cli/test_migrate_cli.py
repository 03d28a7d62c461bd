"""`promptcut migrate` and `promptcut serve --no-migrate`, as a user runs them (the real command in a child
process), against a real SQLite file (--data-dir) and a real PostgreSQL database (--database-url)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.db import head_revision, open_database, schema_revision
from tests.helpers import REPO, temporary_postgres_database

SERVE_WAIT_SECONDS = 120


def _environment() -> dict[str, str]:
    """This process's environment without PROMPTCUT_* settings: only the options given choose the database."""
    return {name: value for name, value in os.environ.items() if not name.startswith("PROMPTCUT_")}


def promptcut(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env=_environment(), timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """(the options naming an empty database, its SQLAlchemy URL)."""
    if request.param == "sqlite":
        data_dir = tmp_path / "data"
        yield ["--data-dir", str(data_dir)], f"sqlite:///{data_dir / 'promptcut.db'}"
        return
    with temporary_postgres_database() as url:
        yield ["--database-url", url], url


def _revision(url: str) -> str | None:
    opened = open_database(url, migrate=False)
    try:
        return schema_revision(opened)
    finally:
        opened.close()


def test_migrate_brings_an_empty_database_to_head_then_says_it_is_already_there(database) -> None:
    options, url = database
    head = head_revision()
    first = promptcut("migrate", *options)
    assert first.returncode == 0, first.stderr
    assert f"migrated from revision none (empty) to {head} (head)" in first.stdout
    assert _revision(url) == head
    second = promptcut("migrate", *options)
    assert second.returncode == 0, second.stderr
    assert f"already at head (revision {head}); nothing to migrate" in second.stdout
    assert "Traceback" not in first.stderr + second.stderr


def test_migrate_reports_an_unreachable_database_in_one_line_without_the_password() -> None:
    result = promptcut("migrate", "--database-url", "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/none")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open database") and "hunter2" not in lines[0]


def test_serve_no_migrate_refuses_an_unmigrated_database_with_one_line(database) -> None:
    options, url = database
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--no-migrate", *options, "--port", str(free_port()),
         "--segmenter", "classical", "--workers", "1"],
        cwd=REPO, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _, stderr = process.communicate(timeout=SERVE_WAIT_SECONDS)  # exits by itself: it never starts serving
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: database ") and "`promptcut migrate`" in lines[0]
    assert f"not {head_revision()} (head)" in lines[0]
    assert "Traceback" not in stderr and "serving on" not in stderr
    assert _revision(url) is None  # nothing was migrated


def test_serve_no_migrate_serves_a_database_that_promptcut_migrate_brought_to_head(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert promptcut("migrate", "--data-dir", str(data_dir)).returncode == 0
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--no-migrate", "--data-dir", str(data_dir),
             "--port", str(port), "--segmenter", "classical", "--workers", "1", "--log-level", "warning"],
            cwd=REPO, env=_environment(), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVE_WAIT_SECONDS
        while True:
            assert process.poll() is None, f"serve exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"serve never became ready:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)  # uvicorn shuts down, then re-raises SIGTERM: exit status 0 or -15
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
