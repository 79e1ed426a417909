"""Dependencies point inward: no module imports a layer above its own, and no imports go round.

The layers, bottom to top; a module may import its own layer and the layers below it::

    0 engine    bot.errors, bot.matching   the pure matching engine and the exception root
    1 domain    bot.domain                 the types ``db`` stores (watch targets, tuning changes,
                                           parsed lists): leaf modules over the engine
    2 db        db                         persistence: plain functions taking a session
    3 services  every other ``bot`` module adapters (``bot.ingest``, ``bot.lists``), the wiring
                                           they share (``bot.app``, ``bot.settings``) and the
                                           services (``bot.pipeline``, ``bot.listsync``,
                                           ``bot.rescreen``, ``bot.watch``, ``bot.tuning``...)
    4 doors     bot.cli, bot.__main__,     the ways in: command line, Telegram, the poll loop,
                bot.tg, bot.scheduler,     and the composition root that wires them together
                bot.services.run

``bot.app`` is a service, not a door: it is the wiring (database, rules, matcher) that the
pipeline, the list sync and the re-screening share, and no entry point of its own.

Within the services layer two groups are held to more:

* adapters (``bot.ingest``, ``bot.lists``) read bytes and nothing else: they import only the
  engine, the domain and each other (no database, no services);
* the pure modules (``PURE``) import only the engine, the domain and each other, so they run
  anywhere (a test, a worker process) without a database.

And there are no import cycles between project modules.

Imports are read from the source (``ast``), including those inside functions, which a lazy import
cannot hide; imports under ``if TYPE_CHECKING:`` never run and are ignored. ``from pkg import
name`` counts as importing ``pkg.name`` when that is a module, else ``pkg`` itself. Two
subprocess checks back this with what really loads (a package's ``__init__`` included).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("bot", "db")

# Longest matching prefix wins; any other ``bot`` module is a service.
LAYER_OF = {
    "bot": 0,  # the package's __init__ is empty (test_package_roots_import_nothing)
    "bot.errors": 0,
    "bot.matching": 0,
    "bot.domain": 1,
    "db": 2,
    "bot.cli": 4,
    "bot.__main__": 4,
    "bot.tg": 4,
    "bot.scheduler": 4,
    # The composition root of ``run`` (planned in ``bot.services``' docstring) wires the
    # Telegram bot and the poll loop together, so it is a door, whatever its package.
    "bot.services.run": 4,
}
SERVICES = 3
LAYER_NAMES = {0: "engine", 1: "domain", 2: "db", 3: "services", 4: "doors"}
ADAPTERS = ("bot.ingest", "bot.lists")
PURE = ("bot.watch", "bot.tuning", "bot.report", "bot.variants")

# Import edges (importer, imported) that may break a rule above, each with a comment saying why
# and until when. None today: keep it that way.
ALLOWED: dict[tuple[str, str], str] = {}


# --- the import graph ---------------------------------------------------------------------------


@cache
def modules() -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its ``__init__``)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _owner(name: str) -> str | None:
    """The project module ``name`` is, or is in (``db.chats.watch_targets`` -> ``db.chats``)."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    return ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _import_nodes_of(child))
            continue
        yield from _import_nodes_of(node)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _import_nodes(node)


