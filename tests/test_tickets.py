"""Tickets (momento.kit.tickets): single use, bound to user, session, purpose and resource,
expiring, gone with the session, usable from another process, stored only hashed."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import pytest

from momento.errors import InvalidTicket
from momento.identity import CurrentUser
from momento.kit import tickets
from momento.services import Services
from tests.factories import TestUser, create_user, scalar, sql


def current(user: TestUser) -> CurrentUser:
    return CurrentUser(user.id, user.claims, user.token)


async def test_a_ticket_is_redeemed_once_as_its_user(services: Services) -> None:
    ana = await create_user(services)
    event = uuid.uuid4()
    ticket = await tickets.issue(services, current(ana), "stream", event)
    assert len(ticket.token) >= 43  # 256 bits, URL-safe base64
    # Only its hash is stored, never the ticket.
    stored = await scalar(services, "SELECT hash FROM momento.tickets")
    assert bytes(stored) == hashlib.sha256(ticket.token.encode()).digest()
    assert ticket.token.encode() not in bytes(stored)

    who = await tickets.redeem(services, ticket.token, "stream", event)
    assert who.id == ana.id
    assert who.claims["session_id"] == str(ana.session_id)
    assert who.token == ""
    with pytest.raises(InvalidTicket):
        await tickets.redeem(services, ticket.token, "stream", event)


async def test_two_redeemers_at_once_one_wins(services: Services) -> None:
    ana = await create_user(services)
    event = uuid.uuid4()
    ticket = await tickets.issue(services, current(ana), "stream", event)
    results = await asyncio.gather(
        *(tickets.redeem(services, ticket.token, "stream", event) for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, CurrentUser) for r in results) == 1
    assert sum(isinstance(r, InvalidTicket) for r in results) == 4


@pytest.mark.parametrize("wrong", ["purpose", "resource", "token", "missing", "long"])
async def test_a_ticket_is_for_one_purpose_and_resource(services: Services, wrong: str) -> None:
    ana = await create_user(services)
    event = uuid.uuid4()
    ticket = await tickets.issue(services, current(ana), "stream", event)
    token: str | None = ticket.token
    purpose, resource = "stream", event
    if wrong == "purpose":
        purpose = "download"
    elif wrong == "resource":
        resource = uuid.uuid4()
    elif wrong == "token":
        token = ticket.token[:-2] + ("AA" if not ticket.token.endswith("AA") else "BB")
    elif wrong == "missing":
        token = None
    else:
        token = "x" * 129
    with pytest.raises(InvalidTicket):
        await tickets.redeem(services, token, purpose, resource)
    # A wrong try does not spend it (only the exact ticket, purpose and resource do).
    assert (await tickets.redeem(services, ticket.token, "stream", event)).id == ana.id


async def test_an_expired_ticket_is_refused(services: Services) -> None:
    ana = await create_user(services)
    event = uuid.uuid4()
    ticket = await tickets.issue(services, current(ana), "stream", event, ttl=30)
    await sql(services, "UPDATE momento.tickets SET expires_at = now() - interval '1 second'")
    with pytest.raises(InvalidTicket):
        await tickets.redeem(services, ticket.token, "stream", event)


async def test_signing_out_ends_the_tickets_of_that_session(services: Services) -> None:
    ana = await create_user(services)
    event = uuid.uuid4()
    ticket = await tickets.issue(services, current(ana), "stream", event)
    await sql(services, "DELETE FROM auth.sessions WHERE id = %s", ana.session_id)
    with pytest.raises(InvalidTicket):
        await tickets.redeem(services, ticket.token, "stream", event)
    # And a token whose session has ended gets no ticket.
    with pytest.raises(InvalidTicket):
        await tickets.issue(services, current(ana), "stream", event)


async def test_another_users_session_cannot_be_named(services: Services) -> None:
    ana, bob = await create_user(services), await create_user(services)
    forged = CurrentUser(ana.id, {**ana.claims, "session_id": str(bob.session_id)}, ana.token)
    with pytest.raises(InvalidTicket):
        await tickets.issue(services, forged, "stream", uuid.uuid4())


async def test_any_process_can_redeem(services: Services) -> None:
    """Another pool (another API process) redeems what this one issued: the ticket lives in
    PostgreSQL, not in a process's memory."""
    from momento.db import Database

    ana = await create_user(services)
    event = uuid.uuid4()
    ticket = await tickets.issue(services, current(ana), "stream", event)
    other = Database(services.db.url, min_size=1, max_size=2)
    await other.open()
    try:
        import dataclasses

        elsewhere = dataclasses.replace(services, db=other)
        assert (await tickets.redeem(elsewhere, ticket.token, "stream", event)).id == ana.id
    finally:
        await other.close()
