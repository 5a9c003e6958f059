"""The sender as the deployed server runs it: on uvloop (uvicorn's default loop), started
without waiting for APNs, connecting in the background, its state in `health()`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import uvloop
from cryptography.hazmat.primitives.asymmetric import ec

from momento import push
from momento.config import Environment, Settings
from momento.push.apns import (
    ApnsConfig,
    ApnsSender,
    ConsoleSender,
    MisconfiguredSender,
    Notification,
    PushUnavailable,
    make_sender,
)
from tests.factories import apns_token
from tests.fakes.apns import KEY_ID, TEAM_ID, TOPIC, FakeApns, new_fake, sender_config


def alert(i: int) -> Notification:
    return Notification(apns_token(i), title="Momento", body="Your photos are ready to reveal!")


def config_for(fake: FakeApns, key: str, /, **changes: Any) -> ApnsConfig:
    """Two connections, and waits between connection attempts short enough to watch."""
    start = {
        "connections": 2,
        "concurrency": 50,
        "connect_backoff_base": 0.02,
        "connect_backoff_max": 0.1,
        "timeout": 2.0,
    }
    return sender_config(fake, key, **{**start, **changes})


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Polls the sender's state: it has no event to wait on, by design (health() is a read)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polling another component's state
            await asyncio.sleep(0.01)


# --- uvloop ---------------------------------------------------------------------------------


def test_sender_on_uvloop_sends_and_reconnects(
    provider_key: tuple[str, ec.EllipticCurvePublicKey],
) -> None:
    """The loop `momento serve` runs on: open, a batch, the connections dropped by APNs and
    made again, a second batch. The fake is served on the same uvloop loop."""

    async def scenario() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        async with new_fake(provider_key[1]) as fake:
            sender = ApnsSender(config_for(fake, provider_key[0]))
            await sender.start()
            await until(lambda: sender.state == "connected" and sender.connects == 2)
            first = await sender.send_many([alert(i) for i in range(100)])
            assert [r.outcome for r in first] == ["delivered"] * 100
            fake.drop_connections()
            await until(lambda: fake.open_connections == 0)
            second = await sender.send_many([alert(i) for i in range(100, 200)])
            assert [r.outcome for r in second] == ["delivered"] * 100
            assert sender.connects == 4  # both connections made again
            assert fake.connections == 4
            assert len({r.device_token for r in fake.requests}) == 200
            await sender.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


def test_background_connection_on_uvloop_waits_for_apns(
    provider_key: tuple[str, ec.EllipticCurvePublicKey],
) -> None:
    """APNs down when the process starts, on uvloop: start() returns at once, the sender
    connects once APNs is up."""

    async def scenario() -> None:
        fake = new_fake(provider_key[1])
        await fake.start()
        await fake.stop()
        sender = ApnsSender(config_for(fake, provider_key[0]))
        await sender.start()
        await until(lambda: sender.state == "unavailable")
        with pytest.raises(PushUnavailable):
            await sender.ready()
        await fake.start()
        await until(lambda: sender.state == "connected")
        await sender.ready()
        [result] = await sender.send_many([alert(1)])
        assert result.delivered
        await sender.close()
        await fake.stop()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


# --- start never waits, never fails ----------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (the TLS handshake hangs)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


async def test_start_does_not_wait_for_a_silent_apns(
    provider_key: tuple[str, ec.EllipticCurvePublicKey], fake_apns: FakeApns, silent_port: int
) -> None:
    config = config_for(fake_apns, provider_key[0], base_url=f"https://127.0.0.1:{silent_port}")
    sender = ApnsSender(replace(config, timeout=0.3))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await push.start(sender)
    assert loop.time() - started < 0.1
    assert sender.health() == {"push": "connecting"}
    await until(lambda: sender.state == "unavailable")
    health = sender.health()
    assert health["push"] == "unavailable"
    assert "TimeoutError" in health["push_error"]
    await sender.close()  # cancels the background attempts
    assert sender._connector is None


async def test_refused_then_connected_logs_once_then_info(
    provider_key: tuple[str, ec.EllipticCurvePublicKey],
    fake_apns: FakeApns,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await fake_apns.stop()
    sender = ApnsSender(config_for(fake_apns, provider_key[0]))
    await push.start(sender)
    await until(lambda: sender.connect_failures >= 6)  # two connections, three rounds at least
    assert sender.health()["push"] == "unavailable"
    assert (
        "ConnectionRefusedError" in sender.health()["push_error"]
        or "OSError" in (sender.health()["push_error"])
    )
    await fake_apns.start()
    await until(lambda: sender.state == "connected" and sender.connects == 2)
    assert sender.health() == {"push": "connected"}
    await until(lambda: sender._connector is not None and sender._connector.done())
    out = capsys.readouterr()
    text = out.out + out.err
    assert text.count("apns not reachable; connecting in the background") == 1
    assert "apns ready" in text
    assert (await sender.send_many([alert(3)]))[0].delivered
    await sender.close()


async def test_untrusted_certificate_is_unavailable_not_fatal(
    provider_key: tuple[str, ec.EllipticCurvePublicKey], fake_apns: FakeApns
) -> None:
    import ssl

    sender = ApnsSender(
        config_for(fake_apns, provider_key[0], ssl_context=ssl.create_default_context())
    )
    await push.start(sender)
    await until(lambda: sender.state == "unavailable")
    assert "SSLCertVerificationError" in sender.health()["push_error"]
    with pytest.raises(PushUnavailable) as raised:
        await sender.ready()
    assert raised.value.state == "unavailable"
    await sender.close()


# --- misconfigured ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        (
            {"key_pem": "-----BEGIN PRIVATE KEY-----\nnot-a-key-SECRET\n-----END PRIVATE KEY-----"},
            "the APNs key is not a PEM (.p8) private key",
        ),
        ({"key_pem": "SECRET garbage"}, "the APNs key is not a PEM (.p8) private key"),
        ({"base_url": "http://127.0.0.1:1"}, "APNs URL must be https://host[:port]"),
    ],
)
async def test_misconfigured_is_a_state_not_an_exception(
    provider_key: tuple[str, ec.EllipticCurvePublicKey],
    fake_apns: FakeApns,
    changes: dict[str, object],
    error: str,
) -> None:
    sender = make_sender(config_for(fake_apns, provider_key[0], **changes))
    assert isinstance(sender, MisconfiguredSender)
    await push.start(sender)
    health = sender.health()
    assert health["push"] == "misconfigured"
    assert health["push_error"].startswith(error)
    assert "SECRET" not in health["push_error"]
    with pytest.raises(PushUnavailable) as raised:
        await sender.ready()
    assert raised.value.state == "misconfigured"
    with pytest.raises(PushUnavailable):
        await sender.send_many([alert(1)])
    await sender.close()


def test_a_bad_key_in_the_settings_builds_a_misconfigured_sender(tmp_path: object) -> None:
    settings = Settings(
        env=Environment.test,
        apns_key="-----BEGIN PRIVATE KEY-----\\nbad\\n-----END PRIVATE KEY-----",
        apns_key_id=KEY_ID,
        apns_team_id=TEAM_ID,
        apns_topic=TOPIC,
    )
    sender = push.from_settings(settings)
    assert sender.health() == {
        "push": "misconfigured",
        "push_error": "the APNs key is not a PEM (.p8) private key",
    }


async def test_console_sender_health() -> None:
    sender = ConsoleSender()
    await push.start(sender)
    await sender.ready()
    assert sender.health() == {"push": "console"}
