"""`promptcut themes`: list the built-in and custom themes, optionally render a contact sheet of them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from fusion.errors import InvalidOptionError
from fusion.imageio import encode_image, write_atomic
from fusion.themes import BUILTIN_DIR, list_themes, render_theme
from service.cli.errors import user_errors

SHEET_COLUMNS = 4
LABEL_HEIGHT = 34


def contact_sheet(themes: list, tile: int = 320, columns: int = SHEET_COLUMNS):
    """A grid of rendered themes with their names under each tile: H×W×3 uint8."""

    columns = max(1, min(columns, len(themes)))
    rows = -(-len(themes) // columns)
    cell_h = tile + LABEL_HEIGHT
    sheet = np.full((rows * cell_h, columns * tile, 3), 32, np.uint8)
    scale = max(0.35, tile / 640)
    for i, theme in enumerate(themes):
        y, x = (i // columns) * cell_h, (i % columns) * tile
        sheet[y:y + tile, x:x + tile] = render_theme(theme, tile, tile)
        cv2.putText(sheet, theme.name, (x + 8, y + tile + int(LABEL_HEIGHT * 0.68)), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (235, 235, 235), 1, cv2.LINE_AA)
    return sheet


def themes(
    theme_dir: list[Path] = typer.Option([], "--dir", help="Folder of custom theme files (*.toml), repeatable."),
    sheet: Optional[Path] = typer.Option(None, "--sheet", help="Also write a PNG contact sheet of all themes here."),
    tile: int = typer.Option(320, "--tile", help="Contact sheet tile size in pixels (64-1024)."),
) -> None:
    """List the available background themes (built-in and from --dir)."""

    with user_errors():
        if not 64 <= tile <= 1024:
            raise InvalidOptionError(f"--tile must be between 64 and 1024, got {tile}")
        found = list_themes(tuple(theme_dir))
        table = Table(title="Themes")
        table.add_column("name", style="bold")
        table.add_column("title")
        table.add_column("description")
        table.add_column("source")
        for theme in found:
            origin = "built-in" if Path(theme.source).parent == BUILTIN_DIR else theme.source
            table.add_row(theme.name, theme.title, theme.description, origin)
        Console().print(table)
        if sheet is not None:
            write_atomic(sheet, encode_image(contact_sheet(found, tile), "png"))
            typer.echo(f"contact sheet written to {sheet}", err=True)


def register(app: typer.Typer) -> None:
    app.command("themes")(themes)
