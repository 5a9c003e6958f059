"""Push notifications: the APNs provider API sender and the console sender for embedded mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from momento import logs
from momento.push.apns import ApnsConfig, MisconfiguredSender, Sender, make_sender

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
    """The configured sender: APNs with credentials, else the console sender. A configuration
    that cannot work is a MisconfiguredSender (see its `health()`), never an exception: the
    API starts whatever the state of push."""
    try:
        config = config_from_settings(settings)
    except (OSError, UnicodeDecodeError) as e:  # APNS_KEY_FILE unreadable since validation
        log.error("apns key file unreadable", error=type(e).__name__)
        return MisconfiguredSender(f"APNS_KEY_FILE could not be read ({type(e).__name__})")
    return make_sender(config)


async def start(sender: Sender) -> None:
    """Starts the sender without waiting for APNs: it connects in the background (retrying
    with backoff), `sender.health()` tells how that goes, and the push jobs wait in the queue
    while it cannot send. Nothing here may stop or delay the process start."""
    try:
        await sender.start()
    except Exception:
        # Nothing in start() is expected to raise (no network is awaited); should something
        # still do, push is degraded, which must not take the API down with it.
        log.exception("push sender did not start; notifications wait in the queue")
