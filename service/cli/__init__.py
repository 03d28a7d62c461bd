"""`promptcut` command line. Each sub-command lives in its own module and registers itself here."""

from __future__ import annotations

import typer

from service.cli import (
    bench,
    bench_neural,
    bench_service,
    eval,
    keys,
    models,
    prompts,
    replace,
    serve,
    themes,
)

app = typer.Typer(
    name="promptcut",
    help="Replace the background of product photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMANDS = (replace, eval, themes, bench, bench_neural, bench_service, prompts, models, keys, serve)
for module in COMMANDS:
    module.register(app)


def main() -> None:
    app()

