"""What the auth operations share: who calls, the checks on what they send, rate limits, and
the hashes secrets are stored as.

Every secret is stored only as a hash: refresh tokens as SHA-256 hex, mailed codes as GoTrue's
`token_hash` (hex SHA-224 of the address and the 6-digit code).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg.rows import DictRow

from momento.auth import password_policy
from momento.auth import queries as q
from momento.auth.errors import (
    BadJwt,
    NoAuthorization,
    OverRequestRateLimit,
    SessionNotFound,
    UserNotFound,
    ValidationFailed,
)
from momento.config import Settings
from momento.db.pool import Conn
from momento.errors import InvalidToken, RateLimited, raised_by, raises
from momento.kit.ratelimit import Limit

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports the domains' tasks.
    from momento.services import Services

MAX_EMAIL_LENGTH = 255

_EMAIL = re.compile(r"^[^\s@\"<>,;:()\[\]\\]+@[^\s@\"<>,;:()\[\]\\.]+(\.[^\s@\"<>,;:()\[\]\\.]+)+$")


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from: recorded on new sessions and used for rate limits."""

    ip: str
    user_agent: str | None = None


@dataclass(frozen=True)
class Identity:
    """The verified claims of the bearer token on a user call."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    token: str


# --- the caller ----------------------------------------------------------------------------


@raises(NoAuthorization, BadJwt)
def identify(services: Services, token: str | None) -> Identity:
    """Verify a bearer token as GoTrue does (401 no_authorization, 403 bad_jwt)."""
    if not token:
        raise NoAuthorization()
    try:
        claims = services.tokens.verify(token)
        return Identity(uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["session_id"])), token)
    except InvalidToken as exc:
        raise BadJwt(f"invalid JWT: unable to parse or verify signature, {exc.detail}") from None
    except (KeyError, ValueError):
        raise BadJwt("invalid JWT: session_id is not valid") from None


@raises(UserNotFound, SessionNotFound)
async def current_user(conn: Conn, who: Identity) -> DictRow:
    """The caller's account, if it exists and the token's session is still signed in."""
    cur = await conn.execute(q.USER_WITH_SESSION, {"uid": who.user_id, "sid": who.session_id})
    row = await cur.fetchone()
    if row is None:
        raise UserNotFound("User from sub claim in JWT does not exist")
    if not row["has_session"]:
        raise SessionNotFound()
    return row


@raises(OverRequestRateLimit)
async def limit(services: Services, limits: Sequence[Limit]) -> None:
    """Count one hit against each `(key, limit[, window])`: 429 over_request_rate_limit if
    over any."""
    try:
        await services.limiter.hit(limits)
    except RateLimited as exc:
        raise OverRequestRateLimit(exc.retry_after) from None


# --- what the caller sends -------------------------------------------------------------------


@raises(ValidationFailed)
def normalize_email(value: str | None) -> str:
    email = (value or "").strip().lower()
    if not email:
        raise ValidationFailed("An email address is required.")
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise ValidationFailed("Unable to validate email address: invalid format")
    return email


@raises(*raised_by(password_policy.check))
async def check_password(settings: Settings, password: str) -> None:
    """A new password (signup, change, reset): GoTrue's weak_password checks, the list of
    common passwords, and HIBP when enabled (see `momento.auth.password_policy`)."""
    await password_policy.check(settings, password)


# --- hashes of stored secrets ----------------------------------------------------------------


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def account_key(email: str) -> str:
    """The part of a rate limit key that names an account (not the address itself)."""
    return sha256_hex(email)[:32]


def address_key(ip: str) -> str:
    """A client address as the abuse rules count it: an IPv4 address, or the /64 network of an
    IPv6 one. A /64 is one subscriber's (a host picks any address in it at will, and a phone's
    privacy addresses change daily), so counting single IPv6 addresses would count nothing."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


_address_keys: dict[str, bytes] = {}


def address_hash(services: Services, ip: str) -> bytes:
    """A client address (its `address_key`) as stored for the abuse rules: HMAC-SHA256 under
    a key derived from the token signing key, so the table says nothing of where users are
    without that key (and a new signing key simply forgets the known addresses)."""
    key = services.tokens.key
    secret = _address_keys.get(key.kid)
    if secret is None:
        private = key.private.private_numbers().private_value.to_bytes(32, "big")
        secret = hashlib.sha256(b"momento client address v1\x00" + private).digest()
        _address_keys[key.kid] = secret
    return hmac.new(secret, address_key(ip).encode(), hashlib.sha256).digest()


def otp_hash(services: Services, email: str, otp: str) -> str:
    """The token_hash of a mailed code, as stored and put in the mail's link: hex HMAC-SHA-224
    of the address and the code (`TokenService.mail_token_hash`)."""
    return services.tokens.mail_token_hash(email, otp)


def new_otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)
