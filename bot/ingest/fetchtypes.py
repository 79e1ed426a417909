"""What goes into a fetch and what comes out: the fetcher's limits (``FetchPolicy``) and one
fetch's outcome (``FetchResult``), both immutable values a caller can keep and compare."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .urlguard import URLGuard

if TYPE_CHECKING:
    from bot.settings import Settings


@dataclass(frozen=True)
class FetchPolicy:
    """Every limit of the fetcher, in one immutable value built once from ``Settings``."""

    timeout_s: float = 20.0  # each network operation: connect, each read, each write
    deadline_s: float = 60.0  # the whole fetch(): all attempts, hops, sleeps and the body
    max_bytes: int = 5 * 1024 * 1024  # decoded body cap
    max_redirects: int = 5
    user_agent: str = "sanctions-bot/0.1 (news monitoring)"
    max_connections: int = 20
    max_per_host: int = 2  # keyed by host name; all ports of a host share it
    retries: int = 3  # extra attempts after the first
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    retry_after_cap_s: float = 120.0  # longer Retry-After: give up, report it to the caller
    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        """The policy the running bot uses (``ALLOW_PRIVATE_URLS`` and friends)."""
        return cls(
            timeout_s=settings.fetch_timeout_s,
            deadline_s=max(3 * settings.fetch_timeout_s, 30.0),
            max_bytes=settings.max_response_bytes,
            max_redirects=settings.max_redirects,
            user_agent=settings.user_agent,
            max_connections=settings.max_connections,
            max_per_host=settings.max_connections_per_host,
            allow_private=settings.allow_private_urls,
        )

    def guard(self) -> URLGuard:
        """A guard with this policy's address rules and the system resolver."""
        return URLGuard(allow_private=self.allow_private, allow_hosts=self.allow_hosts)


@dataclass(frozen=True)
class FetchResult:
    """What one fetch produced. ``content`` is decoded (no gzip/br) and at most ``max_bytes``."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool
    truncated: bool
    elapsed_s: float
    attempts: int = 1
    redirects: tuple[str, ...] = field(default=())  # the hops before final_url

    @property
    def content_type(self) -> str:
        """Media type without parameters, lower-cased ('' when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, if the server sent one."""
        for param in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip(" \"'"):
                return value.strip(" \"'")
        return None
