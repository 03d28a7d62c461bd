"""`promptcut` command line. Each sub-command lives in its own module, named in COMMANDS, and registers itself.

A command's module is imported only when that command runs (or `--help` lists it): `promptcut keys list` never
loads the image stack, and `promptcut replace` never loads the HTTP one, while every command module imports
what it needs at its top.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Command:
    module: str
    summary: str  # the line `promptcut --help` shows without importing the module (a test keeps it in step)


# Command name → where it lives; the order is the order `promptcut --help` lists them.
COMMANDS = {
    "replace": Command("service.cli.replace",
                       "Replace the background of every input image and write the results to --out."),
    "eval": Command("service.cli.eval",
                    "Score the cut on a folder of photos with ground-truth masks, per source and overall."),
    "themes": Command("service.cli.themes", "List the available background themes (built-in and from --dir)."),
    "bench": Command("service.cli.bench",
                     "Print median per-stage timings (ms) of decode → segment → select → feather → compose → encode."),
    "bench-neural": Command("service.cli.bench_neural",
                            "Time `NeuralSegmenter.segment` against the naive recipe on one photo, in one run."),
    "bench-service": Command(
        "service.cli.bench_service",
        "Time cut → reprompt → theme swap per photo (classical backend, JPEG), then the API on top.",
    ),
    "bench-store": Command(
        "service.cli.bench_store",
        "Time one store sync of N generated products on a fake shop: cutting vs the store, then a rerun and a revert.",
    ),
    "bench-workers": Command(
        "service.cli.bench_workers",
        "Time one bulk job on 1, 2, … worker processes, overload the API 10×, and time cut-outs during a bulk job.",
    ),
    "prompts": Command("service.cli.prompts", "Print the PromptSet of each TITLE as one JSON line."),
    "serve": Command("service.cli.serve", "Serve the HTTP API, the seller page (/) and the API docs (/docs)."),
    "worker": Command("service.cli.worker",
                      "Cut job items and re-render theme swaps handed out by `promptcut serve` (scaled out)."),
    "migrate": Command("service.cli.migrate",
                       "Bring the service database to the current schema and print its revision before and after."),
    "models": Command(
        "service.cli.models",
        "Models: what is present (status), fetching them (pull), registering a cut-out model file (add).",
    ),
    "keys": Command("service.cli.keys", "Create, list and revoke API keys for the service."),
    "store": Command("service.cli.store",
                     "Connect a Shopify store to an API key, list and disconnect it, replace its photos (sync, "
                     "revert), run seasonal campaigns, or round-trip a product CSV."),
}


@lru_cache(maxsize=None)
def load_command(name: str) -> Any:
    """The click command `name`, built from its module's `register(app)`."""
    module = importlib.import_module(COMMANDS[name].module)  # deferred on purpose: see the module docstring
    holder = typer.Typer(pretty_exceptions_enable=False)
    holder.callback()(lambda: None)  # a callback makes typer build a group, whatever the module registers
    module.register(holder)
    return typer.main.get_command(holder).commands[name]


class ListedCommand(TyperCommand):
    """A command as `promptcut --help` lists it; parsing its arguments loads the real one, which then runs."""

    def make_context(self, info_name, args, parent=None, **extra) -> Any:
        return load_command(self.name).make_context(info_name, args, parent=parent, **extra)


class LazyCommands(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, name: str) -> Any:
        command = COMMANDS.get(name)
        return ListedCommand(name, help=command.summary) if command else None


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
    app(prog_name="promptcut")  # the same name in messages whether run as `promptcut` or `python -m service.cli`
