"""Step 3 of the photo upload flow: turn an uploaded object into what members may fetch.

`process(data)` is synchronous and CPU-bound; run it in a worker thread (`process_async`, or
`loop.run_in_executor` with your own pool) so image work never blocks the event loop. libvips
releases the GIL while it works, so a thread pool scales across cores.

What it does, in order:

1. `sniff` the real type from the magic bytes (JPEG, HEIC/HEIF, PNG, WebP); the declared
   content type plays no part. Anything else is `unsupported_type`.
2. Read the header only and refuse decompression bombs (`too_many_pixels`) before any pixel is
   decoded.
3. Decode once: shrink-on-load straight to the display size (longest side 2048, never
   upscaled), EXIF orientation applied; the thumbnail (longest side 400) is resized from the
   display pixels in memory, and the blurhash from a 32-pixel reduction of the thumbnail.
   Alpha is flattened onto white for the JPEG variants.
4. Build the `original` members may fetch, at full resolution, with every EXIF / XMP / IPTC /
   GPS / maker-note / comment field removed and the ICC colour profile kept:

   * JPEG stays the same JPEG, stripped losslessly at the byte level: APP1 (Exif, XMP),
     APP13 (IPTC / Photoshop), COM, every other APPn (maker data, MPF, C2PA/JUMBF, ...) and
     anything after EOI (Motion Photo videos, MPF secondary images) are dropped; JFIF (without
     its thumbnail), APP2 ICC_PROFILE and APP14 Adobe are kept. Orientation stays correct: if
     the upload had an orientation other than 1, a minimal Exif segment holding only the
     Orientation tag is written, so viewers rotate it exactly as they rotated the upload.
   * PNG stays PNG with its chunks filtered (text, eXIf, tIME and private chunks dropped;
     iCCP, sRGB, gAMA, cHRM, transparency and animation chunks kept). WebP stays WebP with its
     EXIF and XMP chunks dropped and the VP8X flags fixed. If either carries an orientation
     other than 1 it is re-encoded rotated instead (PNG lossless; WebP lossless if the upload
     was lossless, else quality 90), since viewers disagree on honouring orientation there.
   * HEIC/HEIF stays the same HEIF file (issue 14: the iPhone's own file is kept), its Exif
     and XMP items removed from the container without re-encoding (`strip_heif`): the coded
     image, ICC profile, rotation/mirror (irot/imir) and thumbnails are untouched. The display
     and thumbnail variants are JPEG, decoded with the rotation applied.

Rejections raise `ImageRejected` with a stable `code` the client can show: `empty`,
`unsupported_type`, `too_many_pixels`, `corrupt_image`.

HEIC is decoded with pillow-heif (libheif with libde265): the libvips in pyvips-binary reads
HEIF containers but has no HEVC decoder, only AV1.
"""

from __future__ import annotations

import asyncio
import functools
import math
import operator
import re
import struct
import threading
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Final

import pyvips

JPEG: Final = "image/jpeg"
HEIC: Final = "image/heic"
HEIF: Final = "image/heif"
PNG: Final = "image/png"
WEBP: Final = "image/webp"

DISPLAY_SIZE: Final = 2048
THUMB_SIZE: Final = 400
DISPLAY_QUALITY: Final = 85
THUMB_QUALITY: Final = 80
ORIGINAL_QUALITY: Final = 92  # HEIC -> JPEG original, and lossy WebP that had to be rotated
DEFAULT_MAX_PIXELS: Final = 100_000_000
BLURHASH_COMPONENTS: Final = (4, 3)  # along the longer side, along the shorter side
_BLURHASH_SOURCE_SIZE: Final = 32

# Stable codes for `ImageRejected.code`.
EMPTY: Final = "empty"
UNSUPPORTED_TYPE: Final = "unsupported_type"
TOO_MANY_PIXELS: Final = "too_many_pixels"
CORRUPT_IMAGE: Final = "corrupt_image"


