"""Re-exported from service.bench.fakestore.catalogue, where the fake store lives."""

from service.bench.fakestore.catalogue import COLLECTION_GID, MEDIA_GID, PRODUCT_GID, numeric_id

__all__ = ["COLLECTION_GID", "MEDIA_GID", "PRODUCT_GID", "numeric_id"]
