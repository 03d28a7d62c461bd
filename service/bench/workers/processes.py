"""The benchmark's processes and services: CPU seconds and memory from /proc, a temporary PostgreSQL database,
the broker's Redis emptied, Celery pings, and a `promptcut` CLI command run as a process of its own."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from fusion.errors import PromptcutError
from service.jobs.broker import make_celery
from service.settings import Settings

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"  # the temporary database's server


class BenchError(PromptcutError):
    """The benchmark could not run (a service unreachable, a process that did not start, a job that stalled)."""

    code = "bench_failed"


# --- /proc: memory and CPU of a process tree, the machine's busy share ---------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid … utime(11) stime(12)


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid` and its live descendants (Linux /proc; None elsewhere)."""
    if not Path("/proc/self/stat").exists():
        return None
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(children.get(current, ()))
    return total


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores since boot (/proc/stat), None where there is none."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(value) for value in first[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


# --- the services: a temporary PostgreSQL database, Redis emptied -------------------------------------------


@contextmanager
def temporary_database(server: str = POSTGRES_SERVER) -> Iterator[str]:
    """A new, empty database on `server` (a SQLAlchemy URL without a database name), dropped on exit."""
    name = f"promptcut_bench_{os.getpid()}_{secrets.token_hex(4)}"
    admin_url = make_url(server).set(database="postgres")
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool,
                              connect_args={"connect_timeout": 5})
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except (SQLAlchemyError, ImportError, OSError) as exc:
        where = admin_url.render_as_string(hide_password=True)
        raise BenchError(f"PostgreSQL not reachable at {where} ({one_line(exc)}); give --database-url") from None
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def one_line(exc: BaseException) -> str:
    message = " ".join(str(getattr(exc, "orig", None) or exc).split())
    return (message or type(exc).__name__)[:160]


def flush_redis(broker_url: str) -> None:
    """FLUSHDB the Redis database of `broker_url` (BenchError in one line when it is not Redis or unreachable)."""
    if urlsplit(broker_url).scheme not in ("redis", "rediss"):
        raise BenchError(f"--broker-url must be a redis:// URL (its database is emptied), not {broker_url!r}")
    app = make_celery(Settings(broker_url=broker_url))
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
            connection.default_channel.client.flushdb()
    except Exception as exc:  # noqa: BLE001 — whatever kombu/redis raise, the one-line answer is the same
        raise BenchError(f"Redis not reachable at {broker_url} ({one_line(exc)})") from None
    finally:
        app.close()


def celery_pings(broker_url: str, timeout: float = 1.0) -> set[str]:
    """Names of the workers answering a Celery ping on `broker_url`."""
    app = make_celery(Settings(broker_url=broker_url))
    try:
        return {name for reply in app.control.ping(timeout=timeout) or [] for name in reply}
    finally:
        app.close()


# --- processes ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A `promptcut` CLI command in its own process group, its output in a log file."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self._terminated = False
        with log.open("ab") as out:
            self.popen = subprocess.Popen([sys.executable, "-m", "service.cli", *args], env=dict(env), stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def terminate(self) -> None:
        """SIGTERM, once: a graceful stop (uvicorn drains, a Celery worker finishes its item)."""
        if self.running() and not self._terminated:
            self._terminated = True
            os.kill(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 30) -> None:
        """terminate(), SIGKILL to the group if it is not gone within `timeout`; then whatever is left of the
        group (a Celery pool child) is killed."""
        self.terminate()
        if self.running():
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.popen.wait(timeout)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
