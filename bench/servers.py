"""The servers measured: processes in their own process groups, and what /proc says of them.

Every server is started with this virtualenv's Python on 127.0.0.1 under the uvicorn
settings of ``blog serve`` (uvloop, httptools, no server header, one worker):
``blog serve`` itself (head, or a baseline commit's code through ``PYTHONPATH``), the
naive peer (bench/naive.py) and the ceiling app (bench/ceiling.py).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
IDLE_SAMPLE_S = 0.3
IDLE_CPU_SHARE = 0.10  # of one core: a few log lines or a keep-alive, not a request


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def process_group(pgid: int) -> dict[int, int]:
    """Live processes of a group (zombies left out) and their resident memory in KiB."""
    members: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the parenthesised command name: state ppid pgrp ...
            state, _ppid, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            if int(group) != pgid or state == "Z":
                continue
            status = (entry / "status").read_text().splitlines()
            rss = [int(line.split()[1]) for line in status if line.startswith("VmRSS:")]
            members[int(entry.name)] = rss[0] if rss else 0
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    return members


def process_group_cpu_ticks(pgid: int) -> int:
    """User + system CPU time of the group's live processes, in clock ticks."""
    total = 0
    for pid in process_group(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total


class ServerFailed(Exception):
    """A server did not start, or stopped answering; the message says which and why."""


class Server:
    """A server process in its own process group, so stopping it leaves nothing behind."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        folder: Path,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.folder = folder
        self.log_path = folder / f"{name}-{self.port}.log"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own servers
            [*argv, "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            # Not the repository by default: a developer's .env must not change the figures.
            cwd=cwd or folder,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until /health/ready answers 200; raises :class:`ServerFailed` with the log's tail."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if self.answers(timeout_s=2):
                return
            time.sleep(0.1)
        raise ServerFailed(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def answers(self, timeout_s: float = 10.0) -> bool:
        """Whether /health/ready still answers 200 (a hung server makes every run empty)."""
        try:
            with urllib.request.urlopen(  # noqa: S310 - loopback
                self.base_url + "/health/ready", timeout=timeout_s
            ) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def keep_log(self, into: Path) -> Path:
        """Copy the log out of the run's folder (which is deleted) for a post-mortem."""
        self._log.flush()
        kept = into / f"failed-{self.log_path.name}"
        shutil.copyfile(self.log_path, kept)
        return kept

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def rss_kib(self) -> int:
        """Resident memory of every process in the group (a multi-worker server's all)."""
        return sum(process_group(self.process.pid).values())

    def wait_idle(self, timeout_s: float = 60.0) -> float:
        """Wait until the server stops using CPU; return the seconds waited.

        wrk closes its connections when its time is up, but the server still works off
        what it had accepted (logins queued for bcrypt, above all): without this, that
        backlog would be billed to the next run.
        """
        started = time.monotonic()
        quiet = 0
        before = process_group_cpu_ticks(self.process.pid)
        while time.monotonic() - started < timeout_s and quiet < 1:
            time.sleep(IDLE_SAMPLE_S)
            now = process_group_cpu_ticks(self.process.pid)
            busy = (now - before) / CLOCK_TICKS / IDLE_SAMPLE_S
            quiet = quiet + 1 if busy < IDLE_CPU_SHARE else 0
            before = now
        return time.monotonic() - started

    def stop(self) -> None:
        """SIGTERM to the whole group; SIGKILL to whatever is left after 10 s. Idempotent."""
        if self._log.closed:
            return
        for sig, grace_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline:
                self.process.poll()  # reaps the leader, which would linger as a zombie
                if not process_group(self.process.pid):
                    break
                time.sleep(0.05)
            else:
                continue
            break
        self.process.wait(timeout=5)
        self._log.close()


def blog_origin(env: dict[str, str], cwd: Path) -> Path:
    """Where ``import blog`` resolves for a server started with ``env`` in ``cwd``.

    Asked of a fresh interpreter started exactly like the server, so a baseline served
    through ``PYTHONPATH`` is known to run the baseline's code, not the editable install.
    """
    done = subprocess.run(
        [sys.executable, "-c", "import blog; print(blog.__file__)"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ServerFailed(f"cannot import blog from {cwd}: {done.stderr.strip()[-300:]}")
    return Path(done.stdout.strip()).parent


def blog_server(
    name: str, env: dict[str, str], folder: Path, *, source: Path | None = None
) -> Server:
    """``blog serve`` with one worker; ``source``: a checkout whose ``blog`` to serve instead
    of the editable install's (with it on ``PYTHONPATH`` and as the working directory)."""
    if source is not None:
        env = {**env, "PYTHONPATH": str(source)}
    argv = [sys.executable, "-m", "blog", "serve", "--workers", "1"]
    return Server(name, argv, env, folder, cwd=source)


def naive_server(name: str, env: dict[str, str], folder: Path, log_level: str) -> Server:
    """The naive peer (bench/naive.py) on the database of ``env``'s BLOG_DATABASE_URL."""
    argv = [sys.executable, "-m", "bench.naive", f"--log-level={log_level}"]
    return Server(name, argv, env, folder)


def ceiling_server(name: str, spec: Path, folder: Path, log_level: str) -> Server:
    """The ceiling app (bench/ceiling.py) answering the routes of ``spec``."""
    argv = [sys.executable, "-m", "bench.ceiling", f"--spec={spec}", f"--log-level={log_level}"]
    return Server(name, argv, dict(os.environ), folder)


def http(
    method: str, url: str, body: str = "", headers: Sequence[str] = (), timeout_s: float = 60
) -> tuple[int, bytes, dict[str, str]]:
    """One request with the standard library (checks, captures and cursor walks, not load)."""
    request = urllib.request.Request(  # noqa: S310 - loopback URLs we built
        url, data=body.encode() if body else None, method=method
    )
    for header in headers:
        name, value = header.split(":", 1)
        request.add_header(name, value.strip())
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            return int(answer.status), bytes(answer.read()), _lower(answer.headers.items())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read()), _lower(error.headers.items())


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def serve_like_blog(factory: str, *, host: str, port: int, log_level: str) -> None:
    """Serve the app ``factory`` (``module:function``) under the uvicorn settings of
    ``blog serve``: one worker, uvloop, httptools, no Server header."""
    import uvicorn

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=1,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        server_header=False,
    )
