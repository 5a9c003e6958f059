"""A fake APNs provider API: HTTP/2 over TLS on 127.0.0.1, checking requests as Apple does.

    key_pem, public_key = make_provider_key()
    async with FakeApns(topic="app.momento", key_id=KEY_ID, team_id=TEAM_ID,
                        public_key=public_key) as fake:   # or new_fake(public_key)
        fake.fail("ab12...", "Unregistered")           # 410 with a timestamp, every time
        fake.fail("cd34...", "TooManyRequests", times=2)  # 429 twice, then 200
        ... ApnsConfig(base_url=fake.url, ssl_context=fake.client_ssl_context(), ...)
                                                        # or sender_config(fake, key_pem)
        fake.requests  # every request: connection id, headers, body, JWT and its claims

The server speaks HTTP/2 with the `h2` library directly on an asyncio server (ALPN h2 only) with
a self-signed certificate made at start. It advertises 1000 concurrent streams and a large
connection window, acknowledges received data as it arrives and answers each request as soon as
its stream ends (or after `delay` seconds). A JWT's signature is verified once per distinct token
(as Apple does per connection); its age is checked on every request.

The tests' fixtures (tests/conftest.py: provider_key, fake_apns, apns_config, new_sender,
pushing) use the credentials below: KEY_ID, TEAM_ID, TOPIC.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import ssl
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from momento.push.apns import ApnsConfig

STATUS = {
    "BadCollapseId": 400,
    "BadDeviceToken": 400,
    "BadExpirationDate": 400,
    "BadMessageId": 400,
    "BadPriority": 400,
    "BadTopic": 400,
    "DeviceTokenNotForTopic": 400,
    "InvalidPushType": 400,
    "MissingDeviceToken": 400,
    "MissingTopic": 400,
    "PayloadEmpty": 400,
    "TopicDisallowed": 400,
    "BadPayload": 400,  # not an Apple reason: Apple doesn't document its answer to bad JSON
    "BadCertificate": 403,
    "ExpiredProviderToken": 403,
    "Forbidden": 403,
    "InvalidProviderToken": 403,
    "MissingProviderToken": 403,
    "BadPath": 404,
    "MethodNotAllowed": 405,
    "ExpiredToken": 410,
    "Unregistered": 410,
    "PayloadTooLarge": 413,
    "TooManyProviderTokenUpdates": 429,
    "TooManyRequests": 429,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
    "Shutdown": 503,
}

MAX_PAYLOAD = 4096
PUSH_TYPES = frozenset(
    {"alert", "background", "voip", "complication", "fileprovider", "mdm", "location"}
)
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


# The provider credentials the tests' sender signs with and their fake expects.
KEY_ID = "ABC123DEFG"
TEAM_ID = "DEF123GHIJ"
TOPIC = "app.momento.test"

# An APNs auth key: the .p8 text the sender signs with, the public key the fake checks with.
ProviderKey = tuple[str, ec.EllipticCurvePublicKey]


def make_provider_key() -> ProviderKey:
    """A fresh APNs auth key: the .p8 text (PKCS#8 PEM, P-256) and its public key."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


def new_fake(public_key: ec.EllipticCurvePublicKey, **options: Any) -> FakeApns:
    """A fake (not started: `async with` it) expecting KEY_ID, TEAM_ID and TOPIC."""
    return FakeApns(topic=TOPIC, key_id=KEY_ID, team_id=TEAM_ID, public_key=public_key, **options)


def sender_config(fake: FakeApns, key_pem: str, /, **changes: Any) -> ApnsConfig:
    """A sender's settings for `fake`: its URL, trust in its certificate, KEY_ID, TEAM_ID and
    TOPIC, backoffs short enough for a test; `changes` set any other field."""
    config = ApnsConfig(
        key_pem=key_pem,
        key_id=KEY_ID,
        team_id=TEAM_ID,
        topic=TOPIC,
        base_url=fake.url,
        ssl_context=fake.client_ssl_context(),
        backoff_base=0.001,
        backoff_max=0.01,
        timeout=5.0,
    )
    return dataclasses.replace(config, **changes)


def make_certificate() -> tuple[bytes, bytes]:
    """A self-signed TLS certificate for localhost and 127.0.0.1: (cert PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-apns.localhost")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@dataclass(slots=True)
class ReceivedRequest:
    connection_id: int
    stream_id: int
    method: str
    path: str
    device_token: str | None
    headers: dict[str, str]  # regular headers, lowercase names (no pseudo-headers)
    body: bytes
    jwt: str | None
    jwt_header: dict[str, Any] | None
    claims: dict[str, Any] | None
    status: int
    reason: str | None
    apns_id: str
    received_at: float

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(slots=True)
class _Failure:
    reason: str
    times: int | None  # None: every time


@dataclass(slots=True)
class _Stream:
    headers: list[tuple[str, str]]
    body: bytearray = field(default_factory=bytearray)


class FakeApns:
    def __init__(
        self,
        *,
        topic: str,
        key_id: str,
        team_id: str,
        public_key: ec.EllipticCurvePublicKey,
        max_token_age: float = 3600.0,
        min_token_update_interval: float | None = None,
        max_concurrent_streams: int = 1000,
        initial_window: int = 1 << 20,
        connection_window: int = 1 << 30,
        delay: float = 0.0,
        record: bool = True,
    ) -> None:
        self.topic = topic
        self.key_id = key_id
        self.team_id = team_id
        self.public_key = public_key
        self.max_token_age = max_token_age  # Apple: 1 h; lower it to provoke ExpiredProviderToken
        # Apple: a new token on a connection within 20 min is TooManyProviderTokenUpdates.
        self.min_token_update_interval = min_token_update_interval
        self.max_concurrent_streams = max_concurrent_streams
        self.initial_window = initial_window  # per-stream flow-control window we grant
        self.connection_window = connection_window
        self.delay = delay  # seconds before each answer (to hold streams open)
        self.record = record
        self.clock: Callable[[], float] = time.time  # the fake's now, for JWT ages
        self.requests: list[ReceivedRequest] = []
        self.served = 0
        self.connections = 0  # accepted so far
        self.open_connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.jwts_seen: set[str] = set()
        self._verified: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._failures: dict[str, _Failure] = {}
        self._protocols: set[_Protocol] = set()
        self._server: asyncio.Server | None = None
        self.cert_pem, self._key_pem = make_certificate()
        self.port = 0

    # --- set-up ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (and nothing else)."""
        return ssl.create_default_context(cadata=self.cert_pem.decode())

    def fail(self, device_token: str, reason: str, *, times: int | None = None) -> None:
        """Answer `reason` (with its status) for this token, `times` times or always."""
        if reason not in STATUS:
            raise ValueError(f"unknown APNs reason {reason!r}")
        self._failures[device_token] = _Failure(reason, times)

    def requests_for(self, device_token: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.device_token == device_token]

    def drop_connections(self) -> None:
        """Closes every open connection (GOAWAY, then TCP), as APNs may at any time."""
        for protocol in list(self._protocols):
            protocol.close()

    def reset(self) -> None:
        self.requests.clear()
        self.served = 0
        self.jwts_seen.clear()
        self._failures.clear()
        self.max_in_flight = 0

    async def start(self) -> None:
        ctx = _server_context(self.cert_pem, self._key_pem)
        loop = asyncio.get_running_loop()
        # Started again after stop(): the same port, as APNs coming back at the same address.
        self._server = await loop.create_server(
            lambda: _Protocol(self), "127.0.0.1", self.port, ssl=ctx, backlog=128
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stops listening and closes every connection (connections to the port are then
        refused); `start()` serves again on the same port."""
        if self._server is None:
            return
        self._server.close()
        for protocol in list(self._protocols):
            protocol.close()
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> FakeApns:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- checks ---------------------------------------------------------------------------

    def _verify_jwt(self, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        cached = self._verified.get(token)
        if cached is not None:
            return cached
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256" or header.get("kid") != self.key_id:
                return None
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["ES256"],
                options={"require": ["iss", "iat"], "verify_iat": False},
            )
        except jwt.PyJWTError:
            return None
        if claims.get("iss") != self.team_id or not isinstance(claims.get("iat"), int):
            return None
        self._verified[token] = (header, claims)
        return header, claims

    def _handle(
        self, protocol: _Protocol, stream_id: int, stream: _Stream
    ) -> tuple[int, str, bytes]:
        """Checks one request as Apple does; returns (status, apns-id, body) and records it."""
        pseudo: dict[str, str] = {}
        headers: dict[str, str] = {}
        for name, value in stream.headers:
            if name[0] == ":":
                pseudo[name] = value
            else:
                headers[name] = value
        method = pseudo.get(":method", "")
        path = pseudo.get(":path", "")
        body = bytes(stream.body)
        apns_id = headers.get("apns-id") or str(uuid.uuid4())
        now = self.clock()
        device_token: str | None = None
        bearer: str | None = None
        jwt_header: dict[str, Any] | None = None
        claims: dict[str, Any] | None = None
        reason: str | None = None

        auth = headers.get("authorization")
        if auth is not None and auth[:7].lower() == "bearer ":
            bearer = auth[7:]
            self.jwts_seen.add(bearer)
            verified = self._verify_jwt(bearer)
            if verified is not None:
                jwt_header, claims = verified

        if method != "POST":
            reason = "MethodNotAllowed"
        elif not path.startswith("/3/device/"):
            reason = "BadPath"
        else:
            device_token = path[10:]
            if not device_token:
                reason = "MissingDeviceToken"
            elif not set(device_token) <= _HEXDIGITS:
                reason = "BadDeviceToken"
        if reason is None:
            reason = self._check_auth(protocol, bearer, claims, now)
        if reason is None:
            reason = self._check_headers(headers, body)
        if reason is None and device_token is not None:
            failure = self._failures.get(device_token)
            if failure is not None and failure.times != 0:
                reason = failure.reason
                if failure.times is not None:
                    failure.times -= 1

        status = 200 if reason is None else STATUS[reason]
        self.served += 1
        if self.record:
            self.requests.append(
                ReceivedRequest(
                    protocol.id,
                    stream_id,
                    method,
                    path,
                    device_token,
                    headers,
                    body,
                    bearer,
                    jwt_header,
                    claims,
                    status,
                    reason,
                    apns_id,
                    now,
                )
            )
        if reason is None:
            return 200, apns_id, b""
        answer: dict[str, Any] = {"reason": reason}
        if status == 410:
            answer["timestamp"] = int(now * 1000) - 86_400_000
        return status, apns_id, orjson.dumps(answer)

    def _check_auth(
        self, protocol: _Protocol, bearer: str | None, claims: dict[str, Any] | None, now: float
    ) -> str | None:
        if bearer is None:
            return "MissingProviderToken"
        if claims is None:
            return "InvalidProviderToken"
        if now - claims["iat"] > self.max_token_age:
            return "ExpiredProviderToken"
        if protocol.token != bearer:
            interval = self.min_token_update_interval
            if (
                interval is not None
                and protocol.token is not None
                and now - protocol.token_since < interval
            ):
                return "TooManyProviderTokenUpdates"
            protocol.token, protocol.token_since = bearer, now
        return None

    def _check_headers(self, headers: dict[str, str], body: bytes) -> str | None:
        topic = headers.get("apns-topic")
        if topic is None:
            return "MissingTopic"
        if topic != self.topic:
            return "BadTopic"
        push_type = headers.get("apns-push-type")
        if push_type not in PUSH_TYPES:
            return "InvalidPushType"
        priority = headers.get("apns-priority", "10")
        if priority not in ("10", "5", "1"):
            return "BadPriority"
        if push_type == "background" and priority != "5":
            return "BadPriority"
        expiration = headers.get("apns-expiration")
        if expiration is not None and not expiration.isdigit():
            return "BadExpirationDate"
        collapse_id = headers.get("apns-collapse-id")
        if collapse_id is not None and len(collapse_id.encode()) > 64:
            return "BadCollapseId"
        apns_id = headers.get("apns-id")
        if apns_id is not None and not _is_lower_uuid(apns_id):
            return "BadMessageId"
        if len(body) > MAX_PAYLOAD:
            return "PayloadTooLarge"
        if not body:
            return "PayloadEmpty"
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return "BadPayload"
        aps = payload.get("aps") if isinstance(payload, dict) else None
        if not isinstance(aps, dict):
            return "BadPayload"
        if push_type == "alert" and not ({"alert", "sound", "badge"} & aps.keys()):
            return "InvalidPushType"
        if push_type == "background" and (
            aps.get("content-available") != 1 or {"alert", "sound", "badge"} & aps.keys()
        ):
            return "InvalidPushType"
        return None


def _server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["h2"])
    return ctx


def _is_lower_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


_CONFIG = h2.config.H2Configuration(
    client_side=False, header_encoding="utf-8", validate_inbound_headers=False
)


class _PlainEncoder(hpack.Encoder):
    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        return super().encode(headers, huffman=False)


class _H2(h2.connection.H2Connection):
    """h2's server connection, cheaper per request: no Huffman coding of answers, and the open
    streams counted by the protocol instead of h2 walking all of them for each new stream."""

    def __init__(self) -> None:
        super().__init__(config=_CONFIG)
        self.encoder = _PlainEncoder()
        self.active = 0

    @property
    def open_inbound_streams(self) -> int:
        return self.active

    def retire(self, stream_id: int) -> None:
        self.active -= 1
        stream = self.streams.pop(stream_id, None)
        if stream is not None:
            self._closed_streams[stream_id] = stream.closed_by


class _Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class _Protocol(asyncio.Protocol):
    _ids = 0

    def __init__(self, fake: FakeApns) -> None:
        _Protocol._ids += 1
        self.id = _Protocol._ids
        self.fake = fake
        self.conn = _H2()
        self.transport: _Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.token: str | None = None
        self.token_since = 0.0
        self._flush_scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's or uvloop's SSL transport (the fake may be served on uvloop).
        self.transport = stream_transport = cast(_Transport, transport)
        self.fake.connections += 1
        self.fake.open_connections += 1
        self.fake._protocols.add(self)
        self.conn.initiate_connection()
        self.conn.update_settings(
            {
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.fake.max_concurrent_streams,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: self.fake.initial_window,
            }
        )
        if self.fake.connection_window > 65535:
            self.conn.increment_flow_control_window(self.fake.connection_window - 65535)
        stream_transport.write(self.conn.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        self.fake.open_connections -= 1
        self.fake._protocols.discard(self)
        self.transport = None

    def close(self) -> None:
        if self.transport is not None:
            try:
                self.conn.close_connection()
                self.transport.write(self.conn.data_to_send())
            except h2.exceptions.ProtocolError:
                pass
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.close()
            return
        fake = self.fake
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers: list[tuple[str, str]] = event.headers  # type: ignore[assignment]
                self.streams[event.stream_id] = _Stream(headers)
                self.conn.active += 1
            elif isinstance(event, h2.events.DataReceived):
                stream = self.streams.get(event.stream_id)
                if stream is not None and event.data:
                    stream.body += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                stream = self.streams.pop(event.stream_id, None)
                if stream is None:
                    continue
                fake.in_flight += 1
                fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                answer = fake._handle(self, event.stream_id, stream)
                if fake.delay > 0:
                    asyncio.get_running_loop().call_later(
                        fake.delay, self._answer_later, event.stream_id, *answer
                    )
                else:
                    self._answer(event.stream_id, *answer)
            elif isinstance(event, h2.events.StreamReset):
                if self.streams.pop(event.stream_id, None) is not None:
                    self.conn.retire(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.close()
                return
        if self.transport is not None:
            out = self.conn.data_to_send()
            if out:
                self.transport.write(out)

    def _answer(self, stream_id: int, status: int, apns_id: str, body: bytes) -> None:
        self.fake.in_flight -= 1
        if self.transport is None:
            return
        try:
            if not body:
                self.conn.send_headers(
                    stream_id,
                    [(":status", "200"), hpack.NeverIndexedHeaderTuple("apns-id", apns_id)],
                    end_stream=True,
                )
            else:
                self.conn.send_headers(
                    stream_id,
                    [
                        (":status", str(status)),
                        hpack.NeverIndexedHeaderTuple("apns-id", apns_id),
                        ("content-type", "application/json"),
                        ("content-length", str(len(body))),
                    ],
                )
                self.conn.send_data(stream_id, body, end_stream=True)
        except h2.exceptions.StreamClosedError:
            pass
        self.conn.retire(stream_id)

    def _answer_later(self, stream_id: int, status: int, apns_id: str, body: bytes) -> None:
        self._answer(stream_id, status, apns_id, body)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.transport is not None:
            out = self.conn.data_to_send()
            if out:
                self.transport.write(out)
