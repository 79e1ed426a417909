"""Keep the sanctions lists current: download each configured source, import what changed.

One source at a time, each on its own: a failed download, a file that does not parse or a
list that shrank suspiciously is recorded as that source's error and the version in force
stays, while the other sources go on. Nothing is re-imported when nothing changed: every URL
is fetched with the validators of the last download (a 304 costs nothing), and the files'
hash is compared with the last import before any parsing. The last good files are kept in
``cache_dir`` so that a version spread over several files (OFAC's CSV set) can be put together
when only some of them changed.

The switch to a new version is one database transaction (``db.lists.import_list``): a scan
reads the lists in force once when its matcher is built and sees the old version or the new
one, never half of each.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.app import App
from bot.domain.lists import ParsedList
from bot.ingest.errors import IngestError
from bot.ingest.http import Fetcher, FetchPolicy
from bot.listcache import Download, cached, ensure, fetch_files, keep
from bot.lists.detect import detect_format
from bot.lists.download import list_policy
from bot.lists.ofac import parse_ofac
from bot.lists.sources import ListSourceConfig, load_sources
from bot.lists.types import ListFormatError, file_digest
from bot.rescreen import AlertHook, rescreen, tell_watchers
from bot.settings import Settings
from db.engine import session_scope
from db.lists import ImportResult, ListShrankError, import_list, record_sync, sync_state
from db.models import utcnow

log = logging.getLogger(__name__)

UPDATED, UNCHANGED, FAILED = "updated", "unchanged", "failed"


@dataclass(frozen=True)
class SyncOutcome:
    """What one source's sync did; ``changed_keys`` feed the re-screen of stored articles."""

    source: str
    status: str
    version: str = ""
    entities: int = 0
    added: int = 0
    removed: int = 0
    changed_keys: frozenset[str] = frozenset()
    added_keys: frozenset[str] = frozenset()
    error: str = ""
    warnings: tuple[str, ...] = ()

    def line(self) -> str:
        if self.status == FAILED:
            return f"{self.source}: FAILED, the version in force is kept: {self.error}"
        if self.status == UNCHANGED:
            return f"{self.source}: unchanged"
        return (
            f"{self.source}: updated to version {self.version}: {self.entities} entities "
            f"(+{self.added} -{self.removed}, {len(self.changed_keys)} new or changed)"
        )


async def sync_lists(
    app: App,
    sources: Sequence[ListSourceConfig],
    fetcher: Fetcher,
    *,
    cache_dir: Path,
    max_shrink: float,
    force: bool = False,
) -> list[SyncOutcome]:
    """Sync every given source in turn; never raises for one source's failure."""
    return [
        await sync_source(
            app, source, fetcher, cache_dir=cache_dir, max_shrink=max_shrink, force=force
        )
        for source in sources
    ]


async def sync_source(
    app: App,
    source: ListSourceConfig,
    fetcher: Fetcher,
    *,
    cache_dir: Path,
    max_shrink: float,
    force: bool = False,
) -> SyncOutcome:
    """Download, compare, parse and import one source; its error is recorded, not raised."""
    with session_scope(app.engine) as session:
        state = sync_state(session=session, source=source.id)
        validators, last_hash = dict(state.validators), state.body_sha256
        in_force = bool(last_hash) and cached(cache_dir / source.id, source.urls) is not None
    staging = Path(tempfile.mkdtemp(prefix=f"sync-{source.id}-", dir=ensure(cache_dir)))
    try:
        download = await fetch_files(
            source,
            fetcher,
            staging,
            cache_dir / source.id,
            validators if in_force and not force else {},
        )
        digest = file_digest(download.files)  # the hash the parsed list will carry
        if in_force and not force and (download.all_not_modified or digest == last_hash):
            with session_scope(app.engine) as session:
                record_sync(session=session, source=source.id, validators=download.validators)
            return SyncOutcome(source.id, UNCHANGED)
        parsed, result = await _import(app, source, download, digest, max_shrink, force)
        keep(staging, cache_dir / source.id)
    except (ListFormatError, ListShrankError, IngestError, OSError) as error:
        message = str(error)
        log.warning("list sync of %s failed, the version in force is kept: %s", source.id, message)
        with session_scope(app.engine) as session:
            record_sync(session=session, source=source.id, error=message)
        return SyncOutcome(source.id, FAILED, error=message)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _outcome(source.id, parsed, result)


async def _import(
    app: App,
    source: ListSourceConfig,
    download: Download,
    digest: str,
    max_shrink: float,
    force: bool,
) -> tuple[ParsedList, ImportResult]:
    """Parse the downloaded files (off the event loop) and make them the version in force."""
    parsed = await asyncio.to_thread(parse_source, source, download.files)
    with session_scope(app.engine) as session:
        result = import_list(session=session, parsed=parsed, max_shrink=max_shrink, force=force)
        record_sync(
            session=session,
            source=source.id,
            validators=download.validators,
            body_sha256=digest,
            changed=not result.unchanged,
        )
    return parsed, result


def _outcome(source_id: str, parsed: ParsedList, result: ImportResult) -> SyncOutcome:
    if result.unchanged:
        return SyncOutcome(source_id, UNCHANGED, parsed.version, result.entities)
    return SyncOutcome(
        source_id,
        UPDATED,
        parsed.version,
        result.entities,
        result.added,
        result.removed,
        result.changed_keys,
        result.added_keys,
        warnings=parsed.warnings,
    )


