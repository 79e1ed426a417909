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
