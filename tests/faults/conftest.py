"""Fixtures of the fault tests: the session's Bot API emulator (reset for each test)."""

from tests.tgemu import tg_emulator, tg_emulator_session  # noqa: F401
