"""What ``scan`` reads: files, URLs and standard input, as plain text or HTML.

HTML (a saved page, a fetched URL, pasted markup) goes through the article extractor so
menus and footers do not produce alerts; plain text is scanned as it is, its first line
taken as the title. URLs are fetched through the guarded fetcher: the same address, size and
time limits as feeds.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.errors import UserInputError
from bot.ingest.errors import ExtractError
from bot.ingest.extract import decode_html, extract_article
from bot.ingest.http import PAGE_ACCEPT, Fetcher, FetchPolicy

MAX_INPUT_BYTES = 20 * 1024 * 1024
_HTML_RE = re.compile(
    rb"^\s*(?:<!doctype html|<html|<head|<body|<article|<div|<p[ >])", re.IGNORECASE
)


class InputError(UserInputError):
    """An input that cannot be scanned; the message says which and why."""


@dataclass(frozen=True)
class ScanInput:
    source: str  # as the user named it
    title: str
    text: str
    url: str | None = None


def looks_like_html(data: bytes) -> bool:
    return bool(_HTML_RE.match(data[:2048]))


def from_bytes(
    source: str, data: bytes, url: str | None = None, charset: str | None = None
) -> ScanInput:
    """Decode and, for HTML, extract the article; plain text keeps its first line as title."""
    if looks_like_html(data):
        try:
            article = extract_article(data, url, encoding=charset)
        except ExtractError as error:
            raise InputError(f"{source}: no article text found in the HTML ({error})") from error
        return ScanInput(source, article.title or "", article.text, url)
    text = decode_html(data, charset) if charset else _decode(data)
    lines = [line.strip() for line in text.strip().splitlines()]
    title = lines[0] if lines else ""
    return ScanInput(source, title[:300], text, url)


def _decode(data: bytes) -> str:
    for codec in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def read_file(path: str) -> ScanInput:
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{path}: no such file")
    size = file.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise InputError(f"{path}: {size} bytes is more than the {MAX_INPUT_BYTES} byte limit")
    return from_bytes(path, file.read_bytes())


def read_stdin() -> ScanInput:
    data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"-: standard input is more than the {MAX_INPUT_BYTES} byte limit")
    return from_bytes("-", data)


async def read_url(url: str, fetcher: Fetcher) -> ScanInput:
    """Fetch a page (guarded, size- and time-limited); HTTP errors raise ``IngestError``."""
    result = await fetcher.fetch(url, accept=PAGE_ACCEPT)
    return from_bytes(url, result.content, url=result.final_url, charset=result.charset)


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


__all__ = [
    "FetchPolicy",
    "InputError",
    "ScanInput",
    "from_bytes",
    "is_url",
    "read_file",
    "read_stdin",
    "read_url",
]
