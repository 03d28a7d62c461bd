"""A server killed with SIGKILL in the middle of a job resumes it on restart: every item ends done exactly once,
nothing finished is redone, nothing is lost, no artifact or result is recorded twice.

The server is the real `promptcut serve` command in a child process (real classical segmenter, one worker,
768-px photos so the job takes long enough to be caught half-way), SQLite and the artifact store in tmp_path.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.helpers import REPO, sample_jpeg

WAIT_SECONDS = 120

# `promptcut serve` through its own register() (independent of whether service/cli.py wires it yet).
SERVE = """
import typer
from service.cli import serve as serve_cli
app = typer.Typer()
@app.callback()
def main() -> None:
    pass
serve_cli.register(app)
app()
"""


def photo(name: str, side: int = 768) -> bytes:
    return sample_jpeg(name, side)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PROMPTCUT_DATA_DIR": str(data_dir), "PROMPTCUT_SEGMENTER": "classical",
           "PROMPTCUT_WORKERS": "1", "PROMPTCUT_QUEUE_SIZE": "2"}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--log-level", "warning"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"server did not become ready:\n{log.read_text()[-3000:]}")


def item_rows(data_dir: Path) -> tuple[dict[str, dict], Counter]:
    """Items (state, attempts, version, updated_at) and artifact rows per (item, kind), read from the database."""
    from sqlalchemy import select

    from service.db import open_database
    from service.db.schema import Artifact, Item

    database = open_database(f"sqlite:///{data_dir / 'promptcut.db'}", migrate=False)
    try:
        with database.session() as db:
            items = {row.id: {"state": row.state, "attempts": row.attempts, "version": row.version,
                              "updated_at": row.updated_at} for row in db.scalars(select(Item))}
            kinds = Counter((item_id, kind) for item_id, kind in db.execute(select(Artifact.item_id, Artifact.kind)))
    finally:
        database.close()
    return items, kinds


def kill_half_way(server: subprocess.Popen, port: int, key: str, job_id: str, total: int, at_least_done: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": key}, timeout=30) as client:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            counts = client.get(f"/v1/jobs/{job_id}").json()["counts"]
            if counts["done"] >= at_least_done and counts["running"] == 1:
                break
            assert counts["done"] + counts["failed"] < total, "the job finished before it could be killed"
            assert time.monotonic() < deadline, "the job never got half-way"
            time.sleep(0.01)
    server.send_signal(signal.SIGKILL)


@pytest.mark.slow
def test_sigkill_mid_job_then_restart_finishes_every_item_exactly_once(tmp_path: Path) -> None:
    from service.db import open_database, repo

    data_dir = tmp_path / "data"
    database = open_database(f"sqlite:///{data_dir / 'promptcut.db'}")
    with database.session() as db:
        key = repo.create_key(db, "restart")[1]
    database.close()

    names = ["coffee-cup.jpg", "rocket.jpg", "chelsea-cat.jpg", "astronaut.jpg"] * 3
    files = [("image_file", (f"{i}-{name}", photo(name), "image/jpeg")) for i, name in enumerate(names)]
    log = tmp_path / "server.log"
    port = free_port()
    server = start_server(data_dir, port, log)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": key}, timeout=30) as client:
        created = client.post("/v1/jobs", files=files, data={"size": "300"})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]

    # Kill the moment an item starts, with earlier ones done. Should that item finish in the instant between
    # seeing it and the kill, restart and kill again at the next one.
    finished_before: dict[str, dict] = {}
    interrupted: set[str] = set()
    for _attempt in range(3):
        try:
            kill_half_way(server, port, key, job_id, len(names), at_least_done=len(finished_before) + 1)
        finally:
            if server.poll() is None:
                server.kill()
            server.wait(30)
        before, _ = item_rows(data_dir)
        finished_before = {item_id: row for item_id, row in before.items() if row["state"] == "done"}
        interrupted = {item_id for item_id, row in before.items() if row["state"] == "running"}
        server = start_server(data_dir, port, log)
        if interrupted:
            break
    assert len(interrupted) == 1 and finished_before, before

    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": key}, timeout=30) as client:
            deadline = time.monotonic() + WAIT_SECONDS
            while (job := client.get(f"/v1/jobs/{job_id}").json())["state"] not in ("done", "failed"):
                assert time.monotonic() < deadline, f"job did not finish after restart: {job['counts']}"
                time.sleep(0.1)
            assert job["counts"] == {"queued": 0, "running": 0, "done": len(names), "failed": 0}, job["counts"]
            archive = client.get(f"/v1/jobs/{job_id}/results.zip")
            with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
                assert len(zipped.namelist()) == len(names)
                for name in zipped.namelist():
                    assert Image.open(io.BytesIO(zipped.read(name))).size == (300, 300)
    finally:
        server.terminate()
        server.wait(60)

    after, artifact_rows = item_rows(data_dir)
    assert set(after) == set(before)  # nothing lost, nothing invented
    for item_id, row in after.items():
        assert row["state"] == "done" and row["version"] == 1, (item_id, row)  # one result each
    for item_id, row in finished_before.items():  # finished work is never redone
        assert after[item_id]["attempts"] == 1 and after[item_id]["updated_at"] == row["updated_at"]
    for item_id in interrupted:  # the interrupted item ran again, once
        assert after[item_id]["attempts"] == 2
    assert sum(row["attempts"] for row in after.values()) == len(names) + len(interrupted)
    duplicated = {pair: count for pair, count in artifact_rows.items() if count > 1}
    assert not duplicated, duplicated
    kinds = Counter(kind for _, kind in artifact_rows)
    assert kinds["output"] == len(names) and kinds["original"] == len(names)
    # SIGTERM: a graceful shutdown (uvicorn re-raises the signal once it has shut down cleanly).
    assert server.returncode in (0, -signal.SIGTERM), log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
