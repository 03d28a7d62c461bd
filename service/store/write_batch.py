"""Writing several products' photos back at once: the per-product guarantees of a single write-back, at a
fraction of the store's cost points.

A mutation costs 10 points whether it carries one product or 25, and a store's bucket refills at 50-100 points a
second, so the calls that take lists take the whole batch: one stagedUploadsCreate, one metafieldsSet (up to 25
owners), one fileDelete. What is per product stays per product: the multipart upload, productUpdate with the
media (its answer also carries the product's media order and marks, so nothing is read apart), variant links and
the reorder. Each product still follows add → mark → link → place → delete, and nothing of the store's is
removed before ours is in place: a step the store refuses for one product takes ours off that product again
and fails it alone. When a batched call is refused, it is redone product by product, so the refusal is pinned
on the product it concerns. A STOPPING error (token revoked, store unreachable) propagates: the sync stops.

Two rows of one product never share a batch (the second must see the first's marks and order).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from service.db.schema import SyncItem
from service.store import writeback
from service.store.marker import MediaMark, file_name, is_our_url, look_hash
from service.store.writeback import METAFIELDS_PER_CALL, ProductWriteError

log = logging.getLogger("promptcut.store.write_batch")

BATCH_SIZE = METAFIELDS_PER_CALL
T = TypeVar("T")
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class WriteTask:
    """One photo to put in place of `row`'s image."""

    row: SyncItem
    data: bytes


@dataclass
class _Written:
    """A product part-way through its write-back: ours attached, what was there before, what ours replaces."""

    task: WriteTask
    new_media: str
    order: list[str]
    marks_before: dict[str, MediaMark]
    marks_after: dict[str, MediaMark]
    doomed: list[str]


Outcome = str | ProductWriteError  # our new media id, or why this product keeps what it had


def write_batch(client: writeback.ShopifyClient, sync_id: str, tasks: Sequence[WriteTask], render: dict,
                policy: str) -> list[Outcome]:
    """Put each task's photo in place of its row's image; one outcome per task, in order."""
    if len({task.row.product_id for task in tasks}) != len(tasks) or len(tasks) > BATCH_SIZE:
        raise ValueError(f"a batch holds at most {BATCH_SIZE} rows, of different products")
    outcomes: dict[int, Outcome] = {}
    extension = "jpg" if render["format"] == "jpeg" else render["format"]
    look, mime = look_hash(render), MIME[render["format"]]
    names = [file_name(look, task.row.source_digest or "", extension) for task in tasks]

    targets = _each_or_all(
        range(len(tasks)), outcomes,
        lambda indices: writeback.stage_uploads(client, [(names[i], mime, len(tasks[i].data)) for i in indices]))
    written: dict[int, _Written] = {}
    for index, target in targets.items():
        row = tasks[index].row
        try:
            source = writeback.post_staged(client, target, tasks[index].data, names[index], mime)
            added = writeback.add_media_reading_marks(client, row.product_id, source, row.alt)
        except ProductWriteError as exc:
            outcomes[index] = exc
            continue
        written[index] = _with_marks(sync_id, tasks[index], look, added, policy)

    _each_or_all(list(written), outcomes, lambda indices: writeback.write_marks_of(
        client, {written[i].task.row.product_id: written[i].marks_after for i in indices}))
    _drop_failed(client, written, outcomes)

    for index, item in list(written.items()):
        try:
            _link_and_place(client, item)
        except ProductWriteError as exc:
            outcomes[index] = exc
    _drop_failed(client, written, outcomes, marks_written=True)

    _each_or_all([i for i in written if written[i].doomed], outcomes, lambda indices: writeback.delete_gone_ok(
        client, [media_id for i in indices for media_id in written[i].doomed]))
    _drop_failed(client, written, outcomes, marks_written=True)

    for index, item in written.items():
        outcomes[index] = item.new_media
    return [outcomes[index] for index in range(len(tasks))]


def _with_marks(sync_id: str, task: WriteTask, look: str, added: writeback.AddedMedia, policy: str) -> _Written:
    row, new_media, order, marks = task.row, added.media_id, added.order, added.marks
    doomed = [row.replaces_ours] if row.replaces_ours in order else []
    if policy == "replace" and row.media_id in order:
        doomed.append(row.media_id)
    doomed += leftovers(added, row.source_digest or "")
    mark = MediaMark(new_media, row.source_digest or "", look, row.media_id, sync_id)
    kept = {media_id: m for media_id, m in marks.items() if media_id not in doomed and media_id in order}
    return _Written(task, new_media, order, marks, {**kept, new_media: mark}, doomed)


def leftovers(added: writeback.AddedMedia, source: str) -> list[str]:
    """Photos of ours from the same original that no mark records: left by a write-back the store stopped
    between attaching ours and marking it (a revoked token, an outage). They go with this write-back instead of
    staying beside it as duplicates."""
    made_from = f"-{source[:16]}."
    return [media_id for media_id, url in added.urls.items()
            if media_id != added.media_id and media_id not in added.marks and source and is_our_url(url)
            and made_from in urlsplit(url).path.rsplit("/", 1)[-1]]


def _link_and_place(client: writeback.ShopifyClient, item: _Written) -> None:
    row, order = item.task.row, item.order
    writeback.link_variants(client, row.product_id, item.new_media, row.variant_ids)
    in_place_of = row.replaces_ours if row.replaces_ours in order else row.media_id
    if in_place_of in order and writeback.move_needed(order, item.new_media, order.index(in_place_of), item.doomed):
        writeback.move_media(client, row.product_id, item.new_media, order.index(in_place_of))


def _each_or_all(indices: Sequence[int] | range, outcomes: dict[int, Outcome],
                    call: Callable[[list[int]], T]) -> dict[int, T]:
    """Run `call` on all indices at once; when the store refuses the batch, on each index alone, recording the
    refusal of each index that fails by itself in `outcomes`. Returns the result for each index that went
    through: a list result is split by position, anything else repeated."""
    indices = list(indices)
    if not indices:
        return {}
    try:
        return _spread(indices, call(indices))
    except ProductWriteError as exc:
        if len(indices) == 1:
            outcomes[indices[0]] = exc
            return {}
        log.info("a batched store call was refused (%s); redoing it product by product", exc)
    results: dict[int, T] = {}
    for index in indices:
        try:
            results.update(_spread([index], call([index])))
        except ProductWriteError as exc:
            outcomes[index] = exc
    return results


def _spread(indices: list[int], result: Any) -> dict[int, Any]:
    if isinstance(result, list):
        return dict(zip(indices, result, strict=True))
    return {index: result for index in indices}


def _drop_failed(client: writeback.ShopifyClient, written: dict[int, _Written], outcomes: dict[int, Outcome],
                 *, marks_written: bool = False) -> None:
    """Products that failed a step get ours taken off again (and, once marks were written, their old marks
    back); they leave the batch."""
    for index in [i for i in written if i in outcomes]:
        item = written.pop(index)
        try:
            writeback.delete_media(client, [item.new_media])
            if marks_written:
                writeback.write_marks(client, item.task.row.product_id, item.marks_before)
        except ProductWriteError as exc:
            log.warning("%s: could not take our photo %s off again: %s", item.task.row.product_id, item.new_media,
                        exc)
