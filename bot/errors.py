"""The one exception tree of sanctions-bot: every error the project raises derives from
``SanctionsBotError``.

A door (the CLI, the Telegram bot) catches ``SanctionsBotError`` to mean "this request failed for
a reason the message explains" and shows the message; anything else is a bug. Each class is
defined next to the code that raises it; this module defines only the root and the two groups,
and imports nothing from the project, so any layer (the pure matching engine included) may use it.

Hierarchy::

    SanctionsBotError
    ├── UserInputError          a value a person gave us (typed, or in a feeds file)
    │   ├── ArgError            bot.tg.args: Telegram command arguments
    │   ├── ChatError           db.chats: a chat setting or watchlist change
    │   ├── FeedInputError      db.feeds, bot.feedconfig: a feed URL, interval or feeds file
    │   ├── FeedAddressRefused  bot.services.feeds: a feed URL whose address the guard refuses
    │   ├── InputError          bot.inputs: a file or URL given to ``scan``
    │   ├── ReviewError         db.review: a review mark or tuning change
    │   ├── RoleError           bot.services.run: a `run --role` these settings cannot run
    │   ├── SettingsError       bot.settings: a malformed value in the environment or .env
    │   └── UnreadableFile      bot.services.common: a file we were given cannot be read
    ├── DataError               data we were asked to load is refused whole
    │   ├── RuleFileError       bot.rulefiles: invalid rule files (``problems``)
    │   ├── ConditionError      bot.matching.rules: a rule condition that does not parse
    │   ├── ListFormatError     bot.lists.types: a sanctions list file (``path``, ``line``)
    │   ├── ListShrankError     db.lists: a new version drops too many entities
    │   └── EvalInputError      bot.evaluation: an articles or labels file for ``eval``
    ├── DatabaseUnavailable     bot.services.common: the database cannot be opened
    ├── HealthServerError       bot.services.healthhttp: the health endpoint cannot listen
    ├── IngestError             bot.ingest.errors: a source failed this time (tree there)
    │   ├── BlockedURL          the address guard refused a URL
    │   ├── FetchError          the fetch failed (``.url``)
    │   │   ├── HTTPStatusError
    │   │   ├── TooLarge
    │   │   ├── FetchTimeout
    │   │   └── TooManyRedirects
    │   ├── FeedError           the bytes are not a readable feed
    │   └── ExtractError        no usable article text in a page
    ├── BotStopped              bot.tg.health: the Telegram bot cannot go on (``exit_code``)
    │   ├── TokenRejected       Telegram refused the bot token (``exit_code`` 4)
    │   └── WebhookListenError  bot.tg.updates: the webhook server cannot listen where configured
    └── CommandError            bot.cli.common: a command refused its arguments (``exit_code``)

``UserInputError`` and ``DataError`` (and so every class under them) are also ``ValueError``s,
as each of their classes was before this tree existed, so callers that catch ``ValueError``
behave as they did. ``DatabaseUnavailable``, ``IngestError`` and ``BotStopped`` are not: they are
about the outside world (the database, a feed, Telegram), not about a value.

``BotStopped`` is an error, not a control signal: it reports why the bot had to stop (a
rejected token, a crash) with the exit status to end the process with, and nothing catches it to
steer normal operation.

Deliberately outside the tree (private, they never leave their module): ``bot.ingest.http._Retry``
(one fetch attempt asking the retry loop for another go; the loop raises its ``.error``) and
``bot.ingest.extractor._TimedOut`` (a ``BaseException`` on purpose, so trafilatura's own
``except Exception`` cannot swallow the extraction deadline).
"""

from __future__ import annotations

__all__ = ["DataError", "SanctionsBotError", "UserInputError"]


class SanctionsBotError(Exception):
    """Root of every error the project raises; the message is fit to show whoever asked."""


class UserInputError(SanctionsBotError, ValueError):
    """A value a person gave us cannot be used; the message says which and why."""


class DataError(SanctionsBotError, ValueError):
    """Data we were asked to load (rules, a sanctions list, an evaluation set) cannot be trusted.

    Refused whole: half a rule set or a silently shortened sanctions list means missed alerts.
    """
