"""Where a store is: a SQLite file, or a PostgreSQL URL, told apart without loading a
driver, and said without its password."""

from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")


def is_postgres(location: str) -> bool:
    return urlsplit(location).scheme in SCHEMES


def redacted(location: str) -> str:
    """The location without a password, for logs and messages."""
    parts = urlsplit(location)
    if parts.password is None:
        return location
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
