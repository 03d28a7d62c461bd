"""Artifacts in an S3-compatible bucket (AWS S3, MinIO, Ceph, moto…), laid out as the folder store lays them out:
<prefix>/ab/cd/<sha256 hex>, written once (a HEAD first: the bytes under a key never change).

boto3 (the optional extra `s3`) is imported when a store is made, so only when PROMPTCUT_ARTIFACTS_URL names a
bucket. Credentials come from boto3's own chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an
instance role…), never from our settings. Retries are boto3's "standard" mode (AWS_MAX_ATTEMPTS, 3 by default)
under explicit timeouts, so every call ends in bounded time; the readiness probe makes one short attempt.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from fusion.errors import OutputWriteError
from service.engine.blobstore import ArtifactNotFoundError, ArtifactStoreUnavailableError, is_digest

_URL = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?")
_MISSING_KEY = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
# What a presigned download is served with: the bytes at that URL never change.
_IMMUTABLE = "private, max-age=31536000, immutable"


@dataclass(frozen=True)
class S3Location:
    """A bucket and key prefix ("" or without a slash at either end), and how to reach it: endpoint_url ("" =
    AWS itself) and region ("" = boto3's default)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""

    @classmethod
    def from_url(cls, url: str, endpoint_url: str = "", region: str = "") -> "S3Location":
        """From `s3://bucket[/prefix]`; ValueError for anything else."""
        match = _URL.fullmatch(url)
        if match is None:
            raise ValueError(f"not an s3://bucket[/prefix] URL: {url!r:.120}")
        return cls(match["bucket"], (match["prefix"] or "").strip("/"), endpoint_url, region)


class S3ArtifactStore:
    """An ArtifactBackend in a bucket. presign_seconds > 0: results are handed out as presigned URLs that long."""

    def __init__(self, location: S3Location, presign_seconds: int = 0) -> None:
        where = f"s3://{location.bucket}/{location.prefix}".rstrip("/")
        try:
            # deferred: the optional extra `s3`, loaded only when a bucket is configured
            import boto3
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ModuleNotFoundError:
            raise ArtifactStoreUnavailableError(
                f"artifacts are configured in {where} but boto3 is not installed: pip install 'promptcut[s3]'"
            ) from None
        self.location = location
        self.presign_seconds = presign_seconds
        self._failures = (BotoCoreError, ClientError)  # what any call to the bucket may raise
        session = boto3.session.Session()  # sessions are not thread-safe, the clients made from one are
        # MinIO and most other S3-compatible servers want the bucket in the path, not in the host name.
        addressing = {"addressing_style": "path"} if location.endpoint_url else None
        reach = {"endpoint_url": location.endpoint_url or None, "region_name": location.region or None}
        self._client = session.client("s3", **reach, config=Config(
            connect_timeout=5, read_timeout=30, retries={"mode": "standard"}, s3=addressing,
            signature_version="s3v4",  # presigned URLs too (botocore may still sign those with the retired v2)
            max_pool_connections=32))  # pool threads and the engine's writer threads share this client
        # Readiness answers fast: one attempt, short timeouts.
        self._probe = session.client("s3", **reach, config=Config(
            connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 1}, s3=addressing))
        self.where = f"{where} at {self._client.meta.endpoint_url}"  # for messages: bucket and endpoint

    def key(self, digest: str) -> str:
        """The object key for `digest`. ValueError for a malformed digest."""
        if not is_digest(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r:.80}")
        fan_out = f"{digest[:2]}/{digest[2:4]}/{digest}"
        return f"{self.location.prefix}/{fan_out}" if self.location.prefix else fan_out

    def check(self) -> None:
        """At start: ArtifactStoreUnavailableError (one line naming the bucket and endpoint) unless the endpoint
        answers, the bucket exists and the credentials are accepted."""
        try:
            self._client.head_bucket(Bucket=self.location.bucket)
        except self._failures as exc:
            if _code(exc) in ("404", "NoSuchBucket"):
                raise ArtifactStoreUnavailableError(f"artifact store {self.where}: no such bucket") from None
            raise self._unavailable(exc) from None

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        key = self.key(digest)
        try:
            if not self._head(key):
                self._client.put_object(Bucket=self.location.bucket, Key=key, Body=data,
                                        ContentType=_content_type(data))
        except self._failures as exc:
            raise OutputWriteError(f"cannot store an artifact in {self.where} ({_reason(exc)})") from None
        return digest

    def get(self, digest: str) -> bytes:
        key = self.key(digest)
        try:
            return self._client.get_object(Bucket=self.location.bucket, Key=key)["Body"].read()
        except self._failures as exc:
            if _code(exc) in _MISSING_KEY:
                raise ArtifactNotFoundError(f"no stored artifact {digest}") from None
            raise self._unavailable(exc) from None

    def exists(self, digest: str) -> bool:
        key = self.key(digest)
        try:
            return self._head(key)
        except self._failures as exc:
            raise self._unavailable(exc) from None

    def delete(self, digest: str) -> bool:
        key = self.key(digest)
        try:
            if not self._head(key):  # DELETE answers the same whether or not there was an object
                return False
            self._client.delete_object(Bucket=self.location.bucket, Key=key)
            return True
        except self._failures as exc:
            raise self._unavailable(exc) from None

    def writable(self) -> bool:
        """The endpoint answers, the bucket exists and takes our credentials (one quick HEAD, no write: a probe
        object per readiness poll would cost a request and, in a versioned bucket, a version each time)."""
        try:
            self._probe.head_bucket(Bucket=self.location.bucket)
            return True
        except self._failures:
            return False

    def download_url(self, digest: str, content_type: str | None = None, attachment: bool = False) -> str | None:
        key = self.key(digest)
        if self.presign_seconds <= 0:
            return None
        params = {"Bucket": self.location.bucket, "Key": key, "ResponseCacheControl": _IMMUTABLE}
        if content_type:
            params["ResponseContentType"] = content_type
        if attachment:
            params["ResponseContentDisposition"] = "attachment"
        try:  # signed locally: no request is made
            return self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.presign_seconds)
        except self._failures as exc:
            raise self._unavailable(exc) from None

    def _head(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.location.bucket, Key=key)
            return True
        except self._failures as exc:
            if _code(exc) in _MISSING_KEY:
                return False
            raise

    def _unavailable(self, exc: Exception) -> ArtifactStoreUnavailableError:
        return ArtifactStoreUnavailableError(f"artifact store {self.where} is unavailable: {_reason(exc)}")


def _code(exc: Exception) -> str:
    """The S3 error code of a ClientError ("404", "NoSuchKey", "AccessDenied"…); "" for any other failure."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _reason(exc: Exception) -> str:
    """One short line for an operator (never a traceback, never a secret: botocore messages carry neither)."""
    # deferred: botocore, loaded by the store that failed
    from botocore.exceptions import ClientError, NoCredentialsError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as EndpointUnreachableError

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
    if isinstance(exc, EndpointUnreachableError):
        return "cannot connect to the endpoint"
    if isinstance(exc, ReadTimeoutError):
        return "the endpoint did not answer in time"
    if isinstance(exc, ClientError):
        code = _code(exc)
        if code in _DENIED:
            return f"access denied ({code}): check the AWS credentials and the bucket's permissions"
        if code == "NoSuchBucket":
            return "no such bucket"
        message = exc.response.get("Error", {}).get("Message", "")
        return " ".join(f"{code} {message}".split())[:200]
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _content_type(data: bytes) -> str:
    """Stored with the object: what a presigned download is served as when the API recorded no type (results are
    recorded without one). Never a type a browser would render as a page."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
