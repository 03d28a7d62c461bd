"""The CSV round trip (`promptcut store csv`): a Shopify export in, images fetched over real loopback HTTP, cut
and rendered, an import CSV out that differs from the export only in the replaced image cells."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner, Result

from service.cli.store_csv import csv_command
from service.store.csv_roundtrip import StoreCsvError, parse_export, plan_images, rewrite
from tests.helpers import REPO, sample_jpeg

PUBLIC = "https://shop.example/media"
NOT_A_PHOTO = b"this is not a photo\n"


@dataclass(frozen=True)
class ImageServer:
    base: str  # http://127.0.0.1:<port>
    requests: Counter  # path → GET count


@pytest.fixture
def image_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImageServer]:
    """Sample photos on a loopback server, allowed the way an operator allows an internal CDN."""
    photos = {
        "/cup.jpg": sample_jpeg("coffee-cup.jpg", 240),
        "/cup-side.jpg": sample_jpeg("chelsea-cat.jpg", 240),
        "/rocket.jpg": sample_jpeg("rocket.jpg", 240),
        "/broken.jpg": NOT_A_PHOTO,
    }
    requests: Counter = Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests[self.path] += 1
            body = photos.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PROMPTCUT_ALLOW_HTTP_URLS", "true")
    monkeypatch.setenv("PROMPTCUT_URL_ALLOW_HOSTS", f"127.0.0.1:{port}")
    try:
        yield ImageServer(f"http://127.0.0.1:{port}", requests)
    finally:
        server.shutdown()
        server.server_close()


def run_csv(*args: str) -> Result:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("csv")(csv_command)
    result = CliRunner().invoke(app, [*args, "--segmenter", "classical", "--quiet"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def old_style_export(base: str) -> list[bytes]:
    """Records (terminator included) of an older Shopify export: LF, quoting only where needed."""
    return [
        b"Handle,Title,Body (HTML),Vendor,Option1 Name,Option1 Value,Variant SKU,Image Src,Image Position,"
        b"Image Alt Text,Variant Image\n",
        f'cup,Espresso Cup,"<p>Fine porcelain.</p>\n<p>Holds 3oz, ""ristretto"" too.</p>",Acme,Size,Small,CUP-S,'
        f"{base}/cup.jpg,1,Cup front,{base}/cup.jpg\n".encode(),
        f"cup,,,,Size,Large,CUP-L,{base}/cup-side.jpg,2,Cup side,{base}/cup.jpg\n".encode(),
        f"cup,,,,,,,{base}/cup-top.jpg,3,Cup from above,\n".encode(),
        f'rocket,Falcon Rocket Scale Model Kit,"<ul>\n<li>1:144</li>\n</ul>",Acme,Title,Default Title,RKT,'
        f"{base}/rocket.jpg,1,,\n".encode(),
        f"saucer,Espresso Saucer,,Acme,Title,Default Title,SCR,{base}/cup.jpg,1,,\n".encode(),
    ]


def write_export(path: Path, records: list[bytes], bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"".join(records))
    return path


def swap(record: bytes, old: str, new: str) -> bytes:
    assert old.encode() in record
    return record.replace(old.encode(), new.encode())


def read_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_old_style_export_main_images_replaced_and_every_other_byte_kept(tmp_path: Path, image_server) -> None:
    base = image_server.base
    records = old_style_export(base)
    export = write_export(tmp_path / "products_export.csv", records)
    out = tmp_path / "media"
    result = run_csv(str(export), "--out", str(out), "--public-url", PUBLIC + "/", "--format", "jpeg",
                     "--size", "160")
    assert result.exit_code == 0, result.output
    assert "2 images replaced, 0 skipped (already there), 0 failed" in result.stderr

    written = out / "products_import.csv"
    rows = read_rows(written)
    new_cup, new_rocket = rows[0]["Image Src"], rows[3]["Image Src"]
    assert re.fullmatch(re.escape(PUBLIC) + r"/cup-[0-9a-f]{12}\.jpg", new_cup)
    assert re.fullmatch(re.escape(PUBLIC) + r"/rocket-[0-9a-f]{12}\.jpg", new_rocket)
    expected = b"".join([
        records[0],
        swap(records[1], f"{base}/cup.jpg", new_cup),  # main image and the variant link to it
        swap(records[2], f"{base}/cup.jpg", new_cup),  # extra image kept, its variant link follows
        records[3],
        swap(records[4], f"{base}/rocket.jpg", new_rocket),
        swap(records[5], f"{base}/cup.jpg", new_cup),  # the same photo as cup's: processed once
    ])
    assert written.read_bytes() == expected
    assert records[3] in written.read_bytes()
    assert rows[0]["Body (HTML)"] == '<p>Fine porcelain.</p>\n<p>Holds 3oz, "ristretto" too.</p>'
    assert rows[1]["Image Src"] == f"{base}/cup-side.jpg" and rows[1]["Variant Image"] == new_cup

    assert image_server.requests == Counter({"/cup.jpg": 1, "/rocket.jpg": 1})
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["products_import.csv", new_cup.rpartition("/")[2], new_rocket.rpartition("/")[2]]
    )
    for url in (new_cup, new_rocket):
        with Image.open(out / url.rpartition("/")[2]) as image:
            image.load()
            assert image.format == "JPEG" and image.size == (160, 160)


def test_new_style_export_with_bom_crlf_all_quoted_and_all_images(tmp_path: Path, image_server) -> None:
    base = image_server.base
    records = [
        b'"URL handle","Title","Description","Product image URL","Image position","Image alt text",'
        b'"Variant image URL"\r\n',
        f'"cup","Espresso Cup","<p>one</p>\n<p>two</p>\r\n<p>three</p>","{base}/cup-side.jpg","2","side",""\r\n'
        .encode(),
        f'"cup","","","{base}/cup.jpg","1","front","{base}/cup.jpg"\r\n'.encode(),
        f'"rocket","Falcon Rocket","<p>Kit</p>","{base}/rocket.jpg","1","",""'.encode(),  # no final line break
    ]
    export = write_export(tmp_path / "export.csv", records, bom=True)
    target = tmp_path / "import" / "for-shopify.csv"
    result = run_csv(str(export), "--out", str(tmp_path / "media"), "--public-url", PUBLIC, "--all-images",
                     "--csv-out", str(target), "--format", "png", "--size", "200x150", "--background", "#f0e0d0")
    assert result.exit_code == 0, result.output
    assert "3 images replaced" in result.stderr

    rows = read_rows(target)
    side, main, rocket = (row["Product image URL"] for row in rows)
    for url in (side, main, rocket):
        assert re.fullmatch(re.escape(PUBLIC) + r"/(cup|rocket)-[0-9a-f]{12}\.png", url), url
    assert len({side, main, rocket}) == 3
    expected = b"\xef\xbb\xbf" + b"".join([
        records[0],
        swap(records[1], f'"{base}/cup-side.jpg"', f'"{side}"'),
        swap(records[2], f'"{base}/cup.jpg"', f'"{main}"'),
        swap(records[3], f'"{base}/rocket.jpg"', f'"{rocket}"'),
    ])
    assert target.read_bytes() == expected
    assert rows[0]["Description"] == "<p>one</p>\n<p>two</p>\r\n<p>three</p>"
    assert not (tmp_path / "media" / "products_import.csv").exists()
    for url in (side, main, rocket):
        with Image.open(tmp_path / "media" / url.rpartition("/")[2]) as image:
            image.load()
            assert image.format == "PNG" and image.size == (200, 150)


def test_failed_download_and_failed_cut_keep_their_rows_and_the_run_goes_on(tmp_path: Path, image_server) -> None:
    base = image_server.base
    records = [
        b"Handle,Title,Image Src,Image Position\n",
        f"cup,Espresso Cup,{base}/cup.jpg,1\n".encode(),
        f"rocket,Falcon Rocket,{base}/missing.jpg,1\n".encode(),
        f"poster,Astronaut Poster,{base}/broken.jpg,1\n".encode(),
    ]
    export = write_export(tmp_path / "products_export.csv", records)
    out = tmp_path / "media"
    result = run_csv(str(export), "--out", str(out), "--public-url", PUBLIC)
    assert result.exit_code == 1, result.output
    failures = [line for line in result.stderr.splitlines() if line.startswith("failed ")]
    assert len(failures) == 2, result.stderr
    assert failures[0].startswith("failed products_export.csv row 3 (handle rocket): ") and "404" in failures[0]
    assert failures[1].startswith("failed products_export.csv row 4 (handle poster): ")
    assert "1 images replaced, 0 skipped (already there), 2 failed" in result.stderr
    written = (out / "products_import.csv").read_bytes()
    new_cup = read_rows(out / "products_import.csv")[0]["Image Src"]
    assert written == b"".join([records[0], swap(records[1], f"{base}/cup.jpg", new_cup), *records[2:]])
    assert sorted(p.suffix for p in out.iterdir()) == [".csv", ".jpg"]


def test_rerun_fetches_and_writes_nothing_new_unless_overwrite(tmp_path: Path, image_server) -> None:
    export = write_export(tmp_path / "products_export.csv", old_style_export(image_server.base))
    out = tmp_path / "media"
    args = (str(export), "--out", str(out), "--public-url", PUBLIC, "--size", "96")
    assert run_csv(*args).exit_code == 0
    first_csv = (out / "products_import.csv").read_bytes()
    images = sorted(out.glob("*.jpg"))
    stamps = [p.stat().st_mtime_ns for p in images]
    image_server.requests.clear()

    again = run_csv(*args)
    assert again.exit_code == 0, again.output
    assert "0 images replaced, 2 skipped (already there), 0 failed" in again.stderr
    assert image_server.requests == Counter()
    assert sorted(out.glob("*.jpg")) == images and [p.stat().st_mtime_ns for p in images] == stamps
    assert (out / "products_import.csv").read_bytes() == first_csv

    forced = run_csv(*args, "--overwrite")
    assert forced.exit_code == 0 and "2 images replaced, 0 skipped" in forced.stderr
    assert image_server.requests == Counter({"/cup.jpg": 1, "/rocket.jpg": 1})
    assert (out / "products_import.csv").read_bytes() == first_csv


def test_missing_image_column_is_exit_2_with_the_expected_names_and_no_output(tmp_path: Path) -> None:
    export = write_export(tmp_path / "products_export.csv", [b"Handle,Title,Body (HTML)\n", b"cup,Cup,<p>x</p>\n"])
    out = tmp_path / "media"
    program = ("import typer; from service.cli.store_csv import csv_command; "
               "app = typer.Typer(pretty_exceptions_enable=False); app.command('csv')(csv_command); app()")
    result = subprocess.run(
        [sys.executable, "-c", program, str(export), "--out", str(out), "--public-url", PUBLIC],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: products_export.csv is not a Shopify product export: it has no 'Image Src' or "
        "'Product image URL' column"
    )
    assert not out.exists()


def test_bad_public_url_is_exit_2_before_any_download(tmp_path: Path, image_server) -> None:
    export = write_export(tmp_path / "products_export.csv", old_style_export(image_server.base))
    result = run_csv(str(export), "--out", str(tmp_path / "media"), "--public-url", "shop.example/media")
    assert result.exit_code == 2 and "--public-url must be an http(s) URL" in result.stderr
    assert image_server.requests == Counter() and not (tmp_path / "media").exists()


# --- the library on its own ------------------------------------------------------------------------------------


def test_untouched_export_comes_back_byte_for_byte() -> None:
    data = (
        b"\xef\xbb\xbfHandle;Title;Image Src;Notes\r"  # CR-only line ends, semicolons
        b'cup;"Cup; ""white""";https://cdn.example/cup.jpg;"a\rb\r\nc"\r'
        b"\r"  # a blank line
        b'rocket;"Rocket" kit;;\r'  # text after a closing quote joins the cell
        b"poster;Poster;https://cdn.example/p.jpg"
    )
    export = parse_export(data, "export.csv")
    assert export.delimiter == ";" and export.bom
    assert [row.value(export.columns.title) for row in export.rows] == ['Cup; "white"', "Rocket kit", "Poster"]
    plan = plan_images(export)
    assert rewrite(export, plan, {}) == data
    changed = rewrite(export, plan, {"https://cdn.example/p.jpg": "https://new.example/a;b.png"})
    assert changed == data.replace(b"https://cdn.example/p.jpg", b'"https://new.example/a;b.png"')


