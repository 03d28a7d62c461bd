"""Two stores, one flooding the server (#16 item 6): store A creates jobs in parallel, re-themes a large job over and
over, downloads its results zip, sends cut-outs and cut-outs whose image URLs drip slowly; store B meanwhile
submits a 1-item job. B's job must finish within a few item-times, the server's memory stay within a bound, and
no request of either store get a 5xx (A gets 429s with Retry-After instead). Real HTTP over loopback; bounded in
time (the flood lasts FLOOD_SECONDS)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import httpx

from service.api.app import create_app
from service.settings import Settings
from tests.service.api.test_api import WAIT_SECONDS, ServerThread, make_keys, small_photo, wait_job
from tests.service.api.test_key_limits import SlowImageServer, client_for, done_job

FLOOD_SECONDS = 8.0
BIG_JOB = 12  # items of the two jobs A re-themes and downloads
FLOOD_JOB = 20  # items per job A keeps creating: its backlog is far more than a few item-times
ITEM_TIMES = 8  # B's job finishes within this many item-times (+ 1 s for polling and HTTP)
MEMORY_GROWTH_MB = 400  # the whole test process (server, clients, photos) may grow by at most this


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class Flood:
    """Runs each attack in its own threads until `stop`; keeps every status code and any 429 without Retry-After."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.codes: Counter[tuple[str, int]] = Counter()
        self.bad_429: list[str] = []
        self._lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def attack(self, name: str, count: int, make_client: Callable[[], httpx.Client],
               request: Callable[[httpx.Client, int], httpx.Response]) -> None:
        def loop(index: int) -> None:
            with make_client() as client:
                round_ = 0
                while not self.stop.is_set():
                    try:
                        response = request(client, round_ * count + index)
                    except httpx.HTTPError as exc:  # a refused or broken connection counts as a failure too
                        self._note(name, 599, f"{type(exc).__name__}: {exc}")
                    else:
                        self._note(name, response.status_code, response.headers.get("retry-after"))
                    round_ += 1

        for index in range(count):
            thread = threading.Thread(target=loop, args=(index,), daemon=True, name=f"flood-{name}-{index}")
            thread.start()
            self.threads.append(thread)

    def _note(self, name: str, status: int, detail: str | None) -> None:
        with self._lock:
            self.codes[(name, status)] += 1
            if status == 429 and not (detail or "").isdigit():
                self.bad_429.append(name)
            if status >= 500:
                self.bad_429.append(f"{name}: {status} {detail}")

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(WAIT_SECONDS)


def test_a_flooding_store_never_holds_back_another_stores_small_job(tmp_path: Path) -> None:
    photo = small_photo("coffee-cup.jpg")
    slow_host = SlowImageServer(photo, drip_seconds=1.5)
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=2, queue_size=8,
                        max_items_per_job=FLOOD_JOB, allow_http_urls=True,
                        url_allow_hosts=[f"127.0.0.1:{slow_host.port}"], url_timeout=4)
    keys, _ = make_keys(settings, ("a", "b"))
    app = create_app(settings)
    flood = Flood()
    try:
        with ServerThread(app) as server, client_for(server, keys["b"]) as b:
            services = app.state.services
            with client_for(server, keys["a"]) as a:
                big_jobs = [done_job(a, photo, BIG_JOB // 2) for _ in range(2)]
            started = time.perf_counter()
            alone = wait_job(b, b.post("/v1/jobs", files=[("image_file", ("b.jpg", photo, "image/jpeg"))])
                             .json()["id"])
            item_time_alone = time.perf_counter() - started
            assert alone["state"] == "done"
            baseline = rss_mb()

            def a_client() -> httpx.Client:
                return client_for(server, keys["a"])

            upload = [("image_file", (f"{i}.jpg", photo, "image/jpeg")) for i in range(FLOOD_JOB)]
            flood.attack("jobs", 4, a_client, lambda c, _n: c.post("/v1/jobs", files=upload))
            colours = ["#102030", "#405060", "#708090", "#a0b0c0"]
            flood.attack("swaps", 2, a_client,  # one job each: a second swap of one job would join the first
                         lambda c, n: c.post(f"/v1/jobs/{big_jobs[n % 2]}/theme", json={"background": colours[n % 4]}))
            flood.attack("zips", 2, a_client, lambda c, n: c.get(f"/v1/jobs/{big_jobs[n % 2]}/results.zip"))
            flood.attack("cutouts", 3, a_client,
                         lambda c, _n: c.post("/v1/cutouts", files={"image_file": ("a.jpg", photo, "image/jpeg")}))
            slow_url = f"http://127.0.0.1:{slow_host.port}/drip.jpg"  # each takes 1.5 s to arrive
            flood.attack("slow-urls", 3, a_client, lambda c, _n: c.post("/v1/cutouts", data={"image_url": slow_url}))

            peak = baseline
            sample_until = time.monotonic() + FLOOD_SECONDS / 4
            while time.monotonic() < sample_until:  # let the flood build A's backlog first
                peak = max(peak, rss_mb())
                time.sleep(0.1)
            with services.database.session() as db:
                from service.db import repo

                backlog = repo.count_queued_items(db, _key_id(db, "store-a"))
            started = time.perf_counter()
            small = b.post("/v1/jobs", files=[("image_file", ("b.jpg", photo, "image/jpeg"))])
            assert small.status_code == 202, small.text
            small_id = small.json()["id"]
            while b.get(f"/v1/jobs/{small_id}").json()["state"] not in ("done", "failed"):
                peak = max(peak, rss_mb())
                assert time.perf_counter() - started < WAIT_SECONDS, "B's job never finished"
                time.sleep(0.05)
            waited = time.perf_counter() - started
            item_time = max(item_time_alone, services.pool._average_seconds)
            flood_end = time.monotonic() + max(0.0, FLOOD_SECONDS - FLOOD_SECONDS / 4 - waited)
            while time.monotonic() < flood_end:
                peak = max(peak, rss_mb())
                time.sleep(0.1)
            flood.join()
            assert b.get(f"/v1/jobs/{small_id}").json()["state"] == "done"
    finally:
        flood.stop.set()
        slow_host.close()

    codes = dict(flood.codes)
    assert not flood.bad_429, (flood.bad_429[:5], codes)  # no 5xx, no 429 without Retry-After
    assert backlog >= 2 * FLOOD_JOB, f"A's flood queued only {backlog} items: not a flood ({codes})"
    assert waited <= ITEM_TIMES * item_time + 1.0, (
        f"B's 1-item job took {waited:.2f} s with A's {backlog} items queued (item-time {item_time:.2f} s)")
    for attack in ("jobs", "swaps", "cutouts", "slow-urls"):  # zips: built once per result set, seldom at once
        assert sum(n for (name, status), n in codes.items() if name == attack and status == 429) >= 1, (
            f"{attack} was never refused: the flood did not reach its limit ({codes})")
    assert peak - baseline <= MEMORY_GROWTH_MB, f"memory grew {peak - baseline:.0f} MB under the flood"
    print(f"B's 1-item job: {waited:.2f} s (item-time {item_time:.2f} s, alone {item_time_alone:.2f} s) with "
          f"{backlog} of A's items queued; memory +{peak - baseline:.0f} MB; answers {sorted(codes.items())}")


def _key_id(db, store: str) -> str:
    from sqlalchemy import select

    from service.db.schema import ApiKey

    return db.scalar(select(ApiKey.id).where(ApiKey.store == store))
