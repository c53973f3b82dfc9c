"""What one run measures, and in which order.

Reads run first, on the data as seeded; the long memory run and the writes come last.
Servers, one worker each on 127.0.0.1: the head (this working tree), the baseline
commit (a git worktree served with the same virtualenv), the naive peer (on the head's
copy; it only reads) and the ceiling app.
"""

import json
import random
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.databases import Database
from bench.dataset import Dataset
from bench.git import git_info
from bench.harness import Bench, Options, time_bcrypt
from bench.report import (
    Anchor,
    MemoryFigures,
    Row,
    SaturationFigures,
    format_table,
)
from bench.scenarios import Builder, CursorsUnsupported, Scenario, collect_cursors, plan_walks
from bench.servers import Server, ServerFailed, http, naive_server
from bench.summary import format_load, summary
from bench.wrk import Wrk

NOT_SUPPORTED = 'not supported by this server (no "next" in its list response)'
CURSOR_WALK_STARTS = 4  # per blog: walks begin at spread-out depths


def collect(bench: Bench, builder: Builder, env: dict[str, str]) -> list[tuple[str, str]] | str:
    """Cursors at many depths, walked on a cache-less head server; or why there are none
    (a walk that met an error also marks the scenario broken)."""
    plans = plan_walks(builder.data.published, bench.options.cursor_walk, CURSOR_WALK_STARTS)
    started = time.monotonic()
    with bench.walker(env) as walker:

        def fetch(path: str) -> dict[str, Any]:
            status, body, _ = http("GET", walker.base_url + path)
            if status != 200:
                shown = body[:200].decode(errors="replace")
                raise WalkFailed(f"head answered {status} to GET {path}: {shown}")
            page: dict[str, Any] = json.loads(body)
            return page

        try:
            cursors = collect_cursors(fetch, plans, threads=4)
        except CursorsUnsupported:
            print(f"  cursor: {NOT_SUPPORTED}")
            return NOT_SUPPORTED
        except WalkFailed as failed:
            bench.results.broken["cursor"] = str(failed)
            bench.results.problem(f"cursor walk: {failed}")
            return str(failed)
    print(f"  {len(cursors):,} cursors collected in {time.monotonic() - started:.0f} s")
    return cursors


class WalkFailed(Exception):
    """A cursor walk met an error answer."""


def hot_reads(bench: Bench, stack: ExitStack, hot: list[Scenario], head: Server) -> None:
    ceiling = bench.ceiling(stack, hot, head)
    print(f"\n{format_table([]).splitlines()[0]}", flush=True)
    for scenario in hot:
        if scenario.key not in bench.results.broken:
            bench.rounds(scenario, head, ceiling, Anchor.ceiling)


def deep_pages(
    bench: Bench,
    builder: Builder,
    head: Server,
    naive: Server,
    cursors: list[tuple[str, str]] | str,
) -> Scenario:
    deep = builder.list_deep()
    peers = bench.checked(deep, head, [naive])
    if peers is not None:
        bench.rounds(deep, head, peers[0] if peers else None, Anchor.naive if peers else None)
    if isinstance(cursors, str):
        if "cursor" not in bench.results.broken:
            bench.results.skipped["cursor"] = cursors
        return deep
    cursor = builder.cursor(cursors)
    naive_rows = [row.reference for row in bench.results.rows if row.scenario == "list-deep"]
    for _ in range(bench.options.rounds):
        result = bench.drive(cursor, head, bench.options.duration)
        if result is None:
            bench.results.problem("cursor: out of distinct cursors (raise --cursor-walk)")
            break
        anchor = naive_rows[-1] if naive_rows else None
        kind = Anchor.naive if anchor else None
        note = "anchor: naive list-deep"
        bench.results.add(Row("cursor", "head", result, kind, anchor, cold=True, note=note))
    return deep


def signed_in(bench: Bench, builder: Builder, hot: list[Scenario], head: Server) -> list[Scenario]:
    """Signed-in lists, each round right after the anonymous hot rate of the same URL."""
    made = []
    for key, anchor_key in (("signed-in-list", "hot-list"), ("signed-in-articles", "hot-articles")):
        anonymous = next(scenario for scenario in hot if scenario.key == anchor_key)
        count = bench.tokens_for(anchor_key)
        scenario = (
            builder.signed_in_list(count)
            if key == "signed-in-list"
            else builder.signed_in_articles(count)
        )
        made.append(scenario)
        if anchor_key in bench.results.broken or bench.checked(scenario, head, []) is None:
            continue
        if bench.options.warmup > 0:
            bench.drive(scenario, head, bench.options.warmup)
        for _ in range(bench.options.rounds):
            reference = bench.drive(anonymous, head, bench.options.duration)
            measured = bench.drive(scenario, head, bench.options.duration)
            if measured is None or reference is None:
                bench.results.problem(f"{key}: out of distinct tokens (raise --signed-in-tokens)")
                break
            bench.results.add(Row(key, "head", measured, Anchor.anonymous, reference, cold=True))
    return made


def against_baseline(
    bench: Bench, scenarios: list[Scenario], head: Server, baseline: Server | None
) -> None:
    for scenario in scenarios:
        peers = bench.checked(scenario, head, [baseline] if baseline else [])
        if peers is None:
            continue
        if baseline is None:
            bench.results.skipped.setdefault(scenario.key, "no baseline in this run")
        peer = peers[0] if peers else None
        bench.rounds(scenario, head, peer, Anchor.baseline if peer else None)