def test_main_image_is_the_lowest_position_and_titles_come_from_the_first_row() -> None:
    data = (
        "URL handle,Title,Product image URL,Image position,Image alt text\n"
        "mug,Travel Mug,https://cdn.example/side.jpg,2,\n"
        "mug,,https://cdn.example/front.jpg,1,\n"
        ",,https://cdn.example/top.jpg,3,\n"
        "lamp,,https://cdn.example/lamp.jpg,,Brass desk lamp\n"
    ).encode()
    export = parse_export(data, "export.csv")
    main = plan_images(export)
    assert [(job.url, job.title, job.row) for job in main.jobs] == [
        ("https://cdn.example/front.jpg", "Travel Mug", 3),
        ("https://cdn.example/lamp.jpg", "Brass desk lamp", 5),
    ]
    every = plan_images(export, all_images=True)
    assert [job.url.rpartition("/")[2] for job in every.jobs] == ["side.jpg", "front.jpg", "top.jpg", "lamp.jpg"]
    assert {job.title for job in every.jobs[:3]} == {"Travel Mug"} and {job.handle for job in every.jobs[:3]} == {"mug"}


def test_unclosed_quote_and_non_utf8_are_typed_errors() -> None:
    with pytest.raises(StoreCsvError, match="row 2: a quoted cell is never closed"):
        parse_export(b'Handle,Image Src\ncup,"https://cdn.example/a.jpg\n', "export.csv")
    with pytest.raises(StoreCsvError, match="not UTF-8"):
        parse_export("Handle,Image Src\ncafé,x\n".encode("latin-1"), "export.csv")