class ImageRejected(Exception):
    """The upload cannot become a photo; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ImageRejected({self.code!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    """Everything step 3 produces. Dimensions are after orientation."""

    width: int
    height: int
    mime: str  # sniffed type of the upload
    original: bytes = field(repr=False)  # full resolution, identifying metadata removed
    original_mime: str
    display: bytes = field(repr=False)  # JPEG, longest side <= 2048
    thumb: bytes = field(repr=False)  # JPEG, longest side <= 400
    blurhash: str


# --- sniffing -----------------------------------------------------------------------------

# ISO/IEC 23008-12 brands. HEVC-coded still images: heic (Main/Main 10), heix (range
# extensions), heim (multi-view), heis (scalable); their image-sequence counterparts hevc, hevx,
# hevm, hevs. mif1/msf1 are the generic "some HEIF image / image sequence" brands, which AVIF
# and JPEG-in-HEIF files also carry, so they need a look at the compatible brands.
_HEVC_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
)
_GENERIC_HEIF_BRANDS: Final = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})


def sniff(head: bytes) -> str | None:
    """The real MIME type of an upload from its first bytes (64 are plenty), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_heif(head)
    return None


def _sniff_heif(head: bytes) -> str | None:
    (box_size,) = struct.unpack_from(">I", head)
    major = head[8:12]
    end = len(head) if box_size in (0, 1) else min(box_size, len(head))
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major in _HEVC_BRANDS:
        return HEIC
    if major in _GENERIC_HEIF_BRANDS:
        if compatible & _HEVC_BRANDS:
            return HEIC
        if compatible & _AVIF_BRANDS:
            return None
        return HEIF
    return None


# --- processing ---------------------------------------------------------------------------

_configured = False
_configure_lock = threading.Lock()


def _configure() -> None:
    global _configured
    if _configured:
        return
    with _configure_lock:
        if _configured:
            return
        # The operation cache would keep references to whole uploads; a server gains nothing.
        pyvips.cache_set_max(0)
        import pillow_heif

        # Only the primary image is used: skip decoding thumbnails, depth and auxiliary images.
        pillow_heif.options.THUMBNAILS = False
        pillow_heif.options.DEPTH_IMAGES = False
        pillow_heif.options.AUX_IMAGES = False
        _configured = True


