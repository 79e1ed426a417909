"""Format detection and ``load_list``: every real format is recognised, and everything else is
refused with the file, the line where known, and a reason an admin can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.lists import ListFormatError, ParsedList, detect_format, load_list
from tests.conftest import require_shared

pytestmark = pytest.mark.shared


def sanctions(*parts: str) -> Path:
    return require_shared("data", "sanctions", *parts)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("ofac", "sdn_2021-07", "sdn.csv"), "ofac"),
        (("ofac", "sdn_2021-07", "alt.csv"), "ofac"),
        (("ofac", "cons_non_sdn_2025-12", "cons_prim.csv"), "ofac"),
        (("ofac", "sdn_2021-07"), "ofac"),
        (("un", "UN_consolidated_2026-02-27.xml"), "un"),
        (("opensanctions", "yente_t1_entities.ftm.json"), "ftm"),
        (("opensanctions", "yente_entities.delta_2024-07.json"), "ftm"),
    ],
)
def test_detects_real_formats(parts: tuple[str, ...], expected: str) -> None:
    assert detect_format(sanctions(*parts)) == expected


def test_ofac_primary_detected_by_shape(tmp_path: Path) -> None:
    path = tmp_path / "download.csv"
    path.write_text(
        '7,"ACME LTD.",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n',
        encoding="utf-8",
        newline="",
    )
    assert detect_format(path) == "ofac"
    (parsed,) = load_list([path])
    assert parsed.source == "ofac-sdn"
    assert [e.key for e in parsed.entities] == ["ofac-sdn:7"]


def test_load_list_groups_every_source() -> None:
    lists = load_list(
        [
            sanctions("ofac", "sdn_2021-07", "sdn.csv"),
            sanctions("ofac", "sdn_2021-07", "alt.csv"),  # same set, not a second list
            sanctions("ofac", "cons_non_sdn_2025-12"),
            sanctions("un", "UN_consolidated_2026-02-27.xml"),
            sanctions("opensanctions", "yente_t1_entities.ftm.json"),
            sanctions("opensanctions", "yente_entities.delta_2024-07.json"),
        ]
    )
    assert [(p.source, len(p.entities)) for p in lists] == [
        ("ofac-sdn", 8976),
        ("ofac-cons", 442),
        ("un", 1003),
        ("opensanctions", 582),
    ]
    assert all(isinstance(p, ParsedList) for p in lists)
    keys = [e.key for p in lists for e in p.entities]
    assert len(keys) == len(set(keys))


def test_html_page_is_refused(tmp_path: Path) -> None:
    for name in ("sdn.csv", "consolidated.xml", "list.json"):
        path = tmp_path / name
        path.write_text(
            "\n<!DOCTYPE html>\n<html><body>Access denied</body></html>\n", encoding="utf-8"
        )
        with pytest.raises(ListFormatError) as info:
            load_list([path])
        assert str(info.value).startswith(f"{path}:2: an HTML page, not a sanctions list")


def test_empty_file_is_refused(tmp_path: Path) -> None:
    for name in ("sdn.csv", "un.xml", "entities.json"):
        path = tmp_path / name
        path.write_bytes(b"  \r\n")
        with pytest.raises(ListFormatError) as info:
            load_list([path])
        assert str(info.value) == f"{path}: file is empty"


def test_truncated_un_xml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "un.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<CONSOLIDATED_LIST>\n  <INDIVIDUALS>\n'
        "    <INDIVIDUAL>\n      <FIRST_NAME>YUN</FIRST_NAME>\n      <SECOND_NA",
        encoding="utf-8",
    )
    with pytest.raises(ListFormatError) as info:
        load_list([path])
    assert info.value.line == 6
    assert str(info.value).startswith(f"{path}:6: malformed XML: unclosed token")


def test_entity_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "list.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        "<CONSOLIDATED_LIST>&b;</CONSOLIDATED_LIST>\n",
        encoding="utf-8",
    )
    with pytest.raises(ListFormatError, match=r"list\.xml:2: XML declares a DOCTYPE"):
        detect_format(path)
    with pytest.raises(ListFormatError, match=r"list\.xml:2: XML declares a DOCTYPE"):
        load_list([path])


def test_external_entity_without_dtd_is_not_expanded(tmp_path: Path) -> None:
    path = tmp_path / "list.xml"
    path.write_text(
        "<CONSOLIDATED_LIST><ENTITIES>&xxe;</ENTITIES></CONSOLIDATED_LIST>", encoding="utf-8"
    )
    with pytest.raises(ListFormatError, match=r"list\.xml:1: malformed XML: undefined entity"):
        load_list([path])


def test_wrong_column_count_through_load_list(tmp_path: Path) -> None:
    path = tmp_path / "sdn.csv"
    path.write_text(
        '1,"A",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n2,"B",-0- \r\n',
        encoding="utf-8",
        newline="",
    )
    with pytest.raises(ListFormatError) as info:
        load_list([path])
    assert str(info.value) == f"{path}:2: expected 12 columns, found 3"


def test_other_csv_is_refused() -> None:
    path = sanctions("us_other", "us_csl_2019_sample.csv")
    with pytest.raises(ListFormatError) as info:
        load_list([path])
    assert str(info.value) == (
        f"{path}:1: unrecognised format: not UN XML, FtM JSON lines or an OFAC CSV "
        "(first row has 28 columns, an OFAC sdn.csv/cons_prim.csv row has 12)"
    )


def test_other_xml_and_json_are_refused(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?>\n<!-- a feed -->\n<rss version="2.0"/>\n', encoding="utf-8"
    )
    with pytest.raises(ListFormatError, match=r"feed\.xml:1: XML root <rss> is not a known list"):
        load_list([feed])
    array = tmp_path / "targets.json"
    array.write_text('[{"id": "x"}]\n', encoding="utf-8")
    with pytest.raises(ListFormatError, match=r"targets\.json:1: a JSON array"):
        load_list([array])
    other = tmp_path / "other.json"
    other.write_text('{"name": "not an entity"}\n', encoding="utf-8")
    needs_id = r"other\.json:1: FtM entity line needs 'id' and 'schema'"
    with pytest.raises(ListFormatError, match=needs_id):
        load_list([other])


def test_archive_and_missing_paths(tmp_path: Path) -> None:
    archive = tmp_path / "sdn.csv"
    archive.write_bytes(b"\x1f\x8b\x08\x00rest-of-gzip")
    with pytest.raises(ListFormatError, match="a gzip archive, not a list file: unpack it first"):
        load_list([archive])
    missing = tmp_path / "nothing.csv"
    with pytest.raises(ListFormatError, match=r"nothing\.csv: no such file or directory"):
        load_list([missing])


def test_alias_files_alone_are_refused() -> None:
    folder = sanctions("ofac", "2025-01")
    with pytest.raises(ListFormatError, match=r"sdn\.csv is required but missing; alt\.csv only"):
        load_list([folder / "alt.csv"])
