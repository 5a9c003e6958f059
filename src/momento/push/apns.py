"""APNs provider API sender (HTTP/2, token authentication) and a console sender for embedded mode.

`ApnsSender` keeps `ApnsConfig.connections` long-lived HTTP/2 connections (TLS, ALPN h2; every
request is a stream multiplexed on one of them, so there is no handshake per notification;
a connection that APNs closes is re-made on next use) and bounds the requests in flight with a
semaphore (`concurrency`, spread over the connections, within the server's stream limit). The
HTTP/2 client is a small one on the `h2` state machine: httpx's costs about 0.8 ms of CPU per
request, and the push job needs 10,000 notifications in 2 s.

One provider token (an ES256 JWT made from the team's .p8 key) is shared by every request and
re-minted after `token_refresh_after` seconds (50 min; Apple rejects tokens older than 1 h and
refuses a new token on a connection more often than every 20 min) or at once when APNs answers
403 ExpiredProviderToken / InvalidProviderToken (then the request is retried once with the new
token; a burst of such answers makes one new token).

Each notification ends in one `SendResult.outcome`:

* ``delivered`` — 200;
* ``invalid_token`` — 410 Unregistered/ExpiredToken, 400 BadDeviceToken/DeviceTokenNotForTopic
  (or a token that is not hex): the caller clears that device token;
* ``failed`` — any other 4xx (our bug: bad topic, collapse id, payload...), recorded, not
  retried; payloads over 4096 bytes are refused before sending;
* ``retry_exhausted`` — 429 / 5xx / a transport error still there after `max_retries` retries
  with exponential backoff and jitter.

The .p8 key and the JWT never reach a log line; device tokens are logged truncated.

Starting never waits for APNs: `start()` connects in a background task that retries with
capped exponential backoff and jitter, and `health()` tells what the channel is doing
(``connecting``, ``connected``, ``unavailable`` after a failed attempt). `ready()` is what a push
job asks before it claims anything: it raises `PushUnavailable` when no connection is up and a
new one cannot be made, so the job waits in the queue instead of spending its notifications.
A configuration that cannot work (a key that is not a P-256 .p8, a URL that is not https) makes
a `MisconfiguredSender` (state ``misconfigured``) instead of an exception when the app is built.

The transport is typed by what is used of it (`_Transport`), not as `asyncio.Transport`: under
uvloop (uvicorn's default loop) the TLS transport is uvloop's own class.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack
import jwt
import orjson
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from momento import logs
from momento.kit.backoff import doubling, jittered, log_retry
from momento.kit.tasks import cancel_and_wait

log = logs.get("momento.push")

PRODUCTION_URL = "https://api.push.apple.com"
SANDBOX_URL = "https://api.sandbox.push.apple.com"
MAX_PAYLOAD = 4096
MAX_COLLAPSE_ID = 64

PushType = Literal["alert", "background"]
Outcome = Literal["delivered", "invalid_token", "failed", "retry_exhausted"]
# What `health()` reports as {"push": state}.
PushState = Literal["console", "connecting", "connected", "unavailable", "misconfigured"]

INVALID_TOKEN_REASONS = frozenset(
    {"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered", "ExpiredToken"}
)
PROVIDER_TOKEN_REASONS = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})

_HEX = re.compile(r"[0-9a-fA-F]+")


class PayloadError(ValueError):
    """The notification cannot be sent as it is (too large, inconsistent fields)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def short_token(device_token: str) -> str:
    """What a log line may show of a device token."""
    return device_token[:8] + "…" if len(device_token) > 8 else device_token


