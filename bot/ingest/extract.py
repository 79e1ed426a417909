"""Main text and metadata of an article page, with trafilatura tuned for precision.

We match sanctioned names against this text, so boilerplate (menus, "most read", comment threads,
link tables) costs false alerts while a missed paragraph costs little: the feed summary is still
matched by the caller. Hence ``favor_precision``, no comments, no link lists. Tables are kept:
trafilatura's precision mode already drops link-dense ones, and data tables in articles
(lists of vessels, companies, amounts) are exactly what we look for.

Safety: the input is capped (``max_bytes``) *before* decoding and parsing, decoding is ours (BOM,
HTTP charset, ``<meta charset>``, UTF-8, then a guess) so trafilatura never decompresses bytes
itself, and trafilatura's ``EXTRACTION_TIMEOUT`` (``signal.alarm``, main thread only) is set to 0
so the function is safe in worker threads (``asyncio.to_thread``). Call it from a thread: it is
CPU-bound (tens of milliseconds per page).

Threads: trafilatura parses with module-level lxml parser objects, and one lxml parser used by
two threads at once aborts the whole process (seen in this suite: "Fatal Python error:
Aborted" inside ``lxml.html.document_fromstring`` with four extraction threads). Extractions
are therefore serialised by a lock; decoding and preparation still run in parallel.
"""

from __future__ import annotations

import codecs
import functools
import html as html_lib
import re
import threading
from configparser import ConfigParser
from dataclasses import dataclass
from datetime import date
from typing import Any

import charset_normalizer

from .errors import ExtractError
from .urls import canonical_url, resolve_link

__all__ = ["ExtractedArticle", "decode_html", "extract_article"]

