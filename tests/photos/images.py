"""Images made for the photo tests (none is checked in): pictures whose orientation shows,
files carrying every kind of identifying metadata, HEIC, a PNG bomb, camera-sized and plain
JPEGs; and the check that a served file carries none of that metadata."""

from __future__ import annotations

import io
import struct
import zlib

import pillow_heif
import pyvips
from PIL import Image

RED = (255, 0, 0)
BLUE = (0, 0, 255)
SECRETS = (b"Jane Doe", b"SecretCam", b"secret-xmp", b"secret-iptc", b"secret-comment")


# --- image makers -------------------------------------------------------------------------


def picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Blue, with a red top-left quarter-corner (in stored pixel order)."""
    image = Image.new(mode, (width, height), BLUE if mode == "RGB" else (*BLUE, 255))
    image.paste(RED if mode == "RGB" else (*RED, 255), (0, 0, width // 4, height // 4))
    return image


def identifying_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x013B] = "Jane Doe"  # Artist
    exif[0x0110] = "SecretCam 9000"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 30.0)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 12.0)
    return exif


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def camera_jpeg(width: int, height: int, orientation: int, *, icc: bool = False) -> bytes:
    """A JPEG with identifying Exif (GPS, artist, model), XMP, IPTC, a comment, a trailer."""
    buffer = io.BytesIO()
    picture(width, height).save(
        buffer, "JPEG", quality=95, exif=identifying_exif(orientation).tobytes()
    )
    data = buffer.getvalue()
    if icc:
        profile = pyvips.Image.new_from_buffer(
            pyvips.Image.black(8, 8, bands=3).jpegsave_buffer(profile="p3"), ""
        ).get("icc-profile-data")
        data = data[:2] + segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + profile) + data[2:]
    extra = (
        segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>secret-xmp</x:xmpmeta>")
        + segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00secret-iptc")
        + segment(0xFE, b"secret-comment")
    )
    data = data[:2] + extra + data[2:]
    return data + b"motion-photo-video secret-comment"


def noise_jpeg(width: int, height: int) -> bytes:
    noise = pyvips.Image.gaussnoise(width, height, sigma=60, mean=128)
    image = noise.bandjoin([noise, noise]).cast("uchar")
    return bytes(image.jpegsave_buffer(Q=90))


def plain_jpeg(width: int = 64, height: int = 48) -> bytes:
    """A small JPEG of one colour, no metadata: any valid upload."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def camera_sized_jpeg(width: int = 4032, height: int = 3024) -> bytes:
    """A JPEG the size a phone camera makes (12 MP, about 4 MB): fine noise compresses
    like a real photo's detail."""
    noise = pyvips.Image.gaussnoise(width, height, sigma=8, mean=128)
    image = noise.bandjoin([noise, noise]).cast("uchar")
    return bytes(image.jpegsave_buffer(Q=90))


def heic(image: Image.Image, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(
        buffer, quality=80, exif=exif.tobytes() if exif is not None else None
    )
    return buffer.getvalue()


def png_bomb(side: int) -> bytes:
    """A real PNG of side x side 1-bit black pixels: ~100 KB that decodes to `side`² pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    block = row * 1000
    parts = [compressor.compress(block) for _ in range(side // 1000)]
    parts.append(compressor.compress(row * (side % 1000)))
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


def load(data: bytes, *, autorot: bool = False) -> pyvips.Image:
    image = pyvips.Image.new_from_buffer(data, "")
    return image.autorot() if autorot else image


def assert_no_identifying_metadata(data: bytes) -> None:
    for secret in SECRETS:
        assert secret not in data
    image = load(data)
    fields = image.get_fields()
    assert not [f for f in fields if f.startswith("exif-ifd3") or "GPS" in f]
    assert "xmp-data" not in fields
    assert "iptc-data" not in fields
    with Image.open(io.BytesIO(data)) as pil:
        exif = pil.getexif()
        assert set(exif) <= {0x0112}
        assert not exif.get_ifd(0x8825)
