"""A real app (SQLite in tmp, bundled rules) and a guarded fetcher for loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.ingest.http import Fetcher, FetchPolicy
from bot.ingest.urlguard import URLGuard
from bot.pipeline import Pipeline
from bot.settings import Settings
from tests.conftest import ROOT

RESOLVED: dict[str, list[str]] = {"localhost": ["127.0.0.1"]}


async def loopback_only(host: str, port: int) -> list[str]:
    """The tests' resolver: localhost is 127.0.0.1, nothing else exists (no internet here)."""
    if host in RESOLVED:
        return RESOLVED[host]
    raise OSError(f"no such host in the test network: {host}")


@pytest.fixture
def app(tmp_path: Path) -> App:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'pipeline.sqlite'}",
        rules_dir=ROOT / "rules",
        data_dir=tmp_path,
    )
    return App.open(settings)


def policy(**changes: object) -> FetchPolicy:
    base = FetchPolicy(
        timeout_s=2.0,
        deadline_s=4.0,
        retries=1,
        backoff_base_s=0.05,
        max_bytes=2 * 1024 * 1024,
        allow_hosts=frozenset({"localhost"}),
    )
    return FetchPolicy(**{**base.__dict__, **changes})  # type: ignore[arg-type]


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    chosen = policy()
    # localhost is exempt by name; the guard still refuses every other private address,
    # including 127.0.0.1 and 169.254.169.254 written as literals in redirects.
    guard = URLGuard(allow_private=False, allow_hosts=chosen.allow_hosts, resolver=loopback_only)
    async with Fetcher.create(chosen, guard=guard) as created:
        yield created


class Collector:
    """An alert sink that remembers what it was given."""

    def __init__(self) -> None:
        self.alerts: list[dict] = []

    async def emit(self, alert: dict) -> None:
        self.alerts.append(alert)


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def pipeline(app: App, fetcher: Fetcher, collector: Collector) -> Pipeline:
    return Pipeline(app, fetcher, [collector])
