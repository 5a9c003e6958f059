"""Errors of the profile routes."""

from __future__ import annotations

from momento.errors import Conflict, Unauthorized


class UsernameTaken(Conflict):
    """That username is taken."""

    code = "username_taken"


class UserNotFound(Unauthorized):
    """The account this access token belongs to no longer exists; sign in again."""

    code = "user_not_found"
