"""The command registry: `promptcut --help` lists every command without importing any of them, a command loads
only its own module, and the listed one-liners say what each command's own help says."""

from __future__ import annotations

import subprocess
import sys

import pytest

from service.cli import COMMANDS, load_command
from tests.helpers import REPO, run_cli

# Run `promptcut ARGS` in a fresh interpreter, then print which of these modules it imported.
PROBE = """
import sys
from service.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
watched = ("service.api.app", "fastapi", "fusion.pipeline", "sqlalchemy", "service.cli.replace", "torch")
print("IMPORTED", " ".join(name for name in watched if name in sys.modules))
"""


def imported_by(*args: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=REPO,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("IMPORTED"))
    return set(line.split()[1:])


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_listed_summary_is_the_commands_own_first_help_line(name: str) -> None:
    assert (load_command(name).help or "").strip().splitlines()[0] == COMMANDS[name].summary


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in COMMANDS)
    assert imported_by("--help") == set()


def test_a_command_loads_only_what_it_needs() -> None:
    assert imported_by("prompts", "--lexical", "Blue Ceramic Mug") == set()  # no image stack, no HTTP
    assert imported_by("keys", "--help") == {"sqlalchemy"}
    assert imported_by("replace", "--help") >= {"fusion.pipeline", "service.cli.replace"}
    assert "fastapi" not in imported_by("replace", "--help")


def test_running_through_the_listing_reaches_the_real_command() -> None:
    result = run_cli("replace")  # no inputs: the real command's own usage error, exit 2
    assert result.returncode == 2 and "Missing argument" in result.stderr and "promptcut replace" in result.stderr
    assert run_cli("no-such-command").returncode == 2
