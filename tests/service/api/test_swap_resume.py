"""A theme swap cut short by a server stop is finished by the next start: no item is left on the old look."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from service.api.app import create_app
from service.settings import Settings
from tests.service.api.test_api import WAIT_SECONDS, ServerThread, make_keys, small_photo, wait_for
from tests.service.api.test_key_limits import client_for, done_job, in_background


def test_a_swap_interrupted_by_a_stop_is_finished_after_the_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=4)
    keys, _ = make_keys(settings, ("a",))
    photo = small_photo("coffee-cup.jpg")
    stopping, stuck = threading.Event(), threading.Event()

    first = create_app(settings)
    with ServerThread(first) as server, client_for(server, keys["a"]) as a:
        job_id = done_job(a, photo, 4)
        engine = first.state.services.engine
        rerender, calls = engine.rerender, []

        def one_then_stuck(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) > 1:  # the server stops while the second item is being re-rendered
                stuck.set()
                stopping.wait(WAIT_SECONDS)
                raise RuntimeError("stopped mid-render")
            return rerender(*args, **kwargs)

        engine.rerender = one_then_stuck
        in_background(lambda: client_for(server, keys["a"]).post(f"/v1/jobs/{job_id}/theme",
                                                                  json={"background": "#204080"}))
        assert stuck.wait(WAIT_SECONDS)
        server.server.should_exit = True
        stopping.set()
    renders = [dict(render).get("background") for render in _item_renders(settings, job_id)]
    assert renders.count("#204080") == 1, renders  # one item re-rendered before the stop

    with ServerThread(create_app(settings)) as server, client_for(server, keys["a"]) as a:
        def all_new() -> bool:
            items = a.get(f"/v1/jobs/{job_id}").json()["items"]
            return all(item["render"].get("background") == "#204080" for item in items)

        wait_for(all_new, "the interrupted swap to be finished after the restart")


def _item_renders(settings: Settings, job_id: str) -> list[dict]:
    """Read from the database itself: a server started to ask would already resume the swap."""
    from service.db import open_database, repo

    database = open_database(settings.db_url, migrate=False)
    try:
        with database.session() as db:
            return [item.render for item in repo.job_items(db, job_id)]
    finally:
        database.close()
