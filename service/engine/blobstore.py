"""Content-addressed blob store on disk: a blob lives at root/ab/cd/<sha256 hex> and is never rewritten.

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

from fusion.errors import OutputWriteError, PromptcutError
from service.private_files import make_private_dir, write_private_atomic

_DIGEST = re.compile(r"[0-9a-f]{64}")


class ArtifactNotFoundError(PromptcutError):
    """A digest is well formed but no blob is stored under it."""

    code = "artifact_missing"


def is_digest(value: object) -> bool:
    """True for a lower-case sha256 hex digest (64 characters)."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


class ArtifactStore:
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
