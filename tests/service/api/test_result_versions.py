"""A result link names one picture: `GET /v1/items/{id}/result?v=N` serves what version N showed (cacheable for
good), the bare URL follows the item, and a version the item never had is 404 — never the newest image under a
cache-forever header."""

from __future__ import annotations

import time

from tests.service.api.test_api import Api, api, assert_error, image_host, photos, wait_job  # noqa: F401


def test_each_version_keeps_its_own_result_and_unknown_versions_are_404(api: Api) -> None:  # noqa: F811
    with api.client() as client:
        job = client.post("/v1/jobs", json={"items": [{"image_url": f"{api.image_base}/coffee-cup.jpg"}]})
        item = wait_job(client, job.json()["id"])["items"][0]
        assert item["version"] == 1 and item["result_url"].endswith("?v=1")
        first = client.get(item["result_url"])
        swapped = client.post(f"/v1/jobs/{job.json()['id']}/theme", json={"theme": "spring"})
        assert swapped.status_code == 200, swapped.text
        item = swapped.json()["items"][0]
        assert item["version"] == 2

        old = client.get(f"/v1/items/{item['id']}/result?v=1")
        new = client.get(f"/v1/items/{item['id']}/result?v=2")
        bare = client.get(f"/v1/items/{item['id']}/result")
        assert old.status_code == new.status_code == bare.status_code == 200
        assert old.content == first.content and new.content != first.content and bare.content == new.content
        assert old.headers["x-promptcut-version"] == "1" and new.headers["x-promptcut-version"] == "2"
        assert "immutable" in old.headers["cache-control"] and "immutable" in new.headers["cache-control"]
        assert bare.headers["cache-control"] == "private, no-cache"
        for never in ("0", "3", "99", "-1"):
            response = client.get(f"/v1/items/{item['id']}/result?v={never}")
            assert_error(response, 404, "not_found")
            assert "immutable" not in response.headers.get("cache-control", "")


def test_a_reprompt_and_a_correction_answer_with_server_timing(api: Api, photos: dict[str, bytes]) -> None:  # noqa: F811
    from tests.service.api.test_api import cutout, inmost, mask_pixels

    with api.client() as client:
        first = cutout(client, photos["coffee-cup"], title="cup", format="mask")
        item_id = first.headers["x-promptcut-item"]
        reprompted = client.post(f"/v1/items/{item_id}/reprompt", json={"prompt": "the cup"})
        x, y = inmost(mask_pixels(first.content) > 127)
        corrected = client.post(f"/v1/items/{item_id}/corrections", json={"points": [{"x": x, "y": y, "keep": False}]})
    for answer in (reprompted, corrected):
        assert answer.status_code == 200, answer.text
        timing = answer.headers.get("server-timing", "")
        assert "total;dur=" in timing and len(timing.split(",")) >= 2, timing  # stages and the whole fix


def test_a_failed_job_webhook_keeps_why_naming_the_host_only(api: Api) -> None:  # noqa: F811
    with api.client() as client:
        job = client.post("/v1/jobs", json={"items": [{"image_url": f"{api.image_base}/coffee-cup.jpg"}],
                                            "callback_url": f"{api.image_base}/secret-path/broken-hook"})
        assert job.status_code == 202, job.text
        wait_job(client, job.json()["id"])
        for _ in range(100):  # the webhook is sent after the job finished
            body = client.get(f"/v1/jobs/{job.json()['id']}").json()
            if body["webhook_state"] in ("sent", "failed"):
                break
            time.sleep(0.1)
    assert body["webhook_state"] == "failed" and body["webhook_error"] == "127.0.0.1 answered HTTP 500", body
    assert "secret-path" not in body["webhook_error"]


def test_the_seller_page_allows_only_its_own_script(api: Api) -> None:  # noqa: F811
    with api.client(key=None) as client:
        page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert page.status_code == 200 and "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy


def test_the_page_under_static_carries_the_same_policy(api: Api) -> None:  # noqa: F811
    """/static/index.html is the seller page too: without the policy there, the policy on / protects nothing."""
    with api.client(key=None) as client:
        page, script = client.get("/static/index.html"), client.get("/static/app.js")
        root = client.get("/")
    assert page.status_code == 200 and script.status_code == 200
    assert page.headers["content-security-policy"] == root.headers["content-security-policy"]
    assert script.headers["content-security-policy"] == root.headers["content-security-policy"]
