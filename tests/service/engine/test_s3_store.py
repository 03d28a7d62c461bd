"""Both artifact stores — the folder (the default) and an S3-compatible bucket (moto's server on loopback) — keep
the same promises: content-addressed put/get/exists/delete, a blob written once, digests checked before any I/O,
a missing blob as a typed error. Then what only the bucket has: its key layout and stored content type, presigned
downloads, one-line errors naming the bucket and endpoint when it cannot be used, write failures as write_failed,
and boto3 imported only when a bucket is configured."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from pydantic import ValidationError

import service.engine.blobstore
from fusion.errors import OutputWriteError, PromptcutError
from service.engine.artifact_stores import open_artifact_store
from service.engine.blobstore import ArtifactNotFoundError, ArtifactStore, ArtifactStoreUnavailableError
from service.engine.s3store import S3ArtifactStore, S3Location
from service.settings import Settings
from tests.helpers import REPO
from tests.moto_s3 import REGION, MotoS3, running_moto

PNG = b"\x89PNG\r\n\x1a\n" + b"pretend image bytes"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    with running_moto() as server:
        yield server


def s3_store(moto: MotoS3, prefix: str = "photos/live", presign_seconds: int = 0) -> S3ArtifactStore:
    """A store in a new bucket of its own."""
    location = S3Location(moto.new_bucket(), prefix, moto.url, REGION)
    return S3ArtifactStore(location, presign_seconds=presign_seconds)


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "folder":
        return ArtifactStore(tmp_path / "artifacts")
    return s3_store(request.getfixturevalue("moto"))


def count_writes(store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each blob actually written (not merely asked for) by either backend."""
    writes: list[str] = []
    if isinstance(store, ArtifactStore):
        real_write = service.engine.blobstore.write_private_atomic
        monkeypatch.setattr(service.engine.blobstore, "write_private_atomic",
                            lambda path, data: (writes.append(str(path)), real_write(path, data)))
    else:
        real_put = store._client.put_object
        monkeypatch.setattr(store._client, "put_object", lambda **kw: (writes.append(kw["Key"]), real_put(**kw))[1])
    return writes


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# ------------------------------------------------------------------------------------------------ both stores


def test_put_get_exists_delete(store) -> None:
    digest = store.put(PNG)
    assert digest == hashlib.sha256(PNG).hexdigest()
    assert store.exists(digest) and store.get(digest) == PNG
    empty = store.put(b"")
    assert store.get(empty) == b""
    assert store.delete(digest) is True
    assert not store.exists(digest) and store.delete(digest) is False
    with pytest.raises(ArtifactNotFoundError):
        store.get(digest)
    assert store.get(empty) == b""  # only the one blob went


def test_identical_bytes_are_written_once(store, monkeypatch: pytest.MonkeyPatch) -> None:
    writes = count_writes(store, monkeypatch)
    first = store.put(b"same bytes")
    second = store.put(b"same bytes")
    assert first == second and len(writes) == 1
    store.put(b"other bytes")
    assert len(writes) == 2


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 65, "g" * 64, "", "a" * 62 + "/.",
                                 "a" * 64 + "\n", None, 12])
def test_malformed_digests_are_refused_before_any_io(store, bad) -> None:
    for call in (store.get, store.exists, store.delete, lambda digest: store.download_url(digest, "image/png")):
        with pytest.raises(ValueError):
            call(bad)


def test_a_missing_blob_is_a_typed_error(store) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(digest)
    with pytest.raises(ArtifactNotFoundError) as raised:
        store.get(digest)
    assert isinstance(raised.value, PromptcutError) and raised.value.code == "artifact_missing"
    assert digest in str(raised.value)


def test_writable_and_no_download_url_by_default(store) -> None:
    assert store.writable()
    digest = store.put(PNG)
    assert store.download_url(digest, "image/png") is None  # the API streams the bytes


def test_shop_redact_deletes_the_stores_blobs_and_keeps_shared_ones(store, tmp_path: Path) -> None:
    from service.db import open_database, repo
    from service.db.schema import StoreConnection, Sync, SyncItem
    from service.store.webhooks_redact import redact_store

    database = open_database(f"sqlite:///{tmp_path / 'redact.db'}")
    only_theirs, shared = store.put(b"only this shop's photo"), store.put(b"a photo two shops sell")
    with database.session() as db:
        key_id = repo.create_key(db, "k")[0].id
        stores = [StoreConnection(key_id=key_id, shop_domain=f"{name}.myshopify.com") for name in ("gone", "stays")]
        db.add_all(stores)
        db.flush()
        for connection, digests in zip(stores, ([only_theirs, shared], [shared]), strict=True):
            sync = Sync(key_id=key_id, store_id=connection.id, options={}, render={}, look="look")
            db.add(sync)
            db.flush()
            db.add_all(SyncItem(sync_id=sync.id, product_id="1", media_id=f"m{n}", media_position=n, source_digest=d)
                       for n, d in enumerate(digests))
        gone = stores[0].id
    try:
        assert redact_store(database, store, gone).blobs == 1
    finally:
        database.close()
    assert not store.exists(only_theirs) and store.get(shared) == b"a photo two shops sell"


# ------------------------------------------------------------------------------------------------ the bucket


