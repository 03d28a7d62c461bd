"""Persistence on a real SQLite file and a real PostgreSQL server: migrations, keys, the work queue's guarantees
(one claim wins, a stale worker cannot overwrite, restarts recover) and key isolation."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import inspect, text

from fusion.errors import InvalidOptionError, PromptcutError
from service.db import Database, DatabaseError, open_database, repo
from service.db.repo import ArtifactRef, NewItem
from service.db.schema import Base, utcnow
from service.settings import Settings
from tests.helpers import temporary_postgres_database

RENDER = {"format": "png", "theme": None}


def _digest(text_: str) -> str:
    return hashlib.sha256(text_.encode()).hexdigest()


# --- PostgreSQL: one fresh database per test session, one fresh schema per test -----------------------------


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind: a new SQLite file, or a new schema in the session's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'promptcut.db'}"
        return
    import psycopg

    base = request.getfixturevalue("postgres_database_url")
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(base.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{base}?options=-csearch_path%3D{schema}"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    opened = open_database(database_url)
    yield opened
    opened.close()


@pytest.fixture
def key_id(database: Database) -> str:
    with database.session() as db:
        row, _ = repo.create_key(db, "shop-a")
    return row.id


def _job(database: Database, key_id: str, count: int = 2, **kwargs) -> tuple[str, list[str]]:
    items = [NewItem(ref=f"sku-{i}", title=f"item {i}") for i in range(count)]
    with database.session() as db:
        job = repo.create_job(db, key_id, items, RENDER, **kwargs)
        return job.id, [item.id for item in repo.job_items(db, job.id)]


def _claim(database: Database, item_id: str, worker: str) -> bool:
    with database.session() as db:
        return repo.claim_item(db, item_id, worker)


def _race(count: int, action: Callable[[int], object]) -> list[object]:
    """Run `action(i)` in `count` threads released together; return their results in order."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = action(index)
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


# --- migrations and connection -------------------------------------------------------------------------------


def test_migrations_create_the_schema_from_empty_and_match_the_models(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    first = open_database(database_url)
    try:
        with first.engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert {"api_keys", "jobs", "items", "artifacts", "alembic_version"} <= tables
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"
            # The models and the migrations describe the same schema (a model change needs a migration).
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                    Base.metadata)
            assert diff == []
        with first.session() as db:
            repo.create_key(db, "kept")
    finally:
        first.close()
    # Opening again is a no-op upgrade that keeps the data.
    again = open_database(database_url)
    try:
        with again.session() as db:
            assert [row.store for row in repo.list_keys(db)] == ["kept"]
    finally:
        again.close()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'new-dir' / 'p.db'}")  # the directory is created
    try:
        with database.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert database.ping()
    finally:
        database.close()


def test_a_schema_newer_than_the_code_is_refused_with_one_line(database_url: str) -> None:
    open_database(database_url).close()
    database = open_database(database_url, migrate=False)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    database.close()
    with pytest.raises(DatabaseError) as raised:
        open_database(database_url)
    assert "upgrade promptcut" in str(raised.value) and "\n" not in str(raised.value)


def test_unreachable_or_invalid_databases_raise_one_line_errors_without_the_password() -> None:
    with pytest.raises(DatabaseError) as raised:
        open_database("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/none")
    message = str(raised.value)
    assert "hunter2" not in message and "\n" not in message and "127.0.0.1:1" in message
    assert isinstance(raised.value, PromptcutError)
    with pytest.raises(DatabaseError, match="invalid database URL"):
        open_database("not a url")


# --- API keys ----------------------------------------------------------------------------------------------


