"""What a store sync costs beyond the cuts: a fake Shopify shop on loopback (service.bench.fakestore, with its
leaky cost bucket) holding N generated products, a store connected to it in a throwaway database, then one sync
of every product on the CLI's in-process path (classical segmenter), a rerun and a revert.

Time on the store is measured where it is spent, not by subtraction: the sync's client comes from a factory
that builds a TimedClient, whose `execute` (API calls, including its waits for the cost bucket and its retries
with their back-off), `download` and `post_file` (the staged uploads) run under a StoreClock; the context's
`fetch` (downloads of the originals) and `process` (the cut of one item) are wrapped the same way. What is left
of the wall time beyond the cutting is the sync's overhead: the sync cuts in one thread while it writes finished
cuts back in another, so time on the store spent while a cut runs costs nothing, and the overhead is what the
store (and planning, the database, the last batch written after the last cut) adds to the sync's duration.
"""

from __future__ import annotations

import dataclasses
import io
import platform
import secrets
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from fusion.segmenters import choose_segmenter
from service.bench.fakestore import FakeMedia, FakeProduct, FakeShopify, LeakyBucket
from service.bench.fakestore.catalogue import MEDIA_GID, PRODUCT_GID
from service.db import open_database, repo
from service.engine.render_request import RenderRequest
from service.jobs.store_syncs import local_services, sync_context
from service.settings import Settings
from service.store.campaign import CampaignPlan, create_campaign, get_campaign
from service.store.campaign_run import CampaignContext, work
from service.store.connections import StoreEndpointRules, connect_store, open_store_client
from service.store.secrets import SecretBox, derive_key
from service.store.shopify_api import RetryPolicy, ShopifyClient
from service.store.sync import SyncContext, SyncOptions, run_sync, start_sync
from service.store.sync_revert import revert_sync

# --- timing ------------------------------------------------------------------------------------------------------

STORE_KINDS = ("api", "download", "upload")  # what "time on the store" adds up; "wait" is part of "api"


