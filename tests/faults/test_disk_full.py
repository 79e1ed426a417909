"""The disk under the database fills up under a running ``sanctions-bot run``, then is freed.

The SQLite database lives on a small tmpfs of its own; a ballast file fills it to the last
byte, so every write that needs room fails inside SQLite with "database or disk is full",
as on a real full disk, while reads still work. The run must say so once, store nothing
half-way, and once the ballast is deleted store and deliver the story that appeared
meanwhile, exactly once (``tests.faults.world.survive``).

Mounting needs root (tests run as root here and in CI); without it the test skips, except
when ``CI`` is set, where it fails.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.world import survive
from tests.tgemu import Emulator

pytestmark = pytest.mark.emulator

SIZE = "8m"  # the schema is about 300 KB; room enough for the run's first writes


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``SIZE`` mounted in the test's directory, unmounted after it."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        message = f"cannot mount a small tmpfs for the full-disk test: {mounted.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write a ballast file until the file system has no byte left; returns its path."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 1 << 12, 1 << 9, 1):
            chunk = b"\0" * size
            try:
                while os.write(fd, chunk) > 0:
                    pass
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    assert shutil.disk_usage(disk).free == 0
    return ballast


def test_a_full_disk_is_reported_and_recovered_from_without_losing_alerts(
    tmp_path: Path, small_disk: Path, tg_emulator: Emulator
) -> None:
    survive(
        tmp_path,
        f"sqlite:///{small_disk / 'bot.sqlite'}",
        tg_emulator,
        break_it=lambda: fill(small_disk),
        mend_it=(small_disk / "ballast").unlink,
        reason="database or disk is full",
    )
