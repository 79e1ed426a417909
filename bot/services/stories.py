"""One story per event: which stored story a new text retells, or that it starts one.

A story is its body (``story_body``: the text without the leading lines that repeat one of its
titles). A new text's body fingerprint (``simhash64``) is compared with the fingerprints of the
last week's stories, kept in memory and reloaded every ``STORY_RELOAD_S`` (other processes add
stories too); candidates within ``CANDIDATE_THRESHOLD`` bits, nearest first, are confirmed by
shingle overlap (``same_story``) with the body of the story's first article, recomputed from its
stored text and title. Stories stored before fingerprints were taken on the body keep a
fingerprint of the whole text: a few bits from the body's, well inside the candidate threshold
for all but the shortest texts, and such stories leave the window within ``STORY_WINDOW``.

``StoryIndex.assign`` places a whole batch of texts with two queries (the first articles of every
candidate story, then the new stories inserted together); a text later in the batch may join a
story an earlier one started, exactly as if they had come one by one. The confirmation is
``same_story``'s, on shingle sets computed once per body and batch rather than once per pair.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from sqlmodel import Session

from bot.ingest.fingerprint import (
    CANDIDATE_THRESHOLD,
    hamming,
    same_story_sets,
    shingle_set,
    simhash64,
    story_body,
)
from db.models import utcnow
from db.stories import new_stories, recent_stories, story_texts

__all__ = ["NewText", "StoryIndex", "fingerprint", "same_story_sets", "shingle_set"]

STORY_WINDOW = timedelta(days=7)
STORY_RELOAD_S = 60.0
MAX_CANDIDATES = 5
_NEW = 1 << 62  # sorts a story started in this batch after every stored one at the same distance


def fingerprint(text: str, *titles: str) -> int:
    """The story fingerprint of a text: the simhash of its body (its titles' lines left out)."""
    return simhash64(story_body(text, *titles))


@dataclass(frozen=True)
class NewText:
    """A text to place in a story: its fingerprint (``fingerprint(text, title, headline)``), its
    text and title as its article stores them, and another title it came with (a feed entry's)."""

    fingerprint: int
    text: str
    title: str
    headline: str = ""

    @cached_property
    def body(self) -> str:
        """What is compared: the text without the lines repeating any of its titles."""
        return story_body(self.text, self.title, self.headline)

    @cached_property
    def stored_body(self) -> str:
        """The body as later texts see it, recomputed from the stored text and title."""
        return story_body(self.text, self.title) if self.headline else self.body

    @cached_property
    def shingles(self) -> frozenset[tuple[str, ...]]:
        """The body's shingle set, made once however many candidates it is compared with."""
        return shingle_set(self.body)

    @cached_property
    def stored_shingles(self) -> frozenset[tuple[str, ...]]:
        """The stored body's shingle set: a later text of the batch is compared with it."""
        return shingle_set(self.stored_body) if self.headline else self.shingles


class StoryIndex:
    """The recent stories of one process. ``lock`` is held by whoever assigns stories and
    stores the articles that tell them, so the in-memory list stays true to the database."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._stories: list[tuple[int, int]] = []  # (story id, unsigned fingerprint)
        self._loaded_at = float("-inf")

    def assign(self, session: Session, texts: Sequence[NewText]) -> list[int]:
        """The story id of each text, in order: a recent story it retells, else a new one."""
        if not texts:
            return []
        self._reload(session)
        candidates = [self._candidates(text.fingerprint) for text in texts]
        ids = [story_id for found in candidates for _, story_id in found]
        stored = story_texts(session=session, story_ids=ids)
        bodies = _Bodies(stored)
        choices: list[int] = []  # a stored story's id, or _NEW + the index of a story started here
        started: list[NewText] = []
        for text, stored_near in zip(texts, candidates, strict=True):
            started_near = [
                (distance, _NEW + index)
                for index, other in enumerate(started)
                if (distance := hamming(text.fingerprint, other.fingerprint)) <= CANDIDATE_THRESHOLD
            ]
            choice = bodies.first_confirmed(
                text, sorted(stored_near + started_near)[:MAX_CANDIDATES]
            )
            if choice is None:
                choice = _NEW + len(started)
                bodies.started[choice] = text
                started.append(text)
            choices.append(choice)
        new = new_stories(session=session, starts=[(t.fingerprint, t.title) for t in started])
        self._stories.extend(zip(new, (t.fingerprint for t in started), strict=True))
        return [new[choice - _NEW] if choice >= _NEW else choice for choice in choices]

    def _reload(self, session: Session) -> None:
        now = time.monotonic()
        if now - self._loaded_at >= STORY_RELOAD_S:
            self._stories = recent_stories(session=session, since=utcnow() - STORY_WINDOW)
            self._loaded_at = now

    def _candidates(self, fingerprint: int) -> list[tuple[int, int]]:
        """(distance, story id) of the stored stories near enough, nearest first."""
        found = sorted(
            (distance, story_id)
            for story_id, other in self._stories
            # ``hamming`` written out: this runs for every new text and every recent story
            if (distance := (fingerprint ^ other).bit_count()) <= CANDIDATE_THRESHOLD
        )
        return found[:MAX_CANDIDATES]


class _Bodies:
    """The first bodies of the candidate stories of one batch, and the shingle sets of every
    body compared, each computed once (a new text's own on the text itself)."""

    def __init__(self, stored: dict[int, tuple[str, str]]) -> None:
        self.stored = stored  # story id -> (text, title) of its first article
        self.started: dict[int, NewText] = {}  # _NEW + index -> the text that started it
        self._sets: dict[int, frozenset[tuple[str, ...]]] = {}  # by stored story id

    def first_confirmed(self, text: NewText, candidates: list[tuple[int, int]]) -> int | None:
        """The first candidate whose first article's body overlaps the text's enough."""
        if not candidates:
            return None
        for _, choice in candidates:
            if same_story_sets(text.shingles, self._set_of(choice)):
                return choice
        return None

    def _set_of(self, choice: int) -> frozenset[tuple[str, ...]]:
        if choice >= _NEW:  # a text started it earlier in the batch: its set may be made already
            return self.started[choice].stored_shingles
        if choice not in self._sets:  # the body made only for a candidate compared
            text, title = self.stored.get(choice, ("", ""))
            self._sets[choice] = shingle_set(story_body(text, title))
        return self._sets[choice]
