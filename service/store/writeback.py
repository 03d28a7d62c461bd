"""The store calls a write-back is made of, through the store client (so throttling and retries apply; write_batch
composes them for a batch of products):
staged upload → multipart POST of the bytes → productUpdate with the media → variant links → reorder; and the
marker metafield. Every mutation's userErrors / mediaUserErrors become a ProductWriteError naming the step, so
one product fails with the store's own message and the sync goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from service.store import marker, queries
from service.store.marker import MediaMark
from service.store.shopify_api import ShopifyClient, StoreError, StoreUnavailableError

UPLOAD_ATTEMPTS = 3
METAFIELDS_PER_CALL = 25  # metafieldsSet's limit


class ProductWriteError(StoreError):
    """The store refused a change to one product (its userErrors); the product keeps its original photo."""

    code = "store_user_error"


def _check(step: str, payload: Mapping[str, Any] | None, errors_key: str = "userErrors") -> Mapping[str, Any]:
    payload = payload or {}
    errors = payload.get(errors_key) or []
    if errors:
        message = " ".join(str(errors[0].get("message") or "refused").split())[:300]
        raise ProductWriteError(f"{step}: {message}")
    return payload


def stage_uploads(client: ShopifyClient, files: list[tuple[str, str, int]]) -> list[Mapping[str, Any]]:
    """Staged-upload targets for (filename, mime type, size) files: one mutation, however many files."""
    staged = _check("stagedUploadsCreate", client.execute(queries.STAGED_UPLOADS_CREATE, {"input": [{
        "filename": filename, "mimeType": mime_type, "httpMethod": "POST", "resource": "IMAGE",
        "fileSize": str(size)} for filename, mime_type, size in files]}).get("stagedUploadsCreate"))
    targets = list(staged.get("stagedTargets") or [])
    if len(targets) != len(files):
        raise ProductWriteError("stagedUploadsCreate: not every file was given an upload target")
    return targets


def post_staged(client: ShopifyClient, target: Mapping[str, Any], data: bytes, filename: str, mime_type: str) -> str:
    """POST `data` to its staged target; returns the resourceUrl to attach."""
    fields = {str(p["name"]): str(p["value"]) for p in target.get("parameters") or ()}
    problem = "no attempt made"
    for _ in range(UPLOAD_ATTEMPTS):  # the target is a storage bucket, not the API: no token, its own retries
        try:
            response = client.post_file(str(target["url"]), fields, filename, data, mime_type)
        except httpx.TransportError as exc:
            problem = type(exc).__name__
            continue
        if response.status_code in (200, 201, 204):
            return str(target["resourceUrl"])
        problem = f"HTTP {response.status_code}"
        if response.status_code < 500:
            raise ProductWriteError(f"upload: the staged upload target answered {problem}")
    raise StoreUnavailableError(f"upload: the staged upload target failed ({problem})")


@dataclass(frozen=True)
class AddedMedia:
    """What productUpdate answered when ours was attached: our media id, the product's media in order (ours
    last) with their image URLs, and the product's marks as they are right after."""

    media_id: str
    order: list[str]
    urls: dict[str, str]
    marks: dict[str, MediaMark]
    status: str = "READY"  # ours, as the answer gave it (usually UPLOADED or PROCESSING on a real store)


def add_media(client: ShopifyClient, product_id: str, source: str, alt: str) -> AddedMedia:
    """Attach an uploaded file to the product (it goes last); the same mutation's answer gives where everything
    now is and the product's marks (no separate query, and as fresh as can be)."""
    added = _check("productUpdate", client.execute(queries.PRODUCT_ADD_MEDIA, {
        "product": {"id": product_id},
        "media": [{"originalSource": source, "alt": alt, "mediaContentType": "IMAGE"}]}).get("productUpdate"))
    product = added.get("product") or {}
    nodes = (product.get("media") or {}).get("nodes") or []
    if not nodes:
        raise ProductWriteError("productUpdate: the new photo is not among the product's media")
    if "ourMarks" in product:
        marks = marker.parse_marks((product.get("ourMarks") or {}).get("value"))
    else:  # an answer without them is not "no marks": read them
        marks = read_marks(client, product_id)
    urls = {str(node["id"]): str((node.get("image") or {}).get("url") or "") for node in nodes}
    return AddedMedia(str(nodes[-1]["id"]), [str(node["id"]) for node in nodes], urls, marks,
                      str(nodes[-1].get("status") or "PROCESSING"))


@dataclass(frozen=True)
class ReadyPolling:
    """How long to wait for the store to finish processing attached photos."""

    interval: float = 0.5
    timeout: float = 120.0