class StoreClock:
    """Seconds and calls by kind: api, wait (bucket waits and back-off sleeps, inside api), download, upload, cut.

    Only the outermost timed call of a thread counts, so nothing is counted twice."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def timing(self, kind: str, *, nested: bool = False) -> Iterator[None]:
        """Time the block as `kind`; `nested` blocks (a sleep inside an API call) count even inside another."""
        outer = getattr(self._local, "active", False)
        if outer and not nested:
            yield
            return
        self._local.active = True if not nested else outer
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self._local.active = outer
            with self._lock:
                self.seconds[kind] += elapsed
                self.calls[kind] += 1

    def wrap(self, kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(kind):
                return fn(*args, **kwargs)
        return timed

    def snapshot(self) -> tuple[dict[str, float], dict[str, int]]:
        with self._lock:
            return dict(self.seconds), dict(self.calls)


class TimedClient(ShopifyClient):
    """The product's ShopifyClient with its calls timed on a StoreClock; its sleeps (bucket waits, back-off)
    are timed too, as "wait"."""

    def __init__(self, endpoint: str, token: str, *, clock: StoreClock, **options: Any) -> None:
        def sleep(seconds: float) -> None:
            with clock.timing("wait", nested=True):
                time.sleep(seconds)

        super().__init__(endpoint, token, sleep=sleep, **options)
        self._store_clock = clock

    def execute(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        with self._store_clock.timing("api"):
            return super().execute(document, variables)

    def download(self, url: str) -> bytes:
        with self._store_clock.timing("api"):
            return super().download(url)

    def post_file(self, url: str, fields: Mapping[str, str], filename: str, data: bytes, mime_type: str, *,
                  timeout: float = 60.0) -> httpx.Response:
        with self._store_clock.timing("upload"):
            return super().post_file(url, fields, filename, data, mime_type, timeout=timeout)


# --- the shop's products ---------------------------------------------------------------------------------------

COLOURS = {"red": (190, 40, 45), "blue": (40, 80, 170), "green": (50, 130, 70), "yellow": (225, 185, 40),
           "black": (35, 35, 40), "orange": (220, 110, 30), "purple": (110, 60, 140), "teal": (30, 130, 130)}
NOUNS = ("ceramic vase", "leather bag", "wool cushion", "glass bottle", "table lamp", "cotton cap")


def product_photo(index: int, *, min_side: int = 800, max_side: int = 1200, seed: int = 0) -> tuple[bytes, str]:
    """A studio-like product photo (JPEG, each side in [min_side, max_side]) unique to `index`, and its title:
    one coloured, shaded object with a soft contact shadow on a light, slightly graded, noisy backdrop."""
    rng = np.random.default_rng([seed, index])
    width, height = (int(v) for v in rng.integers(min_side, max_side + 1, size=2))
    colour_name = list(COLOURS)[index % len(COLOURS)]
    noun = NOUNS[(index // len(COLOURS)) % len(NOUNS)]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    backdrop = 238 - 18 * (y / height) + rng.normal(0, 2.5, (height, width)).astype(np.float32)
    image = np.repeat(backdrop[..., None], 3, axis=2)
    cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.42, 0.55)
    rx, ry = width * rng.uniform(0.16, 0.3), height * rng.uniform(0.2, 0.33)
    shadow = np.exp(-(((x - cx) / (rx * 1.1)) ** 2 + ((y - (cy + ry * 0.95)) / (ry * 0.18)) ** 2))
    image *= (1 - 0.35 * shadow)[..., None]
    power = 2.0 if index % 2 else 4.0  # an ellipse or a rounded box
    inside = (np.abs((x - cx) / rx) ** power + np.abs((y - cy) / ry) ** power) <= 1
    light = np.clip(1.15 - 0.55 * np.hypot((x - cx + rx * 0.35) / rx, (y - cy + ry * 0.35) / ry), 0.45, 1.15)
    body = np.asarray(COLOURS[colour_name], np.float32) * light[..., None]
    image[inside] = body[inside] + rng.normal(0, 3, (int(inside.sum()), 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue(), f"{colour_name.capitalize()} {noun} {index + 1}"


def bench_shop(products: int, *, bucket: float, restore_rate: float, min_side: int, max_side: int,
               seed: int = 0) -> FakeShopify:
    """A fake shop (not yet serving) with `products` products of one generated photo each."""
    items, photos = [], {}
    for index in range(products):
        number = 1001 + index
        data, title = product_photo(index, min_side=min_side, max_side=max_side, seed=seed)
        with Image.open(io.BytesIO(data)) as image:
            size = image.size
        name = f"p{number}.jpg"
        photos[name] = data
        items.append(FakeProduct(id=f"{PRODUCT_GID}{number}", handle=f"product-{number}", title=title,
                                 media=[FakeMedia(id=f"{MEDIA_GID}{number * 10}", file_name=name, alt=title,
                                                  width=size[0], height=size[1])]))
    shop = FakeShopify(items, bucket=LeakyBucket(bucket, restore_rate))
    shop.images.update(photos)  # the shop made placeholder PNGs; ours are the real photos
    return shop


# --- the run -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One timed run (first sync, rerun, revert). Seconds are wall clock; store_s = api_s + download_s +
    upload_s (much of it while cuts run, in another thread); wait_s (bucket waits and back-off sleeps) is part of
    api_s; overhead_s = wall_s - cut_s, what the sync takes beyond its cutting."""

    name: str
    state: str
    counts: dict[str, int]
    wall_s: float
    cut_s: float  # cutting (a sync) or re-rendering from the stored layers (a campaign's theme swaps)
    api_s: float
    wait_s: float
    download_s: float
    upload_s: float
    api_calls: int
    downloads: int
    uploads: int  # staged-upload POSTs our client made
    shop_uploads: int  # staged-upload POSTs the shop received
    throttled: int  # THROTTLED answers the shop gave

    @property
    def store_s(self) -> float:
        return self.api_s + self.download_s + self.upload_s

    @property
    def overhead_s(self) -> float:
        return max(self.wall_s - self.cut_s, 0.0)

    def share(self, seconds: float) -> float:
        return seconds / self.wall_s if self.wall_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        return fields | {"store_s": self.store_s, "overhead_s": self.overhead_s, "cut_share": self.share(self.cut_s),
                         "store_share": self.share(self.store_s), "overhead_share": self.share(self.overhead_s),
                         "uploads_per_s": self.uploads / self.wall_s if self.wall_s else 0.0}


