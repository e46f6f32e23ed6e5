"""Request bodies: bounded decompression, so a small gzip bomb cannot become gigabytes, and a
corrupt body is a 400 naming the problem, not a dropped connection.

The hub's server runs with aiohttp's automatic decompression off and inflates here; reports
then travel to the validation workers and into the store still compressed.
"""

import re
import zlib

from hub.models.wire.codes import ErrorCode

GZIP_MAGIC = b"\x1f\x8b"
NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
"""JSON's only spelling of a NUL: `\\u0000` after an even run of backslashes (`\\\\u0000` is
the six characters `\\u0000`, which is harmless)."""


class PayloadError(ValueError):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _too_large(limit: int) -> PayloadError:
    return PayloadError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"the body is larger than the {limit:,} bytes this endpoint accepts (after decompression)",
    )


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """The body as sent before compression, refused when too large, corrupt or holding a NUL."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity") or (encoding == "gzip" and not data.startswith(GZIP_MAGIC)):
        if len(data) > limit:
            raise _too_large(limit)
        return _without_nul(data)
    if encoding not in ("gzip", "deflate"):
        raise PayloadError(
            ErrorCode.UNSUPPORTED_ENCODING,
            f"Content-Encoding {encoding!r} is not accepted; send gzip, deflate or none",
        )
    inflater = zlib.decompressobj(31 if encoding == "gzip" else 15)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as error:
        raise PayloadError(
            ErrorCode.INVALID_ENCODING, f"the body is not valid {encoding} data: {error}"
        ) from error
    if len(out) > limit or inflater.unconsumed_tail:
        raise _too_large(limit)
    if not inflater.eof:
        raise PayloadError(ErrorCode.INVALID_ENCODING, f"the {encoding} body is truncated")
    if inflater.unused_data:
        raise PayloadError(
            ErrorCode.INVALID_ENCODING, f"the body has data after the end of its {encoding} stream"
        )
    return _without_nul(out)


def _without_nul(data: bytes) -> bytes:
    """No field the hub takes holds a NUL, and PostgreSQL refuses one in text outright, so a
    body holding one is refused on either store before anything parses it."""
    if b"\\u0000" in data and NUL_ESCAPE.search(data):
        raise PayloadError(
            ErrorCode.INVALID_BODY,
            "a string in the body holds a NUL character (\\u0000); no field takes one",
        )
    return data


def gzip(data: bytes) -> bytes:
    """Fast compression for storage; reports compress about 14 to 1."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def gunzip(data: bytes) -> bytes:
    return zlib.decompress(data, 31)
