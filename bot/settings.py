"""Settings from the environment and ``.env``; built once in ``main()`` and passed down.

Nothing in the project reads ``os.environ`` at import time: a test builds its own ``Settings``
and hands it to the code under test. Every field is documented in ``.env.example``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import UserInputError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


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
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']},"
            f" got {problem['input']!r}"
            for problem in error.errors()
        )
        raise SettingsError(f"invalid setting: {problems}") from None
