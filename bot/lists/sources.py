"""Where each sanctions list is downloaded from: the bundled official locations, a user's file.

A source is a list the bot keeps current by itself (``lists sync``): an id that becomes the
list's name in the database, a format, the URLs of every file of one version, and a switch.
The bundled ``sources.yaml`` holds the official locations; ``LIST_SOURCES_FILE`` may override
a bundled source (same id: new URLs, ``enabled: false``) or add one, such as a company's own
list in the custom format; ``LIST_SOURCES`` names the ones to sync. A bad file is refused with
its path, line and problem, like a rule file, because a silently ignored source is a list that
silently stops being updated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.lists.types import ListFormatError
from bot.matching.refdata import YAML_LOADER

BUNDLED = Path(__file__).with_name("sources.yaml")
FORMATS = ("ofac", "un", "eu", "uk", "ftm", "custom")
_FIELDS = {"id", "title", "format", "urls", "enabled"}


@dataclass(frozen=True)
class ListSourceConfig:
    """One list to keep current: ``urls`` are all files of one version, fetched together."""

    id: str
    title: str
    format: str
    urls: tuple[str, ...]
    enabled: bool = True


def load_sources(
    extra: Path | None = None, only: Iterable[str] | None = None, bundled: Path = BUNDLED
) -> list[ListSourceConfig]:
    """The configured sources, the user's file layered over the bundled one.

    ``only``: the ids to sync (LIST_SOURCES), which switches every other source off and may
    switch on a bundled one that is off by default. An unknown id there is an error.
    """
    sources = {source.id: source for source in _read(bundled)}
    if extra is not None:
        for source in _read(extra):
            sources[source.id] = source
    if only is not None:
        wanted = [name.strip() for name in only if name.strip()]
        unknown = sorted(set(wanted) - set(sources))
        if unknown:
            raise ListFormatError(
                "LIST_SOURCES",
                f"unknown list source(s) {', '.join(unknown)}; known: {', '.join(sorted(sources))}",
            )
        sources = {key: _switched(source, key in wanted) for key, source in sources.items()}
    return list(sources.values())


def _switched(source: ListSourceConfig, enabled: bool) -> ListSourceConfig:
    return ListSourceConfig(source.id, source.title, source.format, source.urls, enabled)


def _read(path: Path) -> list[ListSourceConfig]:
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=YAML_LOADER)
    except OSError as error:
        raise ListFormatError(
            path, f"cannot read the list sources file: {error.strerror or error}"
        ) from error
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise ListFormatError(path, f"YAML syntax error: {error.problem}", line) from error
    if not isinstance(node, yaml.MappingNode):
        raise ListFormatError(path, "expected a mapping with a 'sources' list at the top level", 1)
    entries = next((value for key, value in node.value if key.value == "sources"), None)
    if not isinstance(entries, yaml.SequenceNode):
        raise ListFormatError(path, "'sources' must be a list of sources", node.start_mark.line + 1)
    seen: set[str] = set()
    found = []
    for entry in entries.value:
        source = _source(path, entry)
        if source.id in seen:
            raise ListFormatError(
                path, f"source {source.id!r} is defined twice", entry.start_mark.line + 1
            )
        seen.add(source.id)
        found.append(source)
    return found


def _source(path: Path, node: yaml.Node) -> ListSourceConfig:
    line = node.start_mark.line + 1
    data: Any = yaml.safe_load(yaml.serialize(node))
    if not isinstance(data, dict):
        raise ListFormatError(path, "each source must be a mapping (id, format, urls ...)", line)
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ListFormatError(
            path,
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}",
            line,
        )
    source_id = data.get("id")
    if (
        not isinstance(source_id, str)
        or not source_id.strip()
        or ":" in source_id
        or len(source_id) > 64
    ):
        raise ListFormatError(
            path, "'id' must be a name of at most 64 characters without ':'", line
        )
    if data.get("format") not in FORMATS:
        raise ListFormatError(
            path, f"{source_id}: 'format' must be one of {', '.join(FORMATS)}", line
        )
    if data["format"] == "custom" and not source_id.startswith("custom-"):
        raise ListFormatError(
            path,
            f"{source_id}: a custom list's id must start with 'custom-' "
            "(so it can never pose as an official list)",
            line,
        )
    urls = data.get("urls")
    if not isinstance(urls, list) or not urls or not all(_is_http(u) for u in urls):
        raise ListFormatError(
            path, f"{source_id}: 'urls' must be a non-empty list of http(s) URLs", line
        )
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ListFormatError(path, f"{source_id}: 'enabled' must be true or false", line)
    return ListSourceConfig(
        source_id, str(data.get("title") or source_id), data["format"], tuple(urls), enabled
    )


def _is_http(url: object) -> bool:
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def enabled(sources: Sequence[ListSourceConfig]) -> list[ListSourceConfig]:
    return [source for source in sources if source.enabled]
