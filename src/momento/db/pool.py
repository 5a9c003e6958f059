"""The connection pool and the two ways to use it.

`Database.as_user(claims)` opens a transaction that runs as role `authenticated` with the
caller's JWT claims in `request.jwt.claims`, exactly as PostgREST does on Supabase, so the
row-level security policies (not Python checks) decide what a user may read and write.
`Database.privileged()` runs as the pool's login role, the owner of the tables, for workers,
admin commands and the auth service.

Round trips are the cost that matters on the request path, so a user transaction is sent in
pipeline mode: BEGIN, the role and claims, and the first query leave in one packet.
`Database.user_fetch` goes further for single-statement reads: the role, the claims and the
query run in one implicit transaction (one round trip, no BEGIN/COMMIT). `Database.user_call`
is for the hottest reads: one statement, a function that sets the identity and runs its query.
"""

from __future__ import annotations

import select
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, LiteralString

import orjson
import psycopg
from psycopg import AsyncConnection, errors
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from momento import errors as momento_errors

Claims = Mapping[str, Any]
Conn = AsyncConnection[DictRow]

SET_IDENTITY: LiteralString = (
    "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)"
)
# user_fetch's statements are reads by key under row-level security, prepared by the driver
# after a few runs. Left to itself the plan cache keeps making a custom plan per execution
# (RLS makes them look cheaper than the generic one), which for the feed cost as much as
# running it; a plan made once per connection serves every caller and every cursor alike
# (the caller comes in through auth.uid() at run time). Transaction-local, like the identity.
SET_IDENTITY_READ: LiteralString = (
    "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true),"
    " set_config('plan_cache_mode', 'force_generic_plan', true)"
)


