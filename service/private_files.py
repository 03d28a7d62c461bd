"""Files and folders the service keeps in its data directory are private to the account running it.

Photos in the artifact store, the SQLite database (API key hashes, store tokens sealed under the key) and the
secret key file are created 0600 and their folders 0700, whatever the process umask: a mode is set explicitly,
never left to the umask. Files and folders that already exist are left as they are (see docs/operations.md for
tightening an older data directory once).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fusion.imageio import fsync_dir

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def make_private_dir(path: str | Path) -> Path:
    """Create `path` and any missing parent, each one 0700; folders that already exist keep their mode."""
    folder = Path(path)
    if folder.is_dir():
        return folder
    for missing in [*reversed(folder.parents), folder]:
        if missing.is_dir():
            continue
        try:
            missing.mkdir(mode=PRIVATE_DIR)  # never wider than 0700 (the umask can only narrow it) ...
        except FileExistsError:
            if not missing.is_dir():
                raise  # a file is in the way
            continue  # another process or thread made it first
        os.chmod(missing, PRIVATE_DIR)  # ... and exactly 0700 even under an unusual umask (e.g. 0o277)
    return folder


def create_private_file(path: str | Path) -> bool:
    """Create `path` empty with mode 0600 when it does not exist (its folder too, 0700); True if created."""
    target = Path(path)
    make_private_dir(target.parent)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
    finally:
        os.close(descriptor)
    return True


def write_private_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` (mode 0600, missing folders 0700) so that readers see either no file or the
    complete one: a temp file in the same folder, fsynced, renamed over the target. OSError on failure, with
    no temp file left behind."""
    target = Path(path)
    make_private_dir(target.parent)
    descriptor, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_FILE)  # mkstemp asks for 0600, which the umask may narrow
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)  # the rename made durable where the platform allows it
