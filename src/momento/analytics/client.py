"""Product analytics: business events captured to PostHog, feature flags read from it.

`Analytics` is what the rest of the server sees (`services.analytics`). `PostHogAnalytics`
wraps the official client (`posthog` 7.x, the v0 `/batch/` capture endpoint): `capture` only
puts the event on the client's in-memory queue, and the client's own background thread sends
batches (every `flush_at` events or `flush_interval` seconds, retrying network errors and 5xx).
So PostHog being slow, down or refusing the key never slows or fails a request: at worst
events are dropped and a warning logged. `flags` asks PostHog's /flags endpoint (v4, through the
library's request function) in a small thread pool, under a hard timeout, and answers `{}` on
any failure; answers are cached per user for `flags_ttl` seconds, failures are not.
`NoAnalytics` (no POSTHOG_API_KEY) captures nothing and has no flags.

Report an event only once it happened: call `capture` after the transaction that made it
committed. The event names and their properties are in `momento.analytics.events`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from posthog import Posthog
from posthog import request as posthog_request
from posthog.types import normalize_flags_response, to_values

from momento import logs

if TYPE_CHECKING:
    from momento.config import Settings

log = logs.get("momento.analytics")

FlagValue = bool | str
DistinctId = str | uuid.UUID


@runtime_checkable
class Analytics(Protocol):
    """Where the server reports what happened. No method raises; none waits on PostHog."""

    @property
    def configured(self) -> bool:
        """True when events really go somewhere."""
        ...

    def capture(
        self, distinct_id: DistinctId, event: str, properties: Mapping[str, Any] | None = None
    ) -> None:
        """Queue one event for `distinct_id` (a user id); returns at once."""
        ...

    async def flags(self, distinct_id: DistinctId) -> dict[str, FlagValue]:
        """The feature flags evaluated for `distinct_id`; `{}` when PostHog cannot say."""
        ...

    async def flush(self, wait: float = 10.0) -> None:
        """Send what is queued now, waiting at most `wait` seconds."""
        ...

    async def open(self) -> None: ...

    async def close(self) -> None:
        """Send what is queued (bounded wait) and stop the background sender."""
        ...


class NoAnalytics:
    """Analytics off (no POSTHOG_API_KEY): nothing is captured, no flags."""

    @property
    def configured(self) -> bool:
        return False

    def capture(
        self, distinct_id: DistinctId, event: str, properties: Mapping[str, Any] | None = None
    ) -> None:
        return None

    async def flags(self, distinct_id: DistinctId) -> dict[str, FlagValue]:
        return {}

    async def flush(self, wait: float = 10.0) -> None:
        return None

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None


class PostHogAnalytics:
    """The official PostHog client, kept off the event loop and the request path."""

    # Threads asking PostHog for flags: a hanging PostHog holds at most this many.
    FLAG_THREADS = 4
    # Users whose flags are cached at once; the cache starts over past this.
    FLAG_CACHE_SIZE = 10_000

    def __init__(
        self,
        api_key: str,
        host: str,
        *,
        flush_at: int = 100,
        flush_interval: float = 5.0,
        timeout: float = 5.0,
        flags_timeout: float = 1.0,
        flags_ttl: float = 60.0,
        max_retries: int = 3,
        max_queue_size: int = 10_000,
        close_timeout: float = 5.0,
    ) -> None:
        self.host = host
        self._api_key = api_key
        self.flags_timeout = flags_timeout
        self.flags_ttl = flags_ttl
        self.close_timeout = close_timeout
        self._flag_cache: dict[str, tuple[float, dict[str, FlagValue]]] = {}
        self._flag_pool = ThreadPoolExecutor(self.FLAG_THREADS, thread_name_prefix="posthog-flags")
        self._closed = False
        self._client = Posthog(
            api_key,
            host=host,
            sync_mode=False,
            flush_at=flush_at,
            flush_interval=flush_interval,
            timeout=timeout,
            max_retries=max_retries,
            max_queue_size=max_queue_size,
            on_error=self._on_error,
            # The v0 batch endpoint (POST /batch/), whatever POSTHOG_CAPTURE_MODE says.
            capture_mode="v0",
            # No person profiles from the server's IP address.
            disable_geoip=True,
            enable_exception_autocapture=False,
        )

    @property
    def configured(self) -> bool:
        return True

    @staticmethod
    def _on_error(exc: Exception, batch: list[dict[str, Any]]) -> None:
        # Runs in the client's sender thread once retries are spent: the batch is dropped.
        log.warning(
            "analytics batch not delivered",
            error=type(exc).__name__,
            status=getattr(exc, "status", None),
            events=len(batch),
        )

    def capture(
        self, distinct_id: DistinctId, event: str, properties: Mapping[str, Any] | None = None
    ) -> None:
        if self._closed:
            return
        try:
            queued = self._client.capture(
                event, distinct_id=str(distinct_id), properties=dict(properties or {})
            )
        except Exception:  # the client does not raise outside debug mode; never let it
            log.warning("analytics capture failed", event_name=event, exc_info=True)
            return
        if queued is None:
            log.warning("analytics event dropped", event_name=event)

    async def flags(self, distinct_id: DistinctId) -> dict[str, FlagValue]:
        key = str(distinct_id)
        now = time.monotonic()
        cached = self._flag_cache.get(key)
        if cached is not None and cached[0] > now:
            return dict(cached[1])
        if self._closed:
            return {}
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._flag_pool, self._fetch_flags, key)
            flags = await asyncio.wait_for(future, self.flags_timeout)
        except Exception as exc:
            log.warning("feature flags unavailable", error=type(exc).__name__)
            return {}
        if self.flags_ttl > 0:
            if len(self._flag_cache) >= self.FLAG_CACHE_SIZE:
                self._flag_cache.clear()
            self._flag_cache[key] = (now + self.flags_ttl, flags)
        return dict(flags)

    def _fetch_flags(self, distinct_id: str) -> dict[str, FlagValue]:
        # The library's /flags request itself, not `Posthog.get_all_flags`: that one logs a
        # failure and answers {} as if there were no flags, which must not be cached.
        response = posthog_request.flags(
            self._api_key,
            self.host,
            timeout=self.flags_timeout,
            max_retries=0,
            distinct_id=distinct_id,
            groups={},
            person_properties={"distinct_id": distinct_id},
            group_properties={},
            geoip_disable=True,
        )
        values = to_values(normalize_flags_response(response)) or {}
        return {str(k): v for k, v in values.items() if isinstance(v, bool | str)}

    async def flush(self, wait: float = 10.0) -> None:
        await _in_thread(lambda: self._client.flush(timeout_seconds=wait), wait + 1)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        """Deliver what is queued, waiting `close_timeout` at most; then stop the sender.

        A PostHog that is down keeps the sender retrying: the wait is bounded, and the client's
        threads are daemons, so a shutdown never hangs on it.
        """
        if self._closed:
            return
        self._closed = True
        self._flag_pool.shutdown(wait=False, cancel_futures=True)
        budget = self.close_timeout

        def finish() -> None:
            self._client.flush(timeout_seconds=budget)
            self._client.shutdown()

        if not await _in_thread(finish, budget + min(budget, 1.0)):
            log.warning("analytics not flushed in time; queued events may be lost")


async def _in_thread(work: Callable[[], object], wait: float) -> bool:
    """Run blocking `work` in a daemon thread, waiting at most `wait` seconds for it.

    Not the loop's executor: a thread left behind there would hold up the loop's shutdown.
    Returns False when the wait ran out (the thread goes on and dies with the process).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finished() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            work()
        except Exception:
            log.warning("analytics background work failed", exc_info=True)
        finally:
            try:
                loop.call_soon_threadsafe(finished)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

    threading.Thread(target=run, name="posthog-flush", daemon=True).start()
    try:
        await asyncio.wait_for(asyncio.shield(done), wait)
    except TimeoutError:
        return False
    return True


def from_settings(settings: Settings) -> Analytics:
    """PostHog when POSTHOG_API_KEY is set, else nothing."""
    if not settings.posthog_api_key:
        return NoAnalytics()
    return PostHogAnalytics(
        settings.posthog_api_key,
        settings.posthog_host,
        flush_at=settings.posthog_flush_at,
        flush_interval=settings.posthog_flush_interval,
        timeout=settings.posthog_timeout,
        flags_timeout=settings.posthog_flags_timeout,
        flags_ttl=settings.posthog_flags_ttl,
    )
