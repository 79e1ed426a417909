"""Telegram's HTML: escaping, the 4096-character limit, cutting that never breaks markup.

Telegram's HTML parse mode rejects a whole message over one unescaped ``<`` or ``&``, so every
dynamic string (titles, names, evidence, URLs, user input) goes through ``esc``; the only
markup is written by the ``bot.tg`` renderers. A message is at most 4096 characters *after*
parsing (counted in UTF-16 code units, as the Bot API counts). ``fit`` is the last resort and
cuts only between a tag or an entity and the next, closing what is open.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

MAX_TEXT = 4096  # telegram.constants.MessageLimit.MAX_TEXT_LENGTH
ELLIPSIS = "…"
_TOKEN_RE = re.compile(r"<[^>]*>|&(?:#\d{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z]+);|[^<&]+|[<&]", re.S)


def esc(value: object) -> str:
    """Escape any dynamic text for Telegram HTML (quotes too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_text(markup: str) -> str:
    """The text Telegram shows for our HTML: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def visible_length(markup: str) -> int:
    return utf16_len(visible_text(markup))


def fit(markup: str, limit: int = MAX_TEXT) -> str:
    """``markup`` cut to at most ``limit`` visible characters, never inside a tag or an entity.

    The cut falls between tokens (a tag, an entity, or a character), then every tag still open
    is closed in order, so the result parses whenever the input did.
    """
    if visible_length(markup) <= limit:
        return markup
    budget = limit - utf16_len(ELLIPSIS)
    out: list[str] = []
    stack: list[str] = []
    used = 0
    for match in _TOKEN_RE.finditer(markup):
        token = match.group()
        if token.startswith("<") and token.endswith(">") and len(token) > 2:
            if token.startswith("</"):
                if stack:
                    stack.pop()
            elif not token.endswith("/>"):
                stack.append(token[1:-1].split()[0].lower())
            out.append(token)
            continue
        if token.startswith("&") and token.endswith(";"):
            size = utf16_len(html.unescape(token))
            if used + size > budget:
                break
            out.append(token)
            used += size
            continue
        room = budget - used
        if room <= 0:
            break
        piece = _cut_utf16(token, room)
        out.append(piece)
        used += utf16_len(piece)
        if len(piece) < len(token):
            break
    # drop tags opened right at the cut (they would be empty) and close the rest
    while (
        out
        and out[-1].startswith("<")
        and not out[-1].startswith("</")
        and stack
        and out[-1][1:-1].split()[0].lower() == stack[-1]
    ):
        out.pop()
        stack.pop()
    return "".join(out) + ELLIPSIS + "".join(f"</{tag}>" for tag in reversed(stack))


def _cut_utf16(text: str, room: int) -> str:
    if utf16_len(text) <= room:
        return text
    out, used = [], 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > room:
            break
        out.append(char)
        used += size
    return "".join(out)


def link(url: str | None, label: str) -> str:
    """A link for http(s) URLs; anything else is shown as text."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return f'<a href="{esc(url)}">{esc(label)}</a>'
    return esc(label)


def domain(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or url[:40]


def short(text: str, size: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= size else text[: size - 1].rstrip() + ELLIPSIS


def highlighted(text: str, spans: Iterable[Sequence[int]], budget: int | None = None) -> str:
    """Escaped ``text`` with the spans in bold; trimmed around the first span to ``budget`` chars."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, int(s)), min(len(text), int(e))) for s, e in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    lo, hi = 0, len(text)
    if budget is not None and len(text) > budget:
        anchor = merged[0][0] if merged else 0
        lo = max(0, min(anchor - budget // 3, len(text) - budget))
        hi = min(len(text), lo + budget)
        while lo > 0 and not text[lo - 1].isspace() and lo > anchor - budget // 2:
            lo -= 1
    out = [ELLIPSIS] if lo > 0 else []
    position = lo
    for span_start, span_end in merged:
        start, end = max(span_start, lo), min(span_end, hi)
        if end <= start:
            continue
        out.append(esc(text[position:start]))
        out.append(f"<b>{esc(text[start:end])}</b>")
        position = end
    out.append(esc(text[position:hi]))
    if hi < len(text):
        out.append(ELLIPSIS)
    return "".join(out)


def when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def pack(sections: Sequence[str], limit: int = MAX_TEXT) -> list[str]:
    """Sections joined into as few messages as fit; a section too long alone is trimmed."""
    messages: list[str] = []
    current = ""
    for whole in sections:
        section = fit(whole, limit)
        candidate = f"{current}\n\n{section}" if current else section
        if visible_length(candidate) <= limit:
            current = candidate
        else:
            messages.append(current)
            current = section
    if current:
        messages.append(current)
    return messages
