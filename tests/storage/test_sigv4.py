"""Our SigV4 presigner signs exactly what botocore signs (botocore being the reference).

moto does not check presigned signatures, so this equivalence is what shows that a real S3
accepts our URLs, and refuses them once expired, tampered with, or sent with another
Content-Type (the signature covers the expiry, the path and the content-type header).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

import botocore.auth
import botocore.session
import pytest
from botocore.client import BaseClient
from botocore.config import Config

from momento.storage.base import content_disposition
from momento.storage.sigv4 import Credentials, Presigner

FIXED = dt.datetime(2026, 3, 14, 15, 9, 26, tzinfo=dt.UTC)
CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
KEY = "events/0b8e-4a/photo_1/display.jpg"


@pytest.fixture(autouse=True)
def frozen_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda *a, **k: FIXED.replace(tzinfo=None)
    )


@pytest.fixture(scope="module")
def reference() -> Iterator[dict[str, BaseClient]]:
    clients: dict[str, BaseClient] = {}

    def make(
        name: str,
        endpoint: str | None,
        region: str,
        style: Literal["path", "virtual"],
        token: str | None,
    ) -> None:
        clients[name] = botocore.session.get_session().create_client(
            "s3",
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id=CREDS.access_key,
            aws_secret_access_key=CREDS.secret_key,
            aws_session_token=token,
            config=Config(signature_version="s3v4", s3={"addressing_style": style}),
        )

    make("minio", "http://127.0.0.1:9000", "us-east-1", "path", None)
    make("aws", None, "eu-west-1", "virtual", None)
    make("aws-token", None, "eu-west-1", "virtual", "session/token+=")
    make("https-path", "https://storage.example.com", "auto", "path", None)
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def ours(name: str) -> Presigner:
    return {
        "minio": Presigner("http://127.0.0.1:9000", "photos", "us-east-1", CREDS, path_style=True),
        "aws": Presigner(
            "https://s3.eu-west-1.amazonaws.com", "photos", "eu-west-1", CREDS, path_style=False
        ),
        "aws-token": Presigner(
            "https://s3.eu-west-1.amazonaws.com",
            "photos",
            "eu-west-1",
            Credentials(CREDS.access_key, CREDS.secret_key, "session/token+="),
            path_style=False,
        ),
        "https-path": Presigner(
            "https://storage.example.com", "photos", "auto", CREDS, path_style=True
        ),
    }[name]


def parts(url: str) -> tuple[str, str, str, list[tuple[str, str]]]:
    p = urlsplit(url)
    return p.scheme, p.netloc, p.path, sorted(parse_qsl(p.query, keep_blank_values=True))


@pytest.mark.parametrize("name", ["minio", "aws", "aws-token", "https-path"])
def test_get_matches_botocore(reference: dict[str, BaseClient], name: str) -> None:
    disposition = content_disposition("Été à la plage.jpg")
    expected = reference[name].generate_presigned_url(  # type: ignore[attr-defined]
        "get_object",
        Params={
            "Bucket": "photos",
            "Key": KEY,
            "ResponseCacheControl": "private, max-age=900",
            "ResponseContentDisposition": disposition,
        },
        ExpiresIn=900,
    )
    actual = ours(name).presign(
        "GET",
        KEY,
        expires_in=900,
        signed_at=int(FIXED.timestamp()),
        params={
            "response-cache-control": "private, max-age=900",
            "response-content-disposition": disposition,
        },
    )
    assert parts(actual) == parts(expected)


@pytest.mark.parametrize("name", ["minio", "aws", "aws-token"])
def test_put_matches_botocore(reference: dict[str, BaseClient], name: str) -> None:
    expected = reference[name].generate_presigned_url(  # type: ignore[attr-defined]
        "put_object",
        Params={"Bucket": "photos", "Key": KEY, "ContentType": "image/jpeg"},
        ExpiresIn=600,
    )
    actual = ours(name).presign(
        "PUT",
        KEY,
        expires_in=600,
        signed_at=int(FIXED.timestamp()),
        headers={"content-type": "image/jpeg"},
    )
    assert parts(actual) == parts(expected)
    assert dict(parts(actual)[3])["X-Amz-SignedHeaders"] == "content-type;host"


def test_signature_covers_method_key_expiry_and_type() -> None:
    signer = ours("minio")
    at = int(FIXED.timestamp())

    def sig(method: str = "GET", key: str = KEY, expires: int = 60, ctype: str = "") -> str:
        headers = {"content-type": ctype} if ctype else None
        url = signer.presign(method, key, expires_in=expires, signed_at=at, headers=headers)
        return dict(parts(url)[3])["X-Amz-Signature"]

    base = sig()
    assert len({base, sig("PUT"), sig(key=KEY + "x"), sig(expires=61), sig(ctype="a/b")}) == 5
    assert sig(ctype="image/jpeg") != sig(ctype="image/png")


def test_presigning_is_cheap() -> None:
    signer = ours("aws")
    start = time.perf_counter()
    for i in range(1000):
        signer.presign("GET", f"events/e/p{i}/thumb.jpg", expires_in=3600)
    per_url = (time.perf_counter() - start) / 1000
    assert per_url < 0.001  # ~10-20 µs in practice; botocore's client path is ~160 µs


def test_expiry_bounds() -> None:
    with pytest.raises(ValueError, match="expires_in"):
        ours("aws").presign("GET", KEY, expires_in=7 * 24 * 3600 + 1)
    with pytest.raises(ValueError, match="expires_in"):
        ours("aws").presign("GET", KEY, expires_in=0)
