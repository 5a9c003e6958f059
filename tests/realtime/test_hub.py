"""The hub keeps open streams' objects out of the collector's sight as they accumulate, and
collects what closed streams left once they have halved."""

from __future__ import annotations

import gc
import uuid

from momento.realtime.hub import FREEZE_STEP, Hub, Subscriber


async def test_open_streams_are_frozen_as_they_accumulate_and_collected_once_halved() -> None:
    hub = Hub()
    event = uuid.uuid4()
    subs = [Subscriber(uuid.uuid4(), None, event, 2e9, 8) for _ in range(FREEZE_STEP + 10)]
    try:
        for sub in subs[: FREEZE_STEP - 1]:
            hub.add(sub, None)
        assert hub.frozen_at == 0
        hub.add(subs[FREEZE_STEP - 1], None)
        assert hub.frozen_at == FREEZE_STEP
        assert gc.get_freeze_count() > 0
        for sub in subs[FREEZE_STEP:]:
            hub.add(sub, None)
        assert hub.frozen_at == FREEZE_STEP  # not before a quarter more

        # Closed streams' cycles are garbage the frozen generation would keep: collected once
        # the streams have halved.
        class Cycle:
            me: object = None

        leftover = Cycle()
        leftover.me = leftover
        gc.freeze()
        del leftover
        remaining = FREEZE_STEP // 2 - 1  # under half of those open at the last freeze
        for sub in subs[: len(subs) - remaining - 1]:
            hub.remove(sub)
        assert hub.frozen_at == FREEZE_STEP  # not yet halved
        hub.remove(subs[len(subs) - remaining - 1])
        assert hub.frozen_at == remaining
        assert not any(isinstance(o, Cycle) for o in gc.get_objects())
        assert hub.open_streams == hub.frozen_at
    finally:
        for sub in subs:
            hub.remove(sub)
        gc.unfreeze()
