"""Push notifications: the APNs provider API sender and the console sender for embedded mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from momento import logs
from momento.push.apns import ApnsConfig, ConnectionLost, Sender, make_sender

if TYPE_CHECKING:
    from momento.config import Settings

log = logs.get("momento.push")


def config_from_settings(settings: Settings) -> ApnsConfig | None:
    """The APNs configuration, or None when APNs is not configured (console sender)."""
    key_pem = settings.apns_key_pem()
    if key_pem is None or not settings.apns_configured:
        return None
    assert settings.apns_key_id is not None
    assert settings.apns_team_id is not None
    assert settings.apns_topic is not None
    return ApnsConfig(
        key_pem=key_pem,
        key_id=settings.apns_key_id,
        team_id=settings.apns_team_id,
        topic=settings.apns_topic,
        use_sandbox=settings.apns_use_sandbox,
        base_url=settings.apns_url,
    )


def from_settings(settings: Settings) -> Sender:
    """The configured sender: APNs with credentials, else the console sender."""
    return make_sender(config_from_settings(settings))


async def start(sender: Sender) -> None:
    """Opens the sender. APNs out of reach does not stop the process: each connection is made
    again on first use, and the jobs that need it retry."""
    try:
        await sender.open()
    except (OSError, TimeoutError, ConnectionLost) as e:
        log.warning("apns not reachable at start; connecting on first use", error=str(e))
