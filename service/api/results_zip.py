"""A job's results as one zip, built once per set of results and shared by every download of it.

The zip is kept under the data directory (`zips/`, private) named by the job and a fingerprint of what is in it
(each done item's id, result digest and file name), so ten downloads of a 20-item job read one file instead of
building ten, and a theme swap or a fix (new digests) makes a new one, which replaces the job's older zip. At most
MAX_BUILDS zips are built at a time (beyond: 429 `busy` with Retry-After), one key builds at most
max_zip_builds_per_key at a time (429 `key_busy`), and at most KEEP_ZIPS are kept.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import zipfile
from pathlib import Path

from service.api.deps import key_slot
from service.api.errors import ApiError, not_found
from service.api.uploads import archive_name
from service.db import repo
from service.private_files import PRIVATE_FILE, make_private_dir

MAX_BUILDS = 2  # a build reads every result: cheap on CPU, heavy on disk and memory bandwidth
KEEP_ZIPS = 32
_BUILDS = threading.BoundedSemaphore(MAX_BUILDS)


def results_zip(services, key_id: str, job_id: str) -> tuple[Path, int]:
    """The path of the job's results zip (built now if its results changed since the last one) and how many
    results it holds. 404 for another key's job, 409 while nothing is done, 429 while MAX_BUILDS are building."""
    entries = _entries(services, key_id, job_id)
    fingerprint = hashlib.sha256("\n".join(f"{name}\0{digest}" for name, digest in entries).encode()).hexdigest()
    folder = make_private_dir(Path(services.settings.data_dir) / "zips")
    path = folder / f"{job_id}-{fingerprint[:32]}.zip"
    if path.exists():
        os.utime(path)  # recently used: kept longest
        return path, len(entries)
    with key_slot(services, key_id, "zip_builds", retry_after=5):  # one store's downloads never take every build
        if not _BUILDS.acquire(blocking=False):
            services.metrics.rejected.labels("zip_builds").inc()
            raise ApiError(429, "busy", f"{MAX_BUILDS} result zips are being built; try again shortly",
                           headers={"Retry-After": "5"})
        try:
            _build(services, entries, path)
        finally:
            _BUILDS.release()
    _prune(folder, job_id, keep=path)
    return path, len(entries)


def _entries(services, key_id: str, job_id: str) -> list[tuple[str, str]]:
    """(file name in the zip, result digest) of every done item, in job order."""
    with services.database.session() as db:
        job = repo.get_job(db, key_id, job_id)
        if job is None:
            raise not_found("job")
        entries, used = [], set()
        for item in repo.job_items(db, job_id):
            artifact = repo.current_artifact(db, item.id, "output") if item.state == "done" else None
            if artifact is None:
                continue
            extension = _extension(item.render)
            name = archive_name(item.position, item.ref, item.id, extension)
            if name in used:
                name = archive_name(item.position, f"{item.ref}-{item.id}", item.id, extension)
            used.add(name)
            entries.append((name, artifact.digest))
    if not entries:
        raise ApiError(409, "not_ready", "no item of this job is done yet", headers={"Retry-After": "2"})
    return entries


def _build(services, entries: list[tuple[str, str]], path: Path) -> None:
    fd, temp = tempfile.mkstemp(prefix=".building-", suffix=".zip", dir=path.parent)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
            for name, digest in entries:
                archive.writestr(name, services.store.get(digest))  # images are compressed already: stored
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _prune(folder: Path, job_id: str, keep: Path) -> None:
    """The job's older zips go, then the least recently used beyond KEEP_ZIPS. A download still reading one
    keeps its open file (POSIX): removing it never cuts a download short."""
    zips = [entry for entry in folder.glob("*.zip") if entry != keep]
    for entry in zips:
        if entry.name.startswith(f"{job_id}-"):
            entry.unlink(missing_ok=True)
    rest = sorted((entry for entry in folder.glob("*.zip")), key=_mtime, reverse=True)
    for entry in rest[KEEP_ZIPS:]:
        entry.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _extension(render: dict) -> str:
    fmt = (render or {}).get("format", "png")
    return {"jpeg": "jpg", "mask": "png"}.get(fmt, fmt)
