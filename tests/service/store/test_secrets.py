"""Secrets at rest: AES-GCM under PROMPTCUT_SECRET_KEY or a key file made once; a wrong key is a clear error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from service.store.secrets import KEY_FILE_NAME, SecretKeyError, secret_box


def test_a_sealed_secret_opens_with_the_same_key_and_context(tmp_path: Path) -> None:
    box = secret_box("correct horse", tmp_path)
    sealed = box.seal("shpat_abc", "row-1")
    assert "shpat_abc" not in sealed and sealed.startswith("v1.")
    assert box.seal("shpat_abc", "row-1") != sealed  # a fresh nonce each time
    assert secret_box("correct horse", tmp_path / "elsewhere").open(sealed, "row-1") == "shpat_abc"
    assert not (tmp_path / KEY_FILE_NAME).exists()  # a configured key makes no key file


def test_another_key_or_another_context_is_refused_clearly(tmp_path: Path) -> None:
    sealed = secret_box("one", tmp_path).seal("shpat_abc", "row-1")
    with pytest.raises(SecretKeyError, match="another key"):
        secret_box("two", tmp_path).open(sealed, "row-1")
    with pytest.raises(SecretKeyError, match="another record"):
        secret_box("one", tmp_path).open(sealed, "row-2")
    damaged = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SecretKeyError, match="damaged"):
        secret_box("one", tmp_path).open(damaged, "row-1")


def test_without_a_configured_key_a_private_key_file_is_made_once(tmp_path: Path) -> None:
    first = secret_box("", tmp_path / "data")
    key_file = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealed = first.seal("shpat_abc", "row-1")
    assert secret_box("  ", tmp_path / "data").open(sealed, "row-1") == "shpat_abc"  # the same file, reused
    assert sorted(path.name for path in key_file.parent.iterdir()) == [KEY_FILE_NAME]  # no staging file left
    with pytest.raises(SecretKeyError):
        secret_box("", tmp_path / "other").open(sealed, "row-1")  # another server's own key file
    key_file.write_text("")
    with pytest.raises(SecretKeyError, match="empty"):
        secret_box("", tmp_path / "data")