def test_keys_are_stored_hashed_and_found_only_while_active(database: Database) -> None:
    with database.session() as db:
        row, plain = repo.create_key(db, "  Corner Shop ")
    assert row.store == "Corner Shop" and len(row.id) == 26
    assert row.prefix == plain[:8] and row.key_hash == hashlib.sha256(plain.encode()).hexdigest()
    with database.engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM api_keys")).one()
        assert plain not in [str(value) for value in stored]

    with database.session() as db:
        assert repo.find_key(db, plain).id == row.id
        assert repo.find_key(db, plain + "x") is None
        assert repo.find_key(db, plain[:8] + "A" * (len(plain) - 8)) is None  # same prefix, wrong key
        assert repo.find_key(db, "") is None
        assert repo.revoke_key(db, row.id) is True
    with database.session() as db:
        assert repo.find_key(db, plain) is None
        first_revocation = repo.list_keys(db)[0].revoked_at
        assert first_revocation is not None
        assert repo.revoke_key(db, row.id) is True  # idempotent
        assert repo.list_keys(db)[0].revoked_at == first_revocation
        assert repo.revoke_key(db, "no-such-key") is False


@pytest.mark.parametrize("store", ["", "   ", "two\nlines", "x" * 201])
def test_store_names_are_validated(database: Database, store: str) -> None:
    with database.session() as db, pytest.raises(InvalidOptionError):
        repo.create_key(db, store)


def test_a_key_sees_only_its_own_jobs_and_items(database: Database) -> None:
    with database.session() as db:
        key_a = repo.create_key(db, "a")[0].id
        key_b = repo.create_key(db, "b")[0].id
    job_a, items_a = _job(database, key_a)
    job_b, _ = _job(database, key_b, count=1)
    with database.session() as db:
        single = repo.create_item(db, key_a, NewItem(ref="one"), RENDER).id
    with database.session() as db:
        assert repo.get_job(db, key_a, job_a).id == job_a
        assert repo.get_job(db, key_b, job_a) is None
        assert repo.get_item(db, key_a, items_a[0]).id == items_a[0]
        assert repo.get_item(db, key_b, items_a[0]) is None
        assert repo.get_item(db, key_b, single) is None
        assert repo.get_job(db, key_a, "does-not-exist") is None
        assert [job.id for job in repo.list_jobs(db, key_a)] == [job_a]
        assert [job.id for job in repo.list_jobs(db, key_b)] == [job_b]
        assert repo.count_active_jobs(db, key_a) == 1 and repo.count_active_jobs(db, key_b) == 1


# --- jobs, items and artifacts --------------------------------------------------------------------------------


def test_a_job_is_created_queued_with_ordered_items_and_their_originals(database: Database, key_id: str) -> None:
    upload = ArtifactRef(_digest("upload"), 123, "image/jpeg")
    items = [NewItem(ref="a", title="Red mug", original=upload),
             NewItem(ref="b", prompt="the lamp", source_url="https://cdn.example/b.jpg")]
    with database.session() as db:
        job = repo.create_job(db, key_id, items, RENDER, callback_url="https://hooks.example/done")
    with database.session() as db:
        job = repo.get_job(db, key_id, job.id)
        assert job.state == "queued" and job.render == RENDER and job.original_render == RENDER
        assert job.callback_url == "https://hooks.example/done" and job.webhook_state is None
        rows = repo.job_items(db, job.id)
        assert [(r.position, r.ref, r.title, r.prompt, r.source_url) for r in rows] == [
            (0, "a", "Red mug", "", None), (1, "b", "", "the lamp", "https://cdn.example/b.jpg")]
        assert all(r.state == "queued" and r.version == 0 and r.render == RENDER and r.meta == {} for r in rows)
        original = repo.current_artifact(db, rows[0].id, "original")
        assert (original.digest, original.size, original.content_type) == (upload.digest, 123, "image/jpeg")
        assert repo.current_artifacts(db, rows[1].id) == {}
        assert repo.job_counts(db, job.id) == {"queued": 2, "running": 0, "done": 0, "failed": 0}
        assert job.created_at.tzinfo is not None and job.created_at.utcoffset() == timedelta(0)
        assert abs(utcnow() - job.created_at) < timedelta(minutes=5)
    with database.session() as db, pytest.raises(InvalidOptionError):
        repo.create_job(db, key_id, [], RENDER)


