"""`momento legacy import --files`: the photos' files from the old bucket (S3, as Supabase
Storage speaks it: the moto server here), their variants and blurhash, resumably."""

from __future__ import annotations

import dataclasses

from botocore.client import BaseClient

from momento.legacy import files, importer, verify
from momento.photos.service import DISPLAY, ORIGINAL, THUMB
from momento.services import Services
from tests.legacy.test_import import E1, rows
from tests.photos.images import plain_jpeg
from tests.storage.helpers import AWS, make_bucket

P1 = "f0000000-0000-0000-0000-000000000001"
P6 = "f0000000-0000-0000-0000-000000000006"


def with_old_bucket_keys(services: Services) -> Services:
    settings = services.settings.model_copy(
        update={
            "legacy_s3_access_key_id": AWS["aws_access_key_id"],
            "legacy_s3_secret_access_key": AWS["aws_secret_access_key"],
        }
    )
    return dataclasses.replace(services, settings=settings)


async def test_files_are_copied_with_variants_and_resume(
    services: Services, old_db: str, moto_endpoint: str, s3_admin: BaseClient
) -> None:
    bucket = make_bucket(s3_admin)
    url = f"s3://{bucket}?endpoint={moto_endpoint}&region=us-east-1"
    sources = await rows(services, "SELECT 1")  # the database is up
    assert sources
    await importer.run(services, old_db)
    paths = {
        str(r["photo_id"]): r["source_path"]
        for r in await rows(services, "SELECT photo_id, source_path FROM momento.legacy_files")
    }
    # Every photo's file is in the old bucket but photo 6's (it never finished uploading).
    for photo_id, path in paths.items():
        if photo_id != P6:
            s3_admin.put_object(Bucket=bucket, Key=path, Body=plain_jpeg(64, 48))  # type: ignore[attr-defined]

    svc = with_old_bucket_keys(services)
    old = files.old_bucket(svc.settings, url)
    await old.open()
    try:
        seen: list[int] = []
        first = await files.copy_all(svc, old, seen.append)
        assert (first.copied, first.failed) == (5, 1)
        assert sum(seen) == 6

        stored = f"events/{E1}/{P1}"
        for name in (ORIGINAL, DISPLAY, THUMB):
            assert await services.storage.read(f"{stored}/{name}")
        photo = (
            await rows(
                services, "SELECT width, height, blurhash FROM public.photos WHERE id = %s", P1
            )
        )[0]
        assert (photo["width"], photo["height"]) == (64, 48)
        assert photo["blurhash"]

        checked = await verify.verify(services, old_db, files=True)
        assert [d.what for d in checked.differences] == ["photo files missing or unreadable here"]
        assert checked.differences[0].examples == [P6]

        # The missing file arrives; the next run copies it (and only it).
        s3_admin.put_object(Bucket=bucket, Key=paths[P6], Body=plain_jpeg(32, 32))  # type: ignore[attr-defined]
        second = await files.copy_all(svc, old)
        assert (second.copied, second.failed) == (1, 0)
        assert await files.left(services) == 0
    finally:
        await old.close()
    checked = await verify.verify(services, old_db, files=True)
    assert checked.ok, checked.render()
    assert checked.counts["files"] == (6, 6)
