"""Many scanned texts stored at once: their articles, alerts, parties and sources in a few
multi-row statements, with the same rows and keys as storing them one by one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlmodel import Session, func, select

from db.alerts import StoredScan, alert_row, alerts_keyed, dedup_key, entity_rows
from db.articles import article_row, articles_at, articles_with, content_hash
from db.models import Alert, AlertSource, Article
from db.unique import insert_many_or_ignore

# pg_advisory_xact_lock key held while a batch of scans is stored: "sbscanst".
PG_SCAN_LOCK = 0x73627363616E7374

Identity = tuple[str, str]  # ("url", URL identity) or ("text", content hash)
Keyed = Sequence[Sequence[tuple[str, dict[str, Any]]]]  # per scan: (dedup key, alert data)


@dataclass(frozen=True)
class ScannedText:
    """One scanned input to store: the article's fields and its alerts in the JSON contract's shape.

    ``url_key`` (a URL identity) makes the article the one at that key, so the same text at
    another URL is another article (another outlet's copy, a source of the same story); without
    it the text is the identity, as for a file. ``story_id`` and ``simhash`` are stored with a
    new article: its alerts are then keyed by the story, not by the article.
    """

    source: str
    text: str
    title: str = ""
    url: str | None = None
    alerts: Sequence[dict[str, Any]] = ()
    url_key: str | None = None
    outlet: str = ""
    story_id: int | None = None
    simhash: int | None = None
    digest: str = ""  # the text's ``content_hash`` when the caller has it already

    @cached_property
    def content_hash(self) -> str:
        """Asked for several times while a batch is stored (finding, grouping, inserting)."""
        return self.digest or content_hash(self.text)


def scan_identity(scan: ScannedText) -> Identity:
    """What makes two scanned texts one article: the URL identity, else the text."""
    return ("url", scan.url_key) if scan.url_key else ("text", scan.content_hash)


def find_articles(*, session: Session, scans: Sequence[ScannedText]) -> dict[Identity, Article]:
    """The articles already stored for these texts, by ``scan_identity``: the article at a URL
    identity; for a text without one, the first article with that text (at any URL)."""
    identities = [scan_identity(scan) for scan in scans]
    found = {("url", k): a for k, a in articles_at(session, _keys(identities, "url")).items()}
    found.update(
        {("text", k): a for k, a in articles_with(session, _keys(identities, "text")).items()}
    )
    return found


def scan_scope(article: Article) -> str:
    """What an article's alerts are keyed by: its story when it has one, else itself."""
    return f"story:{article.story_id}" if article.story_id else f"article:{article.id}"


def store_scans(
    *,
    session: Session,
    scans: Sequence[ScannedText],
    known: dict[Identity, Article] | None = None,
) -> list[StoredScan]:
    """Store many scanned texts and their alerts with a few statements; one ``StoredScan`` each.

    The rows, keys and sources are those of ``store_article`` then ``store_alerts`` called for
    each text in turn (with the article's ``scan_scope``), ids aside: a text stored before or
    earlier in the batch is that article (``created`` False), each (story or article, rule,
    regime) is one alert, each (alert, article) pair one source. Every row goes in with
    ``INSERT ... ON CONFLICT DO NOTHING`` and the rows holding the keys are read back, so
    processes storing the same texts at the same moment still store each once. ``known``:
    ``find_articles`` of these scans, when the caller has it already.
    """
    if session.get_bind().dialect.name == "postgresql":
        # Two batches inserting the same keys in different orders would each wait for the other's
        # uncommitted rows (a deadlock): batches take turns, as SQLite's writers always do.
        session.exec(select(func.pg_advisory_xact_lock(PG_SCAN_LOCK)))
    identities = [scan_identity(scan) for scan in scans]
    articles = dict(known) if known is not None else find_articles(session=session, scans=scans)
    created = _insert_articles(session, scans, identities, articles)
    keyed = [
        [(dedup_key(scan_scope(articles[identity]), data), data) for data in scan.alerts]
        for identity, scan in zip(identities, scans, strict=True)
    ]
    alerts, new_ids, added = _insert_alerts(session, identities, keyed, articles)
    return _outcomes([articles[i] for i in identities], keyed, alerts, new_ids, added, created)


def _outcomes(
    articles: Sequence[Article],
    keyed: Keyed,
    alerts: dict[str, Alert],
    new_ids: set[int],
    added: set[tuple[int, int]],
    created: set[int],
) -> list[StoredScan]:
    """What each scan did, as one-by-one storing would report it: an alert is new for the
    first scan that created it, joined for the first scan that added its article as a source."""
    results: list[StoredScan] = []
    told: set[int] = set()  # created alerts already reported as new
    counted: set[tuple[int, int]] = set()  # (alert, article) pairs already reported
    for article, pairs in zip(articles, keyed, strict=True):
        rows: list[Alert] = []
        new: list[Alert] = []
        joined: list[Alert] = []
        for key, _ in pairs:
            alert = alerts[key]
            pair = (alert.id or 0, article.id or 0)
            if alert.id in new_ids and alert.id not in told:
                told.add(alert.id or 0)
                counted.add(pair)
                new.append(alert)
            elif pair in added and pair not in counted:
                counted.add(pair)
                joined.append(alert)
            rows.append(alert)
        first = article.id in created
        created.discard(article.id or 0)
        results.append(StoredScan(article, rows, new, joined, first))
    return results


def _insert_articles(
    session: Session,
    scans: Sequence[ScannedText],
    identities: Sequence[Identity],
    articles: dict[Identity, Article],
) -> set[int]:
    """Insert the first scan of each identity not stored yet, in order, and read every one of
    them back into ``articles`` (ours, or a concurrent writer's); the ids inserted."""
    unseen: dict[Identity, ScannedText] = {}
    for identity, scan in zip(identities, scans, strict=True):
        if identity not in articles:
            unseen.setdefault(identity, scan)
    rows = [
        article_row(
            source=scan.source,
            text=scan.text,
            digest=scan.content_hash if kind == "url" else digest,
            title=scan.title,
            url=scan.url,
            url_key=scan.url_key,
            outlet=scan.outlet,
            story_id=scan.story_id,
            simhash=scan.simhash,
        )
        for (kind, digest), scan in unseen.items()
    ]
    inserted = {row.id for row in insert_many_or_ignore(session, rows)}
    keys = list(unseen)
    articles.update({("url", k): a for k, a in articles_at(session, _keys(keys, "url")).items()})
    by_text = articles_with(session, _keys(keys, "text"), url_key_null=True)
    articles.update({("text", k): a for k, a in by_text.items()})
    return inserted


def _insert_alerts(
    session: Session,
    identities: Sequence[Identity],
    keyed: Keyed,
    articles: dict[Identity, Article],
) -> tuple[dict[str, Alert], set[int], set[tuple[int, int]]]:
    """The alerts of every key (new ones inserted with their parties), the ids of those
    inserted, and the (alert, article) source pairs inserted."""
    alerts = alerts_keyed(session, [key for pairs in keyed for key, _ in pairs])
    unseen: dict[str, Alert] = {}
    for identity, pairs in zip(identities, keyed, strict=True):
        for key, data in pairs:
            if key not in alerts and key not in unseen:
                unseen[key] = alert_row(articles[identity].id or 0, key, data)
    created = {row.id for row in insert_many_or_ignore(session, list(unseen.values()))}
    alerts.update(alerts_keyed(session, list(unseen)))
    for key, row in unseen.items():
        if alerts[key].id in created:
            session.add_all(entity_rows(alerts[key].id or 0, row.entities))
    pairs_in_order = dict.fromkeys(
        (alerts[key].id or 0, articles[identity].id or 0)
        for identity, pairs in zip(identities, keyed, strict=True)
        for key, _ in pairs
    )
    sources = [AlertSource(alert_id=alert, article_id=article) for alert, article in pairs_in_order]
    inserted = insert_many_or_ignore(session, sources, "alert_id", "article_id")
    session.flush()
    return alerts, created, {(row.alert_id, row.article_id) for row in inserted}


def _keys(identities: Sequence[Identity], kind: str) -> list[str]:
    return [key for which, key in identities if which == kind]
