"""Private PostgreSQL and Redis servers for tests that restart them.

A fault test restarts its database and its Redis; the machine's shared ones (other tests and
other people use them) are never touched. :class:`PrivatePostgres` is a PostgreSQL cluster of
its own (Debian's server binaries, ``initdb`` into a temporary folder, ``pg_ctl`` on a free
port of 127.0.0.1, its socket in that folder); :class:`PrivateRedis` a ``redis-server`` on a
free port, with nothing saved to disk. Both are real servers: a restart drops every connection
the way a restart in production does.

``initdb`` refuses to run as root, so as root the cluster is made and run as the ``postgres``
user (``runuser``), in a folder that user owns. A missing binary is a skip with the reason
(:func:`tests.conftest.require`; a failure under ``CI=true``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import require

#: Where Debian puts the server binaries of each PostgreSQL major version.
DEBIAN_POSTGRES = Path("/usr/lib/postgresql")
#: How long starting or restarting a server may take.
START_SECONDS = 60.0


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def listening(port: int) -> bool:
    """Return whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def postgres_bin() -> Path | None:
    """Return the newest PostgreSQL server binaries' folder that has initdb and pg_ctl."""
    found = [
        d / "bin"
        for d in (sorted(DEBIAN_POSTGRES.iterdir()) if DEBIAN_POSTGRES.is_dir() else [])
        if (d / "bin" / "initdb").exists() and (d / "bin" / "pg_ctl").exists()
    ]
    return max(
        found, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0, default=None
    )


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, trusting local connections as ``postgres``."""

    def __init__(self, bin_dir: Path, folder: Path, port: int, runner: list[str]) -> None:
        self._bin = bin_dir
        self.folder = folder
        self.port = port
        self._runner = runner
        self.data = folder / "data"
        self.log = folder / "postgres.log"

    @property
    def url(self) -> str:
        """The URL of its ``postgres`` database (a test makes its own databases on it)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._runner, str(self._bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=START_SECONDS)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}\n{log}")

    def init(self) -> None:
        """Make the cluster's files (no fsync: a test's data need not survive a power cut)."""
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=400"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Restart it the way an operator does (``pg_ctl restart -m fast``): every session ends.

        With ``down_seconds``, it stays stopped that long before it starts again (a restart
        here takes a fraction of a second; one in production takes longer).
        """
        if not down_seconds:
            self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "restart"
            )
            return
        self.stop_fast()
        time.sleep(down_seconds)
        self.start()

    def stop_fast(self) -> None:
        """Stop it as a restart does (``-m fast``: every session is ended, then it stops)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        """Stop it at once (``-m immediate``): the test is over."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


class PrivateRedis:
    """A ``redis-server`` of the test's own on a free port, saving nothing to disk."""

    def __init__(self, binary: str, folder: Path, port: int) -> None:
        self._binary = binary
        self.folder = folder
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it takes connections."""
        argv = [
            self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no",
        ]  # fmt: skip
        with (self.folder / "redis.log").open("ab") as log:
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while not listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: see {self.folder / 'redis.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop it (SIGTERM) and wait for it to end."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Stop it and start it again on the same port, empty (nothing was saved)."""
        self.stop()
        time.sleep(down_seconds)
        self.start()


def _owned_folder(prefix: str) -> tuple[Path, list[str]]:
    """Return a new folder and the command prefix that runs PostgreSQL's tools in it.

    As root: a folder the ``postgres`` user owns, the tools run through ``runuser``.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() != 0:
        return folder, []
    user = pwd.getpwnam("postgres")
    os.chown(folder, user.pw_uid, user.pw_gid)
    runuser = shutil.which("runuser")
    assert runuser is not None
    return folder, [runuser, "-u", "postgres", "--"]


def postgres_available() -> tuple[bool, str]:
    """Return whether a private PostgreSQL can be made here, and why not."""
    if postgres_bin() is None:
        return False, (
            f"PostgreSQL's server binaries are not in {DEBIAN_POSTGRES}/*/bin "
            "(apt-get install postgresql): the fault tests run a server of their own"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False, "running as root without a postgres user to run initdb as"
        if shutil.which("runuser") is None:
            return False, "running as root without runuser to run initdb as postgres"
    return True, ""


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running PostgreSQL of its own, removed afterwards; a skip without the binaries."""
    available, reason = postgres_available()
    require(available, reason)
    bin_dir = postgres_bin()
    assert bin_dir is not None
    folder, runner = _owned_folder("refundbot-pg-")
    server = PrivatePostgres(bin_dir, folder, free_port(), runner)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A running Redis of its own, removed afterwards; a skip without ``redis-server``."""
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server is not installed (apt-get install redis-server)")
    assert binary is not None
    folder = Path(tempfile.mkdtemp(prefix="refundbot-redis-"))
    server = PrivateRedis(binary, folder, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
