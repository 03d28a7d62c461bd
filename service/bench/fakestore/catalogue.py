"""The fake store's in-memory catalogue: products, their media (which are also the shop's files), metafields,
and Shopify's product search syntax as far as promptcut uses it."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from PIL import Image

PRODUCT_GID = "gid://shopify/Product/"
MEDIA_GID = "gid://shopify/MediaImage/"
COLLECTION_GID = "gid://shopify/Collection/"


def numeric_id(gid: str) -> int:
    return int(str(gid).rsplit("/", 1)[-1])


@dataclass
class FakeMedia:
    id: str
    file_name: str  # served at /images/<file_name>
    alt: str = ""
    width: int = 64
    height: int = 48
    content_type: str = "IMAGE"  # IMAGE, or VIDEO for media promptcut must skip
    status: str = "READY"
    polls_to_ready: int = 0  # MediaStatus reads this many times before it is READY (status PROCESSING till then)
    fails: bool = False  # processing ends FAILED instead (a file the store could not read)

    def node(self, base_url: str) -> dict:
        if self.content_type != "IMAGE":
            return {"__typename": "Video", "id": self.id.replace("MediaImage", "Video"), "status": self.status}
        return {"__typename": "MediaImage", "id": self.id, "alt": self.alt, "status": self.status,
                "image": {"url": f"{base_url}/images/{self.file_name}", "width": self.width, "height": self.height}}


@dataclass
class FakeProduct:
    id: str
    handle: str
    title: str
    product_type: str = ""
    vendor: str = "Fake Vendor"
    tags: list[str] = field(default_factory=list)
    status: str = "ACTIVE"
    collections: set[int] = field(default_factory=set)
    media: list[FakeMedia] = field(default_factory=list)
    metafields: dict[tuple[str, str], dict] = field(default_factory=dict)
    variants: dict[str, list[str]] = field(default_factory=dict)  # variant gid → its media ids (variant images)

    def node(self) -> dict:
        return {"id": self.id, "handle": self.handle, "title": self.title, "productType": self.product_type,
                "vendor": self.vendor, "tags": list(self.tags), "status": self.status}


def png_bytes(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def sample_products(count: int, *, images_per_product: int = 2) -> list[FakeProduct]:
    """`count` products with ids 1001…, alternating types / tags / statuses, in collections 1 (all) and 2 (even),
    each with `images_per_product` images; product 3 also has a video between its images."""
    types = ("Mugs", "Shoes", "Lamps")
    products = []
    for index in range(count):
        number = 1001 + index
        media = [FakeMedia(id=f"{MEDIA_GID}{number * 10 + slot}", file_name=f"p{number}-{slot}.png",
                           alt=f"photo {slot} of product {number}") for slot in range(images_per_product)]
        if index == 2:
            media.insert(1, FakeMedia(id=f"{MEDIA_GID}{number * 10 + 9}", file_name="", content_type="VIDEO"))
        products.append(FakeProduct(
            id=f"{PRODUCT_GID}{number}", handle=f"product-{number}", title=f"Product {number}",
            product_type=types[index % 3], tags=["sale"] if index % 4 == 0 else ["new", "summer sale"],
            status="DRAFT" if index % 5 == 4 else "ACTIVE", collections={1} | ({2} if index % 2 == 0 else set()),
            media=media,
        ))
    return products


class SearchError(ValueError):
    """A search string this fake does not understand (a test then sees a GraphQL error, not a silent match)."""


_TERM = re.compile(r'\s*(?:(?P<group>\()|(?P<field>[a-z_]+):(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s()]+)))')


def matches(product: FakeProduct, search: str | None) -> bool:
    """Shopify product search: `field:value` terms joined by AND, values bare or double-quoted, and (groups)."""
    if not search or not search.strip():
        return True
    return all(_term_matches(product, term) for term in _split_and(search.strip()))


def _split_and(search: str) -> list[str]:
    """Split on " AND " outside quotes and parentheses."""
    parts, depth, start, quoted, escaped, index = [], 0, 0, False, False, 0
    while index < len(search):
        char = search[index]
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and search.startswith(" AND ", index):
            parts.append(search[start:index])
            start = index = index + 5
            continue
        index += 1
    parts.append(search[start:])
    return [part.strip() for part in parts if part.strip()]


def _term_matches(product: FakeProduct, term: str) -> bool:
    if term.startswith("(") and term.endswith(")"):
        return matches(product, term[1:-1])
    found = _TERM.fullmatch(term)
    if not found or found.group("group"):
        raise SearchError(f"the fake store does not understand the search term {term!r}")
    name = found.group("field")
    value = found.group("quoted")
    value = re.sub(r"\\(.)", r"\1", value) if value is not None else found.group("bare")
    if name == "collection_id":
        return int(value) in product.collections
    if name == "tag":
        return value.lower() in (tag.lower() for tag in product.tags)
    if name == "product_type":
        return product.product_type.lower() == value.lower()
    if name == "status":
        return product.status.lower() == value.lower()
    if name == "title":
        return value.lower() in product.title.lower()
    if name == "handle":
        return product.handle == value
    if name == "id":
        return value.isdigit() and numeric_id(product.id) == int(value)
    raise SearchError(f"the fake store does not know the search field {name!r}")
