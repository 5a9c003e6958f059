"""Step 3 of the upload flow: sniffing, rejections, orientation, metadata stripping, variants.

Every image is generated (tests/photos/images.py); none is checked in.
"""

from __future__ import annotations

import io
import re
import struct
import time

import pillow_heif
import pytest
import pyvips
from PIL import Image, PngImagePlugin

from momento.photos.processing import (
    CORRUPT_IMAGE,
    EMPTY,
    HEIC,
    HEIF,
    JPEG,
    PNG,
    TOO_MANY_PIXELS,
    UNSUPPORTED_TYPE,
    WEBP,
    ImageRejected,
    ProcessedPhoto,
    blurhash_encode,
    process,
    process_async,
    sniff,
    strip_heif,
    strip_jpeg,
)
from tests.photos.images import (
    BLUE,
    RED,
    assert_no_identifying_metadata,
    camera_jpeg,
    heic,
    identifying_exif,
    load,
    noise_jpeg,
    picture,
    png_bomb,
)

BLURHASH_CHARS = re.compile(r"^[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]+$")


# --- helpers to look at outputs -----------------------------------------------------------


def _is(pixel: list[float], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 60 for a, b in zip(pixel[:3], colour, strict=True))


def _red_corner(image: pyvips.Image) -> str:
    """Which corner of the image is red (the others must be blue)."""
    w, h = image.width, image.height
    corners = {
        "top-left": (w // 20, h // 20),
        "top-right": (w - 1 - w // 20, h // 20),
        "bottom-left": (w // 20, h - 1 - h // 20),
        "bottom-right": (w - 1 - w // 20, h - 1 - h // 20),
    }
    red = [name for name, (x, y) in corners.items() if _is(image.getpoint(x, y), RED)]
    blue = [name for name, (x, y) in corners.items() if _is(image.getpoint(x, y), BLUE)]
    assert len(red) == 1, red
    assert len(blue) == 3, blue
    return red[0]


# --- sniff --------------------------------------------------------------------------------


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", len(body) + 8) + b"ftyp" + body + b"\x00\x00\x00\x08meta"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", JPEG),
        (b"\xff\xd8\xff\xe1\x12\x34Exif\x00\x00", JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", PNG),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", WEBP),
        (_ftyp(b"heic", b"mif1", b"heic"), HEIC),
        (_ftyp(b"heix", b"mif1"), HEIC),
        (_ftyp(b"hevc", b"msf1"), HEIC),
        (_ftyp(b"heim", b"mif1"), HEIC),
        (_ftyp(b"heis", b"mif1"), HEIC),
        (_ftyp(b"hevm", b"msf1"), HEIC),
        (_ftyp(b"hevs", b"msf1"), HEIC),
        (_ftyp(b"mif1", b"mif1", b"heic"), HEIC),
        (_ftyp(b"mif1", b"mif1", b"miaf"), HEIF),
        (_ftyp(b"msf1", b"msf1"), HEIF),
        (_ftyp(b"avif", b"mif1", b"avif"), None),
        (_ftyp(b"mif1", b"mif1", b"avif", b"miaf"), None),
        (_ftyp(b"isom", b"isom", b"mp41"), None),
        (_ftyp(b"qt  "), None),
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"\xff\xd8", None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


# --- JPEG ---------------------------------------------------------------------------------


def test_jpeg_orientation_6_rotates_variants_and_strips_everything() -> None:
    upload = camera_jpeg(800, 600, orientation=6, icc=True)
    assert b"secret-iptc" in upload
    assert "exif-ifd3-GPSLatitude" in load(upload).get_fields()

    photo = process(upload)

    assert (photo.width, photo.height) == (600, 800)  # stored 800x600, displayed rotated
    assert photo.mime == JPEG
    assert photo.original_mime == JPEG
    # Orientation 6 turns the stored image 90° clockwise: its top-left lands top-right.
    display, thumb = load(photo.display), load(photo.thumb)
    assert (display.width, display.height) == (600, 800)
    assert (thumb.width, thumb.height) == (300, 400)
    assert _red_corner(display) == "top-right"
    assert _red_corner(thumb) == "top-right"
    for variant in (display, thumb):
        assert variant.get_typeof("orientation") == 0 or variant.get("orientation") == 1

    original = load(photo.original)
    assert (original.width, original.height) == (800, 600)  # stored as uploaded, losslessly
    assert original.get("orientation") == 6  # ...with only the Orientation tag to turn it
    assert _red_corner(original.autorot()) == "top-right"
    assert (original.autorot().width, original.autorot().height) == (600, 800)
    assert original.avg() == load(upload).avg()
    assert (original.subtract(load(upload)).abs().max()) == 0

    for output in (photo.original, photo.display, photo.thumb):
        assert_no_identifying_metadata(output)
        assert b"motion-photo-video" not in output
        assert output.endswith(b"\xff\xd9")
        # The colour profile survives everywhere.
        assert len(load(output).get("icc-profile-data")) > 0


@pytest.mark.parametrize("orientation", [1, 3, 8])
def test_jpeg_other_orientations(orientation: int) -> None:
    photo = process(camera_jpeg(400, 200, orientation=orientation))
    expected = {1: "top-left", 3: "bottom-right", 8: "bottom-left"}[orientation]
    assert _red_corner(load(photo.display)) == expected
    assert _red_corner(load(photo.original, autorot=True)) == expected
    assert (photo.width, photo.height) == ((200, 400) if orientation == 8 else (400, 200))
    if orientation == 1:  # nothing to say: no Exif at all
        assert b"Exif\x00\x00" not in photo.original
    assert_no_identifying_metadata(photo.original)


def test_large_jpeg_gets_2048_display_and_400_thumbnail() -> None:
    photo = process(noise_jpeg(3000, 1800))
    assert (photo.width, photo.height) == (3000, 1800)
    assert (load(photo.display).width, load(photo.display).height) == (2048, 1229)
    assert (load(photo.thumb).width, load(photo.thumb).height) == (400, 240)
    assert load(photo.original).width == 3000


def test_tiny_image_is_not_upscaled() -> None:
    buffer = io.BytesIO()
    picture(24, 12).save(buffer, "JPEG")
    photo = process(buffer.getvalue())
    for data in (photo.display, photo.thumb, photo.original):
        image = load(data)
        assert (image.width, image.height) == (24, 12)


def test_cmyk_jpeg_variants_are_srgb_and_original_keeps_adobe_marker() -> None:
    # Also a regression test: libvips 8.18 crashed saving the display of a CMYK upload.
    buffer = io.BytesIO()
    Image.new("CMYK", (200, 100), (0, 255, 255, 0)).save(buffer, "JPEG")
    photo = process(buffer.getvalue())
    display = load(photo.display)
    assert (display.bands, display.interpretation) == (3, "srgb")
    assert _is(display.getpoint(10, 10), RED)
    assert load(photo.original).interpretation == "cmyk"
    assert b"Adobe" in photo.original


def test_greyscale_jpeg() -> None:
    buffer = io.BytesIO()
    Image.new("L", (200, 100), 128).save(buffer, "JPEG")
    photo = process(buffer.getvalue())
    assert load(photo.display).bands == 1
    assert BLURHASH_CHARS.match(photo.blurhash)


def test_strip_jpeg_keeps_a_progressive_jpeg_intact() -> None:
    data = bytes(load(noise_jpeg(300, 200)).jpegsave_buffer(interlace=True, Q=80, keep="none"))
    stripped = strip_jpeg(data + b"trailer")
    assert stripped == data  # nothing to strip: saved without metadata
    assert load(stripped).subtract(load(data)).abs().max() == 0


# --- HEIC, PNG, WebP ----------------------------------------------------------------------


def test_heic_with_rotation_and_gps_stays_heic_without_its_metadata() -> None:
    upload = heic(picture(320, 240), identifying_exif(6))
    assert sniff(upload) == HEIC

    photo = process(upload)

    assert photo.mime == HEIC
    assert photo.original_mime == HEIC  # the phone's file, not a JPEG (issue 14)
    assert sniff(photo.original) == HEIC
    assert (photo.width, photo.height) == (240, 320)  # the container's irot, kept as is
    kept = pillow_heif.open_heif(photo.original)
    assert kept.info.get("exif") is None
    assert kept.info.get("xmp") is None
    for secret in (b"Jane Doe", b"SecretCam"):
        assert secret in upload
        assert secret not in photo.original
    assert bytes(kept.data) == bytes(pillow_heif.open_heif(upload).data)
    for output in (photo.display, photo.thumb):
        assert output.startswith(b"\xff\xd8\xff")
        assert_no_identifying_metadata(output)


def test_a_camera_sized_heic_keeps_its_coded_image_byte_for_byte() -> None:
    """Megabytes of HEVC with GPS Exif and XMP: after stripping, the same size, the same
    pixels once decoded, and every byte outside the metadata items unchanged."""
    noise = pyvips.Image.gaussnoise(2880, 2160, sigma=30, mean=128)
    pixels = noise.bandjoin([noise, noise]).cast("uchar")
    image = Image.frombytes("RGB", (2880, 2160), pixels.write_to_memory())
    buffer = io.BytesIO()
    exif = identifying_exif(1).tobytes()
    pillow_heif.from_pillow(image).save(
        buffer, quality=60, exif=exif, xmp=b"<x:xmpmeta>secret-xmp</x:xmpmeta>"
    )
    upload = buffer.getvalue()
    assert len(upload) > 1_000_000
    gps = exif[exif.index(b"N\x00") :][:24]

    stripped = strip_heif(upload)

    assert len(stripped) == len(upload)
    assert gps in upload
    assert b"secret-xmp" in upload
    assert gps not in stripped
    assert b"secret-xmp" not in stripped
    heif = pillow_heif.open_heif(stripped)
    assert heif.info.get("exif") is None
    assert heif.info.get("xmp") is None
    assert bytes(heif.data) == bytes(pillow_heif.open_heif(upload).data)
    changed = sum(1 for a, b in zip(upload, stripped, strict=True) if a != b)
    assert changed < 4096  # the meta box and the zeroed metadata, nothing of the image


def test_heic_bomb_is_refused_before_decoding() -> None:
    upload = heic(picture(320, 240))
    with pytest.raises(ImageRejected) as caught:
        process(upload, max_pixels=320 * 240 - 1)
    assert caught.value.code == TOO_MANY_PIXELS


def test_png_with_alpha_keeps_png_original_and_flattens_variants_onto_white() -> None:
    image = picture(300, 200, "RGBA")
    image.paste((0, 0, 0, 0), (150, 0, 300, 200))  # right half fully transparent
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret-comment")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret-xmp</x:xmpmeta>")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info, exif=identifying_exif(1).tobytes())
    upload = buffer.getvalue()
    assert b"eXIf" in upload

    photo = process(upload)

    assert (photo.mime, photo.original_mime) == (PNG, PNG)
    assert (photo.width, photo.height) == (300, 200)
    original = load(photo.original)
    assert original.bands == 4
    assert original.subtract(load(upload)).abs().max() == 0
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf"):
        assert chunk not in photo.original
    assert_no_identifying_metadata(photo.original)
    display = load(photo.display)
    assert display.bands == 3
    assert _is(display.getpoint(280, 100), (255, 255, 255))
    assert _is(display.getpoint(5, 5), RED)
    assert photo.display.startswith(b"\xff\xd8")
    assert photo.thumb.startswith(b"\xff\xd8")


def test_png_with_orientation_is_re_encoded_upright() -> None:
    buffer = io.BytesIO()
    picture(200, 100).save(buffer, "PNG", exif=identifying_exif(6).tobytes())
    photo = process(buffer.getvalue())
    original = load(photo.original)
    assert (original.width, original.height) == (100, 200)
    assert _red_corner(original) == "top-right"
    assert _red_corner(load(photo.display)) == "top-right"
    assert_no_identifying_metadata(photo.original)


@pytest.mark.parametrize("lossless", [False, True])
def test_webp_drops_exif_and_xmp_chunks(lossless: bool) -> None:
    buffer = io.BytesIO()
    picture(300, 200, "RGBA").save(
        buffer,
        "WEBP",
        lossless=lossless,
        exif=identifying_exif(1).tobytes(),
        xmp=b"<x:xmpmeta>secret-xmp</x:xmpmeta>",
    )
    upload = buffer.getvalue()
    assert b"EXIF" in upload
    assert b"XMP " in upload

    photo = process(upload)

    assert (photo.mime, photo.original_mime) == (WEBP, WEBP)
    assert b"EXIF" not in photo.original
    assert b"XMP " not in photo.original
    assert photo.original[12:16] == b"VP8X"
    assert photo.original[20] & 0x0C == 0  # EXIF and XMP flags cleared
    assert struct.unpack_from("<I", photo.original, 4)[0] == len(photo.original) - 8
    assert_no_identifying_metadata(photo.original)
    original = load(photo.original)
    assert original.subtract(load(upload)).abs().max() == 0
    assert _red_corner(load(photo.display)) == "top-left"


# --- rejections ---------------------------------------------------------------------------


def test_empty_upload() -> None:
    with pytest.raises(ImageRejected) as caught:
        process(b"")
    assert caught.value.code == EMPTY


@pytest.mark.parametrize(
    "data",
    [
        b"This is a text file pretending to be photo.jpg\n" * 20,
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01;",
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
    ],
)
def test_unsupported_type_whatever_is_declared(data: bytes) -> None:
    with pytest.raises(ImageRejected) as caught:
        process(data)
    assert caught.value.code == UNSUPPORTED_TYPE
    assert caught.value.message


def test_avif_is_unsupported() -> None:
    avif = bytes(pyvips.Image.black(16, 16, bands=3).heifsave_buffer(compression="av1"))
    assert sniff(avif) is None
    with pytest.raises(ImageRejected) as caught:
        process(avif)
    assert caught.value.code == UNSUPPORTED_TYPE


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: noise_jpeg(256, 256)[:6000], id="truncated-jpeg"),
        pytest.param(lambda: b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, id="garbage-jpeg"),
        pytest.param(lambda: png_bomb(64)[:45], id="truncated-png"),
        pytest.param(lambda: heic(picture(64, 64))[:400], id="truncated-heic"),
        pytest.param(lambda: b"RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd", id="bad-webp"),
    ],
)
def test_corrupt_image(make: object) -> None:
    assert callable(make)
    with pytest.raises(ImageRejected) as caught:
        process(make())
    assert caught.value.code == CORRUPT_IMAGE