def test_keys_fan_out_under_the_prefix_with_the_content_type_stored(moto: MotoS3) -> None:
    store = s3_store(moto, prefix="shop/artifacts")
    digest = store.put(PNG)
    other = store.put(b"label map")
    raw = moto.client()
    keys = sorted(entry["Key"] for entry in raw.list_objects_v2(Bucket=store.location.bucket)["Contents"])
    assert keys == sorted(f"shop/artifacts/{d[:2]}/{d[2:4]}/{d}" for d in (digest, other))
    assert raw.head_object(Bucket=store.location.bucket, Key=store.key(digest))["ContentType"] == "image/png"
    assert raw.head_object(Bucket=store.location.bucket, Key=store.key(other))["ContentType"] == (
        "application/octet-stream")
    assert s3_store(moto, prefix="").key(digest) == f"{digest[:2]}/{digest[2:4]}/{digest}"


def test_locations_are_read_from_s3_urls() -> None:
    assert S3Location.from_url("s3://my-bucket/a/b/", "http://minio:9000", "eu-west-1") == S3Location(
        "my-bucket", "a/b", "http://minio:9000", "eu-west-1")
    assert S3Location.from_url("s3://my.bucket").prefix == ""
    for bad in ("https://my-bucket/a", "s3://", "s3://Upper/a", "my-bucket"):
        with pytest.raises(ValueError):
            S3Location.from_url(bad)
    with pytest.raises(ValidationError, match="artifacts_url"):
        Settings(artifacts_url="/srv/artifacts")
    assert Settings(artifacts_url="s3://my-bucket/promptcut").artifacts_url == "s3://my-bucket/promptcut"


def test_presigned_downloads_serve_the_bytes_as_told(moto: MotoS3) -> None:
    store = s3_store(moto, presign_seconds=60)
    digest = store.put(PNG)
    url = store.download_url(digest, "image/png")
    assert url is not None and url.startswith(f"{moto.url}/{store.location.bucket}/photos/live/")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url  # signature v4, valid 60 s
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert "immutable" in response.headers["cache-control"]
    download = httpx.get(store.download_url(digest, "application/octet-stream", attachment=True))
    assert download.headers["content-disposition"] == "attachment"
    assert download.headers["content-type"] == "application/octet-stream"


def bucket_settings(tmp_path: Path, bucket: str, endpoint: str) -> Settings:
    return Settings(data_dir=tmp_path, artifacts_url=f"s3://{bucket}/promptcut", s3_endpoint_url=endpoint,
                    s3_region=REGION)


def test_the_factory_opens_the_folder_by_default_and_a_bucket_when_named(tmp_path: Path, moto: MotoS3) -> None:
    local = open_artifact_store(Settings(data_dir=tmp_path))
    assert isinstance(local, ArtifactStore) and local.root == tmp_path / "artifacts"
    bucket = moto.new_bucket()
    remote = open_artifact_store(bucket_settings(tmp_path, bucket, moto.url))
    assert isinstance(remote, S3ArtifactStore) and remote.location.bucket == bucket
    assert remote.location.prefix == "promptcut" and remote.presign_seconds == 0
    digest = remote.put(PNG)
    assert moto.client().get_object(Bucket=bucket, Key=f"promptcut/{digest[:2]}/{digest[2:4]}/{digest}")
    assert not (tmp_path / "artifacts").exists()


def assert_one_line_naming(error: ArtifactStoreUnavailableError, bucket: str, endpoint: str, reason: str) -> None:
    message = str(error)
    assert "\n" not in message and "Traceback" not in message
    assert f"s3://{bucket}/promptcut" in message and endpoint in message and reason in message, message
    assert error.code == "artifact_store_unavailable"


def test_an_unreachable_endpoint_or_a_missing_bucket_stops_the_start_with_one_line(
        tmp_path: Path, moto: MotoS3) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ArtifactStoreUnavailableError) as raised:
        open_artifact_store(bucket_settings(tmp_path, "some-bucket", down))
    assert_one_line_naming(raised.value, "some-bucket", down, "cannot connect to the endpoint")
    with pytest.raises(ArtifactStoreUnavailableError) as raised:
        open_artifact_store(bucket_settings(tmp_path, "no-such-bucket-here", moto.url))
    assert_one_line_naming(raised.value, "no-such-bucket-here", moto.url, "no such bucket")


def test_a_store_that_goes_down_fails_writes_as_write_failed_and_reads_as_unavailable() -> None:
    with running_moto() as server:  # a server of its own, to stop
        store = s3_store(server)
        kept = store.put(PNG)
        server.stop()
        assert not store.writable()
        with pytest.raises(OutputWriteError) as raised:
            store.put(b"new bytes while down")
        assert raised.value.code == "write_failed" and store.location.bucket in str(raised.value)
        for call in (store.get, store.exists, store.delete):
            with pytest.raises(ArtifactStoreUnavailableError, match=re.escape(server.url)):
                call(kept)
        server.start()  # the same port, the same buckets
        assert store.writable() and store.get(kept) == PNG


def test_a_bucket_without_boto3_installed_is_one_line_saying_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if not installed: importing it raises
    with pytest.raises(ArtifactStoreUnavailableError, match=r"s3://shop/photos .*pip install 'promptcut\[s3\]'"):
        S3ArtifactStore(S3Location("shop", "photos"))


def test_boto3_is_imported_only_when_a_bucket_is_configured() -> None:
    code = ("import sys; import service.jobs.startup, service.jobs.store_syncs, service.api.app; "
            "from service.engine.artifact_stores import open_artifact_store; from service.settings import Settings; "
            "import tempfile; open_artifact_store(Settings(data_dir=tempfile.mkdtemp())); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
