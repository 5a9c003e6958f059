"""A purge that meets S3 cut off keeps its `momento.file_purges` records, and a later run
finishes it. S3 is moto behind a TCP proxy that the test cuts (moto keeps its objects)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from momento.cleanup import service
from momento.services import Services
from momento.storage import StorageDown
from tests.cleanup.helpers import photos_with_files, purge_records, stored
from tests.factories import DAY, create_user, make_event, sql
from tests.fakes.tcp_proxy import TcpProxy
from tests.storage.helpers import fast_s3, make_bucket


async def test_a_purge_with_s3_cut_off_is_finished_by_a_later_run(
    services: Services, moto_endpoint: str, s3_admin: Any
) -> None:
    with TcpProxy.to_url(moto_endpoint) as proxy:
        storage = fast_s3(proxy.url, make_bucket(s3_admin))
        await storage.open()
        try:
            svc = dataclasses.replace(services, storage=storage)
            ana = await create_user(svc, "ana")
            event = await make_event(svc, ana, release_in=-10 * DAY, deleted=True)
            files = await photos_with_files(svc, event, ana, 2)
            assert len(await stored(svc)) == 6

            proxy.cut()
            with pytest.raises(StorageDown):
                await service.purge_event(svc, event)
            # The rows are gone, their files recorded for removal: the records stay.
            assert await sql(svc, "SELECT id FROM public.events WHERE id = %s", event) == []
            expected = {f"events/{event}/{photo}/" for photo in files} | {f"events/{event}/"}
            assert await purge_records(svc) == expected
            with pytest.raises(StorageDown):  # the queued job's retry, still cut off
                await service.drain_file_purges(svc)
            assert await purge_records(svc) == expected

            proxy.restore()
            assert len(await stored(svc)) == 6  # nothing was lost meanwhile
            result = await service.drain_file_purges(svc)
            assert (result.prefixes, result.files) == (3, 6)
            assert await purge_records(svc) == set()
            assert await stored(svc) == set()
        finally:
            await storage.close()
