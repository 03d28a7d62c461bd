"""Fixtures shared by every test folder, and the CI safety net: under CI=true a skipped test fails the run.

Plain helpers (run_cli, SAMPLES, require_modules, ...) live in tests/helpers.py; fixtures used by one folder only
live in that folder's conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SAMPLES, build_tiny_models, in_ci, network_blocked


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Tiny random-init CLIPSeg + OneFormer saved as the production loader expects; built once per run.
    Needs torch/transformers: tests using it are marked `neural`."""
    with network_blocked():
        return build_tiny_models(tmp_path_factory.mktemp("models"))


# --- CI=true: no skip goes unnoticed ------------------------------------------------------------------------
# The helpers that guard optional dependencies (require_modules, the PostgreSQL, Chromium and openssl checks)
# already fail instead of skipping under CI=true. This is the net under them: any other skip (a skipif, an
# importorskip, a skip someone adds later) also turns the run red, with the skipped tests listed.

SKIPS_IN_CI_HEADER = "CI=true: skipped tests count as failures"


class SkipsFailInCI:
    """Records every skipped test (and skipped module) and fails the session if there is any."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def _record(self, report) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):  # an xfail is an expected failure, not a skip
            return
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        self.skipped.append(f"{report.nodeid or '<collection>'}: {reason}")

    def pytest_collectreport(self, report) -> None:
        self._record(report)

    def pytest_runtest_logreport(self, report) -> None:
        self._record(report)

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        if self.skipped and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.skipped:
            return
        terminalreporter.write_sep("=", f"{SKIPS_IN_CI_HEADER} ({len(self.skipped)})", red=True, bold=True)
        for line in self.skipped:
            terminalreporter.write_line(f"SKIPPED {line}", red=True)
        terminalreporter.write_line("Install what the README's set-up installs, or remove the skip.")


def pytest_configure(config: pytest.Config) -> None:
    if in_ci() and not config.pluginmanager.has_plugin("skips-fail-in-ci"):
        config.pluginmanager.register(SkipsFailInCI(), "skips-fail-in-ci")