def next_queued_items(db, limit: int) -> list[str]:
    return [queued.item_id for queued in repo.queued_turns(db, limit)]


def test_queued_items_come_oldest_first(database: Database, key_id: str) -> None:
    _, first = _job(database, key_id, count=3)
    _, second = _job(database, key_id, count=2)
    with database.session() as db:
        assert next_queued_items(db, 10) == first + second
        assert next_queued_items(db, 2) == first[:2]
    assert _claim(database, first[0], "w")
    with database.session() as db:
        assert next_queued_items(db, 10) == first[1:] + second


def test_queued_items_take_the_stores_in_turn(database: Database, key_id: str) -> None:
    """A big job from one store does not starve a later, small job from another store."""
    _, big = _job(database, key_id, count=4)
    with database.session() as db:
        other_key, _ = repo.create_key(db, "other store")
        other_key_id = other_key.id
    _, small = _job(database, other_key_id, count=2)
    with database.session() as db:
        assert next_queued_items(db, 10) == [big[0], small[0], big[1], small[1], big[2], big[3]]
        assert next_queued_items(db, 2) == [big[0], small[0]]


def test_a_store_with_nothing_running_gets_the_next_free_slot(database: Database, key_id: str) -> None:
    """Store A's items fill the workers; store B's job arrives later: B's item is next, not A's older ones."""
    _, big = _job(database, key_id, count=5)
    assert _claim(database, big[0], "w1") and _claim(database, big[1], "w2")
    with database.session() as db:
        other_key, _ = repo.create_key(db, "other store")
        other_key_id = other_key.id
    _, small = _job(database, other_key_id, count=2)
    with database.session() as db:
        assert next_queued_items(db, 1) == [small[0]]
        # B then also catches up to A's two running items before A's third starts
        assert next_queued_items(db, 10) == [small[0], small[1], big[2], big[3], big[4]]
    assert _claim(database, small[0], "w3")
    with database.session() as db:
        assert next_queued_items(db, 1) == [small[1]]


def test_only_one_of_many_concurrent_claims_wins(database: Database, key_id: str) -> None:
    _, items = _job(database, key_id, count=3)
    for item_id in items:
        results = _race(6, lambda i, item_id=item_id: _claim(database, item_id, f"worker-{i}"))
        assert results.count(True) == 1
        with database.session() as db:
            row = repo.load_item(db, item_id)
            assert row.state == "running" and row.attempts == 1
            assert row.claimed_by == f"worker-{results.index(True)}"
    assert not _claim(database, items[0], "late-worker")


def test_a_stale_worker_cannot_overwrite_the_new_claim(database: Database, key_id: str) -> None:
    job_id, (item_id, _) = _job(database, key_id)
    assert _claim(database, item_id, "old")
    with database.session() as db:  # the lease ran out: "old" is presumed dead
        assert repo.requeue_stale(db, utcnow() + timedelta(seconds=1)) == 1
    assert _claim(database, item_id, "new")
    old_result = {"output": _digest("old output")}
    with database.session() as db:
        assert repo.finish_item(db, item_id, "old", old_result, {"by": "old"}, RENDER) is False
        assert repo.fail_item(db, item_id, "old", "boom", "old worker failed") is False
    with database.session() as db:
        assert repo.finish_item(db, item_id, "new", {"output": _digest("new output")}, {"by": "new"},
                                {**RENDER, "format": "webp"}) is True
        assert repo.finish_item(db, item_id, "new", old_result, {}, RENDER) is False  # finished: no longer claimed
    with database.session() as db:
        row = repo.load_item(db, item_id)
        assert (row.state, row.version, row.meta, row.attempts, row.claimed_by) == ("done", 1, {"by": "new"}, 2, None)
        assert row.render["format"] == "webp"
        assert repo.current_artifacts(db, item_id) == {"output": _digest("new output")}
        assert repo.get_job(db, key_id, job_id).state == "running"  # one item still queued


