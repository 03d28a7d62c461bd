"""`promptcut` command line. Each sub-command lives in its own module, named in COMMANDS, and registers itself.

A command's module is imported only when that command runs (or `--help` lists it): `promptcut keys list` never
loads the image stack, and `promptcut replace` never loads the HTTP one, while every command module imports
what it needs at its top.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

import typer
from typer.core import TyperGroup

# Command name → its module; the order is the order `promptcut --help` lists them.
COMMANDS = {
    "replace": "service.cli.replace",
    "eval": "service.cli.eval",
    "themes": "service.cli.themes",
    "bench": "service.cli.bench",
    "bench-neural": "service.cli.bench_neural",
    "bench-service": "service.cli.bench_service",
    "prompts": "service.cli.prompts",
    "serve": "service.cli.serve",
    "models": "service.cli.models",
    "keys": "service.cli.keys",
}


@lru_cache(maxsize=None)
def load_command(name: str):
    """The click command `name`, built from its module's `register(app)`."""
    module = importlib.import_module(COMMANDS[name])  # deferred on purpose: see the module docstring
    holder = typer.Typer(pretty_exceptions_enable=False)
    holder.callback()(lambda: None)  # a callback makes typer build a group, whatever the module registers
    module.register(holder)
    return typer.main.get_command(holder).commands[name]


class LazyCommands(TyperGroup):
    def list_commands(self, ctx) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx, name: str):
        return load_command(name) if name in COMMANDS else None


app = typer.Typer(
    name="promptcut",
    cls=LazyCommands,
    help="Replace the background of product photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """Replace the background of product photos."""


def main() -> None:
    app()
