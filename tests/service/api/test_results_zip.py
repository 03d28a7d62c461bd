"""results.zip is built once per set of results and shared by its downloads (not a temp file per request), a
changed job gets a new one in place of the old, and builds are bounded (429 `busy` beyond)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from service.api import results_zip
from tests.service.api.test_api import Api, api, assert_error, image_host, photos, wait_job  # noqa: F401


def job_zips(api: Api, job_id: str) -> list[Path]:  # noqa: F811
    return sorted((Path(api.app.state.settings.data_dir) / "zips").glob(f"{job_id}-*.zip"))


def test_one_zip_per_set_of_results_shared_by_downloads_and_bounded_builds(api: Api) -> None:  # noqa: F811
    with api.client() as client:
        urls = [{"image_url": f"{api.image_base}/{name}.jpg"} for name in ("coffee-cup", "rocket")]
        job = client.post("/v1/jobs", json={"items": urls})
        job_id = job.json()["id"]
        wait_job(client, job_id)
        first, again = client.get(f"/v1/jobs/{job_id}/results.zip"), client.get(f"/v1/jobs/{job_id}/results.zip")
        assert first.status_code == again.status_code == 200 and first.content == again.content
        built = job_zips(api, job_id)
        assert len(built) == 1 and oct(built[0].stat().st_mode & 0o777) == "0o600"
        with zipfile.ZipFile(io.BytesIO(first.content)) as archive:
            assert len(archive.namelist()) == 2

        assert client.post(f"/v1/jobs/{job_id}/theme", json={"theme": "spring"}).status_code == 200
        swapped = client.get(f"/v1/jobs/{job_id}/results.zip")
        assert swapped.status_code == 200 and swapped.content != first.content
        assert len(job_zips(api, job_id)) == 1 and job_zips(api, job_id) != built  # the new one replaced it

        held = [results_zip._BUILDS.acquire(blocking=False) for _ in range(results_zip.MAX_BUILDS)]
        try:
            assert all(held)
            assert client.post(f"/v1/jobs/{job_id}/theme", json={"theme": "original"}).status_code == 200
            busy = client.get(f"/v1/jobs/{job_id}/results.zip")  # new results: a build, but none is free
            assert_error(busy, 429, "busy")
            assert int(busy.headers["retry-after"]) >= 1
        finally:
            for _ in held:
                results_zip._BUILDS.release()
        assert client.get(f"/v1/jobs/{job_id}/results.zip").status_code == 200
