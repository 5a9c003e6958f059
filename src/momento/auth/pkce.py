"""PKCE for mailed links (RFC 7636, as GoTrue does it; migration 0014).

A request that mails a link (signup, recovery, email change) may carry `code_challenge` and
`code_challenge_method`. Its link then carries the token as `pkce_<token hash>` and a flow
state remembers the challenge. Following the link verifies the token and redirects with
`?code=<auth_code>` instead of a session; `POST /token?grant_type=pkce` exchanges that code,
with the verifier whose challenge was stored, for a session: once, within `CODE_TTL`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import LiteralString

from psycopg.rows import DictRow

from momento.auth.errors import (
    BadCodeVerifier,
    FlowStateExpired,
    FlowStateNotFound,
    ValidationFailed,
)
from momento.db.pool import Conn
from momento.errors import raises

PREFIX = "pkce_"
# How long an issued code can be exchanged (GoTrue's flow state expiry).
CODE_TTL = 300
# Flow states whose link was never followed go after this (the link itself expires sooner).
STALE_AFTER = 24 * 3600
# RFC 7636 4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
METHODS = ("s256", "plain")


@dataclass(frozen=True, slots=True)
class Challenge:
    value: str
    method: str  # "s256" or "plain"


@raises(ValidationFailed)
def challenge_from(code_challenge: str | None, method: str | None) -> Challenge | None:
    """The request's challenge, None without one; 400 when half there or malformed."""
    if not code_challenge and not method:
        return None
    if not code_challenge or not method:
        raise ValidationFailed("PKCE flow requires code_challenge_method and code_challenge")
    normalized = method.lower()
    if normalized not in METHODS:
        raise ValidationFailed(f"Unsupported code_challenge_method {method!r}")
    if not 43 <= len(code_challenge) <= 128:
        raise ValidationFailed("code_challenge has to be between 43 and 128 characters")
    return Challenge(code_challenge, normalized)


def link_token(token_hash: str, challenge: Challenge | None) -> str:
    """The token the mailed link carries."""
    return PREFIX + token_hash if challenge is not None else token_hash


def split_link_token(token: str) -> tuple[str, bool]:
    """(token hash, whether the link was mailed for a PKCE flow)."""
    if token.startswith(PREFIX):
        return token[len(PREFIX) :], True
    return token, False


def matches(challenge: str, method: str, verifier: str) -> bool:
    if method == "s256":
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return hmac.compare_digest(expected.encode(), challenge.encode())


_CREATE: LiteralString = """
INSERT INTO auth.flow_state
  (user_id, token_hash, code_challenge, code_challenge_method, authentication_method)
VALUES (%(user)s, %(token)s, %(challenge)s, %(method)s, %(kind)s)
"""

_DROP_STALE: LiteralString = (
    "DELETE FROM auth.flow_state WHERE created_at < now() - make_interval(secs => %s)"
)

_ISSUE: LiteralString = """
UPDATE auth.flow_state SET auth_code_issued_at = now()
WHERE id = (
  SELECT id FROM auth.flow_state
  WHERE user_id = %(user)s AND token_hash = %(token)s AND auth_code_issued_at IS NULL
  ORDER BY created_at DESC LIMIT 1
)
RETURNING auth_code
"""

_DROP_OF_LINK: LiteralString = (
    "DELETE FROM auth.flow_state WHERE user_id = %(user)s AND token_hash = %(token)s"
)

_TAKE: LiteralString = """
DELETE FROM auth.flow_state
WHERE auth_code = %(code)s AND auth_code_issued_at IS NOT NULL
RETURNING user_id, code_challenge, code_challenge_method, authentication_method,
  auth_code_issued_at < now() - make_interval(secs => %(ttl)s) AS expired
"""


async def remember(
    conn: Conn, user_id: uuid.UUID, token_hash: str, challenge: Challenge, kind: str
) -> None:
    """Tie `challenge` to the mailed token (in the transaction that stores the token)."""
    await conn.execute(_DROP_STALE, (STALE_AFTER,))
    await conn.execute(
        _CREATE,
        {
            "user": user_id,
            "token": token_hash,
            "challenge": challenge.value,
            "method": challenge.method,
            "kind": kind,
        },
    )


@raises(FlowStateNotFound)
async def issue_code(conn: Conn, user_id: uuid.UUID, token_hash: str) -> uuid.UUID:
    """The link was followed: the code to exchange, valid from now."""
    cur = await conn.execute(_ISSUE, {"user": user_id, "token": token_hash})
    row = await cur.fetchone()
    if row is None:
        raise FlowStateNotFound("No valid flow state found for this link")
    code: uuid.UUID = row["auth_code"]
    return code


async def forget(conn: Conn, user_id: uuid.UUID, token_hash: str) -> None:
    """The token was used without the link (POST /verify): its flow state has no use."""
    await conn.execute(_DROP_OF_LINK, {"user": user_id, "token": token_hash})


@raises(ValidationFailed, FlowStateNotFound, FlowStateExpired, BadCodeVerifier)
async def take(conn: Conn, auth_code: str | None, verifier: str | None) -> DictRow:
    """The flow state of `auth_code`, removed (a code is used once), if `verifier` is the
    one whose challenge it holds and the code has not expired."""
    if not auth_code or not verifier:
        raise ValidationFailed(
            "invalid request: both auth code and code verifier should be non-empty"
        )
    if not _VERIFIER.match(verifier):
        raise ValidationFailed("code_verifier must be 43 to 128 unreserved characters")
    try:
        code = uuid.UUID(auth_code)
    except ValueError:
        code = None
    row = None
    if code is not None:
        cur = await conn.execute(_TAKE, {"code": code, "ttl": CODE_TTL})
        row = await cur.fetchone()
    if row is None:
        raise FlowStateNotFound()
    if row["expired"]:
        raise FlowStateExpired()
    if not matches(row["code_challenge"], row["code_challenge_method"], verifier):
        raise BadCodeVerifier()
    return row
