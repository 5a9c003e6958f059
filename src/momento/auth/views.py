"""GoTrue's User object, built from an auth.users row.

Timestamps are RFC 3339 in UTC with `T` and `Z` (Swift's decoder rejects anything else); null
timestamps are left out; a missing email or phone is `""`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# Identity ids of the email identity, made from the user id. The email identity of a password
# account is not stored (auth.identities holds the others, such as `apple`): it is made from
# the account, as GoTrue would show it.
_IDENTITY_NAMESPACE = uuid.UUID("6f0b8a52-3c1e-4d7a-9a57-0e6f3f1b2c4d")

_TIMESTAMPS = (
    ("email_confirmed_at", "email_confirmed_at"),
    ("confirmed_at", "email_confirmed_at"),
    ("invited_at", "invited_at"),
    ("confirmation_sent_at", "confirmation_sent_at"),
    ("recovery_sent_at", "recovery_sent_at"),
    ("email_change_sent_at", "email_change_sent_at"),
    ("last_sign_in_at", "last_sign_in_at"),
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
)


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def user_json(row: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(row["id"]),
        "aud": row["aud"] or "authenticated",
        "role": row["role"] or "authenticated",
        "email": row["email"] or "",
        "phone": row["phone"] or "",
        "app_metadata": {
            # A guest has no provider (GoTrue's anonymous users: `{}`).
            **({} if row["is_anonymous"] else {"provider": "email", "providers": ["email"]}),
            **(row["raw_app_meta_data"] or {}),
        },
        "user_metadata": dict(row["raw_user_meta_data"] or {}),
        "identities": _identities(row) + _stored_identities(row),
        "is_anonymous": bool(row["is_anonymous"]),
    }
    for key, column in _TIMESTAMPS:
        value = row.get(column)
        if value is not None:
            body[key] = timestamp(value)
    if row.get("email_change"):
        body["new_email"] = row["email_change"]
    return body


def _identities(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """GoTrue's `email` identity of an account with an address. Clients read an empty list as
    "this address is already registered" (the look-alike user a repeated sign-up gets), so
    a real account must carry its identity. An account made by another provider (Sign in
    with Apple) has an address but no email identity until one is linked, as on GoTrue."""
    email = row["email"]
    if not email:
        return []
    app_metadata = row["raw_app_meta_data"] or {}
    if "email" not in app_metadata.get("providers", ["email"]):
        return []
    user_id = str(row["id"])
    identity: dict[str, Any] = {
        "identity_id": str(uuid.uuid5(_IDENTITY_NAMESPACE, user_id)),
        "id": user_id,
        "user_id": user_id,
        "identity_data": {
            "email": email,
            "email_verified": row.get("email_confirmed_at") is not None,
            "phone_verified": False,
            "sub": user_id,
        },
        "provider": "email",
        "email": email,
    }
    for key in ("last_sign_in_at", "created_at", "updated_at"):
        value = row.get(key)
        if value is not None:
            identity[key] = timestamp(value)
    return [identity]


def _stored_identities(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The identities of auth.identities (queries.USER_COLUMNS aggregates them), in GoTrue's
    shape: `identity_id` the row's id, `id` the provider's id of the person."""
    out: list[dict[str, Any]] = []
    for stored in row.get("identities") or []:
        identity = {k: v for k, v in stored.items() if v is not None}
        identity["identity_id"] = str(identity["identity_id"])
        identity["user_id"] = str(row["id"])
        out.append(identity)
    return out
