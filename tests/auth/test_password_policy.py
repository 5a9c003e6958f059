"""The password rules: GoTrue's weak_password reasons (`length`, `characters`, `pwned`), the
bundled list of common passwords, and the optional breached-password check against a fake
Have I Been Pwned range server on 127.0.0.1 (real HTTP)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from supabase_auth import AsyncGoTrueClient
from supabase_auth.errors import AuthWeakPasswordError

from momento.auth import password_policy
from momento.config import SettingsError, load_settings
from momento.mail import SmtpMailer
from momento.services import Services
from tests.auth.conftest import Inbox, client_for, free_port, services_with
from tests.auth.helpers import API, PASSWORD, add_user, bearer, code, scalar, session_for

UPPER_LOWER_DIGIT = "abcdefghijklmnopqrstuvwxyz:ABCDEFGHIJKLMNOPQRSTUVWXYZ:0123456789"


async def signup(c: httpx.AsyncClient, password: str, *, legacy: bool = False) -> httpx.Response:
    return await c.post(
        "/auth/v1/signup",
        json={"email": "ana@example.com", "password": password},
        headers={} if legacy else API,
    )


# --- the bundled list --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["password", "12345678", "qwertyuiop", "iloveyou1", "PassWord1", "Sunshine"]
)
async def test_common_passwords_are_refused_as_pwned(services: Services, password: str) -> None:
    async with client_for(services) as c:
        r = await signup(c, password)
    assert (r.status_code, code(r)) == (422, "weak_password")
    body = r.json()
    assert body["weak_password"] == {"reasons": ["pwned"]}
    assert body["message"] == password_policy.PWNED_MESSAGE
    assert await scalar(services, "SELECT count(*) FROM auth.users") == 0


async def test_weak_password_in_the_legacy_dialect(services: Services) -> None:
    async with client_for(services) as c:
        r = await signup(c, "letmein1", legacy=True)
    body = r.json()
    assert (r.status_code, body["code"], body["error_code"]) == (422, 422, "weak_password")
    assert body["msg"] == password_policy.PWNED_MESSAGE
    assert body["weak_password"] == {"reasons": ["pwned"]}


async def test_every_reason_is_given_at_once_as_gotrue_does(services: Services) -> None:
    svc = services_with(services, password_required_characters=UPPER_LOWER_DIGIT)
    async with client_for(svc) as c:
        r = await signup(c, "monkey")
    assert (r.status_code, code(r)) == (422, "weak_password")
    body = r.json()
    assert body["weak_password"] == {"reasons": ["length", "characters", "pwned"]}
    assert body["message"] == (
        "Password should be at least 8 characters."
        " Password should contain at least one character of each:"
        " abcdefghijklmnopqrstuvwxyz, ABCDEFGHIJKLMNOPQRSTUVWXYZ, 0123456789."
        f" {password_policy.PWNED_MESSAGE}"
    )


async def test_required_characters(services: Services) -> None:
    svc = services_with(services, password_required_characters=UPPER_LOWER_DIGIT)
    async with client_for(svc) as c:
        r = await signup(c, "only lowercase words here")
        assert (r.status_code, code(r)) == (422, "weak_password")
        assert r.json()["weak_password"] == {"reasons": ["characters"]}
        r = await signup(c, "Lowercase, Upper and 9")
        assert r.status_code == 200, r.text


async def test_the_minimum_length_is_a_setting(services: Services) -> None:
    svc = services_with(services, password_min_length=12)
    async with client_for(svc) as c:
        r = await signup(c, "eleven char")
        assert r.json()["weak_password"] == {"reasons": ["length"]}
        assert r.json()["message"] == "Password should be at least 12 characters."
        assert (await signup(c, "twelve chars")).status_code == 200


def test_required_character_sets_are_read_as_gotrue_reads_them() -> None:
    # GoTrue's own examples (internal/conf/configuration_test.go).
    parse = password_policy.required_character_sets
    assert parse("a:b:c") == ["a", "b", "c"]
    assert parse("a\\:b:c") == ["a:b", "c"]
    assert parse("a:b\\:c") == ["a", "b:c"]
    assert parse("\\:a:b:c") == [":a", "b", "c"]
    assert parse("a:b:c\\:") == ["a", "b", "c:"]
    assert parse("::\\::") == [":"]
    assert parse("") == []
    assert parse(" ") == [" "]


def test_the_list_is_lowercase_and_large() -> None:
    common = password_policy.common_passwords()
    assert len(common) > 18_000
    assert all(p == p.lower() and len(p) >= 6 for p in common)
    assert password_policy.is_common("QWERTY123")
    assert not password_policy.is_common(PASSWORD)
    assert password_policy.common_passwords() is common  # read once


async def test_changing_the_password_refuses_a_common_one(services: Services) -> None:
    await add_user(services, "ana@example.com")
    async with client_for(services) as c:
        session = await session_for(c, "ana@example.com")
        before = await scalar(services, "SELECT encrypted_password FROM auth.users")
        r = await c.put("/auth/v1/user", json={"password": "football"}, headers=bearer(session))
        assert (r.status_code, code(r)) == (422, "weak_password")
        assert r.json()["weak_password"] == {"reasons": ["pwned"]}
        assert await scalar(services, "SELECT encrypted_password FROM auth.users") == before


async def test_a_reset_password_is_checked_too(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    svc = services_with(
        services, SmtpMailer(smtp_url, services.settings.mail_from), smtp_url=smtp_url
    )
    async with client_for(svc) as c:
        r = await c.post("/auth/v1/recover", json={"email": "ana@example.com"}, headers=API)
        assert r.status_code == 200
        [mail] = inbox.to("ana@example.com")
        r = await c.post(
            "/auth/v1/verify",
            json={"type": "recovery", "email": "ana@example.com", "token": mail.otp},
            headers=API,
        )
        assert r.status_code == 200, r.text
        session = r.json()
        r = await c.put("/auth/v1/user", json={"password": "123456789"}, headers=bearer(session))
        assert (r.status_code, code(r)) == (422, "weak_password")
        assert r.json()["weak_password"]["reasons"] == ["pwned"]
        r = await c.put(
            "/auth/v1/user", json={"password": "a sturdy new phrase"}, headers=bearer(session)
        )
        assert r.status_code == 200, r.text


async def test_supabase_client_reads_the_reasons(live_url: str) -> None:
    client = AsyncGoTrueClient(url=live_url, auto_refresh_token=False, persist_session=False)
    try:
        with pytest.raises(AuthWeakPasswordError) as weak:
            await client.sign_up({"email": "ana@example.com", "password": "trustno1"})
    finally:
        await client.close()
    assert weak.value.reasons == ["pwned"]
    assert (weak.value.status, weak.value.code) == (422, "weak_password")
    assert weak.value.message == password_policy.PWNED_MESSAGE


# --- Have I Been Pwned (a fake range server) ---------------------------------------------------


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


BREACHED = "a breached but rare phrase"
PADDED = "a phrase only in the padding"


@dataclass
class FakeHibp:
    """A range server: `GET /range/<5 hex>` answers `SUFFIX:COUNT` lines, padded."""

    url: str = ""
    delay: float = 0.0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def answer(self, prefix: str) -> str:
        lines = [f"{'0' * 35}:3", f"{'F' * 35}:0"]
        for password, count in ((BREACHED, 42), (PADDED, 0)):
            digest = sha1(password)
            if digest[:5] == prefix:
                lines.append(f"{digest[5:]}:{count}")
        return "\r\n".join(lines)


@contextmanager
def hibp_server() -> Iterator[FakeHibp]:
    fake = FakeHibp()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if fake.delay:
                time.sleep(fake.delay)
            if not self.path.startswith("/range/") or len(self.path) != len("/range/") + 5:
                self.send_error(404)
                return
            body = fake.answer(self.path.removeprefix("/range/")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hibp() -> Iterator[FakeHibp]:
    with hibp_server() as fake:
        yield fake


@pytest.fixture
async def hibp_client(services: Services, hibp: FakeHibp) -> AsyncIterator[httpx.AsyncClient]:
    svc = services_with(services, password_hibp_enabled=True, password_hibp_url=hibp.url)
    async with client_for(svc) as c:
        yield c


async def test_a_breached_password_is_pwned(hibp_client: httpx.AsyncClient, hibp: FakeHibp) -> None:
    r = await signup(hibp_client, BREACHED)
    assert (r.status_code, code(r)) == (422, "weak_password")
    assert r.json()["weak_password"] == {"reasons": ["pwned"]}
    # k-anonymity: only the first 5 hex digits of the SHA-1 were sent, with padding asked for.
    [(path, headers)] = hibp.requests
    assert path == f"/range/{sha1(BREACHED)[:5]}"
    assert headers["add-padding"] == "true"
    assert sha1(BREACHED)[5:] not in path


async def test_padding_and_unlisted_passwords_are_accepted(
    hibp_client: httpx.AsyncClient, hibp: FakeHibp, services: Services
) -> None:
    r = await signup(hibp_client, PADDED)  # listed with a count of 0: padding, not a breach
    assert r.status_code == 200, r.text
    session = r.json()
    r = await hibp_client.put(
        "/auth/v1/user", json={"password": "never seen anywhere"}, headers=bearer(session)
    )
    assert r.status_code == 200, r.text
    r = await hibp_client.put("/auth/v1/user", json={"password": BREACHED}, headers=bearer(session))
    assert r.json()["weak_password"] == {"reasons": ["pwned"]}
    assert len(hibp.requests) == 3


async def test_the_common_list_answers_without_asking_hibp(
    hibp_client: httpx.AsyncClient, hibp: FakeHibp
) -> None:
    r = await signup(hibp_client, "password")
    assert r.json()["weak_password"] == {"reasons": ["pwned"]}
    assert hibp.requests == []


async def test_hibp_is_off_by_default(services: Services, hibp: FakeHibp) -> None:
    assert services.settings.password_hibp_enabled is False
    svc = services_with(services, password_hibp_url=hibp.url)
    async with client_for(svc) as c:
        assert (await signup(c, BREACHED)).status_code == 200
    assert hibp.requests == []


async def test_hibp_down_fails_open_with_a_warning(
    services: Services, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = services_with(
        services, password_hibp_enabled=True, password_hibp_url=f"http://127.0.0.1:{free_port()}"
    )
    async with client_for(svc) as c:
        r = await signup(c, BREACHED)
    assert r.status_code == 200, r.text
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err
    assert "breached-password check unavailable" in logged
    assert BREACHED not in logged


async def test_hibp_slow_fails_open_after_the_timeout(
    services: Services,
    hibp: FakeHibp,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hibp.delay = 1.5
    svc = services_with(
        services,
        password_hibp_enabled=True,
        password_hibp_url=hibp.url,
        password_hibp_timeout=0.2,
    )
    async with client_for(svc) as c:
        r = await signup(c, BREACHED)
    # Had the server waited for the answer, it would have named the password breached.
    assert r.status_code == 200, r.text
    assert len(hibp.requests) == 1
    out = capsys.readouterr()
    assert "breached-password check unavailable" in caplog.text + out.out + out.err


def test_the_hibp_url_must_be_http() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(password_hibp_url="ftp://example.com")
    assert "MOMENTO_PASSWORD_HIBP_URL" in str(err.value)
    url = load_settings(password_hibp_url="https://hibp.example/").password_hibp_url
    assert url == "https://hibp.example"
