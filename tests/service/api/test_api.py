"""The HTTP API over real HTTP on loopback: uvicorn started by the test, SQLite in a temp folder, keys made
with the repo functions, the real classical segmenter on small (256 px) photos.

Covers: cut-outs (image and JSON variants, remove.bg parameter names), items, reprompt, corrections (add, undo,
back to a version, clear, their errors, races with a theme swap), jobs (JSON with URLs,
multipart uploads), results zip, theme swap and back, completion webhook, auth and isolation between keys,
malformed uploads and parameters, SSRF refusals, 429 when the pool is full, metrics, health.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import httpx
import numpy as np
import pytest
import uvicorn
from PIL import Image

from fusion.corrections import Click, Corrections
from service.engine.correction_history import CorrectionChange
from service.jobs.tasks import correct_item, rerender_item
from service.net.webhooks import secret_for_key, verify
from tests.helpers import REPO, decompression_bomb_png, sample_jpeg

SIDE = 256
MAX_UPLOAD = 300_000
WAIT_SECONDS = 60  # generous upper bound for polling; never a speed assertion


# ------------------------------------------------------------------------------------------------ helpers


def small_photo(name: str, side: int = SIDE) -> bytes:
    return sample_jpeg(name, side)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


class ServerThread:
    """uvicorn serving `app` on a loopback port bound before the thread starts (no port race)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted connections; without it each response waits ~40 ms for a delayed ACK.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


@dataclass
class Api:
    url: str
    app: Any
    keys: dict[str, str]
    revoked_key: str
    hooks: list[dict]
    image_base: str
    host: "ImageHost"

    def client(self, key: str | None = "a", headers: dict[str, str] | None = None) -> httpx.Client:
        sent = {"X-Api-Key": self.keys[key]} if key else {}
        return httpx.Client(base_url=self.url, headers={**sent, **(headers or {})}, timeout=WAIT_SECONDS)

    @property
    def services(self) -> Any:
        return self.app.state.services


def make_keys(settings: Any, stores: tuple[str, ...]) -> tuple[dict[str, str], str]:
    from service.db import open_database, repo

    database = open_database(settings.db_url)
    keys = {}
    with database.session() as db:
        for store in stores:
            keys[store] = repo.create_key(db, f"store-{store}")[1]
        revoked_row, revoked = repo.create_key(db, "store-gone")
        repo.revoke_key(db, revoked_row.id)
    database.close()
    return keys, revoked


@dataclass
class ImageHost:
    """A plain-http server on loopback: photos by name, a redirect to localhost, and a webhook sink."""

    port: int
    hooks: list[dict] = field(default_factory=list)
    signatures: list[tuple[bytes, str]] = field(default_factory=list)  # (raw body, X-Promptcut-Signature)


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return {name: small_photo(f"{name}.jpg") for name in ("coffee-cup", "rocket", "chelsea-cat")}


@pytest.fixture(scope="module")
def image_host(photos: dict[str, bytes]) -> Iterator[ImageHost]:
    host = ImageHost(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            name = self.path.strip("/").removesuffix(".jpg")
            if name.startswith("to-localhost/"):
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{host.port}/{name.split('/', 1)[1]}.jpg")
                self.end_headers()
                return
            body = photos.get(name)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            host.signatures.append((raw, self.headers.get("X-Promptcut-Signature", "")))
            if self.path.endswith("/broken-hook"):  # a seller's endpoint that fails
                self.send_response(500)
                self.end_headers()
                return
            host.hooks.append(json.loads(raw))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield host
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, image_host: ImageHost) -> Iterator[Api]:
    from service.api.app import create_app
    from service.settings import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("api"),
        segmenter="classical",
        workers=2,
        queue_size=4,
        max_upload_bytes=MAX_UPLOAD,
        max_items_per_job=5,
        max_concurrent_jobs_per_key=3,
        allow_http_urls=True,
        url_allow_hosts=[f"127.0.0.1:{image_host.port}"],
        url_timeout=5,
        webhook_timeout=5,
    )
    keys, revoked = make_keys(settings, ("a", "b"))
    app = create_app(settings)
    with ServerThread(app) as server:
        yield Api(server.url, app, keys, revoked, image_host.hooks, f"http://127.0.0.1:{image_host.port}", image_host)


def wait_for(predicate: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_job(client: httpx.Client, job_id: str) -> dict:
    def finished() -> dict | None:
        job = client.get(f"/v1/jobs/{job_id}").json()
        return job if job["state"] in ("done", "failed") else None

    return wait_for(finished, f"job {job_id} to finish")


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"] and "Traceback" not in response.text
    if field is not None:
        assert body["error"].get("field") == field, body
    return body


def cutout(client: httpx.Client, photo: bytes, **form: str) -> httpx.Response:
    return client.post("/v1/cutouts", files={"image_file": ("cup.jpg", photo, "image/jpeg")}, data=form)


# ------------------------------------------------------------------------------------------------ health & docs


def test_health_ready_docs_and_seller_page_need_no_key(api: Api) -> None:
    with api.client(key=None) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "models": True, "store": True, "database": True, "workers": True}
        schema = client.get("/openapi.json").json()
        assert {"/v1/cutouts", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/items/{item_id}/reprompt",
                "/v1/jobs/{job_id}/theme", "/v1/jobs/{job_id}/results.zip"} <= set(schema["paths"])
        assert client.get("/docs").status_code == 200
        if (REPO / "service" / "web" / "index.html").is_file():
            page = client.get("/")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert_error(client.get("/v1/themes"), 401, "unauthorized")
        missing = client.get("/v1/nothing-here")
        assert_error(missing, 404, "not_found")


# ------------------------------------------------------------------------------------------------ cut-outs


