"""Settings from the environment and ``.env``; built once in ``main()`` and passed down.

Nothing in the project reads ``os.environ`` at import time: a test builds its own ``Settings``
and hands it to the code under test. Every field is documented in ``.env.example``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import UserInputError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WEBHOOK_PATH = re.compile(r"[A-Za-z0-9_./-]*")


class Settings(BaseSettings):
    """All configuration of sanctions-bot."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Storage
    data_dir: Path = Field(default=PROJECT_ROOT / "var")
    database_url: str = ""

    # Rules and lists
    rules_dir: Path = Field(default=PROJECT_ROOT / "rules")
    feeds_file: Path | None = None
    list_max_shrink: float = Field(default=0.2, ge=0.0, le=1.0)
    list_max_bytes: int = 512 * 1024 * 1024
    list_sources_file: Path | None = (
        None  # extra or overriding list sources (bot/lists/sources.yaml schema)
    )
    list_sources: Annotated[tuple[str, ...] | None, NoDecode] = (
        None  # ids to sync; default: those enabled
    )
    list_sync_interval_h: float = Field(
        default=24.0, ge=0.0
    )  # `run` syncs the lists this often; 0: never
    list_rescreen_days: int = Field(
        default=30, ge=0
    )  # a list update re-screens this many days of articles
    match_max_chars: int = Field(default=200_000, ge=1_000)
    matcher_cache: bool = (
        True  # keep the built matcher under DATA_DIR/cache (commands start faster)
    )

    # Fetching
    allow_private_urls: bool = False
    user_agent: str = "sanctions-bot/0.1 (+https://github.com/sanctions-bot; news monitoring)"
    fetch_timeout_s: float = 20.0
    max_response_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    max_connections: int = 20
    max_connections_per_host: int = 2
    default_feed_interval_s: int = 600
    extract_timeout_s: float = 30.0  # per page, in the extraction processes
    extract_workers: int = -1  # article extraction processes; -1: one per CPU, 0: a thread

    # Alert sinks
    alerts_jsonl: Path | None = None

    # Health and metrics over HTTP while ``run`` runs (/healthz, /metrics); 0: off
    health_port: int = Field(default=0, ge=0, le=65535)
    health_host: str = "127.0.0.1"

    # Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    bot_admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    admin_chat_id: int | None = None
    telegram_poll_timeout_s: int = 30
    telegram_rate_per_s: float = 30.0
    telegram_chat_interval_s: float = 1.0
    telegram_group_per_min: int = 20
    delivery_poll_interval_s: float = 1.0
    delivery_max_attempts: int = 8
    delivery_lease_s: float = Field(
        default=30.0, ge=5.0
    )  # chat locks shared by delivery workers (db.chatlocks)
    worker_id: str = Field(default="", max_length=100)  # unique per process; see README
    watchlist_max_items: int = 50
    scan_rate_per_chat: int = 5
    scan_rate_window_s: int = 600
    scan_max_chars: int = 50_000

    # Telegram updates by webhook behind a reverse proxy (bot.tg.updates); no URL: polling
    telegram_webhook_url: str = ""  # public URL Telegram posts updates to; its path is served
    telegram_webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    telegram_webhook_listen: str = "127.0.0.1"  # where the reverse proxy reaches the bot
    telegram_webhook_port: int = Field(default=8080, ge=1, le=65535)
    telegram_webhook_check_s: float = Field(default=60.0, gt=0)  # getWebhookInfo, the heartbeat

    log_level: str = "INFO"

    @field_validator("feeds_file", "list_sources_file", "alerts_jsonl", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """``FEEDS_FILE=`` as .env.example writes it means no file, not the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("list_sources", mode="before")
    @classmethod
    def _parse_names(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip()) or None
        return value

    @field_validator("bot_admin_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(
                int(part) for part in value.replace(";", ",").split(",") if part.strip()
            )
        return value

    @field_validator("telegram_webhook_url", mode="after")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        """An absolute http(s) URL whose path the webhook server can route as written: PTB puts
        the path into a regular expression unescaped, and a query or fragment would be dropped
        from the route without a word."""
        value = value.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(
                "must be an absolute https:// URL (http:// only for a local Bot API server)"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must have no query, fragment or user name")
        if not _WEBHOOK_PATH.fullmatch(parts.path):
            raise ValueError("its path may hold only letters, digits and - _ . /")
        return value

    @field_validator("telegram_webhook_secret", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, value: object) -> object:
        """``TELEGRAM_WEBHOOK_SECRET=`` as .env.example writes it means no secret."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_webhook_secret", mode="after")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Required in webhook mode: without it anyone who learns the URL can post updates as
        any user. Telegram accepts 1-256 of ``A-Za-z0-9_-`` and refuses ``setWebhook`` otherwise;
        said here, before anything starts."""
        if value is None:
            if info.data.get("telegram_webhook_url"):
                raise ValueError(
                    "required when TELEGRAM_WEBHOOK_URL is set: the webhook server refuses"
                    " requests that do not carry it (e.g. `openssl rand -hex 32`)"
                )
            return None
        if not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @property
    def webhook_path(self) -> str:
        """The path of ``TELEGRAM_WEBHOOK_URL``, where the webhook server takes updates."""
        return urlsplit(self.telegram_webhook_url).path or "/"

    @property
    def extractor_workers(self) -> int:
        return (os.cpu_count() or 1) if self.extract_workers < 0 else self.extract_workers

    @property
    def resolved_database_url(self) -> str:
        """``DATABASE_URL`` if set, else an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'sanctions-bot.sqlite'}"


class SettingsError(UserInputError):
    """A setting in the environment or ``.env`` has a value that cannot be used."""


def load_settings() -> Settings:
    """``Settings()``, with a malformed value reported as its variable and the reason
    (``HEALTH_PORT: Input should be a valid integer, got 'abc'``), not a traceback."""
    try:
        return Settings()
    except ValidationError as error:
        raise _settings_error(error) from None


def with_overrides(settings: Settings, **values: Any) -> Settings:
    """``settings`` with ``values`` replaced (a command-line option over its variable), checked
    as the environment's values are: ``run --webhook-url`` without a secret is the same error."""
    try:
        return Settings.model_validate({**settings.model_dump(), **values})
    except ValidationError as error:
        raise _settings_error(error) from None


def _settings_error(error: ValidationError) -> SettingsError:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']},"
        f" got {_shown(problem['loc'], problem['input'])}"
        for problem in error.errors()
    )
    return SettingsError(f"invalid setting: {problems}")


def _shown(loc: tuple[int | str, ...], value: object) -> str:
    """The value as given, except a secret's: an error line ends up in logs and terminals."""
    field = Settings.model_fields.get(str(loc[0])) if loc else None
    if field is not None and "SecretStr" in str(field.annotation) and value is not None:
        return "(hidden)"
    return repr(value)
