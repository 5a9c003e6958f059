"""What a new password must be: GoTrue's checks, with a bundled list of common passwords.

A password refused answers GoTrue's 422 `weak_password` with the reasons its clients know
(supabase-js and supabase_auth raise AuthWeakPasswordError from `weak_password.reasons`):

- `length`: shorter than `password_min_length`;
- `characters`: not drawing on each of `password_required_characters`' sets;
- `pwned`: one of the most common passwords (the bundled list, compared without case), or,
  when `password_hibp_enabled`, found in Have I Been Pwned's breach corpus.

The list is `common-passwords.txt.gz` beside this module (provenance and licence in
`common-passwords.NOTICE`): read once, on the first password checked. The breach check uses
HIBP's k-anonymity range API: only the first five hex digits of the password's SHA-1 leave the
server, and the answer is padded so that its size says nothing either. When HIBP is down or
slow the password is accepted and a warning logged, as GoTrue does by default: signing up must
not depend on a third party.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path

import httpx

from momento import __version__, logs
from momento.auth.errors import ValidationFailed, WeakPassword
from momento.config import Settings
from momento.errors import raises

log = logs.get("momento.auth")

MAX_PASSWORD_LENGTH = 256
COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt.gz")
PWNED_MESSAGE = "Password is known to be weak and easy to guess, please choose a different one."


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list (lowercase, one a line), loaded once."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as f:
        return frozenset(line.rstrip("\n") for line in f if line.strip())


def is_common(password: str) -> bool:
    return password.lower() in common_passwords()


def required_character_sets(value: str) -> list[str]:
    """GoTrue's GOTRUE_PASSWORD_REQUIRED_CHARACTERS: sets separated by ':', where a set ending
    in a backslash is joined to the next by a literal ':' (so '\\:' is a colon)."""
    parts = value.split(":")
    for i in range(len(parts) - 1):
        part = parts[i]
        if part.endswith("\\"):
            parts[i] = part[:-1] + ":" + parts[i + 1]
            parts[i + 1] = ""
    return [p for p in parts if p]


@raises(WeakPassword, ValidationFailed)
async def check(settings: Settings, password: str) -> None:
    """Refuse `password` as a new password if it is too long (400), or weak (422, with every
    reason that applies, as GoTrue answers)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"Password cannot be longer than {MAX_PASSWORD_LENGTH} characters")
    reasons: list[str] = []
    messages: list[str] = []
    minimum = settings.password_min_length
    if len(password) < minimum:
        reasons.append("length")
        messages.append(f"Password should be at least {minimum} characters.")
    sets = required_character_sets(settings.password_required_characters)
    if any(not any(c in s for c in password) for s in sets):
        reasons.append("characters")
        messages.append(
            f"Password should contain at least one character of each: {', '.join(sets)}."
        )
    if is_common(password) or (
        settings.password_hibp_enabled and await pwned_on_hibp(settings, password)
    ):
        reasons.append("pwned")
        messages.append(PWNED_MESSAGE)
    if reasons:
        raise WeakPassword(minimum, reasons, " ".join(messages))


async def pwned_on_hibp(settings: Settings, password: str) -> bool:
    """Whether HIBP's range API lists the password; False (with a warning) when it cannot say."""
    digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
    prefix, suffix = digest[:5], digest[5:]
    try:
        async with httpx.AsyncClient(timeout=settings.password_hibp_timeout) as client:
            r = await client.get(
                f"{settings.password_hibp_url}/range/{prefix}",
                headers={"Add-Padding": "true", "User-Agent": f"momento-server/{__version__}"},
            )
            r.raise_for_status()
            body = r.text
    except httpx.HTTPError as exc:
        log.warning(
            "breached-password check unavailable; password accepted",
            error=type(exc).__name__,
        )
        return False
    for line in body.splitlines():
        found, _, count = line.strip().partition(":")
        if found.upper() == suffix:
            # Padding entries have a count of 0: not a breached password.
            return count.strip().isdigit() and int(count) > 0
    return False
