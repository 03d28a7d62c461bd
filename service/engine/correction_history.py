"""A seller's correction steps for one item, kept in the item's metadata so they can be undone.

Each step is what one `POST /v1/items/{id}/corrections` added (clicks and/or a box) and the item version it
produced. The corrections the cut is redone with are every step's clicks in order, and the latest box. Undo drops
the last step; `to_version` keeps the steps made at or before a version; clear drops them all. The metadata shape
(`item.metadata["corrections"]`):

    {"points": [{"x", "y", "keep"}, ...every step's, in order...],
     "box": {"left", "top", "right", "bottom"} | null,          # the latest box
     "steps": [{"version": V, "points": n, "box": bool, "box_rect": {...} (when box)}, ...]}

`box_rect` is the box that step drew, so undoing it brings back the box before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from fusion.corrections import Box, Click, Corrections
from fusion.errors import InvalidArtifactError, InvalidOptionError

ACTIONS = ("add", "undo", "to_version", "clear")


@dataclass(frozen=True)
class CorrectionChange:
    """One seller request. action: add (`step` holds its clicks/box, not empty), undo, to_version (`version`),
    clear."""

    action: str
    step: Corrections = Corrections()
    version: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise InvalidOptionError(f"unknown correction {self.action!r}; one of {', '.join(ACTIONS)}")
        if self.action == "add" and self.step.empty:
            raise InvalidOptionError("a correction needs at least one point or a box")


@dataclass(frozen=True)
class Step:
    version: int  # the item version this step produced
    clicks: tuple[Click, ...] = ()
    box: Box | None = None


@dataclass(frozen=True)
class CorrectionHistory:
    steps: tuple[Step, ...] = ()

    @property
    def corrections(self) -> Corrections:
        """Every step's clicks in order and the latest box: what the cut is redone with."""
        total = Corrections()
        for step in self.steps:
            total = total.plus(Corrections(step.clicks, step.box))
        return total

    def changed(self, change: CorrectionChange, current_version: int) -> CorrectionHistory:
        """The history after `change`, made on an item now at `current_version` (the new result will be
        current_version + 1). InvalidOptionError when there is nothing to undo or the version is unknown."""
        if change.action == "add":
            step = Step(current_version + 1, change.step.clicks, change.step.box)
            return CorrectionHistory((*self.steps, step))
        if change.action == "undo":
            if not self.steps:
                raise InvalidOptionError("nothing to undo: the item shows the automatic cut")
            return CorrectionHistory(self.steps[:-1])
        if change.action == "to_version":
            if not 0 <= change.version <= current_version:
                raise InvalidOptionError(
                    f"to_version must be an existing version of this item, 0 to {current_version} "
                    f"(got {change.version})")
            return CorrectionHistory(tuple(step for step in self.steps if step.version <= change.version))
        return CorrectionHistory()

    def to_metadata(self) -> dict[str, Any]:
        steps = []
        for step in self.steps:
            row: dict[str, Any] = {"version": step.version, "points": len(step.clicks), "box": step.box is not None}
            if step.box is not None:
                row["box_rect"] = Corrections((), step.box).to_dict()["box"]
            steps.append(row)
        return {**self.corrections.to_dict(), "steps": steps}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> CorrectionHistory:
        """The history stored in an item's metadata (none → empty). InvalidArtifactError when inconsistent."""
        record = metadata.get("corrections")
        if not record:
            return cls()
        try:
            clicks = Corrections.from_dict(record).clicks
            rows = record.get("steps") or []
            steps, used = [], 0
            for row in rows:
                count = int(row["points"])
                box = Corrections.from_dict({"box": row["box_rect"]}).box if row.get("box") else None
                if count < 0 or used + count > len(clicks) or isinstance(row["version"], bool):
                    raise ValueError("step counts do not match the points")
                steps.append(Step(int(row["version"]), clicks[used:used + count], box))
                used += count
            if used != len(clicks):
                raise ValueError("step counts do not match the points")
        except (InvalidOptionError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidArtifactError(
                f"the item's stored corrections are unreadable ({exc}); clear them to start again") from None
        return cls(tuple(steps))
