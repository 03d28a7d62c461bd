"""Job webhooks signed with each key's own secret, over real HTTP on loopback (the fixtures of test_api.py): the
secret shown at creation verifies and the key's hash does not; POST /v1/webhook-secret/rotate and its grace
period; a key made before 0007 still on the legacy secret; a secret sealed under another server key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from service.db.schema import ApiKey, utcnow
from service.jobs.webhook_secrets import SECRET_PREFIX, issue_key
from service.net.webhooks import secret_for_key, verify
from service.store.secrets import SecretBox, derive_key, secret_box
from tests.service.api.test_api import (  # noqa: F401 — image_host and photos are fixtures
    WAIT_SECONDS,
    ImageHost,
    ServerThread,
    assert_error,
    image_host,
    photos,
    wait_for,
    wait_job,
)

SERVER_KEY = "the webhook test server's key"


@dataclass
class Server:
    url: str
    app: Any
    host: ImageHost
    keys: dict[str, str]  # name → API key
    secrets: dict[str, str]  # name → the signing secret shown at creation
    key_ids: dict[str, str]

    def client(self, key: str | None) -> httpx.Client:
        headers = {"X-Api-Key": self.keys[key]} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=WAIT_SECONDS)

    def webhook_of(self, key: str) -> tuple[dict, bytes, str]:
        """Run a one-item job of `key` with a callback; its finished job, and the delivered body and signature
        (empty when nothing was delivered). The item's photo is missing: the job fails at once, uncut."""
        base = f"http://127.0.0.1:{self.host.port}"
        with self.client(key) as client:
            created = client.post("/v1/jobs", json={"items": [{"image_url": f"{base}/missing.jpg"}],
                                                    "callback_url": f"{base}/hook"})
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]
            wait_job(client, job_id)
            job = wait_for(lambda: (lambda j: j if j["webhook_state"] in ("sent", "failed") else None)(
                client.get(f"/v1/jobs/{job_id}").json()), "the webhook's outcome")
        sent = [(raw, header) for raw, header in self.host.signatures if json.loads(raw)["job"]["id"] == job_id]
        raw, header = sent[0] if sent else (b"", "")
        return job, raw, header

    def set_previous_valid_until(self, key: str, moment: datetime) -> None:
        with self.app.state.services.database.session() as db:
            db.get(ApiKey, self.key_ids[key]).previous_secret_valid_until = moment


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, image_host: ImageHost) -> Iterator[Server]:  # noqa: F811
    from service.api.app import create_app
    from service.db import open_database, repo
    from service.settings import Settings

    data_dir = tmp_path_factory.mktemp("webhook-secrets")
    settings = Settings(data_dir=data_dir, segmenter="classical", workers=1, queue_size=4, allow_http_urls=True,
                        url_allow_hosts=[f"127.0.0.1:{image_host.port}"], url_timeout=5, webhook_timeout=5,
                        secret_key=SERVER_KEY)
    database = open_database(settings.db_url)
    keys, secrets, key_ids = {}, {}, {}
    boxes = {"own": secret_box(SERVER_KEY, Path(data_dir)), "rotating": secret_box(SERVER_KEY, Path(data_dir)),
             "foreign": SecretBox(derive_key("another server's key"), "test")}  # as if the server key changed
    with database.session() as db:
        for name, box in boxes.items():
            issued = issue_key(db, box, f"store-{name}")
            keys[name], secrets[name], key_ids[name] = issued.key, issued.webhook_secret, issued.id
        for name in ("legacy", "legacy-rotated"):  # no secret of their own, as keys made before 0007
            legacy, keys[name] = repo.create_key(db, f"store-{name}")
            key_ids[name] = legacy.id
    database.close()
    app = create_app(settings)
    with ServerThread(app) as thread:
        yield Server(thread.url, app, image_host, keys, secrets, key_ids)


def test_a_webhook_verifies_with_the_secret_shown_at_creation_not_with_the_key_hash(server: Server) -> None:
    job, raw, header = server.webhook_of("own")
    assert job["webhook_state"] == "sent" and header.count("v1=") == 1
    assert verify(server.secrets["own"], raw, header)
    assert not verify(secret_for_key(server.keys["own"]), raw, header)
    assert not verify(server.secrets["rotating"], raw, header)  # another key's secret


def test_a_legacy_key_still_signs_with_its_hash(server: Server) -> None:
    job, raw, header = server.webhook_of("legacy")
    assert job["webhook_state"] == "sent" and verify(secret_for_key(server.keys["legacy"]), raw, header)


def test_rotating_over_http_signs_with_both_secrets_during_the_grace_then_only_the_new(server: Server) -> None:
    old = server.secrets["rotating"]
    with server.client("rotating") as client:
        response = client.post("/v1/webhook-secret/rotate")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    rotated = response.json()
    new = rotated["webhook_secret"]
    assert new.startswith(SECRET_PREFIX) and new != old
    until = datetime.fromisoformat(rotated["previous_valid_until"])
    assert timedelta(hours=23) < until - utcnow() <= timedelta(hours=24)

    _, raw, header = server.webhook_of("rotating")
    assert header.count("v1=") == 2
    assert verify(new, raw, header) and verify(old, raw, header)

    server.set_previous_valid_until("rotating", utcnow() - timedelta(seconds=1))  # the grace is over
    _, raw, header = server.webhook_of("rotating")
    assert header.count("v1=") == 1
    assert verify(new, raw, header) and not verify(old, raw, header)


def test_rotating_without_grace_and_the_refusals(server: Server) -> None:
    with server.client("legacy-rotated") as client:
        rotated = client.post("/v1/webhook-secret/rotate", json={"grace_hours": 0})
        assert rotated.status_code == 200 and rotated.json()["previous_valid_until"] is None
        assert_error(client.post("/v1/webhook-secret/rotate", json={"grace_hours": -1}), 422, "invalid_request")
        assert_error(client.post("/v1/webhook-secret/rotate", json={"grace": 1}), 422, "invalid_request")
    with server.client(None) as client:
        assert_error(client.post("/v1/webhook-secret/rotate"), 401, "unauthorized")
    _, raw, header = server.webhook_of("legacy-rotated")
    assert verify(rotated.json()["webhook_secret"], raw, header)
    assert not verify(secret_for_key(server.keys["legacy-rotated"]), raw, header)  # no longer the legacy secret


def test_a_secret_the_server_key_cannot_open_fails_the_webhook_with_a_clear_error(server: Server) -> None:
    job, _, header = server.webhook_of("foreign")
    assert job["webhook_state"] == "failed" and header == ""  # nothing sent: not unsigned, not otherwise signed
    assert "signing secret cannot be opened" in job["webhook_error"] and "server key changed" in job["webhook_error"]
    assert SERVER_KEY not in job["webhook_error"]

    with server.client("foreign") as client:  # rotating under this server's key is the cure
        new = client.post("/v1/webhook-secret/rotate").json()
    assert new["previous_valid_until"] is None
    job, raw, header = server.webhook_of("foreign")
    assert job["webhook_state"] == "sent" and verify(new["webhook_secret"], raw, header)
