"""Sanctions lists: import files or URLs, sync the configured sources, report what is in force.

Importing parses every file before the database is touched (a malformed file is refused with
its file, line and reason) and then imports every list in one transaction: one refused list
(``ListShrankError``) keeps all of them as they were.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.app import App
from bot.ingest.http import Fetcher, FetchPolicy
from bot.inputs import is_url
from bot.lists import ParsedList, load_list
from bot.lists.download import download_lists, list_policy
from bot.lists.sources import ListSourceConfig
from bot.listsync import SyncReport, configured_sources, sync_and_rescreen
from bot.services.common import reading_files
from bot.settings import Settings
from db.engine import session_scope
from db.lists import ImportResult, ListStatus, import_list, list_sources, list_status
from db.models import ListSource


def read_lists(sources: Sequence[str], settings: Settings) -> list[ParsedList]:
    """Every list in these files, folders and URLs, parsed (URLs downloaded whole first: a cut
    download is an error)."""
    with tempfile.TemporaryDirectory(prefix="sanctions-lists-") as folder, reading_files():
        return load_list(_list_paths(sources, Path(folder), settings))


def _list_paths(sources: Sequence[str], folder: Path, settings: Settings) -> list[Path]:
    """Files as given; URLs downloaded whole into ``folder`` first."""
    urls = [source for source in sources if is_url(source)]
    downloaded: list[Path] = []
    if urls:
        policy = list_policy(FetchPolicy.from_settings(settings), settings.list_max_bytes)

        async def fetch() -> list[Path]:
            async with Fetcher.create(policy) as fetcher:
                return await download_lists(urls, folder, fetcher)

        downloaded = asyncio.run(fetch())
    return [Path(source) for source in sources if not is_url(source)] + downloaded


def import_lists(
    app: App, parsed_lists: Sequence[ParsedList], *, max_shrink: float, force: bool
) -> Iterator[tuple[ImportResult, ParsedList]]:
    """Import every list in one transaction, each result as it is imported (committed once all
    are; a refused list raises ``ListShrankError`` and none is kept)."""
    with session_scope(app.engine) as session:
        for parsed in parsed_lists:
            result = import_list(session=session, parsed=parsed, max_shrink=max_shrink, force=force)
            yield result, parsed


def sources_to_sync(settings: Settings, only: Sequence[str] = ()) -> list[ListSourceConfig]:
    """The configured list sources, or those named in ``only`` (a broken sources file or an
    unknown name raises ``ListFormatError``)."""
    return configured_sources(settings, only)


def sync_lists(
    app: App, settings: Settings, sources: Sequence[ListSourceConfig], *, force: bool
) -> SyncReport:
    """Download these sources, import what changed, re-screen recent articles and queue new
    alerts for the Telegram chats (the outbox)."""
    from db.delivery import outbox_hook

    return asyncio.run(sync_and_rescreen(app, settings, sources, force=force, hooks=[outbox_hook]))


def lists_status(app: App, configured: Sequence[str]) -> list[ListStatus]:
    """Each list in force or configured: version, counts, last import, sync and error."""
    with session_scope(app.engine) as session:
        return list_status(session=session, sources=configured)


def lists_in_force(app: App) -> list[ListSource]:
    """The imported lists."""
    with session_scope(app.engine) as session:
        return list_sources(session=session)
