"""Real small disks for the tests of full and failing file systems: tmpfs mounts.

The commands and their arguments are constants and test-made paths, never outside input.
"""

# ruff: noqa: S603

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: these tests need it (and root)")
    return path


@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "4m") -> Iterator[Path]:
    """A fresh tmpfs of `size` mounted on `folder`, unmounted afterwards.

    A mount that fails raises (the test fails, it is never skipped): a test of a full disk
    that quietly ran on the big one would prove nothing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [_tool("mount"), "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run([_tool("umount"), str(folder)], check=True, capture_output=True)


def remount(folder: Path, mode: str) -> None:
    """`ro` or `rw`."""
    subprocess.run(
        [_tool("mount"), "-o", f"remount,{mode}", str(folder)], check=True, capture_output=True
    )


def fill(path: Path) -> int:
    """Write `path` until its file system is full (ENOSPC); returns the bytes written."""
    block = b"\xff" * (256 * 1024)
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                written += os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                # Less than a block may still be free: fill that too, down to the page.
                if len(block) <= 4096:
                    return written
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
