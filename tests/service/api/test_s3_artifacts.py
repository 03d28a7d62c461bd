"""The HTTP API over real HTTP on loopback with PROMPTCUT_ARTIFACTS_URL=s3://… (moto's S3 server on loopback):
cut-outs and jobs store their blobs in the bucket and nothing under data_dir/artifacts; results, versions and the
zip come back streamed through the API, or as 307 redirects to presigned URLs when PROMPTCUT_S3_PRESIGN_SECONDS is
set; /readyz says the store is down while the endpoint is, and work fails as write_failed meanwhile."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.moto_s3 import REGION, MotoS3, running_moto
from tests.service.api.test_api import ServerThread, make_keys, small_photo, wait_for, wait_job

WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    with running_moto() as server:
        yield server


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return {name: small_photo(f"{name}.jpg") for name in ("coffee-cup", "chelsea-cat")}


class S3Api:
    """A server whose artifacts live in `bucket` under the prefix `promptcut`."""

    def __init__(self, data_dir: Path, moto: MotoS3, **settings: Any) -> None:
        from service.api.app import create_app
        from service.settings import Settings

        self.data_dir, self.moto, self.bucket = data_dir, moto, moto.new_bucket()
        self.settings = Settings(data_dir=data_dir, segmenter="classical", workers=2, queue_size=4,
                                 artifacts_url=f"s3://{self.bucket}/promptcut", s3_endpoint_url=moto.url,
                                 s3_region=REGION, **settings)
        self.keys, _ = make_keys(self.settings, ("a",))
        self.server = ServerThread(create_app(self.settings))

    def __enter__(self) -> "S3Api":
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"X-Api-Key": self.keys["a"]}, timeout=WAIT_SECONDS,
                            **options)

    def stored_digests(self) -> set[str]:
        """Every blob in the bucket, by digest; each key must be promptcut/ab/cd/<sha256>."""
        listing = self.moto.client().list_objects_v2(Bucket=self.bucket).get("Contents", [])
        digests = set()
        for entry in listing:
            match = re.fullmatch(r"promptcut/([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})", entry["Key"])
            assert match, entry["Key"]
            digests.add(match[3])
        return digests


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cutout(client: httpx.Client, photo: bytes) -> httpx.Response:
    return client.post("/v1/cutouts", files={"image_file": ("cup.jpg", photo, "image/jpeg")},
                       data={"title": "Espresso cup", "format": "png"})


def two_item_job(client: httpx.Client, photos: dict[str, bytes]) -> dict:
    files = [("image_file", ("cup.jpg", photos["coffee-cup"], "image/jpeg")),
             ("image_file", ("cat.jpg", photos["chelsea-cat"], "image/jpeg"))]
    response = client.post("/v1/jobs", files=files, data={"items": json.dumps([{"title": "Cup"}, {"title": "Cat"}]),
                                                          "size": "160x120"})
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["id"])
    assert job["counts"]["done"] == 2, job
    return job


def test_cutouts_jobs_results_and_the_zip_live_in_the_bucket(tmp_path: Path, moto: MotoS3,
                                                             photos: dict[str, bytes]) -> None:
    with S3Api(tmp_path, moto) as api, api.client() as client:
        made = cutout(client, photos["coffee-cup"])
        assert made.status_code == 200 and made.headers["content-type"] == "image/png", made.text
        item = client.get(f"/v1/items/{made.headers['x-promptcut-item']}").json()
        result = client.get(item["result_url"])
        assert result.status_code == 200 and result.content == made.content
        assert result.headers["content-type"] == "image/png"
        assert client.get(item["result_url"], params={"v": 1}).content == made.content
        assert client.get(item["result_url"], headers={"If-None-Match": result.headers["etag"]}).status_code == 304
        assert client.get(item["original_url"]).content == photos["coffee-cup"]

        job = two_item_job(client, photos)
        results = [client.get(entry["result_url"]) for entry in job["items"]]
        assert all(r.status_code == 200 and r.headers["content-type"] == "image/png" for r in results)
        archive = client.get(f"/v1/jobs/{job['id']}/results.zip")
        assert archive.status_code == 200, archive.text
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
            assert sorted(zipped.read(name) for name in zipped.namelist()) == sorted(r.content for r in results)

        stored = api.stored_digests()
        downloaded = [made.content, photos["coffee-cup"], photos["chelsea-cat"], *(r.content for r in results)]
        assert {sha256(data) for data in downloaded} <= stored
        assert not (tmp_path / "artifacts").exists()


def test_presigned_downloads_redirect_to_the_bucket_and_keep_versions(tmp_path: Path, moto: MotoS3,
                                                                      photos: dict[str, bytes]) -> None:
    with S3Api(tmp_path, moto, s3_presign_seconds=120) as api, api.client() as client:
        made = cutout(client, photos["coffee-cup"])
        assert made.status_code == 200, made.text
        item = client.get(f"/v1/items/{made.headers['x-promptcut-item']}").json()
        for params in ({}, {"v": 1}):
            answer = client.get(item["result_url"], params=params)
            assert answer.status_code == 307, answer.text
            assert answer.headers["x-promptcut-version"] == "1" and answer.headers["cache-control"] == (
                "private, no-store")
            location = answer.headers["location"]
            assert location.startswith(f"{moto.url}/{api.bucket}/promptcut/") and "X-Amz-Expires=120" in location
            fetched = httpx.get(location)  # no API key: the link is the authorisation
            assert fetched.status_code == 200 and fetched.content == made.content
            assert fetched.headers["content-type"] == "image/png"
        assert client.get(item["result_url"], params={"v": 7}).status_code == 404  # a version it never had
        followed = client.get(item["original_url"], follow_redirects=True)
        assert followed.status_code == 200 and followed.content == photos["coffee-cup"]
        assert not (tmp_path / "artifacts").exists()


def test_readyz_reports_the_store_down_while_the_endpoint_is(tmp_path: Path, photos: dict[str, bytes]) -> None:
    with running_moto() as moto, S3Api(tmp_path, moto) as api, api.client() as client:
        assert client.get("/readyz").status_code == 200
        made = cutout(client, photos["coffee-cup"])
        assert made.status_code == 200, made.text
        item = client.get(f"/v1/items/{made.headers['x-promptcut-item']}").json()

        moto.stop()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["store"] is False, ready.text
        assert ready.json()["error"]["code"] == "not_ready" and "store" in ready.json()["error"]["message"]
        unavailable = client.get(item["result_url"])
        assert unavailable.status_code == 503 and unavailable.headers["retry-after"]
        error = unavailable.json()["error"]
        assert error["code"] == "artifact_store_unavailable" and api.bucket in error["message"], error
        failed = cutout(client, photos["chelsea-cat"])
        assert failed.status_code == 500 and failed.json()["error"]["code"] == "write_failed", failed.text

        moto.start()  # back on the same port, with the same bucket
        wait_for(lambda: client.get("/readyz").status_code == 200, "/readyz to recover")
        assert client.get(item["result_url"]).content == made.content
        assert not (tmp_path / "artifacts").exists()