def process(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ProcessedPhoto:
    """Check, orient, strip and resize one upload. Synchronous and CPU-bound: see module doc."""
    if not data:
        raise ImageRejected(EMPTY, "The file is empty.")
    mime = sniff(data[:256])
    if mime is None:
        raise ImageRejected(
            UNSUPPORTED_TYPE, "This file is not a supported photo (JPEG, HEIC, PNG or WebP)."
        )
    _configure()
    try:
        if mime in (HEIC, HEIF):
            return _process_heif(data, mime, max_pixels)
        return _process_vips(data, mime, max_pixels)
    except pyvips.Error as exc:
        raise _corrupt() from exc


async def process_async(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, executor: Executor | None = None
) -> ProcessedPhoto:
    """`process` in `executor` (default: the loop's thread pool), off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        executor, functools.partial(process, data, max_pixels=max_pixels)
    )


def _corrupt() -> ImageRejected:
    return ImageRejected(
        CORRUPT_IMAGE, "The photo could not be read; it may be damaged or cut off."
    )


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise _corrupt()
    if width * height > max_pixels:
        raise ImageRejected(
            TOO_MANY_PIXELS,
            f"The photo is {width} x {height} pixels; at most {max_pixels / 1e6:g} megapixels "
            "are accepted.",
        )


def _orientation(image: pyvips.Image) -> int:
    if image.get_typeof("orientation") == 0:
        return 1
    value = int(image.get("orientation"))
    return value if 1 <= value <= 8 else 1


def _process_vips(data: bytes, mime: str, max_pixels: int) -> ProcessedPhoto:
    header = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="error")
    width, height = header.width, header.height
    _check_pixels(width, height, max_pixels)
    orientation = _orientation(header)
    if orientation >= 5:
        width, height = height, width

    display = pyvips.Image.thumbnail_buffer(
        data, DISPLAY_SIZE, height=DISPLAY_SIZE, size="down", fail_on="error"
    )
    display = _for_jpeg(_own_profile(display)).copy_memory()

    if mime == JPEG:
        original = strip_jpeg(data, orientation)
    elif orientation != 1:
        full = pyvips.Image.new_from_buffer(data, "", fail_on="error").autorot()
        if mime == PNG:
            original = full.pngsave_buffer(keep="icc")
        else:
            lossless = header.get_typeof("webp-lossless") != 0 and bool(header.get("webp-lossless"))
            original = full.webpsave_buffer(keep="icc", lossless=lossless, Q=ORIGINAL_QUALITY)
    elif mime == PNG:
        original = strip_png(data)
    else:
        original = strip_webp(data)

    return _photo(display, width=width, height=height, mime=mime, original=original)


def _process_heif(data: bytes, mime: str, max_pixels: int) -> ProcessedPhoto:
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)  # parses the header only
        width, height = heif.size  # after the container's rotation/mirror
    except Exception as exc:
        raise _unsupported_or_corrupt(exc) from exc
    _check_pixels(width, height, max_pixels)
    bands = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}.get(heif.mode)
    if bands is None:
        raise _corrupt()
    try:
        pixels = heif.data  # decodes now; libheif applies irot/imir
        stride = int(heif.stride)
        icc = heif.info.get("icc_profile")
    except Exception as exc:
        raise _unsupported_or_corrupt(exc) from exc

    if stride % bands == 0 and len(pixels) >= stride * height:
        full = pyvips.Image.new_from_memory(pixels, stride // bands, height, bands, "uchar")
        if stride != width * bands:
            full = full.crop(0, 0, width, height)
    else:
        view = memoryview(pixels)
        rows = b"".join(view[y * stride : y * stride + width * bands] for y in range(height))
        full = pyvips.Image.new_from_memory(rows, width, height, bands, "uchar")
    full = full.copy(interpretation="srgb" if bands >= 3 else "b-w")
    if icc:
        full.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(icc))
    full = _for_jpeg(full)

    display = full.thumbnail_image(DISPLAY_SIZE, height=DISPLAY_SIZE, size="down").copy_memory()
    # The phone's own file stays the original: its Exif and XMP items go, its coded image
    # data is kept byte for byte (strip_heif).
    original = strip_heif(data)
    return _photo(display, width=width, height=height, mime=mime, original=original)


def _unsupported_or_corrupt(exc: Exception) -> ImageRejected:
    text = str(exc).lower()
    if "unsupported" in text or "not been built in" in text or "no decoding plugin" in text:
        return ImageRejected(UNSUPPORTED_TYPE, "This HEIF photo uses a codec we cannot read.")
    return _corrupt()


def _own_profile(image: pyvips.Image) -> pyvips.Image:
    """Attach a private copy of the ICC profile.

    With the operation cache off, libvips 8.18 frees the fallback sRGB profile that `thumbnail`
    attaches after converting CMYK while the image still points at it: saving then crashes.
    """
    if image.get_typeof("icc-profile-data") == 0:
        return image
    profile = bytes(image.get("icc-profile-data"))
    image = image.copy()
    image.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
    return image


def _for_jpeg(image: pyvips.Image) -> pyvips.Image:
    """8-bit, no alpha (flattened onto white): something a JPEG can hold."""
    if image.hasalpha():
        white = 65535 if image.format == "ushort" else 255
        image = image.flatten(background=[white] * (image.bands - 1))
    if image.format != "uchar":
        image = image.colourspace("b-w" if image.bands == 1 else "srgb")
        if image.format != "uchar":
            image = image.cast("uchar")
    return image


def _photo(
    display: pyvips.Image,
    *,
    width: int,
    height: int,
    mime: str,
    original: bytes,
    original_mime: str | None = None,
) -> ProcessedPhoto:
    """The result, both JPEGs and the blurhash made from the in-memory display image.

    `original_mime` is the upload's own `mime` unless the original was converted.
    """
    thumb = display.thumbnail_image(THUMB_SIZE, height=THUMB_SIZE, size="down").copy_memory()
    return ProcessedPhoto(
        width=width,
        height=height,
        mime=mime,
        original=original,
        original_mime=original_mime or mime,
        display=display.jpegsave_buffer(Q=DISPLAY_QUALITY, keep="icc"),
        thumb=thumb.jpegsave_buffer(Q=THUMB_QUALITY, keep="icc"),
        blurhash=_blurhash_of(thumb),
    )


def _blurhash_of(image: pyvips.Image) -> str:
    small = image.thumbnail_image(_BLURHASH_SOURCE_SIZE, height=_BLURHASH_SOURCE_SIZE, size="down")
    if small.bands == 1:
        small = small.bandjoin([small, small])
    elif small.bands > 3:
        small = small.extract_band(0, n=3)
    pixels = small.write_to_memory()
    long_side, short_side = BLURHASH_COMPONENTS
    nx, ny = (long_side, short_side) if small.width >= small.height else (short_side, long_side)
    return blurhash_encode(pixels, small.width, small.height, nx, ny)


# --- lossless metadata stripping ----------------------------------------------------------

# Any marker other than a stuffed 0xFF00, a restart marker or a fill byte.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})


def _keep_jpeg_segment(marker: int, payload: bytes) -> bytes | None:
    """The segment to write for one marker segment, or None to drop it."""
    if marker == 0xE0:  # APP0: keep JFIF (density only, no thumbnail); drop JFXX and others
        if payload.startswith(b"JFIF\x00") and len(payload) >= 12:
            body = payload[:12] + b"\x00\x00"
            return b"\xff\xe0" + struct.pack(">H", len(body) + 2) + body
        return None
    if marker == 0xE2:  # APP2: keep ICC_PROFILE chunks; drop MPF, FPXR
        return _segment(marker, payload) if payload.startswith(b"ICC_PROFILE\x00") else None
    if marker == 0xEE:  # APP14 Adobe: says how to read the colour channels
        return _segment(marker, payload) if payload.startswith(b"Adobe") else None
    if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APP1 Exif/XMP, APP13 IPTC, COM, ...
        return None
    return _segment(marker, payload)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def orientation_exif_segment(orientation: int) -> bytes:
    """An APP1 Exif segment holding nothing but the Orientation tag."""
    tiff = (
        b"MM\x00\x2a"
        + struct.pack(">I", 8)
        + struct.pack(">H", 1)
        + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
        + struct.pack(">I", 0)
    )
    return _segment(0xE1, b"Exif\x00\x00" + tiff)


def strip_jpeg(data: bytes, orientation: int = 1) -> bytes:
    """The same JPEG without identifying metadata; scan data is copied untouched."""
    view = memoryview(data)
    size = len(data)
    if not data.startswith(b"\xff\xd8"):
        raise _corrupt()
    out = bytearray(b"\xff\xd8")
    exif = orientation_exif_segment(orientation) if orientation != 1 else b""
    pos = 2
    in_scan = False
    while True:
        if in_scan:
            match = _JPEG_MARKER.search(data, pos)
            if match is None:
                raise _corrupt()  # no EOI: cut off
            start = match.start()
            out += view[pos:start]
        else:
            if pos >= size or data[pos] != 0xFF:
                raise _corrupt()
            start = pos
            while start + 1 < size and data[start + 1] == 0xFF:
                start += 1  # fill bytes
        if start + 1 >= size:
            raise _corrupt()
        marker = data[start + 1]
        pos = start + 2
        if marker == 0xD9:  # EOI: drop whatever follows (Motion Photo video, MPF images)
            out += b"\xff\xd9"
            return bytes(out)
        if marker in _JPEG_STANDALONE:
            out += bytes((0xFF, marker))
            continue
        if pos + 2 > size:
            raise _corrupt()
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2 or pos + length > size:
            raise _corrupt()
        payload = data[pos + 2 : pos + length]
        pos += length
        if exif and not (marker == 0xE0 and payload.startswith(b"JFIF\x00")):
            out += exif  # right after SOI (and JFIF), where readers look for it
            exif = b""
        kept = _keep_jpeg_segment(marker, payload)
        if kept is not None:
            out += kept
        if marker == 0xDA:  # SOS: entropy-coded data follows
            in_scan = True


_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP: Final = frozenset(
    {
        *(b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"bKGD", b"pHYs", b"sBIT"),
        *(b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCV", b"cLLI"),
        *(b"acTL", b"fcTL", b"fdAT"),
    }
)


def strip_png(data: bytes) -> bytes:
    """The same PNG keeping only pixel, colour and animation chunks (no text, eXIf, tIME)."""
    if not data.startswith(_PNG_SIGNATURE):
        raise _corrupt()
    out = bytearray(_PNG_SIGNATURE)
    pos, size = len(_PNG_SIGNATURE), len(data)
    while pos + 12 <= size:
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > size:
            raise _corrupt()
        if kind in _PNG_KEEP:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out)
    raise _corrupt()


_WEBP_KEEP: Final = frozenset({b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ICCP", b"ANIM", b"ANMF"})
_VP8X_EXIF_XMP_FLAGS: Final = 0x08 | 0x04


def strip_webp(data: bytes) -> bytes:
    """The same WebP without EXIF and XMP chunks (and with the VP8X flags to match)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _corrupt()
    (riff_size,) = struct.unpack_from("<I", data, 4)
    size = min(len(data), 8 + riff_size)
    body = bytearray(b"WEBP")
    pos = 12
    while pos + 8 <= size:
        kind = data[pos : pos + 4]
        (length,) = struct.unpack_from("<I", data, pos + 4)
        end = pos + 8 + length + (length & 1)
        if pos + 8 + length > size:
            raise _corrupt()
        if kind in _WEBP_KEEP:
            chunk = bytearray(data[pos:end])
            if len(chunk) < 8 + length + (length & 1):
                chunk += b"\x00"  # a writer that left off the final pad byte
            if kind == b"VP8X" and length >= 1:
                chunk[8] &= ~_VP8X_EXIF_XMP_FLAGS & 0xFF
            body += chunk
        pos = end
    if len(body) == 4:
        raise _corrupt()
    return b"RIFF" + struct.pack("<I", len(body)) + bytes(body)


# --- blurhash -----------------------------------------------------------------------------

_BASE83: Final = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
)
_SRGB_TO_LINEAR: Final = tuple(
    c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    for c in (i / 255 for i in range(256))
)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - 1 - k)) % 83] for k in range(length))


