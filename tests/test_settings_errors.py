"""A malformed setting is one line naming the variable and the reason, for every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


@pytest.mark.parametrize("command", [["status"], ["feeds", "list"], ["run", "--once"]])
def test_a_malformed_setting_is_a_clear_error(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.sqlite'}")
    monkeypatch.setenv("HEALTH_PORT", "70000")
    monkeypatch.setenv("MAX_REDIRECTS", "many")
    done = runner.invoke(app, command)
    assert done.exit_code == 2
    assert done.stderr.startswith("error: invalid setting: ")
    assert "HEALTH_PORT: Input should be less than or equal to 65535, got '70000'" in done.stderr
    assert "MAX_REDIRECTS: Input should be a valid integer" in done.stderr
    assert "Traceback" not in done.output
    assert not (tmp_path / "bot.sqlite").exists()  # nothing was opened, nothing half-done


def test_webhook_mode_needs_a_well_formed_secret_and_never_prints_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.sqlite'}")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example.org/telegram/hook")
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    missing = runner.invoke(app, ["run", "--once"])
    assert missing.exit_code == 2
    assert (
        "TELEGRAM_WEBHOOK_SECRET: Value error, required when TELEGRAM_WEBHOOK_URL is set"
        in missing.stderr
    )
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "not allowed: spaces & colons")
    malformed = runner.invoke(app, ["run", "--once"])
    assert malformed.exit_code == 2
    assert "TELEGRAM_WEBHOOK_SECRET: Value error, must be 1-256 characters" in malformed.stderr
    assert "got (hidden)" in malformed.stderr and "spaces" not in malformed.output
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "x" * 257)
    assert "must be 1-256 characters" in runner.invoke(app, ["run", "--once"]).stderr
    assert not (tmp_path / "bot.sqlite").exists()


@pytest.mark.parametrize(
    "url",
    [
        "bot.example.org/hook",
        "ftp://bot.example.org/hook",
        "https://h.org/hook?k=1",
        "https://user@h.org/hook",
        "https://h.org/a b",
    ],
)
def test_a_webhook_url_that_cannot_be_served_is_refused(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.sqlite'}")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", url)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "abc")
    done = runner.invoke(app, ["run", "--once"])
    assert done.exit_code == 2
    assert done.stderr.startswith("error: invalid setting: TELEGRAM_WEBHOOK_URL: Value error, ")


def test_run_webhook_url_is_checked_like_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.sqlite'}")
    for name in ("TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    done = runner.invoke(app, ["run", "--webhook-url", "https://bot.example.org/hook"])
    assert done.exit_code == 2
    assert "TELEGRAM_WEBHOOK_SECRET: Value error, required when TELEGRAM_WEBHOOK_URL" in done.stderr
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "abc")
    done = runner.invoke(app, ["run", "--webhook-url", "ftp://bot.example.org/hook"])
    assert done.exit_code == 2 and "TELEGRAM_WEBHOOK_URL: Value error" in done.stderr
    assert not (tmp_path / "bot.sqlite").exists()
