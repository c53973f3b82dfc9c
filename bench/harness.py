"""The machinery of a run: starting servers, driving wrk, checking, measuring in rounds.

Cold scenarios never reuse a request on a server (a counter per server and scenario
carries on from run to run, and caps each run at what is left), and anchors are
measured right beside what they anchor: head and baseline, or head and naive peer,
in alternating rounds. bench/run.py decides what is measured, in which order.
"""

import base64
import json
import math
import os
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.databases import Database, SeedSize
from bench.git import ROOT, Checkout, code_fingerprint, worktree
from bench.report import TITLES, Anchor, MemoryFigures, Row, SaturationFigures, format_row
from bench.scenarios import Scenario
from bench.servers import (
    Server,
    ServerFailed,
    blog_origin,
    blog_server,
    ceiling_server,
    http,
)
from bench.wrk import Wrk, WrkResult
from blog.auth.security import PasswordHasher, TokenCodec
from blog.seeding import SEED_PASSWORD
from blog.settings import Settings

MAX_TOKENS = 200_000  # minting is ~40 us each; beyond this a run would repeat anyway


@dataclass(frozen=True)
class Options:
    """Everything a run is configured with (see ``python -m bench --help``)."""

    quick: bool
    postgres: str | None
    output: Path | None
    baseline: str | None
    concurrency: int
    rounds: int
    duration: int
    login_duration: int
    warmup: int
    memory_seconds: int
    memory_warmup: int
    wrk_threads: int
    wrk_timeout: int
    max_requests: int
    max_writes: int
    cold_tokens: int
    signed_in_tokens: int
    comments: int
    cursor_walk: int
    bcrypt_repeats: int
    token_minutes: int
    min_published: int
    seed: int
    size: SeedSize
    cores: int


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # scenario -> why (N/A)
    broken: dict[str, str] = field(default_factory=dict)  # scenario -> the head's failure
    problems: list[str] = field(default_factory=list)
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    bcrypt_s: list[float] = field(default_factory=list)
    saturation: SaturationFigures | None = None
    memory: MemoryFigures | None = None

    def add(self, row: Row) -> None:
        if not self.rows or self.rows[-1].scenario != row.scenario:
            print(TITLES[row.scenario], flush=True)
        self.rows.append(row)
        print(format_row(row), flush=True)

    def problem(self, message: str) -> None:
        self.problems.append(message)
        print(f"!! {message}", flush=True)