@dataclass(frozen=True)
class StoreBench:
    products: int
    bucket: float
    restore_rate: float
    min_side: int
    max_side: int
    cpu: str
    first: Phase
    rerun: Phase
    campaign_apply: Phase
    campaign_revert: Phase
    revert: Phase

    GOAL = 0.10  # what the store adds to a sync's duration at most 10 % of the cut time

    @property
    def overhead_ratio(self) -> float:
        return self.first.overhead_s / self.first.cut_s if self.first.cut_s else float("inf")

    def lines(self) -> list[str]:
        first, rerun, revert = self.first, self.rerun, self.revert

        def pct(seconds: float) -> str:
            return f"{first.share(seconds):.0%}"

        return [
            f"{self.products} products (one {self.min_side}-{self.max_side} px JPEG each), cost bucket "
            f"{self.bucket:.0f} points restoring {self.restore_rate:g}/s, classical segmenter, in-process sync",
            f"CPU: {self.cpu}",
            f"first sync ({first.state}, {first.counts.get('published', 0)} published, "
            f"{first.counts.get('failed', 0)} failed, {first.counts.get('held', 0)} held): {first.wall_s:.1f} s wall",
            f"  cutting {first.cut_s:.1f} s ({pct(first.cut_s)}), {first.cut_s / max(self.products, 1) * 1000:.0f} ms "
            "per product",
            f"  store   {first.store_s:.1f} s ({pct(first.store_s)}, mostly while cutting): API {first.api_s:.1f} s in "
            f"{first.api_calls} calls (of which {first.wait_s:.1f} s waiting for the bucket or backing off), "
            f"downloads {first.download_s:.1f} s ({first.downloads}), uploads {first.upload_s:.1f} s ({first.uploads})",
            f"  beyond cutting {first.overhead_s:.1f} s ({pct(first.overhead_s)}): planning, store time not hidden "
            "behind a cut, the last batch, the database",
            f"  {first.uploads / first.wall_s if first.wall_s else 0:.2f} uploads/s, {first.throttled} throttled "
            "responses",
            f"rerun ({rerun.state}): {rerun.uploads} uploads, {rerun.counts.get('unchanged', 0)} unchanged, "
            f"{rerun.wall_s:.1f} s wall (store {rerun.store_s:.1f} s, {rerun.throttled} throttled)",
            *(self._campaign_line(phase) for phase in (self.campaign_apply, self.campaign_revert)),
            f"revert ({revert.state}): {revert.counts.get('reverted', 0)} put back, {revert.wall_s:.1f} s wall "
            f"(store {revert.store_s:.1f} s, {revert.wait_s:.1f} s of it waiting, {revert.uploads} uploads, "
            f"{revert.api_calls} API calls, {revert.throttled} throttled)",
            f"goal: the sync's time beyond cutting <= {self.GOAL:.0%} of the cut time; measured "
            f"{self.overhead_ratio:.1%} ({'met' if self.overhead_ratio <= self.GOAL else 'not met'}; time on the "
            f"store {first.store_s / first.cut_s if first.cut_s else 0:.1%} of the cut time, mostly overlapped)",
        ]

    @staticmethod
    def _campaign_line(phase: Phase) -> str:
        done = phase.counts.get("applied" if phase.name == "campaign apply" else "reverted", 0)
        return (f"{phase.name} ({phase.state}, {done} photos): {phase.wall_s:.1f} s wall = theme swaps "
                f"{phase.cut_s:.1f} s + the rest {phase.overhead_s:.1f} s (store {phase.store_s:.1f} s, "
                f"{phase.wait_s:.1f} s of it waiting; {phase.uploads} uploads, {phase.api_calls} API calls, "
                f"{phase.throttled} throttled)")

    def to_dict(self) -> dict[str, Any]:
        return {"products": self.products, "bucket": self.bucket, "restore_rate": self.restore_rate,
                "min_side": self.min_side, "max_side": self.max_side, "cpu": self.cpu,
                "overhead_ratio": self.overhead_ratio, "goal": self.GOAL,
                "first": self.first.to_dict(), "rerun": self.rerun.to_dict(),
                "campaign_apply": self.campaign_apply.to_dict(), "campaign_revert": self.campaign_revert.to_dict(),
                "revert": self.revert.to_dict()}