def test_job_state_follows_its_items(database: Database, key_id: str) -> None:
    job_id, (first, second) = _job(database, key_id)

    def state() -> str:
        with database.session() as db:
            return repo.get_job(db, key_id, job_id).state

    assert state() == "queued"
    assert _claim(database, first, "w1")
    assert state() == "running"
    with database.session() as db:
        assert repo.fail_item(db, first, "w1", "invalid_image", "not an image:\n  truncated")
    assert state() == "running"
    assert _claim(database, second, "w2")
    with database.session() as db:
        assert repo.finish_item(db, second, "w2", {"output": _digest("x")}, {}, RENDER)
    assert state() == "done"  # done when all finished; failed only if every item failed
    with database.session() as db:
        failed = repo.load_item(db, first)
        assert (failed.state, failed.error_code, failed.error_message) == ("failed", "invalid_image",
                                                                          "not an image: truncated")
        assert repo.count_active_jobs(db, key_id) == 0
        assert repo.job_counts(db, job_id) == {"queued": 0, "running": 0, "done": 1, "failed": 1}

    all_failed, (only,) = _job(database, key_id, count=1)
    assert _claim(database, only, "w")
    with database.session() as db:
        assert repo.fail_item(db, only, "w", "invalid_image", "bad")
        assert repo.get_job(db, key_id, all_failed).state == "failed"


def test_two_workers_finishing_the_last_items_together_complete_the_job(database: Database, key_id: str) -> None:
    for _ in range(3):
        job_id, items = _job(database, key_id)
        for index, item_id in enumerate(items):
            assert _claim(database, item_id, f"w{index}")

        def finish(index: int, items=items) -> bool:
            with database.session() as db:
                return repo.finish_item(db, items[index], f"w{index}", {"output": _digest(str(index))}, {}, RENDER)

        assert _race(2, finish) == [True, True]
        with database.session() as db:
            assert repo.get_job(db, key_id, job_id).state == "done"


def test_recover_on_start_requeues_running_items_after_a_restart(database_url: str) -> None:
    first = open_database(database_url)
    with first.session() as db:
        key = repo.create_key(db, "s")[0].id
    job_id, (a, b) = _job(first, key)
    _, (c,) = _job(first, key, count=1)
    assert _claim(first, a, "host1:1:0") and _claim(first, b, "host1:1:1")
    with first.session() as db:
        assert repo.finish_item(db, b, "host1:1:1", {"output": _digest("b")}, {}, RENDER)
    first.close()  # the "server" dies with item a running

    restarted = open_database(database_url)
    try:
        with restarted.session() as db:
            assert repo.recover_on_start(db) == 1
        with restarted.session() as db:
            rows = {row.id: row for row in repo.job_items(db, job_id)}
            assert (rows[a].state, rows[a].claimed_by, rows[a].attempts) == ("queued", None, 1)
            assert rows[b].state == "done" and rows[b].version == 1  # nothing finished is lost
            assert repo.load_item(db, c).state == "queued"
            assert repo.recover_on_start(db) == 0
        assert _claim(restarted, a, "host1:2:0")  # claimable again
    finally:
        restarted.close()


