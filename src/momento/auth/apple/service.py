"""The app's Apple authorization code, and revoking the refresh token it yields once the
account is deleted (the App Store requires account deletion to revoke the Apple token).

GoTrue's id_token grant carries no authorization code, so the app posts it separately, signed
in: `POST /v1/me/apple/authorization-code`. The code is exchanged at once (it lives 5 minutes)
and the refresh token stored sealed in auth.apple_tokens (see `client`). That table has no
foreign key to the account: deleting the account (whatever deletes it) queues
`auth:revoke_apple_token` in the same transaction (migration 0018's trigger), with only the user
id as argument. The job unseals the token, revokes it and deletes the row; while Apple is down
it fails and is retried (capped backoff), and an hourly sweep queues it again for any row left.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag

from momento import logs
from momento.auth.apple import client as apple
from momento.auth.apple import queries as aq
from momento.auth.apple.errors import (
    AppleCodeRejected,
    AppleIdentityMismatch,
    AppleNotConfigured,
    AppleUnavailable,
    NoAppleIdentity,
    UnknownClientId,
)
from momento.errors import raises
from momento.identity import CurrentUser

if TYPE_CHECKING:
    from momento.services import Services

log = logs.get("momento.auth.apple")

REVOKE_TASK = "auth:revoke_apple_token"


@raises(
    AppleNotConfigured,
    UnknownClientId,
    NoAppleIdentity,
    AppleCodeRejected,
    AppleUnavailable,
    AppleIdentityMismatch,
)
async def store_authorization_code(
    services: Services, user: CurrentUser, code: str, client_id: str | None = None
) -> None:
    """Exchange the app's authorization code and keep the refresh token, sealed."""
    settings = services.settings
    if not settings.apple_exchange_configured:
        raise AppleNotConfigured()
    client = client_id or settings.apple_client_ids[0]
    if client not in settings.apple_client_ids:
        raise UnknownClientId()
    async with services.db.privileged() as conn:
        cur = await conn.execute(aq.HAS_APPLE_IDENTITY, (user.id,))
        identity = await cur.fetchone()
    if identity is None:
        raise NoAppleIdentity()
    try:
        exchanged = await apple.exchange_code(settings, client, code)
    except apple.CodeRejected:
        raise AppleCodeRejected() from None
    except apple.AppleDown:
        raise AppleUnavailable() from None
    if exchanged.id_token_claims.get("sub") != identity["provider_id"]:
        # Another person's code: keeping it would revoke their token when this account goes.
        log.warning("apple code of another apple account refused", user_id=str(user.id))
        raise AppleIdentityMismatch()
    sealed = apple.seal(apple.token_key(settings), user.id, exchanged.refresh_token)
    async with services.db.privileged() as conn:
        await conn.execute(aq.SAVE_TOKEN, {"uid": user.id, "client": client, "token": sealed})
    log.info("apple refresh token stored", user_id=str(user.id))


async def revoke_deleted(services: Services, user_id: uuid.UUID) -> bool:
    """Revoke the Apple token of a deleted account and forget it. True when done (or nothing
    is left to do); raises apple.AppleDown while Apple cannot be asked (the job retries)."""
    settings = services.settings
    async with services.db.privileged() as conn:
        cur = await conn.execute(aq.TOKEN_TO_REVOKE, (user_id,))
        row = await cur.fetchone()
        if row is None:
            return True  # revoked already, the account still exists, or another run has it
        try:
            token = apple.unseal(apple.token_key(settings), user_id, bytes(row["token"]))
        except InvalidTag:
            # Sealed under another secret (MOMENTO_APPLE_TOKEN_SECRET changed): it cannot be
            # revoked from here any more; keeping it would only retry for ever.
            log.error("apple token unreadable; dropped unrevoked", user_id=str(user_id))
            await conn.execute(aq.DELETE_TOKEN, (user_id,))
            return True
        if not settings.apple_exchange_configured:
            raise apple.AppleDown("Sign in with Apple key not configured")
        # The row stays locked while Apple is asked: a second run skips it meanwhile.
        await apple.revoke(settings, row["client_id"], token)
        await conn.execute(aq.DELETE_TOKEN, (user_id,))
    log.info("apple token revoked", user_id=str(user_id))
    return True


async def orphaned_tokens(services: Services) -> list[uuid.UUID]:
    """Users deleted whose Apple token is still here with no revoke job waiting."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(aq.ORPHANED_TOKENS)
        rows = await cur.fetchall()
    return [row["user_id"] for row in rows]
