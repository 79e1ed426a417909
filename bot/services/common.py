"""What every service needs: the application opened on its database, and file errors told as
project errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.app import App
from bot.errors import SanctionsBotError, UserInputError
from bot.settings import Settings
from db.engine import hide_password, safe_url


class DatabaseUnavailable(SanctionsBotError):
    """The database URL or file cannot be used (the message shows the URL without password)."""


class UnreadableFile(UserInputError):
    """A file we were given cannot be read (missing, a folder, no permission)."""


def open_app(settings: Settings) -> App:
    """The application on the configured database, migrated to the current schema."""
    try:
        return App.open(settings)
    except Exception as error:  # any reason the database is unusable: say so plainly
        url = settings.resolved_database_url
        raise DatabaseUnavailable(
            f"cannot open the database {safe_url(url)}: {hide_password(str(error), url)}"
        ) from error


@contextmanager
def reading_files() -> Iterator[None]:
    """``OSError`` from reading a file we were given, as ``UnreadableFile`` (same message)."""
    try:
        yield
    except OSError as error:
        raise UnreadableFile(str(error)) from error
