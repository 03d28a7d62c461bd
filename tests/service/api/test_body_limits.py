"""JSON bodies have their own small cap (a JSON parser holds several times a body's size in memory; a job's
JSON carries URLs and options, never photos): over it → 413 before anything is parsed; under it → the request is
read and judged on its content; uploads keep the (larger) upload cap."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from service.api.app import create_app
from service.settings import Settings
from tests.service.api.test_api import ServerThread, assert_error, make_keys

JSON_CAP = 1_000_000
UPLOAD_CAP = 5_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("limits"), segmenter="classical", workers=1, queue_size=2,
                        max_json_bytes=JSON_CAP, max_upload_bytes=UPLOAD_CAP)
    keys, _ = make_keys(settings, ("a",))
    with ServerThread(create_app(settings)) as running:
        yield running.url, keys["a"]


def job_body(padding: int) -> bytes:
    return json.dumps({"items": [{"image_url": "https://example.com/a.jpg"}], "pad": "x" * padding}).encode()


def post(server: tuple[str, str], body: bytes, content_type: str) -> httpx.Response | None:
    url, key = server
    with httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=30) as client:
        try:
            return client.post("/v1/jobs", content=body, headers={"Content-Type": content_type})
        except httpx.TransportError:
            return None  # answered 413 and closed before the whole body was sent


def test_a_json_body_over_its_cap_is_refused_before_parsing(server: tuple[str, str]) -> None:
    response = post(server, job_body(JSON_CAP), "application/json")
    assert response is None or assert_error(response, 413, "too_large")
    if response is not None:
        assert f"{JSON_CAP:,}" in response.json()["error"]["message"]


def test_a_json_body_under_its_cap_is_read_and_judged_on_its_content(server: tuple[str, str]) -> None:
    response = post(server, job_body(JSON_CAP - 1000), "application/json")
    assert response is not None and response.status_code in (400, 422), response
    assert response.json()["error"]["code"] != "too_large", response.text


def test_an_upload_over_the_json_cap_is_still_read(server: tuple[str, str]) -> None:
    body = b"--zzz\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n" + b"x" * (2 * JSON_CAP) + b"\r\n--zzz--\r\n"
    response = post(server, body, "multipart/form-data; boundary=zzz")
    assert response is not None and response.json()["error"]["code"] != "too_large", response.text


def test_a_multipart_job_holds_at_most_20_photos(server: tuple[str, str]) -> None:
    from service.api.uploads import JOB_UPLOAD_FILES

    url, key = server
    tiny = b"\xff\xd8 not really a jpeg"  # refused for its count before any photo is read
    for count in (JOB_UPLOAD_FILES + 1, 2 * JOB_UPLOAD_FILES):
        files = [("image_file", (f"{index}.jpg", tiny, "image/jpeg")) for index in range(count)]
        with httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=30) as client:
            response = client.post("/v1/jobs", files=files)
        body = assert_error(response, 413, "too_many_items", "image_file")
        assert f"at most {JOB_UPLOAD_FILES} photos" in body["error"]["message"]
