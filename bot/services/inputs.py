"""What ``scan`` is given, read: files, ``-`` (standard input) and http(s) URLs, the URLs fetched
concurrently through one guarded fetcher before anything is scanned."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.ingest.errors import IngestError
from bot.ingest.http import Fetcher, FetchPolicy
from bot.inputs import InputError, ScanInput, is_url, read_file, read_stdin, read_url
from bot.services.scan import ArticleText
from bot.settings import Settings


def read_inputs(inputs: Sequence[str], settings: Settings) -> list[ScanInput | str]:
    """Every input read (or the error message for it), in the order given."""
    results: list[ScanInput | str] = []
    urls = [value for value in inputs if is_url(value)]
    fetched = asyncio.run(_fetch_all(urls, settings)) if urls else {}
    for value in inputs:
        try:
            if value == "-":
                results.append(read_stdin())
            elif is_url(value):
                results.append(fetched[value])
            else:
                results.append(read_file(value))
        except InputError as error:
            results.append(str(error))
    return results


async def _fetch_all(urls: list[str], settings: Settings) -> dict[str, ScanInput | str]:
    found: dict[str, ScanInput | str] = {}
    async with Fetcher.create(FetchPolicy.from_settings(settings)) as fetcher:
        for url in urls:
            try:
                found[url] = await read_url(url, fetcher)
            except (IngestError, InputError) as error:
                found[url] = f"{url}: {error}"
    return found


def article_text(item: ScanInput) -> ArticleText:
    """A read input as the scan service takes it."""
    return ArticleText(item.source, item.text, item.title, item.url)