def test_cutout_returns_the_image_with_metadata_headers(api: Api, photos: dict[str, bytes]) -> None:
    with api.client() as client:
        response = cutout(client, photos["coffee-cup"], title="Espresso cup, white porcelain", size="300x200",
                          bg_color="ff0000", format="jpg")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-promptcut-backend"] == "classical"
    # classical regions are anonymous superpixels: a count, not a list of meaningless ids
    assert "x-promptcut-labels" not in response.headers and int(response.headers["x-promptcut-regions"]) >= 1
    assert 0.0 <= float(response.headers["x-promptcut-confidence"]) <= 1.0
    assert "segment;dur=" in response.headers["server-timing"]
    assert response.headers["x-content-type-options"] == "nosniff"
    image = decode(response.content)
    assert image.size == (300, 200)
    corner = np.asarray(image.convert("RGB"))[:8, :8].reshape(-1, 3).mean(axis=0)
    assert corner[0] > 200 and corner[1] < 60 and corner[2] < 60, corner  # remove.bg-style bg_color without '#'
    item_id = response.headers["x-promptcut-item"]
    with api.client() as client:
        item = client.get(f"/v1/items/{item_id}").json()
        assert item["state"] == "done" and item["version"] == 1 and item["job_id"] is None
        assert item["title"] == "Espresso cup, white porcelain" and item["render"]["size"] == "300x200"
        result = client.get(item["result_url"])
        assert result.status_code == 200 and result.content == response.content
        original = client.get(item["original_url"])
        assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
        assert original.content == photos["coffee-cup"]


def test_cutout_json_variant_and_transparent_png(api: Api, photos: dict[str, bytes]) -> None:
    with api.client(headers={"Accept": "application/json"}) as client:
        response = client.post("/v1/cutouts", files={"image_file": ("rocket.jpg", photos["rocket"], "image/jpeg")},
                               data={"prompt": "the rocket", "background": "transparent", "scale": "70%",
                                     "crop_margin": "5%", "position": "bottom"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["content_type"] == "image/png"
    assert body["item"]["ref"] == "rocket.jpg" and body["item"]["prompt"] == "the rocket"
    assert body["item"]["render"]["fill"] == pytest.approx(0.7) and body["item"]["render"]["align"] == "bottom"
    image = decode(base64.b64decode(body["image_base64"]))
    assert image.mode == "RGBA"
    alpha = np.asarray(image)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255


def png_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def test_doubtful_cuts_say_so_in_headers_items_and_jobs(api: Api, photos: dict[str, bytes]) -> None:
    noise = png_bytes(np.random.default_rng(2).integers(0, 256, (200, 240, 3), dtype=np.uint8))
    blank = png_bytes(np.full((200, 240, 3), 255, np.uint8))
    with api.client() as client:
        flagged = client.post("/v1/cutouts", files={"image_file": ("noise.png", noise, "image/png")},
                              data={"title": "white coffee mug"})
        assert flagged.status_code == 200, flagged.text
        assert flagged.headers["x-promptcut-needs-review"] == "true"
        assert "uniform_photo" in flagged.headers["x-promptcut-review-reasons"].split(",")
        item = client.get(f"/v1/items/{flagged.headers['x-promptcut-item']}").json()
        assert item["needs_review"] is True and "uniform_photo" in item["review_reasons"]
        assert len(item["review_messages"]) == len(item["review_reasons"]) and item["review_messages"][0]
        assert item["metadata"]["review_reasons"] == item["review_reasons"]

        good = cutout(client, photos["coffee-cup"], title="Espresso cup")
        assert good.headers["x-promptcut-needs-review"] == "false"
        assert "x-promptcut-review-reasons" not in good.headers
        as_json = client.post("/v1/cutouts", files={"image_file": ("cup.jpg", photos["coffee-cup"], "image/jpeg")},
                              headers={"Accept": "application/json"})
        assert as_json.json()["item"]["needs_review"] is False and as_json.json()["item"]["review_reasons"] == []

        assert_error(client.post("/v1/cutouts", files={"image_file": ("blank.png", blank, "image/png")}),
                     422, "no_product", "image_file")

        # a job counts the items that need review, and a theme swap keeps the verdicts (re-judged, not lost)
        files = [("image_file", ("cup.jpg", photos["coffee-cup"], "image/jpeg")),
                 ("image_file", ("noise.png", noise, "image/png")),
                 ("image_file", ("blank.png", blank, "image/png"))]
        response = client.post("/v1/jobs", files=files)
        assert response.status_code == 202, response.text
        job = wait_job(client, response.json()["id"])
        assert job["counts"] == {"queued": 0, "running": 0, "done": 2, "failed": 1} and job["needs_review"] == 1
        cup, noisy, failed = job["items"]
        assert (cup["needs_review"], noisy["needs_review"], failed["needs_review"]) == (False, True, False)
        assert failed["error"]["code"] == "no_product" and failed["review_reasons"] == []
        listing = client.get("/v1/jobs").json()["jobs"]
        assert next(entry for entry in listing if entry["id"] == job["id"])["needs_review"] is None
        swapped = client.post(f"/v1/jobs/{job['id']}/theme", json={"theme": "spring"})
        assert swapped.status_code == 200, swapped.text
        rethemed = wait_job(client, job["id"])
        assert [item["version"] for item in rethemed["items"][:2]] == [2, 2] and rethemed["needs_review"] == 1
        assert rethemed["items"][1]["review_reasons"] == noisy["review_reasons"]
        assert rethemed["items"][1]["metadata"]["review"]["plain_background"] is False


def test_themes_are_listed(api: Api) -> None:
    with api.client() as client:
        names = [theme["name"] for theme in client.get("/v1/themes").json()["themes"]]
    assert "winter-holidays" in names and "studio-white" in names


def test_cutout_from_an_allowed_image_url(api: Api) -> None:
    with api.client() as client:
        response = client.post("/v1/cutouts", data={"image_url": f"{api.image_base}/chelsea-cat.jpg", "title": "cat"})
    assert response.status_code == 200, response.text
    assert decode(response.content).format == "PNG"


def test_reprompt_makes_a_new_version_of_the_item(api: Api, photos: dict[str, bytes]) -> None:
    with api.client() as client:
        first = cutout(client, photos["coffee-cup"], title="cup")
        item_id = first.headers["x-promptcut-item"]
        response = client.post(f"/v1/items/{item_id}/reprompt", json={"prompt": "the saucer", "title": "Cup & saucer"})
        assert response.status_code == 200, response.text
        item = response.json()
        assert item["version"] == 2 and item["prompt"] == "the saucer" and item["title"] == "Cup & saucer"
        assert item["result_url"].endswith("?v=2")
        assert client.get(item["result_url"]).status_code == 200
        assert_error(client.post(f"/v1/items/{item_id}/reprompt", json={"promt": "typo"}), 422, "invalid_request")


# ------------------------------------------------------------------------------------------------ corrections


def mask_pixels(data: bytes) -> np.ndarray:
    pixels = np.asarray(decode(data))
    assert pixels.ndim == 2, pixels.shape  # format=mask: the 8-bit alpha at the photo's size
    return pixels


def inmost(region: np.ndarray) -> tuple[float, float]:
    """(x, y) photo coordinates of the pixel of a bool mask farthest from its boundary (a pixel's centre)."""
    inside = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(inside)), inside.shape)
    return float(x) + 0.5, float(y) + 0.5


