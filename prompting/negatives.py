"""Things that touch a product in storefront photos but are not for sale, by product category.

Apparel is shot on models, mannequins and hangers (the Vestiaire team had to remove body parts from clothing
shots); jewellery on hands, necks and display busts; objects stand on tables and floors. A category with no
typical intruders gets no negatives rather than guesses.
"""

from __future__ import annotations

NEGATIVES_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "apparel": ("person", "face", "hand", "skin", "mannequin", "hanger"),
    "shoes": ("person", "leg", "foot", "hand", "shoe box"),
    "bags": ("person", "hand", "arm", "mannequin"),
    "jewellery": ("hand", "finger", "neck", "ear", "skin", "display stand"),
    "furniture": ("floor", "wall", "rug"),
    "home": ("table", "shelf", "floor", "wall"),
    "kitchen": ("table", "countertop", "hand", "food"),
    "electronics": ("hand", "table", "desk"),
    "toys": ("hand", "child", "table", "floor"),
    "beauty": ("hand", "skin", "face", "table"),
    "sports": ("person", "hand", "floor", "grass"),
    "music": ("person", "hand", "stand", "floor"),
    "stationery": ("hand", "desk", "table"),
}


def negatives_for(category: str, noun: str) -> tuple[str, ...]:
    """Negative phrases for a category, never naming the product itself (a rug is not removed from a rug)."""
    noun_words = set(noun.split())
    return tuple(
        phrase
        for phrase in NEGATIVES_BY_CATEGORY.get(category, ())
        if phrase != noun and not noun_words & set(phrase.split())
    )
