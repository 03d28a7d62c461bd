"""Themes: built-ins render at any size deterministically, custom folders, validation errors, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from fusion.colour import parse_colour
from fusion.errors import InvalidThemeError, UnknownThemeError
from fusion.themes import list_themes, load_theme, render_theme
from fusion.themes import renderer as theme_renderer

REQUIRED = {"winter-holidays", "halloween", "valentines", "spring", "summer-sale", "black-friday"}

CUSTOM = """
name = "store-brand"
title = "Store brand"
description = "Our teal with confetti."
seed = 5

[base]
colours = ["#0b7a75", "#14a098"]
direction = "diagonal"

[[layers]]
kind = "confetti"
colours = ["#ffffff", "#ffcf56"]
density = 30
size = [0.01, 0.03]
"""


def test_builtins_present_and_described():
    themes = {theme.name: theme for theme in list_themes()}
    assert REQUIRED <= set(themes)
    assert len(themes) >= 6
    for theme in themes.values():
        assert theme.title and theme.description and theme.base.colours


@pytest.mark.parametrize("name", sorted(REQUIRED | {"studio-white", "studio-grey"}))
@pytest.mark.parametrize(("width", "height"), [(300, 200), (1000, 1500)])
def test_every_theme_renders_deterministically(name, width, height):
    theme = load_theme(name)
    first = render_theme(theme, width, height)
    theme_renderer._render_cached.cache_clear()  # really render again, not from the cache
    second = render_theme(theme, width, height)
    assert first.shape == (height, width, 3) and first.dtype == np.uint8
    assert np.array_equal(first, second)
    assert first.std() > 3.0, f"{name} looks flat"
    first[:] = 0  # callers get their own copy
    assert render_theme(theme, width, height).any()


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_seasonal_themes_keep_the_centre_calm(name):
    image = render_theme(load_theme(name), 400, 400).astype(np.float32)
    detail = np.abs(np.diff(image, axis=1)).sum(axis=2)  # local contrast (element edges)
    centre = detail[130:270, 130:270].mean()
    border = np.concatenate([detail[:60].ravel(), detail[-60:].ravel(), detail[:, :60].ravel()]).mean()
    assert centre < border, (centre, border)


def test_custom_theme_folder(tmp_path):
    (tmp_path / "store-brand.toml").write_text(CUSTOM)
    names = [theme.name for theme in list_themes([tmp_path])]
    assert "store-brand" in names and REQUIRED <= set(names)
    theme = load_theme("store-brand", extra_dirs=[tmp_path])
    assert theme.base.direction == "diagonal" and theme.layers[0].kind == "confetti"
    assert render_theme(theme, 120, 80).shape == (80, 120, 3)
    assert load_theme(tmp_path / "store-brand.toml").name == "store-brand"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("density = 30", 'density = "lots"'), "layers[0].density"),
        (("density = 30", "densty = 30"), "layers[0].densty"),
        (('kind = "confetti"', 'kind = "fireworks"'), "layers[0].kind"),
        (('"#ffcf56"', '"#zzzzzz"'), "layers[0].colours"),
        (('direction = "diagonal"', 'direction = "spiral"'), "base.direction"),
        (("size = [0.01, 0.03]", "size = [0.05, 0.01]"), "layers[0].size"),
        (("seed = 5", 'seed = "five"'), "seed"),
    ],
)
def test_bad_theme_file_names_the_field(tmp_path, change, field):
    old, new = change
    assert old in CUSTOM
    path = tmp_path / "broken.toml"
    path.write_text(CUSTOM.replace(old, new))
    with pytest.raises(InvalidThemeError) as info:
        load_theme(path)
    assert f"'{field}'" in str(info.value) and str(path) in str(info.value)


def test_theme_without_base_and_bad_toml(tmp_path):
    path = tmp_path / "nobase.toml"
    path.write_text('name = "nobase"\n')
    with pytest.raises(InvalidThemeError, match="'base'"):
        load_theme(path)
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    with pytest.raises(InvalidThemeError, match="not valid TOML"):
        list_themes([tmp_path])


def test_unknown_theme_lists_valid_names():
    with pytest.raises(UnknownThemeError) as info:
        load_theme("christmas-in-july")
    assert all(name in str(info.value) for name in REQUIRED)


def test_parse_colour():
    assert parse_colour("#abc") == (0xAA, 0xBB, 0xCC)
    assert parse_colour("1, 2, 3") == (1, 2, 3)


def _cli() -> typer.Typer:
    from service.cli import themes as cli_themes

    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, so `themes` is a sub-command as in the real app
        pass

    cli_themes.register(app)
    return app


def test_cli_lists_themes_and_writes_a_sheet(tmp_path):
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "store-brand.toml").write_text(CUSTOM)
    sheet = tmp_path / "sheet.png"
    result = CliRunner().invoke(
        _cli(), ["themes", "--dir", str(tmp_path / "custom"), "--sheet", str(sheet), "--tile", "96"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    listed = [name for name in REQUIRED | {"store-brand"} if name in result.output]
    assert len(listed) == len(REQUIRED) + 1
    from PIL import Image

    with Image.open(sheet) as image:
        assert image.format == "PNG" and image.width == 4 * 96 and image.height >= 2 * 96


def test_cli_bad_theme_dir_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(_cli(), ["themes", "--dir", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "error:" in result.output and "missing" in result.output