async def check_idle(conn: AsyncConnection[Any]) -> None:
    """The pool's check on every checkout: is this idle connection still alive?

    A connection that sat in the pool while PostgreSQL restarted is dead, and the first
    query on it would fail (a 503 per pooled connection after every restart). Asking the
    server (`SELECT 1`) on each checkout would cost a round trip per request; instead this
    looks at the socket, a syscall of a microsecond or so: an idle connection has nothing
    to read unless the server wrote to it on its own, which it does when it goes away (the
    FATAL "terminating connection due to administrator command", or EOF). Only then is the
    server asked, and a dead connection raises here, so the pool discards it and hands out
    another (or makes a new one). A server gone without a word (a cut network) is caught by
    the query itself, which then answers 503 (`translate`).
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        await conn.execute("SELECT 1")


# Every connection the server makes (requests, jobs, migrations) runs in UTC, so timestamps come
# back as "Z" times whatever the server's time zone, and resolves unqualified names in `public`
# only. PostgreSQL's default search_path is `"$user", public`: with a login role named after
# one of our schemas (`momento`, the obvious name for it) unqualified tables, procrastinate's
# among them, would be created in and read from that schema instead, while the SQL that names
# `public.procrastinate_jobs` fails.
SESSION_OPTIONS = "-c TimeZone=UTC -c search_path=public"
RECONNECT_TIMEOUT = 5.0


class Database:
    def __init__(
        self, url: str, *, min_size: int = 2, max_size: int = 16, timeout: float = 5.0
    ) -> None:
        self.url = url
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row, "options": SESSION_OPTIONS},
            connection_class=AsyncConnection[DictRow],
            name="momento",
            check=self._check,
            # A request waits this long for a connection (the database restarting: the pool
            # reconnects in the background), then answers 503 with Retry-After.
            timeout=timeout,
            # A lost connection is re-made with psycopg_pool's backoff (1, 2, 4, ... s), given
            # up after this long; a request that finds the pool empty then makes a new one at
            # once. Kept short so the pause between attempts stays short, and the pool is
            # whole again within a couple of seconds of the database coming back however long
            # it was away (a day-long timeout meant pauses of minutes after a long outage).
            reconnect_timeout=RECONNECT_TIMEOUT,
        )

    async def _check(self, conn: Conn) -> None:
        try:
            await check_idle(conn)
        except psycopg.Error:
            # The server dropped this one, so it likely dropped every idle one (a restart).
            # Test them all now, in one pass: met one by one, every dead connection after the
            # first would cost the waiting request the pool's growing pause (1 s, 2 s, ...).
            await self.pool.check()
            raise

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def as_user(self, claims: Claims) -> AsyncIterator[Conn]:
        """A transaction as `authenticated` with these JWT claims; commits on success."""
        try:
            async with self.pool.connection() as conn:
                async with conn.pipeline(), conn.transaction():
                    await conn.execute(SET_IDENTITY, (orjson.dumps(dict(claims)).decode(),))
                    yield conn
        except psycopg.Error as exc:
            raise translate(exc) from exc

    @asynccontextmanager
    async def privileged(self) -> AsyncIterator[Conn]:
        """A transaction as the owner of the tables (RLS does not apply); commits on success."""
        try:
            async with self.pool.connection() as conn, conn.transaction():
                yield conn
        except psycopg.Error as exc:
            raise translate(exc) from exc

    async def user_fetch(
        self, claims: Claims, query: LiteralString, params: Sequence[Any] | Mapping[str, Any]
    ) -> list[DictRow]:
        """Run one read-only statement as the user in a single round trip.

        The identity statement and the query share the implicit transaction that lasts until
        the pipeline's Sync, so `set_config(..., true)` applies to the query and ends with it.
        """
        try:
            async with self.pool.connection() as conn, conn.pipeline() as pipe:
                await conn.execute(SET_IDENTITY_READ, (orjson.dumps(dict(claims)).decode(),))
                cur = await conn.execute(query, params)
                await pipe.sync()
                return await cur.fetchall()
        except psycopg.Error as exc:
            raise translate(exc) from exc

    async def user_call(
        self, claims: Claims, query: LiteralString, params: Mapping[str, Any]
    ) -> list[DictRow]:
        """Run one call of a function that sets the user's identity itself, in one round trip.

        For the hottest reads (the feed's pages, migration 0013): the function takes the
        caller's claims as `%(claims)s`, lowers the role to `authenticated`, sets the claims
        with set_config(..., true) and runs its query under the policies. The call is sent
        alone in autocommit, so those settings end with its implicit transaction. Only the
        login role may execute such functions.
        """
        args = {**params, "claims": orjson.dumps(dict(claims)).decode()}
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(query, args)
                return await cur.fetchall()
        except psycopg.Error as exc:
            raise translate(exc) from exc

    async def ping(self) -> bool:
        try:
            async with self.pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
            return True
        except Exception:
            return False


# SQLSTATEs raised by our own functions and triggers (class "MO").
RELEASE_LOCKED = "MO001"


def translate(exc: psycopg.Error) -> Exception:
    """Turn a driver error into the MomentoError the client should see.

    Domain code catches the specific cases it can explain better (a taken username, say)
    before this generic mapping applies.
    """
    if isinstance(exc, psycopg.OperationalError):
        # The server restarting or out of reach (connection lost, admin shutdown, too many
        # connections, no connection within the pool's timeout: psycopg_pool's PoolTimeout is
        # an OperationalError too): the client tries again.
        return momento_errors.DatabaseUnavailable()
    if isinstance(exc, errors.InsufficientPrivilege):
        return momento_errors.Forbidden()
    if isinstance(exc, errors.UniqueViolation):
        return momento_errors.Conflict("That already exists.")
    if isinstance(exc, errors.CheckViolation):
        return momento_errors.ValidationFailed("A value is out of range.")
    if isinstance(exc, errors.ForeignKeyViolation):
        return momento_errors.Conflict("A referenced record does not exist.")
    if isinstance(exc, errors.InvalidTextRepresentation | errors.DataException):
        return momento_errors.ValidationFailed("A value has the wrong form.")
    if exc.sqlstate == RELEASE_LOCKED:
        return momento_errors.Conflict("release_at cannot change once the event is revealed.")
    return exc
