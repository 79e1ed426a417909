"""A list update reaches the articles already seen (re-screened against the new names only) and
the chats watching a name that has just been listed.

When a sync adds a designation or changes a listed party's names, the articles of the last
days may name that party without having raised an alert, since the name was not listed when
they came in. They are scanned again with a matcher that knows only the new or changed
entries (the rules are the same), and each alert naming one of them is stored like any other,
marked ``found_by: list-update`` and explained, and queued for the subscribed chats by the
same hooks as the pipeline's alerts. Alerts the article already had (same story, rule and
regime) are not raised twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.app import App
from bot.matching.engine import Matcher
from bot.matching.model import Document, Entity, EntityMatch
from bot.matching.rules import RuleSet
from bot.report import alert_to_dict, entity_to_dict
from bot.watch import find_watch_hits, watch_alerts
from db.alerts import store_alerts
from db.articles import store_article
from db.chats import watch_targets
from db.engine import session_scope
from db.lists import load_entities
from db.models import Alert, Article, utcnow

log = logging.getLogger(__name__)

AlertHook = Callable[[Session, Alert], Any]
BATCH = 200


@dataclass(frozen=True)
class RescreenReport:
    articles: int
    new_alerts: list[int]  # ids


def rescreen(
    app: App,
    keys: Collection[str],
    *,
    days: int,
    hooks: Sequence[AlertHook] = (),
    why: str = "a list update",
) -> RescreenReport:
    """Scan the last ``days`` of stored articles for the listed parties ``keys``; new alerts
    are stored and handed to ``hooks`` (the Telegram outbox) in the same transaction."""
    if not keys or days <= 0:
        return RescreenReport(0, [])
    with session_scope(app.engine) as session:
        entities = [entity for entity in load_entities(session=session) if entity.key in keys]
    if not entities:
        return RescreenReport(0, [])
    matcher = Matcher(app.rules(), entities, max_chars=app.settings.match_max_chars)
    since = utcnow() - timedelta(days=days)
    scanned, new_ids = 0, []
    last_id = 0
    while True:
        with session_scope(app.engine) as session:
            batch = list(
                session.exec(
                    select(Article)
                    .where(col(Article.fetched_at) >= since, col(Article.id) > last_id)
                    .order_by(col(Article.id))
                    .limit(BATCH)
                )
            )
            if not batch:
                break
            for article in batch:
                new_ids += _rescreen_one(session, matcher, article, set(keys), hooks, why)
            last_id = batch[-1].id or last_id
            scanned += len(batch)
    log.info(
        "re-screened %d articles for %d new or changed list entries: %d new alerts",
        scanned,
        len(entities),
        len(new_ids),
    )
    return RescreenReport(scanned, new_ids)


def _rescreen_one(
    session: Session,
    matcher: Matcher,
    article: Article,
    keys: set[str],
    hooks: Sequence[AlertHook],
    why: str,
) -> list[int]:
    alerts = []
    for alert in matcher.scan(Document(article.text, article.title)):
        data = alert_to_dict(alert)
        named = [e for e in data["entities"] if e.get("key") in keys]
        if not named:
            continue  # an alert of the rules alone was raised when the article came in
        data["found_by"] = "list-update"
        data["explanation"] = [
            *data.get("explanation", []),
            f"found by re-screening after {why}: {', '.join(e['name'] for e in named)}",
        ]
        alerts.append(data)
    if not alerts:
        return []
    scope = f"story:{article.story_id}" if article.story_id else None
    stored = store_alerts(session=session, article=article, alerts=alerts, story=scope)
    for row in stored.new_alerts:
        for hook in hooks:
            hook(session, row)
    return [row.id or 0 for row in stored.new_alerts]


# --- telling the watchers of a new listing -------------------------------------------------------

_NO_RULES = RuleSet(rules=(), terms={}, parties=(), list_selectors={})


def tell_watchers(
    app: App, added: Collection[str], *, hooks: Sequence[AlertHook] = (), why: str = "a list update"
) -> list[int]:
    """A chat watching a name that is not listed ("Zelkova Horizon") hears when it becomes listed.

    Each newly listed entry is written as a short notice (its names, list, reference, programs)
    and the chats' watched names are looked for in it with the same matching as in articles; a
    hit is stored as a watchlist alert on that notice, so the outbox sends it once to exactly the
    chats watching that name. Returns the new alerts' ids.
    """
    if not added:
        return []
    with session_scope(app.engine) as session:
        targets = [t for t in watch_targets(session=session) if t.is_term]
        entities = [e for e in load_entities(session=session) if e.key in added] if targets else []
    if not entities:
        return []
    matcher = Matcher(_NO_RULES, entities, scorer=None)
    new_ids: list[int] = []
    for entity in entities:
        title, notice = _notice(entity)
        analysis = matcher.analyze(Document(notice, title))
        hits = find_watch_hits(analysis, targets)
        if not hits:
            continue
        own = next((p.match for p in analysis.parties if p.match.entity.key == entity.key), None)
        alerts = [_as_listing(data, own, why) for data in watch_alerts(analysis, hits)]
        with session_scope(app.engine) as session:
            article, _ = store_article(
                session=session, source=f"list-update:{entity.source}", text=notice, title=title
            )
            stored = store_alerts(session=session, article=article, alerts=alerts)
            for row in stored.new_alerts:
                for hook in hooks:
                    hook(session, row)
            new_ids += [row.id or 0 for row in stored.new_alerts]
    return new_ids


def _notice(entity: Entity) -> tuple[str, str]:
    names = "; ".join(name.text for name in entity.names[:12])
    programs = ", ".join(entity.programs) or "no program given"
    version = entity.version.split("/")[0] or "current"
    title = f"Newly listed: {entity.caption}"
    return title, (
        f"{entity.caption} is newly listed in the {entity.source} list (reference {entity.list_id}, "
        f"version {version}, programs: {programs}).\nNames: {names}."
    )


def _as_listing(data: dict[str, Any], own: EntityMatch | None, why: str) -> dict[str, Any]:
    watched = data["entities"][0]["name"]
    data["title"] = f"Watchlist: {watched} is now listed"[:512]
    data["found_by"] = "list-update"
    data["explanation"] = [
        *data["explanation"],
        f"the watched name '{watched}' is a name of a party added by {why}",
    ]
    if own is not None:
        data["entities"].append(entity_to_dict(own, True))
    return data
