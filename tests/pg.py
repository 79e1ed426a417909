"""A throwaway PostgreSQL server for the test session, started and removed by the tests.

``pg_server`` (session scope) runs ``initdb`` into a temporary directory and starts the
server with ``pg_ctl`` on a free loopback port, trust authentication for loopback only, its
unix socket inside that directory. ``pg_url`` (function scope) is the URL of a fresh, empty
database (``CREATE DATABASE ... TEMPLATE template0``), dropped again after the test.

One role is the exception to trust: ``PASSWORD_USER`` must log in over TCP with
``PASSWORD`` (``scram-sha-256``), a password full of characters a URL must percent-encode,
as production servers require. ``pg_password_url`` is a fresh database it owns, as the
``postgresql://user:password@host:port/db`` URL that ``.env.example`` documents.

At session end the server is stopped and the directory deleted, also when tests fail. A small
watchdog shell process does the same if pytest itself dies without running its finalizers
(SIGKILL, a crash), so no ``postgres`` process outlives the test run.

``initdb`` and ``postgres`` refuse to run as root; tests run as root here and in CI, so as root
the server programs run as the ``postgres`` system user (``runuser -u postgres --``), which
owns the temporary directory.

The server binaries come from ``$PG_BINDIR`` if set, else ``pg_config --bindir``, else the
newest ``/usr/lib/postgresql/*/bin``. Without them the PostgreSQL tests skip, except when
``CI`` is set: there a missing server is a failure, so CI can never pass without testing
PostgreSQL (CI installs it with ``apt-get install -y postgresql``).

The server deliberately runs in a non-UTC time zone (``TIME_ZONE`` below): code that only
works because the server happens to be UTC fails here instead of in production.

Register the fixtures for the whole suite by adding to ``tests/conftest.py``::

    pytest_plugins = ["tests.pg"]
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

PG_USER = "postgres"  # the database superuser created by initdb
SYSTEM_USER = "postgres"  # the OS user the server runs as when the tests run as root
HOST = "127.0.0.1"
TIME_ZONE = "Asia/Kathmandu"  # UTC+05:45: no whole-hour offset, no daylight saving
PROGRAMS = ("initdb", "pg_ctl", "postgres")
PASSWORD_USER = "pwuser"  # the one role that must authenticate (scram-sha-256 over TCP)
PASSWORD = "p%40ss%w0rd@/:?#[] x"  # every URL-special character; "%40" must stay literal

_WATCHDOG = r"""
while kill -0 "$1" 2>/dev/null; do sleep 1; done
if [ -f "$2/postmaster.pid" ]; then
    kill -QUIT "$(head -n 1 "$2/postmaster.pid")" 2>/dev/null
    sleep 2
fi
rm -rf "$3"
"""


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server programs on this machine (or no user to run them as root)."""


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            )
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    # libpq-dev's pg_config may point at a version whose server is not installed: fall back
    # to the newest installed server.
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates.extend(Path(p) for p in sorted(versions, key=_version_key, reverse=True))
    for candidate in candidates:
        if all(os.access(candidate / name, os.X_OK) for name in PROGRAMS):
            return candidate
    return None


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", Path(path).parent.name)) or (0,)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """The environment without libpq/server variables that could redirect the programs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


def _traversable_by_others(path: Path) -> bool:
    return all(part.stat().st_mode & stat.S_IXOTH for part in [path, *path.parents])