def corrections_of(item: dict) -> tuple[list, Any, list]:
    record = item["metadata"]["corrections"]
    return record["points"], record["box"], [(s["version"], s["points"], s["box"]) for s in record["steps"]]


def test_corrections_add_undo_go_back_and_clear_as_new_versions(api: Api, photos: dict[str, bytes]) -> None:
    with api.client() as client:
        cut = cutout(client, photos["coffee-cup"], title="Espresso cup", format="mask")
        assert cut.status_code == 200, cut.text
        item_id = cut.headers["x-promptcut-item"]
        item = client.get(f"/v1/items/{item_id}").json()
        width, height = decode(photos["coffee-cup"]).size
        assert item["metadata"]["photo_size"] == [width, height] and item["metadata"]["prompts_read"] is False
        automatic = mask_pixels(cut.content)
        kept = automatic > 127
        x, y = inmost(kept)

        def correct(body: dict, version: int) -> tuple[dict, bytes]:
            response = client.post(f"/v1/items/{item_id}/corrections", json=body)
            assert response.status_code == 200, response.text
            item = response.json()
            assert item["version"] == version and item["result_url"].endswith(f"?v={version}")
            assert item["metadata"]["operation"] == "correct" and item["metadata"]["photo_size"] == [width, height]
            return item, client.get(item["result_url"]).content

        removed, removed_bytes = correct({"points": [{"x": x, "y": y, "keep": False}], "box": None}, 2)
        after = mask_pixels(removed_bytes)
        assert after[int(y), int(x)] == 0 and (after > 127).sum() < kept.sum()  # the clicked part is gone
        assert corrections_of(removed) == ([{"x": x, "y": y, "keep": False}], None, [(2, 1, False)])

        box = {"left": 0, "top": 0, "right": width // 2, "bottom": height}
        boxed, boxed_bytes = correct({"box": box}, 3)
        assert mask_pixels(boxed_bytes)[:, width // 2 + 16:].max() == 0  # nothing kept right of the box
        assert corrections_of(boxed)[1:] == (box, [(2, 1, False), (3, 0, True)])

        undone, undone_bytes = correct({"undo": True}, 4)
        assert undone_bytes == removed_bytes  # byte for byte the result of version 2
        assert corrections_of(undone) == corrections_of(removed)

        back, back_bytes = correct({"to_version": 1}, 5)  # before the first step: the automatic cut
        assert back_bytes == cut.content and corrections_of(back) == ([], None, [])

        correct({"points": [{"x": x, "y": y, "keep": False}]}, 6)
        cleared, cleared_bytes = correct({"clear": True}, 7)
        assert cleared_bytes == cut.content and corrections_of(cleared) == ([], None, [])
        schema = client.get("/openapi.json").json()
        operation = schema["paths"]["/v1/items/{item_id}/corrections"]["post"]
        assert {"400", "404", "409"} <= set(operation["responses"])


def test_corrections_are_refused_with_clear_errors(api: Api, photos: dict[str, bytes]) -> None:
    with api.client() as client:
        item_id = cutout(client, photos["rocket"], format="mask").headers["x-promptcut-item"]
        url = f"/v1/items/{item_id}/corrections"
        width, height = decode(photos["rocket"]).size
        outside = assert_error(client.post(url, json={"points": [{"x": width + 5, "y": 10, "keep": True}]}),
                               400, "invalid_option")
        assert f"outside the {width}×{height} photo" in outside["error"]["message"]
        assert_error(client.post(url, json={"box": {"left": 10, "top": 10, "right": 5, "bottom": 20}}), 400,
                     "invalid_option")
        for body in ({}, {"points": []}, {"box": None}, {"undo": True, "clear": True},
                     {"points": [{"x": 1, "y": 1, "keep": True}], "undo": True}, {"undo": False},
                     {"to_version": 99}, {"to_version": -1}):
            assert_error(client.post(url, json=body), 400, "invalid_option")
        nothing = assert_error(client.post(url, json={"undo": True}), 400, "invalid_option")
        assert "nothing to undo" in nothing["error"]["message"]
        assert_error(client.post(url, json={"points": [{"x": 1, "y": 1}]}), 422, "invalid_request")
        assert_error(client.post(url, json={"points": [{"x": 1, "y": 1, "keep": True}], "typo": 1}), 422,
                     "invalid_request")
        assert client.get(f"/v1/items/{item_id}").json()["version"] == 1  # nothing refused made a version

        point = {"points": [{"x": 1, "y": 1, "keep": True}]}
        assert_error(client.post("/v1/items/no-such-item/corrections", json=point), 404, "not_found")
        with api.client("b") as other:
            assert_error(other.post(url, json=point), 404, "not_found")

        rgba = np.dstack([np.asarray(decode(photos["coffee-cup"]).convert("RGB")),
                          np.full((height, width), 255, np.uint8)])
        rgba[:20, :, 3] = 0  # the seller's own cut-out: its transparency is used, nothing is segmented
        own = client.post("/v1/cutouts", files={"image_file": ("cup.png", png_bytes(rgba), "image/png")})
        assert own.status_code == 200 and own.headers["x-promptcut-backend"] == "input-alpha"
        assert_error(client.post(f"/v1/items/{own.headers['x-promptcut-item']}/corrections", json=point), 409,
                     "artifact_missing")

        job = client.post("/v1/jobs", json={"items": [{"image_url": f"{api.image_base}/missing.jpg"}]})
        failed = wait_job(client, job.json()["id"])["items"][0]
        assert failed["state"] == "failed"
        assert_error(client.post(f"/v1/items/{failed['id']}/corrections", json=point), 409, "not_ready")


def test_a_theme_swap_keeps_a_correction_and_a_reprompt_drops_it(api: Api) -> None:
    with api.client() as client:
        job = client.post("/v1/jobs", json={"items": [{"image_url": f"{api.image_base}/coffee-cup.jpg"}],
                                            "format": "mask"})
        item = wait_job(client, job.json()["id"])["items"][0]
        automatic = client.get(item["result_url"]).content
        x, y = inmost(mask_pixels(automatic) > 127)
        fixed = client.post(f"/v1/items/{item['id']}/corrections", json={"points": [{"x": x, "y": y, "keep": False}]})
        assert fixed.status_code == 200, fixed.text
        fixed_bytes = client.get(fixed.json()["result_url"]).content
        assert fixed_bytes != automatic

        swapped = client.post(f"/v1/jobs/{job.json()['id']}/theme", json={"theme": "spring"})
        assert swapped.status_code == 200, swapped.text
        item = swapped.json()["items"][0]
        assert item["version"] == 3 and item["render"]["theme"] == "spring"
        assert corrections_of(item)[2] == [(2, 1, False)]  # the steps are kept...
        assert client.get(item["result_url"]).content == fixed_bytes  # ...and so is the corrected cut

        reprompted = client.post(f"/v1/items/{item['id']}/reprompt", json={"prompt": "the cup"})
        assert reprompted.status_code == 200, reprompted.text
        item = reprompted.json()
        assert item["version"] == 4 and "corrections" not in item["metadata"]
        assert any("corrections were dropped" in note for note in item["metadata"]["notes"])
        assert client.get(item["result_url"]).content == automatic  # back to the automatic cut
        assert_error(client.post(f"/v1/items/{item['id']}/corrections", json={"undo": True}), 400, "invalid_option")


def test_a_correction_and_a_theme_swap_racing_never_overwrite_each_other(
    api: Api, photos: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = api.services
    engine = services.engine
    with api.client() as client:
        item_id = cutout(client, photos["coffee-cup"], format="mask").headers["x-promptcut-item"]
        render = client.get(f"/v1/items/{item_id}").json()["render"]
        green = {**render, "background": "#00ff00"}
        point = {"x": 100.5, "y": 100.5, "keep": True}

        # A theme swap lands while the correction is being computed: the correction is refused, not recorded.
        original_correct = engine.correct

        def swap_first(*args: Any, **kwargs: Any) -> Any:
            assert rerender_item(services, item_id, green)
            return original_correct(*args, **kwargs)

        monkeypatch.setattr(engine, "correct", swap_first)
        conflict = assert_error(client.post(f"/v1/items/{item_id}/corrections", json={"points": [point]}), 409,
                                "conflict")
        assert "try again" in conflict["error"]["message"]
        monkeypatch.undo()
        item = client.get(f"/v1/items/{item_id}").json()
        assert item["version"] == 2 and item["render"] == green and "corrections" not in item["metadata"]

        # A correction lands while a theme swap is being computed: the swap is redone on the corrected version.
        original_rerender = engine.rerender
        calls = []

        def correct_first(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                correct_item(services, api_key_id(api), item_id, CorrectionChange(
                    "add", Corrections((Click(point["x"], point["y"], True),))))
            return original_rerender(*args, **kwargs)

        monkeypatch.setattr(engine, "rerender", correct_first)
        assert rerender_item(services, item_id, render)
        monkeypatch.undo()
        item = client.get(f"/v1/items/{item_id}").json()
        assert len(calls) == 2 and item["version"] == 4 and item["render"] == render
        assert corrections_of(item)[2] == [(3, 1, False)]


def api_key_id(api: Api, store: str = "a") -> str:
    from service.db import repo

    with api.services.database.session() as db:
        return repo.find_key(db, api.keys[store]).id


# ------------------------------------------------------------------------------------------------ jobs


def test_json_job_with_urls_completes_zip_theme_swap_and_webhook(api: Api) -> None:
    hook_count = len(api.hooks)
    with api.client() as client:
        response = client.post("/v1/jobs", json={
            "items": [
                {"image_url": f"{api.image_base}/coffee-cup.jpg", "title": "Espresso cup", "ref": "SKU-1"},
                {"image_url": f"{api.image_base}/rocket.jpg", "title": "Toy rocket", "ref": "SKU 2/b"},
                {"image_url": f"{api.image_base}/missing.jpg", "title": "gone", "ref": "SKU-3"},
            ],
            "size": "200", "format": "png", "add_shadow": "false",
            "callback_url": f"{api.image_base}/hook",
        })
        assert response.status_code == 202, response.text
        job = response.json()
        assert response.headers["location"] == f"/v1/jobs/{job['id']}"
        assert len(job["items"]) == 3 and job["state"] in ("queued", "running")
        job = wait_job(client, job["id"])
        assert job["state"] == "done" and job["progress"] == 1.0
        assert job["counts"] == {"queued": 0, "running": 0, "done": 2, "failed": 1}
        failed = job["items"][2]
        assert failed["state"] == "failed" and failed["error"]["code"] == "url_bad_status"
        assert failed["result_url"] is None

        archive = client.get(f"/v1/jobs/{job['id']}/results.zip")
        assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
            assert sorted(zipped.namelist()) == ["0-SKU-1.png", "1-SKU_2_b.png"]
            assert decode(zipped.read("0-SKU-1.png")).size == (200, 200)

        before = {item["id"]: client.get(item["result_url"]).content for item in job["items"][:2]}
        swapped = client.post(f"/v1/jobs/{job['id']}/theme", json={"theme": "winter-holidays"})
        assert swapped.status_code == 200, swapped.text
        swapped = swapped.json()
        assert swapped["render"]["theme"] == "winter-holidays"
        for item in swapped["items"][:2]:
            assert item["version"] == 2 and item["render"]["theme"] == "winter-holidays"
            after = client.get(item["result_url"]).content
            assert after != before[item["id"]] and decode(after).size == (200, 200)
        back = client.post(f"/v1/jobs/{job['id']}/theme", json={"theme": "original"}).json()
        assert back["render"] == back["original_render"] and back["render"].get("theme") is None
        assert [item["version"] for item in back["items"]] == [3, 3, 0]

        assert_error(client.post(f"/v1/jobs/{job['id']}/theme", json={"theme": "no-such-theme"}), 400,
                     "unknown_theme")
        assert_error(client.post(f"/v1/jobs/{job['id']}/theme", json={}), 422, "invalid_request")
        listed = client.get("/v1/jobs").json()["jobs"]
        assert listed[0]["id"] == job["id"] and listed[0]["items"] is None

    hook = wait_for(lambda: [h for h in api.hooks[hook_count:] if h["job"]["id"] == job["id"]], "the webhook")[0]
    assert hook["event"] == "job.finished" and hook["job"]["state"] == "done"
    assert hook["job"]["counts"]["done"] == 2
    raw, signature = next((raw, sig) for raw, sig in api.host.signatures if json.loads(raw) == hook)
    assert verify(secret_for_key(api.keys["a"]), raw, signature)  # signed with the job's own key
    assert not verify(secret_for_key(api.keys["b"]), raw, signature)
    assert not verify(secret_for_key(api.keys["a"]), raw + b" ", signature)
    with api.client() as client:
        assert wait_for(lambda: client.get(f"/v1/jobs/{job['id']}").json()["webhook_state"] == "sent", "sent")


def test_multipart_job_with_uploaded_files(api: Api, photos: dict[str, bytes]) -> None:
    files = [("image_file", ("IMG 0001.jpg", photos["coffee-cup"], "image/jpeg")),
             ("image_file", ("../../etc/passwd.jpg", photos["chelsea-cat"], "image/jpeg"))]
    rows = [{"title": "Espresso cup"}, {"title": "Cat", "ref": ""}]
    with api.client() as client:
        response = client.post("/v1/jobs", files=files, data={"items": json.dumps(rows), "theme": "studio-grey",
                                                              "size": "160x120"})
        assert response.status_code == 202, response.text
        job = wait_job(client, response.json()["id"])
        assert job["counts"]["done"] == 2, job
        assert [item["ref"] for item in job["items"]] == ["IMG 0001.jpg", "passwd.jpg"]
        assert job["items"][0]["metadata"]["backend"] == "classical"
        archive = client.get(f"/v1/jobs/{job['id']}/results.zip")
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
            assert sorted(zipped.namelist()) == ["0-IMG_0001.png", "1-passwd.png"]
        original = client.get(job["items"][1]["original_url"])
        assert original.content == photos["chelsea-cat"]


def test_multipart_job_mixes_uploads_and_image_urls(api: Api, photos: dict[str, bytes]) -> None:
    files = [("image_file", ("cup.jpg", photos["coffee-cup"], "image/jpeg"))]
    rows = [{"image_url": f"{api.image_base}/rocket.jpg", "title": "Toy rocket", "ref": "SKU-R"},
            {"title": "Espresso cup"}]  # entries without image_url go with the uploads, in order
    with api.client() as client:
        response = client.post("/v1/jobs", files=files, data={"items": json.dumps(rows)})
        assert response.status_code == 202, response.text
        job = wait_job(client, response.json()["id"])
        assert job["counts"]["done"] == 2, job
        assert [(item["ref"], item["title"]) for item in job["items"]] == [("cup.jpg", "Espresso cup"),
                                                                           ("SKU-R", "Toy rocket")]
        only_urls = client.post("/v1/jobs", files=[("items", (None, json.dumps(rows[:1])))])
        assert only_urls.status_code == 202, only_urls.text
        wrong_count = client.post("/v1/jobs", files=files, data={"items": json.dumps(rows[:1])})
        assert_error(wrong_count, 422, "invalid_request", "items")
        private = client.post("/v1/jobs", files=files, data={"items": json.dumps(
            [{"image_url": "https://10.0.0.1/a.jpg"}, {"title": "cup"}])})
        assert_error(private, 400, "url_forbidden", "items.0.image_url")
        wait_job(client, only_urls.json()["id"])


def test_job_limits_and_malformed_job_requests(api: Api, photos: dict[str, bytes]) -> None:
    url = f"{api.image_base}/coffee-cup.jpg"
    with api.client() as client:
        too_many = client.post("/v1/jobs", json={"items": [{"image_url": url}] * 6})
        assert_error(too_many, 413, "too_many_items", "items")
        assert_error(client.post("/v1/jobs", json={"items": []}), 422, "invalid_request")
        assert_error(client.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}),
                     422, "invalid_request")
        assert_error(client.post("/v1/jobs", json={"items": [{"image_url": url}], "fil": 0.5}), 422,
                     "invalid_request")
        assert_error(client.post("/v1/jobs", json={"items": [{"title": "no image"}]}), 422, "missing_image")
        assert_error(client.post("/v1/jobs", json={"items": [{"image_url": url}], "fill": 5}), 400,
                     "invalid_option", "fill")
        assert_error(client.post("/v1/jobs", content=b"x", headers={"Content-Type": "text/plain"}), 415,
                     "unsupported_media_type")
        files = [("image_file", ("a.jpg", photos["rocket"], "image/jpeg"))]
        assert_error(client.post("/v1/jobs", files=files, data={"items": "[1, 2]"}), 422, "invalid_request", "items")
        assert_error(client.post("/v1/jobs", files=files, data={"items": '[{"title": "a"}, {"title": "b"}]'}), 422,
                     "invalid_request", "items")
        assert_error(client.post("/v1/jobs", files=files, data={"colour": "red"}), 400, "invalid_option", "colour")
        # One empty file among several: the message names it, not only its part's index.
        with_empty = files + [("image_file", ("IMG_0002.jpg", b"", "image/jpeg"))]
        body = assert_error(client.post("/v1/jobs", files=with_empty), 415, "invalid_image", "image_file[1]")
        assert "IMG_0002.jpg" in body["error"]["message"], body
        assert_error(client.post("/v1/jobs", json={"items": [{"image_url": url}], "callback_url": "ftp://x/"}), 400,
                     "url_invalid", "callback_url")


# ------------------------------------------------------------------------------------------------ auth


def test_missing_unknown_and_revoked_keys_are_401(api: Api) -> None:
    with api.client(key=None) as client:
        assert_error(client.get("/v1/jobs"), 401, "unauthorized")
        assert_error(client.get("/v1/jobs", headers={"X-Api-Key": "pc_not-a-real-key"}), 401, "unauthorized")
        assert_error(client.get("/v1/jobs", headers={"X-Api-Key": api.revoked_key}), 401, "unauthorized")
        assert_error(client.get("/v1/jobs", headers={"Authorization": f"Bearer {api.revoked_key}"}), 401,
                     "unauthorized")
        assert_error(client.post("/v1/cutouts", files={"image_file": ("a.jpg", b"xx")}), 401, "unauthorized")
        assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {api.keys['a']}"}).status_code == 200


def test_a_key_never_sees_another_keys_jobs_or_items(api: Api, photos: dict[str, bytes]) -> None:
    with api.client("a") as owner:
        item_id = cutout(owner, photos["coffee-cup"]).headers["x-promptcut-item"]
        job = owner.post("/v1/jobs", json={"items": [{"image_url": f"{api.image_base}/rocket.jpg"}]}).json()
        wait_job(owner, job["id"])
    with api.client("b") as other:
        for path in (f"/v1/items/{item_id}", f"/v1/items/{item_id}/result", f"/v1/items/{item_id}/original",
                     f"/v1/jobs/{job['id']}", f"/v1/jobs/{job['id']}/results.zip", "/v1/items/doesnotexist"):
            assert_error(other.get(path), 404, "not_found")
        assert_error(other.post(f"/v1/items/{item_id}/reprompt", json={"prompt": "x"}), 404, "not_found")
        assert_error(other.post(f"/v1/jobs/{job['id']}/theme", json={"theme": "spring"}), 404, "not_found")
        assert all(listed["id"] != job["id"] for listed in other.get("/v1/jobs").json()["jobs"])
    with api.client("a") as owner:
        assert owner.get(f"/v1/jobs/{job['id']}").json()["render"].get("theme") is None  # b changed nothing


# ------------------------------------------------------------------------------------------------ bad input


def test_malformed_uploads_are_4xx_json(api: Api, hostile_files: dict[str, Path]) -> None:
    expected = {
        "text": (415, "invalid_image"),
        "empty": (415, "invalid_image"),
        "truncated": (415, "invalid_image"),
        "bomb": (413, "image_too_large"),
        "tiny": (422, "image_too_small"),
        "transparent": (422, "no_product"),
    }
    with api.client() as client:
        for kind, (status, code) in expected.items():
            path = hostile_files[kind]
            response = client.post("/v1/cutouts", files={"image_file": (path.name, path.read_bytes(), "image/jpeg")})
            assert_error(response, status, code)
        huge = client.post("/v1/cutouts", files={"image_file": ("big.jpg", b"\xff\xd8\xff" + b"0" * MAX_UPLOAD)})
        assert_error(huge, 413, "file_too_large", "image_file")
        assert_error(client.post("/v1/cutouts", data={"title": "nothing"}), 422, "missing_image")
        both = client.post("/v1/cutouts", files={"image_file": ("a.jpg", b"abc")},
                           data={"image_url": f"{api.image_base}/rocket.jpg"})
        assert_error(both, 422, "invalid_request")
        assert_error(
            client.post(
                "/v1/cutouts",
                files={"image_file": ("bomb.png", decompression_bomb_png(), "image/png")},
                data={"format": "mask"},
            ),
            413,
            "image_too_large",
        )


def test_a_body_bigger_than_any_upload_is_refused_before_parsing(api: Api) -> None:
    body = b"x" * (MAX_UPLOAD + 2 * 1024 * 1024)
    with api.client() as client:
        try:
            response = client.post(
                "/v1/cutouts", content=body, headers={"Content-Type": "multipart/form-data; boundary=zzz"}
            )
        except httpx.TransportError:
            return  # the server answered 413 and closed before the whole body was sent: also a refusal
        assert_error(response, 413, "too_large")


@pytest.mark.parametrize(
    ("form", "code", "field"),
    [
        ({"format": "gif"}, "invalid_option", "format"),
        ({"quality": "0"}, "invalid_option", "quality"),
        ({"quality": "high"}, "invalid_option", "quality"),
        ({"fill": "2"}, "invalid_option", "fill"),
        ({"scale": "abc%"}, "invalid_option", "scale"),
        ({"scale": "nan"}, "invalid_option", "scale"),
        ({"fill": "0.5", "scale": "90%"}, "invalid_option", "scale"),
        ({"margin": "0.9"}, "invalid_option", "margin"),
        ({"size": "0x0"}, "invalid_option", "size"),
        ({"size": "10000x10000"}, "invalid_option", "size"),
        ({"size": "big"}, "invalid_option", "size"),
        ({"crop": "maybe"}, "invalid_option", "crop"),
        ({"position": "left"}, "invalid_option", "position"),
        ({"bg_color": "notacolour"}, "invalid_option", "bg_color"),
        ({"background": "/etc/passwd"}, "invalid_option", "background"),
        ({"background": "../samples/rocket.jpg"}, "invalid_option", "background"),
        ({"theme": "../../etc/passwd"}, "unknown_theme", "theme"),
        ({"theme": "nope"}, "unknown_theme", "theme"),
        ({"theme": "spring", "bg_color": "fff"}, "invalid_option", "theme"),
        ({"format": "jpeg", "background": "transparent"}, "invalid_option", "format"),
    ],
)
def test_bad_parameters_are_400_with_the_field(
    api: Api, photos: dict[str, bytes], form: dict, code: str, field: str
) -> None:
    with api.client() as client:
        assert_error(cutout(client, photos["coffee-cup"], **form), 400, code, field)


def test_too_long_title_is_422(api: Api, photos: dict[str, bytes]) -> None:
    with api.client() as client:
        assert_error(cutout(client, photos["coffee-cup"], title="x" * 5000), 422, "invalid_request", "title")


def test_a_second_image_file_part_is_refused_not_dropped(api: Api, photos: dict[str, bytes]) -> None:
    """One result for two photos would read as both handled: either order, the cut-out is refused by name."""
    one, other = ("cup.jpg", photos["coffee-cup"], "image/jpeg"), ("cat.jpg", photos["chelsea-cat"], "image/jpeg")
    with api.client() as client:
        for parts in ([one, other], [other, one]):
            response = client.post("/v1/cutouts", files=[("image_file", part) for part in parts])
            body = assert_error(response, 400, "invalid_option", "image_file")
            assert "2 times" in body["error"]["message"] and "X-Promptcut-Item" not in response.headers
        twice = client.post("/v1/cutouts", files=[("image_file", one)], data={"size": ["400x400", "800x800"]})
        body = assert_error(twice, 400, "invalid_option", "size")
        assert "size given 2 times" in body["error"]["message"]


def test_a_theme_with_a_colour_gets_the_same_answer_from_cutouts_and_a_theme_swap(
    api: Api, photos: dict[str, bytes]
) -> None:
    with api.client() as client:
        job = client.post("/v1/jobs", json={"items": [{"image_url": f"{api.image_base}/rocket.jpg"}]}).json()
        job = wait_job(client, job["id"])
        expected = assert_error(cutout(client, photos["coffee-cup"], theme="spring", bg_color="fff"), 400,
                                "invalid_option", "theme")
        for body in ({"theme": "spring", "bg_color": "fff"}, {"theme": "spring", "background": "#ffffff"},
                     {"theme": "original", "background": "white"}):
            swap = client.post(f"/v1/jobs/{job['id']}/theme", json=body)
            assert assert_error(swap, 400, "invalid_option", "theme") == expected, body
        after = client.get(f"/v1/jobs/{job['id']}").json()
        assert after["render"] == job["render"] and after["items"][0]["version"] == 1  # nothing re-rendered


def test_framework_refusals_answer_their_documented_codes(api: Api) -> None:
    with api.client() as client:
        assert_error(client.get("/v1/cutouts"), 405, "method_not_allowed")
        no_boundary = client.post("/v1/cutouts", content=b"--x--", headers={"Content-Type": "multipart/form-data"})
        assert_error(no_boundary, 400, "bad_request")
        assert_error(client.get("/v1/no-such-route"), 404, "not_found")


def documented_error_codes() -> dict[str, set[int]]:
    """code → the statuses of the rows of docs/api.md's error table that list it."""
    section = (REPO / "docs" / "api.md").read_text().split("\n## Errors", 1)[1].split("\n## ", 1)[0]
    codes: dict[str, set[int]] = {}
    for statuses, listed in re.findall(r"^\| ([0-9][0-9 /]*) \| (.*) \|$", section, re.MULTILINE):
        for code in re.findall(r"`([a-z_]+)`", listed):
            codes.setdefault(code, set()).update(int(status) for status in statuses.split("/"))
    return codes


def test_every_error_code_of_the_api_is_in_the_docs_table() -> None:
    from service.api.errors import _CODE_BY_STATUS, STATUS_BY_CODE
    from service.api.middleware import BodyTooLarge

    defined = {**STATUS_BY_CODE, **{code: status for status, code in _CODE_BY_STATUS.items()},
               BodyTooLarge.code: 413, "internal": 500}
    documented = documented_error_codes()
    missing = {code: status for code, status in defined.items() if status not in documented.get(code, set())}
    assert not missing, f"docs/api.md's error table lacks (code: status) {missing}"


# ------------------------------------------------------------------------------------------------ SSRF


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/a.jpg",
        "https://10.0.0.1/a.jpg",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/a.jpg",
        "http://127.0.0.1:1/a.jpg",  # plain http is allowed in this server, but not to this port
        "https://[::ffff:127.0.0.1]/a.jpg",
    ],
)
def test_private_addresses_are_refused_at_request_time(api: Api, url: str) -> None:
    with api.client() as client:
        assert_error(client.post("/v1/cutouts", data={"image_url": url}), 400, "url_forbidden", "image_url")
        job = client.post("/v1/jobs", json={"items": [{"image_url": url}]})
        assert_error(job, 400, "url_forbidden", "items.0.image_url")


