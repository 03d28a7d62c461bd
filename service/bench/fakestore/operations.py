"""The fake store's GraphQL operations, by operation name (the documents in service.store.queries).

Each resolver takes the store and the request's variables and returns (data, requested cost, actual cost).
Costs follow Shopify's rules of thumb: an object costs 1, a connection 2 plus `first` × its node, a mutation 10.
Resolvers run under the store's lock.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from service.bench.fakestore.catalogue import MEDIA_GID, FakeMedia, FakeProduct, matches, numeric_id
from service.store import marker

Shop = Any  # server.FakeShopify, which imports this module (not imported back: no cycle)

MUTATION_COST = 10
Resolved = tuple[dict, float, float]


class GraphQLError(Exception):
    """Answered as `errors: [{message, extensions: {code}}]` with no data."""

    def __init__(self, message: str, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.code = code


def _cursor(product: FakeProduct) -> str:
    return base64.b64encode(json.dumps({"last_id": numeric_id(product.id)}).encode()).decode()


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.b64decode(cursor))["last_id"])
    except (ValueError, KeyError):
        raise GraphQLError("Invalid cursor for current pagination.") from None


def _our_marks(product: FakeProduct) -> dict | None:
    """The `ourMarks` alias the documents read (promptcut's metafield), as Shopify answers it: null when unset."""
    field = product.metafields.get((marker.NAMESPACE, marker.KEY))
    return {"value": field["value"]} if field else None


def _product_with_media(store: Shop, product: FakeProduct, first: int) -> dict:
    return {**product.node(), "ourMarks": _our_marks(product),
            "media": {"nodes": [media.node(store.url) for media in product.media[:first]]}}


def shop_access(store: Shop, variables: dict) -> Resolved:
    data = {"shop": {"name": store.shop_name, "myshopifyDomain": store.shop_domain},
            "currentAppInstallation": {"accessScopes": [{"handle": scope} for scope in store.scopes]}}
    return data, 2, 2


def products_page(store: Shop, variables: dict) -> Resolved:
    first, media_first = int(variables["first"]), int(variables["mediaFirst"])
    if not 1 <= first <= 250 or not 1 <= media_first <= 250:
        raise GraphQLError("first must be between 1 and 250")
    requested = 2 + first * (4 + media_first)
    after = _after(variables.get("after"))
    selected = [product for product in store.sorted_products() if numeric_id(product.id) > after
                and matches(product, variables.get("query"))]
    page = selected[:first]
    nodes = [_product_with_media(store, product, media_first) for product in page]
    actual = 2 + sum(4 + len(node["media"]["nodes"]) for node in nodes)
    data = {"products": {"nodes": nodes, "pageInfo": {"hasNextPage": len(selected) > first,
                                                      "endCursor": _cursor(page[-1]) if page else None}}}
    return data, requested, actual


def products_count(store: Shop, variables: dict) -> Resolved:
    count = sum(1 for product in store.sorted_products() if matches(product, variables.get("query")))
    return {"productsCount": {"count": count, "precision": "EXACT"}}, 1, 1


_BULK_SEARCH = re.compile(r'products\s*\(\s*query\s*:\s*("(?:[^"\\]|\\.)*")\s*\)')


def bulk_run(store: Shop, variables: dict) -> Resolved:
    inner = str(variables["query"])
    if store.bulk is not None and store.bulk["status"] == "RUNNING":
        return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [
            {"field": None, "message": "A bulk query operation for this app and shop is already in progress"}]}}, \
            MUTATION_COST, MUTATION_COST
    found = _BULK_SEARCH.search(inner)
    search = json.loads(found.group(1)) if found else None
    if "products" not in inner or "__parentId" in inner:
        raise GraphQLError("the fake store runs product bulk queries only")
    lines = []
    for product in store.sorted_products():
        if matches(product, search):
            lines.append({**product.node(), "ourMarks": _our_marks(product)})
            lines.extend({**media.node(store.url), "__parentId": product.id} for media in product.media)
    store.bulk_count += 1
    operation_id = f"gid://shopify/BulkOperation/{store.bulk_count}"
    store.bulk = {"id": operation_id, "status": "RUNNING", "polls_left": store.bulk_polls_before_done,
                  "jsonl": "".join(json.dumps(line) + "\n" for line in lines), "count": len(lines)}
    return {"bulkOperationRunQuery": {"bulkOperation": {"id": operation_id, "status": "CREATED"},
                                      "userErrors": []}}, MUTATION_COST, MUTATION_COST


