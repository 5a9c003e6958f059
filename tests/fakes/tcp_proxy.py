"""A TCP proxy on 127.0.0.1 in front of a real server, to cut it off without stopping it.

    proxy = TcpProxy.to_url(moto_endpoint)    # or TcpProxy("127.0.0.1", 9000)
    proxy.start()
    ... S3Storage(endpoint_url=proxy.url) ...
    proxy.cut()        # live connections closed (reset), new ones refused: the server is down
    proxy.restore()    # listening again on the same port, forwarding as before
    proxy.stall()      # new connections accepted but never answered: the server hangs
    proxy.stop()

Stopping the server behind it instead would lose its state (moto keeps objects in memory);
the proxy makes the outage without touching the server. It runs its own event loop in a
thread, so a synchronous test can use it, and an async test's loop blocking (or a client
blocking it) never stalls the proxy. Every method is called from outside that thread and
returns once the change is in effect. It is also a context manager (`with TcpProxy(...)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = "127.0.0.1"
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stalled = False
        # Set by cut()/stop(): connections held by stall() let go then.
        self._release: asyncio.Event | None = None

    @classmethod
    def to_url(cls, url: str) -> TcpProxy:
        """A proxy to the host and port of an `http://host:port` URL."""
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"{url!r} names no host and port")
        return cls(parts.hostname, parts.port)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`: where clients connect (known once started)."""
        if not self.port:
            raise RuntimeError("start() the proxy first")
        return f"http://{self.host}:{self.port}"

    # --- control, from any thread but the proxy's -------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the proxy is already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="tcp-proxy", daemon=True)
        self._thread.start()
        self._call(self._listen())

    def cut(self) -> None:
        """Close every live connection (with a reset) and refuse new ones until `restore`."""
        self._call(self._cut())

    def restore(self) -> None:
        """Forward again: listening on the same port, no longer stalling."""
        self._call(self._restore())

    def stall(self) -> None:
        """Close live connections, then accept new ones but never forward them (a hung
        server) until `restore` or `cut`."""
        self._call(self._stall())

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        with contextlib.suppress(RuntimeError):
            self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None
        self._thread = None

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("start() the proxy first")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    # --- in the proxy's loop ----------------------------------------------------------

    async def _listen(self) -> None:
        self._release = asyncio.Event()
        # reuse_address: listening again on the port of a just-closed listener must work.
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._release is not None:
            self._release.set()
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _restore(self) -> None:
        self._stalled = False
        if self._server is None:
            await self._listen()

    async def _stall(self) -> None:
        # Live connections go too: a client's pooled connection would otherwise still work.
        await self._cut()
        await self._listen()
        self._stalled = True

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        try:
            if self._stalled:
                release = self._release
                if release is not None:
                    await release.wait()
                return
            try:
                up_r, up_w = await asyncio.open_connection(*self.upstream)
            except OSError:
                return
            self._writers.add(up_w)
            try:
                await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))
            finally:
                self._writers.discard(up_w)
                up_w.close()
        finally:
            self._writers.discard(client_w)
            client_w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        # The other side is gone (or cut): the other pipe sees it too and ends.
        writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN, like a server or network that died."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
