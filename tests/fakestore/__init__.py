"""The fake Shopify shop the store tests use; it lives in service.bench.fakestore (the store benchmark ships
with the package, tests/ does not), and `tests.fakestore` keeps the tests' imports as they were."""

from service.bench.fakestore import FakeMedia, FakeProduct, FakeShopify, LeakyBucket, png_bytes, sample_products

__all__ = ["FakeMedia", "FakeProduct", "FakeShopify", "LeakyBucket", "png_bytes", "sample_products"]
