"""Per-store fairness and limits (service/jobs/key_limits.py): one store's flood never takes the server from the
others. Each limit is answered 429 with Retry-After and counted in promptcut_rejected_total{reason}; the other
store's work goes on meanwhile. Real HTTP over loopback; gates, never timings, decide who is busy."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import httpx
import numpy as np
import pytest

from service.api.app import create_app
from service.settings import Settings
from tests.service.api.test_api import (
    WAIT_SECONDS,
    GatedSegmenter,
    ServerThread,
    assert_error,
    cutout,
    make_keys,
    small_photo,
    wait_for,
    wait_job,
)


def client_for(server: ServerThread, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Api-Key": key}, timeout=WAIT_SECONDS)


def rejected(client: httpx.Client, reason: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'promptcut_rejected_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


def in_background(fn: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def photo() -> bytes:
    return small_photo("coffee-cup.jpg")


# ------------------------------------------------------------------------------------------------ job items


class RecordingSegmenter(GatedSegmenter):
    """Gated like GatedSegmenter, and records the mean pixel of each photo it cuts (to tell the stores apart)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def segment(self, image: np.ndarray, prompts: Any) -> Any:
        self.seen.append(round(float(np.asarray(image, dtype=np.float64).mean()), 1))
        return super().segment(image, prompts)


def test_a_small_job_of_another_store_gets_the_next_free_worker(tmp_path: Path) -> None:
    """One worker: store A's 6-item job is running when store B's 1-item job arrives. B's item must be the next
    one cut — not wait behind A's older items (the tie went to the older store before)."""
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=2)
    keys, _ = make_keys(settings, ("a", "b"))
    segmenter = RecordingSegmenter()
    a_photo, b_photo = small_photo("coffee-cup.jpg"), small_photo("rocket.jpg")
    with ServerThread(create_app(settings, segmenter=segmenter)) as server:
        with client_for(server, keys["a"]) as a, client_for(server, keys["b"]) as b:
            a_job = a.post("/v1/jobs", files=[("image_file", (f"{i}.jpg", a_photo, "image/jpeg")) for i in range(6)])
            assert a_job.status_code == 202, a_job.text
            assert segmenter.entered.acquire(timeout=WAIT_SECONDS)  # A's first item holds the only worker
            b_job = b.post("/v1/jobs", files=[("image_file", ("b.jpg", b_photo, "image/jpeg"))])
            assert b_job.status_code == 202, b_job.text
            segmenter.gate.set()
            assert wait_job(b, b_job.json()["id"])["state"] == "done"
            assert wait_job(a, a_job.json()["id"])["state"] == "done"
    a_mean = segmenter.seen[0]
    assert len(segmenter.seen) == 7 and segmenter.seen[1] != a_mean, segmenter.seen
    assert segmenter.seen.count(a_mean) == 6


def test_queued_items_per_key_are_capped_at_job_creation(tmp_path: Path, photo: bytes) -> None:
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=2,
                        max_queued_items_per_key=3)
    keys, _ = make_keys(settings, ("a", "b"))
    segmenter = GatedSegmenter()
    with ServerThread(create_app(settings, segmenter=segmenter)) as server:
        with client_for(server, keys["a"]) as a, client_for(server, keys["b"]) as b:
            two = [("image_file", (f"{i}.jpg", photo, "image/jpeg")) for i in range(2)]
            assert a.post("/v1/jobs", files=two).status_code == 202
            assert segmenter.entered.acquire(timeout=WAIT_SECONDS)  # one running, one queued
            over = a.post("/v1/jobs", files=two + two[:1])  # 1 queued + 3 > 3
            body = assert_error(over, 429, "too_many_jobs")
            assert "queued items" in body["error"]["message"] and int(over.headers["retry-after"]) >= 1
            assert a.post("/v1/jobs", files=two).status_code == 202  # 1 + 2 fits
            assert b.post("/v1/jobs", files=two).status_code == 202  # another store's count is its own
            assert rejected(a, "queued_items_per_key") == 1.0
            segmenter.gate.set()


# ------------------------------------------------------------------------------------------------ cut-outs


def test_a_key_at_its_cut_limit_is_refused_while_another_key_is_served(tmp_path: Path, photo: bytes) -> None:
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=2, queue_size=8, max_cuts_per_key=2)
    keys, _ = make_keys(settings, ("a", "b"))
    segmenter = GatedSegmenter()
    answers: dict[str, httpx.Response] = {}
    with ServerThread(create_app(settings, segmenter=segmenter)) as server:
        def post(name: str, key: str) -> None:
            with client_for(server, keys[key]) as client:
                answers[name] = cutout(client, photo)

        first = [in_background(lambda n=n: post(n, "a")) for n in ("a1", "a2")]
        for _ in first:
            assert segmenter.entered.acquire(timeout=WAIT_SECONDS)
        with client_for(server, keys["a"]) as a:
            third = cutout(a, photo)
            assert_error(third, 429, "key_busy")
            assert int(third.headers["retry-after"]) >= 1 and "2 cut-outs" in third.json()["error"]["message"]
            b_thread = in_background(lambda: post("b", "b"))  # B waits for a worker, it is not refused
            wait_for(lambda: server.app.state.services.pool.stats().waiting == 1, "B's cut-out to be queued")
            segmenter.gate.set()
            for thread in (*first, b_thread):
                thread.join(WAIT_SECONDS)
            assert [answers[n].status_code for n in ("a1", "a2", "b")] == [200, 200, 200]
            assert cutout(a, photo).status_code == 200  # the slots came back
            assert rejected(a, "cuts_per_key") == 1.0


