"""``python -m bench``: the command line of the HTTP benchmark (``make bench`` runs it).

    python -m bench                      # SQLite, the full run (about 10 minutes)
    python -m bench --quick              # smoke run (about 3 minutes)
    python -m bench --postgres postgresql://postgres@127.0.0.1:5432/test
    python -m bench --baseline none      # no baseline commit

A bad argument, a missing wrk or an unreachable PostgreSQL ends it with one line on
stderr and a non-zero status, not a traceback.
"""

import argparse
import json
import os
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from bench.databases import (
    BENCH_DIR,
    Database,
    PostgresDatabase,
    SeedSize,
    SqliteDatabase,
    cache_key,
)
from bench.git import GitError, git
from bench.harness import Options
from bench.run import run
from bench.servers import ServerFailed
from bench.wrk import Wrk, WrkOptions, find_wrk

DEFAULT_BASELINE = "c526f6f"  # the commit before the performance work of issue 11


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Command-line options; ``--quick`` changes the defaults to a smoke run."""
    cores = len(os.sched_getaffinity(0))
    parser = Parser(
        prog="python -m bench",
        description="HTTP benchmark of blog serve beside a ceiling app, a naive peer app "
        "and a baseline commit, with wrk on 127.0.0.1.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run: 1 round, 2 s runs, 10 s memory run")
    add("--postgres", metavar="URL", help="PostgreSQL server (owner/superuser URL)")
    add("--baseline", metavar="REF", default=DEFAULT_BASELINE, help="commit to compare; none")
    add("--output", type=Path, help="JSON results (default .bench/results-SHA-DB.json)")
    add("--concurrency", type=_positive, default=8, help="wrk connections")
    add("--rounds", type=_positive, help="alternating rounds per comparison (default 2, quick 1)")
    add("--duration", type=_positive, help="seconds per wrk run (default 5, quick 2)")
    add("--login-duration", type=_positive, help="seconds of the login run (default 10, quick 5)")
    add("--warmup", type=int, help="seconds of warm-up per scenario (default 2, quick 1)")
    add("--memory-seconds", type=_positive, help="the memory run (default 60, quick 10)")
    add("--memory-warmup", type=_positive, help="before its first RSS (default 10, quick 3)")
    add("--wrk-threads", type=_positive, default=1, help="wrk threads (it shares the cores)")
    add("--wrk-timeout", type=_positive, default=30, help="seconds before wrk gives up")
    add("--max-requests", type=_positive, default=500_000, help="per wrk run")
    add("--max-writes", type=_positive, default=50_000, help="per write run")
    add("--cold-tokens", type=_positive, default=20_000, help="tokens for uncached /users/me")
    add("--signed-in-tokens", type=_positive, default=4_000, help="at least, per signed-in list")
    add("--comments", type=_positive, default=20_000, help="(post, member) pairs to comment as")
    add(
        "--cursor-walk",
        type=_positive,
        help="requests to collect cursors (default 8000, quick 1500)",
    )
    add("--bcrypt-repeats", type=_positive, help="verifies timed (default 7, quick 3)")
    add("--token-minutes", type=_positive, default=240, help="access-token lifetime")
    add("--min-published", type=int, default=50_000)
    add("--seed", type=int, default=1, help="blog seed --seed, and the cold picks")
    add("--tenants", type=_positive, default=SeedSize.tenants)
    add("--users-per-tenant", type=_positive, default=SeedSize.users_per_tenant)
    add("--posts-per-user", type=_positive, default=SeedSize.posts_per_user)
    add("--comments-per-post", type=int, default=SeedSize.comments_per_post)
    args = parser.parse_args(argv)
    quick = args.quick
    defaults: dict[str, Any] = {
        "rounds": 1 if quick else 2,
        "duration": 2 if quick else 5,
        "login_duration": 5 if quick else 10,
        "warmup": 1 if quick else 2,
        "memory_seconds": 10 if quick else 60,
        "memory_warmup": 3 if quick else 10,
        "cursor_walk": 1_500 if quick else 8_000,
        "bcrypt_repeats": 3 if quick else 7,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.baseline.lower() in {"none", ""}:
        args.baseline = None
    size = SeedSize(
        tenants=args.tenants,
        users_per_tenant=args.users_per_tenant,
        posts_per_user=args.posts_per_user,
        comments_per_post=args.comments_per_post,
        seed=args.seed,
    )
    seeding = {"tenants", "users_per_tenant", "posts_per_user", "comments_per_post"}
    given = {name: value for name, value in vars(args).items() if name not in seeding}
    return Options(**given, size=size, cores=cores)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM/SIGHUP become SystemExit, so every `finally` stops its servers and worktree.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and write the JSON report."""
    options = parse_args(argv)
    wrk_path = find_wrk()
    if options.baseline is not None:
        try:
            git("rev-parse", "--verify", "--quiet", f"{options.baseline}^{{commit}}")
        except GitError:
            raise SystemExit(f"--baseline {options.baseline}: not a commit here") from None
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    # Ctrl-C raises KeyboardInterrupt even when started in the background (which ignores it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    BENCH_DIR.mkdir(exist_ok=True)
    from blog.settings import Settings

    key = cache_key(options.size, Settings(_env_file=None).bcrypt_rounds)
    seeding_env = {
        **os.environ,
        "BLOG_ENVIRONMENT": "development",  # seeding: no secret key needed
        "BLOG_RATE_LIMITS_ENABLED": "false",
    }
    database: Database = (
        PostgresDatabase(options.postgres, options.size, key, seeding_env)
        if options.postgres
        else SqliteDatabase(options.size, key, seeding_env)
    )
    try:
        with tempfile.TemporaryDirectory(prefix="run-", dir=BENCH_DIR) as scratch:
            folder = Path(scratch)
            wrk = Wrk(
                wrk_path,
                folder,
                WrkOptions(
                    options.wrk_threads, options.wrk_timeout, options.max_requests, options.seed
                ),
            )
            report = run(options, database, folder, wrk)
    except (GitError, ServerFailed) as error:
        raise SystemExit(str(error)) from None
    except KeyboardInterrupt:
        raise SystemExit("interrupted; servers and the baseline worktree were cleaned up") from None
    sha = report["git"]["sha"]
    output = options.output or BENCH_DIR / f"results-{sha}-{database.kind}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nWrote {output}")


if __name__ == "__main__":
    main()
