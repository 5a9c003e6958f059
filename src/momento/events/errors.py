"""Errors of the event routes."""

from __future__ import annotations

from momento.errors import Conflict, Forbidden, NotFound, ValidationFailed


class EventNotFound(NotFound):
    """No such event, or you are not a member of it."""

    code = "event_not_found"


class NotEventCreator(Forbidden):
    """Only the event's creator can do that."""

    code = "not_event_creator"


class ReleaseLocked(Conflict):
    """release_at cannot change once the event is revealed."""

    code = "release_locked"


class CreatorCannotLeave(Conflict):
    """The creator cannot leave their own event; delete it instead."""

    code = "creator_cannot_leave"


class JoinCodeInvalid(NotFound):
    """No event has that join code."""

    code = "join_code_invalid"


class ReleaseBeforeStart(ValidationFailed):
    """release_at must be after starts_at."""

    code = "release_before_start"


class GuestNotAllowed(Forbidden):
    """Guests (signed in without an account) cannot do that; add an email and password to your
    account first."""

    code = "guest_not_allowed"


class WebGuestsOff(Forbidden):
    """The host does not let guests without an account join this event; sign up to join."""

    code = "web_guests_off"