def _linear_to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _sign_pow(value: float, exponent: float) -> float:
    return math.copysign(abs(value) ** exponent, value)


def blurhash_encode(
    pixels: bytes | bytearray | memoryview,
    width: int,
    height: int,
    x_components: int = 4,
    y_components: int = 3,
) -> str:
    """Blurhash (https://blurha.sh) of packed 8-bit sRGB pixels, row-major, 3 bytes each.

    Length is 4 + 2 * x_components * y_components characters.
    """
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("blurhash components must be between 1 and 9")
    if width < 1 or height < 1 or len(pixels) < width * height * 3:
        raise ValueError("pixel buffer does not match the dimensions")
    data = bytes(pixels)
    lin = _SRGB_TO_LINEAR
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(x_components)]
    cos_y = [
        [math.cos(math.pi * j * y / height) for y in range(height)] for j in range(y_components)
    ]
    factors = [[0.0, 0.0, 0.0] for _ in range(x_components * y_components)]
    row_bytes = width * 3
    for y in range(height):
        row = data[y * row_bytes : (y + 1) * row_bytes]
        channels: Sequence[list[float]] = (
            [lin[v] for v in row[0::3]],
            [lin[v] for v in row[1::3]],
            [lin[v] for v in row[2::3]],
        )
        for i in range(x_components):
            cx = cos_x[i]
            sums = [sum(map(operator.mul, cx, channel)) for channel in channels]
            for j in range(y_components):
                weight = cos_y[j][y]
                factor = factors[j * x_components + i]
                factor[0] += weight * sums[0]
                factor[1] += weight * sums[1]
                factor[2] += weight * sums[2]
    for index, factor in enumerate(factors):
        scale = (1 if index == 0 else 2) / (width * height)
        factor[0] *= scale
        factor[1] *= scale
        factor[2] *= scale

    dc, ac = factors[0], factors[1:]
    result = _base83((x_components - 1) + (y_components - 1) * 9, 1)
    if ac:
        actual_max = max(abs(v) for factor in ac for v in factor)
        quantised_max = int(max(0, min(82, math.floor(actual_max * 166 - 0.5))))
        maximum = (quantised_max + 1) / 166
        result += _base83(quantised_max, 1)
    else:
        maximum = 1.0
        result += _base83(0, 1)
    result += _base83(
        (_linear_to_srgb(dc[0]) << 16) + (_linear_to_srgb(dc[1]) << 8) + _linear_to_srgb(dc[2]), 4
    )
    for factor in ac:
        r, g, b = (
            int(max(0, min(18, math.floor(_sign_pow(v / maximum, 0.5) * 9 + 9.5)))) for v in factor
        )
        result += _base83(r * 19 * 19 + g * 19 + b, 2)
    return result


