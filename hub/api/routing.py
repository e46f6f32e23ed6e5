"""Routes as data: each declares its method, path, role, body and answers once, and both the
aiohttp router and the OpenAPI document are built from that declaration, so they cannot
drift apart."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import pydantic
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from hub import payloads, validation
from hub.errors import Invalid, TooLarge, refused_body
from hub.models.api import Role
from hub.models.wire.codes import ErrorCode
from hub.service import Hub, Principal

M = TypeVar("M", bound=pydantic.BaseModel)
CHUNK = 64 * 1024
JSON_TYPES = ("application/json", "application/octet-stream")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()
    integer: bool = False
    where: str = "query"
    minimum: int | None = None
    maximum: int | None = None
    listing: bool = False
    """A comma-separated list, which may be empty (blank); any other blank value is refused."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: pydantic.BaseModel | None
    headers: Mapping[str, str] = field(default_factory=dict)
    omit_none: bool = False
    streamed: web.StreamResponse | None = None
    """A response the handler already wrote (an event stream), to be answered as it is."""


@dataclass(slots=True)
class Call:
    request: web.Request
    hub: Hub
    principal: Principal | None
    route: "Route"

    def path(self, name: str) -> str:
        return self.request.match_info[name]

    def query(self, name: str, blank: bool = False) -> str | None:
        """The parameter, None when absent; a blank one is refused unless `blank` (a list
        parameter), as the document says, rather than read as absent (`state=` would list
        every state)."""
        value = self.request.query.get(name)
        if value is None or (blank and not value.strip()):
            return None
        if not value.strip():
            raise Invalid(
                f"query parameter {name} is empty: give it a value or leave it out",
                details={"parameter": name},
                code=ErrorCode.INVALID_PARAMETER,
            )
        return value.strip()

    def choice(self, name: str, kind: type[StrEnum]) -> Any:
        value = self.query(name)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise Invalid(
                f"query parameter {name}={value!r} is not one of: {allowed}",
                details={"parameter": name, "allowed": [m.value for m in kind]},
                code=ErrorCode.INVALID_PARAMETER,
            ) from None

    def limit(self) -> int:
        value = self.query("limit")
        ceiling = self.hub.settings.list_limit
        if value is None:
            return ceiling
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= ceiling:
            raise Invalid(
                f"query parameter limit={value!r} must be an integer from 1 to {ceiling}",
                details={"parameter": "limit"},
                code=ErrorCode.INVALID_PARAMETER,
            )
        return int(value)

    @property
    def who(self) -> str:
        return self.principal.name if self.principal else "anonymous"

    @property
    def encoding(self) -> str:
        return self.request.headers.get("Content-Encoding", "")

    async def compressed(self, limit: int) -> bytes:
        """The body as sent (perhaps compressed), refused past `limit` bytes."""
        kind = self.request.content_type
        if self.request.body_exists and kind not in JSON_TYPES:
            raise Invalid(
                f"send the body as application/json, not {kind}",
                code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            )
        chunks = []
        size = 0
        try:
            while chunk := await self.request.content.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(
                        f"the body is larger than the {limit:,} bytes this endpoint accepts",
                        details={"limit_bytes": limit},
                    )
                chunks.append(chunk)
        except (RequestPayloadError, ValueError, ConnectionError) as error:
            raise Invalid(
                f"the body could not be read: {error}", code=ErrorCode.INVALID_BODY
            ) from error
        return b"".join(chunks)

    async def raw(self, limit: int) -> bytes:
        """The body, inflated when it came compressed, refused past `limit` bytes."""
        try:
            return payloads.inflate(await self.compressed(limit), self.encoding, limit)
        except payloads.PayloadError as error:
            raise refused_body(error.code, error.message) from error

    async def body(self, model: type[M]) -> M:
        raw = await self.raw(self.hub.settings.max_body_bytes)
        if not raw.strip():
            raise Invalid("the request needs a JSON body", code=ErrorCode.MISSING_BODY)
        try:
            return model.model_validate_json(raw, strict=True)
        except pydantic.ValidationError as error:
            problems = validation.problems(error)
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise Invalid(
                f"{first['field']}: {first['problem']}{more}",
                details=problems,
                code=validation.code(error),
            ) from error


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    role: Role | None
    tag: str
    body: type[pydantic.BaseModel] | None = None
    answers: Mapping[int, type[pydantic.BaseModel] | None] = field(default_factory=dict)
    params: tuple[Param, ...] = ()
    description: str = ""
    streams: str | None = None
    """The media type of a 200 the handler writes itself (`text/event-stream`)."""
