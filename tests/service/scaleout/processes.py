"""Real processes for the scale-out tests: a Redis server of the test's own (so it can be restarted) and
`promptcut worker` processes started with the command the compose file names."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import in_ci

WAIT = 60
REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """redis-server on a loopback port of its own, no persistence: a restart loses every message, as a broker
    restart without a journal would."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed"
            if in_ci():
                pytest.fail(f"{message}; CI=true requires it", pytrace=False)
            pytest.skip(message)
        self.binary, self.workdir, self.port = binary, workdir, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(WAIT)
            self.process = None


def compose_command(service: str) -> list[str]:
    """The command compose.yaml gives `service` (after the image's `promptcut` entry point)."""
    import yaml

    return list(yaml.safe_load((REPO / "compose.yaml").read_text())["services"][service]["command"])


class Worker:
    """One `promptcut worker` process (its own process group, so kill -9 takes its children too), started with
    compose.yaml's worker command unless told otherwise."""

    def __init__(self, env: dict[str, str], log: Path, *, gated_by: Path | None = None,
                 args: tuple[str, ...] | None = None) -> None:
        if gated_by is None:
            command = [str(Path(sys.executable).with_name("promptcut")),
                       *(compose_command("worker") if args is None else ["worker", *args])]
        else:  # the same worker, its segmenter held while the gate file exists (tests/…/gated_worker.py)
            command = [sys.executable, "-m", "tests.service.scaleout.gated_worker", str(gated_by),
                       *(args or ("--pool", "solo"))]
        self.log = log
        self.process = subprocess.Popen(command, env={**os.environ, **env}, cwd=REPO, stdout=log.open("ab"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """kill -9, no chance to clean up."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(WAIT)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]
