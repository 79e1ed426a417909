"""URLs and HTTP library logs made safe to log: feed URLs may carry tokens and keys in their
query, and httpx and httpcore log every URL they request at INFO."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_PARAMS = ("token", "key", "secret", "password", "passwd", "auth", "sig", "session")


def quiet_http_logs() -> None:
    """Silence httpx/httpcore below WARNING: they log every URL at INFO, query secrets included."""
    for name in ("httpx", "httpcore", "hpack", "h2"):
        logging.getLogger(name).setLevel(logging.WARNING)


def redact_url(url: str) -> str:
    """The URL without credentials and with secret-looking query values masked, for logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc.rpartition("@")[2]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    masked = [(k, "***" if any(s in k.lower() for s in SECRET_PARAMS) else v) for k, v in pairs]
    query = urlencode(masked) if masked else parts.query
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