def parse_source(source: ListSourceConfig, files: Sequence[Path]) -> ParsedList:
    """The one list a source's files make, by the source's declared format.

    Each file is first looked at as ``lists import`` does (an HTML error page, an empty body,
    an archive, another list's format are refused with the reason) before the parser runs.
    """
    if source.format != "custom":
        for path in files:
            found = detect_format(path)
            if found != source.format:
                raise ListFormatError(
                    path,
                    f"the download is a {found} list, the source {source.id} is {source.format}",
                )
    parsed = _parse(source, files)
    if parsed.source != source.id:
        raise ListFormatError(
            source.urls[0],
            f"the files hold the list {parsed.source!r}, not {source.id!r}: "
            "check the source's id and URLs in the list sources file",
        )
    return parsed


def _parse(source: ListSourceConfig, files: Sequence[Path]) -> ParsedList:
    if source.format == "ofac":
        lists = parse_ofac(files)
        if len(lists) != 1:
            raise ListFormatError(
                source.urls[0], f"expected one OFAC set, the files make {len(lists)}"
            )
        return lists[0]
    (path,) = files[:1] or (None,)
    if path is None or (len(files) != 1 and source.format != "ftm"):
        raise ListFormatError(source.id, f"a {source.format} source takes exactly one file")
    if source.format == "un":
        from bot.lists.un import parse_un

        return parse_un(path)
    if source.format == "ftm":
        from bot.lists.ftm import parse_ftm

        return parse_ftm(list(files))
    if source.format == "eu":
        from bot.lists.eu import parse_eu

        return parse_eu(path)
    if source.format == "uk":
        from bot.lists.uk import parse_uk

        return parse_uk(path)
    from bot.lists.custom import parse_custom

    return parse_custom(path, source.id)


@dataclass(frozen=True)
class SyncReport:
    outcomes: list[SyncOutcome]
    rescreened: int = 0
    new_alerts: list[int] = field(default_factory=list)
    watch_notices: list[int] = field(
        default_factory=list
    )  # alerts telling watchers of a new listing

    @property
    def failed(self) -> list[SyncOutcome]:
        return [o for o in self.outcomes if o.status == FAILED]


def configured_sources(settings: Settings, only: Sequence[str] = ()) -> list[ListSourceConfig]:
    """The sources to sync: the bundled ones and LIST_SOURCES_FILE's, narrowed by LIST_SOURCES,
    then by ``only`` (the command line), which may name a source that is switched off."""
    sources = load_sources(settings.list_sources_file, settings.list_sources)
    if only:
        unknown = sorted(set(only) - {s.id for s in sources})
        if unknown:
            raise ListFormatError(
                "--source",
                f"unknown list source(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(s.id for s in sources))}",
            )
        return [s for s in sources if s.id in only]
    return [s for s in sources if s.enabled]


async def sync_and_rescreen(
    app: App,
    settings: Settings,
    sources: Sequence[ListSourceConfig],
    *,
    force: bool = False,
    hooks: Sequence[AlertHook] = (),
) -> SyncReport:
    """Sync ``sources``, then re-screen the last LIST_RESCREEN_DAYS of articles for every entry
    that is new or changed: what the CLI's ``lists sync`` and ``run``'s schedule both do."""
    policy = list_policy(FetchPolicy.from_settings(settings), settings.list_max_bytes)
    async with Fetcher.create(policy) as fetcher:
        outcomes = await sync_lists(
            app,
            sources,
            fetcher,
            cache_dir=settings.data_dir / "lists",
            max_shrink=settings.list_max_shrink,
            force=force,
        )
    keys = frozenset().union(*(o.changed_keys for o in outcomes))
    if not keys:
        return SyncReport(outcomes)
    updated = ", ".join(f"{o.source} {o.version}" for o in outcomes if o.changed_keys)
    why = f"the list update ({updated})"
    report = await asyncio.to_thread(
        rescreen, app, keys, days=settings.list_rescreen_days, hooks=hooks, why=why
    )
    added = frozenset().union(*(o.added_keys for o in outcomes))
    notices = await asyncio.to_thread(tell_watchers, app, added, hooks=hooks, why=why)
    return SyncReport(outcomes, report.articles, report.new_alerts, notices)


async def sync_periodically(
    app: App, settings: Settings, stop: asyncio.Event, hooks: Sequence[AlertHook] = ()
) -> None:
    """``run``'s list schedule: sync every LIST_SYNC_INTERVAL_H hours, the first time when the
    oldest source's last attempt is that old (at once on a fresh database); 0 switches it off.
    A failing sync is logged and tried again at the next turn; it never stops the watch."""
    interval = settings.list_sync_interval_h * 3600
    if interval <= 0:
        return
    while not stop.is_set():
        try:
            sources = configured_sources(settings)
            wait = max(0.0, _next_due(app, sources, interval) - utcnow().timestamp())
        except ListFormatError:
            log.exception("list sources are misconfigured; list sync is off until the next start")
            return
        if await _stopped_within(stop, wait):
            return
        try:
            report = await sync_and_rescreen(app, settings, sources, hooks=hooks)
        except Exception:  # a bug in one sync must not end the watch; the next turn tries again
            log.exception("list sync failed")
            await _stopped_within(stop, min(interval, 3600))
            continue
        for outcome in report.outcomes:
            (log.warning if outcome.status == FAILED else log.info)("list sync: %s", outcome.line())


def _next_due(app: App, sources: Sequence[ListSourceConfig], interval: float) -> float:
    with session_scope(app.engine) as session:
        attempts = [sync_state(session=session, source=s.id).last_attempt_at for s in sources]
    if not attempts or any(a is None for a in attempts):
        return 0.0
    return min(a.timestamp() for a in attempts if a is not None) + interval


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless ``stop`` is set first; whether it was."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
