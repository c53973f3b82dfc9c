"""The end of a run: the table, the problems, the targets, and the JSON report."""

import os
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from bench.dataset import Dataset
from bench.git import git_info
from bench.harness import Bench
from bench.report import TITLES, evaluate_targets, format_table, format_targets


def format_load() -> str:
    """The 1, 5 and 15-minute load averages: others' work on a shared machine shows here."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def summary(bench: Bench, data: Dataset) -> dict[str, Any]:
    """Print the table and the targets; the JSON report."""
    options, results = bench.options, bench.results
    print(f"\n{bench.database.kind}, load average after the run: {format_load()}")
    print(format_table(results.rows, {**results.skipped, **results.broken}))
    for problem in results.problems:
        print(f"!! {problem}")
    if results.bcrypt_s:
        print(
            f"\nbcrypt: one verify at {bench.settings.bcrypt_rounds} rounds = "
            f"{min(results.bcrypt_s) * 1e3:.1f} ms (fastest of "
            f"{', '.join(f'{t * 1e3:.0f}' for t in results.bcrypt_s)} ms)"
        )
    if results.saturation:
        s = results.saturation
        print(
            f"login saturation: GET /posts alone {s.alone.rps:,.1f} req/s; while logins run "
            f"({s.logins.rps:.2f}/s, {s.logins.problems() or 'no errors'}): {s.loaded.rps:,.1f} "
            f"req/s = {s.kept or 0:.0%} (p99 {s.loaded.p99_ms:.0f} ms)"
        )
    if results.memory:
        m = results.memory
        print(
            f"memory (mixed reads, {m.load.rps:,.0f} req/s): RSS after warm-up "
            f"{m.warm_kib / 1024:,.1f} MiB, after {m.seconds} s {m.end_kib / 1024:,.1f} MiB "
            f"({m.growth:+.1%}), peak {m.peak_kib / 1024:,.1f} MiB"
        )
    targets = evaluate_targets(
        database=bench.database.kind,
        rows=results.rows,
        saturation=results.saturation,
        memory=results.memory,
        skipped=results.skipped,
        broken=results.broken,
    )
    commit = git_info()
    print(
        f"\nTargets ({bench.database.kind}, 1 worker, c={options.concurrency}, commit "
        f"{commit['sha']}{' (dirty)' if commit['dirty'] else ''}, "
        f"baseline {options.baseline or 'none'}):"
    )
    print(format_targets(targets))
    return {
        "git": {**commit, "code_fingerprints": bench.fingerprints, "baseline": options.baseline},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": options.cores,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_after": list(os.getloadavg()),
        },
        "database": bench.database.describe(),
        "servers": results.servers,
        "data": {
            "seed": asdict(options.size),
            "blogs": len(data.tenants),
            "published_posts": sum(data.published.values()),
            "login": data.login.email,
        },
        "options": {key: value for key, value in asdict(options).items() if key != "size"}
        | {"output": str(options.output) if options.output else None},
        "bcrypt_rounds": bench.settings.bcrypt_rounds,
        "bcrypt_verify_s": results.bcrypt_s,
        "rows": [
            {
                "scenario": row.scenario,
                "title": TITLES[row.scenario],
                "server": row.server,
                "result": {**asdict(row.result), "rps": row.result.rps},
                "anchor": row.anchor,
                "reference": {**asdict(row.reference), "rps": row.reference.rps}
                if row.reference
                else None,
                "anchor_rps": row.anchor_rps,
                "ratio": row.ratio,
                "cache_hits": row.hits,
                "failed": row.failed,
                "not_cold": row.not_cold,
                "note": row.note,
            }
            for row in results.rows
        ],
        "skipped": results.skipped,
        "broken": results.broken,
        "problems": results.problems,
        "login_saturation": (
            {**asdict(results.saturation), "kept": results.saturation.kept}
            if results.saturation
            else None
        ),
        "memory": {**asdict(results.memory), "growth": results.memory.growth}
        if results.memory
        else None,
        "targets": [{**asdict(target), "verdict": target.verdict} for target in targets],
    }
