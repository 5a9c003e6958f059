"""A full disk, for real: the local storage root on a 4 MB tmpfs, filled to the last page.

Uploads then answer 507 with Retry-After, what was stored before is intact (same bytes, same
content types), no temporary file is left behind, and once space is freed the same upload
works. The mount needs root; if it fails the test fails (never skips).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from momento.storage import FileUrlSigner, LocalDiskStorage, StorageFull
from tests.storage.disks import fill, tmpfs
from tests.storage.helpers import BASE_URL, SECRET, assert_retry_later, files_app, http_client, tree

KB = 1024


async def test_a_full_disk_answers_507_keeps_what_is_stored_and_recovers(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "4m") as disk:
        storage = LocalDiskStorage(disk / "files", FileUrlSigner(SECRET, BASE_URL))
        await storage.open()
        async with http_client(files_app(storage, max_body_bytes=KB)) as client:

            async def upload(key: str, body: bytes) -> int:
                target = storage.signed_put(key, "image/jpeg", max_bytes=len(body))
                r = await client.put(target.url, headers=target.headers, content=body)
                if r.status_code != 200:
                    assert_retry_later(r, 507, "insufficient_storage")
                return r.status_code

            kept = {f"events/e/p{i}/original": os.urandom(300 * KB + i) for i in range(3)}
            for key, body in kept.items():
                assert await upload(key, body) == 200
            filler = disk / "filler"  # beside the root: the disk, not the storage, is full
            assert fill(filler) > 2 * 1024 * KB
            before = tree(storage.root)

            new = os.urandom(200 * KB)
            assert await upload("events/e/p9/upload", new) == 507
            # Replacing a stored object: refused, and the old bytes stay.
            assert await upload("events/e/p0/original", os.urandom(200 * KB)) == 507
            assert await upload("events/e/p1/original", b"tiny") == 507
            with pytest.raises(StorageFull) as info:
                await storage.put("events/e/p2/original", os.urandom(100 * KB), "image/png")
            assert isinstance(info.value.__cause__, OSError)

            assert tree(storage.root) == before  # no half file, no temporary file
            assert os.listdir(storage.root / ".incoming") == []
            for key, body in kept.items():
                assert await storage.read(key) == body
                info_ = await storage.stat(key)
                assert info_ is not None
                assert info_.content_type == "image/jpeg"
                r = await client.get(storage.signed_get_url(key))
                assert (r.status_code, r.content) == (200, body)

            filler.unlink()
            assert await upload("events/e/p9/upload", new) == 200
            assert await storage.read("events/e/p9/upload") == new
            assert await upload("events/e/p0/original", b"replaced") == 200
            assert await storage.read("events/e/p0/original") == b"replaced"
            assert os.listdir(storage.root / ".incoming") == []
