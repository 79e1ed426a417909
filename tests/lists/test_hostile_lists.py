"""Hostile and unlucky list files: each is refused with a clear error and the lists in force
are left exactly as they were.

Every case is built from the real files of ``../shared/data/sanctions`` (cut short, re-encoded,
wrapped in a DTD, served by a loopback server that hangs up mid-body) and imported through the
real ``sanctions-bot lists import`` command over a database that already holds good versions.
A case states the error it must give; the fixture then checks that every source still has the
version and the entity count it had before.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import ROOT, require_shared
from tests.ingest.servers import Handler, serve, static

runner = CliRunner()
Builder = Callable[[Path, Path], list[str]]  # (shared sanctions folder, scratch folder) -> args


@dataclass(frozen=True)
class Case:
    name: str
    build: Builder
    error: str  # a fragment the error message must contain


@pytest.fixture(scope="module")
def sanctions() -> Path:
    return require_shared("data", "sanctions")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory, sanctions: Path) -> Iterator[Path]:
    """One database with the good OFAC 2021 SDN set, UN list and OpenSanctions delta."""
    folder = tmp_path_factory.mktemp("hostile-lists")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{folder / 'lists.sqlite'}")
        patch.setenv("RULES_DIR", str(ROOT / "rules"))
        patch.setenv("ALLOW_PRIVATE_URLS", "true")  # the loopback server below
        patch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
        result = runner.invoke(
            app,
            [
                "lists",
                "import",
                str(sanctions / "ofac" / "sdn_2021-07"),
                str(sanctions / "un" / "UN_consolidated_2026-02-27.xml"),
                str(sanctions / "opensanctions" / "yente_entities.delta_2024-07.json"),
            ],
        )
        assert result.exit_code == 0, result.output
        yield folder


def lists_state() -> str:
    result = runner.invoke(app, ["lists", "show"])
    assert result.exit_code == 0, result.output
    return "\n".join(line.rsplit(", imported", 1)[0] for line in result.output.splitlines())


# --- builders ---------------------------------------------------------------------------------


def ofac_set(sdn: Callable[[bytes], bytes]) -> Builder:
    """The 2021 SDN set with ``sdn.csv`` transformed; the sibling files are the real ones."""

    def build(sanctions: Path, scratch: Path) -> list[str]:
        source = sanctions / "ofac" / "sdn_2021-07"
        for sibling in ("alt.csv", "add.csv", "sdn_comments.csv"):
            shutil.copy(source / sibling, scratch / sibling)
        (scratch / "sdn.csv").write_bytes(sdn((source / "sdn.csv").read_bytes()))
        return [str(scratch / "sdn.csv")]

    return build


def one_file(real: str, name: str) -> Callable[[Callable[[bytes], bytes]], Builder]:
    """Builders of ``name`` from the real file ``real`` (under the shared sanctions folder)."""

    def with_transform(transform: Callable[[bytes], bytes]) -> Builder:
        def build(sanctions: Path, scratch: Path) -> list[str]:
            path = scratch / name
            path.write_bytes(transform((sanctions / real).read_bytes()))
            return [str(path)]

        return build

    return with_transform


un_file = one_file("un/UN_consolidated_2026-02-27.xml", "consolidated.xml")
ftm_file = one_file("opensanctions/yente_entities.delta_2024-07.json", "entities.delta.json")


def first_lines(count: int) -> Callable[[bytes], bytes]:
    return lambda data: b"".join(data.splitlines(keepends=True)[:count])


def with_dtd(before_doctype: bytes) -> Callable[[bytes], bytes]:
    """A DOCTYPE declaring an entity, hidden behind ``before_doctype``; the first name uses it."""

    def transform(data: bytes) -> bytes:
        declaration, _, body = data.partition(b"?>")
        body = body.replace(b"<FIRST_NAME>", b"<FIRST_NAME>&injected;", 1)
        doctype = b'<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY injected "INJECTED NAME ">]>'
        return declaration + b"?>\n" + before_doctype + b"\n" + doctype + body

    return transform


def un_first_records(count: int) -> Callable[[bytes], bytes]:
    """A well-formed list with only the first ``count`` individuals: what a bad export looks like."""

    def transform(data: bytes) -> bytes:
        head, _, rest = data.partition(b"<INDIVIDUAL>")
        records = rest.split(b"<INDIVIDUAL>")[:count]
        kept = b"<INDIVIDUAL>" + b"<INDIVIDUAL>".join(records)
        kept = kept[: kept.rindex(b"</INDIVIDUAL>") + len(b"</INDIVIDUAL>")]
        return head + kept + b"</INDIVIDUALS><ENTITIES></ENTITIES></CONSOLIDATED_LIST>\n"

    return transform


CASES = [
    # OFAC legacy CSV
    Case("ofac-cut-inside-quoted-field", ofac_set(lambda d: d[:200_000]), "the file was cut short"),
    Case(
        "ofac-cut-inside-quoted-field-at-a-line-end",
        ofac_set(lambda d: d[: d.index(b'"DOB', 200_000) + 12] + b"\r\n"),
        "malformed CSV",
    ),
    Case("ofac-cut-mid-row", ofac_set(lambda d: d[: d.index(b"\n", 200_000) - 30]), "sdn.csv"),
    Case(
        "ofac-first-1000-lines",
        ofac_set(first_lines(1000)),
        "refused, the previous version is kept",
    ),
    Case(
        "ofac-bad-byte",
        ofac_set(lambda d: d[:300_000] + b"\xff\xfe" + d[300_000:]),
        "not UTF-8 text",
    ),
    Case(
        "ofac-html-error-page",
        ofac_set(lambda d: b"<!DOCTYPE html><html><body>Service unavailable</body></html>\r\n"),
        "HTML",
    ),
    Case("ofac-empty", ofac_set(lambda d: b""), "file is empty"),
    Case("ofac-utf16", ofac_set(lambda d: d.decode("utf-8").encode("utf-16")), "sdn.csv"),
    # UN XML
    Case("un-cut-in-half", un_file(lambda d: d[: len(d) // 2]), "malformed XML"),
    Case("un-dtd-after-comment", un_file(with_dtd(b"<!-- <x -->")), "XML declares a DOCTYPE"),
    Case(
        "un-dtd-after-processing-instruction",
        un_file(with_dtd(b"<?note <x ?>")),
        "XML declares a DOCTYPE",
    ),
    Case(
        "un-utf16",
        un_file(lambda d: d.decode("utf-8").encode("utf-16")),
        "a binary file, not a list",
    ),
    Case("un-bad-byte", un_file(lambda d: d[:500_000] + b"\xff" + d[500_000:]), "malformed XML"),
    Case(
        "un-only-100-records",
        un_file(un_first_records(100)),
        "refused, the previous version is kept",
    ),
    # OpenSanctions FollowTheMoney JSON lines
    Case("ftm-cut-mid-line", ftm_file(lambda d: d[: len(d) // 2]), "not a JSON line"),
    Case(
        "ftm-first-tenth-of-lines",
        ftm_file(first_lines(170)),
        "refused, the previous version is kept",
    ),
    Case("ftm-bad-byte", ftm_file(lambda d: d[:100_000] + b"\xff" + d[100_000:]), "not UTF-8 text"),
    Case(
        "ftm-json-array",
        ftm_file(lambda d: b"[" + d.replace(b"\n", b",")[:-1] + b"]"),
        "JSON array",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_list_file_is_refused_and_lists_unchanged(
    case: Case, database: Path, sanctions: Path, tmp_path: Path
) -> None:
    before = lists_state()
    result = runner.invoke(app, ["lists", "import", *case.build(sanctions, tmp_path)])
    assert result.exit_code == 2, result.output
    assert case.error in result.output, result.output
    assert "INJECTED" not in lists_state()
    assert lists_state() == before


def test_forced_import_replaces_a_shrunken_list(
    database: Path, sanctions: Path, tmp_path: Path
) -> None:
    """The guard can be overridden on purpose, and only then the list shrinks."""
    args = ofac_set(first_lines(1000))(sanctions, tmp_path)
    refused = runner.invoke(app, ["lists", "import", *args])
    assert refused.exit_code == 2 and "--force" in refused.output
    forced = runner.invoke(app, ["lists", "import", "--force", *args])
    assert forced.exit_code == 0, forced.output
    assert "ofac-sdn: 1000 entities" in forced.output
    restored = runner.invoke(app, ["lists", "import", str(sanctions / "ofac" / "sdn_2021-07")])
    assert restored.exit_code == 0 and "ofac-sdn: 8976 entities" in restored.output


def hang_up_after(data: bytes, sent: int) -> Callable[[Handler], None]:
    """Announce the whole body, send ``sent`` bytes of it, then drop the connection."""

    def script(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[:sent])
        handler.wfile.flush()
        handler.close_connection = True

    return script


def test_download_cut_short_is_refused(database: Path, sanctions: Path) -> None:
    data = (sanctions / "ofac" / "sdn_2021-07" / "sdn.csv").read_bytes()
    before = lists_state()
    with serve() as server:
        url = server.route("/downloads/sdn.csv", hang_up_after(data, 200_000))
        result = runner.invoke(app, ["lists", "import", url])
    assert result.exit_code == 2, result.output
    assert "download failed" in result.output and "sdn.csv" in result.output
    assert lists_state() == before


def test_download_over_the_size_cap_is_refused(
    database: Path, sanctions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIST_MAX_BYTES", "1000000")
    before = lists_state()
    with serve() as server:
        data = (sanctions / "un" / "UN_consolidated_2026-02-27.xml").read_bytes()
        url = server.route("/consolidated.xml", static(data, {"Content-Type": "application/xml"}))
        result = runner.invoke(app, ["lists", "import", url])
    assert result.exit_code == 2, result.output
    assert "download failed" in result.output and "1000000" in result.output
    assert lists_state() == before


def test_whole_download_is_imported(database: Path, sanctions: Path) -> None:
    """The same path with an honest server works, so the refusals above are not an accident."""
    data = (sanctions / "un" / "UN_consolidated_2026-02-27.xml").read_bytes()
    with serve() as server:
        url = server.route("/consolidated.xml", static(data, {"Content-Type": "application/xml"}))
        result = runner.invoke(app, ["lists", "import", url])
    assert result.exit_code == 0, result.output
    assert "un: 1003 entities" in result.output