# --- notification ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """One push to one device. `data` holds custom keys, sent beside `aps` (never inside)."""

    device_token: str
    title: str = ""
    body: str = ""
    subtitle: str | None = None
    badge: int | None = None
    sound: str | None = None
    thread_id: str | None = None
    collapse_id: str | None = None
    push_type: PushType = "alert"
    priority: Literal[10, 5] = 10
    expiration: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    apns_id: str | None = None

    def payload(self) -> bytes:
        """The JSON body; raises PayloadError when APNs would refuse it."""
        aps: dict[str, Any] = {}
        if self.push_type == "alert":
            if not (self.title or self.body):
                raise PayloadError("PayloadEmpty", "an alert needs a title or a body")
            alert: dict[str, str] = {}
            if self.title:
                alert["title"] = self.title
            if self.subtitle:
                alert["subtitle"] = self.subtitle
            if self.body:
                alert["body"] = self.body
            aps["alert"] = alert
            if self.sound is not None:
                aps["sound"] = self.sound
            if self.badge is not None:
                aps["badge"] = self.badge
        elif self.push_type == "background":
            if self.title or self.body or self.subtitle or self.sound or self.badge is not None:
                raise PayloadError(
                    "InvalidPushType", "a background push carries no alert, sound or badge"
                )
            if self.priority != 5:
                raise PayloadError("BadPriority", "a background push must have priority 5")
            aps["content-available"] = 1
        else:
            raise PayloadError("InvalidPushType", f"unknown push type {self.push_type!r}")
        if self.priority not in (10, 5):
            raise PayloadError("BadPriority", f"priority {self.priority!r} is not 10 or 5")
        if self.thread_id is not None:
            aps["thread-id"] = self.thread_id
        if self.collapse_id is not None and len(self.collapse_id.encode()) > MAX_COLLAPSE_ID:
            raise PayloadError("BadCollapseId", f"collapse id over {MAX_COLLAPSE_ID} bytes")
        if "aps" in self.data:
            raise PayloadError("BadPayload", "custom data cannot use the key 'aps'")
        body = orjson.dumps({"aps": aps, **self.data})
        if len(body) > MAX_PAYLOAD:
            raise PayloadError(
                "PayloadTooLarge", f"payload is {len(body)} bytes, over {MAX_PAYLOAD}"
            )
        return body

    def headers(self, topic: str) -> list[tuple[str, str]]:
        """The apns-* headers (authorization is added per request)."""
        headers = [
            ("apns-topic", topic),
            ("apns-push-type", self.push_type),
            ("apns-priority", str(self.priority)),
        ]
        if self.expiration is not None:
            headers.append(("apns-expiration", str(self.expiration)))
        if self.collapse_id is not None:
            headers.append(("apns-collapse-id", self.collapse_id))
        if self.apns_id is not None:
            headers.append(("apns-id", self.apns_id))
        return headers


@dataclass(frozen=True, slots=True)
class SendResult:
    device_token: str
    status: int | None  # HTTP status; None when nothing was answered (refused before, network)
    reason: str | None  # APNs' reason, or our own for a refusal before sending
    apns_id: str | None
    outcome: Outcome
    timestamp: int | None = None  # 410: ms since epoch the token was last known valid
    attempts: int = 0  # requests made

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


class PushUnavailable(Exception):
    """The push channel cannot be used now: APNs unreachable, or the sender misconfigured."""

    def __init__(self, state: PushState, error: str) -> None:
        super().__init__(f"push {state}: {error}")
        self.state = state
        self.error = error


class Sender(Protocol):
    async def open(self) -> None: ...

    async def start(self) -> None:
        """Gets ready without waiting for the network (connecting, if any, in the background)."""
        ...

    async def close(self) -> None: ...

    async def ready(self) -> None:
        """Returns when notifications can be sent now; raises PushUnavailable otherwise."""
        ...

    def health(self) -> dict[str, str]:
        """{"push": state} (and "push_error" when unavailable or misconfigured)."""
        ...

    async def send(self, notification: Notification) -> SendResult: ...

    async def send_many(self, notifications: Iterable[Notification]) -> list[SendResult]: ...


