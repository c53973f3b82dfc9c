"""Driving wrk (with bench/wrk.lua) and reading its one result line.

wrk's own text output is never parsed: the Lua script's ``done()`` prints a single
``BENCH_RESULT {json}`` line, which :func:`parse_wrk_output` reads.
"""

import hashlib
import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.scenarios import Scenario

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
RESULT_MARKER = "BENCH_RESULT "
SOCKET_ERRORS = ("connect", "read", "write", "timeout")


@dataclass(frozen=True)
class WrkResult:
    """One wrk run, as printed by the ``done()`` of bench/wrk.lua."""

    requests: int
    duration_s: float
    bytes: int
    non2xx: int
    capped: bool
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # Responses with ``x-cache: hit`` / ``shared`` / ``miss``; None when not counted.
    # ``shared``: a signed-in list built on a stored body (with the reader's own marks).
    hits: int | None = None
    misses: int | None = None
    shared: int | None = None

    @property
    def rps(self) -> float:
        """Completed requests per second (0 for an empty run)."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def socket_errors(self) -> int:
        """Connect, read, write errors and timeouts (a non-2xx status is not one)."""
        return sum(self.errors.get(kind, 0) for kind in SOCKET_ERRORS)

    @property
    def failed(self) -> bool:
        """True when any request failed, or none completed: the figures are not valid."""
        return self.requests == 0 or self.non2xx > 0 or self.socket_errors > 0

    @property
    def cache_header_seen(self) -> bool:
        """Whether the server sent ``x-cache`` at all (older commits do not)."""
        return bool(self.hits or self.misses or self.shared)

    def problems(self) -> str:
        """What went wrong, briefly (empty when nothing did)."""
        parts = ["no responses"] if self.requests == 0 else []
        parts += [f"{self.non2xx} non-2xx"] if self.non2xx else []
        parts += [
            f"{count} {kind}" for kind, count in self.errors.items() if count and kind != "status"
        ]
        return ", ".join(parts)


def parse_wrk_output(stdout: str) -> WrkResult:
    """The result line of bench/wrk.lua's ``done()``; wrk's own text is ignored."""
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if len(lines) != 1:
        raise ValueError(
            f"expected one {RESULT_MARKER.strip()} line in wrk's output, got {len(lines)}"
        )
    raw = json.loads(lines[0].removeprefix(RESULT_MARKER))
    latency = raw["latency_us"]
    cache = raw.get("cache") or {}
    return WrkResult(
        requests=int(raw["requests"]),
        duration_s=raw["duration_us"] / 1e6,
        bytes=int(raw["bytes"]),
        non2xx=int(raw["non2xx"]),
        capped=bool(raw["capped"]),
        errors={kind: int(count) for kind, count in raw["errors"].items()},
        p50_ms=latency["p50"] / 1e3,
        p90_ms=latency["p90"] / 1e3,
        p99_ms=latency["p99"] / 1e3,
        max_ms=latency["max"] / 1e3,
        hits=int(cache["hits"]) if "hits" in cache else None,
        misses=int(cache["misses"]) if "misses" in cache else None,
        shared=int(cache["shared"]) if "shared" in cache else None,
    )


def find_wrk() -> str:
    """wrk's path; its absence ends the run with one line."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench does)")
    return found


@dataclass(frozen=True)
class WrkOptions:
    threads: int
    timeout_s: int
    max_requests: int
    seed: int


class Wrk:
    """Runs bench/wrk.lua with request files written into the run's folder."""

    def __init__(self, executable: str, folder: Path, options: WrkOptions) -> None:
        self.executable = executable
        self.folder = folder
        self.options = options
        self.runs = 0

    def _command(
        self,
        scenario: "Scenario",
        base_url: str,
        concurrency: int,
        seconds: float,
        max_requests: int,
        start: int,
    ) -> tuple[list[str], dict[str, str]]:
        self.runs += 1
        content = "\n".join(line.render() for line in scenario.lines) + "\n"
        digest = hashlib.sha256(content.encode()).hexdigest()[:8]
        requests_file = self.folder / f"requests-{scenario.key}-{digest}.tsv"
        if not requests_file.exists():
            requests_file.write_text(content)
        threads = max(1, min(self.options.threads, concurrency))
        env = {
            **os.environ,
            "BENCH_REQUESTS_FILE": str(requests_file),
            "BENCH_PICK": scenario.pick,
            "BENCH_MAX_REQUESTS": str(math.ceil(max_requests / threads)),
            "BENCH_SEED": str(self.options.seed),
            "BENCH_NONCE": f"{os.getpid()}x{self.runs}",
            "BENCH_START": str(start),
            "BENCH_THREADS": str(threads),
            "BENCH_COUNT_CACHE": "1" if scenario.cold else "0",
        }
        argv = [
            self.executable,
            f"--threads={threads}",
            f"--connections={concurrency}",
            f"--duration={max(1, round(seconds))}s",
            f"--timeout={self.options.timeout_s}s",
            f"--script={WRK_SCRIPT}",
            base_url,
        ]
        return argv, env

    def run(
        self,
        scenario: "Scenario",
        base_url: str,
        concurrency: int,
        seconds: float,
        max_requests: int | None = None,
        start: int = 0,
    ) -> WrkResult:
        """Drive ``base_url`` for ``seconds`` (or until the request cap) and parse the result."""
        argv, env = self._command(
            scenario,
            base_url,
            concurrency,
            seconds,
            max_requests or self.options.max_requests,
            start,
        )
        done = subprocess.run(  # noqa: S603 - wrk with our own arguments
            argv, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
        return parse_wrk_output(done.stdout)

    def start(
        self, scenario: "Scenario", base_url: str, concurrency: int, seconds: float
    ) -> subprocess.Popen[str]:
        """Run in the background (the login flood, the memory run); finish with :meth:`collect`."""
        argv, env = self._command(
            scenario, base_url, concurrency, seconds, self.options.max_requests, 0
        )
        return subprocess.Popen(  # noqa: S603 - wrk with our own arguments
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    @staticmethod
    def collect(process: "subprocess.Popen[str]", timeout_s: float) -> WrkResult:
        stdout, stderr = process.communicate(timeout=timeout_s)
        if process.returncode != 0:
            raise SystemExit(f"wrk failed ({process.returncode}): {stderr.strip()}")
        return parse_wrk_output(stdout)
