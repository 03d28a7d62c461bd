"""The CSV round trip for stores without API access: read a Shopify product export, decide which image URLs
to replace, and write the import file with only those cells changed.

Every byte outside a replaced cell is kept: the file is tokenised here (not with the csv module) so that each
cell's span in the text is known, and the output is the input text with those spans swapped. Delimiter,
quoting, line endings (also inside quoted multi-line cells), column order and a UTF-8 BOM all survive.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from fusion.errors import PromptcutError

BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";", "\t")
QUOTE = '"'

# Column role → accepted header spellings (compared case- and space-insensitively): older exports first,
# then the names Shopify's newer exports use.
COLUMN_NAMES = {
    "handle": ("Handle", "URL handle"),
    "title": ("Title",),
    "image": ("Image Src", "Product image URL"),
    "position": ("Image Position", "Image position"),
    "alt": ("Image Alt Text", "Image alt text"),
    "variant_image": ("Variant Image", "Variant image URL"),
}
REQUIRED = ("handle", "image")


class StoreCsvError(PromptcutError):
    """The export cannot be read as a product CSV (encoding, unclosed quote, missing columns)."""

    code = "invalid_store_csv"


@dataclass(frozen=True)
class Cell:
    start: int  # span in Export.text, quotes included
    end: int
    value: str  # unquoted
    quoted: bool


@dataclass(frozen=True)
class Record:
    number: int  # 1-based, the header is 1: the row number a spreadsheet shows
    cells: tuple[Cell, ...]

    def value(self, column: int | None) -> str:
        if column is None or column >= len(self.cells):
            return ""
        return self.cells[column].value.strip()

    @property
    def blank(self) -> bool:
        return len(self.cells) == 1 and not self.cells[0].quoted and not self.cells[0].value


@dataclass(frozen=True)
class Columns:
    """Index of each role's column in the header; None when the export has no such column."""

    handle: int
    image: int
    title: int | None = None
    position: int | None = None
    alt: int | None = None
    variant_image: int | None = None


@dataclass(frozen=True)
class Export:
    name: str  # file name, for messages
    text: str  # decoded, without the BOM
    bom: bool
    delimiter: str
    columns: Columns
    rows: tuple[Record, ...]  # data rows, header and blank lines left out


@dataclass(frozen=True)
class ImageJob:
    """One distinct source image to fetch, cut and render once."""

    url: str
    handle: str
    title: str  # the product's title (from the handle's first row), or a stand-in
    row: int  # first row that asks for it
    stem: str  # stable output file name without extension


@dataclass(frozen=True)
class Replacement:
    """A cell that gets the new URL of `url` once that image is rendered."""

    cell: Cell
    url: str


@dataclass(frozen=True)
class Plan:
    jobs: tuple[ImageJob, ...]
    replacements: tuple[Replacement, ...]


