"""Reading a response body within a byte cap, decoded by us.

httpx would decode gzip/brotli itself, but without a bound on what one chunk expands to: a
compression bomb can turn a 64 KB chunk into gigabytes. Here every chunk is decoded into at most
the room left under the cap, so a 50 MB or endless body is cut at ``max_bytes`` and the prefix
kept (feedparser and lxml read prefixes), or refused when the caller wants all or nothing.
"""

from __future__ import annotations

import zlib

import brotli
import httpx

from .errors import FetchError, TooLarge


class BoundedDecoder:
    """Content-Encoding decoder that never produces more than asked for in one call."""

    def __init__(self, encoding: str, url: str) -> None:
        self.encoding = encoding.strip().lower()
        self._zlib: zlib._Decompress | None = None
        self._brotli: brotli.Decompressor | None = None
        self._first = True
        if self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif self.encoding == "br":
            self._brotli = brotli.Decompressor()
        elif self.encoding not in ("", "identity"):
            raise FetchError(f"unsupported content-encoding {encoding!r}", url=url)

    def decode(self, data: bytes, room: int) -> bytes:
        """Decode ``data``, returning at most about ``room`` bytes (the rest is never produced)."""
        if self._zlib is not None:
            return self._inflate(data, room)
        if self._brotli is not None:
            return bytes(self._brotli.process(data, output_buffer_limit=room))
        return data[:room]

    def _inflate(self, data: bytes, room: int) -> bytes:
        assert self._zlib is not None
        first, self._first = self._first, False
        try:
            return self._zlib.decompress(data, room)
        except zlib.error:
            if first and self.encoding == "deflate":  # raw deflate without zlib header
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._zlib.decompress(data, room)
            raise


async def read_capped(
    response: httpx.Response, url: str, cap: int, truncate: bool
) -> tuple[bytes, bool]:
    """Stream and decode the body, stopping at ``cap`` bytes (never buffering more); returns
    the body and whether it was cut. ``truncate=False`` raises ``TooLarge`` instead of cutting."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"Content-Length {declared} exceeds {cap} bytes", url=url)
    decoder = BoundedDecoder(response.headers.get("content-encoding", ""), url)
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += decoder.decode(chunk, cap + 1 - len(body))
        if len(body) > cap:
            if not truncate:
                raise TooLarge(f"body exceeds {cap} bytes", url=url)
            return bytes(body[:cap]), True
    return bytes(body), False
