"""The downloaded files of each list source: fetched into a staging folder with the validators
of the last download (a 304 takes the cached copy), and kept in the cache once imported.

The last good files are kept so that a version spread over several files (OFAC's CSV set) can
be put together when only some of them changed; ``bot.listsync`` decides what to import.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path

from bot.ingest.errors import IngestError
from bot.ingest.http import Fetcher
from bot.lists.download import LIST_ACCEPT, file_name
from bot.lists.sources import ListSourceConfig
from bot.lists.types import ListFormatError


@dataclass
class Download:
    """What a download brought: the files, each URL's validators, whether all were 304s."""

    files: list[Path] = field(default_factory=list)
    validators: dict[str, dict[str, str]] = field(default_factory=dict)
    all_not_modified: bool = True


async def fetch_files(
    source: ListSourceConfig,
    fetcher: Fetcher,
    staging: Path,
    cache: Path,
    validators: dict[str, dict[str, str]],
) -> Download:
    """Every file of the source into ``staging``: fetched, or from the cache when not modified."""
    result = Download()
    taken: set[str] = set()
    for url in source.urls:
        name = file_name(url, taken)
        sent = validators.get(url, {})
        try:
            fetched = await fetcher.fetch(
                url,
                etag=sent.get("etag"),
                last_modified=sent.get("last_modified"),
                accept=LIST_ACCEPT,
                truncate=False,
            )
        except IngestError as error:
            raise ListFormatError(url, f"download failed: {error}") from error
        target = staging / name
        if fetched.not_modified and (cache / name).is_file():
            shutil.copy2(cache / name, target)
        elif fetched.status == 200:
            result.all_not_modified = False
            target.write_bytes(fetched.content)
            _date_file(target, fetched.last_modified)
        else:
            raise ListFormatError(url, f"download failed: HTTP {fetched.status}")
        result.validators[url] = {
            k: v for k, v in (("etag", fetched.etag), ("last_modified", fetched.last_modified)) if v
        }
        result.files.append(target)
    return result


def _date_file(path: Path, last_modified: str | None) -> None:
    """Give the file the server's date: a list without a date of its own (OFAC's CSV) is
    versioned by its files' modification time."""
    if not last_modified:
        return
    try:
        stamp = parsedate_to_datetime(last_modified).timestamp()
    except (TypeError, ValueError):
        return
    os.utime(path, (stamp, stamp))


def cached(folder: Path, urls: Sequence[str]) -> list[Path] | None:
    """The cached files of a source's URLs, if every one is there."""
    taken: set[str] = set()
    paths = [folder / file_name(url, taken) for url in urls]
    return paths if all(p.is_file() for p in paths) else None


def keep(staging: Path, folder: Path) -> None:
    """Replace the cached files of a source by the ones just imported (rename, so never half)."""
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    shutil.copytree(staging, folder, copy_function=shutil.copy2)
    shutil.rmtree(old, ignore_errors=True)


def ensure(folder: Path) -> Path:
    """``folder``, created if missing."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder
