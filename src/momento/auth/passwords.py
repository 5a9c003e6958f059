"""Password hashing: argon2id for new hashes; bcrypt hashes (as Supabase stores them) accepted.

Users imported from Supabase keep their bcrypt hashes until they next sign in, when the
password they typed is re-hashed with argon2id. Hashing costs tens of milliseconds of CPU, so
the async helpers run it in a worker thread and the event loop keeps serving other requests.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
# Verified against when the account does not exist, so a wrong email costs as long as a
# wrong password and response times do not reveal which addresses have accounts.
_DUMMY_HASH = _hasher.hash("momento-dummy-password")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    needs_rehash: bool = False


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> Verdict:
    """Check `password` against a stored argon2id or bcrypt hash (never raises)."""
    if not stored:
        _verify_argon2(_DUMMY_HASH, password)
        return Verdict(False)
    if stored.startswith(_BCRYPT_PREFIXES):
        secret = password.encode()
        if len(secret) > 72:  # bcrypt only ever saw 72 bytes; such a password never matched
            return Verdict(False)
        try:
            ok = bcrypt.checkpw(secret, stored.encode())
        except ValueError:
            return Verdict(False)
        return Verdict(ok, needs_rehash=ok)
    if stored.startswith("$argon2"):
        if not _verify_argon2(stored, password):
            return Verdict(False)
        return Verdict(True, needs_rehash=_hasher.check_needs_rehash(stored))
    _verify_argon2(_DUMMY_HASH, password)
    return Verdict(False)


def _verify_argon2(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await anyio.to_thread.run_sync(hash_password, password)


async def verify_password_async(stored: str | None, password: str) -> Verdict:
    return await anyio.to_thread.run_sync(verify_password, stored, password)
