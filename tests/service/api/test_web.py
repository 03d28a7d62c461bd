"""The seller web page end to end: real headless Chromium (the system's, through Playwright for Python) driving
the real app (uvicorn on a loopback port, SQLite in tmp, classical segmenter).

Screenshots land in /tmp/promptcut-shots/ for a human to look at.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers import SAMPLES, require_modules

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is not installed (CI=true requires it)", pytrace=False)
    pytest.skip("chromium is not installed", allow_module_level=True)
require_modules("playwright", "fastapi", "uvicorn")

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

SHOTS = Path("/tmp/promptcut-shots")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
JOB_TIMEOUT_MS = 90_000
PHOTOS = {"mug.png": ("coffee-cup.jpg", "white coffee mug"), "rocket.png": ("rocket.jpg", "toy rocket")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def small_photo(source: Path, target: Path, side: int = 256) -> Path:
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        image.thumbnail((side, side))
        image.save(target)
    return target


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    return {name: small_photo(SAMPLES / source, folder / name) for name, (source, _title) in PHOTOS.items()}


@pytest.fixture(scope="module")
def image_host(photos) -> Iterator[str]:
    """A plain http server on loopback standing in for a seller's image CDN (for the pasted-URL path)."""
    folder = next(iter(photos.values())).parent

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def service(tmp_path_factory, image_host) -> Iterator[dict]:
    """The real app on a free loopback port, plus a valid API key made with the repository functions."""
    import uvicorn

    from service.api.app import create_app
    from service.db.connection import open_database
    from service.db.repo import create_key
    from service.settings import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        workers=1,
        segmenter="classical",
        allow_http_urls=True,
        url_allow_hosts=[image_host],
    )
    database = open_database(settings.db_url)
    with database.session() as session:
        _key, plain_key = create_key(session, "test-store")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start", pytrace=False)
        time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "key": plain_key}
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    yield page
    context.close()
    assert not script_errors, f"uncaught errors in the page's script: {script_errors}"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def enter_key(page: Page, base: str, key: str) -> None:
    page.goto(base + "/")
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Save key").click()


def wait_for_job(page: Page) -> None:
    page.wait_for_selector("#job-panel:is([data-state='done'], [data-state='failed'])", timeout=JOB_TIMEOUT_MS)


def wait_images_loaded(page: Page, selector: str) -> None:
    """Every matching <img> shows decoded image data from an object URL."""
    try:
        page.wait_for_function(
            """selector => {
                const images = [...document.querySelectorAll(selector)];
                return images.length > 0 && images.every(
                    (img) => img.complete && img.naturalWidth > 0 && img.src.startsWith("blob:"));
            }""",
            arg=selector,
        )
    except PlaywrightTimeout:
        state = page.evaluate(
            """selector => [...document.querySelectorAll(selector)].map((img) => ({
                cls: img.className, src: img.src, width: img.naturalWidth, note: img.parentElement.dataset.note,
                problem: img.title}))""",
            selector,
        )
        shot(page, "failed-wait")
        pytest.fail(f"images not loaded for {selector}: {state}; message: {page.locator('#message').inner_text()}")


def picture_signature(page: Page, selector: str) -> list[list[int]]:
    """A 6×6 RGB thumbnail of each matching image, read back through a canvas (object URLs are same-origin)."""
    return page.evaluate(
        """selector => [...document.querySelectorAll(selector)].map((img) => {
            const canvas = document.createElement("canvas");
            canvas.width = canvas.height = 6;
            const context = canvas.getContext("2d");
            context.drawImage(img, 0, 0, 6, 6);
            return [...context.getImageData(0, 0, 6, 6).data];
        })""",
        selector,
    )


def job_json(service: dict, job_id: str) -> dict:
    import httpx

    response = httpx.get(f"{service['base']}/v1/jobs/{job_id}", headers={"X-Api-Key": service["key"]})
    response.raise_for_status()
    return response.json()


