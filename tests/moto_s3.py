"""moto's S3 server on a loopback port, in the test process: the S3-compatible endpoint the S3 artifact store is
tested against (tests/service/engine/test_s3_store.py, tests/service/api/test_s3_artifacts.py).

moto keeps its buckets in process-wide memory: every server started here sees the same buckets, so a server
stopped and started again on its port still has them. Each test uses buckets of its own names.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import pytest

from tests.helpers import in_ci, require_modules

REGION = "us-east-1"
# Fake credentials through the standard variables (the store reads boto3's chain); the files are pointed away
# so a developer's ~/.aws never takes part.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "AWS_EC2_METADATA_DISABLED": "true"}


class MotoS3:
    """One moto server on 127.0.0.1: `url` is its endpoint. stop() closes the port (connections are refused, as
    with a server that is down); start() again serves on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.url = ""
        self._server: Any = None

    def start(self) -> "MotoS3":
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        self.port = server.get_host_and_port()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        # stop() only ends the serving loop; the socket would go on accepting connections that nobody answers.
        self._server._server.server_close()
        self._server = None

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def new_bucket(self) -> str:
        name = f"promptcut-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


@contextmanager
def aws_test_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        yield


@contextmanager
def running_moto() -> Iterator[MotoS3]:
    """A started MotoS3 under the fake AWS environment. Without boto3/moto, or when the server cannot start: a
    skip, but a failure under CI=true (the test extra installs both)."""
    require_modules("boto3", "moto")
    server = MotoS3()
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 — reported as the skip/failure reason
        message = f"moto's S3 server did not start: {type(exc).__name__}: {exc}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        with aws_test_env():
            yield server
    finally:
        server.stop()
