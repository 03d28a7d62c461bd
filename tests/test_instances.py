"""Several servers on one database: a named instance takes back only its own interrupted items on start."""

from __future__ import annotations

import pytest

from service.api.metrics import Metrics
from service.api.services import start_services
from service.db import open_database, repo
from service.db.repo import NewItem
from service.settings import Settings
from fusion.segmenters import get_segmenter


def _interrupted_items(settings: Settings) -> tuple[str, str]:
    """Two running items of one job: one claimed by web-1's previous run, one by the live server web-2."""
    database = open_database(settings.db_url)
    with database.session() as db:
        key, _ = repo.create_key(db, "shop")
        job = repo.create_job(db, key.id, [NewItem(ref="a"), NewItem(ref="b")], render={}, callback_url=None)
        ours, theirs = (item.id for item in repo.job_items(db, job.id))
        assert repo.claim_item(db, ours, "web-1/old-host:1:abc:worker-0")
        assert repo.claim_item(db, theirs, "web-2/other-host:2:def:worker-0")
    database.close()
    return ours, theirs


def test_a_named_instance_recovers_only_its_own_items(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, instance_name="web-1", workers=1, segmenter="classical")
    ours, theirs = _interrupted_items(settings)
    services = start_services(settings, Metrics(), segmenter=get_segmenter("classical"))
    try:
        assert services.worker_name().startswith("web-1/")
        with services.database.session() as db:
            mine, other = repo.load_item(db, ours), repo.load_item(db, theirs)
            assert mine.claimed_by != "web-1/old-host:1:abc:worker-0"  # taken back (re-queued, maybe re-run)
            assert (other.state, other.claimed_by) == ("running", "web-2/other-host:2:def:worker-0")
    finally:
        services.stop()


def test_an_unnamed_server_recovers_every_interrupted_item(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, workers=1, segmenter="classical")
    ours, theirs = _interrupted_items(settings)
    services = start_services(settings, Metrics(), segmenter=get_segmenter("classical"))
    try:
        with services.database.session() as db:
            claims = {repo.load_item(db, item).claimed_by for item in (ours, theirs)}
        assert not claims & {"web-1/old-host:1:abc:worker-0", "web-2/other-host:2:def:worker-0"}
    finally:
        services.stop()


@pytest.mark.parametrize("name", ["has space", "slash/inside", "x" * 65])
def test_instance_names_are_checked(tmp_path, name) -> None:
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, instance_name=name)
