"""Tickets: a short-lived, single-use stand-in for the access token in a URL.

A browser's `EventSource` cannot send an Authorization header, and a download link cannot
either; putting the access token in the URL would leak it into logs, history and referrers.
So a signed-in request asks for a ticket (`issue`), and the URL carries that instead:

- 256 random bits, stored only as their SHA-256 (migration 0025), never logged (the access
  log redacts `ticket=`, `momento.logs.redact_query`);
- bound to the user, the session (signing out deletes it), a purpose and one resource;
- valid `ttl` seconds (30 by default), and redeemed once, on whichever API process gets it.

`redeem` returns the caller as the ticket's session had them (the access token's claims), so
the redeeming request reads under the same row-level security as a bearer request would.
Whoever issues a ticket checks first that the caller may use the resource: a ticket adds no
rights, it only carries the caller's identity.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from psycopg.types.json import Jsonb

from momento.errors import InvalidTicket, raises
from momento.identity import CurrentUser

if TYPE_CHECKING:
    from momento.services import Services

DEFAULT_TTL = 30

_ISSUE = """
INSERT INTO momento.tickets (hash, user_id, session_id, purpose, resource_id, claims, expires_at)
SELECT %(hash)s, %(user_id)s, s.id, %(purpose)s, %(resource_id)s, %(claims)s,
       now() + make_interval(secs => %(ttl)s)
FROM auth.sessions s
WHERE s.id = %(session_id)s AND s.user_id = %(user_id)s
RETURNING expires_at
"""

# Single use: the row goes as it is read, so two processes redeeming the same ticket at once
# cannot both succeed (one DELETE finds nothing).
_REDEEM = """
DELETE FROM momento.tickets
WHERE hash = %(hash)s AND purpose = %(purpose)s AND resource_id = %(resource_id)s
RETURNING user_id, claims, expires_at > now() AS valid
"""

_PRUNE = "DELETE FROM momento.tickets WHERE expires_at < now() - interval '1 hour'"


@dataclass(frozen=True)
class Ticket:
    token: str
    expires_at: datetime


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@raises(InvalidTicket)
async def issue(
    services: Services,
    user: CurrentUser,
    purpose: str,
    resource_id: uuid.UUID,
    ttl: int = DEFAULT_TTL,
) -> Ticket:
    """A ticket for `user`'s current session to use `resource_id` for `purpose` once."""
    token = secrets.token_urlsafe(32)
    try:
        session_id = uuid.UUID(str(user.claims["session_id"]))
    except (KeyError, ValueError):
        raise InvalidTicket("The access token names no session.") from None
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            _ISSUE,
            {
                "hash": _hash(token),
                "user_id": user.id,
                "session_id": session_id,
                "purpose": purpose,
                "resource_id": resource_id,
                "claims": Jsonb(user.claims),
                "ttl": ttl,
            },
        )
        row = await cur.fetchone()
        if secrets.randbelow(100) == 0:
            await conn.execute(_PRUNE)
    if row is None:
        # Signed out since the token was minted: no session to bind the ticket to.
        raise InvalidTicket("The session has ended.")
    return Ticket(token, row["expires_at"])


@raises(InvalidTicket)
async def redeem(
    services: Services, token: str | None, purpose: str, resource_id: uuid.UUID
) -> CurrentUser:
    """The caller a ticket stands for, once: 401 invalid_ticket for a missing, unknown, used,
    expired or foreign ticket, or one whose session was signed out (the row went with it).
    The returned user carries no access token (`token` is empty)."""
    if not token or len(token) > 128:
        raise InvalidTicket()
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            _REDEEM, {"hash": _hash(token), "purpose": purpose, "resource_id": resource_id}
        )
        row = await cur.fetchone()
    if row is None or not row["valid"]:
        raise InvalidTicket()
    return CurrentUser(id=row["user_id"], claims=dict(row["claims"]), token="")