def test_recovery_gives_up_on_an_item_that_keeps_dying_and_respects_other_servers(database: Database,
                                                                                 key_id: str) -> None:
    job_id, (poison, other) = _job(database, key_id)
    for attempt in range(repo.MAX_ATTEMPTS):
        assert _claim(database, poison, f"a:{attempt}")
        with database.session() as db:
            expected = 1 if attempt < repo.MAX_ATTEMPTS - 1 else 0
            assert repo.recover_on_start(db, claimed_by_prefix="a:") == expected
    assert _claim(database, other, "bz:1")
    with database.session() as db:
        row = repo.load_item(db, poison)
        assert (row.state, row.error_code, row.attempts) == ("failed", "abandoned", repo.MAX_ATTEMPTS)
        # Another server's running item is left alone ("%" and "_" are not wildcards in the prefix).
        assert repo.recover_on_start(db, claimed_by_prefix="b%") == 0
        assert repo.recover_on_start(db, claimed_by_prefix="b_") == 0
        assert repo.load_item(db, other).state == "running"
        assert repo.recover_on_start(db, claimed_by_prefix="bz:") == 1
        assert repo.get_job(db, key_id, job_id).state == "running"


def test_requeue_stale_takes_back_only_expired_claims(database: Database, key_id: str) -> None:
    _, (old, fresh) = _job(database, key_id)
    assert _claim(database, old, "w1")
    cutoff = utcnow() + timedelta(milliseconds=1)
    with database.session() as db:  # make the second claim strictly newer than the cutoff
        assert repo.claim_item(db, fresh, "w2")
        db.flush()
        db.execute(text("UPDATE items SET claimed_at = :t WHERE id = :id"),
                   {"t": (cutoff + timedelta(minutes=5)).replace(tzinfo=None) if database.dialect == "sqlite"
                    else cutoff + timedelta(minutes=5), "id": fresh})
    with database.session() as db:
        assert repo.requeue_stale(db, cutoff) == 1
        assert repo.load_item(db, old).state == "queued"
        assert repo.load_item(db, fresh).state == "running"


def test_new_results_bump_the_version_and_the_newest_artifact_is_current(database: Database, key_id: str) -> None:
    _, (item_id, _) = _job(database, key_id)
    with database.session() as db:  # not done yet: nothing to re-render
        assert repo.record_result(db, item_id, {"output": _digest("x")}, {}, RENDER) is False
    assert _claim(database, item_id, "w")
    first = {"evidence": _digest("ev"), "layer": _digest("layer1"),
             "output": ArtifactRef(_digest("out1"), 10, "image/png")}
    with database.session() as db:
        assert repo.finish_item(db, item_id, "w", first, {"confidence": 0.9}, RENDER)
    with database.session() as db:
        assert repo.record_result(db, item_id, {"layer": _digest("layer2"), "output": _digest("out2")},
                                  {"confidence": 0.95}, {**RENDER, "theme": "winter"}, prompt="the red mug")
    with database.session() as db:
        row = repo.load_item(db, item_id)
        assert (row.version, row.prompt, row.title, row.meta) == (2, "the red mug", "item 0", {"confidence": 0.95})
        assert row.render["theme"] == "winter"
        assert repo.current_artifacts(db, item_id) == {
            "evidence": _digest("ev"), "layer": _digest("layer2"), "output": _digest("out2")}
        assert repo.current_artifact(db, item_id, "output").size is None
        with pytest.raises(ValueError):
            repo.add_artifact(db, item_id, "output", "../../etc/passwd")


def test_a_result_computed_from_an_older_version_is_not_recorded(database: Database, key_id: str) -> None:
    """A correction and a theme swap racing on one item: the one that read version 1 and lands second is
    refused (nothing written), instead of overwriting the other's result."""
    _, (item_id, _) = _job(database, key_id)
    assert _claim(database, item_id, "w")
    with database.session() as db:
        assert repo.finish_item(db, item_id, "w", {"output": _digest("out1")}, {"n": 1}, RENDER)
    with database.session() as db:  # the first of two changes made from version 1 lands
        assert repo.record_result(db, item_id, {"output": _digest("swap")}, {"n": 2}, RENDER, expected_version=1)
    with database.session() as db:  # the second, also made from version 1, is refused
        assert repo.record_result(db, item_id, {"output": _digest("fix")}, {"n": 3}, RENDER,
                                  expected_version=1) is False
    with database.session() as db:
        row = repo.load_item(db, item_id)
        assert (row.version, row.meta) == (2, {"n": 2})
        assert repo.current_artifacts(db, item_id) == {"output": _digest("swap")}
        assert repo.record_result(db, item_id, {"output": _digest("fix")}, {"n": 3}, RENDER, expected_version=2)


