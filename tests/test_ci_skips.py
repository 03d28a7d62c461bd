"""The CI safety net in tests/conftest.py: under CI=true a skipped test fails the run and is listed; elsewhere a
skip stays a skip. Each case runs a real pytest in a child process on a small test file, with tests.conftest
loaded as a plugin (`-p tests.conftest`)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import REPO

HEADER = "CI=true: skipped tests count as failures"

SKIPPING = '''
import pytest

def test_passes():
    pass

def test_skips_itself():
    pytest.skip("no frobnicator here")

@pytest.mark.skipif(True, reason="never on this machine")
def test_skipped_by_a_mark():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_expected_failure():
    assert False
'''

MODULE_SKIP = '''
import pytest

pytest.skip("whole module unavailable", allow_module_level=True)

def test_never_collected():
    pass
'''

CLEAN = '''
import pytest

def test_passes():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_expected_failure():
    assert False
'''

FAILING_AND_SKIPPING = '''
import pytest

def test_fails():
    assert False

def test_skips_itself():
    pytest.skip("no frobnicator here")
'''


def run_pytest(tmp_path: Path, source: str, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # keeps the child away from the project's own settings
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(source))
    env = {name: value for name, value in os.environ.items() if name not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "-rs",
         "test_sample.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_a_skip_fails_the_run_under_ci_and_is_listed(tmp_path: Path, ci: str) -> None:
    result = run_pytest(tmp_path, SKIPPING, ci)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{HEADER} (2)" in result.stdout
    assert "SKIPPED test_sample.py::test_skips_itself: no frobnicator here" in result.stdout
    assert "SKIPPED test_sample.py::test_skipped_by_a_mark: never on this machine" in result.stdout
    assert "test_expected_failure" not in result.stdout.split(HEADER, 1)[1]  # an xfail is not a skip
    assert "1 passed, 2 skipped, 1 xfailed" in result.stdout


def test_a_module_level_skip_fails_the_run_under_ci(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, MODULE_SKIP, "true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{HEADER} (1)" in result.stdout
    assert "SKIPPED test_sample.py: whole module unavailable" in result.stdout


@pytest.mark.parametrize("ci", [None, "", "false", "1"])
def test_outside_ci_a_skip_is_just_a_skip(tmp_path: Path, ci: str | None) -> None:
    result = run_pytest(tmp_path, SKIPPING, ci)
    assert result.returncode == 0, result.stdout + result.stderr
    assert HEADER not in result.stdout and "1 passed, 2 skipped, 1 xfailed" in result.stdout


def test_a_clean_run_under_ci_passes(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, CLEAN, "true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert HEADER not in result.stdout and "1 passed, 1 xfailed" in result.stdout


def test_failures_keep_their_exit_code_and_skips_are_still_listed(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, FAILING_AND_SKIPPING, "true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{HEADER} (1)" in result.stdout and "1 failed, 1 skipped" in result.stdout
