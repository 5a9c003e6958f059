"""S3 credentials written in `.env`, beside every other setting, are used.

The AWS SDK's own chain reads only the process environment, profiles and instance roles, so
keys that stood in `.env` alone were not found ("no AWS credentials found") although the
README lists them with the other settings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.client import BaseClient

from momento.config import Environment, Settings
from momento.services import build_services
from tests.storage.helpers import AWS, make_bucket


@pytest.fixture
def no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing for the SDK's chain to find: only `.env` holds the keys."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")


@pytest.mark.usefixtures("no_aws_environment")
async def test_s3_keys_from_the_env_file_are_used(
    tmp_path: Path, moto_endpoint: str, s3_admin: BaseClient, database_url: str
) -> None:
    bucket = make_bucket(s3_admin)
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"STORAGE_URL=s3://{bucket}?endpoint={moto_endpoint}&region=us-east-1\n"
        f"AWS_ACCESS_KEY_ID={AWS['aws_access_key_id']}\n"
        f"AWS_SECRET_ACCESS_KEY={AWS['aws_secret_access_key']}\n"
    )
    settings = Settings(
        _env_file=env_file,
        env=Environment.test,
        data_dir=tmp_path / "data",
        database_url=database_url,
    )
    assert settings.aws_access_key_id == AWS["aws_access_key_id"]
    services = build_services(settings, database_url)
    await services.storage.open()  # checks the bucket with those keys
    try:
        await services.storage.put("probe/one", b"x", "text/plain")
        assert await services.storage.read("probe/one") == b"x"
        assert AWS["aws_secret_access_key"] not in repr(settings)
    finally:
        await services.storage.close()
        if services.image_executor is not None:
            services.image_executor.shutdown()