def bulk_status(store: Shop, variables: dict) -> Resolved:
    bulk = store.bulk
    if bulk is None or bulk["id"] != variables["id"]:
        return {"node": None}, 1, 1
    if bulk["status"] == "RUNNING":
        if bulk["polls_left"] <= 0:
            bulk["status"] = "COMPLETED"
        bulk["polls_left"] -= 1
    done = bulk["status"] == "COMPLETED"
    node = {"id": bulk["id"], "status": bulk["status"], "errorCode": None, "objectCount": str(bulk["count"]),
            "url": f"{store.url}/bulk/{numeric_id(bulk['id'])}.jsonl" if done and bulk["count"] else None,
            "partialDataUrl": None}
    return {"node": node}, 1, 1


# --- writing ---------------------------------------------------------------------------------------------------


def staged_uploads_create(store: Shop, variables: dict) -> Resolved:
    targets = []
    for entry in variables["input"]:
        upload_id = store.new_upload(str(entry["filename"]), str(entry.get("mimeType") or "image/png"))
        targets.append({"url": f"{store.url}/upload/{upload_id}",
                        "resourceUrl": f"{store.url}/staged/{upload_id}",
                        "parameters": [{"name": "key", "value": f"tmp/{upload_id}/{entry['filename']}"},
                                       {"name": "Content-Type", "value": entry.get("mimeType") or "image/png"},
                                       {"name": "policy", "value": f"fake-policy-{upload_id}"}]})
    return {"stagedUploadsCreate": {"stagedTargets": targets, "userErrors": []}}, MUTATION_COST, MUTATION_COST


def _user_error(store: Shop, product_id: str) -> list[dict]:
    message = store.user_errors.get(product_id)
    return [{"field": ["id"], "message": message}] if message else []


def product_add_media(store: Shop, variables: dict) -> Resolved:
    product_id = variables["product"]["id"]
    product = store.product(product_id)
    errors = _user_error(store, product_id)
    if product is None:
        errors = [{"field": ["product", "id"], "message": "Product does not exist"}]
    for index, entry in enumerate((variables.get("media") or ()) if not errors else ()):
        file_name = store.file_for_source(str(entry.get("originalSource", "")))
        if file_name is None:
            errors.append({"field": ["media", str(index), "originalSource"],
                           "message": "Media originalSource was not uploaded"})
            continue
        store.media_count += 1
        waits = store.media_polls_to_ready
        fails = product.id in store.failing_processing
        store.failing_processing.discard(product.id)
        product.media.append(FakeMedia(id=f"{MEDIA_GID}{store.media_count}", file_name=file_name,
                                       alt=str(entry.get("alt") or ""), polls_to_ready=waits, fails=fails,
                                       status="PROCESSING" if waits or fails else "READY"))
    data = {"product": None if product is None else {
        "id": product.id, "media": {"nodes": [media.node(store.url) for media in product.media]},
        "ourMarks": _our_marks(product)}, "userErrors": errors}
    return {"productUpdate": data}, MUTATION_COST, MUTATION_COST


def file_update(store: Shop, variables: dict) -> Resolved:
    files, errors = [], []
    for index, entry in enumerate(variables["files"]):
        owner, media = store.media(str(entry["id"]))
        problem = "File does not exist" if media is None else (_user_error(store, owner.id) or [{}])[0].get("message")
        if problem:
            errors.append({"field": ["files", str(index), "id"], "message": problem, "code": "INVALID"})
            continue
        if media.status != "READY":
            errors.append({"field": ["files", str(index), "id"], "message": "Non-ready files cannot be updated.",
                           "code": "NON_READY_STATE"})
            continue
        if entry.get("alt") is not None:
            media.alt = str(entry["alt"])
        if entry.get("originalSource"):
            file_name = store.file_for_source(str(entry["originalSource"]))
            if file_name is None:
                errors.append({"field": ["files", str(index), "originalSource"],
                               "message": "originalSource was not uploaded", "code": "INVALID"})
                continue
            media.file_name = file_name  # new content, same media: processed again
            media.polls_to_ready, media.fails = store.media_polls_to_ready, owner.id in store.failing_processing
            store.failing_processing.discard(owner.id)
            media.status = "PROCESSING" if media.polls_to_ready or media.fails else "READY"
        node = media.node(store.url)
        files.append({"id": media.id, "alt": media.alt, "image": node["image"]})
    return {"fileUpdate": {"files": files, "userErrors": errors}}, MUTATION_COST, MUTATION_COST


