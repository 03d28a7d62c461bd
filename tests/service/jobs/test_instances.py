"""Several servers on one database: a named instance takes back only its own interrupted items on start."""

from __future__ import annotations

import pytest

from fusion.segmenters import get_segmenter
from service.db import open_database, repo
from service.db.repo import NewItem
from service.jobs.startup import start_services
from service.prometheus import Metrics
from service.settings import Settings


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


def _photo_bytes(seed: int) -> bytes:
    """A 96×96 JPEG: a coloured block on a light backdrop."""
    import io

    import numpy as np
    from PIL import Image

    image = np.full((96, 96, 3), 235, np.uint8)
    image[24:80, 30:66] = (40 + 20 * seed, 90, 160)
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.mark.postgres
def test_two_servers_share_one_postgresql_and_do_each_item_once(tmp_path) -> None:
    """Scaled out: two named servers on one PostgreSQL database and one artifact folder drain a job together;
    every item is claimed once (attempts == 1) and has exactly one output."""
    import time

    from service.db.repo import ArtifactRef
    from service.engine.blobstore import ArtifactStore
    from tests.helpers import temporary_postgres_database

    with temporary_postgres_database() as url:
        shared = dict(data_dir=tmp_path, database_url=url, workers=1, segmenter="classical")
        first = Settings(instance_name="web-1", **shared)
        database = open_database(url)
        store = ArtifactStore(first.artifacts_dir)
        with database.session() as db:
            key, _ = repo.create_key(db, "shop")
            originals = [store.put(_photo_bytes(i)) for i in range(6)]
            new_items = [NewItem(ref=f"sku-{i}", original=ArtifactRef(d, None, "image/jpeg"))
                         for i, d in enumerate(originals)]
            job_id = repo.create_job(db, key.id, new_items, render={}, callback_url=None).id
        servers = [start_services(settings, Metrics(), segmenter=get_segmenter("classical"))
                   for settings in (first, Settings(instance_name="web-2", **shared))]
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with database.session() as db:
                    if repo.refresh_job_state(db, job_id).state in ("done", "failed"):
                        break
                time.sleep(0.1)
            with database.session() as db:
                items = repo.job_items(db, job_id)
                states = {item.ref: (item.state, item.attempts) for item in items}
                outputs = {item.ref: sum(1 for a in item_artifacts(db, item.id) if a.kind == "output")
                           for item in items}
        finally:
            for server in servers:
                server.stop()
            database.close()
    assert states == {f"sku-{i}": ("done", 1) for i in range(6)}
    assert outputs == {f"sku-{i}": 1 for i in range(6)}


def item_artifacts(db, item_id: str):
    from sqlalchemy import select

    from service.db.schema import Artifact

    return db.scalars(select(Artifact).where(Artifact.item_id == item_id)).all()


@pytest.mark.neural
def test_the_neural_backend_gets_threads_and_precision_from_settings(tiny_model_dir, tmp_path) -> None:
    from service.jobs.startup import build_segmenter
    from tests.helpers import require_modules

    require_modules("torch", "transformers")
    settings = Settings(data_dir=tmp_path, models=tiny_model_dir, segmenter="neural", torch_threads=1,
                        precision="fp32")
    segmenter, notice = build_segmenter(settings)
    assert (segmenter.name, segmenter.threads, segmenter.precision, segmenter.loaded) == ("neural", 1, "fp32", True)
    assert notice is None
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, precision="fp8")


def test_serve_on_a_taken_port_is_one_line(tmp_path) -> None:
    import socket

    from tests.helpers import run_cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--data-dir", str(tmp_path), "--segmenter", "classical")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and f"127.0.0.1:{port}" in result.stderr
    assert "already in use" in result.stderr and "Traceback" not in result.stderr