def test_png_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = png_bomb(30_000)  # 900 megapixels in ~100 KB
    assert len(bomb) < 200_000
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as caught:
        process(bomb)
    assert caught.value.code == TOO_MANY_PIXELS
    assert "30000" in caught.value.message
    assert time.perf_counter() - started < 1.0


def test_jpeg_header_declaring_huge_dimensions_is_refused() -> None:
    data = bytearray(noise_jpeg(64, 64))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 30_000, 30_000)  # height, width
    with pytest.raises(ImageRejected) as caught:
        process(bytes(data))
    assert caught.value.code == TOO_MANY_PIXELS


def test_max_pixels_is_configurable() -> None:
    data = noise_jpeg(100, 100)
    assert process(data, max_pixels=10_000).width == 100
    with pytest.raises(ImageRejected) as caught:
        process(data, max_pixels=9_999)
    assert caught.value.code == TOO_MANY_PIXELS


# --- blurhash -----------------------------------------------------------------------------


def test_blurhash_of_a_photo_has_the_right_shape() -> None:
    landscape = process(camera_jpeg(400, 300, orientation=1)).blurhash
    portrait = process(camera_jpeg(400, 300, orientation=6)).blurhash
    for value in (landscape, portrait):
        assert BLURHASH_CHARS.match(value)
        assert len(value) == 4 + 2 * 4 * 3
    assert landscape[0] == "L"  # 4x3 components: (4-1) + (3-1)*9 = 21
    assert portrait[0] == "T"  # 3x4 components: (3-1) + (4-1)*9 = 29