def test_seller_uploads_fixes_rethemes_and_downloads(page: Page, service: dict, photos: dict[str, Path]) -> None:
    enter_key(page, service["base"], service["key"])
    expect(page.locator("#key-status")).to_contain_text("accepted")

    page.get_by_label("Photos from this computer").set_input_files([str(path) for path in photos.values()])
    for name, (_source, title) in PHOTOS.items():
        page.get_by_label(f"Title for {name}").fill(title)
    page.get_by_label("Theme", exact=True).fill("studio-white")
    page.get_by_label("Output format").select_option("png")
    shot(page, "01-new-job")
    page.get_by_role("button", name="Create job").click()

    wait_for_job(page)
    cards = page.locator("#grid .card")
    expect(cards).to_have_count(2)
    expect(page.locator("#grid .card[data-state='done']")).to_have_count(2)
    wait_images_loaded(page, "#grid img.before")
    wait_images_loaded(page, "#grid img.after")
    for _name, (_source, title) in PHOTOS.items():
        expect(page.get_by_role("img", name=f"Original photo: {title}")).to_be_visible()
        expect(page.get_by_role("img", name=f"Result: {title}")).to_be_visible()
    expect(page.locator("#progress-text")).to_contain_text("2 of 2 done")
    job_id = page.locator("#job-id").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scrolling
    shot(page, "02-job-done")

    # Retype one item's prompt: a new version of that result replaces the old picture.
    mug = page.locator("#grid .card", has_text="white coffee mug")
    old_version = mug.get_attribute("data-version")
    old_src = mug.locator("img.after").get_attribute("src")
    mug.get_by_label("Prompt for white coffee mug").fill("the mug, not the saucer")
    mug.get_by_role("button", name="Re-cut white coffee mug with this prompt").click()
    expect(mug).not_to_have_attribute("data-version", old_version or "")
    expect(mug.locator("img.after")).not_to_have_attribute("src", old_src or "")
    wait_images_loaded(page, "#grid img.after")
    assert int(mug.get_attribute("data-version")) > int(old_version)
    mug_item = next(item for item in job_json(service, job_id)["items"] if item["title"] == "white coffee mug")
    assert mug_item["prompt"] == "the mug, not the saucer"
    assert str(mug_item["version"]) == mug.get_attribute("data-version")

    # Switch the whole job's theme: every result picture changes to the new backdrop.
    before_theme = picture_signature(page, "#grid img.after")
    old_srcs = [img.get_attribute("src") for img in page.locator("#grid img.after").all()]
    page.get_by_label("Switch theme for the whole job").fill("halloween")
    page.get_by_role("button", name="Apply theme").click()
    expect(page.locator("#message")).to_contain_text("halloween")
    for img, old in zip(page.locator("#grid img.after").all(), old_srcs, strict=True):
        expect(img).not_to_have_attribute("src", old or "")
    wait_images_loaded(page, "#grid img.after")
    after_theme = picture_signature(page, "#grid img.after")
    assert all(old != new for old, new in zip(before_theme, after_theme, strict=True))
    assert job_json(service, job_id)["render"]["theme"] == "halloween"
    shot(page, "03-halloween")

    page.get_by_role("button", name="Back to original").click()
    expect(page.locator("#message")).to_contain_text("original")
    wait_images_loaded(page, "#grid img.after")
    assert job_json(service, job_id)["render"]["theme"] == "studio-white"

    # Downloads: the whole job as a zip, and one result.
    with page.expect_download() as zipped:
        page.get_by_role("button", name="Download all (zip)").click()
    with zipfile.ZipFile(zipped.value.path()) as archive:
        names = archive.namelist()
        assert len(names) == 2
        assert all(name.endswith(".png") for name in names)
        assert all(archive.read(name).startswith(b"\x89PNG") for name in names)
    with page.expect_download() as single:
        mug.get_by_role("button", name="Download the result for white coffee mug").click()
    assert single.value.suggested_filename.endswith(".png")
    assert Path(single.value.path()).read_bytes().startswith(b"\x89PNG")
    expect(page.locator("#message.error")).to_be_hidden()

    # A reload keeps the key and reopens the last job.
    page.reload()
    expect(page.locator("#job-id")).to_have_text(job_id)
    expect(page.get_by_label("Switch theme for the whole job")).to_have_value("studio-white")
    expect(page.locator("#grid .card[data-state='done']")).to_have_count(2)
    wait_images_loaded(page, "#grid img")

    # A phone-width window: everything fits without sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "04-phone")


