"""Scanning many texts on every core: worker processes forked once the matcher is built.

Matching is pure Python and holds the interpreter lock, so threads do not help; processes do.
They are forked after the index is built, so each starts with the whole matcher already in
memory (shared copy-on-write, never rebuilt or sent over a pipe), receives (source, text,
title) and sends back the scan result in the JSON contract (or, with ``task``, whatever that
function of the matcher and a job returns). Results come back in input order. Where ``fork``
does not exist (Windows) the texts are scanned in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from bot.matching.engine import Matcher
from bot.matching.model import Document
from bot.report import scan_result

Job = tuple[str, str, str]  # source, text, title
PARALLEL_FROM = 40  # fewer inputs than this are scanned here: forking would cost more than it saves
CHUNK = 8

J = TypeVar("J")
R = TypeVar("R")


class _Forked:
    """What the workers inherit: set in the parent just before forking, cleared after."""

    matcher: Matcher | None = None
    task: Callable[[Matcher, Any], Any] | None = None


def scan_one(matcher: Matcher, job: Job) -> dict[str, Any]:
    """One text's scan result (``scan --format json`` shape), the cut reported if there was one."""
    source, text, title = job
    analysis = matcher.analyze(Document(text, title))
    alerts = matcher.alerts(analysis)
    cut = (len(analysis.text), analysis.total_chars) if analysis.cut else None
    return scan_result(source, title, alerts, cut)


def _scan_in_worker(job: Any) -> Any:
    matcher, task = _Forked.matcher, _Forked.task
    assert matcher is not None and task is not None, "workers are forked after the matcher is set"
    return task(matcher, job)


def workers_for(jobs: int, requested: int = 0) -> int:
    """``requested`` workers, or with 0 one per core when there are enough texts to pay for it."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if requested > 0:
        return requested
    return (os.cpu_count() or 1) if jobs >= PARALLEL_FROM else 1


@contextmanager
def scanned(
    matcher: Matcher,
    jobs: Iterable[J],
    workers: int,
    task: Callable[[Matcher, J], R],
) -> Iterator[Iterator[R]]:
    """``task(matcher, job)`` of every job in order (``scan_one``: its scan result), from
    ``workers`` forked processes (1: this one). ``task`` must be a module-level function."""
    if workers <= 1:
        yield (task(matcher, job) for job in jobs)
        return
    _Forked.matcher, _Forked.task = matcher, task
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield pool.imap(_scan_in_worker, jobs, chunksize=CHUNK)
    finally:
        _Forked.matcher = _Forked.task = None
