"""Feed lists from files: a YAML/TOML feeds file, and OPML import/export.

The feeds file (``FEEDS_FILE``) is the declarative list; ``sync_feeds_file`` makes the
database match it: feeds in the file are added or updated, feeds that came from the file and
are no longer in it are removed. Feeds added by hand (CLI, Telegram, OPML) are left alone.

    feeds:
      - url: https://example.org/world/rss.xml
        interval: 10m        # 90s, 10m, 1h, 1d; default DEFAULT_FEED_INTERVAL_S
        title: Example World

OPML is what feed readers export; only ``outline`` elements with an ``xmlUrl`` count. OPML
files are parsed with entity expansion refused (a hostile file cannot blow up in memory).
"""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import yaml

from db.feeds import FeedInputError, validate_url

_DURATION_RE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w)?\s*$", re.IGNORECASE
)
_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
}
MAX_OPML_BYTES = 5 * 1024 * 1024


def parse_duration(text: str | int | float) -> int:
    """Seconds in "90", "90s", "10m", "1h", "7d"."""
    if isinstance(text, (int, float)):
        return int(text)
    match = _DURATION_RE.match(text)
    if not match:
        raise FeedInputError(f"{text!r} is not a duration such as 90s, 10m, 1h or 7d")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "s").lower()])


@dataclass(frozen=True)
class FeedSpec:
    url: str
    interval_s: int | None = None
    title: str = ""


def read_feeds_file(path: Path) -> list[FeedSpec]:
    """Feeds from a YAML or TOML file; errors name the file and the entry."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise FeedInputError(f"{path}: cannot read ({error.strerror})") from error
    try:
        data: Any = (
            tomllib.loads(raw.decode("utf-8")) if path.suffix == ".toml" else yaml.safe_load(raw)
        )
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise FeedInputError(
            f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {error}"
        ) from error
    entries = data.get("feeds") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise FeedInputError(f"{path}: expected a top-level 'feeds' list")
    specs = []
    for number, item in enumerate(entries, 1):
        entry = {"url": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or "url" not in entry:
            raise FeedInputError(f"{path}: feed #{number} needs a url")
        try:
            interval = parse_duration(entry["interval"]) if "interval" in entry else None
            specs.append(
                FeedSpec(validate_url(str(entry["url"])), interval, str(entry.get("title", "")))
            )
        except FeedInputError as error:
            raise FeedInputError(f"{path}: feed #{number}: {error}") from error
    return specs


def read_opml(data: bytes, source: str = "OPML") -> list[FeedSpec]:
    if len(data) > MAX_OPML_BYTES:
        raise FeedInputError(f"{source}: larger than {MAX_OPML_BYTES} bytes")
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise FeedInputError(f"{source}: DOCTYPE or entity declarations are not accepted in OPML")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise FeedInputError(f"{source}: not well-formed XML ({error})") from error
    if root.tag.lower() != "opml":
        raise FeedInputError(f"{source}: the root element is <{root.tag}>, not <opml>")
    specs: list[FeedSpec] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if not url or url in seen:
            continue
        seen.add(url)
        try:
            specs.append(
                FeedSpec(validate_url(url), None, outline.get("title") or outline.get("text") or "")
            )
        except FeedInputError:
            continue  # one odd outline must not block the rest
    return specs


def write_opml(feeds: list[tuple[str, str]], title: str = "sanctions-bot feeds") -> str:
    """An OPML 2.0 document of (url, title) pairs."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_text(title)}</title></head>",
        "  <body>",
    ]
    for url, feed_title in feeds:
        name = feed_title or url
        lines.append(
            f'    <outline type="rss" text={quoteattr(name)} title={quoteattr(name)} xmlUrl={quoteattr(url)}/>'
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