# --- HEIF: metadata items removed, image data untouched -------------------------------------


def _uint(data: bytes | bytearray, pos: int, size: int) -> int:
    if size == 0:
        return 0
    if size not in (2, 4, 8) or pos + size > len(data):
        raise _corrupt()
    return int.from_bytes(data[pos : pos + size], "big")


def _heif_boxes(data: bytes | bytearray, start: int, end: int) -> list[tuple[bytes, int, int, int]]:
    """The boxes between start and end: (type, start, payload start, end)."""
    boxes = []
    pos = start
    while pos + 8 <= end:
        size = _uint(data, pos, 4)
        kind = bytes(data[pos + 4 : pos + 8])
        header = 8
        if size == 1:
            size, header = _uint(data, pos + 8, 8), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise _corrupt()
        boxes.append((kind, pos, pos + header, pos + size))
        pos += size
    return boxes


def _box(kind: bytes, payload: bytes | bytearray) -> bytes:
    return struct.pack(">I", len(payload) + 8) + kind + bytes(payload)


def _metadata_items(data: bytes | bytearray, iinf: tuple[bytes, int, int, int]) -> set[int]:
    """Ids of the Exif and XMP items listed in `iinf`."""
    _, _, body, end = iinf
    version = data[body]
    first = body + 4 + (2 if version == 0 else 4)
    found = set()
    for kind, _, p, _ in _heif_boxes(data, first, end):
        if kind != b"infe" or data[p] < 2:
            continue
        id_size = 2 if data[p] == 2 else 4
        item = _uint(data, p + 4, id_size)
        item_type = bytes(data[p + 4 + id_size + 2 : p + 4 + id_size + 6])
        rest = bytes(data[p + 4 + id_size + 6 : end])
        if item_type == b"Exif":
            found.add(item)
        elif item_type == b"mime":
            name_end = rest.find(b"\x00")
            content_type = rest[name_end + 1 :].split(b"\x00", 1)[0].lower()
            if b"rdf+xml" in content_type or b"xmp" in content_type:
                found.add(item)
    return found


