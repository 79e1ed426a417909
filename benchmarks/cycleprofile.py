"""Where a feed cycle's time goes: stage timers, process CPU and event-loop stalls.

Used by ``bench_feeds.py --profile``. Nothing in the bot is changed for it: the stages are
timed by wrapping the functions the pipeline calls, found by name (a name the code under test
does not have is skipped, so the same profiler measures the code before and after a change):

* sync stages (feed parsing, the feed bookkeeping queries, matching, storing, claiming) are
  timed in wall time and in the CPU time of the thread that ran them (``time.thread_time``),
  whether that is the event loop's thread or a worker thread;
* awaited stages (HTTP fetches, extraction and reading in worker processes) are timed in wall
  time summed over every task: with concurrency that is the time tasks spent waiting, not a
  share of the cycle;
* each process's CPU (this one, the extraction workers, the loopback server) is read from
  ``/proc/<pid>/stat`` before and after (Linux);
* the event loop's stalls: a task asks to sleep 5 ms and records how much later it woke; the
  sum of the overshoots past 2 ms is the time the loop could not run (a callback or the GIL
  held it).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

TICK_S = os.sysconf("SC_CLK_TCK")

# (module, attribute path, stage label, kind); kind "sync" or "async".
STAGES: list[tuple[str, str, str, str]] = [
    ("bot.ingest.http", "Fetcher.fetch", "HTTP fetch (feeds and pages, awaited)", "async"),
    ("bot.pipeline", "parse_feed", "feed parsing", "sync"),
    ("bot.pipeline", "seen_entries", "feed bookkeeping: entries seen", "sync"),
    ("bot.pipeline", "finish_poll", "feed bookkeeping: poll outcome", "sync"),
    ("bot.scheduler", "claim_feeds", "claiming feeds", "sync"),
    ("bot.ingest.extractor", "Extractor.extract", "extraction (awaited)", "async"),
    ("bot.ingest.extractor", "Extractor.call", "worker job: read (awaited)", "async"),
    ("bot.services.scan", "match_text", "matching in this process", "sync"),
    ("bot.pipeline", "match_text", "matching in this process", "sync"),
    ("bot.services.scan", "Scans.store", "storing (one transaction)", "sync"),
    ("bot.batching", "Batcher._run_batch", "storing (one transaction a batch)", "sync"),
]


@dataclass
class Stage:
    calls: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0


@dataclass
class Profile:
    stages: dict[str, Stage] = field(default_factory=lambda: defaultdict(Stage))
    stall_s: float = 0.0
    stalls: int = 0
    longest_stall_s: float = 0.0

    def table(self, articles: int) -> list[dict[str, Any]]:
        """One row per stage that ran: calls, and ms per article of wall and thread CPU."""
        rows = []
        for label, stage in self.stages.items():
            if stage.calls:
                rows.append(
                    {
                        "stage": label,
                        "calls": stage.calls,
                        "wall_ms_per_article": round(stage.wall_s / articles * 1000, 2),
                        "cpu_ms_per_article": round(stage.cpu_s / articles * 1000, 2),
                    }
                )
        return rows


def _sync_wrapper(function: Callable[..., Any], stage: Stage) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            stage.calls += 1
            stage.wall_s += time.perf_counter() - wall
            stage.cpu_s += time.thread_time() - cpu

    return timed


def _async_wrapper(function: Callable[..., Any], stage: Stage) -> Callable[..., Any]:
    @functools.wraps(function)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        wall = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            stage.calls += 1
            stage.wall_s += time.perf_counter() - wall

    return timed


@contextmanager
def stage_timers(profile: Profile) -> Iterator[None]:
    """Wrap every stage found; unwrap on exit."""
    undo: list[tuple[Any, str, Any]] = []
    for module_name, path, label, kind in STAGES:
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
        original = getattr(owner, name, None) if owner is not None else None
        if original is None:
            continue
        wrap = _async_wrapper if kind == "async" else _sync_wrapper
        setattr(owner, name, wrap(original, profile.stages[label]))
        undo.append((owner, name, original))
    try:
        yield
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


async def watch_loop(profile: Profile, stop: asyncio.Event, tick_s: float = 0.005) -> None:
    """Record how late the loop wakes a 5 ms sleeper (stalls over 2 ms)."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(tick_s)
        late = time.perf_counter() - started - tick_s
        if late > 0.002:
            profile.stall_s += late
            profile.stalls += 1
            profile.longest_stall_s = max(profile.longest_stall_s, late)


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a live process (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK_S


def process_rss_mb(pid: int) -> float:
    """Peak resident memory of a live process (``VmHWM``), in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0
