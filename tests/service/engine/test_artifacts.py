"""The content-addressed artifact store on a real directory: layout, de-duplication, atomic writes, and digests
validated before they touch the filesystem."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import service.engine.blobstore
from fusion.errors import OutputWriteError, PromptcutError
from service.engine.blobstore import ArtifactNotFoundError, ArtifactStore, is_digest


def test_put_returns_the_sha256_and_stores_under_a_two_level_fan_out(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    data = b"\x89PNG pretend image bytes"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.path(digest) == tmp_path / "artifacts" / digest[:2] / digest[2:4] / digest
    assert store.path(digest).read_bytes() == data
    assert store.get(digest) == data and store.exists(digest)
    empty = store.put(b"")
    assert store.get(empty) == b""


def test_identical_bytes_are_stored_once(tmp_path: Path, monkeypatch) -> None:
    store = ArtifactStore(tmp_path)
    writes: list[Path] = []
    real_write = service.engine.blobstore.write_private_atomic
    monkeypatch.setattr(service.engine.blobstore, "write_private_atomic",
                        lambda path, data: (writes.append(Path(path)), real_write(path, data)))
    first = store.put(b"same")
    second = store.put(b"same")
    assert first == second and len(writes) == 1
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [store.path(first)]


def test_a_failed_write_leaves_neither_the_blob_nor_a_temp_file(tmp_path: Path, monkeypatch) -> None:
    store = ArtifactStore(tmp_path)

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OutputWriteError, match="No space left"):
        store.put(b"will not fit")
    digest = hashlib.sha256(b"will not fit").hexdigest()
    assert not store.exists(digest)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 65, "g" * 64, "", "a" * 62 + "/.",
                                 "a" * 64 + "\n", None, 12])
def test_malformed_digests_never_reach_the_filesystem(tmp_path: Path, bad) -> None:
    store = ArtifactStore(tmp_path / "store")
    assert not is_digest(bad)
    for call in (store.path, store.get, store.exists):
        with pytest.raises(ValueError):
            call(bad)
    assert not (tmp_path / "store").exists()


def test_a_missing_blob_is_a_typed_error(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(digest)
    with pytest.raises(ArtifactNotFoundError) as raised:
        store.get(digest)
    assert isinstance(raised.value, PromptcutError) and digest in str(raised.value)


def test_writable_reports_whether_blobs_can_be_written(tmp_path: Path) -> None:
    assert ArtifactStore(tmp_path / "new").writable()
    assert list((tmp_path / "new").iterdir()) == []  # the probe is removed
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    assert not ArtifactStore(blocker / "artifacts").writable()