def strip_heif(data: bytes) -> bytes:
    """The same HEIF file without its Exif and XMP items; every other byte of the image (its
    coded pixels, colour profile, rotation, thumbnails) is left as it was, so nothing is
    re-encoded.

    The metadata items are removed from the `meta` box (their entries in iinf, iloc, iref and
    ipma) and their bytes zeroed where they lay (in mdat or idat), so not even a forensic read
    finds the location. The `meta` box shrinks; a top-level `free` box of the difference follows
    it, so every file offset of the image data (iloc) stays valid.
    """
    work = bytearray(data)
    top = _heif_boxes(work, 0, len(work))
    metas = [b for b in top if b[0] == b"meta"]
    if len(metas) != 1:
        raise _corrupt()
    _, meta_start, meta_body, meta_end = metas[0]
    children = _heif_boxes(work, meta_body + 4, meta_end)
    by_kind = {kind: box for box in children for kind in (box[0],)}
    iinf, iloc = by_kind.get(b"iinf"), by_kind.get(b"iloc")
    if iinf is None or iloc is None:
        raise _corrupt()
    removed = _metadata_items(work, iinf)
    if not removed:
        return data

    # iloc: drop the removed items' entries, zero their bytes.
    _, _, body, end = iloc
    version = work[body]
    sizes = work[body + 4], work[body + 5]
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15) if version in (1, 2) else 0
    pos = body + 6
    count_size = 2 if version < 2 else 4
    count = _uint(work, pos, count_size)
    pos += count_size
    kept_entries: list[bytes] = []
    idat = by_kind.get(b"idat")
    for _ in range(count):
        entry_start = pos
        item = _uint(work, pos, 2 if version < 2 else 4)
        pos += 2 if version < 2 else 4
        method = 0
        if version in (1, 2):
            method = _uint(work, pos, 2) & 15
            pos += 2
        reference = _uint(work, pos, 2)
        base = _uint(work, pos + 2, base_size)
        pos += 2 + base_size
        extents = _uint(work, pos, 2)
        pos += 2
        spans = []
        for _ in range(extents):
            pos += index_size
            offset = _uint(work, pos, offset_size)
            length = _uint(work, pos + offset_size, length_size)
            pos += offset_size + length_size
            spans.append((base + offset, length))
        if pos > end:
            raise _corrupt()
        if item not in removed:
            kept_entries.append(bytes(work[entry_start:pos]))
            continue
        origin = 0 if method == 0 and reference == 0 else None
        if method == 1 and idat is not None:
            origin = idat[2]
        if origin is None:
            raise _corrupt()  # data elsewhere: cannot be sure it is gone
        for start, length in spans:
            start += origin
            if length == 0 or start + length > len(work):
                raise _corrupt()
            work[start : start + length] = bytes(length)
    new_iloc = (
        bytes(work[body : body + 6])
        + len(kept_entries).to_bytes(count_size, "big")
        + b"".join(kept_entries)
    )

    # iinf: the other items' entries.
    _, _, body, end = iinf
    version = work[body]
    id_count_size = 2 if version == 0 else 4
    infes = []
    for kind, start, p, box_end in _heif_boxes(work, body + 4 + id_count_size, end):
        if kind == b"infe" and work[p] >= 2:
            if _uint(work, p + 4, 2 if work[p] == 2 else 4) in removed:
                continue
        infes.append(bytes(work[start:box_end]))
    new_iinf = (
        bytes(work[body : body + 4]) + len(infes).to_bytes(id_count_size, "big") + b"".join(infes)
    )

    def new_iref(box: tuple[bytes, int, int, int]) -> bytes:
        _, _, body, end = box
        id_size = 2 if work[body] == 0 else 4
        refs = []
        for kind, _, p, _box_end in _heif_boxes(work, body + 4, end):
            source = _uint(work, p, id_size)
            n = _uint(work, p + id_size, 2)
            targets = [_uint(work, p + id_size + 2 + i * id_size, id_size) for i in range(n)]
            kept = [t for t in targets if t not in removed]
            if source in removed or not kept:
                continue
            refs.append(
                _box(
                    kind,
                    source.to_bytes(id_size, "big")
                    + len(kept).to_bytes(2, "big")
                    + b"".join(t.to_bytes(id_size, "big") for t in kept),
                )
            )
        return _box(b"iref", bytes(work[body : body + 4]) + b"".join(refs))

    def new_ipma(box: tuple[bytes, int, int, int]) -> bytes:
        _, _, body, end = box
        version, flags = work[body], work[body + 3]  # the low byte of the 24-bit flags
        id_size = 2 if version < 1 else 4
        assoc_size = 2 if flags & 1 else 1
        n = _uint(work, body + 4, 4)
        pos = body + 8
        entries = []
        for _ in range(n):
            start = pos
            item = _uint(work, pos, id_size)
            associations = work[pos + id_size]
            pos += id_size + 1 + associations * assoc_size
            if pos > end:
                raise _corrupt()
            if item not in removed:
                entries.append(bytes(work[start:pos]))
        return _box(
            b"ipma",
            bytes(work[body : body + 4]) + len(entries).to_bytes(4, "big") + b"".join(entries),
        )

    def new_iprp(box: tuple[bytes, int, int, int]) -> bytes:
        parts = [
            new_ipma(child) if child[0] == b"ipma" else bytes(work[child[1] : child[3]])
            for child in _heif_boxes(work, box[2], box[3])
        ]
        return _box(b"iprp", b"".join(parts))

    parts = []
    for child in children:
        kind = child[0]
        if kind == b"iinf":
            parts.append(_box(b"iinf", new_iinf))
        elif kind == b"iloc":
            parts.append(_box(b"iloc", new_iloc))
        elif kind == b"iref":
            parts.append(new_iref(child))
        elif kind == b"iprp":
            parts.append(new_iprp(child))
        else:
            parts.append(bytes(work[child[1] : child[3]]))
    meta = _box(b"meta", bytes(work[meta_body : meta_body + 4]) + b"".join(parts))
    gap = (meta_end - meta_start) - len(meta)
    if gap < 8:
        raise _corrupt()  # cannot happen: an infe entry alone is longer
    free = struct.pack(">I", gap) + b"free" + bytes(gap - 8)
    return bytes(work[:meta_start]) + meta + free + bytes(work[meta_end:])
