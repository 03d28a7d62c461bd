"""Typed errors raised by library code; the CLI and API map them to exit codes / HTTP errors.

Every message is one line a seller can act on.
"""

from __future__ import annotations


class PromptcutError(Exception):
    """Base class. `code` is a stable machine-readable identifier."""

    code = "error"


class InvalidImageError(PromptcutError):
    """The bytes are not a decodable image (truncated, empty, not an image)."""

    code = "invalid_image"


class ImageTooLargeError(PromptcutError):
    """Pixel count above the configured limit (decompression-bomb guard)."""

    code = "image_too_large"


class ImageTooSmallError(PromptcutError):
    """Too few pixels to segment meaningfully."""

    code = "image_too_small"


class UnknownThemeError(PromptcutError):
    code = "unknown_theme"


class InvalidThemeError(PromptcutError):
    """A theme file exists but does not describe a valid theme."""

    code = "invalid_theme"


class InvalidOptionError(PromptcutError):
    """A parameter value out of range or malformed (colour, size, fill ratio...)."""

    code = "invalid_option"


class UnknownSegmenterError(PromptcutError):
    code = "unknown_segmenter"


class DatasetError(PromptcutError):
    """An evaluation folder is not laid out as expected."""

    code = "invalid_dataset"


class NoProductError(PromptcutError):
    """The cut-out is empty, so there is nothing to frame or place: a fully transparent input, or a photo
    in which nothing could be separated from the background."""

    code = "no_product"


class OutputWriteError(PromptcutError):
    """An output file could not be written (permissions, disk full...); nothing partial is left behind."""

    code = "write_failed"


class ModelNotFoundError(PromptcutError):
    """A neural model is not in the model directory (the message names the folder and `promptcut models pull`)."""

    code = "model_missing"


class ModelLoadError(PromptcutError):
    """A model folder exists but its files could not be loaded (incomplete download, wrong version)."""

    code = "model_load_failed"


class InvalidArtifactError(PromptcutError):
    """A stored intermediate result (evidence, layer...) is missing, corrupt or of an unknown version."""

    code = "artifact_invalid"
