"""Product titles and seller prompts → what to keep (PromptSet).

Light to import: torch and sentence-transformers load only when embedding label hints are asked for.
"""

from prompting.build import build_prompts
from prompting.errors import LabelModelError, PromptingError
from prompting.resources import coco_class_info_path, coco_panoptic_classes
from prompting.types import PromptSet

__all__ = [
    "LabelModelError",
    "PromptSet",
    "PromptingError",
    "build_prompts",
    "coco_class_info_path",
    "coco_panoptic_classes",
]
