"""`promptcut replace`: cut out products and put them on a new background, over files, folders and globs."""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from fusion.compose import Framing
from fusion.corrections import Box, Click, Corrections
from fusion.errors import InvalidOptionError
from fusion.feather import FeatherOptions
from fusion.render import OutputOptions, check_combination
from fusion.segmenters import choose_segmenter
from service.cli.batch import BatchSettings, run_batch
from service.cli.errors import EXIT_ITEM_FAILED, fail, user_errors
from service.cli.inputs import collect_inputs, read_titles
from service.cli.look_options import (
    align_option,
    background_option,
    crop_option,
    edge_option,
    fill_option,
    margin_option,
    quality_option,
    shadow_option,
    size_option,
    theme_dir_option,
    theme_option,
)
from service.cli.models import model_side_option, models_dir_option, segmenter_option, threads_option
from service.engine.options import parse_size, resolve_background


def replace(
    inputs: list[str] = typer.Argument(..., help="Image files, folders (searched recursively) or globs."),
    out: Path = typer.Option(..., "--out", help="Output folder (created if missing)."),
    theme: Optional[str] = theme_option(),
    background: Optional[str] = background_option(),
    theme_dir: list[Path] = theme_dir_option(),
    title: Optional[str] = typer.Option(None, "--title", help="Product title used for every input."),
    titles: Optional[Path] = typer.Option(None, "--titles", help="CSV with columns file,title[,prompt]."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="What to keep, typed; overrides titles."),
    fmt: str = typer.Option("png", "--format", help="png | webp | jpeg | mask (8-bit alpha as <stem>.png)."),
    quality: int = quality_option(),
    fill: float = fill_option(),
    size: Optional[str] = size_option(),
    crop: bool = crop_option(),
    align: str = align_option(),
    margin: float = margin_option(),
    shadow: Optional[bool] = shadow_option(),
    feather_method: str = edge_option(),
    threshold: float = typer.Option(0.5, "--threshold", help="Cut level for --edge threshold/blur."),
    sharpen_amount: float = typer.Option(0.0, "--sharpen", help="Sharpen before segmenting (0 = off)."),
    segmenter_name: str = segmenter_option(),
    models: Path = models_dir_option(),
    threads: int = threads_option(),
    model_side: int = model_side_option(),
    precision: str = typer.Option(
        "auto", "--precision", help="Neural backend: auto (bf16 where the CPU has it) | bf16 | fp32."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Redo outputs that already exist (default: skip them, so a batch resumes)."
    ),
    max_megapixels: float = typer.Option(
        40.0, "--max-megapixels", help="Refuse larger inputs (decompression-bomb guard)."
    ),
    keep: list[str] = typer.Option(
        [], "--keep", help="X,Y: a click on a part of the product the cut missed (photo pixels; repeatable; "
        "one input only)."
    ),
    remove: list[str] = typer.Option(
        [], "--remove", help="X,Y: a click on something the cut kept that is not the product (repeatable; "
        "one input only)."
    ),
    box: Optional[str] = typer.Option(
        None, "--box", help="LEFT,TOP,RIGHT,BOTTOM: the product lies inside (photo pixels; one input only)."
    ),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write a JSON summary to this file, or - for stdout."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Replace the background of every input image and write the results to --out."""
    with user_errors():
        # Validate everything before touching any file, so a typo never leaves half a batch behind.
        output = OutputOptions(format=fmt, quality=quality)
        chosen_background = resolve_background(theme, background, tuple(theme_dir))
        check_combination(chosen_background, output)
        framing = Framing(crop=crop, fill=fill, align=align, margin=margin, size=parse_size(size), shadow=shadow)
        feather_options = FeatherOptions(method=feather_method, threshold=threshold, sharpen=sharpen_amount)
        choice = choose_segmenter(segmenter_name, models)  # a missing model fails here, loads nothing
        if choice.name == "neural":
            if precision not in ("auto", "bf16", "fp32"):
                raise InvalidOptionError(f"--precision must be auto, bf16 or fp32, got {precision!r}")
            choice = choice.with_options(precision=precision)
        choice = choice.with_threads(threads).with_model_side(model_side)
        segmenter, notice = choice.build(), choice.notice
        corrections = _corrections(keep, remove, box)
        items = collect_inputs(inputs)
        if not corrections.empty and len(items) != 1:
            raise InvalidOptionError(
                f"--keep, --remove and --box apply to one photo, but {len(items)} inputs were given; "
                "name that photo alone"
            )
        title_rows = read_titles(titles) if titles else {}
        settings = BatchSettings(
            out_dir=out,
            background=chosen_background,
            framing=framing,
            output=output,
            feather=feather_options,
            overwrite=overwrite,
            max_pixels=int(max_megapixels * 1_000_000),
            prompt=prompt or "",
            title=title or "",
            corrections=corrections,
        )
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise fail(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if notice:
        typer.echo(notice, err=True)

    results = _run_with_progress(items, segmenter, settings, title_rows, quiet)
    counts = Counter(r.status for r in results)
    review = sum(r.needs_review for r in results)
    summary = {
        "done": counts["done"],
        "needs_review": review,
        "skipped": counts["skipped"],
        "failed": counts["failed"],
        "items": [r.__dict__ for r in results],
    }
    flagged = f" ({review} need{'s' if review == 1 else ''} review)" if review else ""
    typer.echo(
        f"{counts['done']} done{flagged}, {counts['skipped']} skipped (already there), {counts['failed']} failed",
        err=True,
    )
    if json_path == "-":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    elif json_path:
        Path(json_path).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if counts["failed"]:
        raise typer.Exit(EXIT_ITEM_FAILED)


def _numbers(text: str, count: int, flag: str, form: str) -> list[float]:
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise InvalidOptionError(f"{flag} takes {form} in the photo's pixels, got {text!r}")
    return values


def _corrections(keep: list[str], remove: list[str], box: str | None) -> Corrections:
    """--keep/--remove X,Y and --box L,T,R,B → Corrections (keep clicks first, then remove clicks, so a
    remove click wins where two disagree). Whether they lie inside the photo is checked once it is decoded."""
    clicks = [Click(*_numbers(text, 2, "--keep", "X,Y"), keep=True) for text in keep]
    clicks += [Click(*_numbers(text, 2, "--remove", "X,Y"), keep=False) for text in remove]
    chosen_box = Box(*_numbers(box, 4, "--box", "LEFT,TOP,RIGHT,BOTTOM")) if box else None
    return Corrections(tuple(clicks), chosen_box)


def _run_with_progress(items, segmenter, settings, title_rows, quiet):

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task("replacing backgrounds", total=len(items))

        def on_item(result) -> None:
            if result.status == "failed":
                console.print(
                    f"[red]failed[/red] {escape(result.source)}: {escape(result.error)}",
                    highlight=False,
                    soft_wrap=True,
                )
                progress.advance(task)
                return
            if "corrections" in result.metadata:  # the selection's reason ends "…; corrected by 1 click"
                said = result.metadata.get("selection", {}).get("reason", "").rpartition("; ")[2]
                console.print(f"[green]corrected[/green] {escape(result.source)}: the automatic cut, {escape(said)}",
                              highlight=False, soft_wrap=True)
            if result.needs_review:
                why = "; ".join(result.review_messages)
                console.print(
                    f"[yellow]needs review[/yellow] {escape(result.source)}: {escape(why)}"
                    f" \\[{escape(', '.join(result.review_reasons))}]",
                    highlight=False,
                    soft_wrap=True,
                )
            progress.advance(task)

        return run_batch(items, segmenter, settings, title_rows, on_item)


def register(app: typer.Typer) -> None:
    app.command("replace")(replace)