def read_export(path: Path) -> Export:
    """Read and tokenise a product export. Raises StoreCsvError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StoreCsvError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_export(data, path.name)


def parse_export(data: bytes, name: str) -> Export:
    bom = data.startswith(BOM)
    try:
        text = data[len(BOM):].decode("utf-8") if bom else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreCsvError(f"{name} is not UTF-8 (byte {exc.start}); export it from the store again") from None
    if not text.strip():
        raise StoreCsvError(f"{name} is empty")
    delimiter, columns = _header(text, name)
    records = tokenise(text, delimiter, name)
    rows = tuple(record for record in records[1:] if not record.blank)
    return Export(name, text, bom, delimiter, columns, rows)


def tokenise(text: str, delimiter: str, name: str, *, first_only: bool = False) -> list[Record]:
    """Split CSV text into records of cells with their spans. Quoting as the csv module reads it: a quote
    opens a quoted cell only at the cell's start, "" inside is one quote, text after the closing quote joins
    the cell. A record ends at CRLF, LF or CR outside quotes."""
    plain = re.compile(f"[^{re.escape(delimiter)}\r\n]*")
    records: list[Record] = []
    pos, size = 0, len(text)
    while pos < size:
        cells: list[Cell] = []
        while True:
            start = pos
            quoted = pos < size and text[pos] == QUOTE
            if quoted:
                close = _closing_quote(text, pos + 1, name, len(records) + 1)
                tail = plain.match(text, close + 1)
                value = text[pos + 1 : close].replace(QUOTE * 2, QUOTE) + tail.group()
                pos = tail.end()
            else:
                match = plain.match(text, pos)
                value, pos = match.group(), match.end()
            cells.append(Cell(start, pos, value, quoted))
            if pos < size and text[pos] == delimiter:
                pos += 1
                continue
            break
        pos += 2 if text.startswith("\r\n", pos) else 1
        records.append(Record(len(records) + 1, tuple(cells)))
        if first_only:
            break
    return records


def plan_images(export: Export, *, all_images: bool = False) -> Plan:
    """Which image cells to replace, and the distinct images behind them.

    Default: each product's main image (the lowest Image Position, else its first image row); all_images:
    every image row. A Variant Image cell naming a replaced image follows it. Each URL is one job, titled
    by the product it first appears under."""
    cols = export.columns
    products = _products(export)
    titles = {key: _title(rows, cols) for key, rows in products.items()}
    chosen: list[tuple[str, Record]] = []
    for key, rows in products.items():
        with_image = [row for row in rows if row.value(cols.image)]
        if with_image and not all_images:
            with_image = [min(with_image, key=lambda row: (_position(row.value(cols.position)), row.number))]
        chosen.extend((key, row) for row in with_image)
    jobs: dict[str, ImageJob] = {}
    replacements: list[Replacement] = []
    for key, row in sorted(chosen, key=lambda pair: pair[1].number):
        url = row.value(cols.image)
        handle = row.value(cols.handle) or key
        title = titles[key] or row.value(cols.alt) or handle.replace("-", " ")
        jobs.setdefault(url, ImageJob(url, handle, title, row.number, stable_stem(handle, url)))
        replacements.append(Replacement(row.cells[cols.image], url))
    if cols.variant_image is not None:
        replacements += [
            Replacement(row.cells[cols.variant_image], row.value(cols.variant_image))
            for row in export.rows
            if row.value(cols.variant_image) in jobs
        ]
    return Plan(tuple(jobs.values()), tuple(replacements))


def rewrite(export: Export, plan: Plan, new_urls: Mapping[str, str]) -> bytes:
    """The export's bytes with each planned cell whose image has a new URL swapped for it; all else as read."""
    pieces: list[str] = []
    pos = 0
    for replacement in sorted(plan.replacements, key=lambda r: r.cell.start):
        new = new_urls.get(replacement.url)
        if new is None or replacement.cell.start < pos:
            continue
        pieces += [export.text[pos : replacement.cell.start], _cell_text(new, replacement.cell.quoted, export)]
        pos = replacement.cell.end
    pieces.append(export.text[pos:])
    data = "".join(pieces).encode("utf-8")
    return BOM + data if export.bom else data


def stable_stem(handle: str, url: str) -> str:
    """`<handle as ASCII slug>-<12 hex of the URL's SHA-256>`: the same image gets the same name every run."""
    ascii_handle = unicodedata.normalize("NFKD", handle).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_handle.lower()).strip("-")[:60].strip("-") or "image"
    return f"{slug}-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}"


# --- internals -------------------------------------------------------------------------------------------------


def _closing_quote(text: str, pos: int, name: str, record: int) -> int:
    while True:
        close = text.find(QUOTE, pos)
        if close < 0:
            raise StoreCsvError(f"{name} row {record}: a quoted cell is never closed")
        if not text.startswith(QUOTE * 2, close):
            return close
        pos = close + 2


def _normal(name: str) -> str:
    return " ".join(name.split()).casefold()


def _header(text: str, name: str) -> tuple[str, Columns]:
    """The delimiter under which the header names the required columns, and where each role's column is."""
    best: dict[str, int] = {}
    for delimiter in DELIMITERS:
        header = tokenise(text, delimiter, name, first_only=True)[0]
        index: dict[str, int] = {}
        for position, cell in enumerate(header.cells):
            index.setdefault(_normal(cell.value), position)
        found = {
            role: next(index[_normal(n)] for n in names if _normal(n) in index)
            for role, names in COLUMN_NAMES.items()
            if any(_normal(n) in index for n in names)
        }
        if all(role in found for role in REQUIRED):
            return delimiter, Columns(**found)
        best = found if len(found) > len(best) else best
    missing = " and ".join(
        " or ".join(repr(n) for n in COLUMN_NAMES[role]) for role in REQUIRED if role not in best
    )
    raise StoreCsvError(f"{name} is not a Shopify product export: it has no {missing} column")


def _products(export: Export) -> dict[str, list[Record]]:
    """Rows grouped by product. A row without a handle continues the product above it (an extra image row),
    unless it carries a title of its own."""
    cols = export.columns
    products: dict[str, list[Record]] = {}
    key = ""
    for row in export.rows:
        handle = row.value(cols.handle)
        if handle:
            key = handle
        elif row.value(cols.title) or not key:
            key = f"row {row.number}"
        products.setdefault(key, []).append(row)
    return products


def _title(rows: list[Record], cols: Columns) -> str:
    return next((row.value(cols.title) for row in rows if row.value(cols.title)), "")


def _position(text: str) -> float:
    return int(text) if text.isdigit() else float("inf")


def _cell_text(value: str, quoted: bool, export: Export) -> str:
    if quoted or any(ch in value for ch in (export.delimiter, QUOTE, "\r", "\n")):
        return QUOTE + value.replace(QUOTE, QUOTE * 2) + QUOTE
    return value
