"""Errors a caller can act on. Each carries the HTTP status the API answers with, a stable
code for programs and a message for people; `details` holds the specifics (which field,
which findings) so a client never has to parse the message."""

from typing import Any

from hub.models.wire.codes import ErrorCode


class HubError(Exception):
    status = 400
    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(self, message: str, details: Any = None, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class Invalid(HubError):
    status = 400
    code = ErrorCode.INVALID


class Unauthorized(HubError):
    status = 401
    code = ErrorCode.UNAUTHORIZED


class Forbidden(HubError):
    status = 403
    code = ErrorCode.FORBIDDEN


class NotFound(HubError):
    status = 404
    code = ErrorCode.NOT_FOUND


class Conflict(HubError):
    status = 409
    code = ErrorCode.CONFLICT


class TooLarge(HubError):
    status = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE


class Refused(HubError):
    """The request is well formed but the hub will not do it (a hard blocker stands)."""

    status = 422
    code = ErrorCode.REFUSED


class Unavailable(HubError):
    status = 503
    code = ErrorCode.UNAVAILABLE


def refused_body(code: ErrorCode, message: str, details: Any = None) -> HubError:
    """A body the hub will not take, however it came (a request, a report): too large is 413,
    anything else about it 400, so every route answers alike."""
    kind = TooLarge if code == ErrorCode.PAYLOAD_TOO_LARGE else Invalid
    return kind(message, details=details, code=code)