@cache
def imports_of(module: str) -> dict[str, int]:
    """The project modules ``module`` imports, each with the line of its first import."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.append(full if full in modules() else base)
        for target in targets:
            owner = _owner(target)
            if owner is not None and owner != module:
                found.setdefault(owner, node.lineno)
    return found


def layer(module: str) -> int:
    prefixes = [p for p in LAYER_OF if module == p or module.startswith(p + ".")]
    if not prefixes:
        return SERVICES
    best = max(prefixes, key=len)
    if best == "bot" and module != "bot":
        return SERVICES
    return LAYER_OF[best]


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _where(module: str, target: str) -> str:
    path = modules()[module].relative_to(ROOT)
    return f"{path}:{imports_of(module)[target]}: {module} imports {target}"


# --- the rules ----------------------------------------------------------------------------------


def test_the_graph_sees_the_project() -> None:
    assert {"bot.errors", "bot.matching.engine", "bot.domain.watch", "db.chats", "bot.cli"} <= set(
        modules()
    )
    assert "bot.matching.model" in imports_of("bot.matching.engine")
    assert "db.chats" in imports_of("bot.watchalerts")


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{_where(module, target)} ({LAYER_NAMES[layer(module)]} -> {LAYER_NAMES[layer(target)]})"
        for module in modules()
        for target in imports_of(module)
        if layer(target) > layer(module) and (module, target) not in ALLOWED
    ]
    assert upward == []


def test_the_leaves_import_only_what_they_may() -> None:
    """``bot.errors`` imports nothing of the project; the domain only the engine and errors."""
    wrong = [_where(m, t) for m in modules() if m == "bot.errors" for t in imports_of(m)]
    wrong += [
        _where(m, t)
        for m in modules()
        if _in(m, ("bot.domain",))
        for t in imports_of(m)
        if not _in(t, ("bot.matching", "bot.errors", "bot.domain"))
    ]
    assert wrong == []


def test_package_roots_import_nothing() -> None:
    """``bot`` and ``db`` are loaded with any of their modules, so they must stay empty."""
    assert [_where(m, t) for m in PACKAGES for t in imports_of(m)] == []


def test_adapters_import_no_database_and_no_services() -> None:
    allowed = ("bot.errors", "bot.matching", "bot.domain", *ADAPTERS)
    wrong = [
        _where(module, target)
        for module in modules()
        if _in(module, ADAPTERS)
        for target in imports_of(module)
        if not _in(target, allowed) and (module, target) not in ALLOWED
    ]
    assert wrong == []


def test_pure_modules_import_only_pure_code() -> None:
    allowed = ("bot.errors", "bot.matching", "bot.domain", *PURE)
    wrong = [
        _where(module, target)
        for module in PURE
        for target in imports_of(module)
        if not _in(target, allowed) and (module, target) not in ALLOWED
    ]
    assert wrong == []


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one node (Tarjan's DFS)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return [_a_cycle(graph, component) for component in components]


def _a_cycle(graph: dict[str, list[str]], component: set[str]) -> list[str]:
    """One cycle inside a strongly connected component: a path back to where it started."""
    start = min(component)
    path, seen = [start], {start}
    while True:
        nxt = next(t for t in graph[path[-1]] if t in component)
        if nxt in seen:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)
        seen.add(nxt)


def test_no_import_cycles() -> None:
    graph = {
        m: sorted(t for t in imports_of(m) if (m, t) not in ALLOWED) for m in sorted(modules())
    }
    assert [" -> ".join(cycle) for cycle in _cycles(graph)] == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": ["b"], "b": ["c", "e"], "c": ["a"], "d": ["a"], "e": ["f"], "f": ["e"], "g": []}
    assert sorted(_cycles(graph)) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def test_every_allowed_edge_still_exists() -> None:
    """An allowance outlives its reason unnoticed; drop it as soon as the import is gone."""
    assert [edge for edge in ALLOWED if edge[1] not in imports_of(edge[0])] == []


# --- what really loads --------------------------------------------------------------------------


def _loaded_after(imports: list[str]) -> set[str]:
    code = f"import sys, {', '.join(imports)}; print(','.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(out.strip().split(","))


def test_the_database_layer_loads_nothing_above_the_domain() -> None:
    db_modules = [m for m in modules() if _in(m, ("db",)) and not _in(m, ("db.migrations",))]
    loaded = _loaded_after(db_modules)
    assert sorted(m for m in loaded if _in(m, ("bot",)) and layer(m) > layer("db")) == []
    assert sorted(m for m in loaded if _in(m, ("telegram", "httpx"))) == []


def test_the_domain_loads_no_io() -> None:
    domain = [m for m in modules() if _in(m, ("bot.domain", "bot.errors"))]
    loaded = _loaded_after(domain)
    forbidden = ("db", "sqlmodel", "sqlalchemy", "telegram", "httpx")
    assert sorted(m for m in loaded if _in(m, forbidden)) == []
    assert sorted(m for m in loaded if _in(m, ("bot",)) and layer(m) > layer("bot.domain")) == []
