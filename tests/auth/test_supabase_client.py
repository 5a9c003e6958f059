"""The real Supabase client (PyPI supabase-auth) against a real HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from supabase_auth import AsyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from momento.services import Services
from tests.auth.helpers import PASSWORD, scalar


@pytest.fixture
async def gotrue(live_url: str) -> AsyncIterator[AsyncGoTrueClient]:
    client = AsyncGoTrueClient(url=live_url, auto_refresh_token=False, persist_session=True)
    try:
        yield client
    finally:
        await client.close()


async def test_full_session_lifecycle(gotrue: AsyncGoTrueClient, services: Services) -> None:
    signed_up = await gotrue.sign_up(
        {"email": "ana@example.com", "password": PASSWORD, "options": {"data": {"username": "ana"}}}
    )
    assert signed_up.session is not None
    assert signed_up.user is not None
    assert signed_up.user.email == "ana@example.com"
    assert signed_up.user.user_metadata == {"username": "ana"}

    signed_in = await gotrue.sign_in_with_password(
        {"email": "ana@example.com", "password": PASSWORD}
    )
    assert signed_in.session is not None
    first_refresh = signed_in.session.refresh_token
    assert signed_in.session.expires_at is not None

    refreshed = await gotrue.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != first_refresh

    got = await gotrue.get_user()
    assert got is not None
    assert got.user.id == signed_up.user.id
    assert got.user.created_at is not None

    updated = await gotrue.update_user({"data": {"display": "Ana"}})
    assert updated.user.user_metadata == {"username": "ana", "display": "Ana"}
    updated = await gotrue.update_user({"password": "a different secret"})
    assert updated.user.id == signed_up.user.id
    # The password change ended the signup's session, not this one.
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 1

    claims = await gotrue.get_claims()
    assert claims is not None
    assert claims["claims"]["sub"] == signed_up.user.id

    await gotrue.sign_out()
    assert await gotrue.get_session() is None
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0

    again = await gotrue.sign_in_with_password(
        {"email": "ana@example.com", "password": "a different secret"}
    )
    assert again.session is not None
    await gotrue.sign_out({"scope": "local"})


async def test_client_sees_gotrue_errors(gotrue: AsyncGoTrueClient, services: Services) -> None:
    with pytest.raises(AuthWeakPasswordError) as weak:
        await gotrue.sign_up({"email": "ana@example.com", "password": "short"})
    assert weak.value.reasons == ["length"]
    assert weak.value.status == 422

    await gotrue.sign_up({"email": "ana@example.com", "password": PASSWORD})
    with pytest.raises(AuthApiError) as dup:
        await gotrue.sign_up({"email": "ana@example.com", "password": PASSWORD})
    assert dup.value.code == "user_already_exists"

    with pytest.raises(AuthApiError) as wrong:
        await gotrue.sign_in_with_password({"email": "ana@example.com", "password": "nope nope"})
    assert (wrong.value.status, wrong.value.code) == (400, "invalid_credentials")

    with pytest.raises(AuthApiError) as unknown:
        await gotrue.refresh_session("not-a-token")
    assert str(unknown.value.code) == "refresh_token_not_found"

    await gotrue.reset_password_for_email("nobody@example.com")  # answers as for anyone
