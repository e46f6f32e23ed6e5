"""The web console: static files shipped in the package and served at `/` without a token,
since they hold only code. The page then reads the same public API as the CLI, with the
token a person types in (kept in the tab's session storage, never in a cookie, so no other
site can make the browser send it). Files are read once, by name from a fixed set: a
request can name nothing outside it."""

from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web

TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
HEADERS = {
    # Scripts and styles from the hub only, no inline code, no framing; the API is the
    # only thing the page connects to.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
PREFIX = "/console/"
PATHS = ("/", PREFIX + "{path}")
"""The console's routes: pages for people, outside the API and its OpenAPI document."""


def _walk(folder: Traversable, under: str = "") -> dict[str, tuple[bytes, str]]:
    found: dict[str, tuple[bytes, str]] = {}
    for item in folder.iterdir():
        name = f"{under}{item.name}"
        if item.is_dir():
            found |= _walk(item, f"{name}/")
            continue
        kind = TYPES.get(name[name.rfind(".") :])
        if kind is not None:
            found[name] = (item.read_bytes(), kind)
    return found


def assets() -> dict[str, tuple[bytes, str]]:
    """The console's files by path under /console/, with their content types."""
    return _walk(resources.files("hub.api") / "static")


def add_routes(app: web.Application) -> None:
    files = assets()

    def answer(name: str) -> web.Response:
        body, kind = files[name]
        return web.Response(body=body, content_type=kind, charset="utf-8", headers=HEADERS)

    async def index(_request: web.Request) -> web.Response:
        return answer("index.html")

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["path"]
        if name not in files:
            raise web.HTTPNotFound()
        return answer(name)

    page, files_under = PATHS
    app.router.add_get(page, index)
    app.router.add_get(files_under.replace("{path}", "{path:.+}"), asset)
