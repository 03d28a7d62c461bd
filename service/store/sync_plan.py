"""What a sync does with each product's images, decided from what the store shows (pure: no calls).

For every chosen image (the first image, or all with --all-images):
  - a photo of ours (its id is in the product's marks, or its file name is ours) is never cut again: with the
    same look it is `unchanged`; with another look it is redone from the original it was made from;
  - a store original that already has a photo of ours made with the same look (add-first) is `unchanged`;
    with another look it is cut again and our old photo is replaced;
  - any other image is cut (`new`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.store.catalogue import StoreImage, StoreProduct
from service.store.marker import MediaMark, is_our_url


@dataclass(frozen=True)
class PlannedImage:
    """One chosen image. action: new | redo | unchanged. `target` is the image as the store shows it (the
    original, or our earlier photo); `original_id` the store's original media (`original_present`: still on the
    product); `replaces_ours` our earlier photo of it; `source` the original's sha256 when it must come from our
    artifact store because the store no longer has it."""

    action: str
    target: StoreImage
    main: bool
    original_id: str
    original_present: bool
    replaces_ours: str | None = None
    source: str | None = None


def plan_product(product: StoreProduct, marks: Mapping[str, MediaMark], look: str,
                 all_images: bool) -> list[PlannedImage]:
    present = {image.media_id for image in product.images}
    first = product.images[0].media_id if product.images else None
    by_original = {mark.original: mark for mark in marks.values() if mark.media_id in present}
    plans: list[PlannedImage] = []
    for image in product.images if all_images else product.images[:1]:
        main = image.media_id == first
        mark = marks.get(image.media_id)
        if mark is not None or is_our_url(image.url):
            if mark is None or (all_images and mark.original in present):
                continue  # ours without a record to compare, or handled through its original (add-first)
            kept = mark.original in present
            action = "unchanged" if mark.look == look else "redo"
            plans.append(PlannedImage(action, image, main, mark.original, kept, mark.media_id,
                                      None if kept else mark.source))
            continue
        earlier = by_original.get(image.media_id)
        if earlier is None:
            plans.append(PlannedImage("new", image, main, image.media_id, True))
        else:
            action = "unchanged" if earlier.look == look else "redo"
            plans.append(PlannedImage(action, image, main, image.media_id, True, earlier.media_id))
    return plans