class SlowImageServer:
    """Loopback http server whose photo trickles out only once `release` is set, or after `drip_seconds` (a
    slow-drip image host)."""

    def __init__(self, photo: bytes, drip_seconds: float = WAIT_SECONDS) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(photo)))
                self.end_headers()
                self.wfile.write(photo[:10])
                self.wfile.flush()
                outer.started.release()
                outer.release.wait(drip_seconds)
                self.wfile.write(photo[10:])

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_host(photo: bytes) -> Iterator[SlowImageServer]:
    host = SlowImageServer(photo)
    yield host
    host.close()


def test_slow_image_urls_use_the_keys_fetch_slots_never_the_workers(
    tmp_path: Path, photo: bytes, slow_host: SlowImageServer
) -> None:
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=1, max_url_fetches_per_key=2,
                        allow_http_urls=True, url_allow_hosts=[f"127.0.0.1:{slow_host.port}"], url_timeout=30)
    keys, _ = make_keys(settings, ("a", "b"))
    url = f"http://127.0.0.1:{slow_host.port}/cup.jpg"
    answers: dict[str, httpx.Response] = {}
    with ServerThread(create_app(settings)) as server:
        def post_url(name: str) -> None:
            with client_for(server, keys["a"]) as client:
                answers[name] = client.post("/v1/cutouts", data={"image_url": url})

        drips = [in_background(lambda n=n: post_url(n)) for n in ("a1", "a2")]
        for _ in drips:
            assert slow_host.started.acquire(timeout=WAIT_SECONDS)
        with client_for(server, keys["a"]) as a, client_for(server, keys["b"]) as b:
            third = a.post("/v1/cutouts", data={"image_url": url})
            assert_error(third, 429, "key_busy")
            assert "image URLs" in third.json()["error"]["message"] and int(third.headers["retry-after"]) >= 1
            stats = server.app.state.services.pool.stats()
            assert stats.running == 0 and stats.waiting == 0  # downloads do not sit on the worker
            assert cutout(b, photo).status_code == 200  # one worker, queue of one: still free for B
            slow_host.release.set()
            for thread in drips:
                thread.join(WAIT_SECONDS)
            assert [answers[n].status_code for n in ("a1", "a2")] == [200, 200]
            timing = answers["a1"].headers["server-timing"]
            assert "fetch" in timing, timing
            assert rejected(a, "url_fetches_per_key") == 1.0


# ------------------------------------------------------------------------------------------------ theme swaps


class SlowRerenders:
    """Every re-render waits for a ticket, so the test decides how far a theme swap has got."""

    def __init__(self, engine: Any) -> None:
        self.tickets = threading.Semaphore(0)
        self.started = threading.Semaphore(0)
        self.count = 0
        inner = engine.rerender

        def rerender(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            self.started.release()
            assert self.tickets.acquire(timeout=WAIT_SECONDS), "no ticket for a re-render"
            return inner(*args, **kwargs)

        engine.rerender = rerender


def done_job(client: httpx.Client, photo: bytes, count: int) -> str:
    response = client.post("/v1/jobs", files=[("image_file", (f"{i}.jpg", photo, "image/jpeg"))
                                               for i in range(count)])
    assert response.status_code == 202, response.text
    assert wait_job(client, response.json()["id"])["state"] == "done"
    return response.json()["id"]


def test_a_theme_swap_gives_the_worker_up_between_its_items(tmp_path: Path, photo: bytes) -> None:
    """One worker; store A re-themes a 5-item job. Store B's cut-out runs after at most one of A's items, not
    after the whole swap; a second swap of A's (another job) is refused while the first runs."""
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=4)
    keys, _ = make_keys(settings, ("a", "b"))
    app = create_app(settings)
    answers: dict[str, httpx.Response] = {}
    with ServerThread(app) as server, client_for(server, keys["a"]) as a, client_for(server, keys["b"]) as b:
        job_id = done_job(a, photo, 5)
        other_job = done_job(a, photo, 1)
        slow = SlowRerenders(app.state.services.engine)

        def swap() -> None:
            with client_for(server, keys["a"]) as client:
                answers["swap"] = client.post(f"/v1/jobs/{job_id}/theme", json={"background": "#204080"})

        swapping = in_background(swap)
        assert slow.started.acquire(timeout=WAIT_SECONDS)  # A's first item holds the worker
        refused = a.post(f"/v1/jobs/{other_job}/theme", json={"background": "#ffffff"})
        assert_error(refused, 429, "key_busy")
        assert "theme swaps" in refused.json()["error"]["message"]

        engine = app.state.services.engine
        cut, rerenders_before_b = engine.cut, []

        def counted_cut(*args: Any, **kwargs: Any) -> Any:
            rerenders_before_b.append(slow.count)
            return cut(*args, **kwargs)

        engine.cut = counted_cut

        def b_cutout() -> None:
            answers["b"] = cutout(b, photo)

        b_thread = in_background(b_cutout)
        wait_for(lambda: app.state.services.pool.stats().waiting >= 1, "B's cut-out to be queued")
        slow.tickets.release()  # A's first item finishes: B's cut-out must come next
        b_thread.join(WAIT_SECONDS)
        assert answers["b"].status_code == 200
        assert rerenders_before_b == [1], f"{rerenders_before_b} of A's items were re-rendered before B's cut-out"
        for _ in range(4):
            slow.tickets.release()
        swapping.join(WAIT_SECONDS)
        assert answers["swap"].status_code == 200, answers["swap"].text
        items = answers["swap"].json()["items"]
        assert all(item["render"]["background"] == "#204080" for item in items), items
        assert rejected(a, "swaps_per_key") == 1.0


