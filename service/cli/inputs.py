"""Which files a batch works on, where each output goes, and which title belongs to which file."""

from __future__ import annotations

import csv
import glob
from dataclasses import dataclass
from pathlib import Path

from fusion.errors import InvalidOptionError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})


@dataclass(frozen=True)
class BatchItem:
    source: Path
    relative: Path  # output path relative to --out, without suffix


def _from_directory(folder: Path) -> list[BatchItem]:
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return [BatchItem(p, p.relative_to(folder).with_suffix("")) for p in found]


def collect_inputs(inputs: list[str]) -> list[BatchItem]:
    """Expand files, directories (recursively, image suffixes only, sub-folders kept in the output) and globs.

    Raises InvalidOptionError when an input matches nothing, or two inputs would write the same output.
    An explicitly named file is taken whatever its suffix, so a bad file is reported rather than ignored.
    """
    items: list[BatchItem] = []
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            items.extend(_from_directory(path))
        elif path.is_file():
            items.append(BatchItem(path, Path(path.stem)))
        else:
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise InvalidOptionError(f"no such file, folder or matching glob: {spec}")
            items.extend(BatchItem(m, Path(m.stem)) for m in files)
    seen: dict[Path, Path] = {}
    unique: list[BatchItem] = []
    for item in items:
        previous = seen.get(item.relative)
        if previous is not None:
            if previous.resolve() == item.source.resolve():
                continue  # the same file named twice
            raise InvalidOptionError(f"{previous} and {item.source} would both write {item.relative}; rename one")
        seen[item.relative] = item.source
        unique.append(item)
    return unique


@dataclass(frozen=True)
class TitleRow:
    title: str
    prompt: str


def read_titles(csv_path: Path) -> dict[str, TitleRow]:
    """A catalogue CSV with a file column (`file`, `image` or `filename`) and `title` (optional `prompt`).

    Keys are the file column as written and its bare name, so `shoes/a.jpg` and `a.jpg` both match.
    """
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = {name.strip().lower(): name for name in (reader.fieldnames or [])}
            file_col = next((fields[c] for c in ("file", "image", "filename") if c in fields), None)
            if file_col is None or "title" not in fields:
                raise InvalidOptionError(f"{csv_path}: needs a 'file' (or 'image'/'filename') and a 'title' column")
            rows: dict[str, TitleRow] = {}
            for row in reader:
                name = (row.get(file_col) or "").strip()
                if not name:
                    continue
                entry = TitleRow(
                    (row.get(fields["title"]) or "").strip(), (row.get(fields.get("prompt", "")) or "").strip()
                )
                rows[name] = entry
                rows.setdefault(Path(name).name, entry)
            return rows
    except OSError as exc:
        raise InvalidOptionError(f"cannot read titles file {csv_path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidOptionError(f"titles file {csv_path} is not a readable UTF-8 CSV: {exc}") from None


def title_for(item: BatchItem, titles: dict[str, TitleRow]) -> TitleRow | None:
    for key in (str(item.source), item.source.name):
        if key in titles:
            return titles[key]
    return None
