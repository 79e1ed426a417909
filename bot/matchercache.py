"""A built matcher kept on disk, so a command that starts does not rebuild the name index.

Building the index over the OFAC and UN lists takes two seconds or more, and a ``scan`` of one
file from a script starts a new process each time. The built matcher is pickled under
``DATA_DIR/cache/``, keyed by everything it is made of: the rule files, the lists in force (their
hashes), review's changes, the match limit, and the engine's own source code (a pickle of an
older engine is never loaded into a newer one). A file that cannot be read is ignored and the
matcher is built as before; the newest two files are kept.

The cache directory must be as trusted as the database beside it: a pickle runs code when read.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path

from bot.matching import engine
from bot.matching.engine import Matcher, collector_paused

log = logging.getLogger(__name__)
KEEP = 2


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """The engine's source files and data: a change to any of them makes old pickles unusable."""
    digest = hashlib.sha256()
    package = Path(engine.__file__).parent
    for path in sorted([*package.glob("*.py"), *package.glob("data/*.yaml")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def path_for(folder: Path, key: str) -> Path:
    digest = hashlib.sha256(f"{code_fingerprint()}|{key}".encode()).hexdigest()[:24]
    return folder / f"matcher-{digest}.pickle"


def load(folder: Path, key: str) -> Matcher | None:
    path = path_for(folder, key)
    matcher = read(path)
    if matcher is not None:
        os.utime(path)  # most recently used: kept by ``save``'s clean-up
    return matcher


def read(path: Path) -> Matcher | None:
    """The matcher kept in ``path``; None when the file is gone, cut or not a matcher. (The
    extraction processes read the running bot's current matcher this way.)"""
    try:
        with path.open("rb") as handle, collector_paused():
            matcher = pickle.load(handle)
            # Frozen before the collector runs again: its first collection would otherwise
            # walk every object just read (a third of a second), all of them long-lived.
            gc.freeze()
    except FileNotFoundError:
        return None
    except Exception:  # a cut or stale file: build instead, and overwrite it
        log.warning("ignoring the unreadable matcher cache %s", path, exc_info=True)
        return None
    return matcher if isinstance(matcher, Matcher) else None


def save(folder: Path, key: str, matcher: Matcher) -> None:
    """Write atomically (a reader sees the old file or the whole new one) and drop old files."""
    path = path_for(folder, key)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".matcher-", delete=False) as handle:
            pickle.dump(matcher, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
        cached = sorted(
            folder.glob("matcher-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in cached[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        log.warning("cannot write the matcher cache in %s", folder, exc_info=True)