def test_names_and_redirects_to_loopback_are_refused_when_fetched(api: Api) -> None:
    port = api.image_base.rsplit(":", 1)[1]
    by_name = f"http://localhost:{port}/rocket.jpg"
    by_redirect = f"{api.image_base}/to-localhost/rocket.jpg"
    with api.client() as client:
        for url in (by_name, by_redirect):
            assert_error(client.post("/v1/cutouts", data={"image_url": url}), 400, "url_forbidden", "image_url")
        job = client.post("/v1/jobs", json={"items": [{"image_url": by_name}, {"image_url": by_redirect}]})
        assert job.status_code == 202, job.text
        finished = wait_job(client, job.json()["id"])
    assert finished["state"] == "failed"
    assert [item["error"]["code"] for item in finished["items"]] == ["url_forbidden", "url_forbidden"]


# ------------------------------------------------------------------------------------------------ metrics


def test_metrics_count_requests_stages_queue_and_items(api: Api, photos: dict[str, bytes]) -> None:
    with api.client() as client:
        assert cutout(client, photos["coffee-cup"]).status_code == 200
        text = client.get("/metrics").text
    assert 'promptcut_http_requests_total{method="POST",route="/v1/cutouts",status="200"}' in text
    assert 'promptcut_stage_seconds_count{operation="cut",stage="segment"}' in text
    assert "promptcut_queue_depth" in text and "promptcut_workers_busy" in text
    assert 'promptcut_items{state="done"}' in text
    assert 'route="/v1/items/{item_id}"' in text
    assert not re.search(r'route="/v1/(items|jobs)/[^{"]', text)  # ids never become label values


