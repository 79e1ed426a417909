"""Fixtures shared by the whole suite.

Real data lives in ``../shared/data`` beside the checkout (third-party files, read in place and
never copied into the project). On a developer machine without it those tests skip; in CI (``CI``
set) a missing ``../shared`` is a failure, so a broken CI copy can never pass silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.pg"]

# `run` syncs the official lists on a fresh database; the suite's runs must not reach the
# internet (the list-sync tests point LIST_SOURCES_FILE at a loopback server and run the sync).
os.environ.setdefault("LIST_SYNC_INTERVAL_H", "0")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SANCTIONS_SHARED_DIR", ROOT.parent / "shared"))


def require_shared(*parts: str) -> Path:
    """Return a path under ``../shared``; skip without it locally, fail without it in CI."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = (
            f"{path} is missing (set SANCTIONS_SHARED_DIR or put ../shared beside the checkout)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared("data")


@pytest.fixture(scope="session")
def seed_article() -> Path:
    return require_shared("seed", "wagner-dprk-arms-article.txt")


@pytest.fixture(scope="session")
def real_entities() -> list:
    """The OFAC 2021 SDN set and the UN Consolidated List, parsed once per session."""
    from bot.lists import load_list

    sanctions = require_shared("data", "sanctions")
    parsed = load_list(
        [
            sanctions / "ofac" / "sdn_2021-07" / "sdn.csv",
            sanctions / "un" / "UN_consolidated_2026-02-27.xml",
        ]
    )
    return [entity for parsed_list in parsed for entity in parsed_list.entities]


@pytest.fixture(scope="session")
def real_matcher(real_entities: list):
    """The bundled rules with both real lists loaded."""
    from bot.matching.engine import Matcher
    from bot.rulefiles import load_rules

    return Matcher(load_rules(ROOT / "rules"), real_entities)
