"""The access log never carries a credential that stands in a URL: signed file URLs (local
and S3 presigned), mailed auth links' tokens and PKCE codes are logged with their values
replaced (the line as uvicorn writes it, through the configured handler)."""

from __future__ import annotations

import logging

import pytest

from momento import logs


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/files/events/e/p/thumb.jpg?expires=1796679000&sig=3b8f6ee7375a29da",
            "/files/events/e/p/thumb.jpg?expires=1796679000&sig=***",
        ),
        (
            "/photos/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261207"
            "&X-Amz-Date=20261207T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=deadbeef",
            "/photos/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***"
            "&X-Amz-Date=20261207T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=***",
        ),
        (
            "/auth/v1/verify?token=abc123&type=recovery&redirect_to=app%3A%2F%2Fx",
            "/auth/v1/verify?token=***&type=recovery&redirect_to=app%3A%2F%2Fx",
        ),
        ("/auth/v1/callback?code=pkce-code-1", "/auth/v1/callback?code=***"),
        ("/v1/events?limit=20&cursor=abc", "/v1/events?limit=20&cursor=abc"),
        ("/v1/events/x/photos", "/v1/events/x/photos"),
    ],
)
def test_redact_query(path: str, expected: str) -> None:
    assert logs.redact_query(path) == expected


def test_the_access_line_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", json=True)
    access = logging.getLogger("uvicorn.access")
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/files/events/e/p/original?expires=1&sig=0123456789abcdef",
        "1.1",
        200,
    )
    line = capsys.readouterr().err
    assert "0123456789abcdef" not in line
    assert "sig=***" in line
    assert "/files/events/e/p/original" in line
