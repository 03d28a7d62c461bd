"""The documentation builds and its links resolve: a short README that points into docs/, and an mkdocs site
that `mkdocs build --strict` accepts (a broken link or a page missing from the nav fails it)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

from tests.helpers import REPO, require_modules

README_LIMIT_BYTES = 12_000
LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(markdown: str) -> list[str]:
    return [link for link in LINK.findall(markdown) if "://" not in link and not link.startswith(("#", "mailto:"))]


def test_the_readme_stays_short() -> None:
    size = len((REPO / "README.md").read_bytes())
    assert size <= README_LIMIT_BYTES, f"README.md is {size} bytes; move detail into docs/"


def test_every_readme_link_points_at_a_file() -> None:
    links = relative_links((REPO / "README.md").read_text())
    assert any(link.startswith("docs/") for link in links)
    missing = [link for link in links if not (REPO / link.split("#", 1)[0]).exists()]
    assert not missing, missing


def test_the_link_finder_sees_relative_links_only() -> None:
    text = "[a](docs/a.md) [b](https://example.com/x) [c](#top) ![pic](docs/p.jpg) [d](docs/cli.md#replace)"
    assert relative_links(text) == ["docs/a.md", "docs/p.jpg", "docs/cli.md#replace"]


def test_the_docs_site_builds_strictly(tmp_path) -> None:
    require_modules("mkdocs")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "architecture" / "index.html").is_file()


def test_a_broken_link_fails_the_docs_build(tmp_path) -> None:
    """The build above would pass silently if strict mode stopped counting (it does under --quiet)."""
    require_modules("mkdocs")
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    shutil.copy(REPO / "mkdocs.yml", tmp_path / "mkdocs.yml")
    with (tmp_path / "docs" / "index.md").open("a") as page:
        page.write("\n[gone](no-such-page.md)\n")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0 and "no-such-page.md" in result.stderr