def time_bcrypt(rounds: int, repeats: int) -> float:
    """The median of ``repeats`` verifies with the app's own hasher at ``rounds``."""
    hasher = PasswordHasher(rounds=rounds)
    hashed = hasher.hash(SEED_PASSWORD)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        hasher.verify(SEED_PASSWORD, hashed)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class Bench:
    """Measures one database: head, baseline, naive peer and ceiling, then hands back rows."""

    def __init__(self, options: Options, database: Database, folder: Path, wrk: Wrk) -> None:
        self.options = options
        self.database = database
        self.folder = folder
        self.wrk = wrk
        self.results = Results()
        self.secret_key = secrets.token_urlsafe(48)
        self.codec = TokenCodec(self.secret_key, timedelta(minutes=options.token_minutes))
        self.sent: dict[tuple[str, str], int] = {}  # (server, scenario) -> lines used
        self.fingerprints = [code_fingerprint()]
        self.settings = Settings(_env_file=None)

    def server_env(self) -> dict[str, str]:
        """What every server runs with: the caller's BLOG_* settings, but a production
        environment, a strong throwaway key, long-lived tokens (a long run must not see
        its tokens expire) and rate limits off (wrk is one address hammering one account)."""
        return {
            **os.environ,
            "BLOG_ENVIRONMENT": "production",
            "BLOG_SECRET_KEY": self.secret_key,
            "BLOG_ACCESS_TOKEN_MINUTES": str(self.options.token_minutes),
            "BLOG_RATE_LIMITS_ENABLED": "false",
        }

    # -- servers ---------------------------------------------------------------------------

    def start(self, stack: ExitStack, server: Server, origin: str) -> Server:
        """Wait for ``server``; it is stopped when ``stack`` closes."""
        stack.callback(server.stop)
        server.wait_ready()
        self.results.servers[server.name] = {"url": server.base_url, "code": origin}
        print(f"  {server.name:<9} {server.base_url}  runs {origin}", flush=True)
        return server

    def start_blog(
        self, stack: ExitStack, name: str, env: dict[str, str], checkout: Checkout | None = None
    ) -> Server:
        """``blog serve`` of the head, or of ``checkout``, verified to import that code."""
        env = {**self.server_env(), **env}
        source = checkout.path if checkout else None
        expected = (source or ROOT) / "blog"
        found = blog_origin({**env, "PYTHONPATH": str(source)} if source else env, source or ROOT)
        if found.resolve() != expected.resolve():
            raise ServerFailed(f"{name} would import blog from {found}, not {expected}")
        label = f"blog from {found}" + (f" (commit {checkout.sha})" if checkout else "")
        return self.start(stack, blog_server(name, env, self.folder, source=source), label)

    def start_baseline(self, stack: ExitStack) -> Server | None:
        """The baseline commit's server on its own copy; None (reported) if it cannot run."""
        ref = self.options.baseline
        if ref is None:
            return None
        try:
            checkout = stack.enter_context(worktree(ref))
            env = stack.enter_context(self.database.working_copy(self.folder, "baseline"))
            return self.start_blog(stack, "baseline", env, checkout)
        except Exception as error:  # reported; the run goes on without a baseline
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            self.results.problem(f"baseline {ref} could not start, measured without it: {first}")
            return None

    @contextmanager
    def walker(self, env: dict[str, str]) -> Iterator[Server]:
        """A head server with its response cache off, for collecting cursors: the measured
        server then meets each cursor page for the first time."""
        server = blog_server(
            "walker", {**self.server_env(), **env, "BLOG_RESPONSE_CACHE_MB": "0"}, self.folder
        )
        try:
            server.wait_ready()
            yield server
        finally:
            server.stop()

    # -- driving wrk -----------------------------------------------------------------------

    def drive(self, scenario: Scenario, server: Server, seconds: float) -> WrkResult | None:
        """One wrk run, once the server has worked off what came before; None when a cold
        scenario has no unused request left for this server.

        Runs go on where the previous one on this server stopped; a cold run is capped at
        the requests left, less those that may be in flight when wrk stops (sent too).
        """
        key = (server.name, scenario.key)
        start = self.sent.get(key, 0)
        concurrency = self.options.concurrency
        cap = self.options.max_writes if scenario.pick == "unique" else None
        if scenario.cold:
            cap = len(scenario.lines) - start - concurrency
            if cap < concurrency:
                return None
        server.wait_idle()
        result = self.wrk.run(scenario, server.base_url, concurrency, seconds, cap, start)
        self.sent[key] = start + result.requests + concurrency
        return result

    def check(self, scenario: Scenario, server: Server) -> tuple[str | None, bytes]:
        """Send the scenario's next request(s) once: a problem (or None), and the body."""
        key = (server.name, scenario.key)
        start = self.sent.get(key, 0)
        count = 1 if scenario.pick == "first" else min(2, len(scenario.lines))
        body = b""
        for number in range(count):
            line = scenario.lines[(start + number) % len(scenario.lines)]
            tag = f"check-{server.name}-{number}"
            status, body, _ = http(
                line.method,
                server.base_url + line.path.replace("@N@", tag),
                line.body.replace("@N@", tag),
                line.headers,
            )
            if not 200 <= status < 300:
                shown = body[:200].decode(errors="replace")
                return f"{server.name} answered {status} to {line.method} {line.path}: {shown}", b""
        if scenario.pick != "first":
            self.sent[key] = start + count
        return None, body

    def checked(
        self, scenario: Scenario, head: Server, others: list[Server]
    ) -> list[Server] | None:
        """Check ``scenario`` on the head and on ``others``: the others that answered, or
        None when the head did not (the scenario is broken, its target fails)."""
        problem, _ = self.check(scenario, head)
        if problem:
            self.results.broken[scenario.key] = problem
            self.results.problem(f"{scenario.key}: {problem}")
            return None
        fine = []
        for other in others:
            problem, _ = self.check(scenario, other)
            if problem:
                self.results.skipped[scenario.key] = f"no {other.name} figure: {problem}"
                self.results.problem(f"{scenario.key}: {problem}")
            else:
                fine.append(other)
        return fine

    def rounds(
        self, scenario: Scenario, head: Server, anchor: Server | None, kind: Anchor | None
    ) -> None:
        """Warm both up, then head and anchor back to back, ``--rounds`` times."""
        if not head.answers():
            raise ServerFailed(f"{head.name} stopped answering /health/ready")
        servers = [head, *([anchor] if anchor else [])]
        if scenario.warmup and self.options.warmup > 0:
            for server in servers:
                self.drive(scenario, server, self.options.warmup)
        seconds = self.seconds(scenario)
        for number in range(self.options.rounds):
            measured = self.drive(scenario, head, seconds)
            reference = self.drive(scenario, anchor, seconds) if anchor else None
            if measured is None or (anchor is not None and reference is None):
                self.results.problem(
                    f"{scenario.key}: no unused requests left after {number} round(s)"
                )
                return
            note = f"round {number + 1}" if self.options.rounds > 1 else ""
            self.results.add(
                Row(
                    scenario.key,
                    head.name,
                    measured,
                    kind,
                    reference,
                    cold=scenario.cold,
                    note=note,
                )
            )

    def seconds(self, scenario: Scenario) -> int:
        """How long each run of ``scenario`` lasts: logins need longer to ramp up."""
        if scenario.key == "login":
            return max(self.options.duration, self.options.login_duration)
        return self.options.duration

    def tokens_for(self, anchor_key: str) -> int:
        """Enough distinct tokens that a signed-in run never repeats one: its anonymous hot
        rate (an upper bound) times the seconds it will run, with some margin."""
        rows = [row for row in self.results.rows if row.scenario == anchor_key]
        rps = max((row.result.rps for row in rows), default=0.0)
        seconds = self.options.warmup + self.options.rounds * self.options.duration
        needed = math.ceil(rps * seconds * 1.3)
        return min(MAX_TOKENS, max(self.options.signed_in_tokens, needed))

    # -- capture for the ceiling -------------------------------------------------------------

    def ceiling(self, stack: ExitStack, hot: list[Scenario], head: Server) -> Server:
        """The ceiling app answering every hot route with the head's very bytes."""
        routes = []
        for scenario in hot:
            problem, body = self.check(scenario, head)
            if problem:
                self.results.broken[scenario.key] = problem
                self.results.problem(f"{scenario.key}: {problem}")
                continue
            method = scenario.lines[0].method
            encoded = base64.b64encode(body).decode()
            routes.append(
                {"method": method, "path": scenario.route, "status": 200, "body_b64": encoded}
            )
        spec = self.folder / "ceiling.json"
        spec.write_text(json.dumps(routes))
        log_level = self.settings.log_level.lower()
        server = self.start(
            stack, ceiling_server("ceiling", spec, self.folder, log_level), "bench/ceiling.py"
        )
        if self.options.warmup > 0:
            self.drive(hot[0], server, self.options.warmup)
        return server

    def check_code(self, moment: str) -> None:
        """Warn (once per change) when blog/ or migrations/ differ from the run's start."""
        now = code_fingerprint()
        if now not in self.fingerprints:
            self.fingerprints.append(now)
            self.results.problem(
                f"blog/ or migrations/ changed during the run (seen {moment}): the figures "
                "mix versions of the code; run again on a quiet working tree"
            )
