"""Who is calling: the signed-in user a request acts for, as domain operations receive it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CurrentUser:
    """The caller of a request: their id, their verified access token's claims (what the
    database's `auth.uid()` and the policies read), and the token itself."""

    id: uuid.UUID
    claims: dict[str, Any]
    token: str