def product_reorder_media(store: Shop, variables: dict) -> Resolved:
    product = store.product(variables["id"])
    errors = _user_error(store, variables["id"]) if product is not None else [
        {"field": ["id"], "message": "Product does not exist", "code": "PRODUCT_DOES_NOT_EXIST"}]
    if not errors:
        for move in variables["moves"]:
            found = next((media for media in product.media if media.id == move["id"]), None)
            if found is None:
                errors.append({"field": ["moves"], "message": "Media does not exist", "code": "MEDIA_DOES_NOT_EXIST"})
                continue
            product.media.remove(found)
            product.media.insert(min(int(move["newPosition"]), len(product.media)), found)
    job = None if errors else {"id": f"gid://shopify/Job/reorder-{numeric_id(product.id)}", "done": True}
    return {"productReorderMedia": {"job": job, "mediaUserErrors": errors}}, MUTATION_COST, MUTATION_COST


def file_delete(store: Shop, variables: dict) -> Resolved:
    found, errors = [], []
    for file_id in variables["fileIds"]:
        owner, media = store.media(str(file_id))
        if media is None:
            errors.append({"field": ["fileIds"], "message": f"File id {file_id} does not exist.",
                           "code": "FILE_DOES_NOT_EXIST"})
        else:
            found.append((owner, media))
    if errors:  # all or nothing, as our client must expect: one unknown id and none is deleted
        return {"fileDelete": {"deletedFileIds": None, "userErrors": errors}}, MUTATION_COST, MUTATION_COST
    for owner, media in found:
        owner.media.remove(media)
        for linked in owner.variants.values():  # as Shopify: a deleted file is detached from its variants
            if media.id in linked:
                linked.remove(media.id)
    return {"fileDelete": {"deletedFileIds": [media.id for _, media in found], "userErrors": []}}, \
        MUTATION_COST, MUTATION_COST


def metafields_set(store: Shop, variables: dict) -> Resolved:
    entries, errors = variables["metafields"], []
    for index, entry in enumerate(entries):
        product = store.product(str(entry["ownerId"]))
        problem = "Owner does not exist" if product is None else (
            _user_error(store, product.id) or [{}])[0].get("message")
        if problem:
            errors.append({"field": ["metafields", str(index), "ownerId"], "message": problem, "code": "INVALID"})
    if errors:  # Shopify writes all or nothing: one bad entry and none is saved
        return {"metafieldsSet": {"metafields": None, "userErrors": errors}}, MUTATION_COST, MUTATION_COST
    written = []
    for entry in entries:
        product = store.product(str(entry["ownerId"]))
        slot = (str(entry["namespace"]), str(entry["key"]))
        existing = product.metafields.get(slot)
        if existing is None:
            store.metafield_count += 1
        field_id = existing["id"] if existing else f"gid://shopify/Metafield/{store.metafield_count}"
        product.metafields[slot] = {"id": field_id, "namespace": slot[0], "key": slot[1],
                                    "type": str(entry.get("type") or "json"), "value": str(entry["value"])}
        written.append(product.metafields[slot])
    return {"metafieldsSet": {"metafields": written, "userErrors": []}}, MUTATION_COST, MUTATION_COST


def product_metafield(store: Shop, variables: dict) -> Resolved:
    product = store.product(variables["id"])
    if product is None:
        return {"product": None}, 2, 2
    field = product.metafields.get((variables["namespace"], variables["key"]))
    return {"product": {"id": product.id, "metafield": field}}, 2, 2


def product_media(store: Shop, variables: dict) -> Resolved:
    product = store.product(variables["id"])
    if product is None:
        return {"product": None}, 502, 2
    nodes = [media.node(store.url) for media in product.media]
    return {"product": {"id": product.id, "media": {"nodes": nodes}}}, 502, 2 + 2 * len(nodes)


