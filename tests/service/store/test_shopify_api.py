"""The Admin API client against the fake shop over loopback: endpoint rules, auth errors without the token,
retries of 429/5xx (Retry-After honoured, bounded), and the cost bucket: wait instead of being throttled."""

from __future__ import annotations

import pytest

from service.store.catalogue import PAGE_SIZE, pull_products
from service.store.shopify_api import (
    API_VERSION,
    RetryPolicy,
    ShopifyClient,
    StoreAuthError,
    StoreConfigError,
    StoreUnavailableError,
    admin_url,
    shop_domain,
)
from tests.fakestore import FakeShopify, LeakyBucket, sample_products


class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def test_shop_names_become_myshopify_domains() -> None:
    assert shop_domain("Corner-Shop") == "corner-shop.myshopify.com"
    assert shop_domain(" corner-shop.myshopify.com ") == "corner-shop.myshopify.com"
    assert admin_url("corner-shop") == f"https://corner-shop.myshopify.com/admin/api/{API_VERSION}/graphql.json"
    for bad in ("", "corner shop", "shop.example.com", "evil.com/x.myshopify.com", "-shop", "a.b.myshopify.com"):
        with pytest.raises(StoreConfigError) as caught:
            shop_domain(bad)
        assert "\n" not in str(caught.value) and "not a Shopify shop" in str(caught.value)


def test_an_explicit_api_url_is_https_or_allow_listed_loopback() -> None:
    assert admin_url("s", "https://proxy.example.com/graphql.json") == "https://proxy.example.com/graphql.json"
    local = "http://127.0.0.1:8123/admin/api/x/graphql.json"
    assert admin_url("s", local, allow_hosts=["127.0.0.1:8123"]) == local
    refused = [
        (local, ()),  # http to loopback, not allow-listed
        (local, ["127.0.0.1:9999"]),  # another port is allow-listed
        ("http://example.com:80/graphql.json", ["example.com:80"]),  # http beyond loopback, even if listed
        ("https://10.0.0.5/graphql.json", ()),  # an internal address over https
        ("https://user:pw@proxy.example.com/graphql.json", ()),
        ("ftp://proxy.example.com/graphql.json", ()),
    ]
    for url, hosts in refused:
        with pytest.raises(StoreConfigError):
            admin_url("s", url, allow_hosts=hosts)
    assert admin_url("s", "https://10.0.0.5/g", allow_hosts=["10.0.0.5:443"]) == "https://10.0.0.5/g"


def test_a_refused_token_is_an_auth_error_that_never_shows_the_token(shop: FakeShopify) -> None:
    wrong = "shpat_wrong_token_value_123"
    with ShopifyClient(shop.api_url, wrong) as client, pytest.raises(StoreAuthError) as caught:
        client.execute("query ShopAccess { shop { name } }")
    assert "401" in str(caught.value) and "revoked" in str(caught.value)
    assert wrong not in str(caught.value) and shop.token not in str(caught.value)
    assert shop.auth_failures == 1  # not retried: a wrong token stays wrong
    for unusable in ("", "  ", "shpat_ä", "shpat a", "shpat_\nX-Injected: 1"):
        with pytest.raises(StoreConfigError):
            ShopifyClient(shop.api_url, unusable)
    assert shop.requests == 1


def test_429_and_500_are_retried_honouring_retry_after(shop: FakeShopify) -> None:
    sleeps = Sleeps()
    shop.fail_next(429, retry_after="2.5")
    shop.fail_next(500, times=2)
    with ShopifyClient(shop.api_url, shop.token, sleep=sleeps, jitter=lambda: 0.0,
                       retry=RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=8)) as client:
        data = client.execute("query ShopAccess { shop { name } }")
    assert data["shop"]["name"] == "fake-shop"
    assert shop.requests == 4 and shop.injected_failures == 3
    # Retry-After first, then exponential backoff (equal jitter at 0: half of 0.5·2^(n-1)).
    assert sleeps.delays == [2.5, 0.5, 1.0]


def test_retries_are_bounded(shop: FakeShopify) -> None:
    sleeps = Sleeps()
    shop.fail_next(503, times=10)
    with ShopifyClient(shop.api_url, shop.token, sleep=sleeps, retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(StoreUnavailableError) as caught:
            client.execute("query ShopAccess { shop { name } }")
    assert shop.requests == 3 and len(sleeps.delays) == 2
    assert "after 3 attempts" in str(caught.value) and "HTTP 503" in str(caught.value)


def test_a_small_bucket_is_waited_for_not_hammered() -> None:
    """500 products through a 480-point bucket (one page requests 458): the client waits for the bucket before
    each page instead of sending it to be throttled; only the very first page, sent into a drained bucket
    before any cost is known, may be throttled."""
    bucket = LeakyBucket(maximum=480, restore_rate=2000)
    with FakeShopify(sample_products(500, images_per_product=1), bucket=bucket) as shop:
        shop.drain()
        slept = Sleeps()
        real_sleep = __import__("time").sleep

        def sleep(seconds: float) -> None:
            slept(seconds)
            real_sleep(seconds)

        with ShopifyClient(shop.api_url, shop.token, sleep=sleep) as client:
            products = list(pull_products(client))
        pages = shop.operations["ProductsPage"] - shop.throttled
    assert len(products) == 500 and pages == -(-500 // PAGE_SIZE)
    assert shop.throttled <= 1
    assert len(slept.delays) >= 20  # it waited before (nearly) every page