# ------------------------------------------------------------------------------------------------ overload


class GatedSegmenter:
    """The classical segmenter behind a gate the test opens: makes "all workers busy" deterministic."""

    def __init__(self) -> None:
        from fusion.segmenters import get_segmenter

        self.inner = get_segmenter("classical")
        self.name = self.inner.name
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)

    def segment(self, image: np.ndarray, prompts: Any) -> Any:
        self.entered.release()
        self.gate.wait(WAIT_SECONDS)
        return self.inner.segment(image, prompts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_full_pool_answers_429_with_retry_after_then_recovers(tmp_path: Path, photos: dict[str, bytes]) -> None:
    from service.api.app import create_app
    from service.settings import Settings

    settings = Settings(
        data_dir=tmp_path, segmenter="classical", workers=1, queue_size=1, max_concurrent_jobs_per_key=1,
        max_cuts_per_key=3,  # the pool's own limit, not the key's (test_key_limits.py)
    )
    keys, _ = make_keys(settings, ("a",))
    segmenter = GatedSegmenter()
    app = create_app(settings, segmenter=segmenter)
    results: dict[str, httpx.Response] = {}

    def post(name: str) -> None:
        with httpx.Client(base_url=server.url, headers={"X-Api-Key": keys["a"]}, timeout=WAIT_SECONDS) as client:
            results[name] = cutout(client, photos["coffee-cup"])

    with ServerThread(app) as server:
        pool = app.state.services.pool
        first = threading.Thread(target=post, args=("first",))
        first.start()
        assert segmenter.entered.acquire(timeout=WAIT_SECONDS), "the first cut-out never reached the segmenter"
        second = threading.Thread(target=post, args=("second",))
        second.start()
        wait_for(lambda: pool.stats().waiting == 1, "the second request to wait in the queue")

        with httpx.Client(base_url=server.url, headers={"X-Api-Key": keys["a"]}, timeout=WAIT_SECONDS) as client:
            busy = cutout(client, photos["coffee-cup"])
            assert_error(busy, 429, "busy")
            assert int(busy.headers["retry-after"]) >= 1
            # Jobs are accepted (they wait in the database, not in memory) up to the per-key limit.
            job = client.post("/v1/jobs", files=[("image_file", ("a.jpg", photos["rocket"], "image/jpeg"))])
            assert job.status_code == 202, job.text
            second_job = client.post("/v1/jobs", files=[("image_file", ("b.jpg", photos["rocket"], "image/jpeg"))])
            assert_error(second_job, 429, "too_many_jobs")
            assert int(second_job.headers["retry-after"]) >= 1
            assert pool.stats().waiting == 1  # the job item is not in memory while the pool is full

            segmenter.gate.set()
            first.join(WAIT_SECONDS)
            second.join(WAIT_SECONDS)
            assert results["first"].status_code == 200 and results["second"].status_code == 200
            assert wait_job(client, job.json()["id"])["state"] == "done"
            assert (
                client.post("/v1/jobs", files=[("image_file", ("c.jpg", photos["rocket"], "image/jpeg"))]).status_code
                == 202
            )
            assert 'promptcut_rejected_total{reason="busy"} 1.0' in client.get("/metrics").text


class BrokenSegmenter:
    """A backend with a bug: every segment() raises something no one planned for."""

    name = "broken"

    def segment(self, image: np.ndarray, prompts: Any) -> Any:
        raise RuntimeError("boom at /srv/secret/path")


def test_unexpected_errors_are_500_json_without_details(tmp_path: Path, photos: dict[str, bytes]) -> None:
    from service.api.app import create_app
    from service.settings import Settings

    settings = Settings(data_dir=tmp_path, workers=1, queue_size=2)
    keys, _ = make_keys(settings, ("a",))
    with ServerThread(create_app(settings, segmenter=BrokenSegmenter())) as server:
        with httpx.Client(base_url=server.url, headers={"X-Api-Key": keys["a"]}, timeout=WAIT_SECONDS) as client:
            response = cutout(client, photos["coffee-cup"])
            assert_error(response, 500, "internal")
            assert "boom" not in response.text and "/srv" not in response.text
            job = client.post("/v1/jobs", files=[("image_file", ("a.jpg", photos["rocket"], "image/jpeg"))])
            finished = wait_job(client, job.json()["id"])
            assert finished["state"] == "failed"
            error = finished["items"][0]["error"]
            assert error["code"] == "internal" and "boom" not in error["message"]
            assert client.get("/healthz").status_code == 200  # the server lives on