_TRAFILATURA_LOCK = threading.Lock()
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MIN_CHARS = 50
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG: these labels mean windows-1252 in browsers, and pages are written for browsers.
_CUT_REASONS = frozenset({"unexpected end of data", "incomplete multibyte sequence"})
_LATIN1_LABELS = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"})
_LANG_PATTERNS = (
    re.compile(r"<html\b[^>]*?\s(?:xml:)?lang\s*=\s*[\"']?\s*([A-Za-z]{2,3})\b", re.IGNORECASE),
    re.compile(
        r"<meta\b[^>]*?http-equiv\s*=\s*[\"']?content-language[\"']?[^>]*?content\s*=\s*"
        r"[\"']?\s*([A-Za-z]{2,3})\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"<meta\b[^>]*?property\s*=\s*[\"']?og:locale[\"']?[^>]*?content\s*=\s*"
        r"[\"']?\s*([A-Za-z]{2,3})\b",
        re.IGNORECASE,
    ),
)
_CANONICAL_PATTERNS = (
    re.compile(
        r"<link\b[^>]*?\brel\s*=\s*[\"']?canonical\b[^>]*?\bhref\s*=\s*[\"']([^\"'>]+)",
        re.IGNORECASE,
    ),
    re.compile(
        r"<link\b[^>]*?\bhref\s*=\s*[\"']([^\"'>]+)[\"'][^>]*?\brel\s*=\s*[\"']?canonical\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"<meta\b[^>]*?property\s*=\s*[\"']?og:url[\"']?[^>]*?content\s*=\s*[\"']([^\"'>]+)",
        re.IGNORECASE,
    ),
)
_BINARY_MAGIC = (
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"PK\x03\x04", "ZIP"),
)


@dataclass(frozen=True)
class ExtractedArticle:
    """An article's main text. ``published`` has day precision (htmldate); ``language`` is the
    page's declared primary language subtag (``en``), not a detection."""

    title: str | None
    text: str
    published: date | None
    language: str | None
    canonical_url: str | None
    author: str | None = None
    sitename: str | None = None


_IMPORT_LOCK = threading.Lock()


def warm_up() -> None:
    """Import trafilatura and build its settings now, outside any time limit.

    The import is deferred until a page is extracted (commands that never extract do not pay
    for it), but it must not happen inside a timed extraction: a timer that fires mid-import
    leaves half-initialised modules behind ("module 'urllib3' has no attribute 'util'") and
    every later page fails. Worker processes call this before their first page; threads share
    one lock so two first pages cannot import it at once.
    """
    with _IMPORT_LOCK:
        _config()


@functools.cache
def _config() -> ConfigParser:
    """trafilatura settings, built once: no signal-based timeout (worker-thread safe).

    trafilatura is imported here, when the first page is extracted, not when the module is:
    it takes a fifth of a second, which every command (a ``scan`` of plain files) paid.
    """
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config


def _codec(label: str | None) -> str | None:
    """Python codec name for a charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _LATIN1_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _try(data: bytes, codec: str | None) -> str | None:
    """Strict decode, tolerating a character cut in half at the very end (our byte caps do
    that) when the text before it already proved the codec with other non-ASCII bytes."""
    if codec is None:
        return None
    try:
        return data.decode(codec)
    except LookupError:
        return None
    except UnicodeDecodeError as exc:
        cut = exc.reason in _CUT_REASONS and exc.end == len(data) and exc.start >= len(data) - 4
        if cut and not data[: exc.start].isascii():
            return _try(data[: exc.start], codec)
        return None


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Bytes → text: BOM, then UTF-8 if the bytes are valid UTF-8 and the declared charset is a
    single-byte Latin one (the classic lying header), then HTTP charset, ``<meta charset>``,
    UTF-8, a statistical guess, and finally windows-1252 with replacement."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, "replace")
    head = data[:4096]
    meta = _META_CHARSET.search(head)
    candidates = [_codec(declared), _codec(meta.group(1).decode("ascii")) if meta else None]
    if candidates[0] == "cp1252" or candidates[1] == "cp1252":
        candidates.insert(0, "utf-8")
    for candidate in (*candidates, "utf-8"):
        text = _try(data, candidate)
        if text is not None:
            return text
    best = charset_normalizer.from_bytes(data[:200_000]).best()
    guess = best.encoding if best is not None else None
    if guess and guess.startswith("utf_") and b"\x00" not in head:
        guess = None  # UTF-16/32 without a single NUL byte is a misguess on short input
    text = _try(data, guess)
    return text if text is not None else data.decode("cp1252", "replace")


def _prepare(html: bytes | str, max_bytes: int, encoding: str | None) -> str:
    """Cap, sniff for non-HTML, and decode."""
    if isinstance(html, str):
        text = html[:max_bytes]
    else:
        data = html[:max_bytes]
        for magic, kind in _BINARY_MAGIC:
            if data.startswith(magic):
                raise ExtractError(f"not an HTML page ({kind})")
        if data[:1] == b"\x1f" and data[1:2] == b"\x8b":
            raise ExtractError("compressed bytes, not HTML (decode Content-Encoding first)")
        text = decode_html(data, encoding)
    if not text.strip():
        raise ExtractError("empty document")
    if "\x00" in text[:4096]:
        raise ExtractError("binary data, not an HTML page")
    return text


def _language(text: str, detected: str | None) -> str | None:
    """Primary language subtag the page declares (``<html lang>``, content-language, og:locale).

    trafilatura only fills ``language`` when a language detector is installed; we do not need
    one: news sites declare their language, and this is a hint for matching, not a filter.
    """
    head = text[:65_536]
    for pattern in _LANG_PATTERNS:
        match = pattern.search(head)
        if match:
            return match.group(1).lower()
    if detected:
        primary = re.split(r"[-_]", detected.strip())[0].lower()
        return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None
    return None


def _canonical(text: str, url: str | None, found: str | None) -> str | None:
    """The page's declared canonical URL (``<link rel=canonical>``, ``og:url``), resolved
    against ``url`` and normalised; else trafilatura's guess; else ``url``."""
    head = text[:262_144]
    for pattern in _CANONICAL_PATTERNS:
        match = pattern.search(head)
        link = resolve_link(url, html_lib.unescape(match.group(1))) if match else None
        if link:
            return canonical_url(link)
    link = resolve_link(url, found) or resolve_link(None, url)
    return canonical_url(link) if link else None


def _published(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def extract_article(
    html: bytes | str,
    url: str | None = None,
    *,
    encoding: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    min_chars: int = DEFAULT_MIN_CHARS,
    extensive_dates: bool = True,
) -> ExtractedArticle:
    """Extract the article in ``html`` (page at ``url``; ``encoding``: the HTTP charset).

    ``extensive_dates=False`` takes ``published`` only from where pages state it (meta tags,
    ``<time>``, the URL, date patterns htmldate parses itself) and never hands free text to
    dateparser: that search cost about 3 ms of a page's 8, and its first use in a process
    loads dateparser's hundreds of locale patterns (two to five seconds). The pipeline reads
    no date, so it asks for this; the default keeps the fuller search.

    Raises ``ExtractError`` with a reason when there is no usable text (shorter than
    ``min_chars``): the caller then falls back to the feed summary.
    """
    text = _prepare(html, max_bytes, encoding)
    try:
        with _TRAFILATURA_LOCK:
            document = _bare_extraction(text, url, extensive_dates)
    except Exception as exc:  # lxml/htmldate edge cases: one bad page must not stop the loop
        raise ExtractError(f"extraction failed: {type(exc).__name__}: {exc}", url=url) from exc
    return _article(document, text, url, min_chars)


def _bare_extraction(text: str, url: str | None, extensive_dates: bool) -> Any:
    warm_up()
    import trafilatura
    from trafilatura.settings import set_date_params

    return trafilatura.bare_extraction(
        text,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
        with_metadata=True,
        config=_config(),
        date_extraction_params=set_date_params(extensive_dates),
    )


def _article(document: Any, text: str, url: str | None, min_chars: int) -> ExtractedArticle:
    body = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if len(body) < min_chars:
        reason = "no main text found" if not body else f"main text too short ({len(body)} chars)"
        raise ExtractError(reason, url=url)
    assert document is not None
    return ExtractedArticle(
        title=document.title or None,
        text=body,
        published=_published(document.date),
        language=_language(text, document.language),
        canonical_url=_canonical(text, url, document.url),
        author=document.author or None,
        sitename=document.sitename or None,
    )
