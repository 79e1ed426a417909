"""Sanctions list files fetched over HTTP(S) into a folder, ready for the parsers.

The guarded fetcher does the network part (address guard, timeouts, retries); this module adds
what a list needs on top of a web page: a much larger size cap, a body that was cut at the cap
or by the connection is an error rather than a shorter list, and the file keeps the URL's own
name so that the parsers recognise OFAC's ``sdn.csv``/``alt.csv`` roles.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from bot.ingest.errors import IngestError
from bot.ingest.http import Fetcher, FetchPolicy
from bot.lists.types import ListFormatError

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_DEADLINE_S = 600.0
LIST_ACCEPT = (
    "text/csv, application/xml, text/xml, application/json, application/x-ndjson, */*;q=0.5"
)
_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


def list_policy(page_policy: FetchPolicy, max_bytes: int = DEFAULT_MAX_BYTES) -> FetchPolicy:
    """The page policy with a list's size cap and a deadline long enough for a large file."""
    return replace(
        page_policy, max_bytes=max_bytes, deadline_s=max(page_policy.deadline_s, DEFAULT_DEADLINE_S)
    )


def file_name(url: str, taken: set[str]) -> str:
    """The URL path's last segment, made safe and unique within one download folder."""
    name = _SAFE_NAME_RE.sub("_", PurePosixPath(urlsplit(url).path).name) or "list"
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{n}-{name}"
    taken.add(candidate)
    return candidate


async def download_lists(urls: list[str], folder: Path, fetcher: Fetcher) -> list[Path]:
    """Each URL's whole body written to ``folder``; any failure raises ``ListFormatError``."""
    paths: list[Path] = []
    taken: set[str] = set()
    for url in urls:
        try:
            result = await fetcher.fetch(url, accept=LIST_ACCEPT, truncate=False)
        except IngestError as error:
            raise ListFormatError(url, f"download failed: {error}") from error
        if result.status != 200:
            raise ListFormatError(url, f"download failed: HTTP {result.status}")
        path = folder / file_name(url, taken)
        path.write_bytes(result.content)
        paths.append(path)
    return paths
