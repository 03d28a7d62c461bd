"""Read what the API and the job runner show from a cut's metadata (backend, labels, confidence, review, stage
timings), tolerating both shapes the pipeline produces: {"timings": {stage: s}} and {"timings_ms": {stage: ms}}."""

from __future__ import annotations

from typing import Any, Mapping


def stage_seconds(metadata: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, scale in (("timings_ms", 0.001), ("timings", 1.0)):
        timings = metadata.get(key)
        if isinstance(timings, Mapping):
            for stage, value in timings.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                    out[str(stage)] = float(value) * scale
    return out


def _selection(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    selection = metadata.get("selection")
    return selection if isinstance(selection, Mapping) else metadata


def chosen_labels(metadata: Mapping[str, Any]) -> list[str]:
    selection = _selection(metadata)
    for key in ("chosen", "labels", "chosen_labels"):
        value = selection.get(key)
        if isinstance(value, (list, tuple)):
            return [str(label) for label in value]
    return []


def confidence(metadata: Mapping[str, Any]) -> float | None:
    value = _selection(metadata).get("confidence")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def review_of(metadata: Mapping[str, Any]) -> tuple[bool, list[str], list[str]]:
    """(needs_review, reason codes, sentences) from a result's metadata (fusion.review); a result recorded before
    reviews existed reads as not flagged."""
    reasons = metadata.get("review_reasons")
    codes = [str(code) for code in reasons] if isinstance(reasons, (list, tuple)) else []
    detail = metadata.get("review")
    messages = detail.get("messages") if isinstance(detail, Mapping) else None
    sentences = [str(text) for text in messages] if isinstance(messages, (list, tuple)) else []
    return bool(metadata.get("needs_review")) or bool(codes), codes, sentences


def header_safe(text: str, limit: int = 500) -> str:
    """HTTP header values are latin-1 on one line: anything else becomes '?'."""
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return clean[:limit]


def server_timing(metadata: Mapping[str, Any], totals: Mapping[str, float] | None = None) -> str:
    """`Server-Timing: segment;dur=123.4, feather;dur=5.1, cut;dur=300.2` (milliseconds): the pipeline's stages,
    then `totals` (e.g. the whole engine call, fetch, persist)."""
    parts = []
    for stage, seconds in {**stage_seconds(metadata), **(totals or {})}.items():
        token = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stage) or "stage"
        parts.append(f"{token};dur={seconds * 1000:.1f}")
    return ", ".join(parts)
