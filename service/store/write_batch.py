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

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from service.db.schema import SyncItem
from service.store import writeback
from service.store.marker import MediaMark, file_name, is_our_url, look_hash
from service.store.writeback import METAFIELDS_PER_CALL, ProductWriteError

log = logging.getLogger("promptcut.store.write_batch")

BATCH_SIZE = METAFIELDS_PER_CALL
READY_POLLING = writeback.ReadyPolling()
T = TypeVar("T")
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class WriteTask:
    """One photo to put on a product in place of one of its media.

    `in_place_of`: the media whose position the photo takes (the first of them still there); `doomed`: media deleted
    once the photo is in place (those still there); `mark`: the photo is ours, recorded under this mark (its
    media_id filled in once known) — None when it is the store's own photo coming back, whose marks `forget`
    then drops; `variant_ids`: the variants to show it, or None to carry over the links `in_place_of` has when
    the photo goes in; `source`: the original's sha256, to recognise an unmarked photo of ours made from it."""

    product_id: str
    data: bytes
    filename: str
    mime_type: str
    alt: str
    in_place_of: tuple[str, ...]
    doomed: tuple[str, ...]
    mark: MediaMark | None
    variant_ids: tuple[str, ...] | None = ()
    forget: tuple[str, ...] = ()
    source: str = ""


def ours_task(row: SyncItem, data: bytes, render: dict, policy: str, sync_id: str) -> WriteTask:
    """Our photo (`render`'s look) in place of `row`'s image: in place of our earlier photo of it when there is
    one, else of the store's original, which goes too under policy replace."""
    extension = "jpg" if render["format"] == "jpeg" else render["format"]
    look, source = look_hash(render), row.source_digest or ""
    doomed = tuple(media for media in (row.replaces_ours, row.media_id if policy == "replace" else None) if media)
    places = tuple(media for media in (row.replaces_ours, row.media_id) if media)
    return WriteTask(row.product_id, data, file_name(look, source, extension), MIME[render["format"]], row.alt or "",
                     places, doomed, MediaMark("", source, look, row.media_id, sync_id), tuple(row.variant_ids or ()),
                     source=source)


@dataclass
class _Written:
    """A product part-way through its write-back: the photo attached, what was there before, what it replaces."""

    task: WriteTask
    new_media: str
    order: list[str]
    marks_before: dict[str, MediaMark]
    marks_after: dict[str, MediaMark]
    doomed: list[str]
    variant_ids: tuple[str, ...] = ()


Outcome = str | ProductWriteError  # the new media id, or why this product keeps what it had


def write_batch(client: writeback.ShopifyClient, tasks: Sequence[WriteTask],
                polling: writeback.ReadyPolling = READY_POLLING) -> list[Outcome]:
    """Put each task's photo in place; one outcome per task, in order."""
    if len({task.product_id for task in tasks}) != len(tasks) or len(tasks) > BATCH_SIZE:
        raise ValueError(f"a batch holds at most {BATCH_SIZE} tasks, of different products")
    outcomes: dict[int, Outcome] = {}
    targets = _each_or_all(range(len(tasks)), outcomes, lambda indices: writeback.stage_uploads(
        client, [(tasks[i].filename, tasks[i].mime_type, len(tasks[i].data)) for i in indices]))
    written: dict[int, _Written] = {}
    processing: list[int] = []
    for index, target in targets.items():
        task = tasks[index]
        try:
            source = writeback.post_staged(client, target, task.data, task.filename, task.mime_type)
            added = writeback.add_media(client, task.product_id, source, task.alt)
        except ProductWriteError as exc:
            outcomes[index] = exc
            continue
        written[index] = _with_marks(task, added)
        if added.status != "READY":
            processing.append(index)
        if task.variant_ids is None:  # read now, before anything of the product's is removed
            try:
                links = writeback.variant_links(client, task.product_id)
            except ProductWriteError as exc:
                outcomes[index] = exc
                continue
            written[index].variant_ids = links.get(_place(task, written[index].order) or "", ())
    _drop_failed(client, written, outcomes)
    _await_processing(client, written, [i for i in processing if i in written], outcomes, polling)
    _drop_failed(client, written, outcomes)

    _each_or_all(list(written), outcomes, lambda indices: writeback.write_marks_of(
        client, {written[i].task.product_id: written[i].marks_after for i in indices}))
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


class ProcessingFailedError(ProductWriteError):
    """The store took the new content but could not process it (its previous content was put back)."""


@dataclass(frozen=True)
class ContentTask:
    """New content for a photo of ours already on a product (a campaign's theme on, or off): same media, same
    place and links; `marks` are the product's marks afterwards; `previous()` the bytes it shows now, read only
    when the store cannot process the new ones and they must be put back."""

    product_id: str
    media_id: str
    data: bytes
    filename: str
    mime_type: str
    marks: dict[str, MediaMark]
    previous: Callable[[], bytes]


def content_task(product_id: str, ours: MediaMark, marks: Mapping[str, MediaMark], data: bytes, render: dict,
                 previous: Callable[[], bytes]) -> ContentTask:
    """Our photo `ours` shown in `render`'s look (a re-render of the same cut) instead."""
    extension = "jpg" if render["format"] == "jpeg" else render["format"]
    look = look_hash(render)
    after = {**marks, ours.media_id: dataclasses.replace(ours, look=look)}
    return ContentTask(product_id, ours.media_id, data, file_name(look, ours.source, extension),
                       MIME[render["format"]], after, previous)