class PgServer:
    """A running throwaway cluster. Use ``start()``; always ``stop()`` (idempotent)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.root: Path | None = None
        self.port = 0
        self.version = 0
        self.startup_seconds = 0.0
        self._admin: psycopg.Connection | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._names = itertools.count(1)
        self._stopped = False
        if self.as_root:
            try:
                self._owner = pwd.getpwnam(SYSTEM_USER)
            except KeyError as exc:
                raise PostgresUnavailable(
                    f"running as root but there is no {SYSTEM_USER!r} system user to run PostgreSQL as"
                ) from exc

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    def start(cls, bindir: Path | None = None) -> PgServer:
        bindir = bindir or find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; install e.g. `apt-get install -y postgresql`"
            )
        server = cls(bindir)
        try:
            server._start()
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def data(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def _start(self) -> None:
        began = time.monotonic()
        base = Path(tempfile.gettempdir())
        if self.as_root and not _traversable_by_others(base):
            base = Path("/tmp")
        self.root = Path(tempfile.mkdtemp(prefix="sbpg-", dir=base))
        atexit.register(self.stop)
        if self.as_root:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        self._watchdog = subprocess.Popen(
            [
                "sh",
                "-c",
                _WATCHDOG,
                "pg-watchdog",
                str(os.getpid()),
                str(self.data),
                str(self.root),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._run(
            [
                "initdb",
                "-D", str(self.data),
                "-U", PG_USER,
                "-E", "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=trust",
                "--no-sync",
            ]
        )  # fmt: skip
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            "# throwaway test cluster: trust, loopback only; one role needs its password\n"
            "local all all trust\n"
            f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n"
            "host all all ::1/128 trust\n"
        )
        if self.as_root:
            os.chown(hba, self._owner.pw_uid, self._owner.pw_gid)
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write(
                    "\n# tests/pg.py\n"
                    f"listen_addresses = '{HOST}'\n"
                    f"port = {self.port}\n"
                    f"unix_socket_directories = '{self.root}'\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "max_connections = 200\n"
                    "password_encryption = 'scram-sha-256'\n"
                    f"timezone = '{TIME_ZONE}'\n"
                    "log_min_messages = warning\n"
                )
            result = self._run(
                [
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
                check=False,
            )
            if result.returncode == 0:
                break
            last_error = result.stdout + result.stderr + self._log_tail()
        else:
            raise RuntimeError(f"PostgreSQL did not start:\n{last_error}")
        self._admin = self._connect_admin(deadline=time.monotonic() + 15)
        self.version = int(self._admin.info.server_version)
        self._admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(PASSWORD_USER), sql.Literal(PASSWORD)
            )
        )
        self.startup_seconds = time.monotonic() - began

    def _connect_admin(self, deadline: float) -> psycopg.Connection:
        while True:
            try:
                return psycopg.connect(
                    host=HOST,
                    port=self.port,
                    user=PG_USER,
                    dbname="postgres",
                    autocommit=True,
                    connect_timeout=5,
                )
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL does not accept connections on port {self.port}:\n{self._log_tail()}"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server and delete its directory; safe to call more than once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._admin is not None:
            with contextlib.suppress(psycopg.Error, OSError):  # the server may be gone already
                self._admin.close()
        if self.root is not None and (self.data / "postmaster.pid").exists():
            result = self._run(
                ["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "20", "stop"],
                check=False,
            )
            if result.returncode != 0:
                self._kill_postmaster()
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass

    def _run(self, argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_root:
            if shutil.which("runuser"):
                argv = ["runuser", "-u", SYSTEM_USER, "--", *argv]
            else:
                argv = ["su", SYSTEM_USER, "-s", "/bin/sh", "-c", shlex.join(argv)]
        result = subprocess.run(
            argv,
            cwd=self.root,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            start_new_session=True,  # the server must not get the terminal's Ctrl-C
            check=False,  # failures are raised below, with the program's output
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result

    def _log_tail(self) -> str:
        try:
            return "\n".join(
                (self.root / "server.log").read_text(errors="replace").splitlines()[-30:]
            )  # type: ignore[operator]
        except OSError:
            return ""

    # -- faults -----------------------------------------------------------------------------

    def halt(self) -> None:
        """Stop the server as an operator's restart does (``pg_ctl stop -m fast``: every
        connection is cut), keeping its data, port and directory for ``resume``."""
        if self._admin is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                self._admin.close()
            self._admin = None
        self._run(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop"])

    def resume(self) -> None:
        """Start a ``halt``-ed server again on the same port, with the same data."""
        assert self.root is not None
        log = str(self.root / "server.log")
        self._run(["pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "30", "start"])
        self._admin = self._connect_admin(deadline=time.monotonic() + 15)

    def read_only(self, on: bool) -> None:
        """Make every transaction of every session read-only, or writable again, at once
        (``default_transaction_read_only`` in the server's configuration, reloaded: unlike
        ``ALTER DATABASE ... SET``, a reload reaches sessions that are already connected).
        What a replica, a failover or an operator's emergency switch does to a writer."""
        assert self._admin is not None
        with self._lock:
            value = "on" if on else "off"
            self._admin.execute("SET default_transaction_read_only = off")  # this session writes
            self._admin.execute(f"ALTER SYSTEM SET default_transaction_read_only = {value}")
            self._admin.execute("SELECT pg_reload_conf()")

    # -- databases ------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_USER}@{HOST}:{self.port}/{dbname}"

    def password_url(self, dbname: str, password: str = PASSWORD) -> str:
        """URL of ``dbname`` for ``PASSWORD_USER``, password percent-encoded, scheme as documented."""
        return (
            f"postgresql://{PASSWORD_USER}:{quote(password, safe='')}@{HOST}:{self.port}/{dbname}"
        )

    def create_database(self, name: str | None = None, owner: str | None = None) -> str:
        """A new empty database (owned by ``owner``, else the superuser); returns its name."""
        name = name or f"t_{next(self._names)}_{uuid.uuid4().hex[:8]}"
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
        assert self._admin is not None
        owned = f' OWNER "{owner}"' if owner else ""
        with self._lock:
            self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0{owned}')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
        assert self._admin is not None
        with self._lock:
            if self.version >= 130000:
                self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                self._admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                self._admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@dataclass
class _Shared:
    server: PgServer | None = None


_shared = _Shared()
_shared_lock = threading.Lock()


def shared_server() -> PgServer:
    """The session's one server, started on first use; without PostgreSQL skip the test, or
    fail it when ``CI`` is set.

    A module-level singleton rather than fixture state, so that test modules importing the
    fixtures directly (each then has its own fixture definition) still share one cluster.
    """
    with _shared_lock:
        if _shared.server is None or _shared.server._stopped:
            _shared.server = start_or_skip()
        return _shared.server


def start_or_skip() -> PgServer:
    """Start a new server; without PostgreSQL skip, or fail when ``CI`` is set."""
    try:
        return PgServer.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The running throwaway server (``.url(dbname)``, ``.create_database()``), stopped and
    deleted at session end."""
    server = shared_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh, empty database, dropped after the test."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture
def pg_password_url(pg_server: PgServer) -> Iterator[str]:
    """``postgresql://pwuser:<encoded password>@127.0.0.1:PORT/<db>`` of a fresh database that
    role owns, dropped after the test."""
    name = pg_server.create_database(owner=PASSWORD_USER)
    yield pg_server.password_url(name)
    pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend in turn: a temporary SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    return str(request.getfixturevalue("pg_url"))
