"""If-None-Match as RFC 9110 reads it: a list of entity tags, compared weakly, or "*"."""

from __future__ import annotations

import pytest

from momento.web.http import etag_matches

TAG = '"abc123"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ('"abc123"', True),
        ('W/"abc123"', True),
        ('"other", "abc123"', True),
        ('"other" ,W/"abc123"', True),
        ("*", True),
        ('"other"', False),
        ('"abc12"', False),
        ("abc123", False),
    ],
)
def test_etag_matches(header: str | None, expected: bool) -> None:
    assert etag_matches(header, TAG) is expected
