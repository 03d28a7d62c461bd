"""Everything promptcut creates under its data directory is private to the account running it: files 0600 and
folders 0700, whatever the umask — built through the real code paths (the job runner's start-up, the artifact
store, the SQLite database with its -wal/-shm files, the secret key file)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from fusion.segmenters import get_segmenter
from service.db import open_database
from service.jobs.startup import start_services
from service.private_files import make_private_dir, write_private_atomic
from service.prometheus import Metrics
from service.settings import Settings
from service.store.secrets import KEY_FILE_NAME, secret_box


@contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    """Relative path → permission bits of `root` ("." itself) and everything under it."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(root: Path) -> dict[str, int]:
    found = modes(root)
    wrong = {name: oct(mode) for name, mode in found.items()
             if mode != (0o700 if (root / name).is_dir() else 0o600)}
    assert not wrong, f"not private (expected files 0o600, folders 0o700): {wrong}"
    return found


# 0o022 is the usual default; 0o000 would make 0666/0777 of anything left to the umask; 0o277 would narrow even
# the owner's bits (0400 / 0500) of anything whose mode is not set explicitly.
@pytest.mark.parametrize("mask", [0o022, 0o000, 0o277], ids=["umask022", "umask000", "umask277"])
def test_everything_the_service_creates_in_its_data_dir_is_private(tmp_path: Path, mask: int) -> None:
    outside = tmp_path / "srv"  # folders promptcut creates above the data directory are private too
    data_dir = outside / "promptcut"
    settings = Settings(data_dir=data_dir, workers=1, segmenter="classical")
    with umask(mask):
        services = start_services(settings, Metrics(), segmenter=get_segmenter("classical"))  # data dir + database
        try:
            digest = services.store.put(b"\x89PNG a stored photo")  # an artifact: ab/cd/<digest> under artifacts/
            assert services.store.writable()
            secret_box("", data_dir)  # the key file store tokens are sealed under
            with services.database.session() as db:  # a write, so the SQLite -wal file holds something
                db.execute(text("CREATE TABLE probe (x INTEGER)"))
            found = assert_private(outside)  # while the database is open: -wal and -shm exist
            assert {"promptcut", "promptcut/promptcut.db", "promptcut/promptcut.db-wal", "promptcut/promptcut.db-shm",
                    f"promptcut/{KEY_FILE_NAME}", f"promptcut/artifacts/{digest[:2]}/{digest[2:4]}/{digest}",
                    } <= set(found)
        finally:
            services.stop()
        assert_private(outside)


def test_the_sqlite_database_alone_is_private(tmp_path: Path) -> None:
    """`promptcut keys` / `promptcut migrate` open the database without the job runner: same modes."""
    with umask(0o022):
        database = open_database(f"sqlite:///{tmp_path / 'a' / 'b' / 'promptcut.db'}")
        try:
            found = assert_private(tmp_path / "a")
            assert {"b/promptcut.db", "b/promptcut.db.migrate-lock"} <= set(found)
        finally:
            database.close()


def test_folders_and_files_that_already_exist_keep_their_mode(tmp_path: Path) -> None:
    """An operator's own data directory (e.g. made 0750 for a backup group) is not changed; what promptcut adds
    inside it is private."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o750)
    with umask(0o022):
        make_private_dir(data_dir / "artifacts" / "ab")
        write_private_atomic(data_dir / "artifacts" / "ab" / "blob", b"x")
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o750
    assert assert_private(data_dir / "artifacts") == {".": 0o700, "ab": 0o700, "ab/blob": 0o600}
