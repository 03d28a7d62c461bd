"""A fake Shopify Admin GraphQL shop for tests, over real HTTP on loopback (see server.FakeShopify)."""

from tests.fakestore.bucket import LeakyBucket
from tests.fakestore.catalogue import FakeMedia, FakeProduct, png_bytes, sample_products
from tests.fakestore.server import FakeShopify

__all__ = ["FakeMedia", "FakeProduct", "FakeShopify", "LeakyBucket", "png_bytes", "sample_products"]
