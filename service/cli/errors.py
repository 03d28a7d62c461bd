"""Shared CLI plumbing: typed library errors become one-line messages and exit codes, never tracebacks."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

import typer

from fusion.errors import PromptcutError

EXIT_ITEM_FAILED = 1  # a batch ran but some items failed
EXIT_USAGE = 2  # bad input or options; nothing was done


def fail(message: str, code: int = EXIT_USAGE) -> "typer.Exit":
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Map library errors raised in the body to `error: <message>` on stderr and exit status 2."""
    try:
        yield
    except PromptcutError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
