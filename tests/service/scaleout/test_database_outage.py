"""PostgreSQL briefly unreachable (#17 fault suite): /readyz answers 503, requests answer 503
`database_unavailable` with Retry-After — never a 500 — and the server recovers when the database is back, without
a restart. The outage is a loopback TCP proxy in front of the real PostgreSQL that the test cuts and restores."""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator

import httpx
import pytest

from service.api.app import create_app
from service.settings import Settings
from tests.helpers import temporary_postgres_database
from tests.service.api.test_api import ServerThread, make_keys
from tests.service.scaleout.processes import WAIT

pytestmark = pytest.mark.postgres


class CuttableProxy:
    """127.0.0.1:<port> → 127.0.0.1:5432. `cut()` closes every connection and refuses new ones; `restore()`
    accepts again."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()  # refused while cut
                continue
            try:
                server = socket.create_connection(("127.0.0.1", 5432), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.up.clear()
        with self._lock:
            for connection in self._open:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                    connection.close()
                except OSError:
                    pass
            self._open.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def proxied_database() -> Iterator[tuple[str, CuttableProxy]]:
    with temporary_postgres_database() as url:
        proxy = CuttableProxy()
        try:
            yield url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"), proxy
        finally:
            proxy.close()


def test_a_database_outage_is_503_with_retry_after_and_heals_without_a_restart(
    tmp_path, proxied_database: tuple[str, CuttableProxy]
) -> None:
    url, proxy = proxied_database
    assert f":{proxy.port}/" in url
    settings = Settings(data_dir=tmp_path, database_url=url, segmenter="classical", workers=1, queue_size=2)
    keys, _ = make_keys(settings, ("a",))
    with ServerThread(create_app(settings)) as server, httpx.Client(
        base_url=server.url, headers={"X-Api-Key": keys["a"]}, timeout=WAIT
    ) as client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/jobs").status_code == 200

        proxy.cut()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] is False
        for path in ("/v1/jobs", "/v1/items/nothing-here"):
            answer = client.get(path)
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert answer.json()["error"]["code"] == "database_unavailable"
            assert int(answer.headers["retry-after"]) >= 1

        proxy.restore()
        deadline = time.monotonic() + WAIT
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover"
            time.sleep(0.2)
        assert client.get("/v1/jobs").status_code == 200
