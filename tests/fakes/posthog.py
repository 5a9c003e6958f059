"""A fake PostHog (capture and flags) on 127.0.0.1, for the real `posthog` client to talk to.

    with FakePostHog() as fake:
        fake.set_flags("user-id", {"new-feed": True, "layout": "grid"})
        ... PostHogAnalytics(API_KEY, fake.url, ...)
        fake.events()                  # every event of every batch received, in order
        fake.stop(); fake.start()      # PostHog down (connection refused), then back
        fake.hold()                    # requests hang until release() (PostHog slow)
        fake.fail_flags(500)           # /flags answers 500 (0: back to normal)

It speaks what posthog 7.x sends: `POST /batch/` (JSON, gzip when `Content-Encoding: gzip`),
answered exactly `200 {"status": 1}` and recorded with the body's api_key; `POST /flags/?v=4`
(and `/flags`, `/decide/`) answered in the v4 shape, `{"flags": {key: {key, enabled, variant,
reason, metadata}}, "errorsWhileComputingFlags": false, "requestId"}`, with the flags set for
the body's distinct_id. A wrong api_key gets 401 as PostHog answers it. The server is the
standard library's threaded HTTP server in a thread of its own, so a client blocking the test's
event loop (or the loop blocking) never stalls it; `stop()` closes the socket and `start()`
listens on the same port again.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

API_KEY = "phc_test_project_key"


@dataclass(frozen=True)
class Batch:
    path: str
    api_key: str | None
    gzipped: bool
    body: dict[str, Any]

    @property
    def events(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = self.body.get("batch", [])
        return batch


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A connection cut by stop() while answering: expected, not worth a traceback.
        return


class FakePostHog:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.port = 0
        self.batches: list[Batch] = []
        self.flag_requests: list[dict[str, Any]] = []
        self.flags: dict[str, dict[str, bool | str]] = {}
        self.flags_status = 200
        self._lock = threading.Lock()
        self._received = threading.Condition(self._lock)
        self._open = threading.Event()  # set: answer; clear: hold requests
        self._open.set()
        self.held = 0  # requests waiting in hold() right now
        self._server: _Server | None = None
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None

    # --- life ---

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self.port), _handler(self))
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """PostHog down: the port refuses connections (held requests are let go first)."""
        server, self._server = self._server, None
        if server is None:
            return
        self.release()
        server.shutdown()
        server.server_close()
        # Keep-alive connections too: the client's next request on one must fail, not be served.
        with self._lock:
            connections, self._connections = set(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakePostHog:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- behaviour ---

    def hold(self) -> None:
        """PostHog hangs: every request waits (connection open, no answer) until release()."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def set_flags(self, distinct_id: str | uuid.UUID, flags: dict[str, bool | str]) -> None:
        self.flags[str(distinct_id)] = dict(flags)

    def fail_flags(self, status: int) -> None:
        """Answer /flags with this status (0 or 200: normally)."""
        self.flags_status = status or 200

    # --- what arrived ---

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            out = [e for b in self.batches for e in b.events]
        return [e for e in out if name is None or e.get("event") == name]

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block (in a thread, not on the loop) until `count` events have arrived."""
        deadline = time.monotonic() + timeout
        with self._received:
            while sum(len(b.events) for b in self.batches) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._received.wait(left)
        return self.events()

    def _record(self, batch: Batch) -> None:
        with self._received:
            self.batches.append(batch)
            self._received.notify_all()


def _handler(fake: FakePostHog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._connections.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> tuple[dict[str, Any], bool]:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            gzipped = self.headers.get("Content-Encoding", "").lower() == "gzip"
            if gzipped:
                raw = gzip.decompress(raw)
            body: dict[str, Any] = json.loads(raw or b"{}")
            return body, gzipped

        def do_POST(self) -> None:
            body, gzipped = self._body()
            with fake._lock:
                fake.held += 1
            try:
                while not fake._open.wait(0.05):
                    if fake._server is None:  # stopped while holding: drop the connection
                        return
            finally:
                with fake._lock:
                    fake.held -= 1
            path = urlsplit(self.path).path.rstrip("/")
            if body.get("api_key") != fake.api_key:
                self._answer(
                    401,
                    {
                        "type": "authentication_error",
                        "code": "invalid_api_key",
                        "detail": "Project API key invalid.",
                        "attr": None,
                    },
                )
                return
            if path in ("/batch", "/capture", "/i/v0/e"):
                if not isinstance(body.get("batch"), list) and path == "/batch":
                    self._answer(400, {"type": "validation_error", "detail": "No batch"})
                    return
                events = body["batch"] if path == "/batch" else [body]
                fake._record(Batch(path, body.get("api_key"), gzipped, {**body, "batch": events}))
                self._answer(200, {"status": 1})
            elif path in ("/flags", "/decide"):
                with fake._lock:
                    fake.flag_requests.append(body)
                if fake.flags_status != 200:
                    self._answer(fake.flags_status, {"detail": "flags are down"})
                    return
                flags = fake.flags.get(str(body.get("distinct_id")), {})
                self._answer(
                    200,
                    {
                        "flags": {
                            key: {
                                "key": key,
                                "enabled": value is not False,
                                "variant": value if isinstance(value, str) else None,
                                "reason": {"code": "condition_match", "condition_index": 0},
                                "metadata": {"id": n + 1, "version": 1, "payload": None},
                            }
                            for n, (key, value) in enumerate(flags.items())
                        },
                        "errorsWhileComputingFlags": False,
                        "requestId": str(uuid.uuid4()),
                    },
                )
            elif path == "/i/v1/analytics/events":  # capture v1: not what we send
                self._answer(200, {"results": {}})
            else:
                self._answer(404, {"detail": "Not found"})

    return Handler
