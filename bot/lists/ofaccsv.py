"""Reading OFAC's legacy CSV files, whose quirks stop here: ``-0- `` for empty fields, CRLF
line ends, a trailing Ctrl-Z, and no header (columns are known by position and counted on
every row).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from bot.lists.types import ListFormatError, read_utf8

EMPTY = "-0-"
CTRL_Z = "\x1a"

PRIMARY_COLUMNS = 12
ALT_COLUMNS = 5
ADD_COLUMNS = 6
COMMENT_COLUMNS = 2


def read_rows(path: Path, columns: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every row, with ``-0-`` turned into "" and Ctrl-Z dropped.

    The column count is checked on every row: a short row means a truncated or foreign file,
    and importing it would shift fields into the wrong columns. The reader is strict because
    the lenient one accepts a quoted field left open at the end of the file, which is exactly
    what a download cut short inside a remark looks like.
    """
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != columns:
                raise ListFormatError(
                    path, f"expected {columns} columns, found {len(row)}", reader.line_num
                )
            yield reader.line_num, [_clean(value) for value in row]
    except csv.Error as exc:
        raise ListFormatError(path, f"malformed CSV: {exc}", reader.line_num) from exc


def _decode(path: Path) -> str:
    text = read_utf8(path)
    complete = text.endswith((CTRL_Z, "\n"))  # OFAC's end marker, or at least a whole last row
    text = text.rstrip("\r\n" + CTRL_Z)
    if not text.strip():
        raise ListFormatError(path, "file is empty")
    if not complete:
        line = text.count("\n") + 1
        raise ListFormatError(path, "the last row has no line end: the file was cut short", line)
    if text.lstrip().startswith("<"):
        raise ListFormatError(path, "starts with '<': an HTML/XML page, not an OFAC CSV", 1)
    return text


def _clean(value: str) -> str:
    value = value.strip()
    return "" if value == EMPTY else value


def ent_num(path: Path, line: int, value: str) -> str:
    """The row's ``ent_num``, which joins the files of a set: a number, else the file is not
    what it claims to be."""
    if not value.isdigit():
        raise ListFormatError(path, f"ent_num {value!r} is not a number", line)
    return value
