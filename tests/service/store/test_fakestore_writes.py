"""The fake shop's write side (what writing results back will use), driven with the real client and the
documents in service.store.queries: staged upload → multipart POST → product media, alt text, replacing a
file, reordering, deleting, metafields, injected userErrors, a revoked token."""

from __future__ import annotations

import httpx
import pytest

from service.store import queries
from service.store.shopify_api import ShopifyClient, StoreAuthError, operation_name
from tests.fakestore import FakeShopify, png_bytes
from tests.fakestore.operations import RESOLVERS

PRODUCT = "gid://shopify/Product/1001"


def upload(client: ShopifyClient, data: bytes, name: str = "cut.png") -> str:
    staged = client.execute(queries.STAGED_UPLOADS_CREATE, {"input": [
        {"filename": name, "mimeType": "image/png", "httpMethod": "POST", "resource": "IMAGE",
         "fileSize": str(len(data))}]})["stagedUploadsCreate"]
    target = staged["stagedTargets"][0]
    fields = {parameter["name"]: parameter["value"] for parameter in target["parameters"]}
    response = httpx.post(target["url"], data=fields, files={"file": (name, data, "image/png")}, timeout=10)
    assert response.status_code == 201
    return target["resourceUrl"]


def test_a_staged_upload_becomes_product_media_served_by_the_shop(shop: FakeShopify) -> None:
    data = png_bytes(30, 20, (1, 2, 3))
    with ShopifyClient(shop.api_url, shop.token) as client:
        source = upload(client, data)
        added = client.execute(queries.PRODUCT_ADD_MEDIA, {
            "product": {"id": PRODUCT},
            "media": [{"originalSource": source, "alt": "on white", "mediaContentType": "IMAGE"}]})["productUpdate"]
        assert added["userErrors"] == []
        new = added["product"]["media"]["nodes"][-1]
        assert new["alt"] == "on white" and client.download(new["image"]["url"]) == data
        not_uploaded = client.execute(queries.STAGED_UPLOADS_CREATE, {"input": [
            {"filename": "x.png", "mimeType": "image/png", "httpMethod": "POST", "resource": "IMAGE"}]})
        ghost = not_uploaded["stagedUploadsCreate"]["stagedTargets"][0]["resourceUrl"]
        refused = client.execute(queries.PRODUCT_ADD_MEDIA, {"product": {"id": PRODUCT}, "media": [
            {"originalSource": ghost, "mediaContentType": "IMAGE"}]})["productUpdate"]
        assert refused["userErrors"] and len(shop.products[PRODUCT].media) == 3
    assert shop.upload_posts == 1


def test_files_are_updated_reordered_and_deleted(shop: FakeShopify) -> None:
    first, second = (media.id for media in shop.products[PRODUCT].media)
    replacement = png_bytes(10, 10, (9, 9, 9))
    with ShopifyClient(shop.api_url, shop.token) as client:
        source = upload(client, replacement)
        updated = client.execute(queries.FILE_UPDATE, {"files": [
            {"id": first, "alt": "new alt", "originalSource": source}]})["fileUpdate"]
        assert updated["userErrors"] == [] and updated["files"][0]["alt"] == "new alt"
        assert client.download(updated["files"][0]["image"]["url"]) == replacement
        moved = client.execute(queries.PRODUCT_REORDER_MEDIA, {"id": PRODUCT, "moves": [
            {"id": second, "newPosition": "0"}]})["productReorderMedia"]
        assert moved["mediaUserErrors"] == [] and moved["job"]["done"]
        media = client.execute(queries.PRODUCT_MEDIA, {"id": PRODUCT})["product"]["media"]["nodes"]
        assert [node["id"] for node in media] == [second, first]
        deleted = client.execute(queries.FILE_DELETE, {"fileIds": [second]})["fileDelete"]
        assert deleted["deletedFileIds"] == [second]
        assert [media.id for media in shop.products[PRODUCT].media] == [first]


def test_metafields_and_injected_user_errors(shop: FakeShopify) -> None:
    entry = {"ownerId": PRODUCT, "namespace": "promptcut", "key": "state", "type": "json", "value": '{"v": 1}'}
    with ShopifyClient(shop.api_url, shop.token) as client:
        written = client.execute(queries.METAFIELDS_SET, {"metafields": [entry]})["metafieldsSet"]
        assert written["userErrors"] == []
        read = client.execute(queries.PRODUCT_METAFIELD, {"id": PRODUCT, "namespace": "promptcut", "key": "state"})
        assert read["product"]["metafield"]["value"] == '{"v": 1}'
        shop.fail_product(PRODUCT, "Product is locked")
        refused = client.execute(queries.METAFIELDS_SET, {"metafields": [{**entry, "value": '{"v": 2}'}]})
        assert refused["metafieldsSet"]["userErrors"][0]["message"] == "Product is locked"
        reorder = client.execute(queries.PRODUCT_REORDER_MEDIA, {"id": PRODUCT, "moves": []})
        assert reorder["productReorderMedia"]["mediaUserErrors"][0]["message"] == "Product is locked"
        assert shop.products[PRODUCT].metafields[("promptcut", "state")]["value"] == '{"v": 1}'
        shop.revoke_token()
        with pytest.raises(StoreAuthError):
            client.execute(queries.SHOP_ACCESS)


def test_every_document_is_a_named_operation_the_fake_shop_answers() -> None:
    assert {operation_name(document) for document in queries.DOCUMENTS} == set(RESOLVERS)