def product_variant_media(store: Shop, variables: dict) -> Resolved:
    product = store.product(variables["id"])
    if product is None:
        return {"product": None}, 402, 2
    nodes = [{"id": variant, "media": {"nodes": [{"id": media_id} for media_id in media[:5]]}}
             for variant, media in list(product.variants.items())[:50]]
    return {"product": {"id": product.id, "variants": {"nodes": nodes}}}, 402, 2 + 2 * len(nodes)


def file_acknowledge_update_failed(store: Shop, variables: dict) -> Resolved:
    files, errors = [], []
    for index, file_id in enumerate(variables["fileIds"]):
        _, media = store.media(str(file_id))
        if media is None:
            errors.append({"field": ["fileIds", str(index)], "message": "File does not exist", "code": "INVALID"})
            continue
        if media.status == "FAILED":
            media.status = "READY"
        files.append({"id": media.id, "fileStatus": media.status})
    return {"fileAcknowledgeUpdateFailed": {"files": files, "userErrors": errors}}, MUTATION_COST, MUTATION_COST


def media_status(store: Shop, variables: dict) -> Resolved:
    """nodes(ids:) on media: each read brings a PROCESSING media one step closer to READY (or FAILED)."""
    nodes = []
    for media_id in variables["ids"]:
        _, media = store.media(str(media_id))
        if media is None:
            nodes.append(None)
            continue
        if media.status == "PROCESSING":
            media.polls_to_ready -= 1
            if media.polls_to_ready <= 0:
                media.status = "FAILED" if media.fails else "READY"
        nodes.append({"id": media.id, "status": media.status})
    return {"nodes": nodes}, len(nodes), len(nodes)


def product_variant_append_media(store: Shop, variables: dict) -> Resolved:
    product = store.product(variables["productId"])
    errors = _user_error(store, variables["productId"]) if product is not None else [
        {"field": ["productId"], "message": "Product does not exist", "code": "PRODUCT_DOES_NOT_EXIST"}]
    changed = []
    for entry in variables["variantMedia"] if not errors else ():
        linked = product.variants.get(str(entry["variantId"]))
        known = {media.id: media for media in product.media}
        if linked is None or not set(entry["mediaIds"]) <= set(known):
            errors.append({"field": ["variantMedia"], "message": "Variant or media does not exist",
                           "code": "INVALID"})
            continue
        if any(known[media_id].status != "READY" for media_id in entry["mediaIds"]):
            errors.append({"field": ["variantMedia"], "message": "Non-ready media cannot be attached to variants.",
                           "code": "NON_READY_MEDIA"})
            continue
        linked.extend(media_id for media_id in entry["mediaIds"] if media_id not in linked)
        changed.append({"id": entry["variantId"]})
    data = {"productVariants": None if errors else changed, "userErrors": errors}
    return {"productVariantAppendMedia": data}, MUTATION_COST, MUTATION_COST


RESOLVERS: dict[str, Callable[[Shop, dict], Resolved]] = {
    "ShopAccess": shop_access,
    "ProductsPage": products_page,
    "ProductsCount": products_count,
    "BulkProductsRun": bulk_run,
    "BulkOperationStatus": bulk_status,
    "StagedUploadsCreate": staged_uploads_create,
    "ProductAddMedia": product_add_media,
    "FileUpdate": file_update,
    "ProductReorderMedia": product_reorder_media,
    "FileDelete": file_delete,
    "MetafieldsSet": metafields_set,
    "ProductMetafield": product_metafield,
    "ProductMedia": product_media,
    "ProductVariantMedia": product_variant_media,
    "ProductVariantAppendMedia": product_variant_append_media,
    "MediaStatus": media_status,
    "FileAcknowledgeUpdateFailed": file_acknowledge_update_failed,
}


def requested_cost(name: str, variables: dict[str, Any]) -> float:
    """A query's cost before running it (what the bucket is checked against)."""
    if name == "ProductsPage":
        return 2 + int(variables.get("first", 1)) * (4 + int(variables.get("mediaFirst", 1)))
    if name == "ProductMedia":
        return 502
    if name == "ProductVariantMedia":
        return 402
    if name in ("ShopAccess", "ProductMetafield"):
        return 2
    if name in ("BulkOperationStatus", "ProductsCount"):
        return 1
    if name == "MediaStatus":
        return len(variables.get("ids") or ())
    return MUTATION_COST
