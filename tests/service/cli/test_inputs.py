"""Batch inputs, titles CSV and option parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusion.errors import InvalidOptionError
from prompting import build_prompts
from service.cli.inputs import collect_inputs, read_titles, title_for
from service.engine.options import parse_size


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folders_are_recursive_and_keep_subfolders(tmp_path: Path) -> None:
    _touch(tmp_path / "shop" / "a.jpg")
    _touch(tmp_path / "shop" / "shoes" / "b.PNG")
    _touch(tmp_path / "shop" / "notes.txt")
    items = collect_inputs([str(tmp_path / "shop")])
    assert [str(i.relative) for i in items] == ["a", "shoes/b"]


def test_globs_and_duplicates(tmp_path: Path) -> None:
    a = _touch(tmp_path / "x" / "a.jpg")
    _touch(tmp_path / "y" / "a.jpg")
    assert len(collect_inputs([str(tmp_path / "x" / "*.jpg"), str(a)])) == 1  # same file twice is one item
    with pytest.raises(InvalidOptionError, match="would both write"):
        collect_inputs([str(tmp_path / "x" / "a.jpg"), str(tmp_path / "y" / "a.jpg")])
    with pytest.raises(InvalidOptionError, match="no such file"):
        collect_inputs([str(tmp_path / "*.webp")])


def test_titles_csv_matches_by_path_or_name(tmp_path: Path) -> None:
    csv_path = tmp_path / "titles.csv"
    csv_path.write_text("\ufeffImage,Title,Prompt\nshoes/b.jpg,Leather Boot,boot\na.jpg,Mug,\n", encoding="utf-8")
    rows = read_titles(csv_path)
    items = collect_inputs([str(_touch(tmp_path / "shoes" / "b.jpg")), str(_touch(tmp_path / "a.jpg"))])
    assert title_for(items[0], rows).prompt == "boot"
    assert title_for(items[1], rows).title == "Mug"
    bad = tmp_path / "bad.csv"
    bad.write_text("name,description\n", encoding="utf-8")
    with pytest.raises(InvalidOptionError, match="'title' column"):
        read_titles(bad)


def test_typed_prompt_overrides_title_and_both_are_kept() -> None:
    prompts = build_prompts(title="  Women's  Boot ", prompt="boot")
    assert prompts.positives[0] == "boot" and prompts.title == "Women's Boot" and prompts.source == "prompt"
    assert build_prompts(title="Mug").source == "title"
    assert build_prompts().empty


@pytest.mark.parametrize(
    "spec, size", [("1000", (1000, 1000)), ("1600x1200", (1600, 1200)), (" 800 × 600 ", (800, 600))]
)
def test_parse_size(spec: str, size: tuple[int, int]) -> None:
    assert parse_size(spec) == size


@pytest.mark.parametrize("spec", ["0", "12x99999", "big", "10x"])
def test_parse_size_rejects(spec: str) -> None:
    with pytest.raises(InvalidOptionError):
        parse_size(spec)
