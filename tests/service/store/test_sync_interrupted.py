"""A store sync whose process ended mid-way (a restart, a killed `store sync`) does not stay "running" forever:
the only server on the database stops it at start with a reason that says a rerun resumes it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx

from service.store.sync import SyncOptions, start_sync
from service.store.sync_records import INTERRUPTED
from tests.fakestore import FakeShopify
from tests.service.store.webhooks_harness import prepared_world, served


def sync_state(url: str, api_key: str, store_id: str, sync_id: str) -> dict:
    response = httpx.get(f"{url}/v1/stores/{store_id}/syncs/{sync_id}", headers={"X-Api-Key": api_key})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_only_server_stops_a_sync_left_running_and_says_a_rerun_resumes_it(tmp_path: Path,
                                                                                shop: FakeShopify) -> None:
    with prepared_world(tmp_path, shop) as offline:
        cut_short = start_sync(offline.database, offline.key_id, offline.store_id, SyncOptions())  # never run
        with served(offline) as world:
            sync = sync_state(world.url, world.api_key, world.store_id, cut_short)
        assert sync["state"] == "stopped" and sync["error"]["code"] == INTERRUPTED
        assert "run the same sync again" in sync["error"]["message"]


def test_with_several_servers_a_running_sync_may_be_another_servers_and_is_left_alone(tmp_path: Path,
                                                                                      shop: FakeShopify) -> None:
    with prepared_world(tmp_path, shop) as offline:
        running = start_sync(offline.database, offline.key_id, offline.store_id, SyncOptions())
        named = replace(offline, settings=offline.settings.model_copy(update={"instance_name": "api-1"}))
        with served(named) as world:
            assert sync_state(world.url, world.api_key, world.store_id, running)["state"] == "running"