def test_a_theme_swap_changes_the_job_render_but_keeps_the_original(database: Database, key_id: str) -> None:
    job_id, _ = _job(database, key_id)
    with database.session() as db:
        repo.set_job_render(db, job_id, {**RENDER, "theme": "winter"})
    with database.session() as db:
        job = repo.get_job(db, key_id, job_id)
        assert job.render["theme"] == "winter" and job.original_render == RENDER


def test_a_finished_jobs_webhook_is_claimed_once(database: Database, key_id: str) -> None:
    job_id, (item_id,) = _job(database, key_id, count=1, callback_url="https://hooks.example/x")
    with database.session() as db:
        assert repo.claim_webhook(db, job_id) is False  # not finished yet
        assert repo.jobs_awaiting_webhook(db) == []
    assert _claim(database, item_id, "w")
    with database.session() as db:
        assert repo.finish_item(db, item_id, "w", {}, {}, RENDER)
    with database.session() as db:
        assert repo.jobs_awaiting_webhook(db) == [job_id]

    def claim(_: int) -> bool:
        with database.session() as db:
            return repo.claim_webhook(db, job_id)

    assert sorted(_race(4, claim)) == [False, False, False, True]
    with database.session() as db:  # the sender died mid-way: a restart makes it due again
        assert repo.recover_on_start(db) == 0
        assert repo.jobs_awaiting_webhook(db) == [job_id]
        assert repo.claim_webhook(db, job_id)
        repo.set_webhook_state(db, job_id, delivered=True)
    with database.session() as db:
        assert repo.get_job(db, key_id, job_id).webhook_state == "sent"
        assert repo.jobs_awaiting_webhook(db) == []


def test_items_by_state_counts_every_key(database: Database, key_id: str) -> None:
    _, (a, _) = _job(database, key_id)
    assert _claim(database, a, "w")
    with database.session() as db:
        assert repo.count_items_by_state(db) == {"queued": 1, "running": 1, "done": 0, "failed": 0}


def test_a_synchronous_cutout_item_starts_claimed(database: Database, key_id: str) -> None:
    with database.session() as db:
        item = repo.create_item(db, key_id, NewItem(ref="photo.jpg", title="Mug"), RENDER, claimed_by="api:1")
    assert item.job_id is None and item.state == "running" and item.attempts == 1
    assert not _claim(database, item.id, "worker")
    with database.session() as db:
        assert repo.finish_item(db, item.id, "api:1", {"output": _digest("o")}, {}, RENDER)
        assert repo.load_item(db, item.id).state == "done"


# --- settings ----------------------------------------------------------------------------------------------


