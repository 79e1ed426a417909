"""Parsing command arguments: subscription filters, history options, lengths. Pure.

Anything unparseable raises ``ArgError``; handlers answer it with the command's usage text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.errors import UserInputError
from db.chats import MODES, SEVERITIES, ChatError, parse_quiet

MAX_ARGS_CHARS = 500
MAX_QUERY_CHARS = 100
_DURATION_RE = re.compile(r"^(\d{1,4})\s*([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_FILTER_KEYS = {
    "severity": "min_severity",
    "sev": "min_severity",
    "min": "min_severity",
    "regime": "regimes",
    "regimes": "regimes",
    "rule": "rules",
    "rules": "rules",
    "country": "countries",
    "countries": "countries",
    "mode": "mode",
    "digest": "mode",
    "delivery": "mode",
    "hour": "digest_hour",
    "quiet": "quiet",
    "tz": "timezone",
    "timezone": "timezone",
    "watchlist": "watchlist_only",
    "watchlist-only": "watchlist_only",
}
_ON = {"on", "yes", "true", "1", ""}
_OFF = {"off", "no", "false", "0"}


class ArgError(UserInputError):
    """Arguments that cannot be understood; the message says which."""


def parse_duration(text: str) -> timedelta:
    match = _DURATION_RE.match(text.strip().lower())
    if not match:
        raise ArgError(f"{text[:20]!r} is not a duration such as 30m, 24h, 7d or 2w")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def _pairs(args: list[str]) -> list[tuple[str, str]]:
    """``key=value``, ``key:value``, ``--key value`` and bare words, in order."""
    pairs: list[tuple[str, str]] = []
    index = 0
    while index < len(args):
        token = args[index]
        if token.startswith("--"):
            key = token[2:]
            if "=" in key:
                key, value = key.split("=", 1)
            elif (
                index + 1 < len(args)
                and not args[index + 1].startswith("--")
                and key not in ("watchlist", "watchlist-only")
            ):
                index += 1
                value = args[index]
            else:
                value = ""
            pairs.append((key.lower(), value))
        elif "=" in token:
            key, value = token.split("=", 1)
            pairs.append((key.lower(), value))
        else:
            pairs.append(("", token))
        index += 1
    return pairs


def _list(value: str) -> list[str]:
    return [part for part in re.split(r"[,;\s]+", value) if part]


def parse_filters(args: list[str]) -> dict[str, Any]:
    """``/subscribe`` and ``/settings`` arguments -> subscription changes (``db.chats`` keys).

    ``high`` / ``severity=high``; ``regime=UN-DPRK-1718,US-Russia``; ``rule=wagner-arms``;
    ``country=KP,IR``; ``watchlist`` (only my watchlist); ``instant`` / ``hourly`` / ``daily``
    (``daily hour=8``); ``quiet=22:00-07:00`` or ``quiet=off``; ``tz=Europe/Berlin``.
    """
    if len(" ".join(args)) > MAX_ARGS_CHARS:
        raise ArgError("too many arguments")
    changes: dict[str, Any] = {}
    for key, value in _pairs(args):
        if not key:
            word = value.lower()
            if word in SEVERITIES:
                changes["min_severity"] = word
            elif word in MODES:
                changes["mode"] = word
            elif word in ("watchlist", "watchlist-only"):
                changes["watchlist_only"] = True
            else:
                raise ArgError(f"unknown filter {value[:40]!r}")
            continue
        field = _FILTER_KEYS.get(key)
        if field is None:
            raise ArgError(f"unknown filter {key[:40]!r}")
        if field in ("regimes", "rules", "countries"):
            values = _list(value)
            if values in (["all"], ["any"]):
                values = []
            changes[field] = changes.get(field, []) + values
        elif field == "watchlist_only":
            if value.lower() not in _ON | _OFF:
                raise ArgError("watchlist=on or watchlist=off")
            changes[field] = value.lower() in _ON
        elif field == "digest_hour":
            if not value.isdigit():
                raise ArgError("hour=0..23")
            changes[field] = int(value)
        elif field == "quiet":
            try:
                changes["quiet"] = parse_quiet(value)
            except ChatError as error:
                raise ArgError(str(error)) from error
        else:
            changes[field] = value.lower() if field in ("min_severity", "mode") else value
    return changes


def parse_settings(args: list[str]) -> dict[str, Any]:
    """``/settings NAME VALUE...`` (``countries KP,IR``, ``digest daily 8``) or filter syntax."""
    if not args:
        return {}
    head = args[0].lower()
    rest = args[1:]
    if head in ("digest", "mode", "delivery") and rest:
        changes: dict[str, Any] = {"mode": rest[0].lower()}
        if len(rest) > 1:
            if not rest[1].isdigit():
                raise ArgError("digest daily HOUR, HOUR 0..23")
            changes["digest_hour"] = int(rest[1])
        return changes
    if head in _FILTER_KEYS and rest and "=" not in head:
        return parse_filters(
            [
                f"{head}={','.join(rest) if head not in ('quiet', 'tz', 'timezone') else ''.join(rest)}"
            ]
        )
    return parse_filters(args)


@dataclass(frozen=True)
class HistoryArgs:
    query: str = ""
    since: timedelta | None = None
    severity: str | None = None
    since_text: str = ""  # as the user wrote it

    def describe(self) -> str:
        parts = []
        if self.query:
            parts.append(f"“{self.query}”")
        if self.since is not None:
            parts.append(f"since {self.since_text or _describe_duration(self.since)}")
        if self.severity:
            parts.append(f"≥ {self.severity}")
        return " · ".join(parts)


def _describe_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_history(args: list[str]) -> HistoryArgs:
    """``/history [words] [--since 7d] [--severity high]``."""
    if len(" ".join(args)) > MAX_ARGS_CHARS:
        raise ArgError("too many arguments")
    words: list[str] = []
    since = None
    since_text = ""
    severity = None
    for key, value in _pairs(args):
        if key == "since":
            since = parse_duration(value)
            since_text = value.strip().lower()
        elif key in ("severity", "sev", "min"):
            if value.lower() not in SEVERITIES:
                raise ArgError(f"severity is one of {', '.join(SEVERITIES)}")
            severity = value.lower()
        elif key:
            raise ArgError(f"unknown option {key[:20]!r}")
        else:
            words.append(value)
    query = " ".join(words)
    if len(query) > MAX_QUERY_CHARS:
        raise ArgError(f"a search is at most {MAX_QUERY_CHARS} characters")
    return HistoryArgs(query, since, severity, since_text)
