"""Content-addressed blob store on disk: a blob lives at root/ab/cd/<sha256 hex> and is never rewritten.

`ArtifactBackend` is what the service asks of any artifact store: this folder (`ArtifactStore`, the default)
or an S3-compatible bucket (service/engine/s3store.py, chosen by service/engine/artifact_stores.py).

Identical bytes are stored once. Writes are atomic (temp file + rename), so a reader or a crash never leaves a
half-written blob under its final name. Blobs are private to the service account: files 0600, folders 0700
whatever the umask (service/private_files.py). Digests are validated before they touch the filesystem, so a
digest taken from a request or the database can never name a path outside the store.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from fusion.errors import OutputWriteError, PromptcutError
from service.private_files import make_private_dir, write_private_atomic

_DIGEST = re.compile(r"[0-9a-f]{64}")


class ArtifactNotFoundError(PromptcutError):
    """A digest is well formed but no blob is stored under it."""

    code = "artifact_missing"


class ArtifactStoreUnavailableError(PromptcutError):
    """The store cannot be reached or refuses us (endpoint down, no such bucket, bad credentials): an operator's
    problem, not the request's. The message names the bucket and the endpoint."""

    code = "artifact_store_unavailable"


class ArtifactBackend(Protocol):
    """An artifact store, keyed by the sha256 of the bytes. Every method refuses a malformed digest (ValueError)."""

    def put(self, data: bytes) -> str:
        """Store `data` (not again when present) and return its sha256 hex. OutputWriteError on failure."""
        ...

    def get(self, digest: str) -> bytes:
        """The stored bytes. ArtifactNotFoundError when absent."""
        ...

    def exists(self, digest: str) -> bool: ...

    def delete(self, digest: str) -> bool:
        """Remove the blob; True if there was one."""
        ...

    def writable(self) -> bool:
        """For readiness checks: can the store be used now (the folder: written; a bucket: reached). Never raises."""
        ...

    def download_url(self, digest: str, content_type: str | None = None, attachment: bool = False) -> str | None:
        """A short-lived URL a client may fetch the blob from directly, served as `content_type` (None: the type
        stored with the blob) and as a download when `attachment`; None: the API streams the bytes itself."""
        ...


def is_digest(value: object) -> bool:
    """True for a lower-case sha256 hex digest (64 characters)."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


class ArtifactStore:
    """The default ArtifactBackend: a folder (data_dir/artifacts)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        """Where the blob for `digest` lives (whether or not it exists). ValueError for a malformed digest."""
        if not is_digest(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r:.80}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store `data` and return its sha256 hex digest; a blob already present is not written again."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            try:
                write_private_atomic(target, data)
            except OSError as exc:
                reason = exc.strerror or " ".join(str(exc).split())[:200] or type(exc).__name__
                raise OutputWriteError(f"cannot store an artifact ({reason})") from None
        return digest

    def get(self, digest: str) -> bytes:
        """The stored bytes. ArtifactNotFoundError when absent."""
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFoundError(f"no stored artifact {digest}") from None

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def delete(self, digest: str) -> bool:
        try:
            self.path(digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def download_url(self, digest: str, content_type: str | None = None, attachment: bool = False) -> str | None:
        self.path(digest)  # the digest is checked as for every other call
        return None  # a folder has no URL of its own: the API streams the file

    def writable(self) -> bool:
        """Whether a blob can be written now (for readiness checks): writes and removes a probe file."""
        try:
            make_private_dir(self.root)
            fd, name = tempfile.mkstemp(dir=self.root, prefix=".probe.")
            os.close(fd)
            os.unlink(name)
            return True
        except OSError:
            return False
