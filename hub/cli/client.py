"""A small client of the hub's API, used by the CLI. Errors come back as `ClientError` with the
hub's own code and message, so the CLI can print exactly what the hub said."""

import json
import ssl
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import aiohttp


class ClientError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True, slots=True)
class Connection:
    url: str
    token: str | None
    ca_file: str | None = None
    timeout: float = 30.0


def _headers(connection: Connection, given: dict[str, str] | None = None) -> dict[str, str]:
    sent = dict(given or {})
    if connection.token:
        sent["Authorization"] = f"Bearer {connection.token}"
    return sent


def _tls(connection: Connection) -> ssl.SSLContext | bool:
    if connection.ca_file:
        return ssl.create_default_context(cafile=connection.ca_file)
    return True


def _refused(status: int, data: Any) -> ClientError:
    """The hub's own code and message from its error body, else the HTTP status."""
    problem = data.get("error", {}) if isinstance(data, dict) else {}
    return ClientError(
        status,
        problem.get("code", "http_error"),
        problem.get("message", f"HTTP {status}"),
        problem.get("details"),
    )


def _unreachable(connection: Connection, error: aiohttp.ClientError) -> ClientError:
    return ClientError(0, "unreachable", f"cannot reach the hub at {connection.url}: {error}")


async def call(
    connection: Connection,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    timeout = aiohttp.ClientTimeout(total=connection.timeout)
    url = connection.url.rstrip("/") + path
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(
                method,
                url,
                json=body,
                params=params,
                headers=_headers(connection, headers),
                ssl=_tls(connection),
            ) as response,
        ):
            text = await response.text()
            status = response.status
    except aiohttp.ClientError as error:
        raise _unreachable(connection, error) from error
    except TimeoutError as error:
        raise ClientError(
            0, "timeout", f"the hub at {connection.url} did not answer in time"
        ) from error
    data = json.loads(text) if text else None
    if status >= 400:
        raise _refused(status, data)
    return data


@dataclass(frozen=True, slots=True)
class Frame:
    """One Server-Sent Event."""

    id: int | None
    event: str
    data: str


async def events(
    connection: Connection, after: int | None = None, params: dict[str, str] | None = None
) -> AsyncGenerator[Frame, None]:
    """The hub's event stream from after `after` (from now without it), frame by frame, until
    the hub closes it; `ClientError` when it cannot be opened."""
    headers = {"Accept": "text/event-stream"}
    if after is not None:
        headers["Last-Event-ID"] = str(after)
    # The hub writes at least every 15 s: three times that without a byte is a dead link.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connection.timeout, sock_read=45)
    url = connection.url.rstrip("/") + "/api/v1/events"
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(
                url, params=params, headers=_headers(connection, headers), ssl=_tls(connection)
            ) as response,
        ):
            if response.status >= 400:
                raise _refused(response.status, json.loads(await response.text() or "{}"))
            fields: dict[str, str] = {}
            async for raw in response.content:
                line = raw.decode().rstrip("\r\n")
                if line:
                    if not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                    continue
                if "event" in fields:
                    ident = fields.get("id")
                    yield Frame(
                        int(ident) if ident else None, fields["event"], fields.get("data", "")
                    )
                fields = {}
    except aiohttp.ClientError as error:
        raise _unreachable(connection, error) from error
    except TimeoutError as error:
        raise ClientError(
            0, "timeout", f"the hub at {connection.url} sent nothing for 45 s"
        ) from error