def test_settings_defaults_environment_and_database_url(monkeypatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("PROMPTCUT_"):
            monkeypatch.delenv(name)
    defaults = Settings()
    assert defaults.data_dir == Path.home() / ".local/share/promptcut"
    assert defaults.models == Path.home() / ".cache/promptcut/models"
    assert (defaults.workers, defaults.queue_size, defaults.lease_seconds, defaults.url_allow_hosts) == (2, 8, 600, [])

    monkeypatch.setenv("PROMPTCUT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PROMPTCUT_URL_ALLOW_HOSTS", "cdn.internal, 127.0.0.1:9000")
    monkeypatch.setenv("PROMPTCUT_ALLOW_HTTP_URLS", "true")
    monkeypatch.setenv("PROMPTCUT_MODELS", "~/models")
    settings = Settings()
    assert settings.db_url == f"sqlite:///{tmp_path}/promptcut.db"
    assert settings.artifacts_dir == tmp_path / "artifacts"
    assert settings.url_allow_hosts == ["cdn.internal", "127.0.0.1:9000"] and settings.allow_http_urls
    assert settings.models == Path.home() / "models"
    monkeypatch.setenv("PROMPTCUT_URL_ALLOW_HOSTS", '["a.example"]')
    assert Settings().url_allow_hosts == ["a.example"]
    assert Settings(database_url="postgresql+psycopg://h/db").db_url == "postgresql+psycopg://h/db"
    with pytest.raises(ValidationError):
        settings.workers = 3  # frozen
    with pytest.raises(ValueError):
        Settings(segmenter="magic")


def test_ids_never_start_with_a_dash_so_a_command_line_reads_them_as_arguments() -> None:
    from service.db.schema import _ID_ALPHABET, ID_LENGTH, new_id

    ids = [new_id() for _ in range(20_000)]  # a leading "-" had a 1-in-64 chance per id before: ~300 here
    assert [i for i in ids if i.startswith("-")] == []
    assert {len(i) for i in ids} == {ID_LENGTH} and len(set(ids)) == len(ids)
    # Same alphabet: the rest still uses all 64 characters, and the first every letter and digit (not fewer).
    assert set("".join(i[1:] for i in ids)) == set(_ID_ALPHABET)
    assert {i[0] for i in ids} == {ch for ch in _ID_ALPHABET if ch.isalnum()}


@pytest.mark.postgres
def test_a_locked_key_holds_a_second_transaction_until_the_first_ends(postgres_database_url: str) -> None:
    """What makes the unfinished-jobs cap hold across servers: the check and the insert happen under the key's
    row lock, so another server's creation for the same key waits for them."""
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_database_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    opened = open_database(f"{postgres_database_url}?options=-csearch_path%3D{schema}")
    try:
        with opened.session() as db:
            key = repo.create_key(db, "shop-a")[0].id
        events: list[str] = []
        first_holds = threading.Event()

        def second() -> None:
            first_holds.wait(10)
            with opened.session() as db:
                repo.lock_key(db, key)
                events.append("second locked")

        other = threading.Thread(target=second)
        other.start()
        with opened.session() as db:
            repo.lock_key(db, key)
            first_holds.set()
            time.sleep(0.5)  # the second transaction is blocked on the row meanwhile
            events.append("first done")
        other.join(10)
        assert events == ["first done", "second locked"]
    finally:
        opened.close()


def test_revoking_a_key_stops_its_queued_items_and_its_unsent_webhooks(database: Database, key_id: str) -> None:
    job_id, item_ids = _job(database, key_id, count=3, callback_url="https://hooks.example.com/x")
    with database.session() as db:
        other = repo.create_key(db, "shop-b")[0].id
    other_job, other_items = _job(database, other, count=1, callback_url="https://hooks.example.com/y")
    with database.session() as db:
        assert repo.claim_item(db, item_ids[0], "host:1:worker")  # being cut when the key is revoked
    with database.session() as db:
        assert repo.revoke_key(db, key_id)
    with database.session() as db:
        items = {item.id: item for item in repo.job_items(db, job_id)}
        assert items[item_ids[0]].state == "running"  # its cut finishes
        assert [items[i].error_code for i in item_ids[1:]] == [repo.KEY_REVOKED] * 2
        assert all(items[i].state == "failed" and "revoked" in items[i].error_message for i in item_ids[1:])
        job = db.get(repo.Job, job_id)
        assert job.webhook_state == "failed" and "revoked" in job.webhook_error
        assert next_queued_items(db, 10) == other_items  # another store's work goes on
        assert db.get(repo.Job, other_job).webhook_state is None
    with database.session() as db:
        repo.finish_item(db, item_ids[0], "host:1:worker", {}, {}, RENDER)
    with database.session() as db:
        assert db.get(repo.Job, job_id).state == "done"
        assert not repo.claim_webhook(db, job_id)  # never sent for a revoked key