def test_pasted_urls_show_results_and_item_errors(page: Page, service: dict, image_host: str) -> None:
    enter_key(page, service["base"], service["key"])
    expect(page.locator("#key-status")).to_contain_text("accepted")
    page.get_by_label("image URLs").fill(
        f"http://{image_host}/mug.png, mug from the CDN\nhttp://{image_host}/missing.png, a missing photo\n"
    )
    page.get_by_label("Output format").select_option("webp")
    page.get_by_role("button", name="Create job").click()

    wait_for_job(page)
    expect(page.locator("#grid .card")).to_have_count(2)
    good = page.locator("#grid .card", has_text="mug from the CDN")
    bad = page.locator("#grid .card", has_text="a missing photo")
    expect(good).to_have_attribute("data-state", "done")
    expect(bad).to_have_attribute("data-state", "failed")
    wait_images_loaded(page, "#grid .card[data-state='done'] img")
    expect(bad.locator(".item-error")).to_be_visible()
    expect(bad.locator(".item-error")).to_contain_text("missing.png")
    expect(bad.locator(".frame").first).to_have_attribute("data-note", "not available")  # never downloaded
    expect(page.locator("#progress-text")).to_contain_text("1 failed")
    shot(page, "05-pasted-urls")


def test_one_job_mixes_an_upload_and_a_pasted_url(page: Page, service: dict, image_host: str,
                                                  photos: dict[str, Path]) -> None:
    enter_key(page, service["base"], service["key"])
    expect(page.locator("#key-status")).to_contain_text("accepted")
    page.get_by_label("Photos from this computer").set_input_files(str(photos["mug.png"]))
    page.get_by_label("image URLs").fill(f"http://{image_host}/mug.png, mug from the CDN\n")
    page.get_by_role("button", name="Create job").click()

    wait_for_job(page)
    expect(page.locator("#grid .card")).to_have_count(2)
    expect(page.locator("#grid .card[data-state='done']")).to_have_count(2)
    expect(page.locator("#grid .card", has_text="mug from the CDN")).to_have_count(1)
    wait_images_loaded(page, "#grid .card[data-state='done'] img")


def test_cuts_that_need_review_are_badged_explained_and_listed_first(page: Page, service: dict,
                                                                   photos: dict[str, Path], tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (200, 240, 3), dtype=np.uint8)).save(noise)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (240, 200), "white").save(blank)
    enter_key(page, service["base"], service["key"])
    expect(page.locator("#key-status")).to_contain_text("accepted")
    page.get_by_label("Photos from this computer").set_input_files(
        [str(photos["mug.png"]), str(photos["rocket.png"]), str(noise), str(blank)])
    page.get_by_role("button", name="Create job").click()

    wait_for_job(page)
    cards = page.locator("#grid .card")
    expect(cards).to_have_count(4)
    # the flagged ones first, in job order; then the good cut; then the failed blank photo (no_product)
    expect(cards.locator(".item-title")).to_have_text(["rocket", "noise", "mug", "blank"])
    for index in (0, 1):
        expect(cards.nth(index).locator(".review-badge")).to_be_visible()
        expect(cards.nth(index).locator(".review-badge")).to_have_text("Needs review")
        expect(cards.nth(index).locator(".review-note")).to_contain_text("Check this cut")
    expect(cards.nth(0).locator(".review-note")).to_contain_text("outline")
    expect(cards.nth(1).locator(".review-note")).to_contain_text("no distinct object")
    expect(cards.nth(2).locator(".review-badge")).to_be_hidden()
    expect(cards.nth(2).locator(".review-note")).to_be_hidden()
    expect(cards.nth(3)).to_have_attribute("data-state", "failed")
    expect(cards.nth(3).locator(".item-error")).to_contain_text("no_product")
    expect(cards.nth(3).locator(".review-badge")).to_be_hidden()
    expect(page.locator("#progress-text")).to_contain_text("2 need review")
    wait_images_loaded(page, "#grid .card[data-state='done'] img")
    shot(page, "08-needs-review")


def test_wrong_key_and_bad_options_show_clear_messages(page: Page, service: dict, photos: dict[str, Path]) -> None:
    enter_key(page, service["base"], "pc_this-is-not-a-key")
    message = page.locator("#message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("API key was not accepted")
    expect(page.locator("#key-status")).to_contain_text("did not accept")
    page.get_by_label("Photos from this computer").set_input_files(str(photos["mug.png"]))
    page.get_by_role("button", name="Create job").click()
    expect(message).to_contain_text("unauthorized")
    shot(page, "06-wrong-key")

    page.get_by_label("API key", exact=True).fill(service["key"])
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#key-status")).to_contain_text("accepted")
    page.get_by_label("image URLs").fill("not a url, a title")
    page.get_by_role("button", name="Create job").click()
    expect(message).to_contain_text("Line 1")
    page.get_by_label("image URLs").fill("")
    page.get_by_label("Theme", exact=True).fill("no-such-theme")
    page.get_by_role("button", name="Create job").click()
    expect(message).to_contain_text("no-such-theme")
    shot(page, "07-bad-theme")
