"""Article extraction on real pages (AEB, trafilatura's sample) and on awkward inputs."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from benchmarks.bench_extract import aeb_prf, load_aeb, load_eval, naive, snippet_rates
from bot.ingest.errors import ExtractError
from bot.ingest.extract import _config, decode_html, extract_article
from tests.conftest import ROOT, require_shared

PARAGRAPHS = "".join(
    f"<p>Shipment {n} of artillery shells left the port of Rajin on a Russian-flagged cargo "
    f"vessel, according to satellite images reviewed by analysts on day {n}, in what officials "
    "called a clear breach of the arms embargo imposed by the Security Council.</p>"
    for n in range(1, 5)
)
ARTICLE = f"""<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">
<title>Arms shipment | Example News</title>
<link rel="canonical" href="/world/arms-shipment">
<meta property="article:published_time" content="2024-03-05T10:00:00Z">
</head><body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Arms shipment</h1>{PARAGRAPHS}</article>
<footer>Copyright Example News</footer></body></html>"""


@pytest.fixture(scope="module")
def aeb() -> list[tuple[str, bytes, str]]:
    return load_aeb(require_shared("data", "articles", "scrapinghub_aeb"))


@pytest.fixture(scope="module")
def evals() -> list[tuple[str, bytes, list[str], list[str]]]:
    return load_eval(require_shared("data", "articles", "trafilatura_eval"))


def _text(html: bytes, url: str) -> str:
    try:
        return extract_article(html, url).text
    except ExtractError:
        return ""


@pytest.mark.shared
def test_scrapinghub_benchmark_scores_in_worker_threads(aeb: list[tuple[str, bytes, str]]) -> None:
    """All 181 pages, four worker threads (trafilatura must not rely on signals)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(lambda page: _text(page[1], page[0]), aeb))
    assert len(texts) == 181 and all(texts)
    scores = aeb_prf((truth, text) for (_, _, truth), text in zip(aeb, texts, strict=True))
    assert scores["precision"] >= 0.94 and scores["recall"] >= 0.95 and scores["f1"] >= 0.95
    baseline = aeb_prf((truth, naive(html, url)) for url, html, truth in aeb)
    assert scores["precision"] > baseline["precision"] + 0.3


@pytest.mark.shared
def test_trafilatura_eval_snippets(evals: list[tuple[str, bytes, list[str], list[str]]]) -> None:
    rates = snippet_rates((_text(html, url), must, must_not) for url, html, must, must_not in evals)
    assert rates["with_total"] == 157 and rates["without_total"] == 159
    assert rates["with_found"] >= 0.93
    assert rates["without_absent"] >= 0.91


@pytest.mark.shared
def test_metadata_on_real_pages(evals: list[tuple[str, bytes, list[str], list[str]]]) -> None:
    articles = [extract_article(html, url) for url, html, _, _ in evals]
    assert all(a.title for a in articles)
    assert all(a.published for a in articles)
    assert all(a.canonical_url and a.canonical_url.startswith("http") for a in articles)
    languages = [a.language for a in articles]
    assert languages.count("en") == 32 and languages.count("de") == 11


def test_metadata_of_a_simple_article() -> None:
    article = extract_article(ARTICLE.encode(), "https://news.example/world/arms-shipment?utm_x=1")
    assert article.title and article.title.startswith("Arms shipment")
    assert article.text.count("Rajin") == 4 and "Home" not in article.text
    assert "Copyright" not in article.text
    assert article.canonical_url == "https://news.example/world/arms-shipment"
    assert article.published == date(2024, 3, 5)
    assert article.language == "en"
    stated = extract_article(ARTICLE.encode(), "https://news.example/a", extensive_dates=False)
    assert stated.published == date(2024, 3, 5)  # from the page's meta tag


_DATEPARSER_PROBE = """
import sys
from bot.ingest.extract import extract_article
page = (
    "<html><head><title>Port story</title></head><body><article><h1>Port story</h1>"
    "<div class='byline'>Publicado el 5 de marzo de 2024</div>"
    + "<p>A normal article about a port and its ships and the cargo.</p>" * 5
    + "</article></body></html>"
)
article = extract_article(page.encode(), "https://news.example/a", extensive_dates=EXTENSIVE)
assert "port and its ships" in article.text
print("dateparser" in sys.modules)
"""


