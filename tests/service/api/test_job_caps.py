"""The unfinished-jobs cap holds under a burst: the check and the insert are one step, so 16 parallel job
creations of one key give exactly the cap's worth of 202s and 429 `too_many_jobs` for the rest."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from service.api.app import create_app
from service.settings import Settings
from tests.service.api.test_api import WAIT_SECONDS, GatedSegmenter, ServerThread, make_keys, small_photo

CAP = 4
BURST = 16


def test_a_burst_of_job_creations_never_passes_the_cap(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, segmenter="classical", workers=1, queue_size=2,
                        max_concurrent_jobs_per_key=CAP)
    keys, _ = make_keys(settings, ("a",))
    segmenter = GatedSegmenter()  # nothing finishes while the burst is on
    photo = small_photo("coffee-cup.jpg")
    answers: list[int] = []
    start = threading.Barrier(BURST)

    with ServerThread(create_app(settings, segmenter=segmenter)) as server:
        def post() -> None:
            with httpx.Client(base_url=server.url, headers={"X-Api-Key": keys["a"]}, timeout=WAIT_SECONDS) as client:
                start.wait(WAIT_SECONDS)
                answers.append(client.post("/v1/jobs", files=[("image_file", ("a.jpg", photo, "image/jpeg"))])
                               .status_code)

        threads = [threading.Thread(target=post) for _ in range(BURST)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_SECONDS)
        segmenter.gate.set()
    assert sorted(answers) == [202] * CAP + [429] * (BURST - CAP), answers
