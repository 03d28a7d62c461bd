"""`promptcut` command line. Each sub-command lives in its own module and registers itself here."""

from __future__ import annotations

import typer

from service import (
    cli_bench,
    cli_bench_neural,
    cli_bench_service,
    cli_eval,
    cli_models,
    cli_prompts,
    cli_replace,
    cli_themes,
    keys_cli,
    serve_cli,
)

app = typer.Typer(
    name="promptcut",
    help="Replace the background of product photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMANDS = (
    cli_replace, cli_eval, cli_themes, cli_bench, cli_bench_neural, cli_bench_service, cli_prompts, cli_models,
    keys_cli, serve_cli,
)
for module in COMMANDS:
    module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