@pytest.mark.parametrize("extensive", [True, False])
def test_the_pipeline_extraction_never_loads_dateparser(extensive: bool) -> None:
    """A date only in free text ("Publicado el 5 de marzo de 2024") sends the extensive date
    search to dateparser, whose first use loads seconds of locale patterns; without it the
    date comes only from where pages state it and dateparser is never imported."""
    probe = _DATEPARSER_PROBE.replace("EXTENSIVE", str(extensive))
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == str(extensive)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty document"),
        (b"   \n ", "empty document"),
        (b"%PDF-1.7\n...", "not an HTML page \\(PDF\\)"),
        (b"\x89PNG\r\n\x1a\n....", "PNG"),
        (gzip.compress(ARTICLE.encode()), "compressed bytes"),
        (b"\x00\x01\x02\x03" * 100, "binary data"),
        (b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no main text|too short"),
        ("<html><body><p>Too short.</p></body></html>", "no main text|too short"),
    ],
)
def test_nothing_usable_raises_extract_error_with_reason(content: bytes | str, reason: str) -> None:
    with pytest.raises(ExtractError, match=reason) as info:
        extract_article(content, "https://news.example/x")
    assert info.value.reason


def test_encoding_detection() -> None:
    text = "Zürich: Sanktionen gegen Reederei verhängt – “Schattenflotte”. "
    body = f"<html><head>{{meta}}</head><body><article><p>{text * 8}</p></article></body></html>"
    cp1252 = body.format(meta='<meta charset="windows-1252">').encode("cp1252")
    assert text in extract_article(cp1252).text
    utf8_lying_header = body.format(meta="").encode("utf-8")
    assert text in extract_article(utf8_lying_header, encoding="ISO-8859-1").text
    russian = "Санкции против судоходной компании. " * 8
    koi8 = f"<html><body><article><p>{russian}</p></article></body></html>".encode("koi8-r")
    assert "Санкции" in extract_article(koi8, encoding="koi8-r").text
    assert decode_html(b"\xff\xfe" + "hé".encode("utf-16-le")) == "hé"
    cut = ("Пхеньян " * 50).strip().encode("utf-8")[:-1]  # a byte cap split the last letter
    assert decode_html(cut).startswith("Пхеньян Пхеньян")
    assert decode_html(b"caf\xe9") == "café"  # not UTF-8, too short to guess: windows-1252
    latin = ("Les sanctions visent désormais les armateurs étrangers. " * 20).encode("cp1252")
    assert "désormais" in decode_html(latin)


def test_input_is_capped_before_parsing() -> None:
    huge = ARTICLE.encode() + b"<div>" + b"<p>junk junk junk</p>" * 1_500_000 + b"</div>"
    assert len(huge) > 30_000_000
    started = time.monotonic()
    article = extract_article(huge, "https://news.example/a", max_bytes=200_000)
    assert time.monotonic() - started < 5
    assert "Rajin" in article.text


async def test_runs_in_worker_threads_without_signals() -> None:
    assert _config().getint("DEFAULT", "EXTRACTION_TIMEOUT") == 0
    results = await asyncio.gather(
        *(asyncio.to_thread(extract_article, ARTICLE, "https://news.example/a") for _ in range(6))
    )
    assert len({r.text for r in results}) == 1


async def test_worker_extraction_is_bounded_in_time() -> None:
    """In a worker process a pathological page is interrupted; the worker stays usable."""
    from bot.ingest.errors import ExtractError
    from bot.ingest.extractor import Extractor

    page = (
        "<html><body>"
        + "<div><p>Paragraph of a very long page about harbours.</p></div>" * 60_000
        + "</body></html>"
    )
    slow = Extractor(workers=1, timeout_s=0.05)
    try:
        with pytest.raises(ExtractError, match="took too long"):
            await slow.extract(page.encode())
        slow.timeout_s = 30.0
        small = (
            "<html><body><article><p>"
            + "A normal article about a port and its ships. " * 20
            + "</p></article></body></html>"
        )
        article = await slow.extract(small.encode())
        assert "normal article" in article.text
    finally:
        slow.close()
