"""URL normalisation: one spelling per article, so the same story is stored and alerted once.

The same article reaches us as ``https://www.site.com/a/?utm_source=rss#top``,
``http://site.com/a`` and ``https://site.com/amp/a``; without normalisation each one would be a
"new" article. Two levels:

* ``canonical_url`` is still a URL we would fetch: lower-case scheme and host, no default port,
  no fragment, no tracking parameters (remaining ones sorted), AMP forms replaced by the regular
  page, ``index.html`` and trailing slashes dropped, percent-encoding normalised. The scheme is
  kept (some sites really are http-only).
* ``url_identity`` is only a dedup key: ``canonical_url`` with http and https, ``www.``/``m.``
  and the scheme folded together. Never fetch it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

__all__ = ["TRACKING_PARAMS", "canonical_url", "resolve_link", "url_identity"]

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "cmpid",
        "cmp",
        "ocid",
        "smid",
        "smtyp",
        "sr_share",
        "src_trk",
        "xtor",
        "ito",
        "ncid",
        "soc_src",
        "soc_trk",
        "spm",
        "_ga",
        "_gl",
        "s_cid",
        "__twitter_impression",
        "mbid",
        "amp",
        "outputtype",
        "output_type",
        "ftag",
        "tpcc",
    }
)
"""Exact parameter names (compared lower-cased) that never select content."""

TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "hsa_", "_hs", "vero_", "oly_", "ga_")
_AMP_VALUES = frozenset({"", "1", "true", "amp"})
_INDEX_FILES = frozenset({"index.html", "index.htm", "index.shtml", "default.htm", "default.html"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_AMP_CACHE = re.compile(r"^/[cv]/(s/)?(?P<rest>[^/]+/.*)$")
_SKIP_SCHEMES = ("javascript:", "mailto:", "data:", "tel:", "about:", "#")


def _is_tracking(name: str, value: str) -> bool:
    lowered = name.lower()
    if lowered == "amp":
        return value.lower() in _AMP_VALUES
    if lowered in ("outputtype", "output_type"):
        return value.lower() == "amp"
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _normalise_percent(text: str) -> str:
    """Decode %XX for unreserved characters and upper-case the rest, as RFC 3986 §6.2.2 says."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    return _PERCENT.sub(fix, text)


def _clean_path(path: str) -> str:
    """Drop AMP segments and suffixes, ``index.html`` and the trailing slash."""
    segments = [s for s in path.split("/") if s.lower() != "amp"]
    if segments and segments[-1].lower() in _INDEX_FILES:
        segments[-1] = ""
    if segments:
        last = segments[-1]
        last = re.sub(r"\.amp(\.html?)?$", lambda m: m.group(1) or "", last, flags=re.I)
        segments[-1] = last
    path = "/".join(segments)
    path = re.sub(r"/{2,}", "/", path)
    path = _normalise_percent(quote(path, safe="/%:@!$&'()*+,;=-._~"))
    if len(path) > 1:
        path = path.rstrip("/")
    return path or "/"


def _clean_query(query: str) -> str:
    """Drop tracking parameters, sort the rest; ``?flag`` stays ``?flag`` (not ``?flag=``)."""
    kept = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if part and not _is_tracking(unquote_plus(name), unquote_plus(value)):
            kept.append(_normalise_percent(part))
    return "&".join(sorted(kept))


def _clean_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if host.startswith("amp."):
        host = host[4:]
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _unwrap_amp_cache(scheme: str, host: str, path: str) -> tuple[str, str, str] | None:
    """``https://site-com.cdn.ampproject.org/c/s/site.com/a`` → (https, site.com, /a)."""
    if not host.endswith(".cdn.ampproject.org"):
        return None
    match = _AMP_CACHE.match(path)
    if not match:
        return None
    inner_host, _, inner_path = match.group("rest").partition("/")
    inner_scheme = "https" if match.group(1) else "http"
    return inner_scheme, inner_host, "/" + inner_path


def canonical_url(url: str) -> str:
    """The fetchable canonical form of ``url`` (module docstring); bad input comes back stripped."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host, path = parts.hostname, parts.path
    unwrapped = _unwrap_amp_cache(scheme, host.lower(), path)
    if unwrapped:
        return canonical_url(urlunsplit((*unwrapped, parts.query, "")))
    netloc = _clean_host(host)
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, _clean_path(path), _clean_query(parts.query), ""))


def url_identity(url: str) -> str:
    """Dedup key: ``canonical_url`` without scheme, ``www.``/``m.``/``mobile.`` (never fetch it)."""
    canonical = canonical_url(url)
    parts = urlsplit(canonical)
    if parts.scheme not in _DEFAULT_PORTS:
        return canonical
    netloc = re.sub(r"^(www\d?|m|mobile)\.", "", parts.netloc)
    return urlunsplit(("", netloc, parts.path, parts.query, ""))


def resolve_link(base: str | None, href: str | None) -> str | None:
    """Absolute http(s) URL for ``href`` found in a document at ``base``, or None if unusable.

    None for empty hrefs, fragments, ``javascript:``/``mailto:``/``data:`` and for relative hrefs
    without an absolute base, so callers never store a link nobody can open.
    """
    if not href:
        return None
    href = href.strip()
    if not href or href.lower().startswith(_SKIP_SCHEMES):
        return None
    try:
        absolute = urljoin(base or "", href)
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.netloc:
        return None
    return urlunsplit(parts._replace(fragment=""))