def test_swaps_of_one_job_in_quick_succession_end_on_the_last_one(tmp_path: Path, photo: bytes) -> None:
    """A seller clicking through colours: the swaps join one run, every item ends with the last colour and no
    item is re-rendered once per click."""
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=4)
    keys, _ = make_keys(settings, ("a",))
    app = create_app(settings)
    answers: dict[str, httpx.Response] = {}
    with ServerThread(app) as server, client_for(server, keys["a"]) as a:
        job_id = done_job(a, photo, 4)
        slow = SlowRerenders(app.state.services.engine)

        def swap(colour: str) -> None:
            with client_for(server, keys["a"]) as client:
                answers[colour] = client.post(f"/v1/jobs/{job_id}/theme", json={"background": colour})

        first = in_background(lambda: swap("#111111"))
        assert slow.started.acquire(timeout=WAIT_SECONDS)
        later = [in_background(lambda c=c: swap(c)) for c in ("#222222", "#333333")]
        time.sleep(0.3)  # let both requests write their render and join (no timing is asserted)
        for _ in range(20):
            slow.tickets.release()
        for thread in (first, *later):
            thread.join(WAIT_SECONDS)
        assert all(answers[c].status_code == 200 for c in ("#111111", "#222222", "#333333")), answers
        final = a.get(f"/v1/jobs/{job_id}").json()
        wanted = final["render"]["background"]
        assert all(item["render"]["background"] == wanted for item in final["items"]), final["items"]
        assert slow.count <= 4 + 2, f"{slow.count} re-renders for 4 items and 3 quick swaps"


# ------------------------------------------------------------------------------------------------ zips


def test_one_zip_build_per_key_while_another_key_builds_its_own(
    tmp_path: Path, photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.api import results_zip

    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=4)
    keys, _ = make_keys(settings, ("a", "b"))
    building, finish = threading.Semaphore(0), threading.Event()
    build = results_zip._build

    def gated_build(*args: Any) -> None:
        building.release()
        finish.wait(WAIT_SECONDS)
        build(*args)

    monkeypatch.setattr(results_zip, "_build", gated_build)
    answers: dict[str, httpx.Response] = {}
    with ServerThread(create_app(settings)) as server, client_for(server, keys["a"]) as a, \
            client_for(server, keys["b"]) as b:
        first, second, b_job = done_job(a, photo, 1), done_job(a, photo, 1), done_job(b, photo, 1)
        downloading = in_background(lambda: answers.update(a1=a.get(f"/v1/jobs/{first}/results.zip")))
        assert building.acquire(timeout=WAIT_SECONDS)
        refused = a.get(f"/v1/jobs/{second}/results.zip")
        assert_error(refused, 429, "key_busy")
        assert "zips" in refused.json()["error"]["message"] and int(refused.headers["retry-after"]) >= 1
        b_download = in_background(lambda: answers.update(b=b.get(f"/v1/jobs/{b_job}/results.zip")))
        assert building.acquire(timeout=WAIT_SECONDS)  # B's build started beside A's
        finish.set()
        downloading.join(WAIT_SECONDS)
        b_download.join(WAIT_SECONDS)
        assert answers["a1"].status_code == 200 and answers["b"].status_code == 200
        assert a.get(f"/v1/jobs/{second}/results.zip").status_code == 200  # the key's slot came back
        assert rejected(a, "zip_builds_per_key") == 1.0
