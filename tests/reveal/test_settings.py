"""APNs settings: all or none, a key file or its text, and the sender they make."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from momento.config import SettingsError, load_settings
from momento.push import config_from_settings, from_settings
from momento.push.apns import ApnsSender, ConsoleSender
from tests.fakes.apns import KEY_ID, TEAM_ID, TOPIC


def test_without_apns_settings_the_console_sender_logs() -> None:
    settings = load_settings()
    assert not settings.apns_configured
    assert isinstance(from_settings(settings), ConsoleSender)


def test_some_but_not_all_apns_settings_are_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(apns_key_id=KEY_ID, apns_topic=TOPIC)
    [problem] = caught.value.problems
    assert "APNS_KEY (or APNS_KEY_FILE), APNS_TEAM_ID" in problem
    assert KEY_ID not in problem  # no setting is echoed


def test_key_and_key_file_together_are_refused(tmp_path: Path) -> None:
    key = tmp_path / "AuthKey.p8"
    key.write_text("x")
    with pytest.raises(SettingsError, match="not both"):
        load_settings(
            apns_key="x",
            apns_key_file=key,
            apns_key_id=KEY_ID,
            apns_team_id=TEAM_ID,
            apns_topic=TOPIC,
        )


def test_apns_url_must_be_https() -> None:
    with pytest.raises(SettingsError, match="APNS_URL"):
        load_settings(apns_url="http://127.0.0.1:2197")


def test_a_key_file_makes_an_apns_sender(
    tmp_path: Path, provider_key: tuple[str, ec.EllipticCurvePublicKey]
) -> None:
    key = tmp_path / "AuthKey.p8"
    key.write_text(provider_key[0])
    settings = load_settings(
        apns_key_file=key,
        apns_key_id=KEY_ID,
        apns_team_id=TEAM_ID,
        apns_topic=TOPIC,
        apns_use_sandbox=True,
    )
    config = config_from_settings(settings)
    assert config is not None
    assert config.url == "https://api.sandbox.push.apple.com"
    assert config.key_pem == provider_key[0]
    assert isinstance(from_settings(settings), ApnsSender)


def test_a_key_with_escaped_newlines_is_read(
    provider_key: tuple[str, ec.EllipticCurvePublicKey],
) -> None:
    settings = load_settings(
        apns_key=provider_key[0].replace("\n", "\\n"),
        apns_key_id=KEY_ID,
        apns_team_id=TEAM_ID,
        apns_topic=TOPIC,
        apns_url="https://127.0.0.1:2197/",
    )
    config = config_from_settings(settings)
    assert config is not None
    assert config.key_pem == provider_key[0]
    assert config.url == "https://127.0.0.1:2197"
