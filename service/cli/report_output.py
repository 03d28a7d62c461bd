"""How the bench commands hand over a report: its lines on stdout, and with --json its dict as JSON (to a file, or
to stdout after the lines with `--json -`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import typer


class Report(Protocol):
    def lines(self) -> list[str]: ...
    def to_dict(self) -> dict[str, Any]: ...


def print_report(report: Report, json_path: str | None) -> None:
    for line in report.lines():
        typer.echo(line)
    if json_path:
        text = json.dumps(report.to_dict(), indent=2)
        typer.echo(text) if json_path == "-" else Path(json_path).write_text(text + "\n")
