"""What every command shares: settings with logging set up, the application opened, the one way
an error line is printed, and who "I" am for review and feeds."""

from __future__ import annotations

import getpass
import logging
import sys

import typer

from bot.app import App
from bot.errors import SanctionsBotError
from bot.ingest.http import quiet_http_logs
from bot.services.common import open_app
from bot.settings import Settings, load_settings

FORMATS = {"text", "json"}


class CommandError(SanctionsBotError):
    """A command refused its arguments or found nothing to act on (``exit_code``: the status)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def settings() -> Settings:
    """The settings, with logging to standard error at ``LOG_LEVEL`` (HTTP libraries quiet)."""
    loaded = load_settings()
    logging.basicConfig(
        level=getattr(logging, loaded.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    quiet_http_logs()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return loaded


_OPENED: list[App] = []


def application(loaded: Settings) -> App:
    """The application on the configured database (``DatabaseUnavailable`` when unusable);
    its connections are closed when the command ends (``close_applications``)."""
    app = open_app(loaded)
    _OPENED.append(app)
    return app


def close_applications() -> None:
    """Close the database connections the command opened: a server sees a clean goodbye, and
    a command run in-process (tests, an embedding program) leaks no connection."""
    while _OPENED:
        _OPENED.pop().engine.dispose()


def print_error(message: str) -> None:
    """The one shape of an error on the command line: ``error: <message>`` on standard error."""
    typer.echo(f"error: {message}", err=True)


def check_format(format: str) -> None:
    if format not in FORMATS:
        raise CommandError("--format must be text or json")


def acting(given: str | None = None) -> str:
    """Who acts: the name given, else ``cli:<login>``."""
    return given or f"cli:{getpass.getuser()}"
