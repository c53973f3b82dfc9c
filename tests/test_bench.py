"""The pure parts of scripts/bench.py: wrk's result line, ratios, targets, the table.

No wrk and no server here: the benchmark itself runs with `make bench`, never in CI.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import bench  # scripts/ is not a package: found through the path above

WRK_STDOUT = """Running 2s test @ http://127.0.0.1:8000
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    1.01ms  20.00ms   90.00%
  1000 requests in 2.00s, 1.00MB read
Requests/sec:    500.00
BENCH_RESULT {"requests": 1000, "duration_us": 2000000, "bytes": 1048576, "non2xx": 0, \
"capped": false, "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}, \
"latency_us": {"p50": 4800, "p90": 6000, "p99": 9500, "max": 20000, "mean": 5120.0}}
"""


def result(rps: float, *, non2xx: int = 0, timeouts: int = 0) -> bench.WrkResult:
    return bench.WrkResult(
        requests=int(rps * 10),
        duration_s=10.0,
        bytes=0,
        non2xx=non2xx,
        capped=False,
        errors={"connect": 0, "read": 0, "write": 0, "timeout": timeouts, "status": non2xx},
        p50_ms=1.0,
        p90_ms=2.0,
        p99_ms=3.0,
        max_ms=4.0,
    )


def row(endpoint: str, mode: str, app: float, ceiling: float, **errors: int) -> bench.Row:
    return bench.Row(endpoint, mode, 1, 8, result(app, **errors), result(ceiling))


def test_parses_the_result_line_and_ignores_wrks_text() -> None:
    parsed = bench.parse_wrk_output(WRK_STDOUT)
    assert parsed.requests == 1000
    assert parsed.rps == pytest.approx(500.0)
    assert (parsed.p50_ms, parsed.p99_ms) == (4.8, 9.5)
    assert not parsed.failed


def test_counts_non_2xx_and_socket_errors_as_failures() -> None:
    line = WRK_STDOUT.replace('"non2xx": 0', '"non2xx": 3').replace('"timeout": 0', '"timeout": 2')
    parsed = bench.parse_wrk_output(line)
    assert parsed.failed
    assert parsed.socket_errors == 2
    assert parsed.problems() == "3 non-2xx, 2 timeout"


def test_refuses_output_without_exactly_one_result_line() -> None:
    with pytest.raises(ValueError, match="got 0"):
        bench.parse_wrk_output("Requests/sec: 500.00\n")


def test_ratio_has_no_value_without_a_reference() -> None:
    assert bench.ratio(50, 200) == 0.25
    assert bench.ratio(50, 0) is None


def targets(rows: list[bench.Row], database: str = "sqlite") -> dict[str, bench.Target]:
    found = bench.evaluate_targets(
        database=database,
        rows=rows,
        concurrency=8,
        cold_list_baseline_rps=190.0,
        bcrypt=bench.BcryptFigures(rounds=12, verify_s=0.25, cores=2),
        saturation=bench.SaturationFigures(1, 8, result(1000), result(350), result(7)),
        memory=bench.MemoryFigures(1, 60, 100_000, 108_000, 110_000, result(500)),
    )
    return {target.name.split(" >= ")[0].split(" under")[0]: target for target in found}


def test_targets_pass_and_fail_on_their_thresholds() -> None:
    rows = [
        row(bench.LIST.label, "hot", 500, 1000),  # exactly 50%: passes
        row(bench.BY_SLUG.label, "hot", 400, 1000),
        row(bench.ME.label, "hot", 600, 1000),
        row(bench.LIST.label, "cold", 800, 1000),  # 4.2x 190
        row(bench.TOKEN.label, "hot", 6.9, 1000),  # 86% of 2 / 0.25 s
    ]
    found = targets(rows)
    assert found[f"hot {bench.LIST.label}"].passed is True
    assert found[f"hot {bench.BY_SLUG.label}"].passed is False
    assert found[f"hot {bench.ME.label}"].passed is True
    assert found[f"cold {bench.LIST.label}"].passed is True
    assert found[bench.TOKEN.label].passed is True
    assert found[bench.TOKEN.label].value == pytest.approx(6.9 / 8)
    assert found[bench.LIST.label].passed is True  # kept 35% under login load
    memory = next(t for name, t in found.items() if name.startswith("server RSS"))
    assert memory.passed is True
    assert memory.value == pytest.approx(0.08)


def test_postgres_has_its_own_hot_bar() -> None:
    rows = [row(bench.LIST.label, "hot", 400, 1000)]
    assert targets(rows, "sqlite")[f"hot {bench.LIST.label}"].passed is False
    assert targets(rows, "postgresql")[f"hot {bench.LIST.label}"].passed is True


def test_a_run_with_errors_never_passes() -> None:
    rows = [row(bench.LIST.label, "hot", 900, 1000, non2xx=1)]
    target = targets(rows)[f"hot {bench.LIST.label}"]
    assert target.passed is False
    assert "1 non-2xx" in target.detail


def test_unmeasured_targets_are_not_applicable() -> None:
    found = targets([])
    assert found[f"hot {bench.ME.label}"].verdict == "N/A"


def test_table_flags_failed_rows() -> None:
    table = bench.format_table(
        [row(bench.LIST.label, "hot", 500, 1000), row(bench.ME.label, "cold", 5, 10, timeouts=4)]
    )
    lines = table.splitlines()
    assert "50.0%" in lines[2]
    assert "!!" not in lines[2]
    assert "!! app: 4 timeout" in lines[3]


def test_a_run_without_responses_is_a_failure() -> None:
    empty = bench.parse_wrk_output(WRK_STDOUT.replace('"requests": 1000', '"requests": 0'))
    assert empty.failed
    assert empty.problems() == "no responses"
