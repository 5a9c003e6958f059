"""Settings: validated at start, one clear line per bad value, secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from momento.config import Environment, SettingsError, load_settings


def test_defaults_run_embedded() -> None:
    s = load_settings()
    assert s.embedded
    assert s.env is Environment.development
    assert s.base_url == "http://127.0.0.1:8000"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOMENTO_PORT", "9001")
    monkeypatch.setenv("MOMENTO_HOST", "0.0.0.0")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example/momento")
    s = load_settings()
    assert (s.host, s.port) == ("0.0.0.0", 9001)
    assert not s.embedded


def test_each_bad_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOMENTO_PORT", "99999")
    monkeypatch.setenv("DATABASE_URL", "mysql://root:hunter2@db/x")
    monkeypatch.setenv("SMTP_URL", "http://mail")
    with pytest.raises(SettingsError) as info:
        load_settings()
    text = str(info.value)
    assert "MOMENTO_PORT" in text
    assert "DATABASE_URL: must be a postgresql:// URL" in text
    assert "SMTP_URL" in text
    assert "hunter2" not in text


def test_production_requires_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOMENTO_ENV", "production")
    with pytest.raises(SettingsError) as info:
        load_settings()
    text = str(info.value)
    for name in ("DATABASE_URL", "JWT_PRIVATE_KEY", "MOMENTO_PUBLIC_URL", "SMTP_URL"):
        assert name in text


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MOMENTO_PORT=8765\n")
    assert load_settings().port == 8765
