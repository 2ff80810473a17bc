"""Errors services raise; the API turns them into the contract's envelope."""
from __future__ import annotations


class ServiceError(Exception):
    """A use case refused; status and code say how the caller should read it."""

    status = 400
    code = "malformed_request"

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(ServiceError):
    """The thing asked for does not exist."""

    status = 404
    code = "not_found"


class Invalid(ServiceError):
    """Well-formed input whose content cannot be accepted."""

    status = 422
    code = "invalid"


class Conflict(ServiceError):
    """The request collides with another one or with the current state."""

    status = 409
    code = "conflict"
