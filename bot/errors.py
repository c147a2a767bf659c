"""Typed errors. A UserFacingError carries a message that is safe and useful to show the person."""

from __future__ import annotations


class UserFacingError(Exception):
    """An expected problem with the request; its message is shown to the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(UserFacingError):
    """The command was malformed; the message says how to use it."""


class NotFoundError(UserFacingError):
    """The ticket (or other object) does not exist or is not visible to the person."""


class PermissionDeniedError(UserFacingError):
    """The person may not do this."""


class InvalidTransitionError(UserFacingError):
    """The ticket is not in a state that allows this (e.g. already escalated)."""


class TemporarilyUnavailableError(UserFacingError):
    """A dependency (database, Slack) is unavailable; the person should try again shortly."""
