"""QR codes of an event's join link (segno): SVG for print, PNG for chat and slides."""

from __future__ import annotations

import io

import segno

# Error correction M (15%) survives a table card's crease or a smudge and keeps the code
# small; a quiet zone of 4 modules is what scanners expect.
_ERROR = "m"
_BORDER = 4


def svg(url: str) -> bytes:
    """A scalable QR code (black on white, no fixed size: it fills what it is printed in)."""
    out = io.BytesIO()
    segno.make(url, error=_ERROR).save(
        out, kind="svg", border=_BORDER, scale=10, xmldecl=True, svgclass=None, lineclass=None
    )
    return out.getvalue()


def png(url: str, scale: int = 10) -> bytes:
    """A PNG, `scale` pixels per module (10: about 450 px for a join link)."""
    out = io.BytesIO()
    segno.make(url, error=_ERROR).save(out, kind="png", border=_BORDER, scale=scale)
    return out.getvalue()
