"""The watching commands: feeds, OPML, run --once / --duration, alerts list, demo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import ROOT
from tests.ingest.servers import serve, static
from tests.pipeline.test_end_to_end import ARMS, BENIGN, html, rss

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'watch.sqlite'}")
    monkeypatch.setenv("RULES_DIR", str(ROOT / "rules"))
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")  # the loopback test server
    monkeypatch.setenv("ALERTS_JSONL", str(tmp_path / "alerts.jsonl"))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("FEEDS_FILE", raising=False)
    return tmp_path


def test_feeds_add_list_remove_and_opml_round_trip(env: Path) -> None:
    assert (
        runner.invoke(
            app,
            [
                "feeds",
                "add",
                "https://news.example/rss.xml",
                "--interval",
                "15m",
                "--title",
                "Example",
            ],
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["feeds", "add", "https://wire.example/atom"]).exit_code == 0
    bad = runner.invoke(app, ["feeds", "add", "ftp://x.example/feed"])
    assert bad.exit_code == 2 and "not an http(s) URL" in bad.stderr
    assert (
        runner.invoke(app, ["feeds", "add", "https://x.example/f", "--interval", "10s"]).exit_code
        == 2
    )
    listed = runner.invoke(app, ["feeds", "list"]).stdout
    assert (
        "every  15m" in listed
        and "https://news.example/rss.xml" in listed
        and "last ok never" in listed
    )
    rows = [
        json.loads(line)
        for line in runner.invoke(app, ["feeds", "list", "--format", "json"]).stdout.splitlines()
    ]
    assert [(r["url"], r["interval_s"]) for r in rows] == [
        ("https://news.example/rss.xml", 900),
        ("https://wire.example/atom", 600),
    ]

    opml = env / "feeds.opml"
    assert runner.invoke(app, ["feeds", "export-opml", "-o", str(opml)]).exit_code == 0
    assert 'xmlUrl="https://news.example/rss.xml"' in opml.read_text()
    assert runner.invoke(app, ["feeds", "remove", "https://news.example/rss.xml"]).exit_code == 0
    assert runner.invoke(app, ["feeds", "remove", "https://news.example/rss.xml"]).exit_code == 2
    imported = runner.invoke(app, ["feeds", "import-opml", str(opml)])
    assert imported.exit_code == 0 and "2 feeds imported" in imported.stdout
    assert len(runner.invoke(app, ["feeds", "list", "--format", "json"]).stdout.splitlines()) == 2
    hostile = env / "bomb.opml"
    hostile.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><opml><body/></opml>')
    refused = runner.invoke(app, ["feeds", "import-opml", str(hostile)])
    assert refused.exit_code == 2 and "DOCTYPE" in refused.stderr


def test_feeds_file_sync(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = env / "feeds.yaml"
    config.write_text(
        "feeds:\n  - url: https://a.example/rss\n    interval: 1h\n  - https://b.example/rss\n"
    )
    monkeypatch.setenv("FEEDS_FILE", str(config))
    assert "+2 ~0 -0" in runner.invoke(app, ["feeds", "sync"]).stdout
    config.write_text("feeds:\n  - url: https://a.example/rss\n    interval: 2h\n")
    assert "+0 ~1 -1" in runner.invoke(app, ["feeds", "sync"]).stdout
    config.write_text("feeds:\n  - url: gopher://a.example\n")
    broken = runner.invoke(app, ["feeds", "sync"])
    assert broken.exit_code == 2 and "feed #1" in broken.stderr


def test_run_once_then_alerts_list(env: Path) -> None:
    with serve() as server:
        server.route("/a.html", html(ARMS))
        server.route("/b.html", html(BENIGN))
        server.route(
            "/feed.xml",
            static(
                rss(server, [("1", "Shells", "/a.html"), ("2", "Festival", "/b.html")]),
                {"Content-Type": "application/rss+xml"},
            ),
        )
        assert (
            runner.invoke(
                app, ["feeds", "add", server.url("/feed.xml", host="localhost")]
            ).exit_code
            == 0
        )
        first = runner.invoke(app, ["run", "--once"])
        assert first.exit_code == 0, first.output
        assert re.search(
            r"\[(HIGH|MEDIUM)\] Arms or related materiel supplied to or from North Korea",
            first.stdout,
        )
        assert (
            "polled 1 feeds (0 failed, 0 not modified): 2 new entries, 2 articles, 1 new alerts"
            in first.stderr
        )
        second = runner.invoke(app, ["run", "--once"])
        assert "0 new entries, 0 articles, 0 new alerts" in second.stderr
    listed = [
        json.loads(line)
        for line in runner.invoke(
            app, ["alerts", "list", "--since", "1d", "--format", "json"]
        ).stdout.splitlines()
    ]
    assert [a["rule"] for a in listed] == ["un-dprk-arms"]
    alert = listed[0]
    assert {
        "id",
        "created_at",
        "sources",
        "rule",
        "severity",
        "score",
        "regime",
        "references",
        "entities",
        "countries",
        "evidence",
    } <= set(alert)
    assert (
        alert["sources"][0]["url"].endswith("/a.html")
        and alert["sources"][0]["outlet"] == "Loopback Wire"
    )
    jsonl = [json.loads(line) for line in (env / "alerts.jsonl").read_text().splitlines()]
    assert [a["id"] for a in jsonl] == [alert["id"]]
    health = json.loads(runner.invoke(app, ["feeds", "list", "--format", "json"]).stdout)
    assert health["alerts"] == 1 and health["articles"] == 2 and health["last_success_at"]


def test_run_for_a_bounded_time(env: Path) -> None:
    with serve() as server:
        server.route("/feed.xml", static(rss(server, []), {"Content-Type": "application/rss+xml"}))
        runner.invoke(app, ["feeds", "add", server.url("/feed.xml", host="localhost")])
        result = runner.invoke(app, ["run", "--duration", "2s"])
    assert result.exit_code == 0, result.output
    assert "polled 1 feeds (0 failed" in result.stderr


def test_demo_runs_the_bundled_sample_site(env: Path) -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    # possible violations, each: how high is the scorer's call
    assert re.search(
        r"\[(HIGH|MEDIUM)\] Arms or related materiel supplied to or from North Korea", result.stdout
    )
    assert re.search(
        r"\[(HIGH|MEDIUM)\] Ship-to-ship transfers with North Korean vessels", result.stdout
    )
    assert re.search(r"\[(HIGH|MEDIUM)\] Wagner Group operations abroad", result.stdout)
    assert "Bayreuth" not in result.stdout and "football" not in result.stdout.lower()
    assert "1 alerts with a new source" in result.stderr  # the wire's copy joined the first alert
    again = runner.invoke(app, ["demo"])
    assert "0 new alerts" in again.stderr


def test_ctrl_c_stops_run_cleanly(env: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    with serve() as server:
        server.route("/feed.xml", static(rss(server, []), {"Content-Type": "application/rss+xml"}))
        assert (
            runner.invoke(
                app, ["feeds", "add", server.url("/feed.xml", host="localhost")]
            ).exit_code
            == 0
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env={**os.environ, "EXTRACT_WORKERS": "0", "LOG_LEVEL": "INFO"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not server.requests_to("/feed.xml") and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "polled 1 feeds (0 failed" in err
    assert "Traceback" not in err


def test_feeds_file_in_toml(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = env / "feeds.toml"
    config.write_text('[[feeds]]\nurl = "https://a.example/rss"\ninterval = "30m"\ntitle = "A"\n')
    monkeypatch.setenv("FEEDS_FILE", str(config))
    assert "+1 ~0 -0" in runner.invoke(app, ["feeds", "sync"]).stdout
    (row,) = [
        json.loads(line)
        for line in runner.invoke(app, ["feeds", "list", "--format", "json"]).stdout.splitlines()
    ]
    assert (row["url"], row["interval_s"], row["title"], row["origin"]) == (
        "https://a.example/rss",
        1800,
        "A",
        "file",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/rss",
        "http://[::ffff:127.0.0.1]/rss",
        "http://2130706433/rss",  # 127.0.0.1 in decimal
        "http://localhost/rss",
    ],
)
def test_feeds_add_refuses_private_addresses_when_added(
    env: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """Refused at once, as scan refuses them, instead of failing at every poll."""
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "false")
    result = runner.invoke(app, ["feeds", "add", url])
    assert result.exit_code == 2, result.output
    assert "refused" in result.output and "ALLOW_PRIVATE_URLS" in result.output
    listed = runner.invoke(app, ["feeds", "list", "--format", "json"])
    assert url not in listed.output


def test_feeds_add_accepts_a_host_that_does_not_resolve_now(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that does not resolve at this moment is no verdict on its address: polling reports it."""
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "false")
    result = runner.invoke(app, ["feeds", "add", "https://news.invalid/rss.xml"])
    assert result.exit_code == 0, result.output