def replace_contents(client: writeback.ShopifyClient, tasks: Sequence[ContentTask],
                     polling: writeback.ReadyPolling = READY_POLLING) -> list[Outcome]:
    """Give each task's photo its new content, in batches of calls (staged uploads, fileUpdate, status, marks):
    a few points for the whole batch instead of a productUpdate per product. A product the store refuses gets
    its refusal (the caller may add the photo instead); one whose new content fails processing gets its
    previous content back and fails."""
    if len({task.product_id for task in tasks}) != len(tasks) or len(tasks) > BATCH_SIZE:
        raise ValueError(f"a batch holds at most {BATCH_SIZE} tasks, of different products")
    outcomes: dict[int, Outcome] = {}
    targets = _each_or_all(range(len(tasks)), outcomes, lambda indices: writeback.stage_uploads(
        client, [(tasks[i].filename, tasks[i].mime_type, len(tasks[i].data)) for i in indices]))
    sources: dict[int, str] = {}
    for index, target in targets.items():
        task = tasks[index]
        try:
            sources[index] = writeback.post_staged(client, target, task.data, task.filename, task.mime_type)
        except ProductWriteError as exc:
            outcomes[index] = exc
    updated = _each_or_all(list(sources), outcomes, lambda indices: writeback.replace_files(
        client, {tasks[i].media_id: sources[i] for i in indices}))
    statuses = writeback.wait_ready(client, [tasks[i].media_id for i in updated], polling) if updated else {}
    for index in list(updated):
        status = statuses.get(tasks[index].media_id, "MISSING")
        if status != "READY":
            _put_previous(client, tasks[index], failed=status == "FAILED")
            outcomes[index] = ProcessingFailedError(
                f"the store could not process the new photo ({status.lower()}): the previous one is back")
            del updated[index]
    _each_or_all(list(updated), outcomes, lambda indices: writeback.write_marks_of(
        client, {tasks[i].product_id: tasks[i].marks for i in indices}))
    for index in updated:
        if index in outcomes:  # its marks were refused: the photo shows what its marks say again
            _put_previous(client, tasks[index])
        else:
            outcomes[index] = tasks[index].media_id
    return [outcomes[index] for index in range(len(tasks))]


def _put_previous(client: writeback.ShopifyClient, task: ContentTask, *, failed: bool = False) -> None:
    try:
        if failed:
            writeback.acknowledge_failed(client, [task.media_id])
        data = task.previous()
        target = writeback.stage_uploads(client, [(task.filename, task.mime_type, len(data))])[0]
        source = writeback.post_staged(client, target, data, task.filename, task.mime_type)
        writeback.replace_files(client, {task.media_id: source})
    except ProductWriteError as exc:
        log.warning("%s: could not put the previous photo back on %s: %s", task.product_id, task.media_id, exc)


def _await_processing(client: writeback.ShopifyClient, written: dict[int, _Written], indices: list[int],
                      outcomes: dict[int, Outcome], polling: writeback.ReadyPolling) -> None:
    """Nothing of a product's is removed (nor a variant linked: Shopify refuses media not yet READY) before the
    store has processed the photo: one status query for the batch at a time. A photo the store could not
    process (FAILED), or that is still processing at the timeout, fails its product, which keeps its photo."""
    if not indices:
        return
    statuses = writeback.wait_ready(client, [written[i].new_media for i in indices], polling)
    for index in indices:
        status = statuses.get(written[index].new_media, "MISSING")
        if status != "READY":
            outcomes[index] = ProductWriteError(
                f"the store could not process the new photo ({status.lower()}): the product keeps its own")


def _with_marks(task: WriteTask, added: writeback.AddedMedia) -> _Written:
    new_media, order, marks = added.media_id, added.order, added.marks
    doomed = [media for media in task.doomed if media in order] + leftovers(added, task.source)
    kept = {media_id: m for media_id, m in marks.items()
            if media_id not in doomed and media_id in order and media_id not in task.forget}
    if task.mark is not None:
        kept[new_media] = dataclasses.replace(task.mark, media_id=new_media)
    return _Written(task, new_media, order, marks, kept, doomed, task.variant_ids or ())


def leftovers(added: writeback.AddedMedia, source: str) -> list[str]:
    """Photos of ours from the same original that no mark records: left by a write-back the store stopped
    between attaching ours and marking it (a revoked token, an outage). They go with this write-back instead of
    staying beside it as duplicates."""
    made_from = f"-{source[:16]}."
    return [media_id for media_id, url in added.urls.items()
            if media_id != added.media_id and media_id not in added.marks and source and is_our_url(url)
            and made_from in urlsplit(url).path.rsplit("/", 1)[-1]]


def _place(task: WriteTask, order: list[str]) -> str | None:
    return next((media for media in task.in_place_of if media in order), None)


def _link_and_place(client: writeback.ShopifyClient, item: _Written) -> None:
    task, order = item.task, item.order
    writeback.link_variants(client, task.product_id, item.new_media, item.variant_ids)
    place = _place(task, order)
    if place is not None and writeback.move_needed(order, item.new_media, order.index(place), item.doomed):
        writeback.move_media(client, task.product_id, item.new_media, order.index(place))


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
                writeback.write_marks(client, item.task.product_id, item.marks_before)
        except ProductWriteError as exc:
            log.warning("%s: could not take the photo %s off again: %s", item.task.product_id, item.new_media, exc)