def logins(bench: Bench, builder: Builder, head: Server, hot_list: Scenario) -> None:
    """Logins/s against the bcrypt ceiling, then GET /posts while logins flood the CPU."""
    scenario = builder.login_flood()
    if bench.checked(scenario, head, []) is None:
        return
    bench.results.bcrypt_s.append(
        time_bcrypt(bench.settings.bcrypt_rounds, bench.options.bcrypt_repeats)
    )
    # The fastest timing: a shared machine only slows bcrypt down, and it is the strictest bar.
    ceiling_rps = bench.options.cores / min(bench.results.bcrypt_s)
    bench.drive(scenario, head, bench.options.warmup)
    result = bench.drive(scenario, head, bench.seconds(scenario))
    if result is not None:
        bench.results.add(Row("login", "head", result, Anchor.bcrypt, reference_rps=ceiling_rps))
    seconds = bench.options.duration
    alone = bench.drive(hot_list, head, seconds)
    flood = bench.wrk.start(scenario, head.base_url, max(8, 4 * bench.options.cores), seconds + 4)
    try:
        time.sleep(2)  # let the logins fill every core first
        loaded = bench.wrk.run(hot_list, head.base_url, bench.options.concurrency, seconds)
    finally:
        flooded = Wrk.collect(flood, seconds + 60)
    if alone is not None:
        bench.results.saturation = SaturationFigures(alone, loaded, flooded)


def memory(bench: Bench, mixed: Scenario, head: Server) -> None:
    """RSS after a warm-up of mixed reads, then along and at the end of a long run."""
    options = bench.options
    head.wait_idle()
    bench.wrk.run(mixed, head.base_url, options.concurrency, options.memory_warmup)
    warm = peak = head.rss_kib()
    process = bench.wrk.start(mixed, head.base_url, options.concurrency, options.memory_seconds)
    try:
        while process.poll() is None:
            peak = max(peak, head.rss_kib())
            time.sleep(1)
        end = head.rss_kib()
    finally:
        load = Wrk.collect(process, 60)
    bench.results.memory = MemoryFigures(options.memory_seconds, warm, end, max(peak, end), load)


def measure(bench: Bench, data: Dataset) -> None:
    """Every scenario, on servers started here and stopped on the way out."""
    options, results = bench.options, bench.results
    builder = Builder(data, bench.codec, options.seed)
    log_level = bench.settings.log_level.lower()
    with ExitStack() as stack:
        head_env = stack.enter_context(bench.database.working_copy(bench.folder, "head"))
        print("Collecting cursors on a head server with its cache off ...", flush=True)
        cursors = collect(bench, builder, head_env)
        print("Servers (1 worker each):", flush=True)
        head = bench.start_blog(stack, "head", head_env)
        naive_env = {**bench.server_env(), **head_env}
        naive = bench.start(
            stack, naive_server("naive", naive_env, bench.folder, log_level), "bench/naive.py"
        )
        baseline = bench.start_baseline(stack)
        try:
            hot = builder.hot()
            hot_reads(bench, stack, hot, head)
            deep = deep_pages(bench, builder, head, naive, cursors)
            naive.stop()  # it only served list-deep
            lists = signed_in(bench, builder, hot, head)
            cold = [
                builder.me_cold(options.cold_tokens),
                builder.by_slug_cold(),
                builder.with_posts_cold(),
            ]
            against_baseline(bench, cold, head, baseline)
            # Against the baseline's substring scan; no target (see bench/report.py).
            against_baseline(bench, [builder.search_cold()], head, baseline)
            bench.check_code("before the logins")
            logins(bench, builder, head, hot[0])
            print(f"-- memory: {options.memory_seconds} s of mixed reads", flush=True)
            memory(bench, builder.mixed([deep, *lists, *cold]), head)
            writes = [builder.create_post(), builder.create_comment(options.comments)]
            against_baseline(bench, writes, head, baseline)
        except ServerFailed as stuck:
            results.problem(f"{stuck}; the rest of the run is skipped")
        bench.check_code("at the end")


def run(options: Options, database: Database, folder: Path, wrk: Wrk) -> dict[str, Any]:
    """Prepare, measure, summarize; the JSON report."""
    bench = Bench(options, database, folder, wrk)
    database.prepare()
    data = database.dataset(random.Random(options.seed))  # noqa: S311 - reproducible
    total = sum(data.published.values())
    if total < options.min_published:
        raise SystemExit(f"only {total:,} published posts (< {options.min_published:,}): seed more")
    commit = git_info()
    print(
        f"Commit {commit['sha']}{' (dirty)' if commit['dirty'] else ''}, baseline "
        f"{options.baseline or 'none'}; {len(data.tenants)} blogs, {total:,} published posts; "
        f"load average {format_load()} ({options.cores} cores)"
    )
    print(
        f"Settings: rate limits OFF, BLOG_ENVIRONMENT=production, bcrypt rounds "
        f"{bench.settings.bcrypt_rounds}, access tokens {options.token_minutes} min; "
        ".env is not read"
    )
    bench.results.bcrypt_s.append(time_bcrypt(bench.settings.bcrypt_rounds, options.bcrypt_repeats))
    measure(bench, data)
    return summary(bench, data)
