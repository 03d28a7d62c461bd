"""The seller web page end to end: real headless Chromium (the system's, through Playwright for Python) driving
the real app (uvicorn on a loopback port, SQLite in tmp, classical segmenter).

Screenshots land in /tmp/promptcut-shots/ for a human to look at.
"""

from __future__ import annotations

import http.server
import os
import re
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
    refused: list[str] = []  # what the page's Content-Security-Policy blocked (Chromium says so on the console)
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not script_errors, f"uncaught errors in the page's script: {script_errors}"
    assert not refused, f"the page's Content-Security-Policy blocked: {refused}"


def shot(page: Page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


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

    # The classical backend cannot read text: no prompt box on the card, a plain sentence instead.
    mug = page.locator("#grid .card", has_text="white coffee mug")
    expect(mug.locator(".no-text-note")).to_contain_text("classical backend, which cannot read text")
    expect(mug.get_by_label("Prompt for white coffee mug")).to_be_hidden()
    expect(mug.get_by_role("button", name="Fix the cut of white coffee mug")).to_be_enabled()

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
    assert single.value.suggested_filename in names  # one result is named as it is in the zip
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


def test_a_file_that_is_not_a_photo_fails_on_its_own_card(page: Page, service: dict, photos: dict[str, Path],
                                                          tmp_path: Path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("this is not a photo\n")
    mug = tmp_path / "my mug (01).png"
    shutil.copy(photos["mug.png"], mug)
    enter_key(page, service["base"], service["key"])
    expect(page.locator("#key-status")).to_contain_text("accepted")
    page.get_by_label("Photos from this computer").set_input_files([str(notes), str(mug)])
    page.get_by_role("button", name="Create job").click()

    wait_for_job(page)
    bad = page.locator("#grid .card", has_text="notes")
    expect(bad).to_have_attribute("data-state", "failed")
    expect(bad.locator(".item-error")).to_contain_text("not an image")
    # The stored "original" is no picture: the frame says so instead of a broken-image icon and spilled alt text.
    expect(bad.locator(".frame").first).to_have_attribute("data-note", "not an image")
    expect(bad.locator("img.before")).not_to_have_attribute("src", re.compile("."))
    # Nothing to re-cut on a failed card: no dead prompt box.
    expect(bad.locator(".reprompt")).to_be_hidden()
    wait_images_loaded(page, "#grid .card[data-state='done'] img")
    bad.scroll_into_view_if_needed()
    shot(page, "14-not-a-photo", full_page=False)

    # The good one downloads under the name the zip gives it (which holds only the done item).
    with page.expect_download() as zipped:
        page.get_by_role("button", name="Download all (zip)").click()
    with zipfile.ZipFile(zipped.value.path()) as archive:
        assert archive.namelist() == ["1-my_mug_01.png"]
    with page.expect_download() as single:
        page.get_by_role("button", name="Download the result for my mug (01)").click()
    assert single.value.suggested_filename == "1-my_mug_01.png"


def test_an_error_is_shown_where_the_seller_is_looking(page: Page, service: dict, photos: dict[str, Path]) -> None:
    """The job panel is far below the page's message line: an error from a job action must still be seen."""
    upload_and_wait(page, service, photos["mug.png"])
    page.locator("#grid .card").first.scroll_into_view_if_needed()
    message = page.locator("#message")
    expect(message).not_to_be_in_viewport()
    page.get_by_label("Switch theme for the whole job").fill("winter holidays")
    page.get_by_role("button", name="Apply theme").click()
    expect(message).to_contain_text("winter holidays")
    expect(message).to_be_in_viewport()
    shot(page, "15-error-in-view", full_page=False)


# ---------------------------------------------------------------- the fix view (clicks, undo, the prompt)


def item_json(service: dict, item_id: str) -> dict:
    import httpx

    response = httpx.get(f"{service['base']}/v1/items/{item_id}", headers={"X-Api-Key": service["key"]})
    response.raise_for_status()
    return response.json()


def upload_and_wait(page: Page, service: dict, photo: Path) -> None:
    enter_key(page, service["base"], service["key"])
    expect(page.locator("#key-status")).to_contain_text("accepted")
    page.get_by_label("Photos from this computer").set_input_files(str(photo))
    page.get_by_role("button", name="Create job").click()
    wait_for_job(page)
    expect(page.locator("#grid .card[data-state='done']")).to_have_count(1)
    wait_images_loaded(page, "#grid img")


def photo_centre(page: Page) -> tuple[float, float]:
    box = page.locator("#fix-original").bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def version_of(page: Page) -> int:
    return int(page.locator("#fix-view").get_attribute("data-version") or "0")


def test_click_positions_map_to_photo_pixels(browser: Browser, service: dict) -> None:
    """The page's own conversion (window.promptcut), on a real scaled <img> at a device pixel ratio of 2."""
    context = browser.new_context(viewport={"width": 800, "height": 600}, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(service["base"] + "/")
        result = page.evaluate(
            """async () => {
                const canvas = document.createElement("canvas");
                canvas.width = 400;
                canvas.height = 200;
                canvas.getContext("2d").fillRect(0, 0, 400, 200);
                const img = new Image();
                img.src = canvas.toDataURL();
                await img.decode();
                img.style.cssText = "position:fixed;left:37px;top:51px;width:300px;height:300px;object-fit:contain";
                document.body.append(img);
                const rect = img.getBoundingClientRect();
                const natural = [img.naturalWidth, img.naturalHeight];
                const { toPhotoPoint, toDisplayPoint } = window.promptcut;
                const fit = getComputedStyle(img).objectFit;
                const at = (x, y, photo) => toPhotoPoint(rect.left + x, rect.top + y, rect, natural, photo, fit);
                return {
                    dpr: window.devicePixelRatio,
                    centre: at(150, 150),
                    topLeft: at(0, 75),
                    bottomRight: at(300, 225),
                    letterbox: at(150, 10),
                    bigger: at(150, 150, [800, 400]),
                    quarter: at(75, 112.5, [800, 400]),
                    back: toDisplayPoint(200, 100, rect, natural, natural, fit),
                    fill: toPhotoPoint(rect.left + 30, rect.top + 30, rect, natural, natural, "fill"),
                    cover: toPhotoPoint(rect.left + 150, rect.top + 150, rect, natural, natural, "cover"),
                };
            }"""
        )
    finally:
        context.close()
    assert result["dpr"] == 2
    assert result["centre"] == {"x": 200, "y": 100}  # the displayed centre is the photo's centre
    assert result["topLeft"] == {"x": 0, "y": 0}  # the picture starts below the 75 px letterbox bar
    assert result["bottomRight"] == {"x": 400, "y": 200}
    assert result["letterbox"] is None  # a click on the empty bar is no point on the photo
    assert result["bigger"] == {"x": 400, "y": 200}  # photo_size larger than the decoded image
    assert result["quarter"] == {"x": 200, "y": 100}
    assert result["back"] == {"left": 150, "top": 150}
    assert result["fill"] == pytest.approx({"x": 40, "y": 20})
    assert result["cover"] == {"x": 200, "y": 100}


def test_fix_view_clicks_undo_and_start_over(page: Page, service: dict, photos: dict[str, Path]) -> None:
    from PIL import Image

    with Image.open(photos["mug.png"]) as image:
        width, height = image.size
    upload_and_wait(page, service, photos["mug.png"])
    card = page.locator("#grid .card").first
    item_id = card.get_attribute("data-item-id")
    old_src = card.locator("img.after").get_attribute("src")
    corrections: list[dict] = []
    reprompts: list[str] = []
    page.on("request", lambda request: corrections.append(request.post_data_json)
            if request.url.endswith("/corrections") else None)
    page.on("request", lambda request: reprompts.append(request.url) if "/reprompt" in request.url else None)

    # Opened from the grid with the keyboard.
    card.get_by_role("button", name="Fix the cut of mug").focus()
    page.keyboard.press("Enter")
    view = page.locator("#fix-view")
    expect(view).to_be_visible()
    expect(page.locator("#fix-heading")).to_contain_text("mug")
    wait_images_loaded(page, "#fix-view img")
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()
    expect(page.get_by_role("button", name="Start over")).to_be_disabled()
    expect(view.locator(".dot")).to_have_count(0)
    first_version = version_of(page)
    shot(page, "09-fix-view", full_page=False)  # the modal view as the seller sees it

    # The classical backend cannot read text: said in plain words, and typing a prompt re-cuts nothing.
    note = page.locator("#fix-prompt-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("cut by the classical backend, which cannot read text")
    expect(note).to_contain_text("click on the photo")
    expect(page.get_by_role("button", name="Re-cut with this prompt")).to_be_disabled()
    page.get_by_label("Prompt (what to keep, in words)").fill("the mug, not the saucer")
    page.get_by_label("Prompt (what to keep, in words)").press("Enter")
    expect(page.locator("#fix-error")).to_contain_text("cannot read text")
    assert reprompts == []
    assert version_of(page) == first_version

    # "Remove" and a click at the displayed centre, on the kept mug: one step, at the photo's centre.
    page.get_by_label("Remove that part").check()
    x, y = photo_centre(page)
    page.mouse.click(x, y)
    expect(view).to_have_attribute("data-version", str(first_version + 1))
    assert len(corrections) == 1
    (point,) = corrections[0]["points"]
    assert point["keep"] is False
    assert point["x"] == pytest.approx(width / 2, abs=1) and point["y"] == pytest.approx(height / 2, abs=1)
    assert corrections[0]["box"] is None
    expect(view.locator(".dot.remove:not(.pending)")).to_have_count(1)
    expect(card).to_have_attribute("data-version", str(first_version + 1))
    expect(card.locator("img.after")).not_to_have_attribute("src", old_src or "")
    wait_images_loaded(page, "#grid img.after")
    expect(page.locator("#fix-status")).to_contain_text(f"version {first_version + 1}")
    expect(page.get_by_role("button", name="Undo")).to_be_enabled()
    stored = item_json(service, item_id)
    assert stored["version"] == first_version + 1
    assert stored["metadata"]["corrections"]["points"][0]["keep"] is False
    shot(page, "10-fix-removed", full_page=False)  # the modal view as the seller sees it

    # Undo: the step is dropped, as a new version.
    page.get_by_role("button", name="Undo").click()
    expect(view).to_have_attribute("data-version", str(first_version + 2))
    assert corrections[-1] == {"undo": True}
    expect(view.locator(".dot")).to_have_count(0)
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()
    expect(card).to_have_attribute("data-version", str(first_version + 2))
    assert not (item_json(service, item_id)["metadata"].get("corrections") or {}).get("points")

    # The keyboard: Keep mode, move the cross left, Enter; then Start over.
    page.get_by_label("Keep that part").check()
    page.locator("#fix-photo").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#fix-cursor")).to_be_visible()
    page.keyboard.press("Enter")
    expect(view).to_have_attribute("data-version", str(first_version + 3))
    (point,) = corrections[-1]["points"]
    assert point["keep"] is True
    assert point["x"] == pytest.approx(width / 2 - 0.02 * max(width, height), abs=1)
    expect(view.locator(".dot.keep")).to_have_count(1)
    page.get_by_role("button", name="Start over").click()
    expect(view).to_have_attribute("data-version", str(first_version + 4))
    assert corrections[-1] == {"clear": True}
    expect(view.locator(".dot")).to_have_count(0)

    # Closing returns to the grid, focus back on the card's button.
    page.keyboard.press("Escape")
    expect(view).to_be_hidden()
    expect(card.get_by_role("button", name="Fix the cut of mug")).to_be_focused()
    assert reprompts == []


def test_fix_view_busy_and_errors(page: Page, service: dict, photos: dict[str, Path]) -> None:
    upload_and_wait(page, service, photos["rocket.png"])
    card = page.locator("#grid .card").first
    card.get_by_role("button", name="Fix the cut of rocket").click()
    view = page.locator("#fix-view")
    wait_images_loaded(page, "#fix-view img")
    first_version = version_of(page)

    # While a step is on its way: inputs off, progress said, a second click sends nothing.
    held = []
    page.route("**/v1/items/*/corrections", lambda route: held.append(route))
    x, y = photo_centre(page)
    page.mouse.click(x, y)
    expect(view).to_have_attribute("aria-busy", "true")
    expect(page.locator("#fix-status")).to_contain_text("Keeping that part")
    expect(view.locator(".dot.pending")).to_have_count(1)
    expect(page.get_by_label("Remove that part")).to_be_disabled()
    page.mouse.click(x + 5, y + 5, button="right")
    page.mouse.click(x - 5, y - 5)
    page.wait_for_timeout(300)
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/v1/items/*/corrections")
    expect(view).to_have_attribute("data-version", str(first_version + 1))
    expect(view).to_have_attribute("aria-busy", "false")
    expect(view.locator(".dot.keep")).to_have_count(1)

    # The server's error message in plain words; the page stays usable.
    page.route("**/v1/items/*/corrections", lambda route: route.fulfill(
        status=409, content_type="application/json",
        body='{"error": {"code": "conflict", "message": "the item changed meanwhile; reopen it"}}'))
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#fix-error")).to_contain_text("The item changed meanwhile; reopen it")
    expect(page.get_by_role("button", name="Undo")).to_be_enabled()
    expect(view).to_have_attribute("data-version", str(first_version + 1))
    page.unroute("**/v1/items/*/corrections")
    shot(page, "11-fix-error", full_page=False)  # the modal view as the seller sees it

    # A phone-width window: the fix view fits without sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.getElementById('fix-view').scrollWidth") <= 390
    shot(page, "12-fix-phone", full_page=False)  # the modal view as the seller sees it
    page.locator("#fix-prompt").scroll_into_view_if_needed()
    shot(page, "13-fix-phone-prompt", full_page=False)


def test_a_backend_that_reads_text_keeps_the_prompt_box(page: Page, service: dict, photos: dict[str, Path]) -> None:
    """Where the text-prompted backend cut the photo, the prompt goes to it (here the job JSON is edited on its
    way to the page to say so; the classical test server answers the reprompt itself)."""
    import json

    def reads_text(route) -> None:
        response = route.fetch()
        job = response.json()
        for item in job.get("items") or []:
            item["metadata"] = {**item["metadata"], "backend": "neural", "prompts_read": True}
        route.fulfill(response=response, body=json.dumps(job))

    page.route("**/v1/jobs/*", lambda route: reads_text(route) if route.request.method == "GET" else route.continue_())
    upload_and_wait(page, service, photos["mug.png"])
    card = page.locator("#grid .card").first
    expect(card.locator(".no-text-note")).to_be_hidden()
    card.get_by_role("button", name="Fix the cut of mug").click()
    expect(page.locator("#fix-prompt-note")).to_be_hidden()
    reprompt = page.get_by_role("button", name="Re-cut with this prompt")
    expect(reprompt).to_be_enabled()
    first_version = version_of(page)
    page.get_by_label("Prompt (what to keep, in words)").fill("the mug, not the saucer")
    with page.expect_request("**/reprompt") as sent:
        reprompt.click()
    assert sent.value.post_data_json == {"prompt": "the mug, not the saucer"}
    expect(page.locator("#fix-view")).to_have_attribute("data-version", str(first_version + 1))
    expect(card).to_have_attribute("data-version", str(first_version + 1))
    item = item_json(service, card.get_attribute("data-item-id") or "")
    assert item["prompt"] == "the mug, not the saucer"
