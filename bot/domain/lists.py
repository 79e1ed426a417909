"""An imported sanctions list: what every list parser returns and the importer stores.

The parsers (``bot.lists``) build it; ``db.lists`` imports it into the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.matching.model import Entity


@dataclass(frozen=True)
class ParsedList:
    """One imported list: its entities plus what is needed to tell whether it changed.

    ``version`` is the list's own date where the file states one (the UN ``dateGenerated``),
    else the newest input file's modification date, both as ``YYYY-MM-DD``. ``warnings`` are
    problems that did not stop the import (a missing ``alt.csv``, an alias for an unknown
    ``ent_num``); the importer shows them to the admin.
    """

    source: str
    version: str
    sha256: str
    files: tuple[str, ...]
    entities: tuple[Entity, ...]
    warnings: tuple[str, ...]
