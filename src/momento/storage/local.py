"""Objects as files under a root folder, reached through HMAC-signed `/files/...` URLs.

Layout: the object `a/b/c.jpg` is the file `<root>/a/b/c.jpg`, its content type is kept in
the sidecar `<root>/a/b/.c.jpg.meta` (JSON), and uploads are written to `<root>/.incoming/`
and renamed into place, so a reader sees the old object or the new one, never half of one.
Keys never start a segment with a dot, so these names cannot clash with objects.

Every path is walked one component at a time from an open handle on the root with
`O_NOFOLLOW`: a symbolic link anywhere below the root is refused, never followed, and a
rename replaces a link instead of writing through it. Blocking file work runs in threads.

Faults: a write the file system has no room for (ENOSPC, EDQUOT, EFBIG) raises
`StorageFull`; any other OS error (EIO, EROFS, EACCES, a root that is gone or is a file, ...)
raises `StorageDown`, the cause chained. A failed write leaves the stored object as it was:
the upload's temporary file (and sidecar) is removed and nothing is renamed into place.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import hashlib
import hmac
import json
import mimetypes
import os
import secrets
import stat as st
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from momento import logs
from momento.storage.base import (
    ObjectInfo,
    StorageDown,
    StorageError,
    StorageFull,
    StorageNotFound,
    TooLarge,
    UnsafePath,
    UploadTarget,
    clean_filename,
    expiry,
    lifetime,
    put_target,
    validate_content_type,
    validate_delete_prefix,
    validate_expires_in,
    validate_key,
    validate_prefix,
)

log = logs.get("momento.storage.local")

FILES_PATH = "/files/"
INCOMING = ".incoming"
DEFAULT_MAX_PUT_BYTES = 64 * 1024 * 1024
WRITE_BATCH = 1024 * 1024
STALE_UPLOAD_SECONDS = 24 * 3600
OCTET_STREAM = "application/octet-stream"
_PROC_FD = sys.platform == "linux"

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# O_NONBLOCK: opening a FIFO planted in the root must not hang the thread.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
# The file system has no room: a full disk, a user quota, a file-size limit.
_NO_ROOM = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if code
)


def _fault(exc: OSError, action: str) -> StorageError:
    reason = exc.strerror or type(exc).__name__
    if exc.errno in _NO_ROOM:
        return StorageFull(f"no room on the disk for the {action} ({reason})")
    return StorageDown(f"the disk failed the {action} ({type(exc).__name__}: {reason})")


@contextlib.contextmanager
def _faults(action: str) -> Iterator[None]:
    """OS errors as `StorageFull`/`StorageDown` (cause chained); `StorageError`s pass."""
    try:
        yield
    except OSError as exc:
        raise _fault(exc, action) from exc


class FileUrlSigner:
    """HMAC-SHA256 over `METHOD\\n/files/<key>\\n<expires>[\\n<extra>...]`, hex encoded.

    GET URLs sign the download file name (empty when none); PUT URLs sign the content type
    and the size cap. The keyed HMAC state is computed once and copied per signature.
    """

    def __init__(self, secret: bytes, base_url: str) -> None:
        if len(secret) < 16:
            raise ValueError("the file URL signing secret must be at least 16 bytes")
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)
        self.base_url = base_url.rstrip("/")

    def signature(self, method: str, key: str, expires: int, *extra: str) -> str:
        mac = self._mac.copy()
        mac.update("\n".join((method, FILES_PATH + key, str(expires), *extra)).encode())
        return mac.hexdigest()

    def verify(self, sig: str, method: str, key: str, expires: int, *extra: str) -> bool:
        expected = self.signature(method, key, expires, *extra).encode()
        return hmac.compare_digest(expected, sig.encode("utf-8", "replace"))

    def get_url(self, key: str, expires: int, filename: str | None = None) -> str:
        """A signed GET URL. Low level: the key is not validated here."""
        query = {"expires": str(expires)}
        if filename:
            query["filename"] = filename
        query["sig"] = self.signature("GET", key, expires, filename or "")
        return f"{self.base_url}{FILES_PATH}{key}?{urlencode(query, quote_via=quote)}"

    def put_url(self, key: str, expires: int, content_type: str, max_bytes: int) -> str:
        """A signed PUT URL. Low level: nothing is validated here."""
        sig = self.signature("PUT", key, expires, content_type, str(max_bytes))
        query = {"expires": str(expires), "type": content_type, "max": str(max_bytes), "sig": sig}
        return f"{self.base_url}{FILES_PATH}{key}?{urlencode(query, quote_via=quote)}"


@dataclass
class OpenFile:
    """A stored object opened for reading; whoever holds it closes `fd`."""

    fd: int
    size: int
    content_type: str
    etag: str
    modified: datetime

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _modified(s: os.stat_result) -> datetime:
    return datetime.fromtimestamp(s.st_mtime, tz=UTC)


def _etag(s: os.stat_result) -> str:
    return f'"{s.st_ino:x}-{s.st_size:x}-{s.st_mtime_ns:x}"'


def _meta_name(name: str) -> str:
    return f".{name}.meta"


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or OCTET_STREAM


def _open_at(name: str, flags: int, dir_fd: int, mode: int = 0o640) -> int:
    try:
        return os.open(name, flags, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath("a symbolic link inside the storage root was refused") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise StorageNotFound(name) from None
        raise


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# What `stream` reads at a time: big enough that a thread hop per chunk costs nothing, small
# enough that memory stays flat however many streams run.
STREAM_CHUNK = 1024 * 1024


def _read_all(fd: int, size: int, *, limit: int | None = None) -> bytes:
    """The file from its start to its end, or to `limit` + 1 bytes, whichever comes first."""
    chunks: list[bytes] = []
    offset = 0
    while limit is None or offset <= limit:
        want = max(size - offset, 65536)
        if limit is not None:
            want = min(want, limit + 1 - offset)
        chunk = os.pread(fd, want, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


class _Upload:
    """A new object being written to `<root>/.incoming/`; `commit` renames it into place."""

    def __init__(self, storage: LocalDiskStorage, key: str, content_type: str) -> None:
        self.storage = storage
        self.key = key
        self.content_type = content_type
        self.size = 0
        self.tmp = f"{secrets.token_hex(12)}.part"
        try:
            self.dir_fd = storage._open_dir([INCOMING], create=True)
        except StorageError as exc:
            # Our own folder, not the client's key: something in its way is the server's fault.
            raise StorageDown(f"the uploads folder {INCOMING} is unusable ({exc})") from exc
        try:
            self.fd = _open_at(self.tmp, _CREATE_FLAGS, self.dir_fd)
        except BaseException:
            os.close(self.dir_fd)
            raise

    def write(self, data: bytes) -> None:
        write_all(self.fd, data)
        self.size += len(data)

    def commit(self) -> None:
        try:
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = -1
            self.storage._install(self.dir_fd, self.tmp, self.key, self.content_type)
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop the temporary file (a no-op after a successful commit)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.dir_fd >= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp, dir_fd=self.dir_fd)
            os.close(self.dir_fd)
            self.dir_fd = -1


class LocalDiskStorage:
    """The default backend: files under `root` (normally `<data dir>/files`)."""

    def __init__(
        self,
        root: Path,
        signer: FileUrlSigner,
        *,
        default_ttl: int = 3600,
        default_max_put_bytes: int = DEFAULT_MAX_PUT_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root).absolute()
        self.signer = signer
        self.default_ttl = validate_expires_in(default_ttl)
        self.default_max_put_bytes = default_max_put_bytes
        self.clock = clock

    def __repr__(self) -> str:
        return f"LocalDiskStorage(root={str(self.root)!r})"

    # --- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        """Create the root (and its uploads folder); `StorageDown` when that is impossible."""
        await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> None:
        with _faults(f"opening of {self.root}"):
            self._prepare_root()
        log.info("local storage ready", root=str(self.root))

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o750)
        dfd = self._open_dir([INCOMING], create=True)
        try:
            cutoff = time.time() - STALE_UPLOAD_SECONDS
            for name in os.listdir(dfd):
                with contextlib.suppress(OSError):
                    if os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(name, dir_fd=dfd)
        finally:
            os.close(dfd)

    async def start(self) -> None:
        """As `open`: the disk is here, there is no outage to wait out, and a root that
        cannot be made is a configuration mistake the start should report."""
        await self.open()

    def health(self) -> dict[str, str | None]:
        return {"storage": "local", "storage_error": None}

    async def close(self) -> None:
        return None

    # --- objects ----------------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        validate_key(key)
        validate_content_type(content_type)
        with _faults(f"write of {key}"):
            await asyncio.to_thread(self._put_sync, key, data, content_type)

    def _put_sync(self, key: str, data: bytes, content_type: str) -> None:
        upload = _Upload(self, key, content_type)
        try:
            upload.write(data)
            upload.commit()
        finally:
            upload.abort()

    async def receive(
        self, key: str, content_type: str, chunks: AsyncIterator[bytes], max_bytes: int
    ) -> int:
        """Store a streamed body of at most `max_bytes` bytes (else `TooLarge`, nothing kept).

        Returns the size stored.
        """
        validate_key(key)
        validate_content_type(content_type)
        action = f"write of {key}"
        with _faults(action):
            await asyncio.to_thread(self._check_writable, key)
            upload = await asyncio.to_thread(_Upload, self, key, content_type)
        try:
            buffer = bytearray()
            size = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"the body is larger than {max_bytes} bytes")
                buffer += chunk
                if len(buffer) >= WRITE_BATCH:
                    with _faults(action):
                        await asyncio.to_thread(upload.write, bytes(buffer))
                    buffer.clear()
            with _faults(action):
                if buffer:
                    await asyncio.to_thread(upload.write, bytes(buffer))
                await asyncio.to_thread(upload.commit)
        finally:
            # Also on cancellation (client gone) and on a full disk: close and unlink (which
            # frees the space the partial file took), quick enough to do inline.
            with _faults(action):
                upload.abort()
        return size

    async def stat(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        with _faults(f"stat of {key}"):
            return await asyncio.to_thread(self._stat_sync, key)

    def _stat_sync(self, key: str) -> ObjectInfo | None:
        *parents, name = key.split("/")
        try:
            dfd = self._open_dir(parents)
        except StorageNotFound:
            return None
        try:
            try:
                s = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                return None
            if st.S_ISLNK(s.st_mode):
                raise UnsafePath("a symbolic link inside the storage root was refused")
            if not st.S_ISREG(s.st_mode):
                return None
            content_type = self._content_type(dfd, name)
        finally:
            os.close(dfd)
        return ObjectInfo(key, s.st_size, _modified(s), content_type, _etag(s))

    async def read(self, key: str, max_bytes: int | None = None) -> bytes:
        validate_key(key)
        with _faults(f"read of {key}"):
            return await asyncio.to_thread(self._read_sync, key, max_bytes)

    def _read_sync(self, key: str, max_bytes: int | None) -> bytes:
        opened = self.open_sync(key)
        try:
            if max_bytes is not None and opened.size > max_bytes:
                raise TooLarge(f"{key} is larger than {max_bytes} bytes", size=opened.size)
            data = _read_all(opened.fd, opened.size, limit=max_bytes)
            if max_bytes is not None and len(data) > max_bytes:  # grew since the fstat
                raise TooLarge(f"{key} is larger than {max_bytes} bytes")
            return data
        finally:
            opened.close()

    async def open_file(self, key: str) -> OpenFile:
        """Open the object for streaming (the caller closes it); `StorageNotFound` if none."""
        validate_key(key)
        with _faults(f"read of {key}"):
            return await asyncio.to_thread(self.open_sync, key)

    def open_sync(self, key: str) -> OpenFile:
        *parents, name = key.split("/")
        dfd = self._open_dir(parents)
        try:
            fd = _open_at(name, _READ_FLAGS, dfd)
            try:
                s = os.fstat(fd)
                if not st.S_ISREG(s.st_mode):
                    raise StorageNotFound(key)
                content_type = self._content_type(dfd, name)
            except BaseException:
                os.close(fd)
                raise
        finally:
            os.close(dfd)
        return OpenFile(fd, s.st_size, content_type, _etag(s), _modified(s))

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        opened = await self.open_file(key)
        try:
            offset = 0
            while True:
                # Only the read is guarded: the consumer's code runs at the yield.
                with _faults(f"read of {key}"):
                    chunk = await asyncio.to_thread(os.pread, opened.fd, STREAM_CHUNK, offset)
                if not chunk:
                    break
                offset += len(chunk)
                yield chunk
        finally:
            opened.close()

    @contextlib.asynccontextmanager
    async def local_file(self, key: str) -> AsyncIterator[Path]:
        opened = await self.open_file(key)
        try:
            # The open descriptor pins this version of the file even if it is replaced
            # meanwhile; /proc/self/fd/N reopens exactly that file (Linux).
            yield Path(f"/proc/self/fd/{opened.fd}") if _PROC_FD else self.root / key
        finally:
            opened.close()

    async def delete(self, key: str) -> None:
        validate_key(key)
        with _faults(f"delete of {key}"):
            await asyncio.to_thread(self._delete_sync, key)

    def _delete_sync(self, key: str) -> None:
        *parents, name = key.split("/")
        try:
            dfd = self._open_dir(parents)
        except StorageNotFound:
            return
        try:
            self._unlink_object(dfd, name)
        finally:
            os.close(dfd)
        self._prune(parents)

    async def delete_prefix(self, prefix: str) -> int:
        validate_delete_prefix(prefix)
        with _faults(f"delete of {prefix}"):
            return await asyncio.to_thread(self._delete_prefix_sync, prefix)

    def _delete_prefix_sync(self, prefix: str) -> int:
        parents = prefix.removesuffix("/").split("/")
        try:
            top = self._open_dir(parents)
        except StorageNotFound:
            return 0
        count = 0
        try:
            for _path, dirnames, filenames, dfd in os.fwalk(
                ".", topdown=False, dir_fd=top, follow_symlinks=False
            ):
                for name in filenames:
                    if not name.startswith(".") and self._unlink_object(dfd, name):
                        count += 1
                for name in dirnames:
                    with contextlib.suppress(OSError):
                        os.rmdir(name, dir_fd=dfd)
        finally:
            os.close(top)
        self._prune(parents)
        return count

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        validate_prefix(prefix)
        with _faults(f"listing of {prefix or '/'}"):
            found = await asyncio.to_thread(self._list_sync, prefix)
        for info in found:
            yield info

    def _list_sync(self, prefix: str) -> builtins.list[ObjectInfo]:
        dir_part, _, name_part = prefix.rpartition("/")
        parents = dir_part.split("/") if dir_part else []
        base = dir_part + "/" if dir_part else ""
        try:
            top = self._open_dir(parents)
        except StorageNotFound:
            return []
        found: list[ObjectInfo] = []
        try:
            for path, dirnames, filenames, dfd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
                at_top = path == "."
                rel = "" if at_top else path[2:] + "/"
                dirnames[:] = [
                    d
                    for d in dirnames
                    if _is_segment(d) and (not at_top or d.startswith(name_part))
                ]
                for name in filenames:
                    if not _is_segment(name) or (at_top and not name.startswith(name_part)):
                        continue
                    try:
                        s = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if st.S_ISREG(s.st_mode):
                        found.append(
                            ObjectInfo(base + rel + name, s.st_size, _modified(s), None, _etag(s))
                        )
        finally:
            os.close(top)
        found.sort(key=lambda info: info.key)
        return found

    # --- signed URLs --------------------------------------------------------------------

    def signed_get_url(
        self,
        key: str,
        expires_in: int | None = None,
        *,
        expires_at: int | None = None,
        filename: str | None = None,
    ) -> str:
        validate_key(key)
        expires = expiry(int(self.clock()), self.default_ttl, expires_in, expires_at)
        name = clean_filename(filename) if filename else None
        return self.signer.get_url(key, expires, name)

    def signed_put(
        self,
        key: str,
        content_type: str,
        *,
        max_bytes: int | None = None,
        expires_in: int | None = None,
    ) -> UploadTarget:
        validate_key(key)
        validate_content_type(content_type)
        ttl = lifetime(expires_in, self.default_ttl)
        cap = self.default_max_put_bytes if max_bytes is None else max_bytes
        if cap < 0:
            raise ValueError("max_bytes must not be negative")
        expires = int(self.clock()) + ttl
        return put_target(
            self.signer.put_url(key, expires, content_type, cap), content_type, expires, cap
        )

    # --- paths --------------------------------------------------------------------------

    def _open_dir(self, parts: Sequence[str], *, create: bool = False) -> int:
        """An open handle on `<root>/<parts...>`, never following a symbolic link."""
        fd = os.open(self.root, _ROOT_FLAGS)
        try:
            for part in parts:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o750, dir_fd=fd)
                try:
                    child = _open_at(part, _DIR_FLAGS, fd)
                except StorageNotFound:
                    # O_NOFOLLOW | O_DIRECTORY on a link gives ENOTDIR on Linux: tell them apart.
                    try:
                        mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
                    except FileNotFoundError:
                        raise StorageNotFound(part) from None
                    if st.S_ISLNK(mode):
                        raise UnsafePath(
                            "a symbolic link inside the storage root was refused"
                        ) from None
                    if create:
                        raise UnsafePath("a file is in the way of that key") from None
                    raise
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _check_writable(self, key: str) -> None:
        """Refuse early a key whose folders or name are links, or clash with a file/folder."""
        *parents, name = key.split("/")
        fd = os.open(self.root, _ROOT_FLAGS)
        try:
            for part in parents:
                try:
                    child = _open_at(part, _DIR_FLAGS, fd)
                except StorageNotFound:
                    try:
                        os.stat(part, dir_fd=fd, follow_symlinks=False)
                    except FileNotFoundError:
                        return  # the rest gets created
                    raise UnsafePath("a file is in the way of that key") from None
                os.close(fd)
                fd = child
            self._refuse_existing(fd, name)
        finally:
            os.close(fd)

    @staticmethod
    def _refuse_existing(dir_fd: int, name: str) -> None:
        try:
            s = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if st.S_ISLNK(s.st_mode):
            raise UnsafePath("a symbolic link inside the storage root was refused")
        if not st.S_ISREG(s.st_mode):
            raise UnsafePath("something other than a file is in the way of that key")

    def _install(self, src_fd: int, tmp: str, key: str, content_type: str) -> None:
        """Rename the finished upload into place, sidecar first."""
        *parents, name = key.split("/")
        meta_tmp = tmp + ".meta"
        try:
            # Inside the try: a sidecar cut short by a full disk is removed like the rest.
            fd = _open_at(meta_tmp, _CREATE_FLAGS, src_fd)
            try:
                write_all(fd, json.dumps({"content_type": content_type}).encode())
            finally:
                os.close(fd)
            for attempt in range(3):
                dfd = self._open_dir(parents, create=True)
                try:
                    self._refuse_existing(dfd, name)
                    os.replace(meta_tmp, _meta_name(name), src_dir_fd=src_fd, dst_dir_fd=dfd)
                    os.replace(tmp, name, src_dir_fd=src_fd, dst_dir_fd=dfd)
                    return
                except FileNotFoundError:
                    # A concurrent delete pruned the (empty) folder under us: make it again.
                    if attempt == 2:
                        raise
                finally:
                    os.close(dfd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(meta_tmp, dir_fd=src_fd)

    def _content_type(self, dir_fd: int, name: str) -> str:
        meta: dict[str, Any] = {}
        try:
            fd = os.open(_meta_name(name), _READ_FLAGS, dir_fd=dir_fd)
        except OSError:
            return _guess_type(name)
        try:
            s = os.fstat(fd)
            if st.S_ISREG(s.st_mode) and s.st_size <= 4096:
                with contextlib.suppress(ValueError):
                    loaded = json.loads(_read_all(fd, s.st_size))
                    if isinstance(loaded, dict):
                        meta = loaded
        finally:
            os.close(fd)
        value = meta.get("content_type")
        return value if isinstance(value, str) and value else _guess_type(name)

    @staticmethod
    def _unlink_object(dir_fd: int, name: str) -> bool:
        """Remove an object and its sidecar; True if it was an object (a regular file).

        Links and other strangers are removed too (never their targets) but not counted.
        """
        removed = False
        try:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            if not st.S_ISDIR(mode):
                os.unlink(name, dir_fd=dir_fd)
                removed = st.S_ISREG(mode)
        except FileNotFoundError:
            pass
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_meta_name(name), dir_fd=dir_fd)
        return removed

    def _prune(self, parents: Sequence[str]) -> None:
        """Remove now-empty folders from the deepest of `parents` up (never the root)."""
        for depth in range(len(parents), 0, -1):
            try:
                dfd = self._open_dir(parents[: depth - 1])
            except StorageError:
                return
            try:
                os.rmdir(parents[depth - 1], dir_fd=dfd)
            except OSError:
                return
            finally:
                os.close(dfd)


def _is_segment(name: str) -> bool:
    try:
        validate_key(name)
    except StorageError:
        return False
    return "/" not in name
