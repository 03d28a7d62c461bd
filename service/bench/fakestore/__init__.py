"""A fake Shopify Admin GraphQL shop over real HTTP on loopback (see server.FakeShopify): the store the tests
and `promptcut bench-store` talk to. Part of the package so the benchmark ships with it; never imported by the
product (tests/test_architecture.py)."""

from service.bench.fakestore.bucket import LeakyBucket
from service.bench.fakestore.catalogue import FakeMedia, FakeProduct, png_bytes, sample_products
from service.bench.fakestore.server import FakeShopify

__all__ = ["FakeMedia", "FakeProduct", "FakeShopify", "LeakyBucket", "png_bytes", "sample_products"]