# --- configuration and provider token ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApnsConfig:
    key_pem: str = field(repr=False)  # the .p8 file's text (PKCS#8 P-256), never a path
    key_id: str
    team_id: str
    topic: str  # the app's bundle id
    use_sandbox: bool = False
    base_url: str | None = None  # APNS_URL-style override (tests: the fake on 127.0.0.1)
    ssl_context: ssl.SSLContext | None = None  # None: the system's trust store; ALPN set on it
    connections: int = 2  # HTTP/2 connections; requests round-robin over them
    concurrency: int = 1000  # requests in flight at most, over all connections
    max_retries: int = 3  # for 429 / 5xx / transport errors
    backoff_base: float = 1.0  # seconds; attempt n waits about base * 2**n (with jitter)
    backoff_max: float = 60.0
    timeout: float = 10.0
    # The background connection after `start()`: the waits between failed attempts.
    connect_backoff_base: float = 1.0
    connect_backoff_max: float = 60.0
    token_refresh_after: float = 50 * 60
    token_min_interval: float = 20 * 60

    @property
    def url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return SANDBOX_URL if self.use_sandbox else PRODUCTION_URL


class ProviderToken:
    """The shared ES256 JWT: minted once, reused until it is `refresh_after` seconds old.

    A scheduled refresh never happens within `min_interval` of the previous one (Apple answers
    TooManyProviderTokenUpdates to token churn); `refresh(stale)` after ExpiredProviderToken
    mints at once, but only if `stale` is still the current token, so a burst of rejected
    requests causes a single new token.
    """

    def __init__(
        self,
        key_pem: str,
        key_id: str,
        team_id: str,
        *,
        refresh_after: float = 50 * 60,
        min_interval: float = 20 * 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            key = load_pem_private_key(key_pem.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            # cryptography's messages say nothing of the key's text, but ours is the one shown
            # by health(): a fixed sentence, whatever was pasted into APNS_KEY.
            raise ValueError("the APNs key is not a PEM (.p8) private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the APNs key must be an EC P-256 (.p8) private key")
        self._key = key
        self._key_id = key_id
        self._team_id = team_id
        self._refresh_after = max(refresh_after, min_interval)
        self._clock = clock
        self._token: str | None = None
        self._issued_at = 0.0
        self.minted = 0

    def _mint(self) -> str:
        now = self._clock()
        self._token = jwt.encode(
            {"iss": self._team_id, "iat": int(now)},
            self._key,
            algorithm="ES256",
            headers={"kid": self._key_id},
        )
        self._issued_at = now
        self.minted += 1
        log.info("apns provider token minted", kid=self._key_id, iat=int(now), count=self.minted)
        return self._token

    def get(self) -> str:
        if self._token is None or self._clock() - self._issued_at >= self._refresh_after:
            return self._mint()
        return self._token

    def refresh(self, stale: str) -> str:
        """A new token after APNs rejected `stale` (unless another request already did it)."""
        if self._token is None or self._token == stale:
            return self._mint()
        return self._token


# --- HTTP/2 client ---------------------------------------------------------------------------
#
# A lean client on the `h2` state machine: every request is a stream on a long-lived TLS
# connection, the frames of all the requests made in one event-loop turn go out in one write,
# the server's stream limit and flow-control windows are respected. About 0.1 ms of CPU per
# request; httpx's HTTP/2 path measured 0.8 ms (and worse with many streams in flight).


class ConnectionLost(Exception):
    """The connection went away (or refused new streams) before the answer came: retryable."""


_CLIENT_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding="utf-8",
    validate_outbound_headers=False,  # we build the headers ourselves, lowercase
    # Off: h2 would otherwise mark `authorization` never-indexed, re-sending (and Huffman-coding)
    # the whole JWT on every request. HPACK only matches whole values, so indexing a signed
    # 150-byte token gives an attacker nothing to probe.
    normalize_outbound_headers=False,
    validate_inbound_headers=False,
)


class _PlainEncoder(hpack.Encoder):
    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        return super().encode(headers, huffman=False)


class _H2(h2.connection.H2Connection):
    """h2's client connection with two costs taken out of each request.

    * h2 counts the open streams by walking all of them every time one opens: O(n) per request
      with hundreds in flight. `_Connection` knows the count and retires each stream as it ends.
    * Header values go out without Huffman coding: CPU saved for a few bytes on the wire.
    """

    def __init__(self) -> None:
        super().__init__(config=_CLIENT_CONFIG)
        self.encoder = _PlainEncoder()
        self.active = 0

    @property
    def open_outbound_streams(self) -> int:
        return self.active

    def retire(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is not None:
            self._closed_streams[stream_id] = stream.closed_by


class _Transport(Protocol):
    """What `_Connection` uses of its transport. asyncio's SSL transport and uvloop's both
    have it; neither is an instance of the other's class."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


@dataclass(slots=True)
class _Stream:
    future: asyncio.Future[tuple[int, dict[str, str], bytes]]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection; `request()` may be awaited by many tasks at once."""

    def __init__(self, authority: str, max_streams: int) -> None:
        self.authority = authority
        self.max_streams = max_streams
        self.h2 = _H2()
        self.transport: _Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.closed = False  # no new streams (GOAWAY received, lost, or closed by us)
        self.goaway: str | None = None
        self._loop = asyncio.get_running_loop()
        self._settled: asyncio.Future[None] = self._loop.create_future()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._blocked: dict[int, bytes] = {}  # body bytes waiting for flow-control window
        self._flush_scheduled = False

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext,
        max_streams: int,
    ) -> _Connection:
        authority = host if port == 443 else f"{host}:{port}"
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            lambda: cls(authority, max_streams), host, port, ssl=ssl_context
        )
        await protocol._settled  # the server's SETTINGS: its stream limit and windows
        return protocol

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport made by create_connection (asyncio's or uvloop's): typed by use.
        stream_transport = cast(_Transport, transport)
        self.transport = stream_transport
        ssl_object = stream_transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        if alpn != "h2":
            self._fail(ConnectionLost(f"the server did not agree to HTTP/2 (ALPN {alpn!r})"))
            stream_transport.close()
            return
        self.h2.initiate_connection()
        self.h2.update_settings(
            {
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
            }
        )
        self.h2.increment_flow_control_window((1 << 24) - 65535)
        stream_transport.write(self.h2.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(ConnectionLost(self.goaway or f"connection lost: {exc or 'closed'}"))

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            self._fail(ConnectionLost(f"HTTP/2 protocol error: {e}"))
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.ResponseReceived):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.headers.update(event.headers)  # type: ignore[arg-type]  # str: utf-8
                    stream.status = int(stream.headers.get(":status", 0))
            elif isinstance(event, h2.events.DataReceived):
                stream = self.streams.get(event.stream_id)
                if stream is not None and event.data:
                    stream.body += event.data
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                stream = self._end(event.stream_id)
                if stream is not None and not stream.future.done():
                    stream.future.set_result((stream.status, stream.headers, bytes(stream.body)))
            elif isinstance(event, h2.events.StreamReset):
                stream = self._end(event.stream_id)
                if stream is not None and not stream.future.done():
                    stream.future.set_exception(
                        ConnectionLost(f"stream reset by the server ({event.error_code!r})")
                    )
            elif isinstance(event, h2.events.WindowUpdated):
                self._pump_blocked()
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                if not self._settled.done():
                    self._settled.set_result(None)
                self._wake(all_free=True)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self._on_goaway(event)
        self._flush()

    # requests

    def _limit(self) -> int:
        return min(self.max_streams, self.h2.remote_settings.max_concurrent_streams)

    async def request(
        self, headers: Sequence[tuple[Any, Any]], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request; the caller bounds the wait (a cancelled request resets its stream)."""
        while len(self.streams) >= self._limit() and not self.closed:
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                self._wake()  # pass our turn on
                raise
        if self.closed or self.transport is None:
            raise ConnectionLost(self.goaway or "connection closed")
        stream_id = self.h2.get_next_available_stream_id()
        stream = _Stream(self._loop.create_future())
        try:
            self.h2.send_headers(stream_id, headers, end_stream=not body)
        except h2.exceptions.ProtocolError as e:  # e.g. stream ids used up: a new connection
            self.closed = True
            raise ConnectionLost(f"no new stream on this connection: {e!r}") from e
        self.streams[stream_id] = stream
        self.h2.active = len(self.streams)
        if body:
            self._send_body(stream_id, body)
        self._schedule_flush()
        try:
            return await stream.future
        finally:
            if stream_id in self.streams:  # timed out or cancelled
                with contextlib.suppress(h2.exceptions.ProtocolError):
                    self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
                self._end(stream_id)
                self._schedule_flush()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.close_connection()
                self.transport.write(self.h2.data_to_send())
            self.transport.close()

    # internals

    def _end(self, stream_id: int) -> _Stream | None:
        """The stream is over: forget it, let a waiting request have its slot."""
        stream = self.streams.pop(stream_id, None)
        if self._blocked.pop(stream_id, None) is not None:  # answered before our body went out
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        self.h2.retire(stream_id)
        self.h2.active = len(self.streams)
        self._wake()
        if self.closed and not self.streams and self.transport is not None:
            self.transport.close()  # after GOAWAY, once the last stream is answered
        return stream

    def _send_body(self, stream_id: int, body: bytes) -> None:
        while body:
            size = min(
                len(body),
                self.h2.local_flow_control_window(stream_id),
                self.h2.max_outbound_frame_size,
            )
            if size <= 0:
                self._blocked[stream_id] = body
                return
            self.h2.send_data(stream_id, body[:size], end_stream=size == len(body))
            body = body[size:]

    def _pump_blocked(self) -> None:
        for stream_id, body in list(self._blocked.items()):
            del self._blocked[stream_id]
            with contextlib.suppress(h2.exceptions.StreamClosedError):
                self._send_body(stream_id, body)

    def _wake(self, all_free: bool = False) -> None:
        free = 1 << 30 if self.closed else self._limit() - len(self.streams)
        if not all_free:
            free = min(free, 1)
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        self.closed = True
        reason = None
        if event.additional_data:
            with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                reason = orjson.loads(event.additional_data).get("reason")
        self.goaway = f"GOAWAY {reason or event.error_code!r}"
        last = event.last_stream_id or 0
        for stream_id in [s for s in self.streams if s > last]:
            stream = self._end(stream_id)
            if stream is not None and not stream.future.done():
                stream.future.set_exception(ConnectionLost(self.goaway))
        self._wake()
        if not self.streams and self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception) -> None:
        self.closed = True
        streams, self.streams = self.streams, {}
        self.h2.active = 0
        for stream in streams.values():
            if not stream.future.done():
                stream.future.set_exception(error)
        if not self._settled.done():
            self._settled.set_exception(error)
        self._wake()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.transport is not None:
            out = self.h2.data_to_send()
            if out:
                self.transport.write(out)


# --- senders --------------------------------------------------------------------------------


def _describe(error: BaseException, config: ApnsConfig) -> str:
    """A connection failure in a few words for health() and the logs: the exception's type
    and message (network and TLS errors carry no secret), bounded in length."""
    if isinstance(error, TimeoutError):
        return f"TimeoutError: no connection to {config.url} within {config.timeout} s"
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _reason(body: bytes) -> tuple[str | None, int | None]:
    if not body:
        return None, None
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(answer, dict):
        return None, None
    reason = answer.get("reason")
    timestamp = answer.get("timestamp")
    return (
        reason if isinstance(reason, str) else None,
        timestamp if isinstance(timestamp, int) else None,
    )


class ApnsSender:
    """Sends over the APNs provider API; `async with ApnsSender(config) as s: await s.send(n)`."""

    def __init__(
        self,
        config: ApnsConfig,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if config.connections < 1 or config.concurrency < 1:
            raise ValueError("connections and concurrency must be at least 1")
        url = urlsplit(config.url)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(f"APNs URL must be https://host[:port], not {config.url!r}")
        self.config = config
        self._host = url.hostname
        self._port = url.port or 443
        self.token = ProviderToken(
            config.key_pem,
            config.key_id,
            config.team_id,
            refresh_after=config.token_refresh_after,
            min_interval=config.token_min_interval,
            clock=clock,
        )
        self._sleep = sleep
        self._ssl: ssl.SSLContext | None = None
        self._connections: list[_Connection | None] = []
        self._connect_locks: list[asyncio.Lock] = []
        self._next = 0
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._opened = False
        self._connector: asyncio.Task[None] | None = None  # start()'s background connection
        self.state: PushState = "connecting"
        self.error: str | None = None  # the last connection attempt's failure, without secrets
        self.connect_failures = 0  # failed connection attempts so far
        self.connects = 0  # connections made so far
        self.in_flight = 0
        self.max_in_flight = 0

    async def open(self, *, connect: bool = True) -> None:
        """Gets ready; with `connect`, makes every connection now (raising what fails),
        otherwise each connects on first use."""
        cfg = self.config
        if not self._opened:
            ctx = cfg.ssl_context or ssl.create_default_context()
            ctx.set_alpn_protocols(["h2"])
            self._ssl = ctx
            self._connections = [None] * cfg.connections
            self._connect_locks = [asyncio.Lock() for _ in range(cfg.connections)]
            self._opened = True
            log.info("apns sender open", url=cfg.url, topic=cfg.topic, connections=cfg.connections)
        if connect:
            await asyncio.gather(*(self._connection(i) for i in range(cfg.connections)))

    async def start(self) -> None:
        """Gets ready and connects in the background: a process start never waits for APNs
        (unreachable, slow, refusing our TLS) nor fails because of it."""
        await self.open(connect=False)
        if self._connector is None or self._connector.done():
            self._connector = asyncio.create_task(self._keep_connecting(), name="apns-connect")

    async def _keep_connecting(self) -> None:
        """Makes every connection, retrying with capped exponential backoff and jitter
        (`connect_backoff_base` doubling up to `connect_backoff_max`) until they are all up;
        the first failure is a warning, the next ones are only debug lines."""
        cfg = self.config
        attempt = 0
        while True:
            outcomes = await asyncio.gather(
                *(self._connection(i) for i in range(cfg.connections)), return_exceptions=True
            )
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            for failure in failures:
                if not isinstance(failure, Exception):  # cancelled: close() is stopping us
                    raise failure
            if not failures:
                log.info("apns ready", url=cfg.url, connections=cfg.connections)
                return
            delay = jittered(doubling(attempt, cfg.connect_backoff_base, cfg.connect_backoff_max))
            attempt += 1
            log_retry(
                log,
                attempt,
                delay,
                "apns not reachable; connecting in the background",
                "apns still not reachable",
                url=cfg.url,
                error=self.error,
            )
            await asyncio.sleep(delay)

    async def ready(self) -> None:
        """Returns when a connection is up or could be made now; raises PushUnavailable."""
        if not self._opened:
            await self.open(connect=False)
        if any(c is not None and not c.closed for c in self._connections):
            return
        try:
            await self._connection(self._next)
        except (ConnectionLost, OSError, TimeoutError, h2.exceptions.ProtocolError) as e:
            raise PushUnavailable("unavailable", self.error or _describe(e, self.config)) from e

    def health(self) -> dict[str, str]:
        answer = {"push": str(self.state)}
        if self.state == "unavailable" and self.error:
            answer["push_error"] = self.error
        return answer

    async def close(self) -> None:
        connector, self._connector = self._connector, None
        await cancel_and_wait(connector)
        connections, self._connections = self._connections, []
        self._opened = False
        for connection in connections:
            if connection is not None:
                connection.close()

    async def __aenter__(self) -> ApnsSender:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _connection(self, i: int) -> _Connection:
        connection = self._connections[i]
        if connection is not None and not connection.closed:
            return connection
        async with self._connect_locks[i]:
            connection = self._connections[i]
            if connection is None or connection.closed:
                assert self._ssl is not None
                cfg = self.config
                per_connection = -(-cfg.concurrency // cfg.connections)
                try:
                    async with asyncio.timeout(cfg.timeout):
                        connection = await _Connection.connect(
                            self._host, self._port, self._ssl, per_connection
                        )
                except Exception as e:
                    self.state = "unavailable"
                    self.error = _describe(e, cfg)
                    self.connect_failures += 1
                    raise
                self._connections[i] = connection
                self.state = "connected"
                self.error = None
                self.connects += 1
                log.info("apns connected", url=cfg.url, connection=i, connects=self.connects)
            return connection

    async def _post(
        self, path: str, headers: list[tuple[Any, Any]], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if not self._opened:
            raise RuntimeError("ApnsSender is not open")
        i = self._next
        self._next = (i + 1) % len(self._connections)
        connection = await self._connection(i)
        request_headers = [
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", connection.authority),
            # Never indexed: each device's path would push the JWT out of the HPACK table.
            hpack.NeverIndexedHeaderTuple(":path", path),
            *headers,
        ]
        async with asyncio.timeout(self.config.timeout):
            return await connection.request(request_headers, body)

    def _backoff(self, attempt: int) -> float:
        return jittered(doubling(attempt, self.config.backoff_base, self.config.backoff_max))

    async def send(self, notification: Notification) -> SendResult:
        n = notification
        token = n.device_token
        if not _HEX.fullmatch(token):
            log.warning("apns refused before sending", token=short_token(token), reason="hex")
            return SendResult(token, None, "BadDeviceToken", None, "invalid_token")
        try:
            payload = n.payload()
        except PayloadError as e:
            log.warning("apns refused before sending", token=short_token(token), reason=e.reason)
            return SendResult(token, None, e.reason, None, "failed")
        apns_headers = n.headers(self.config.topic)
        path = f"/3/device/{token}"
        retries = 0
        attempts = 0
        token_refreshed = False
        jwt_token = self.token.get()
        while True:
            status: int | None = None
            reason: str | None = None
            timestamp: int | None = None
            apns_id: str | None = None
            attempts += 1
            headers = [("authorization", f"bearer {jwt_token}"), *apns_headers]
            try:
                async with self._semaphore:
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                    try:
                        status, answer_headers, answer = await self._post(path, headers, payload)
                    finally:
                        self.in_flight -= 1
            except (ConnectionLost, OSError, TimeoutError, h2.exceptions.ProtocolError) as e:
                if isinstance(e, ConnectionLost):
                    reason = str(e)
                elif isinstance(e, TimeoutError):
                    reason = f"Timeout: no answer within {self.config.timeout} s"
                else:
                    reason = type(e).__name__
            else:
                apns_id = answer_headers.get("apns-id")
                if status == 200:
                    return SendResult(token, 200, None, apns_id, "delivered", attempts=attempts)
                reason, timestamp = _reason(answer)

            if status is not None and status < 500 and status != 429:
                if status == 410 or (status == 400 and reason in INVALID_TOKEN_REASONS):
                    log.info(
                        "apns device token invalid",
                        token=short_token(token),
                        status=status,
                        reason=reason,
                    )
                    return SendResult(
                        token, status, reason, apns_id, "invalid_token", timestamp, attempts
                    )
                if status == 403 and reason in PROVIDER_TOKEN_REASONS and not token_refreshed:
                    token_refreshed = True
                    jwt_token = self.token.refresh(jwt_token)
                    continue
                log.error(
                    "apns notification failed",
                    token=short_token(token),
                    status=status,
                    reason=reason,
                    apns_id=apns_id,
                )
                return SendResult(token, status, reason, apns_id, "failed", timestamp, attempts)

            # 429, 5xx or no answer at all: retry later.
            if retries >= self.config.max_retries:
                log.error(
                    "apns retries exhausted",
                    token=short_token(token),
                    status=status,
                    reason=reason,
                    attempts=attempts,
                )
                return SendResult(
                    token, status, reason, apns_id, "retry_exhausted", timestamp, attempts
                )
            delay = self._backoff(retries)
            retries += 1
            log.info(
                "apns retry",
                token=short_token(token),
                status=status,
                reason=reason,
                retry=retries,
                delay=round(delay, 3),
            )
            await self._sleep(delay)

    async def send_many(self, notifications: Iterable[Notification]) -> list[SendResult]:
        """Sends them all, `concurrency` at a time; results in the order given."""
        items: Sequence[Notification] = (
            notifications if isinstance(notifications, Sequence) else list(notifications)
        )
        results: list[SendResult | None] = [None] * len(items)
        todo = iter(enumerate(items))
        started = time.perf_counter()

        async def worker() -> None:
            for i, n in todo:
                results[i] = await self.send(n)

        async with asyncio.TaskGroup() as tg:
            for _ in range(min(self.config.concurrency, len(items))):
                tg.create_task(worker())
        done = [r for r in results if r is not None]
        counts: dict[str, int] = {}
        for r in done:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        log.info(
            "apns batch sent",
            notifications=len(done),
            seconds=round(time.perf_counter() - started, 3),
            **counts,
        )
        return done


class ConsoleSender:
    """Embedded mode without APNs credentials: each notification goes to the log."""

    async def open(self) -> None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ready(self) -> None:
        return None

    def health(self) -> dict[str, str]:
        return {"push": "console"}

    async def __aenter__(self) -> ConsoleSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def send(self, notification: Notification) -> SendResult:
        n = notification
        try:
            n.payload()
        except PayloadError as e:
            log.warning("push refused", token=short_token(n.device_token), reason=e.reason)
            return SendResult(n.device_token, None, e.reason, None, "failed")
        apns_id = n.apns_id or str(uuid.uuid4())
        log.warning(
            "push (console, APNs not configured)",
            token=short_token(n.device_token),
            push_type=n.push_type,
            title=n.title,
            subtitle=n.subtitle,
            body=n.body,
            badge=n.badge,
            data=dict(n.data) or None,
            apns_id=apns_id,
        )
        return SendResult(n.device_token, None, None, apns_id, "delivered", attempts=1)

    async def send_many(self, notifications: Iterable[Notification]) -> list[SendResult]:
        return [await self.send(n) for n in notifications]


class MisconfiguredSender:
    """APNs is configured but cannot work (the key, the URL): the process runs, `health()`
    says so, and nothing is sent (the push jobs wait in the queue for a fixed configuration,
    as long as their notifications are news)."""

    def __init__(self, error: str) -> None:
        self.error = error
        self.state: PushState = "misconfigured"

    async def open(self) -> None:
        return None

    async def start(self) -> None:
        log.error("apns misconfigured; no notification is sent", error=self.error)

    async def close(self) -> None:
        return None

    async def ready(self) -> None:
        raise PushUnavailable("misconfigured", self.error)

    def health(self) -> dict[str, str]:
        return {"push": "misconfigured", "push_error": self.error}

    async def send(self, notification: Notification) -> SendResult:
        raise PushUnavailable("misconfigured", self.error)

    async def send_many(self, notifications: Iterable[Notification]) -> list[SendResult]:
        raise PushUnavailable("misconfigured", self.error)


def make_sender(config: ApnsConfig | None) -> Sender:
    """The APNs sender when configured, else the console sender (embedded mode); a
    configuration that cannot work gives a MisconfiguredSender, never an exception."""
    if config is None:
        return ConsoleSender()
    try:
        return ApnsSender(config)
    except ValueError as e:  # ours: the key, the URL, the counts; none quotes the key
        log.error("apns misconfigured", error=str(e))
        return MisconfiguredSender(str(e))
