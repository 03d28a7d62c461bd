"""`promptcut eval`: cut-out quality against human masks (IoU, accuracy, relaxed boundary F1, MAE)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from fusion.errors import InvalidOptionError
from fusion.evaluation.evaluate import (
    ALL,
    EvalOptions,
    build_methods,
    evaluate,
    load_dataset,
)
from fusion.imageio import write_atomic
from fusion.segmenters import choose_segmenter
from service.cli.errors import EXIT_ITEM_FAILED, user_errors
from service.cli.models import model_side_option, models_dir_option, segmenter_option

MAX_PROBLEMS_SHOWN = 20
MAX_CLICKS = 100


def eval_command(
    data_dir: Path = typer.Argument(
        ..., help="Folder with images/NAME.jpg + masks/NAME.png (and optionally prompts.csv)."
    ),
    segmenter_name: str = segmenter_option("Backend to evaluate: "),
    models: Path = models_dir_option(),
    baseline: list[str] = typer.Option(
        [], "--baseline",
        help="Also run this on the same images, repeatable: grabcut-rect, classical (the weight-free pipeline), "
        "raw-model (with --segmenter salient: its model alone, no pipeline).",
    ),
    studio: bool = typer.Option(
        False, "--studio",
        help="Also score composites built on the fly from the foregrounds, each family as its own rows: studio "
        "(plain/gradient backdrop, soft floor shadow), shadow (hard cast shadows), pale (pale parts on a white sweep).",
    ),
    limit: int = typer.Option(
        0, "--limit", help="At most N foreground pairs and N prompted triples, spread over sources (0 = all)."
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    clicks: int = typer.Option(
        0, "--clicks",
        help="Also run the standard simulated user for up to N correction clicks per photo and report NoC@85, "
        "NoC@90 and IoU after 1, 3 and 5 clicks for every backend that takes corrections (try 20).",
    ),
    model_side: int = model_side_option(),
    tolerance: float = typer.Option(3.0, "--tolerance", help="Boundary F1 tolerance in px."),
    json_path: Optional[str] = typer.Option(
        None, "--json", help="Write the report with per-image rows to this file, or - for stdout."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Score the cut on a folder of photos with ground-truth masks, per source and overall."""

    # With --json - the JSON owns stdout; the human-readable table goes to stderr.
    console = Console(stderr=json_path == "-")
    with user_errors():
        if limit < 0 or workers < 1 or tolerance <= 0 or not 0 <= clicks <= MAX_CLICKS:
            raise InvalidOptionError(
                f"--limit must be ≥ 0, --workers ≥ 1, --tolerance > 0 and --clicks between 0 and {MAX_CLICKS}"
            )
        dataset = load_dataset(data_dir)
        choice = choose_segmenter(segmenter_name, models).with_model_side(model_side)
        if workers > 1:
            choice = choice.with_threads(1)  # processes side by side: one model thread each
        methods = build_methods(choice, baseline)
        if choice.notice:
            typer.echo(choice.notice, err=True)
        with _progress(console, quiet) as progress:
            report = evaluate(dataset, methods, EvalOptions(
                studio=studio, limit=limit, workers=workers, tolerance=tolerance, progress=progress, clicks=clicks,
            ))
        _print_report(console, report)
        if json_path:
            text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
            if json_path == "-":
                sys.stdout.write(text + "\n")
            else:
                write_atomic(Path(json_path), (text + "\n").encode("utf-8"))
    if report.problems:
        raise typer.Exit(EXIT_ITEM_FAILED)


class _progress:
    """A rich progress bar as a `progress(done, total)` callback (or a no-op when quiet)."""

    def __init__(self, console, quiet: bool) -> None:
        self._console, self._quiet, self._bar, self._task = console, quiet, None, None

    def __enter__(self):
        if self._quiet:
            return None

        self._bar = Progress("evaluating", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             TimeRemainingColumn(), console=self._console, transient=True)
        self._bar.__enter__()
        return self._update

    def _update(self, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._bar.add_task("eval", total=total)
        self._bar.update(self._task, completed=done)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _group_label(kind: str, source: str) -> str:
    if source == ALL:
        return {"pair": "ALL photos", "studio": "ALL studio", "prompt": "ALL prompted"}.get(kind, f"ALL {kind}")
    return f"{source}+prompt" if kind == "prompt" else source


def _add_grouped_rows(table: Table, summaries, cells: Callable[[Any], tuple[str, ...]]) -> None:
    """One row per (kind, source, method) summary: the group's label and count on its first row, a rule between
    groups, overall rows in bold."""
    previous = None
    for s in summaries:
        group = (s.kind, s.source)
        if previous is not None and group != previous:
            table.add_section()
        first = group != previous
        table.add_row(_group_label(s.kind, s.source) if first else "", str(s.count) if first else "", s.method,
                      *cells(s), style="bold" if s.source == ALL else None)
        previous = group


def _print_report(console, report) -> None:

    # Narrow enough for an 80-column terminal: one row per (source, method), a rule between sources.
    table = Table(title=f"{report.dataset}\nmean per image; relaxF1 within {report.tolerance:g} px",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for column, justify in (("source", "left"), ("n", "right"), ("method", "left"), ("IoU", "right"),
                            ("acc", "right"), ("relaxF1", "right"), ("MAE", "right"), ("s/img", "right")):
        table.add_column(column, justify=justify)
    _add_grouped_rows(table, report.summaries, lambda s: (
        f"{s.iou:.3f}", f"{s.accuracy:.3f}", f"{s.boundary_f1:.3f}", f"{s.mae:.3f}", f"{s.median_seconds:.2f}"))
    console.print(table)
    if report.click_summaries:
        _print_clicks(console, report)
    if report.timings:
        parts = [f"{t.method} {t.median_seconds:.3f} s ({t.count} runs)" for t in report.timings]
        console.print("median seconds per image: " + ", ".join(parts), soft_wrap=True)
        for name in report.methods[1:]:
            ratio = report.speed_ratio(name)
            if ratio is not None:
                console.print(f"time ratio {report.ours} / {name} = {ratio:.2f}"
                              f" ({'ours faster' if ratio < 1 else 'ours slower'})", soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}", soft_wrap=True)  # one line each, greppable
    if report.problems:
        console.print(f"[bold red]{len(report.problems)} item(s) not scored:[/bold red]")
        for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
            console.print(f"  {problem.item}: {problem.message}", markup=False, highlight=False, soft_wrap=True)
        if len(report.problems) > MAX_PROBLEMS_SHOWN:
            console.print(f"  … and {len(report.problems) - MAX_PROBLEMS_SHOWN} more (see --json)")


def _print_clicks(console, report) -> None:
    table = Table(title=f"clicks to fix (simulated user, at most {report.clicks}; 0 = the automatic cut was enough)",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("source", "n", "method", "NoC@85", "NoC@90", "IoU@1", "IoU@3", "IoU@5", ">cap@90"):
        table.add_column(column, justify="left" if column in ("source", "method") else "right")
    _add_grouped_rows(table, report.click_summaries, lambda c: (
        f"{c.noc85:.2f}", f"{c.noc90:.2f}", *(f"{v:.3f}" for v in c.iou_after), str(c.failed90)))
    console.print(table)
    median = report.median_click_seconds()
    if median is not None:
        console.print(f"median seconds per correction (corrections + feathering): {median:.3f}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
