"""`promptcut store csv`: the CSV round trip for stores without API access (docs/store.md).

Each distinct image of a Shopify product export is fetched under the API's URL rules (service.net.fetch, read
from the PROMPTCUT_* settings), cut and rendered by the batch path `promptcut replace` runs (service.cli.batch),
and the import CSV is the export with only the replaced image cells changed (service.store.csv_roundtrip).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from fusion.compose import Framing
from fusion.errors import InvalidOptionError
from fusion.feather import FeatherOptions
from fusion.imageio import write_atomic
from fusion.protocol import Segmenter
from fusion.render import OutputOptions, check_combination
from fusion.segmenters import choose_segmenter
from service.cli.batch import BatchSettings, output_path, process_item
from service.cli.errors import EXIT_ITEM_FAILED, fail, user_errors
from service.cli.inputs import BatchItem, TitleRow
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
from service.net.fetch import FetchError, fetch_image, parse_allow_host
from service.settings import Settings
from service.store.csv_roundtrip import ImageJob, plan_images, read_export, rewrite

IMPORT_NAME = "products_import.csv"


@dataclass(frozen=True)
class ImageOutcome:
    job: ImageJob
    file_name: str  # in --out
    status: str  # replaced | skipped (already in --out) | failed
    error: str = ""


def csv_command(
    export: Path = typer.Argument(..., help="Product CSV exported from the store (Shopify: Products → Export)."),
    out: Path = typer.Option(..., "--out", help="Folder for the new images (created if missing)."),
    public_url: str = typer.Option(
        ..., "--public-url", help="Base URL where --out is served; the import CSV points at BASE/<file name>."
    ),
    csv_out: Optional[Path] = typer.Option(
        None, "--csv-out", help=f"Where to write the import CSV (default: OUT/{IMPORT_NAME})."
    ),
    all_images: bool = typer.Option(
        False, "--all-images", help="Replace every image of a product, not only its main one."
    ),
    theme: Optional[str] = theme_option(),
    background: Optional[str] = background_option(),
    theme_dir: list[Path] = theme_dir_option(),
    fmt: str = typer.Option("jpeg", "--format", help="jpeg | png | webp."),
    quality: int = quality_option(),
    fill: float = fill_option(),
    size: Optional[str] = size_option(),
    crop: bool = crop_option(),
    align: str = align_option(),
    margin: float = margin_option(),
    shadow: Optional[bool] = shadow_option(),
    feather_method: str = edge_option(),
    segmenter_name: str = segmenter_option(),
    models: Path = models_dir_option(),
    threads: int = threads_option(),
    model_side: int = model_side_option(),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Redo images already in --out (default: keep them, so a run resumes)."
    ),
    max_megapixels: float = typer.Option(40.0, "--max-megapixels", help="Refuse larger photos."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Replace the product images of a store's CSV export and write a CSV to import back."""
    with user_errors():
        # Everything is checked before any download, so a typo costs nothing.
        rules = _url_rules()
        base = _public_base(public_url)
        output = OutputOptions(format=fmt, quality=quality)
        if output.format == "mask":
            raise InvalidOptionError("--format mask writes cut-out masks, not store images; use jpeg, png or webp")
        chosen_background = resolve_background(theme, background, tuple(theme_dir))
        check_combination(chosen_background, output)
        settings = BatchSettings(
            out_dir=out,
            background=chosen_background,
            framing=Framing(crop=crop, fill=fill, align=align, margin=margin, size=parse_size(size), shadow=shadow),
            output=output,
            feather=FeatherOptions(method=feather_method),
            overwrite=overwrite,
            max_pixels=int(max_megapixels * 1_000_000),
        )
        choice = choose_segmenter(segmenter_name, models).with_threads(threads).with_model_side(model_side)
        parsed = read_export(export)
        plan = plan_images(parsed, all_images=all_images)
        csv_target = csv_out or out / IMPORT_NAME
        if csv_target.resolve() == export.resolve():
            raise InvalidOptionError(f"--csv-out {csv_target} would overwrite the export; write it elsewhere")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise fail(f"cannot create output folder {out}: {exc.strerror or exc}") from None
        segmenter = choice.build()
        if choice.notice:
            typer.echo(choice.notice, err=True)

        outcomes = _process_all(parsed.name, plan.jobs, segmenter, settings, rules, quiet)
        new_urls = {o.job.url: f"{base}/{o.file_name}" for o in outcomes if o.status != "failed"}
        write_atomic(csv_target, rewrite(parsed, plan, new_urls))

    counts = {status: sum(o.status == status for o in outcomes) for status in ("replaced", "skipped", "failed")}
    typer.echo(
        f"{counts['replaced']} images replaced, {counts['skipped']} skipped (already there), "
        f"{counts['failed']} failed; import CSV: {csv_target}",
        err=True,
    )
    if counts["failed"]:
        raise typer.Exit(EXIT_ITEM_FAILED)


def _url_rules() -> Settings:
    """The API's URL rules (PROMPTCUT_ALLOW_HTTP_URLS, PROMPTCUT_URL_ALLOW_HOSTS, timeouts, size cap)."""
    try:
        settings = Settings()
        for entry in settings.url_allow_hosts:
            parse_allow_host(entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "PROMPTCUT_" + str(first["loc"][0]).upper() if first.get("loc") else "settings"
        raise fail(f"invalid setting {field}: {first['msg']}") from None
    except ValueError as exc:
        raise fail(f"invalid setting PROMPTCUT_URL_ALLOW_HOSTS: {exc}") from None
    return settings


def _public_base(public_url: str) -> str:
    parts = urlsplit(public_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidOptionError(f"--public-url must be an http(s) URL such as https://cdn.example.com/photos, "
                                 f"got {public_url!r}")
    return public_url.strip().rstrip("/")


def _process_all(
    export_name: str, jobs: tuple[ImageJob, ...], segmenter: Segmenter, settings: BatchSettings, rules: Settings,
    quiet: bool,
) -> list[ImageOutcome]:
    """Each job in turn; a failure is reported on one line (file, row, handle, reason) and the run goes on."""
    console = Console(stderr=True)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="promptcut-store-") as scratch, Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=console, disable=quiet, transient=True,
    ) as progress:
        task = progress.add_task("replacing store images", total=len(jobs))
        for job in jobs:
            outcome = _process(job, segmenter, settings, rules, Path(scratch))
            if outcome.status == "failed":
                where = f"{export_name} row {job.row} (handle {job.handle})"
                console.print(f"failed {where}: {outcome.error}", markup=False, highlight=False, soft_wrap=True)
            outcomes.append(outcome)
            progress.advance(task)
    return outcomes


def _process(job: ImageJob, segmenter: Segmenter, settings: BatchSettings, rules: Settings,
             scratch: Path) -> ImageOutcome:
    """Fetch → the batch's cut/render/atomic write, unless the image is already in --out."""
    item = BatchItem(source=scratch / job.stem, relative=Path(job.stem))
    target = output_path(item, settings)
    if target.exists() and not settings.overwrite:
        return ImageOutcome(job, target.name, "skipped")
    try:
        item.source.write_bytes(fetch_image(job.url, rules))
    except FetchError as exc:
        return ImageOutcome(job, target.name, "failed", str(exc))
    except OSError as exc:
        return ImageOutcome(job, target.name, "failed", f"cannot store the download ({exc.strerror or exc})")
    result = process_item(item, segmenter, settings, {str(item.source): TitleRow(job.title, "")})
    item.source.unlink(missing_ok=True)
    if result.status == "failed":
        return ImageOutcome(job, target.name, "failed", result.error)
    return ImageOutcome(job, target.name, "replaced")
