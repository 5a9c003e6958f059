"""STORAGE_URL and the other settings, the generated secret, and storage inside the app."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from momento.config import SettingsError, load_settings
from momento.services import Services
from momento.storage import LocalDiskStorage, StorageError, from_url, secret
from momento.storage import s3 as s3_module
from momento.storage.s3 import S3Storage
from tests.storage.helpers import make_bucket, s3_storage

GOOD_SECRET = "s" * 32


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "must be file:///absolute/path or s3://bucket"),
        ("file://relative/path", "absolute path"),
        ("file:relative", "absolute path"),
        ("s3://", "bucket name"),
        ("s3://key:secret@bucket", "bucket name"),
        ("s3://bucket?access_key=AKIA", "unknown s3 parameter(s) access_key"),
        ("s3://bucket?endpoint=localhost:9000", "http(s)://"),
        ("s3://bucket/../x", "prefix is not valid"),
    ],
)
def test_bad_storage_urls_are_named(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("STORAGE_URL", url)
    with pytest.raises(SettingsError) as info:
        load_settings()
    text = str(info.value)
    assert "STORAGE_URL" in text
    assert message in text
    assert "secret@" not in text
    assert "AKIA" not in text


@pytest.mark.parametrize(
    "url",
    [
        "file:///srv/momento/files",
        "s3://photos",
        "s3://photos/tenant-a?endpoint=http://127.0.0.1:9000&region=us-east-1",
    ],
)
def test_good_storage_urls(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("STORAGE_URL", url)
    assert load_settings().storage_url == url


def test_signed_url_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().signed_url_ttl == 3600
    monkeypatch.setenv("MOMENTO_SIGNED_URL_TTL", "900")
    assert load_settings().signed_url_ttl == 900
    monkeypatch.setenv("MOMENTO_SIGNED_URL_TTL", str(8 * 24 * 3600))
    with pytest.raises(SettingsError, match="MOMENTO_SIGNED_URL_TTL"):
        load_settings()


def test_a_short_signing_secret_is_refused_and_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILES_SIGNING_SECRET", "hunter2hunter2")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "FILES_SIGNING_SECRET" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_production_needs_the_signing_secret_for_local_storage_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOMENTO_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/momento")
    monkeypatch.setenv("JWT_PRIVATE_KEY", "pem")
    monkeypatch.setenv("MOMENTO_PUBLIC_URL", "https://momento.example")
    monkeypatch.setenv("SMTP_URL", "smtp://mail.example:587")
    with pytest.raises(SettingsError, match="FILES_SIGNING_SECRET"):
        load_settings()
    monkeypatch.setenv("STORAGE_URL", "file:///srv/files")
    with pytest.raises(SettingsError, match="FILES_SIGNING_SECRET"):
        load_settings()
    monkeypatch.setenv("FILES_SIGNING_SECRET", GOOD_SECRET)
    assert load_settings().files_signing_secret == GOOD_SECRET
    monkeypatch.delenv("FILES_SIGNING_SECRET")
    monkeypatch.setenv("STORAGE_URL", "s3://photos")
    assert not load_settings().local_storage


def test_from_url(tmp_path: Path) -> None:
    local = from_url(None, tmp_path, b"k" * 32, "https://m.example/")
    assert isinstance(local, LocalDiskStorage)
    assert local.root == tmp_path / "files"
    assert local.signed_get_url("a/b").startswith("https://m.example/files/a/b?")
    elsewhere = from_url("file:///srv/x", tmp_path, b"k" * 32, "https://m.example")
    assert isinstance(elsewhere, LocalDiskStorage)
    assert elsewhere.root == Path("/srv/x")
    with pytest.raises(ValueError, match="signing secret"):
        from_url(None, tmp_path, None, "https://m.example")
    s3 = from_url(
        "s3://photos/tenant-a?endpoint=http://127.0.0.1:9000&region=eu-west-1",
        tmp_path,
        None,
        "https://m.example",
        default_ttl=900,
    )
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix, s3.endpoint_url, s3.region, s3.default_ttl) == (
        "photos",
        "tenant-a/",
        "http://127.0.0.1:9000",
        "eu-west-1",
        900,
    )


def test_generated_secret_is_kept_private_and_stable(tmp_path: Path) -> None:
    first = secret.load_or_create(tmp_path)
    assert len(first) >= 32
    path = tmp_path / "secrets" / secret.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert secret.load_or_create(tmp_path) == first
    assert secret.load_or_create(tmp_path / "other") != first


async def test_the_app_serves_signed_uploads_past_its_body_limit(
    services: Services, client: httpx.AsyncClient
) -> None:
    storage = services.storage
    assert isinstance(storage, LocalDiskStorage)
    assert storage.root == Path(services.settings.data_dir) / "files"
    body = b"z" * (services.settings.max_body_bytes + 4096)
    target = storage.signed_put("events/wiring/p/upload", "image/jpeg", max_bytes=len(body))
    r = await client.request(target.method, target.url, headers=target.headers, content=body)
    assert r.status_code == 200, r.text
    r = await client.get(storage.signed_get_url("events/wiring/p/upload"))
    assert (r.status_code, len(r.content)) == (200, len(body))
    assert await storage.delete_prefix("events/wiring/") == 1
    # Other routes keep the JSON body limit.
    r = await client.post("/v1/events", content=body)
    assert r.status_code == 413


async def test_s3_key_prefix_keeps_tenants_apart(moto_endpoint: str, s3_admin: object) -> None:
    bucket = make_bucket(s3_admin)  # type: ignore[arg-type]
    a = s3_storage(moto_endpoint, bucket, prefix="tenant-a")
    b = s3_storage(moto_endpoint, bucket, prefix="tenant-b")
    await a.open()
    await b.open()
    try:
        await a.put("events/e/p/original", b"a", "image/jpeg")
        await b.put("events/e/p/original", b"b", "image/jpeg")
        assert [i.key async for i in a.list("")] == ["events/e/p/original"]
        assert await a.read("events/e/p/original") == b"a"
        assert "/tenant-a/events/e/p/original?" in a.signed_get_url("events/e/p/original")
        assert await a.delete_prefix("events/") == 1
        assert await b.read("events/e/p/original") == b"b"
    finally:
        await a.close()
        await b.close()


async def test_s3_missing_bucket_fails_at_open(moto_endpoint: str) -> None:
    storage = s3_storage(moto_endpoint, "no-such-bucket-here")
    with pytest.raises(StorageError, match="no-such-bucket-here"):
        await storage.open()
    await storage.close()


async def test_aws_credentials_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, s3_admin: object
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-env")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    s3_module._session.cache_clear()
    storage = from_url(
        f"s3://{make_bucket(s3_admin)}?endpoint={moto_endpoint}",  # type: ignore[arg-type]
        Path("."),
        None,
        "http://unused",
    )
    try:
        await storage.open()
        await storage.put("a/b", b"env", "text/plain")
        assert await storage.read("a/b") == b"env"
        assert "X-Amz-Credential=AKIAFROMTHEENV%2F" in storage.signed_get_url("a/b")
    finally:
        await storage.close()
        s3_module._session.cache_clear()
