"""The secret that signs local file URLs.

`FILES_SIGNING_SECRET` when set; otherwise (development, tests) it is generated once and kept
in `<data dir>/secrets/files_hmac.key` (mode 0600), so signed URLs survive restarts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "files_hmac.key"


def load_or_create(data_dir: Path, file_name: str = FILE_NAME) -> bytes:
    """Read the generated secret from the data directory, creating it on first start (also
    used for other generated secrets, each in its own `file_name`)."""
    folder = data_dir / "secrets"
    path = folder / file_name
    if path.exists():
        return _read(path)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(32).encode()
    tmp = folder / f".{file_name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(value)
    try:
        # Two processes starting at once: the first link wins, the other reads it.
        os.link(tmp, path)
    except FileExistsError:
        return _read(path)
    finally:
        tmp.unlink(missing_ok=True)
    return value


def _read(path: Path) -> bytes:
    value = path.read_bytes().strip()
    if len(value) < 32:
        raise ValueError(f"{path} holds fewer than 32 bytes; delete it to generate a new one")
    return value
