"""Wiring shared by the CLI, the pipeline and the Telegram bot: database, rules, matcher.

The matcher is the expensive object (the name index over every imported list). It is built
once per process and rebuilt only when the rule files or an imported list change, detected
by a fingerprint of both.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from bot import matchercache
from bot.matching.engine import Matcher
from bot.matching.rules import RuleSet
from bot.rulefiles import load_rules
from bot.settings import Settings
from bot.tuning import apply_to_entities, apply_to_rules
from db.engine import open_database, safe_url, session_scope
from db.lists import lists_fingerprint, load_entities
from db.outage import DatabaseHealth
from db.review import tuning_changes, tuning_version

log = logging.getLogger(__name__)


def rules_fingerprint(directory: Path) -> str:
    """Changes when any rule file is added, removed or written (names, sizes, change times)."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.yaml")):
        stat = path.stat()
        digest.update(f"{path.relative_to(directory)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass
class App:
    """One per process: settings, the database engine and the current matcher."""

    settings: Settings
    engine: Engine
    _matcher: Matcher | None = None
    _fingerprint: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    db_health: DatabaseHealth = field(init=False)  # outages of ``engine`` (see ``db.outage``)

    def __post_init__(self) -> None:
        self.db_health = DatabaseHealth(safe_url(self.engine.url))

    @property
    def _cache_dir(self) -> Path | None:
        return self.settings.data_dir / "cache" if self.settings.matcher_cache else None

    @classmethod
    def open(cls, settings: Settings) -> App:
        return cls(settings=settings, engine=open_database(settings.resolved_database_url))

    def matcher_file(self) -> Path | None:
        """The file the current matcher is kept in (``DATA_DIR/cache``), so that worker
        processes can match without building it; None when the cache is off or was not
        written (an unwritable directory)."""
        if self._cache_dir is None or not self._fingerprint:
            return None
        path = matchercache.path_for(self._cache_dir, self._fingerprint)
        return path if path.is_file() else None

    def rules(self) -> RuleSet:
        """The rule files with review's changes applied (negative examples, suppressed parties)."""
        with session_scope(self.engine) as session:
            changes = tuning_changes(session=session)
        return apply_to_rules(load_rules(self.settings.rules_dir), changes)

    def matcher(self) -> Matcher:
        """The matcher for the current rules, lists and review changes, rebuilt after they change.

        The check is cheap (file sizes and times, two one-row queries), because a busy
        pipeline asks for the matcher once per article and review changes must apply at once.
        """
        with self._lock:
            with session_scope(self.engine) as session:
                fingerprint = "|".join(
                    (
                        str(self.settings.rules_dir.resolve()),
                        rules_fingerprint(self.settings.rules_dir),
                        lists_fingerprint(session=session),
                        f"tuning={tuning_version(session=session)}",
                        f"max_chars={self.settings.match_max_chars}",
                    )
                )
                if self._matcher is not None and fingerprint == self._fingerprint:
                    return self._matcher
                cached = (
                    matchercache.load(self._cache_dir, fingerprint) if self._cache_dir else None
                )
                if cached is None:
                    changes = tuning_changes(session=session)
                    entities = apply_to_entities(load_entities(session=session), changes)
            if cached is None:
                rules = apply_to_rules(load_rules(self.settings.rules_dir), changes)
                self._matcher = Matcher(rules, entities, max_chars=self.settings.match_max_chars)
                if self._cache_dir:
                    matchercache.save(self._cache_dir, fingerprint, self._matcher)
                how = "built"
            else:
                self._matcher, how = cached, "read from the cache"
            self._fingerprint = fingerprint
            # The index is hundreds of thousands of long-lived objects: keep the cyclic garbage
            # collector from rescanning them on every collection (steadier scan times). A
            # build leaves garbage to collect first; a read from the cache is frozen as it is
            # read (``matchercache.read``).
            if cached is None:
                gc.collect()
                gc.freeze()
            log.info(
                "matcher %s: %d rules, %d names indexed",
                how,
                len(self._matcher.rules.rules),
                self._matcher.names_indexed,
            )
            return self._matcher
