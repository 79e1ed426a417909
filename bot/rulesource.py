"""A rule file as read: its data, and the line of any path inside it.

Every problem in a rule file is reported as ``path:line: message``, so a reviewer can jump to
it: the parsed data says *what* is wrong, the YAML node tree kept beside it says *where*.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


@dataclass
class Located:
    """A parsed YAML file plus a way to find the line of any path inside it."""

    path: Path
    data: Any
    node: yaml.Node
    rule_positions: list[int] | None = None  # file positions of the rules that validated

    def line(self, location: Iterable[str | int]) -> int:
        """The line of the deepest node of ``location`` that exists (the file's first line
        for an empty location)."""
        node: yaml.Node | None = self.node
        line = node.start_mark.line + 1 if node else 1
        for key in location:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == key), None)
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(key, int)
                and key < len(node.value)
            ):
                node = node.value[key]
            else:
                break
            if node is None:
                break
            line = node.start_mark.line + 1
        return line

    def problem(self, location: Sequence[str | int], message: str) -> str:
        """``path:line: message`` for the node at ``location``."""
        return f"{self.path}:{self.line(location)}: {message}"


def pydantic_problems(
    located: Located, error: ValidationError, prefix: Sequence[str | int] = ()
) -> list[str]:
    """One ``path:line: where: message`` per validation error, ``prefix`` leading to the part
    of the file that was validated."""
    problems = []
    for item in error.errors():
        location = [
            *prefix,
            *(
                part
                for part in item["loc"]
                if not (isinstance(part, str) and part.startswith("function-"))
            ),
        ]
        where = ".".join(str(part) for part in location) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{located.path}:{located.line(location)}: {where}: {message}")
    return problems
