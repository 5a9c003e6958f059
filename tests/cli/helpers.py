"""Helpers for the tests that run the `momento` command: where it is, the environment it
runs in (none of the developer's settings), a free port."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

MOMENTO = str(Path(sys.executable).with_name("momento"))


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOMENTO_", "APNS_", "POSTHOG_", "REVENUECAT_", "XDG_RUNTIME"))
        and k not in ("DATABASE_URL", "SMTP_URL", "JWT_PRIVATE_KEY", "STORAGE_URL")
    }
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
