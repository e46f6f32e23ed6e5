"""Errors a caller can act on. Each carries the HTTP status the API answers with, a stable
code for programs and a message for people; `details` holds the specifics (which field,
which findings) so a client never has to parse the message."""

from typing import Any


class HubError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class Invalid(HubError):
    status = 400
    code = "invalid"


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"


class Forbidden(HubError):
    status = 403
    code = "forbidden"


class NotFound(HubError):
    status = 404
    code = "not_found"


class Conflict(HubError):
    status = 409
    code = "conflict"


class TooLarge(HubError):
    status = 413
    code = "payload_too_large"


class Refused(HubError):
    """The request is well formed but the hub will not do it (a hard blocker stands)."""

    status = 422
    code = "refused"


class Unavailable(HubError):
    status = 503
    code = "unavailable"
