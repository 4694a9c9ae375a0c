"""A real, throw-away PostgreSQL server for the store tests.

Started once per test session in a temporary directory on a free loopback
port with the server binaries found on PATH or under
``/usr/lib/postgresql/*/bin`` (Debian), and stopped afterwards.  PostgreSQL
refuses to run as root, so as root the cluster is owned by and run as the
``postgres`` user (or ``nobody``).  Each test gets a fresh database.  Where
the binaries or asyncpg are missing, the PostgreSQL tests are skipped with the
reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PG_USER = "gateway"


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@{self.host}:{self.port}/{database}"


def find_pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, newest Debian version first."""
    candidates = []
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found).resolve().parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [Path(p) for p in versions]
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> dict[str, Any]:
    """subprocess keyword arguments that drop root for the server; {} when not root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    pytest.skip("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    pytest.importorskip("asyncpg", reason="asyncpg not installed: pip install -e '.[postgres]'")
    bindir = find_pg_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries not installed: no initdb/pg_ctl on PATH or under "
            "/usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)"
        )
    run_as = _run_as()
    root = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
    datadir, log = root / "data", root / "server.log"
    if run_as:
        os.chown(root, run_as["user"], run_as["group"])
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    env.pop("PGDATA", None)
    init = subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            PG_USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        **run_as,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off -c max_connections=100"
    start = subprocess.run(
        [str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        **run_as,
    )
    if start.returncode != 0:
        text = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start:\n{start.stdout}\n{start.stderr}\n{text}")
    try:
        yield PgServer("127.0.0.1", port)
    finally:
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            env=env,
            cwd=root,
            **run_as,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def pg_url(pg_server: PgServer) -> AsyncIterator[str]:
    """A fresh, empty database on the session's server."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_server.url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield pg_server.url(name)
    conn = await asyncpg.connect(pg_server.url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
