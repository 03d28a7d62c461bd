"""`promptcut prompts`: show what product titles turn into (noun, prompts, negatives, label hints), one JSON
line per title, so a seller or support engineer can see why a cut kept what it kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from prompting import PromptingError, build_prompts
from service.cli.errors import fail, user_errors


def _read_titles(titles: list[str], titles_file: Optional[Path]) -> list[str]:
    if titles_file is None:
        return titles
    text = sys.stdin.read() if str(titles_file) == "-" else titles_file.read_text(encoding="utf-8")
    return titles + [line for line in text.splitlines() if line.strip()]


def prompts(
    titles: list[str] = typer.Argument(None, help="Product titles (quote each one)."),
    titles_file: Optional[Path] = typer.Option(
        None, "--file", help="Also read titles from this file, one per line ('-' = standard input)."
    ),
    prompt: Optional[str] = typer.Option(
        None, "--prompt", help="A typed prompt that overrides the titles (\"mug without the saucer\")."
    ),
    hints: str = typer.Option(
        "auto", "--hints", help="Label hints: auto (embedding model if installed, else lexical), embedding, "
        "lexical or none."
    ),
    lexical: bool = typer.Option(False, "--lexical", help="Same as --hints lexical (no model is loaded)."),
) -> None:
    """Print the PromptSet of each TITLE as one JSON line.

    A title with no product words (empty, or only sizes/SKUs/marketing) still prints a line, with no
    positives and source "none": the cut then uses the segmenter's no-prompt path (centre subject).
    """
    method = "lexical" if lexical else hints
    try:
        all_titles = _read_titles(list(titles or []), titles_file)
    except OSError as exc:
        raise fail(f"cannot read titles from {titles_file}: {exc.strerror or exc}") from None
    if not all_titles and not prompt:
        raise fail("give at least one TITLE, --file or --prompt")
    with user_errors():
        for title in all_titles or [""]:
            try:
                prompt_set = build_prompts(title, prompt, hints=method)
            except PromptingError as exc:
                raise fail(str(exc)) from None
            typer.echo(json.dumps(prompt_set.to_dict(), ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.command("prompts")(prompts)
