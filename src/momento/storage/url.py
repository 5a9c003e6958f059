"""`STORAGE_URL`, parsed and checked (by the settings at start and by `from_url`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from momento.storage.base import InvalidKey, validate_key

S3_PARAMS = frozenset({"endpoint", "region"})


@dataclass(frozen=True)
class StorageLocation:
    kind: str  # "file" or "s3"
    path: Path | None = None  # file: the root; None for the default under the data directory
    bucket: str = ""
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None


def parse(url: str | None) -> StorageLocation:
    """Raise ValueError with a one-line explanation when the URL is unusable."""
    if not url:
        return StorageLocation("file")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/") or parts.query:
            raise ValueError("file storage needs an absolute path, as in file:///srv/momento")
        return StorageLocation("file", path=Path(unquote(parts.path)))
    if parts.scheme != "s3":
        raise ValueError(
            "must be file:///absolute/path or s3://bucket?endpoint=http://host:9000&region=..."
        )
    bucket = parts.netloc
    if not bucket or "@" in bucket or ":" in bucket:
        raise ValueError("s3 storage needs a bucket name, as in s3://photos (no credentials)")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - S3_PARAMS)
    if unknown:
        raise ValueError(
            f"unknown s3 parameter(s) {', '.join(unknown)} (known: endpoint, region; "
            "credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    endpoint = query.get("endpoint") or None
    if endpoint is not None:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname:
            raise ValueError("the s3 endpoint must be an http(s):// URL")
    prefix = unquote(parts.path).strip("/")
    if prefix:
        try:
            validate_key(prefix)
        except InvalidKey as exc:
            raise ValueError(f"the s3 key prefix is not valid: {exc}") from None
    return StorageLocation(
        "s3", bucket=bucket, prefix=prefix, endpoint=endpoint, region=query.get("region") or None
    )
