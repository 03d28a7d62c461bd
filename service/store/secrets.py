"""Secrets at rest (store access tokens; later webhook signing secrets): AES-256-GCM under the server's key.

The key comes from settings.secret_key (PROMPTCUT_SECRET_KEY, any string, stretched to 32 bytes with HKDF-SHA256).
When that is empty, a random key is created once in data_dir/secret.key (mode 0600) and reused: fine for one
server, but servers sharing a database must all be given the same PROMPTCUT_SECRET_KEY, or each would hold a
key the others' rows were not encrypted with.

A sealed value reads `v1.<key id>.<nonce + ciphertext + tag, base64url>`. The key id (8 hex digits derived from
the key) tells "encrypted under another key" apart from "damaged", so a wrong key is a clear error, never
garbage. `context` is bound as associated data: a value sealed for one row or purpose cannot be pasted into
another (the database owner cannot swap one store's token into another store's row).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as random_bytes
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fusion.errors import PromptcutError
from service.private_files import PRIVATE_FILE, make_private_dir

VERSION = "v1"
KEY_FILE_NAME = "secret.key"
_NONCE_BYTES = 12
_HKDF_INFO = b"promptcut secrets at rest v1"


class SecretKeyError(PromptcutError):
    """A sealed secret cannot be opened (another key, damaged), or the key file cannot be read or made."""

    code = "secret_key_invalid"


@dataclass(frozen=True)
class SecretBox:
    """Seals and opens short secrets with one 32-byte key. Build it with `secret_box(...)`."""

    key: bytes = field(repr=False)
    source: str  # where the key came from, for messages: "PROMPTCUT_SECRET_KEY" or the key file's path

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("a SecretBox key is 32 bytes")

    @property
    def key_id(self) -> str:
        return hmac.new(self.key, b"promptcut key id", hashlib.sha256).hexdigest()[:8]

    def seal(self, plaintext: str, context: str) -> str:
        nonce = random_bytes.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return f"{VERSION}.{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def open(self, sealed: str, context: str) -> str:
        version, _, rest = sealed.partition(".")
        key_id, _, payload = rest.partition(".")
        if version != VERSION or not payload:
            raise SecretKeyError("a stored secret is damaged (unknown format)")
        if key_id != self.key_id:
            raise SecretKeyError(f"a stored secret was encrypted under another key than the one in {self.source}; "
                                 "give every server the PROMPTCUT_SECRET_KEY it was stored with")
        try:
            raw = base64.urlsafe_b64decode(payload.encode("ascii"))
            plain = AESGCM(self.key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8"))
        except (InvalidTag, ValueError):
            raise SecretKeyError("a stored secret is damaged or belongs to another record; store it again") from None
        return plain.decode("utf-8")


def derive_key(secret: str) -> bytes:
    """Any non-empty string → a 32-byte key (HKDF-SHA256, fixed info: the same string gives the same key)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret.encode("utf-8"))


def secret_box(secret_key: str, data_dir: Path) -> SecretBox:
    """The server's SecretBox: from `secret_key` when given, else from data_dir/secret.key (created once)."""
    if secret_key.strip():
        return SecretBox(derive_key(secret_key.strip()), "PROMPTCUT_SECRET_KEY")
    path = data_dir / KEY_FILE_NAME
    return SecretBox(derive_key(_key_file(path)), str(path))


def server_box(settings) -> SecretBox:
    """secret_box for the server's settings (PROMPTCUT_SECRET_KEY, PROMPTCUT_DATA_DIR): every server, worker and
    CLI command opens the same secrets with it."""
    return secret_box(settings.secret_key.get_secret_value(), settings.data_dir)


def _key_file(path: Path) -> str:
    """The key file's contents, creating it with a random key when absent. The new file is written aside and
    linked into place, so two servers starting together agree on one key and none reads a half-written file."""
    try:
        if not path.exists():
            make_private_dir(path.parent)  # 0700 for any folder made here, like the rest of the data directory
            staging = path.with_name(f".{path.name}.{os.getpid()}.{random_bytes.token_hex(4)}")
            descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            with os.fdopen(descriptor, "w") as handle:
                os.fchmod(handle.fileno(), PRIVATE_FILE)  # exactly 0600 whatever the umask
                handle.write(random_bytes.token_urlsafe(32) + "\n")
            try:
                os.link(staging, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
            finally:
                staging.unlink()
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretKeyError(f"cannot read or create the key file {path}: {exc.strerror or exc}; "
                             "or set PROMPTCUT_SECRET_KEY") from None
    if not text:
        raise SecretKeyError(f"the key file {path} is empty; restore it or set PROMPTCUT_SECRET_KEY")
    return text
