"""The APNs sender against the fake APNs (HTTP/2 over TLS on 127.0.0.1, checks as Apple does)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from momento.push.apns import (
    MAX_PAYLOAD,
    ApnsConfig,
    ApnsSender,
    ConsoleSender,
    Notification,
    PayloadError,
    ProviderToken,
    Sender,
    make_sender,
)
from tests.factories import apns_token
from tests.fakes.apns import KEY_ID, TEAM_ID, TOPIC, FakeApns, make_provider_key, new_fake


class Clock:
    """The sender's clock: real time plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Sleeps:
    """Records backoff delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def config(apns_config: ApnsConfig) -> ApnsConfig:
    """One connection, so tests can count what goes over it."""
    return replace(apns_config, connections=1, concurrency=100, max_retries=3)


@pytest.fixture
async def sender(config: ApnsConfig) -> AsyncIterator[ApnsSender]:
    async with ApnsSender(config) as s:
        yield s


def alert(i: int = 1, **fields: Any) -> Notification:
    return Notification(
        apns_token(i), title="Momento", body="Your photos are ready to reveal!", **fields
    )


# --- delivery -------------------------------------------------------------------------------


async def test_delivered_alert_as_apns_receives_it(sender: ApnsSender, fake_apns: FakeApns) -> None:
    n = Notification(
        apns_token(7),
        title="Momento",
        subtitle="Beach party",
        body="Your photos are ready to reveal!",
        badge=3,
        sound="default",
        thread_id="event-42",
        collapse_id="reveal-42",
        expiration=2_000_000_000,
        data={"event_id": "42", "kind": "reveal"},
    )
    result = await sender.send(n)

    assert result.outcome == "delivered"
    assert result.delivered
    assert (result.status, result.reason, result.attempts) == (200, None, 1)
    [got] = fake_apns.requests
    assert result.apns_id == got.apns_id
    assert (got.method, got.path, got.device_token, got.status) == (
        "POST",
        f"/3/device/{apns_token(7)}",
        apns_token(7),
        200,
    )
    assert got.headers["apns-topic"] == TOPIC
    assert got.headers["apns-push-type"] == "alert"
    assert got.headers["apns-priority"] == "10"
    assert got.headers["apns-expiration"] == "2000000000"
    assert got.headers["apns-collapse-id"] == "reveal-42"
    assert got.headers["authorization"] == f"bearer {got.jwt}"
    assert got.json() == {
        "aps": {
            "alert": {
                "title": "Momento",
                "subtitle": "Beach party",
                "body": "Your photos are ready to reveal!",
            },
            "badge": 3,
            "sound": "default",
            "thread-id": "event-42",
        },
        "event_id": "42",
        "kind": "reveal",
    }
    assert got.jwt_header == {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}
    assert got.claims is not None
    assert set(got.claims) == {"iss", "iat"}
    assert got.claims["iss"] == TEAM_ID
    assert abs(got.claims["iat"] - time.time()) < 5


async def test_apns_id_given_is_sent_and_returned(sender: ApnsSender, fake_apns: FakeApns) -> None:
    apns_id = "1f0e1c5a-6b7c-4d8e-9f00-112233445566"
    result = await sender.send(alert(apns_id=apns_id))
    assert result.apns_id == apns_id
    assert fake_apns.requests[0].headers["apns-id"] == apns_id


async def test_background_push(sender: ApnsSender, fake_apns: FakeApns) -> None:
    n = Notification(apns_token(2), push_type="background", priority=5, data={"sync": 1})
    assert (await sender.send(n)).delivered
    [got] = fake_apns.requests
    assert got.headers["apns-push-type"] == "background"
    assert got.headers["apns-priority"] == "5"
    assert got.json() == {"aps": {"content-available": 1}, "sync": 1}


async def test_fake_speaks_http2_over_tls_with_the_test_certificate(fake_apns: FakeApns) -> None:
    async with httpx.AsyncClient(http2=True, verify=fake_apns.client_ssl_context()) as client:
        r = await client.post(f"{fake_apns.url}/3/device/{apns_token(1)}", content=b"{}")
    assert r.http_version == "HTTP/2"
    assert r.status_code == 403
    assert r.json() == {"reason": "MissingProviderToken"}
    assert fake_apns.requests[0].reason == "MissingProviderToken"


async def test_certificate_not_trusted_is_refused(config: ApnsConfig, fake_apns: FakeApns) -> None:
    untrusted = ApnsSender(replace(config, ssl_context=None, max_retries=0))  # system's CAs
    await untrusted.open(connect=False)
    try:
        result = await untrusted.send(alert())
    finally:
        await untrusted.close()
    assert result.outcome == "retry_exhausted"
    assert result.status is None
    assert "SSL" in (result.reason or "")
    assert fake_apns.requests == []


async def test_open_fails_on_an_untrusted_certificate(config: ApnsConfig) -> None:
    import ssl

    with pytest.raises(ssl.SSLError):
        await ApnsSender(replace(config, ssl_context=None)).open()


# --- connections and concurrency ------------------------------------------------------------


async def test_one_connection_reused_for_200_sends(sender: ApnsSender, fake_apns: FakeApns) -> None:
    results = await sender.send_many([alert(i) for i in range(150)])
    for i in range(150, 200):
        results.append(await sender.send(alert(i)))
    assert [r.outcome for r in results] == ["delivered"] * 200
    assert [r.device_token for r in results] == [apns_token(i) for i in range(200)]
    assert fake_apns.connections == 1
    assert sender.connects == 1
    assert {r.connection_id for r in fake_apns.requests} == {fake_apns.requests[0].connection_id}
    assert len(fake_apns.requests) == 200


async def test_several_connections_share_the_load(config: ApnsConfig, fake_apns: FakeApns) -> None:
    async with ApnsSender(replace(config, connections=3)) as s:
        results = await s.send_many([alert(i) for i in range(60)])
    assert all(r.delivered for r in results)
    assert fake_apns.connections == 3
    assert len({r.connection_id for r in fake_apns.requests}) == 3


async def test_concurrency_is_bounded(config: ApnsConfig, fake_apns: FakeApns) -> None:
    fake_apns.delay = 0.02
    async with ApnsSender(replace(config, concurrency=5, connections=2)) as s:
        results = await s.send_many([alert(i) for i in range(40)])
        assert s.max_in_flight == 5
    assert all(r.delivered for r in results)
    assert fake_apns.max_in_flight == 5


async def test_server_stream_limit_is_respected(
    provider_key: tuple[str, ec.EllipticCurvePublicKey], config: ApnsConfig
) -> None:
    async with new_fake(
        provider_key[1],
        max_concurrent_streams=3,
        delay=0.01,
    ) as small:
        cfg = replace(config, base_url=small.url, ssl_context=small.client_ssl_context())
        async with ApnsSender(cfg) as s:
            results = await s.send_many([alert(i) for i in range(30)])
        assert all(r.delivered for r in results)
        assert small.max_in_flight == 3


async def test_flow_control_windows_are_respected(
    provider_key: tuple[str, ec.EllipticCurvePublicKey], config: ApnsConfig
) -> None:
    async with new_fake(
        provider_key[1],
        initial_window=1000,  # each 4 KB body goes out in pieces, window by window
        connection_window=65535,  # HTTP/2's default: 16 bodies fill it
    ) as tight:
        cfg = replace(config, base_url=tight.url, ssl_context=tight.client_ssl_context())
        big = [payload_of_size(MAX_PAYLOAD, i) for i in range(40)]
        async with ApnsSender(cfg) as s:
            results = await s.send_many(big)
        assert all(r.delivered for r in results)
        assert sorted(r.body for r in tight.requests) == sorted(n.payload() for n in big)


async def test_reconnects_after_the_server_closes(sender: ApnsSender, fake_apns: FakeApns) -> None:
    assert (await sender.send(alert(1))).delivered
    fake_apns.drop_connections()
    await asyncio.sleep(0.05)
    result = await sender.send(alert(2))
    assert result.delivered
    assert fake_apns.connections == 2
    assert sender.connects == 2


async def test_no_answer_in_time_is_retried_then_exhausted(
    config: ApnsConfig, fake_apns: FakeApns
) -> None:
    fake_apns.delay = 1.0
    async with ApnsSender(replace(config, timeout=0.1, max_retries=1)) as s:
        result = await s.send(alert())
    assert result.outcome == "retry_exhausted"
    assert result.status is None
    assert "Timeout" in (result.reason or "")
    assert result.attempts == 2


# --- provider token -------------------------------------------------------------------------


async def test_one_jwt_for_many_sends(sender: ApnsSender, fake_apns: FakeApns) -> None:
    results = await sender.send_many([alert(i) for i in range(100)])
    assert all(r.delivered for r in results)
    assert len(fake_apns.jwts_seen) == 1
    assert sender.token.minted == 1


async def test_jwt_refreshed_after_the_configured_age(
    config: ApnsConfig, fake_apns: FakeApns
) -> None:
    clock = Clock()
    cfg = replace(config, token_refresh_after=10, token_min_interval=60)
    async with ApnsSender(cfg, clock=clock) as s:
        assert (await s.send(alert(1))).delivered
        clock.offset = 30  # past refresh_after, but within the minimum interval: kept
        assert (await s.send(alert(2))).delivered
        assert s.token.minted == 1
        clock.offset = 61
        assert (await s.send(alert(3))).delivered
        assert s.token.minted == 2
    first, second, third = (r.claims for r in fake_apns.requests)
    assert first == second
    assert first is not None
    assert third is not None
    assert third["iat"] - first["iat"] >= 60
    assert len(fake_apns.jwts_seen) == 2


async def test_expired_provider_token_refreshed_and_retried(
    config: ApnsConfig, fake_apns: FakeApns
) -> None:
    clock = Clock()
    async with ApnsSender(config, clock=clock) as s:
        assert (await s.send(alert(1))).delivered
        # APNs' clock runs 120 s ahead and it accepts 60 s: the token in use (fresh for us)
        # is expired for APNs; one minted 100 s later is not.
        fake_apns.max_token_age = 60
        fake_apns.clock = lambda: time.time() + 120
        clock.offset = 100
        results = await s.send_many([alert(i) for i in range(2, 52)])
        assert all(r.delivered for r in results)
        assert s.token.minted == 2  # one refresh for the whole burst
    assert len(fake_apns.jwts_seen) == 2
    assert {r.reason for r in fake_apns.requests} == {None, "ExpiredProviderToken"}
    assert sum(1 for r in fake_apns.requests if r.reason == "ExpiredProviderToken") <= 50
    assert all(r.attempts in (1, 2) for r in results)


async def test_provider_token_rejected_twice_fails(config: ApnsConfig, fake_apns: FakeApns) -> None:
    fake_apns.clock = lambda: time.time() + 10_000  # every token is over an hour old
    async with ApnsSender(config) as s:
        result = await s.send(alert())
    assert (result.outcome, result.status, result.reason) == ("failed", 403, "ExpiredProviderToken")
    assert result.attempts == 2
    assert len(fake_apns.requests) == 2
    assert len(fake_apns.jwts_seen) == 2


async def test_wrong_key_is_invalid_provider_token(config: ApnsConfig, fake_apns: FakeApns) -> None:
    other_key, _ = make_provider_key()
    async with ApnsSender(replace(config, key_pem=other_key)) as s:
        result = await s.send(alert())
    assert (result.outcome, result.status, result.reason) == ("failed", 403, "InvalidProviderToken")
    assert len(fake_apns.requests) == 2  # retried once with a new token


async def test_wrong_team_is_invalid_provider_token(
    config: ApnsConfig, fake_apns: FakeApns
) -> None:
    async with ApnsSender(replace(config, team_id="OTHERTEAM1")) as s:
        result = await s.send(alert())
    assert result.reason == "InvalidProviderToken"


def test_provider_token_refuses_a_key_that_is_not_p256() -> None:
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(ValueError, match="P-256"):
        ProviderToken(pem, KEY_ID, TEAM_ID)


def test_provider_token_refresh_only_replaces_the_stale_token(
    provider_key: tuple[str, ec.EllipticCurvePublicKey],
) -> None:
    token = ProviderToken(provider_key[0], KEY_ID, TEAM_ID)
    first = token.get()
    assert token.get() == first
    second = token.refresh(first)
    assert second != first
    assert token.refresh(first) == second  # a late rejection of the old token: no new mint
    assert token.minted == 2
    claims = jwt.decode(second, provider_key[1], algorithms=["ES256"])
    assert claims["iss"] == TEAM_ID
    assert jwt.get_unverified_header(second)["kid"] == KEY_ID


# --- APNs' answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("Unregistered", 410),
        ("ExpiredToken", 410),
        ("BadDeviceToken", 400),
        ("DeviceTokenNotForTopic", 400),
    ],
)
async def test_dead_device_token_is_invalid_token(
    sender: ApnsSender, fake_apns: FakeApns, reason: str, status: int
) -> None:
    fake_apns.fail(apns_token(1), reason)
    result = await sender.send(alert(1))
    assert (result.outcome, result.status, result.reason) == ("invalid_token", status, reason)
    assert result.attempts == 1
    assert len(fake_apns.requests) == 1
    if status == 410:
        assert isinstance(result.timestamp, int)
        assert result.timestamp < time.time() * 1000


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("TooManyRequests", 429),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
        ("Shutdown", 503),
    ],
)
async def test_throttled_or_server_error_retried_with_backoff(
    config: ApnsConfig, fake_apns: FakeApns, reason: str, status: int
) -> None:
    sleeps = Sleeps()
    fake_apns.fail(apns_token(1), reason, times=2)
    async with ApnsSender(replace(config, backoff_base=1.0, backoff_max=60), sleep=sleeps) as s:
        result = await s.send(alert(1))
    assert (result.outcome, result.status, result.attempts) == ("delivered", 200, 3)
    assert [r.status for r in fake_apns.requests] == [status, status, 200]
    first, second = sleeps.delays
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0


async def test_retries_exhausted(config: ApnsConfig, fake_apns: FakeApns) -> None:
    sleeps = Sleeps()
    fake_apns.fail(apns_token(1), "ServiceUnavailable")
    cfg = replace(config, backoff_base=1.0, backoff_max=3.0, max_retries=3)
    async with ApnsSender(cfg, sleep=sleeps) as s:
        result = await s.send(alert(1))
    assert (result.outcome, result.status, result.reason) == (
        "retry_exhausted",
        503,
        "ServiceUnavailable",
    )
    assert result.attempts == 4
    assert len(fake_apns.requests) == 4
    assert len(sleeps.delays) == 3
    assert 1.5 <= sleeps.delays[2] <= 3.0  # capped at backoff_max


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("BadCollapseId", 400),
        ("PayloadTooLarge", 413),
        ("BadExpirationDate", 400),
        ("TopicDisallowed", 400),
        ("Forbidden", 403),
        ("MissingProviderToken", 403),
        ("BadPath", 404),
    ],
)
async def test_other_client_errors_fail_without_retry(
    sender: ApnsSender, fake_apns: FakeApns, reason: str, status: int
) -> None:
    fake_apns.fail(apns_token(1), reason)
    result = await sender.send(alert(1))
    assert (result.outcome, result.status, result.reason) == ("failed", status, reason)
    assert result.attempts == 1
    assert len(fake_apns.requests) == 1


async def test_wrong_topic_is_bad_topic(config: ApnsConfig, fake_apns: FakeApns) -> None:
    async with ApnsSender(replace(config, topic="app.someone.else")) as s:
        result = await s.send(alert())
    assert (result.outcome, result.status, result.reason) == ("failed", 400, "BadTopic")
    assert len(fake_apns.requests) == 1


async def test_mixed_batch_keeps_order_and_outcomes(
    sender: ApnsSender, fake_apns: FakeApns
) -> None:
    fake_apns.fail(apns_token(1), "Unregistered")
    fake_apns.fail(apns_token(2), "TooManyRequests", times=1)
    fake_apns.fail(apns_token(3), "BadCollapseId")
    results = await sender.send_many(alert(i) for i in range(5))
    assert [r.outcome for r in results] == [
        "delivered",
        "invalid_token",
        "delivered",
        "failed",
        "delivered",
    ]


# --- refused before sending -----------------------------------------------------------------


def payload_of_size(size: int, i: int = 1) -> Notification:
    base = len(Notification(apns_token(i), title="T", body="").payload())
    return Notification(apns_token(i), title="T" + "x" * (size - base))


async def test_payload_over_4096_bytes_refused_before_sending(
    sender: ApnsSender, fake_apns: FakeApns
) -> None:
    largest = payload_of_size(MAX_PAYLOAD)
    assert len(largest.payload()) == MAX_PAYLOAD
    assert (await sender.send(largest)).delivered

    too_large = payload_of_size(MAX_PAYLOAD + 1)
    with pytest.raises(PayloadError):
        too_large.payload()
    result = await sender.send(too_large)
    assert (result.outcome, result.status, result.reason) == ("failed", None, "PayloadTooLarge")
    assert result.attempts == 0
    assert len(fake_apns.requests) == 1  # only the 4096-byte one


async def test_long_collapse_id_refused_before_sending(
    sender: ApnsSender, fake_apns: FakeApns
) -> None:
    assert (await sender.send(alert(collapse_id="é" * 32))).delivered  # 64 bytes
    result = await sender.send(alert(collapse_id="x" * 65))
    assert (result.outcome, result.reason) == ("failed", "BadCollapseId")
    assert len(fake_apns.requests) == 1


async def test_device_token_not_hex_is_invalid_without_a_request(
    sender: ApnsSender, fake_apns: FakeApns
) -> None:
    result = await sender.send(Notification("not-a-token", title="Hi"))
    assert (result.outcome, result.reason) == ("invalid_token", "BadDeviceToken")
    assert fake_apns.requests == []


@pytest.mark.parametrize(
    ("notification", "reason"),
    [
        (Notification(apns_token(1)), "PayloadEmpty"),
        (
            Notification(apns_token(1), title="Hi", push_type="background", priority=5),
            "InvalidPushType",
        ),
        (Notification(apns_token(1), push_type="background"), "BadPriority"),
        (Notification(apns_token(1), title="Hi", data={"aps": {}}), "BadPayload"),
        (Notification(apns_token(1), title="Hi", priority=7), "BadPriority"),  # type: ignore[arg-type]
    ],
)
def test_payload_builder_refuses(notification: Notification, reason: str) -> None:
    with pytest.raises(PayloadError) as refused:
        notification.payload()
    assert refused.value.reason == reason


def test_payload_is_compact_json_with_data_beside_aps() -> None:
    n = Notification(apns_token(1), title="Hi", body="there", data={"photo": "p1"})
    assert n.payload() == b'{"aps":{"alert":{"title":"Hi","body":"there"}},"photo":"p1"}'


# --- logs, console sender -------------------------------------------------------------------


async def test_key_and_jwt_never_logged(
    config: ApnsConfig,
    fake_apns: FakeApns,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_apns.fail(apns_token(9), "Unregistered")
    async with ApnsSender(config) as s:
        await s.send_many([alert(8), alert(9)])
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err
    assert fake_apns.requests[0].jwt
    assert fake_apns.requests[0].jwt not in logged
    assert fake_apns.requests[0].jwt.split(".")[2] not in logged
    for line in config.key_pem.strip().splitlines()[1:-1]:
        assert line not in logged
    assert apns_token(9) not in logged
    assert apns_token(9)[:8] in logged  # the truncated token identifies the failure
    assert "key_pem" not in repr(config)


async def test_console_sender_logs_each_notification(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    sender: Sender = make_sender(None)
    assert isinstance(sender, ConsoleSender)
    await sender.open()
    results = await sender.send_many(
        [alert(1), Notification(apns_token(2), title="Second", body="Another one")]
    )
    refused = await sender.send(payload_of_size(MAX_PAYLOAD + 1))
    await sender.close()
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err
    assert [r.outcome for r in results] == ["delivered", "delivered"]
    assert all(r.apns_id for r in results)
    assert refused.outcome == "failed"
    assert "Your photos are ready to reveal!" in logged
    assert "Another one" in logged
    assert apns_token(2)[:8] in logged
    assert apns_token(2) not in logged


def test_make_sender_with_config_is_apns(config: ApnsConfig) -> None:
    sender: Sender = make_sender(config)
    assert isinstance(sender, ApnsSender)
    assert config.url.startswith("https://127.0.0.1:")
    assert replace(config, base_url=None).url == "https://api.push.apple.com"
    assert (
        replace(config, base_url=None, use_sandbox=True).url == "https://api.sandbox.push.apple.com"
    )
