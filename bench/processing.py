"""Benchmark: photos per second through step 3 (`momento.photos.processing.process`).

Generates camera-sized (4032x3024, 12 MP) JPEGs and HEICs with photo-like content (gradients,
low-frequency blotches, sensor-like noise; camera Exif with GPS, half of them shot in portrait
with orientation 6), then measures in the same run, over the same files and with the same
parallelism (2 workers by default):

* ours: `process()` on each file — everything step 3 does: sniff, pixel-limit check,
  orientation, metadata strip, the sanitized full-resolution original (a lossless byte-level
  strip for JPEG, a full-resolution JPEG encode for HEIC), display (2048) and thumbnail (400)
  JPEGs and the blurhash; the three outputs are written to disk. Run once in a thread pool and
  once in a process pool; the faster one goes in the table.
* Debian's `vipsthumbnail` (package libvips-tools) making just the two variants (longest side
  2048 at Q=85 and 400 at Q=80, metadata stripped) from the same files — once per photo (two
  invocations per photo) and batched (each worker hands all its files to one invocation per
  size, which amortises process start-up); the faster one goes in the table.

Usage: python bench/processing.py [--count 24] [--workers 2] [--rounds 2] [--cache DIR]
Generated photos are cached in DIR (HEIC encoding takes a few seconds per photo).
Prints PASS/MISS per format against the target (ours >= 1.0x vipsthumbnail); always exits 0.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pillow_heif
import pyvips
from PIL import Image

from momento.photos.processing import DISPLAY_QUALITY, DISPLAY_SIZE, THUMB_QUALITY, THUMB_SIZE

WIDTH, HEIGHT = 4032, 3024
GENERATOR_VERSION = "2"  # bump when the generated content changes
TARGET = 1.0


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- photo generation ---------------------------------------------------------------------


def _pixels(seed: int) -> pyvips.Image:
    xy = pyvips.Image.xyz(WIDTH, HEIGHT)
    gx = xy[0] * (255 / WIDTH)
    gy = xy[1] * (255 / HEIGHT)
    blotches = (
        pyvips.Image.gaussnoise(WIDTH // 64 + 1, HEIGHT // 64 + 1, sigma=50, mean=128, seed=seed)
        .resize(64, kernel="cubic")
        .crop(0, 0, WIDTH, HEIGHT)
    )
    grain = pyvips.Image.gaussnoise(WIDTH, HEIGHT, sigma=5, mean=0, seed=seed + 1000)
    shift = (seed * 37) % 60
    red = gx * 0.5 + blotches * 0.5 + grain + shift
    green = gy * 0.6 + blotches * 0.4 + grain
    blue = (255 - gx) * 0.4 + blotches * 0.3 + grain + 40
    return red.bandjoin([green, blue]).cast("uchar").copy(interpretation="srgb").copy_memory()


def _camera_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"  # Make
    exif[0x0110] = "BenchCam 12"  # Model
    exif[0x0112] = orientation
    exif[0x0131] = "BenchCam firmware 1.0"  # Software
    exif[0x013B] = "A. Photographer"  # Artist
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 30.0)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 12.0)
    return bytes(exif.tobytes())


def _jpeg(image: pyvips.Image, exif: bytes) -> bytes:
    data = bytes(image.jpegsave_buffer(Q=92, keep="none"))
    payload = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return data[:2] + app1 + data[2:]


def _heic(image: pyvips.Image, exif: bytes) -> bytes:
    pillow_heif.options.GRID_TILE_SIZE = 512  # tiled like a phone's HEIC
    heif = pillow_heif.from_bytes("RGB", (image.width, image.height), image.write_to_memory())
    buffer = io.BytesIO()
    heif.save(buffer, quality=70, exif=exif, enc_params={"preset": "ultrafast"})
    return buffer.getvalue()


def generate(cache: Path, count: int) -> tuple[list[Path], list[Path]]:
    cache.mkdir(parents=True, exist_ok=True)
    stamp = cache / "VERSION"
    if not stamp.exists() or stamp.read_text() != GENERATOR_VERSION:
        for old in cache.glob("photo-*"):
            old.unlink()
        stamp.write_text(GENERATOR_VERSION)
    jpegs, heics = [], []
    started = time.perf_counter()
    made = 0
    for i in range(count):
        jpeg_path, heic_path = cache / f"photo-{i:02d}.jpg", cache / f"photo-{i:02d}.heic"
        jpegs.append(jpeg_path)
        heics.append(heic_path)
        if jpeg_path.exists() and heic_path.exists():
            continue
        image = _pixels(i)
        exif = _camera_exif(6 if i % 2 else 1)
        jpeg_path.write_bytes(_jpeg(image, exif))
        heic_path.write_bytes(_heic(image, exif))
        made += 1
        say(f"  generated {i + 1}/{count} ({time.perf_counter() - started:.0f} s)")
    if made:
        say(f"  generated {made} JPEG+HEIC pairs in {time.perf_counter() - started:.0f} s")
    return jpegs, heics


# --- ours ---------------------------------------------------------------------------------


def _ours_one(path: str, out_dir: str) -> int:
    from momento.photos.processing import process

    photo = process(Path(path).read_bytes())
    stem = Path(out_dir) / Path(path).stem
    Path(f"{stem}_original").write_bytes(photo.original)
    Path(f"{stem}_display.jpg").write_bytes(photo.display)
    Path(f"{stem}_thumb.jpg").write_bytes(photo.thumb)
    return len(photo.blurhash)


def _warm(_: int) -> int:
    """Import and run the pipeline once in this worker, so start-up is not timed."""
    from momento.photos.processing import process

    tiny = pyvips.Image.black(64, 48, bands=3).jpegsave_buffer()
    time.sleep(0.2)  # let the other workers take the other warm-up tasks
    return len(process(bytes(tiny)).blurhash)


def bench_ours(files: Sequence[Path], workers: int, kind: str, out_dir: Path) -> float:
    """Seconds for `process()` over all files in a pool of `workers` threads or processes."""
    pool: Executor
    if kind == "threads":
        pool = ThreadPoolExecutor(workers)
    else:
        # spawn: no fork of a process whose libvips already runs threads.
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    with pool:
        list(pool.map(_warm, range(workers * 2)))
        started = time.perf_counter()
        list(pool.map(_ours_one, [str(f) for f in files], [str(out_dir)] * len(files)))
        return time.perf_counter() - started


# --- vipsthumbnail ------------------------------------------------------------------------


def find_vipsthumbnail() -> str | None:
    found = shutil.which("vipsthumbnail")
    if found:
        return found
    if os.geteuid() != 0:
        say("vipsthumbnail is not installed; as root run: apt-get install -y libvips-tools")
        return None
    apt = shutil.which("apt-get")
    if apt is None:
        say("vipsthumbnail is not installed and there is no apt-get: install libvips-tools")
        return None
    say("vipsthumbnail is not installed; installing Debian's libvips-tools ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "libvips-tools"]
    if subprocess.run(install, env=env, check=False).returncode != 0:  # noqa: S603
        subprocess.run([apt, "update", "-q"], env=env, check=False)  # noqa: S603
        subprocess.run(install, env=env, check=False)  # noqa: S603
    return shutil.which("vipsthumbnail")


def _vips_command(
    tool: str, files: Sequence[str], size: int, name: str, q: int, out: str
) -> list[str]:
    return [tool, *files, "-s", f"{size}x{size}", "-o", f"{out}/%s_{name}.jpg[Q={q},strip]"]


# libvips from pyvips-binary sets VIPSHOME in the C environment when pyvips loads, which
# points Debian's libvips at the wrong module directory (no HEIF loader). Python's os.environ
# is the snapshot from start-up, without it: hand that to the children explicitly.
_CHILD_ENV = dict(os.environ)


def _vipsthumbnail_run(tool: str, files: Sequence[str], out_dir: str) -> None:
    for size, name, q in (
        (DISPLAY_SIZE, "display", DISPLAY_QUALITY),
        (THUMB_SIZE, "thumb", THUMB_QUALITY),
    ):
        subprocess.run(  # noqa: S603
            _vips_command(tool, files, size, name, q, out_dir),
            check=True,
            capture_output=True,
            env=_CHILD_ENV,
        )


def vipsthumbnail_works(tool: str, path: Path, out_dir: Path) -> str | None:
    """None if vipsthumbnail makes both variants of `path`, else what it said."""
    try:
        _vipsthumbnail_run(tool, [str(path)], str(out_dir))
    except subprocess.CalledProcessError as exc:
        return (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:][0]
    for name in ("display", "thumb"):
        made = out_dir / f"{path.stem}_{name}.jpg"
        if not made.exists() or made.stat().st_size == 0:
            return f"no {name} output"
    return None


def bench_vipsthumbnail(
    tool: str, files: Sequence[Path], workers: int, batched: bool, out_dir: Path
) -> float:
    names = [str(f) for f in files]
    jobs: list[list[str]]
    if batched:
        jobs = [names[i::workers] for i in range(workers)]
    else:
        jobs = [[name] for name in names]
    run: Callable[[list[str]], None] = lambda job: _vipsthumbnail_run(tool, job, str(out_dir))  # noqa: E731
    with ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        list(pool.map(run, jobs))
        return time.perf_counter() - started


# --- main ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=24, help="photos per format (24)")
    parser.add_argument("--workers", type=int, default=2, help="parallel workers (2)")
    parser.add_argument("--rounds", type=int, default=2, help="best of this many rounds (2)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "momento-bench-photos",
        help="where generated photos are kept between runs",
    )
    args = parser.parse_args(argv)
    count, workers = args.count, args.workers

    say(f"Step 3 benchmark: {count} x 12 MP ({WIDTH}x{HEIGHT}) per format, {workers} workers")
    say(
        f"  cores: {os.cpu_count()}; ours: pyvips {pyvips.__version__} on libvips "
        f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)} (pyvips-binary), "
        f"HEIC decode via pillow-heif {pillow_heif.__version__} (libheif "
        f"{pillow_heif.libheif_version()})"
    )
    tool = find_vipsthumbnail()
    if tool:
        version = subprocess.run(  # noqa: S603
            [tool, "--vips-version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        say(f"  baseline: {tool} ({version})")
    jpegs, heics = generate(args.cache, count)
    for label, files in (("JPEG", jpegs), ("HEIC", heics)):
        sizes = [f.stat().st_size for f in files]
        say(f"  {label}: {len(files)} files, mean {sum(sizes) / len(sizes) / 1e6:.1f} MB")
    say()

    rows: list[tuple[str, float, float | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="momento-bench-out-") as scratch:
        out_dir = Path(scratch)
        for label, files in (("JPEG", jpegs), ("HEIC", heics)):
            problem = vipsthumbnail_works(tool, files[0], out_dir) if tool else "not installed"
            if problem is not None:
                say(f"  {label} vipsthumbnail cannot run: {problem}")
            rates: dict[str, float] = {}
            base_rates: dict[str, float] = {}
            # Rounds alternate ours and the baseline, so a busy machine hurts both alike;
            # each configuration keeps its best round.
            for round_no in range(1, args.rounds + 1):
                for kind in ("threads", "processes"):
                    seconds = bench_ours(files, workers, kind, out_dir)
                    rate = len(files) / seconds
                    rates[kind] = max(rates.get(kind, 0.0), rate)
                    say(
                        f"  [{round_no}] {label} ours, {kind:9}: {seconds:6.2f} s  "
                        f"{rate:5.2f} photos/s"
                    )
                if tool is None or problem is not None:
                    continue
                for batched in (False, True):
                    mode = "batched" if batched else "per photo"
                    seconds = bench_vipsthumbnail(tool, files, workers, batched, out_dir)
                    rate = len(files) / seconds
                    base_rates[mode] = max(base_rates.get(mode, 0.0), rate)
                    say(
                        f"  [{round_no}] {label} vipsthumbnail, {mode:9}: {seconds:6.2f} s  "
                        f"{rate:5.2f} photos/s"
                    )
            best_kind = max(rates, key=lambda k: rates[k])
            ours = rates[best_kind]
            note = f"ours: {best_kind}"
            baseline: float | None = None
            if base_rates:
                best_mode = max(base_rates, key=lambda k: base_rates[k])
                baseline = base_rates[best_mode]
                note += f"; vipsthumbnail: {best_mode}"
            else:
                note += f"; vipsthumbnail: {problem}"
            rows.append((label, ours, baseline, note))
            say()

    say(
        f"{'format':6}  {'ours photos/s':>13}  {'vipsthumbnail photos/s':>22}  {'ratio':>6}  "
        f"{'target':>6}  result  notes"
    )
    for label, ours, baseline, note in rows:
        if baseline is None:
            say(f"{label:6}  {ours:13.2f}  {'n/a':>22}  {'n/a':>6}  {'>=1.0x':>6}  n/a     {note}")
            continue
        ratio = ours / baseline
        verdict = "PASS" if ratio >= TARGET else "MISS"
        say(
            f"{label:6}  {ours:13.2f}  {baseline:22.2f}  {ratio:5.2f}x  {'>=1.0x':>6}  "
            f"{verdict:6}  {note}"
        )
    say()
    say(
        "ours = sniff + pixel-limit check + orientation + metadata strip + sanitized original "
        "+ 2048 display + 400 thumbnail + blurhash, outputs written to disk;"
    )
    say("vipsthumbnail = the 2048 and 400 JPEG variants only (autorotated, stripped).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
