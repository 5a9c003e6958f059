"""The auth error catalogue (momento.auth.errors): one class per GoTrue code, at GoTrue's
status, rendered in both of GoTrue's dialects, and documented on the routes that answer it."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from starlette.requests import Request

from momento.auth import errors
from momento.auth.errors import AuthError, render_gotrue
from momento.services import Services
from tests.auth.helpers import API, add_user, code, login, session_for

# GoTrue's status for each code the server answers (validation_failed at both of GoTrue's:
# 400 for a malformed request, 422 for a username of the wrong form). `username_taken` is
# Momento's own.
STATUSES: dict[str, set[int]] = {
    "bad_json": {400},
    "validation_failed": {400, 422},
    "over_request_rate_limit": {429},
    "over_email_send_rate_limit": {429},
    "no_authorization": {401},
    "bad_jwt": {403},
    "user_not_found": {403},
    "session_not_found": {403},
    "signup_disabled": {422},
    "anonymous_provider_disabled": {422},
    "user_already_exists": {422},
    "username_taken": {422},
    "email_exists": {422},
    "weak_password": {422},
    "same_password": {422},
    "user_banned": {400},
    "invalid_credentials": {400},
    "email_not_confirmed": {400},
    "refresh_token_not_found": {400},
    "refresh_token_already_used": {400},
    "session_expired": {400},
    "otp_expired": {403},
    "flow_state_not_found": {404},
    "flow_state_expired": {403},
    "bad_code_verifier": {403},
    "unexpected_failure": {500},
    "otp_disabled": {422},
    "phone_provider_disabled": {400},
    "provider_disabled": {400},
    # Momento's own: Apple's keys cannot be fetched (GoTrue answers 500), the client retries.
    "provider_unavailable": {503},
}


def catalogue() -> list[type[AuthError]]:
    out: list[type[AuthError]] = []
    todo = list(AuthError.__subclasses__())
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(out, key=lambda c: c.__name__)


def example(cls: type[AuthError]) -> AuthError:
    """An instance, as the raisers make it."""
    if cls is errors.WeakPassword:
        return errors.WeakPassword(8)
    if cls in (errors.OverRequestRateLimit, errors.OverEmailSendRateLimit):
        return cls(7)
    return cls()


def test_each_code_has_one_class_at_gotrues_status() -> None:
    classes = catalogue()
    assert len(classes) == 31
    for cls in classes:
        assert cls.__module__ == "momento.auth.errors", cls
        assert cls.status in STATUSES[cls.code], cls
    pairs = [(cls.code, cls.status) for cls in classes]
    assert len(set(pairs)) == len(pairs)
    codes = [cls.code for cls in classes]
    assert sorted(set(codes)) == sorted(STATUSES)
    # Only validation_failed has a second class, for its second status.
    assert [c for c in set(codes) if codes.count(c) > 1] == ["validation_failed"]


def test_the_docstring_is_the_default_message_and_the_title_the_code() -> None:
    for cls in catalogue():
        doc = (cls.__doc__ or "").strip()
        assert doc, cls
        assert "\n" not in doc, cls
        if cls is not errors.WeakPassword:  # its message names the configured minimum
            assert example(cls).detail == doc
        assert cls.title == cls.code.replace("_", " ").capitalize()


def test_rate_limit_is_a_rate_limit() -> None:
    err = errors.OverRequestRateLimit(7)
    assert (err.status, err.code, err.detail) == (
        429,
        "over_request_rate_limit",
        "Request rate limit reached",
    )
    assert err.headers == {"Retry-After": "7"}
    assert err.extra == {"retry_after": 7}


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/auth/v1/user", "headers": raw})


@pytest.mark.parametrize("cls", catalogue(), ids=lambda c: c.__name__)
def test_every_error_renders_in_both_dialects(cls: type[AuthError]) -> None:
    err = example(cls)
    new = render_gotrue(_request(API), err)
    body: dict[str, Any] = orjson.loads(new.body)
    assert new.status_code == cls.status
    assert new.headers["X-Supabase-Api-Version"] == API["X-Supabase-Api-Version"]
    assert (body["code"], body["message"]) == (cls.code, err.detail)
    assert "error_code" not in body

    legacy = render_gotrue(_request({}), err)
    body = orjson.loads(legacy.body)
    assert legacy.status_code == cls.status
    assert "X-Supabase-Api-Version" not in legacy.headers
    assert (body["code"], body["error_code"], body["msg"]) == (cls.status, cls.code, err.detail)
    for key, value in err.headers.items():
        assert legacy.headers[key] == value


# --- what OpenAPI says -------------------------------------------------------------------------


async def _paths(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    paths: dict[str, Any] = r.json()["paths"]
    return paths


def _documented(operation: dict[str, Any]) -> set[tuple[int, str]]:
    out = set()
    for status, response in operation["responses"].items():
        for cls in catalogue():
            if str(cls.status) == status and f"`{cls.code}`" in response["description"]:
                out.add((cls.status, cls.code))
    return out


async def test_token_route_documents_every_code_it_answers(client: httpx.AsyncClient) -> None:
    operation = (await _paths(client))["/auth/v1/token"]["post"]
    assert _documented(operation) >= {
        (400, "bad_json"),
        (400, "validation_failed"),
        (400, "invalid_credentials"),
        (400, "user_banned"),
        (400, "email_not_confirmed"),
        (400, "refresh_token_not_found"),
        (400, "refresh_token_already_used"),
        (400, "session_expired"),
        (403, "user_not_found"),
        (403, "flow_state_expired"),
        (403, "bad_code_verifier"),
        (404, "flow_state_not_found"),
        (429, "over_request_rate_limit"),
    }
    assert "`payload_too_large`" in operation["responses"]["413"]["description"]
    schema = operation["responses"]["400"]["content"]["application/problem+json"]["schema"]
    assert {"code", "message", "error_code", "msg"} <= set(schema["properties"])


async def test_user_routes_document_the_token_errors_and_bearer_auth(
    client: httpx.AsyncClient,
) -> None:
    paths = await _paths(client)
    token_errors = {
        (401, "no_authorization"),
        (403, "bad_jwt"),
        (403, "user_not_found"),
        (403, "session_not_found"),
    }
    for path, method in [
        ("/auth/v1/user", "get"),
        ("/auth/v1/user", "put"),
        ("/auth/v1/logout", "post"),
    ]:
        operation = paths[path][method]
        assert _documented(operation) >= token_errors, (path, method)
        assert operation["security"] == [{"bearerAuth": []}], (path, method)
    assert _documented(paths["/auth/v1/user"]["put"]) >= {
        (422, "weak_password"),
        (422, "same_password"),
        (422, "email_exists"),
        (500, "unexpected_failure"),
    }


async def test_every_error_of_the_catalogue_is_documented_somewhere(
    client: httpx.AsyncClient,
) -> None:
    documented: set[tuple[int, str]] = set()
    for path, operations in (await _paths(client)).items():
        if path.startswith("/auth/v1/"):
            for operation in operations.values():
                documented |= _documented(operation)
    assert documented == {(cls.status, cls.code) for cls in catalogue()}


# --- user_not_found is 403 wherever it is answered ------------------------------------------


async def test_user_not_found_is_403_for_every_user_call(
    client: httpx.AsyncClient, services: Services
) -> None:
    user_id = await add_user(services, "gone@example.com")
    session = await session_for(client, "gone@example.com")
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.users SET deleted_at = now() WHERE id = %s", (user_id,))
    h = {**API, "Authorization": f"Bearer {session['access_token']}"}
    for r in [
        await client.get("/auth/v1/user", headers=h),
        await client.put("/auth/v1/user", json={"data": {"a": 1}}, headers=h),
        await client.post("/auth/v1/logout", headers=h),
    ]:
        assert (r.status_code, code(r)) == (403, "user_not_found"), r.request.url
    # And a password login of the deleted account is refused as any wrong login.
    r = await login(client, "gone@example.com")
    assert (r.status_code, code(r)) == (400, "invalid_credentials")


async def test_unknown_auth_routes_answer_in_gotrues_dialect(client: httpx.AsyncClient) -> None:
    """The clients read `code`/`message` (with the API version, echoed) or `error_code`/`msg`;
    a route or method the server does not have must be readable too."""
    r = await client.post("/auth/v1/no-such-route", json={}, headers=API)
    assert r.status_code == 404
    assert r.headers["X-Supabase-Api-Version"] == API["X-Supabase-Api-Version"]
    assert r.json()["code"] == "not_found"
    assert r.json()["message"]

    r = await client.get("/auth/v1/no-such-route")
    assert r.status_code == 404
    assert (r.json()["code"], r.json()["error_code"]) == (404, "not_found")
    assert r.json()["msg"]
    assert "X-Supabase-Api-Version" not in r.headers

    r = await client.delete("/auth/v1/signup", headers=API)
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"
    assert "POST" in r.headers["allow"]

    # Off /auth/v1 the API's own problem+json is unchanged.
    r = await client.get("/v1/no-such-route")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert "msg" not in r.json()