def wait_ready(client: ShopifyClient, media_ids: Iterable[str], polling: ReadyPolling = ReadyPolling(), *,
               sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> dict[str, str]:
    """Poll until every media is READY or FAILED (one query for all of them each time); returns each one's
    last status — still PROCESSING (or missing) when the timeout passed."""
    waiting = list(dict.fromkeys(media_ids))
    found: dict[str, str] = {}
    deadline = clock() + polling.timeout
    while waiting:
        nodes = client.execute(queries.MEDIA_STATUS, {"ids": waiting}).get("nodes") or []
        for media_id, node in zip(waiting, nodes, strict=False):
            found[media_id] = str((node or {}).get("status") or "MISSING")
        waiting = [media_id for media_id in waiting if found.get(media_id) not in ("READY", "FAILED", "MISSING")]
        if not waiting or clock() > deadline:
            break
        sleep(polling.interval)
    return found


def replace_files(client: ShopifyClient, sources: Mapping[str, str]) -> None:
    """New content (an uploaded resourceUrl) for existing media, by media id: one fileUpdate. The media keeps
    its id, place, alt text and variant links; the store processes it again."""
    _check("fileUpdate", client.execute(queries.FILE_UPDATE, {"files": [
        {"id": media_id, "originalSource": source} for media_id, source in sources.items()]}).get("fileUpdate"))


def acknowledge_failed(client: ShopifyClient, media_ids: Iterable[str]) -> None:
    """Clear FAILED (a failed content update) so the file can be updated again."""
    ids = list(media_ids)
    if ids:
        _check("fileAcknowledgeUpdateFailed", client.execute(queries.FILE_ACKNOWLEDGE_UPDATE_FAILED, {
            "fileIds": ids}).get("fileAcknowledgeUpdateFailed"))


def move_media(client: ShopifyClient, product_id: str, media_id: str, position: int) -> None:
    moved = client.execute(queries.PRODUCT_REORDER_MEDIA, {"id": product_id, "moves": [
        {"id": media_id, "newPosition": str(position)}]}).get("productReorderMedia")
    _check("productReorderMedia", moved, "mediaUserErrors")


def move_needed(order: list[str], media_id: str, position: int, doomed: Iterable[str]) -> bool:
    """Whether moving `media_id` to `position` in `order` changes the order the product ends with once the
    `doomed` media are deleted. When the photo ours replaces was the product's last (a one-photo product: the
    common case), ours ends in its place without a move: one mutation and its cost points saved."""
    gone = set(doomed)
    others = [m for m in order if m != media_id]
    moved = others[:position] + [media_id] + others[position:]
    return [m for m in moved if m not in gone] != [m for m in order if m not in gone]


def variant_links(client: ShopifyClient, product_id: str) -> dict[str, tuple[str, ...]]:
    """Media id → the variants showing it (variant images)."""
    product = client.execute(queries.PRODUCT_VARIANT_MEDIA, {"id": product_id}).get("product") or {}
    links: dict[str, list[str]] = {}
    for variant in (product.get("variants") or {}).get("nodes") or ():
        for media in (variant.get("media") or {}).get("nodes") or ():
            links.setdefault(str(media["id"]), []).append(str(variant["id"]))
    return {media_id: tuple(variants) for media_id, variants in links.items()}


def link_variants(client: ShopifyClient, product_id: str, media_id: str, variant_ids: Iterable[str]) -> None:
    entries = [{"variantId": variant, "mediaIds": [media_id]} for variant in variant_ids]
    if entries:
        _check("productVariantAppendMedia", client.execute(queries.PRODUCT_VARIANT_APPEND_MEDIA, {
            "productId": product_id, "variantMedia": entries}).get("productVariantAppendMedia"))


def delete_media(client: ShopifyClient, media_ids: Iterable[str]) -> None:
    """Remove media for good: fileDelete (a product's media are files; productDeleteMedia is deprecated)."""
    ids = list(media_ids)
    if ids:
        _check("fileDelete", client.execute(queries.FILE_DELETE, {"fileIds": ids}).get("fileDelete"))


def delete_gone_ok(client: ShopifyClient, media_ids: Iterable[str]) -> None:
    """delete_media where a file that no longer exists counts as deleted. Several ids go in one call; when the
    store refuses any of them (it may have deleted the others, or none), each is retried on its own."""
    ids = list(media_ids)
    if not ids:
        return
    payload = client.execute(queries.FILE_DELETE, {"fileIds": ids}).get("fileDelete") or {}
    errors = payload.get("userErrors") or []
    if not errors:
        return
    if len(ids) == 1:
        _check("fileDelete", {"userErrors": [e for e in errors if e.get("code") != "FILE_DOES_NOT_EXIST"]})
        return
    for media_id in ids:
        delete_gone_ok(client, [media_id])


def read_marks(client: ShopifyClient, product_id: str) -> dict[str, MediaMark]:
    product = client.execute(queries.PRODUCT_METAFIELD, {"id": product_id, "namespace": marker.NAMESPACE,
                                                         "key": marker.KEY}).get("product") or {}
    return marker.parse_marks((product.get("metafield") or {}).get("value"))


def write_marks(client: ShopifyClient, product_id: str, marks: Mapping[str, MediaMark]) -> None:
    write_marks_of(client, {product_id: marks})


def write_marks_of(client: ShopifyClient, marks_by_product: Mapping[str, Mapping[str, MediaMark]]) -> None:
    """Several products' marks in one metafieldsSet (at most METAFIELDS_PER_CALL); Shopify sets all or none."""
    if len(marks_by_product) > METAFIELDS_PER_CALL:
        raise ValueError(f"metafieldsSet takes at most {METAFIELDS_PER_CALL} metafields")
    _check("metafieldsSet", client.execute(queries.METAFIELDS_SET, {"metafields": [{
        "ownerId": product_id, "namespace": marker.NAMESPACE, "key": marker.KEY, "type": "json",
        "value": marker.dump_marks(marks)} for product_id, marks in marks_by_product.items()]}).get("metafieldsSet"))
