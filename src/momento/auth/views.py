"""GoTrue's User object, built from an auth.users row.

Timestamps are RFC 3339 in UTC with `T` and `Z` (Swift's decoder rejects anything else); null
timestamps are left out; a missing email or phone is `""`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

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
            "provider": "email",
            "providers": ["email"],
            **(row["raw_app_meta_data"] or {}),
        },
        "user_metadata": dict(row["raw_user_meta_data"] or {}),
        "identities": [],
        "is_anonymous": bool(row["is_anonymous"]),
    }
    for key, column in _TIMESTAMPS:
        value = row.get(column)
        if value is not None:
            body[key] = timestamp(value)
    if row.get("email_change"):
        body["new_email"] = row["email_change"]
    return body