def cpu_model() -> str:
    """lscpu's "Model name" (then /proc/cpuinfo's, then the platform's guess)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                             env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines() + _cpuinfo_lines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "model name" and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def _cpuinfo_lines() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def measure_store_sync(products: int = 500, *, bucket: float = 1000.0, restore_rate: float = 50.0,
                       min_side: int = 800, max_side: int = 1200, seed: int = 0) -> StoreBench:
    """Sync every product of a fresh fake shop, rerun the sync, revert the first one; time each."""
    if products < 1 or not 16 <= min_side <= max_side:
        raise ValueError("products must be ≥ 1 and 16 ≤ min_side ≤ max_side")
    shop = bench_shop(products, bucket=bucket, restore_rate=restore_rate, min_side=min_side, max_side=max_side,
                      seed=seed)
    with tempfile.TemporaryDirectory(prefix="promptcut-store-bench-") as folder, shop:
        settings = Settings(data_dir=Path(folder), segmenter="classical", allow_http_urls=True,
                            url_allow_hosts=[shop.allow_host], store_api_allow_hosts=[shop.allow_host])
        database = open_database(settings.db_url)
        try:
            with database.session() as db:
                key_id = repo.create_key(db, "bench-store")[0].id
            box = SecretBox(derive_key(secrets.token_hex(16)), "bench-store")
            rules = StoreEndpointRules(tuple(settings.store_api_allow_hosts), settings.store_timeout, RetryPolicy())
            store = connect_store(database, box, key_id, shop.shop_name, shop.token, api_url=shop.api_url,
                                  rules=rules)
            services = local_services(settings, database, choose_segmenter("classical", settings.models).build())
            try:
                clock = StoreClock()
                context = timed_context(sync_context(services, box, rules), clock, database, box, rules)
                first_id = start_sync(database, key_id, store.id, SyncOptions(publish_all=True))
                first = _phase("first", shop, clock, lambda: run_sync(context, first_id))
                rerun_id = start_sync(database, key_id, store.id, SyncOptions(publish_all=True))
                rerun = _phase("rerun", shop, clock, lambda: run_sync(context, rerun_id))
                apply, unapply = _campaign_phases(services, context, clock, database, key_id, store.id, shop)
                revert = _phase("revert", shop, clock, lambda: revert_sync(context, first_id))
            finally:
                services.pool.shutdown(timeout=5)
        finally:
            database.close()
    return StoreBench(products, bucket, restore_rate, min_side, max_side, cpu_model(), first, rerun, apply, unapply,
                      revert)


CAMPAIGN_THEME = "winter-holidays"


def _campaign_phases(services, context: SyncContext, clock: StoreClock, database, key_id: str, store_id: str,
                     shop: FakeShopify) -> tuple[Phase, Phase]:
    """A campaign over every synced product: applied (each photo re-rendered from its stored layer with the
    theme and written back), then reverted (the evergreen photos back); the re-renders timed as "cut"."""
    start = datetime.now(timezone.utc)
    moment = [start]
    campaign_id = create_campaign(database, key_id, store_id, CampaignPlan(
        CAMPAIGN_THEME, start - timedelta(hours=1), start + timedelta(days=1))).id

    def rerender(artifacts: Mapping[str, str], render: Mapping[str, Any]) -> str:
        with clock.timing("cut"):
            return services.engine.rerender(artifacts, RenderRequest.from_dict(dict(render))).artifacts["output"]

    campaign = CampaignContext(context, rerender, lambda: moment[0])

    def worked() -> Any:
        work(campaign, campaign_id)
        return get_campaign(database, campaign_id)

    apply = _phase("campaign apply", shop, clock, worked)
    moment[0] = start + timedelta(days=2)
    return apply, _phase("campaign revert", shop, clock, worked)


def timed_context(context: SyncContext, clock: StoreClock, database, box: SecretBox,
                  rules: StoreEndpointRules) -> SyncContext:
    """The CLI's SyncContext with its store client, its fetches and its cuts timed on `clock`."""

    def factory(endpoint: str, token: str) -> ShopifyClient:
        return TimedClient(endpoint, token, clock=clock, timeout=rules.timeout, retry=rules.retry)

    return dataclasses.replace(
        context,
        open_client=lambda store_id, key_id: open_store_client(database, box, store_id, key_id, rules=rules,
                                                               client_factory=factory),
        fetch=clock.wrap("download", context.fetch),
        process=clock.wrap("cut", context.process),
    )


def _phase(name: str, shop: FakeShopify, clock: StoreClock, run: Callable[[], Any]) -> Phase:
    seconds_before, calls_before = clock.snapshot()
    throttled_before, posts_before = shop.throttled, shop.upload_posts
    start = time.perf_counter()
    summary = run()
    wall = time.perf_counter() - start
    seconds_after, calls_after = clock.snapshot()
    spent = {kind: seconds_after.get(kind, 0.0) - seconds_before.get(kind, 0.0) for kind in seconds_after}
    made = {kind: calls_after.get(kind, 0) - calls_before.get(kind, 0) for kind in calls_after}
    return Phase(name=name, state=summary.state, counts=dict(summary.counts), wall_s=wall,
                 cut_s=spent.get("cut", 0.0), api_s=spent.get("api", 0.0), wait_s=spent.get("wait", 0.0),
                 download_s=spent.get("download", 0.0), upload_s=spent.get("upload", 0.0),
                 api_calls=made.get("api", 0), downloads=made.get("download", 0), uploads=made.get("upload", 0),
                 shop_uploads=shop.upload_posts - posts_before, throttled=shop.throttled - throttled_before)
