"""Reading an article in an extraction process: the page extracted, the text matched and its
story fingerprint taken, in one call (``read_article``).

Why: the event loop's process fetches, parses feeds and stores, and before this it matched
every article too (a thread of it, holding the interpreter lock for several milliseconds an
article). On two cores that one process was the bound of a cycle while the extraction
processes waited for it. Matching where the page is extracted moves most of an article's CPU
time to the processes that have it to spare, and only the scan result (a small dict) and the
fingerprint come back.

The worker needs the matcher the bot is using: it reads the file the app keeps it in
(``App.matcher_file``, the matcher cache) on its first article and again whenever the bot's
matcher changes (a new file); a worker that cannot read it, or a bot whose cache is off,
leaves the matching to the caller (``Read.result`` is None), as before. With the watchlists
on, the analysis comes back too (they read it in the storing transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import matchercache
from bot.ingest.errors import ExtractError
from bot.ingest.extractor import extract_page
from bot.matching.engine import Analysis, Matcher
from bot.services.scan import ArticleText, match_text


@dataclass(frozen=True)
class ReadJob:
    """One article to read: its page (or none), the text to fall back on (the feed summary),
    the title it came with, and where the matcher is (None: do not match)."""

    source: str
    text: str
    title: str
    url: str | None = None
    html: bytes | None = None
    charset: str | None = None
    matcher_file: str | None = None
    keep_analysis: bool = False
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Read:
    """What reading gave: the text and title to store, why the page was not used (if it was
    not), and, when matched here, the scan result, the story fingerprint and the analysis."""

    text: str
    title: str
    extract_error: str | None = None
    result: dict[str, Any] | None = None
    fingerprint: int | None = None
    analysis: Analysis | None = None


class _Current:
    """The matcher this worker process read last, and from which file."""

    path: str | None = None
    matcher: Matcher | None = None


def read_article(job: ReadJob, matcher: Matcher | None = None) -> Read:
    """Extract, match and fingerprint one article; ``matcher``: the caller's own, when this
    runs in its process (a thread), else the one in ``job.matcher_file``."""
    text, title, error = job.text, job.title, None
    if job.html is not None:
        try:
            page = extract_page(job.html, job.url, job.charset, job.timeout_s)
            text, title = page.text, page.title or job.title
        except ExtractError as failure:
            error = str(failure)
    matcher = matcher or _matcher_in(job.matcher_file)
    if not text.strip() or matcher is None:
        return Read(text, title, error)
    # ``headline``: the title the article came with, left out of the story body like ``title``
    item = ArticleText(job.source, text, title, headline=job.title)
    matched = match_text(matcher, item, fingerprinted=True, keep=job.keep_analysis)
    return Read(text, title, error, matched.result, matched.fingerprint, matched.analysis)


def _matcher_in(path: str | None) -> Matcher | None:
    """The matcher of ``path``, read once per file (a second or two, and the index's memory)."""
    if path is None:
        return None
    if _Current.path != path:
        _Current.matcher = None  # the old index goes before the new one is read
        _Current.matcher = matchercache.read(Path(path))
        _Current.path = path  # read frozen: collections never rescan the index
    return _Current.matcher
