"""One exception root: every exception the project defines is a ``SanctionsBotError``, drawn in
the tree of ``bot.errors``'s docstring under its real parent."""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache
from types import ModuleType

import pytest

import bot
import bot.errors
import db
from bot.errors import DataError, SanctionsBotError, UserInputError

# Not importable on their own: ``__main__`` runs the CLI, the migrations run inside Alembic.
SKIP = ("bot.__main__", "db.migrations")

# Control-flow signals, not errors: private, caught in the module that raises them, never seen by
# a caller. Each is named in the docstring's "Deliberately outside the tree" paragraph.
CONTROL_FLOW = {
    # one fetch attempt asking the retry loop for another go; the loop raises its ``.error``
    "bot.ingest.http._Retry",
    # a BaseException on purpose, so trafilatura's ``except Exception`` cannot swallow the deadline
    "bot.ingest.extractor._TimedOut",
}

# Were ``ValueError``s before the tree existed; callers catch them as such, so they still are.
VALUE_ERRORS = (
    "bot.evaluation.EvalInputError",
    "bot.matching.rules.ConditionError",
    "bot.tg.args.ArgError",
    "bot.inputs.InputError",
    "bot.lists.types.ListFormatError",
    "bot.rulefiles.RuleFileError",
    "db.review.ReviewError",
    "db.feeds.FeedInputError",
    "db.lists.ListShrankError",
    "db.chats.ChatError",
)


def _skipped(name: str) -> bool:
    return any(name == s or name.startswith(s + ".") for s in SKIP)


@cache
def project_modules() -> tuple[ModuleType, ...]:
    found = []
    for package in (bot, db):
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not _skipped(info.name):
                found.append(importlib.import_module(info.name))
    return tuple(found)


@cache
def project_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined (not merely imported) in a project module, by full name."""
    return {
        f"{module.__name__}.{name}": value
        for module in project_modules()
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    }


def _tree() -> dict[str, str | None]:
    """The docstring's tree as ``{class name: parent's name}`` (the root's parent is None)."""
    doc = bot.errors.__doc__ or ""
    block = doc.split("Hierarchy::", 1)[1].split("\n\n")[1]
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in block.splitlines():
        match = re.search(r"\w+", line)  # the box-drawing characters are not word characters
        assert match is not None, line
        depth = (match.start() - 4) // 4  # four columns per level, the root's indented by four
        del path[depth:]
        parents[match.group()] = path[-1] if path else None
        path.append(match.group())
    return parents


def test_modules_are_found() -> None:
    names = {module.__name__ for module in project_modules()}
    assert {"bot.errors", "bot.matching.rules", "bot.tg.health", "db.chats"} <= names
    assert "bot.ingest.errors.IngestError" in project_exceptions()


def test_the_tree_parser_reads_the_docstring() -> None:
    tree = _tree()
    assert tree["SanctionsBotError"] is None
    assert tree["UserInputError"] == "SanctionsBotError"
    assert tree["ArgError"] == "UserInputError"
    assert tree["HTTPStatusError"] == "FetchError"
    assert tree["TokenRejected"] == "BotStopped"


def test_every_exception_derives_from_the_root() -> None:
    strays = [
        name
        for name, cls in project_exceptions().items()
        if name not in CONTROL_FLOW and not issubclass(cls, SanctionsBotError)
    ]
    assert strays == []


def test_every_exception_is_in_the_tree_under_its_parent() -> None:
    tree = _tree()
    names = [name for name in project_exceptions() if name not in CONTROL_FLOW]
    errors = {project_exceptions()[name].__name__: project_exceptions()[name] for name in names}
    assert len(errors) == len(names), "two exceptions share a name: the tree cannot tell them apart"
    assert sorted(errors) == sorted(tree), "the docstring's tree and the classes differ"
    wrong = []
    for name, cls in errors.items():
        parent = next((b.__name__ for b in cls.__mro__[1:] if b in errors.values()), None)
        if parent != tree[name]:
            wrong.append(f"{name}: derives from {parent}, drawn under {tree[name]}")
    assert wrong == []


def test_control_flow_signals_are_few_private_and_documented() -> None:
    exceptions = project_exceptions()
    doc = bot.errors.__doc__ or ""
    for name in CONTROL_FLOW:
        assert name in exceptions, f"{name} is gone: drop it from CONTROL_FLOW"
        assert name.rpartition(".")[2].startswith("_"), f"{name} is public: make it an error"
        assert f"``{name}``" in doc, f"{name} is not named in bot.errors' docstring"


@pytest.mark.parametrize("name", VALUE_ERRORS)
def test_former_value_errors_still_are(name: str) -> None:
    cls = project_exceptions()[name]
    assert issubclass(cls, ValueError)
    assert issubclass(cls, (UserInputError, DataError))
