"""Schemathesis against the live /openapi.json: generated requests (valid and invalid) never get a 5xx, and
every error is the documented JSON shape with a stable code — never a traceback.

A real uvicorn on loopback with the classical segmenter; a bounded number of examples per operation keeps the
module fast.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.helpers import require_modules

require_modules("schemathesis", "hypothesis")

import schemathesis  # noqa: E402
import uvicorn  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

EXAMPLES_PER_OPERATION = 40


@dataclass
class Live:
    url: str
    key: str
    item_id: str = ""  # a done item and job of this key: generated requests also hit real resources
    job_id: str = ""


def seed(live: Live) -> None:
    import httpx
    from PIL import Image

    from tests.helpers import SAMPLES

    with Image.open(SAMPLES / "coffee-cup.jpg") as image:
        image = image.convert("RGB")
        image.thumbnail((128, 128))
        out = io.BytesIO()
        image.save(out, "JPEG")
    photo = out.getvalue()
    with httpx.Client(base_url=live.url, headers={"X-Api-Key": live.key}, timeout=60) as client:
        cut = client.post("/v1/cutouts", files={"image_file": ("cup.jpg", photo, "image/jpeg")})
        assert cut.status_code == 200, cut.text
        live.item_id = cut.headers["x-promptcut-item"]
        job = client.post("/v1/jobs", files=[("image_file", ("cup.jpg", photo, "image/jpeg"))]).json()
        deadline = time.monotonic() + 60
        while client.get(f"/v1/jobs/{job['id']}").json()["state"] != "done":
            assert time.monotonic() < deadline, "seed job did not finish"
            time.sleep(0.05)
        live.job_id = job["id"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from service.api.app import create_app
    from service.db import open_database, repo
    from service.settings import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("schema"),
        segmenter="classical",
        workers=2,
        queue_size=16,
        max_upload_bytes=2_000_000,
        max_items_per_job=20,
        max_concurrent_jobs_per_key=1000,
        url_timeout=2,
        webhook_timeout=1,
    )
    database = open_database(settings.db_url)
    with database.session() as db:
        key = repo.create_key(db, "fuzz")[1]
    database.close()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~40 ms per response (delayed ACK)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    live = Live(url, key)
    seed(live)
    yield live
    server.should_exit = True
    thread.join(30)
    sock.close()


def _operations() -> list[tuple[str, str, GenerationMode]]:
    """(METHOD, path, mode) for every documented operation, read from the app's schema without starting it:
    valid requests for all, invalid ones for operations that take any input."""
    from service.api.app import create_app
    from service.settings import Settings

    schema = create_app(Settings(data_dir=Path("/nonexistent-never-opened"))).openapi()
    cases = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture(scope="module")
def api_schema(live: Live) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


def errors_are_json_with_a_code(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx body is {"error": {"code": str, "message": str}} and holds no traceback."""
    if response.status_code < 400:
        return None
    text = response.text if isinstance(response.text, str) else response.content.decode("utf-8", "replace")
    assert "Traceback" not in text, f"traceback in a {response.status_code} body"
    body = json.loads(text)
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"], body
    assert isinstance(error["message"], str), body
    return True


@pytest.mark.parametrize(("method", "path", "mode"), _operations(), ids=lambda value: getattr(value, "value", value))
def test_generated_requests_never_get_a_server_error(api_schema: Any, live: Live, method: str, path: str,
                                                     mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode), real_ids=st.booleans())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def check(case: Any, real_ids: bool) -> None:
        if real_ids and case.path_parameters:
            real = {"item_id": live.item_id, "job_id": live.job_id}
            case.path_parameters = {name: real.get(name, value) for name, value in case.path_parameters.items()}
        response = case.call(base_url=live.url, headers={"X-Api-Key": live.key}, timeout=60)
        case.validate_response(response, checks=[not_a_server_error, errors_are_json_with_a_code])

    check()
