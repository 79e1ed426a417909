"""Sanctions-list parsers: OFAC legacy CSV, the UN Consolidated List XML and OpenSanctions
FollowTheMoney JSON lines, all turned into ``bot.matching.model.Entity`` records.

This package is an adapter: it reads files and nothing else (no database, Telegram or HTTP),
so it can run in the importer, the CLI and tests alike.
"""

from bot.domain.lists import ParsedList
from bot.lists.detect import detect_format, load_list
from bot.lists.types import ListFormatError

__all__ = ["ListFormatError", "ParsedList", "detect_format", "load_list"]