def test_blurhash_matches_the_reference_encoder() -> None:
    # Expected values computed with the reference algorithm (PyPI `blurhash` 1.1.5).
    solid = bytes(RED) * (8 * 6)
    gradient = bytes(v for y in range(6) for x in range(8) for v in (x * 30, y * 40, 128))
    assert blurhash_encode(solid, 8, 6, 4, 3) == "LsTI:j]9fQ]9|csUfQsUfQfQfQfQ"
    assert blurhash_encode(gradient, 8, 6, 4, 3) == "LcE.-D3Ba|%2zONLfQnTeqf7fQf7"
    # DC alone is the average colour.
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
    dc = 0
    for char in blurhash_encode(solid, 8, 6, 1, 1)[2:6]:
        dc = dc * 83 + digits.index(char)
    assert dc == 0xFF0000


def test_blurhash_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="components"):
        blurhash_encode(b"\x00" * 12, 2, 2, 10, 3)
    with pytest.raises(ValueError, match="dimensions"):
        blurhash_encode(b"\x00" * 11, 2, 2, 4, 3)


# --- off the event loop -------------------------------------------------------------------


async def test_process_async_runs_in_a_worker_thread() -> None:
    photo = await process_async(camera_jpeg(200, 100, orientation=1))
    assert isinstance(photo, ProcessedPhoto)
    assert (photo.width, photo.height) == (200, 100)
    with pytest.raises(ImageRejected):
        await process_async(b"not an image")


def test_result_is_frozen_and_repr_is_short() -> None:
    photo = process(camera_jpeg(200, 100, orientation=1))
    with pytest.raises(AttributeError):
        photo.width = 1  # type: ignore[misc]
    assert len(repr(photo)) < 300
