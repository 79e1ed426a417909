"""The ``sanctions-bot`` command line (also ``python -m bot``).

Commands are thin (``bot.cli.<command>``): parse arguments, call a service (``bot.services``),
print. Errors the user can fix (a broken rule file, an unreadable input, a malformed list) are
raised by the services as ``SanctionsBotError``s and turned here, in one place, into one line
``error: <message>`` on standard error and a non-zero exit status; nothing is half-done
silently.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
from typer.core import TyperGroup

from bot.cli.common import close_applications, print_error
from bot.errors import SanctionsBotError

__all__ = ["COMMANDS", "app", "exit_code", "main"]

USAGE_ERROR = 2  # the status of every error, unless its class carries its own ``exit_code``


class _Door(NamedTuple):
    """Where a command lives: a function (a command) or a ``typer.Typer`` (sub-commands)."""

    module: str
    attribute: str
    group: bool = False


# In the order ``--help`` lists them. Each module is imported when its command runs (or when
# ``--help`` lists them all): a command pays for its own imports only, not for every other
# command's (the feed watcher's, the evaluation's ...), a fifth of a second at every start.
COMMANDS: dict[str, _Door] = {
    "scan": _Door("bot.cli.scan", "scan"),
    "eval": _Door("bot.cli.eval", "eval_command"),
    "run": _Door("bot.cli.run", "run"),
    "demo": _Door("bot.cli.demo", "demo"),
    "status": _Door("bot.cli.status", "status"),
    "lists": _Door("bot.cli.lists", "app", group=True),
    "rules": _Door("bot.cli.rules", "app", group=True),
    "db": _Door("bot.cli.db", "app", group=True),
    "review": _Door("bot.cli.review", "app", group=True),
    "feeds": _Door("bot.cli.feeds", "app", group=True),
    "alerts": _Door("bot.cli.alerts", "app", group=True),
}


def exit_code(error: SanctionsBotError) -> int:
    """The exit status for an error: 2, or the error's own ``exit_code`` (``BotStopped``: 1, a
    rejected Telegram token 4; ``CommandError``: as the command says)."""
    code = getattr(error, "exit_code", USAGE_ERROR)
    return code if isinstance(code, int) else USAGE_ERROR


def _command(name: str, door: _Door) -> Any:
    """The click command for ``door``, built from its module once it is imported."""
    found = getattr(importlib.import_module(door.module), door.attribute)
    if door.group:
        group = typer.main.get_group(found)  # a group even with one sub-command
        group.name = name
        return group
    single = typer.Typer(add_completion=False)
    single.command(name)(found)
    command = typer.main.get_command(single)
    command.name = name
    return command


class _Commands(TyperGroup):
    """The root command: finds its commands in ``COMMANDS`` when asked for them, and runs every
    command and sub-command inside its ``invoke``."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = _command(cmd_name, COMMANDS[cmd_name])
        return self.commands.get(cmd_name)

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


@app.callback()
def _root() -> None:
    """The commands are in ``COMMANDS`` (this callback makes ``app`` a group of them)."""


def main() -> None:
    app()
