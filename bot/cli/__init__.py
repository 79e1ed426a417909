"""The ``sanctions-bot`` command line (also ``python -m bot``).

Commands are thin (``bot.cli.<command>``): parse arguments, call a service (``bot.services``),
print. Errors the user can fix (a broken rule file, an unreadable input, a malformed list) are
raised by the services as ``SanctionsBotError``s and turned here, in one place, into one line
``error: <message>`` on standard error and a non-zero exit status; nothing is half-done
silently.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from bot.cli import alerts, db, demo, eval, feeds, lists, review, rules, run, scan, status
from bot.cli.common import close_applications, print_error
from bot.errors import SanctionsBotError

__all__ = ["app", "exit_code", "main"]

USAGE_ERROR = 2  # the status of every error, unless its class carries its own ``exit_code``


def exit_code(error: SanctionsBotError) -> int:
    """The exit status for an error: 2, or the error's own ``exit_code`` (``BotStopped``: 1, a
    rejected Telegram token 4; ``CommandError``: as the command says)."""
    code = getattr(error, "exit_code", USAGE_ERROR)
    return code if isinstance(code, int) else USAGE_ERROR


class _Commands(TyperGroup):
    """The root command: every command and sub-command runs inside its ``invoke``."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SanctionsBotError as error:
            print_error(str(error))
            raise typer.Exit(exit_code(error)) from error
        finally:
            close_applications()


app = typer.Typer(
    cls=_Commands,
    help="Watch the news for possible sanctions violations.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(scan.scan)
app.add_typer(lists.app, name="lists")
app.add_typer(rules.app, name="rules")
app.command("eval")(eval.eval_command)
app.add_typer(db.app, name="db")
app.add_typer(review.app, name="review")
app.add_typer(feeds.app, name="feeds")
app.command()(run.run)
app.add_typer(alerts.app, name="alerts")
app.command()(demo.demo)
app.command()(status.status)


def main() -> None:
    app()
