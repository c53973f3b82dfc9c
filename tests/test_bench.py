"""The pure parts of the benchmark (bench/): wrk's result line, ratios, targets, the table,
the requests and the cursor walks; and the search benchmark's verdicts and table.

No wrk and no server here: the benchmark itself runs with `make bench`, never in CI.
"""

import urllib.parse
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from bench import report, search_report
from bench.__main__ import parse_args
from bench.dataset import Account, Dataset
from bench.report import Anchor, MemoryFigures, Row, SaturationFigures, Target
from bench.scenarios import (
    STOP_WORDS,
    Builder,
    CursorsUnsupported,
    RequestLine,
    Walk,
    collect_cursors,
    plan_walks,
    walk,
)
from bench.search import plan_for, substring_pattern
from bench.search_report import SearchRow
from bench.wrk import WrkResult, parse_wrk_output
from blog.auth.security import TokenCodec
from blog.seeding import WORDS

WRK_STDOUT = """Running 2s test @ http://127.0.0.1:8000
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    1.01ms  20.00ms   90.00%
  1000 requests in 2.00s, 1.00MB read
Requests/sec:    500.00
BENCH_RESULT {"requests": 1000, "duration_us": 2000000, "bytes": 1048576, "non2xx": 0, \
"capped": false, "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}, \
"latency_us": {"p50": 4800, "p90": 6000, "p99": 9500, "max": 20000, "mean": 5120.0}, \
"cache": null}
"""


def result(
    rps: float,
    *,
    non2xx: int = 0,
    timeouts: int = 0,
    hits: int | None = None,
    header: bool = True,
) -> WrkResult:
    """A 10-second run at ``rps``; ``hits``: counted x-cache hits (the rest were misses,
    or, without ``header``, had no x-cache header)."""
    requests = int(rps * 10)
    return WrkResult(
        requests=requests,
        duration_s=10.0,
        bytes=0,
        non2xx=non2xx,
        capped=False,
        errors={"connect": 0, "read": 0, "write": 0, "timeout": timeouts, "status": non2xx},
        p50_ms=1.0,
        p90_ms=2.0,
        p99_ms=3.0,
        max_ms=4.0,
        hits=hits,
        misses=None if hits is None else (requests - hits if header else 0),
    )


def row(scenario: str, measured: float, anchor: float, kind: Anchor, **options: Any) -> Row:
    hits = options.pop("hits", None)
    cold = hits is not None
    return Row(
        scenario, "head", result(measured, hits=hits, **options), kind, result(anchor), cold=cold
    )


# -- wrk's result line ---------------------------------------------------------------------------


def test_parses_the_result_line_and_ignores_wrks_text() -> None:
    parsed = parse_wrk_output(WRK_STDOUT)
    assert parsed.requests == 1000
    assert parsed.rps == pytest.approx(500.0)
    assert (parsed.p50_ms, parsed.p99_ms) == (4.8, 9.5)
    assert parsed.hits is None
    assert not parsed.failed


def test_parses_counted_cache_hits() -> None:
    parsed = parse_wrk_output(
        WRK_STDOUT.replace('"cache": null', '"cache": {"hits": 37, "misses": 963}')
    )
    assert (parsed.hits, parsed.misses) == (37, 963)
    assert parsed.cache_header_seen


def test_parses_signed_in_lists_built_on_a_shared_body() -> None:
    counted = '"cache": {"hits": 0, "shared": 950, "misses": 50}'
    parsed = parse_wrk_output(WRK_STDOUT.replace('"cache": null', counted))
    assert (parsed.hits, parsed.shared, parsed.misses) == (0, 950, 50)


def test_counted_but_no_header_means_an_older_server() -> None:
    parsed = parse_wrk_output(
        WRK_STDOUT.replace('"cache": null', '"cache": {"hits": 0, "misses": 0}')
    )
    assert parsed.hits == 0
    assert not parsed.cache_header_seen


def test_counts_non_2xx_and_socket_errors_as_failures() -> None:
    line = WRK_STDOUT.replace('"non2xx": 0', '"non2xx": 3').replace('"timeout": 0', '"timeout": 2')
    parsed = parse_wrk_output(line)
    assert parsed.failed
    assert parsed.socket_errors == 2
    assert parsed.problems() == "3 non-2xx, 2 timeout"


def test_refuses_output_without_exactly_one_result_line() -> None:
    with pytest.raises(ValueError, match="got 0"):
        parse_wrk_output("Requests/sec: 500.00\n")


def test_a_run_without_responses_is_a_failure() -> None:
    empty = parse_wrk_output(WRK_STDOUT.replace('"requests": 1000', '"requests": 0'))
    assert empty.failed
    assert empty.problems() == "no responses"


# -- ratios --------------------------------------------------------------------------------------


def test_ratio_has_no_value_without_a_reference() -> None:
    assert report.ratio(50, 200) == 0.25
    assert report.ratio(50, 0) is None
    assert report.ratio(50, None) is None


def test_rounds_pool_requests_and_seconds_of_each_side() -> None:
    rounds = [
        row("me-cold", 300, 100, Anchor.baseline),
        row("me-cold", 100, 100, Anchor.baseline),
    ]
    assert [r.ratio for r in rounds] == [3.0, 1.0]
    assert report.pooled_ratio(rounds) == pytest.approx(2.0)


def test_a_computed_anchor_divides_like_a_measured_one() -> None:
    logins = Row("login", "head", result(6.8), Anchor.bcrypt, reference_rps=8.0)
    assert logins.ratio == pytest.approx(0.85)
    assert report.pooled_ratio([logins]) == pytest.approx(0.85)


# -- targets -------------------------------------------------------------------------------------


def targets(
    rows: list[Row],
    database: str = "sqlite",
    *,
    skipped: Mapping[str, str] | None = None,
    broken: Mapping[str, str] | None = None,
) -> dict[str, Target]:
    found = report.evaluate_targets(
        database=database,
        rows=rows,
        saturation=SaturationFigures(result(1000), result(350), result(7)),
        memory=MemoryFigures(60, 100_000, 108_000, 110_000, result(500)),
        skipped=skipped,
        broken=broken,
    )
    return {target.name.split(" >= ")[0].split(" within")[0]: target for target in found}


PASSING = [
    row("hot-list", 500, 1000, Anchor.ceiling),  # exactly 50%: passes
    row("hot-by-slug", 600, 1000, Anchor.ceiling),
    row("hot-me", 700, 1000, Anchor.ceiling),
    row("list-deep", 800, 200, Anchor.naive, hits=0),  # 4x
    row("signed-in-list", 2500, 5000, Anchor.anonymous, hits=0),
    row("signed-in-articles", 2600, 5000, Anchor.anonymous, hits=0),
    row("create-post", 300, 100, Anchor.baseline),
    row("create-comment", 310, 100, Anchor.baseline),
    row("me-cold", 900, 300, Anchor.baseline, hits=0),
    Row("login", "head", result(6.9), Anchor.bcrypt, reference_rps=8.0),  # 86%
]


def test_every_target_passes_on_its_threshold() -> None:
    found = targets(PASSING)
    assert {name: target.verdict for name, target in found.items()} == dict.fromkeys(found, "PASS")
    assert len(found) == 12
    assert found["list-deep"].value == pytest.approx(4.0)
    assert found["server RSS after 60 s"].value == pytest.approx(0.08)


def test_each_target_fails_below_its_threshold() -> None:
    below = {
        "hot-list": row("hot-list", 499, 1000, Anchor.ceiling),
        "list-deep": row("list-deep", 790, 200, Anchor.naive, hits=0),
        "signed-in-list": row("signed-in-list", 2400, 5000, Anchor.anonymous, hits=0),
        "create-comment": row("create-comment", 290, 100, Anchor.baseline),
        "me-cold": row("me-cold", 800, 300, Anchor.baseline, hits=0),
    }
    for scenario, failing in below.items():
        rows = [failing if r.scenario == scenario else r for r in PASSING]
        verdicts = {name: t.verdict for name, t in targets(rows).items()}
        assert list(verdicts.values()).count("FAIL") == 1, scenario


def test_postgres_has_its_own_share_bars() -> None:
    rows = [
        row("hot-list", 400, 1000, Anchor.ceiling),
        row("signed-in-list", 1800, 5000, Anchor.anonymous),
    ]
    on_sqlite, on_postgres = targets(rows, "sqlite"), targets(rows, "postgresql")
    assert on_sqlite["GET /posts?limit=20, hot"].passed is False
    assert on_postgres["GET /posts?limit=20, hot"].passed is True
    assert on_sqlite["signed-in list"].passed is False
    assert on_postgres["signed-in list"].passed is True


def test_a_run_with_errors_never_passes() -> None:
    found = targets([row("hot-list", 900, 1000, Anchor.ceiling, non2xx=1)])
    target = found["GET /posts?limit=20, hot"]
    assert target.passed is False
    assert "1 non-2xx" in target.detail


def test_a_cold_probe_a_cache_served_fails_and_says_so() -> None:
    found = targets([row("list-deep", 4000, 200, Anchor.naive, hits=37)])
    target = found["list-deep"]
    assert target.passed is False
    assert "cold probe not cold: 37 hits" in target.detail


def test_a_shared_list_body_is_not_a_hit() -> None:
    shared = WrkResult(**{**result(2600, hits=0).__dict__, "shared": 25_000, "misses": 1_000})
    signed_in = Row("signed-in-list", "head", shared, Anchor.anonymous, result(5000), cold=True)
    assert not signed_in.not_cold
    assert targets([signed_in])["signed-in list"].passed is True
    assert "0/26000 +25000 shared" in report.format_row(signed_in)


def test_unmeasured_targets_are_not_applicable_with_the_reason() -> None:
    found = targets([], skipped={"me-cold": "no baseline in this run"})
    assert found["GET /users/me, hot"].verdict == "N/A"
    assert found["GET /users/me, uncached (a new token each request)"].detail == (
        "no baseline in this run"
    )


def test_a_scenario_the_head_cannot_serve_fails() -> None:
    found = targets([], broken={"create-comment": "head answered 404"})
    assert found["POST /posts/{id}/comments"].verdict == "FAIL"
    assert "head answered 404" in found["POST /posts/{id}/comments"].detail


def test_rows_without_an_anchor_are_not_applicable() -> None:
    alone = Row("me-cold", "head", result(300), cold=True)
    assert targets([alone])["GET /users/me, uncached (a new token each request)"].verdict == "N/A"


# -- the table -----------------------------------------------------------------------------------


def test_table_groups_rows_under_their_scenario_in_a_fixed_order() -> None:
    table = report.format_table(
        [
            row("me-cold", 900, 300, Anchor.baseline, hits=0),
            row("hot-list", 500, 1000, Anchor.ceiling),
        ],
        {"cursor": 'not supported by this server (no "next")'},
    )
    lines = table.splitlines()
    titles = [line for line in lines if line and not line.startswith((" ", "-"))]
    assert titles == [report.TITLES["hot-list"], report.TITLES["cursor"], report.TITLES["me-cold"]]
    assert lines[lines.index(report.TITLES["cursor"]) + 1].strip().startswith("not supported")


def test_table_shows_shares_as_percentages_and_factors_with_an_x() -> None:
    share = report.format_row(row("hot-list", 500, 1000, Anchor.ceiling))
    factor = report.format_row(row("list-deep", 820, 200, Anchor.naive, hits=0))
    assert "50.0%" in share
    assert "ceiling" in share
    assert "4.10x" in factor
    assert "0/8200" in factor


def test_table_flags_failed_rows_and_cold_probes_that_were_not() -> None:
    failed = report.format_row(row("hot-me", 5, 10, Anchor.ceiling, timeouts=4))
    served = report.format_row(row("list-deep", 800, 200, Anchor.naive, hits=37))
    fine = report.format_row(row("hot-list", 500, 1000, Anchor.ceiling))
    assert "!! head: 4 timeout" in failed
    assert "!! cold probe not cold: 37 hits" in served
    assert "!!" not in fine


def test_table_says_when_a_server_sends_no_cache_header() -> None:
    old = Row(
        "me-cold",
        "head",
        result(300, hits=0, header=False),
        Anchor.baseline,
        result(100, hits=0, header=False),
        cold=True,
    )
    assert "n/a | n/a" in report.format_row(old)


def test_targets_read_as_verdicts() -> None:
    lines = report.format_targets(list(targets(PASSING).values())).splitlines()
    assert lines[0].startswith("  [PASS] GET /posts?limit=20, hot >= 50% of ceiling: 50.0%")
    assert any("list-deep >= 4x naive peer: 4.00x" in line for line in lines)


# -- requests and cursor walks --------------------------------------------------------------------


def test_a_request_line_refuses_tabs_and_newlines() -> None:
    assert RequestLine("GET", "/a", "", ("X: 1",)).render() == "GET\t/a\t\tX: 1"
    with pytest.raises(ValueError, match="tab or newline"):
        RequestLine("POST", "/a", "one\ttwo").render()


def test_walks_cover_a_big_blog_in_segments_that_do_not_overlap() -> None:
    plans = plan_walks({"big": 10_000, "tiny": 5}, 400, 4)  # 500 pages, budget 400
    assert {plan.tenant for plan in plans} == {"big"}
    assert [(plan.offset, plan.pages) for plan in plans] == [
        (0, 100),
        (2_500, 100),
        (5_000, 100),
        (7_500, 100),
    ]


def test_a_budget_beyond_a_blog_walks_it_whole_again_on_other_page_boundaries() -> None:
    plans = plan_walks({"small": 2_000}, 350, 4)  # 100 pages, budget 350
    assert [(plan.offset, plan.pages) for plan in plans] == [(0, 100), (6, 100), (13, 100)]


def pages(cursors: list[str | None]) -> dict[str, dict[str, Any]]:
    """A fake list: the first page, then one page after each cursor."""
    paths = ["/api/v1/tenants/a/posts?limit=20&offset=0"] + [
        f"/api/v1/tenants/a/posts?limit=20&after={cursor}" for cursor in cursors[:-1]
    ]
    return {
        path: {"items": [], "next": cursor} for path, cursor in zip(paths, cursors, strict=True)
    }


def test_a_walk_follows_next_until_the_end() -> None:
    site = pages(["c1", "c2", None])
    assert walk(site.__getitem__, Walk("a", 0, 10)) == ["c1", "c2"]
    assert walk(site.__getitem__, Walk("a", 0, 1)) == ["c1"]


def test_a_list_without_next_does_not_support_cursors() -> None:
    with pytest.raises(CursorsUnsupported):
        walk(lambda _path: {"items": [], "total": 0}, Walk("a", 0, 3))


def test_cursors_met_twice_are_kept_once() -> None:
    site = pages(["c1", "c2", None])
    found = collect_cursors(site.__getitem__, [Walk("a", 0, 5), Walk("a", 0, 5)], threads=2)
    assert found == [("a", "c1"), ("a", "c2")]


def test_searches_are_two_of_the_seeders_words_and_never_the_same_url() -> None:
    account = Account("a", uuid.uuid4(), uuid.uuid4(), "ann", "ann@a.example")
    data = Dataset(["a", "b"], {"a": 0, "b": 0}, [], [], [(account, 50)], [account])
    scenario = Builder(data, TokenCodec("k" * 32, timedelta(minutes=5)), seed=1).search_cold()

    paths = [line.path for line in scenario.lines]
    assert scenario.cold
    assert len(set(paths)) == len(paths) > 30_000
    queries = [urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["q"][0] for path in paths]
    assert all(len(query.split()) == 2 for query in queries)
    assert {word for query in queries for word in query.split()} == set(WORDS) - STOP_WORDS
    assert {path.split("/")[4] for path in paths[:2]} == {"a", "b"}
    assert "search-cold" in report.TITLES


# -- the search benchmark (bench/search.py) -------------------------------------------------------


def search_row(substring: float, relevance: float, newest: float, plan: str = "X") -> SearchRow:
    return SearchRow("sqlite", "mountain river", 120, 3, substring, relevance, newest, plan)


def test_a_search_row_passes_at_ten_times_the_scan_in_both_orders_with_the_index() -> None:
    assert search_row(1000, 100, 50).verdict == "PASS"
    assert search_row(1000, 101, 50).misses() == ["relevance 9.9x < 10x"]
    assert search_row(1000, 50, 200).misses() == ["newest 5.0x < 10x"]
    assert search_row(1000, 10, 10, plan="").misses() == ["no 'VIRTUAL TABLE INDEX' in EXPLAIN"]


def test_the_plan_line_is_the_one_naming_the_search_index() -> None:
    sqlite_plan = [
        "SCAN CONSTANT ROW",
        "SCAN posts_search VIRTUAL TABLE INDEX 0:=M4",
        "SCAN posts_search VIRTUAL TABLE INDEX 0:M4",
    ]
    postgres_plan = [
        "Sort  (cost=1..2)",
        "  ->  Bitmap Index Scan on ix_posts_search_vector  (cost=0.00..228.41)",
    ]
    assert search_report.index_line("sqlite", sqlite_plan) == (
        "SCAN posts_search VIRTUAL TABLE INDEX 0:=M4 | SCAN posts_search VIRTUAL TABLE INDEX 0:M4"
    )
    assert search_report.index_line("postgresql", postgres_plan).startswith("->  Bitmap")
    assert search_report.index_line("postgresql", sqlite_plan) == ""


def test_the_search_table_shows_ratios_verdicts_and_the_plan() -> None:
    table = search_report.format_table([search_row(1200, 60, 40), search_row(900, 300, 45, "")])
    lines = table.splitlines()
    assert "20.0x/30.0x" in lines[2]
    assert lines[2].rstrip().endswith("PASS")
    assert lines[3].rstrip().endswith("MISS")
    assert "  EXPLAIN: X" in lines
    assert "  !! MISS: relevance 3.0x < 10x; no 'VIRTUAL TABLE INDEX' in EXPLAIN" in lines


def test_the_search_queries_are_made_of_words_the_seeder_writes() -> None:
    assert search_report.unknown_words(search_report.QUERIES) == []
    assert search_report.unknown_words(["mountain zebra"]) == ["zebra"]
    assert not STOP_WORDS & {w for q in search_report.QUERIES for w in q.split()}


def test_the_substring_anchor_takes_wildcards_literally() -> None:
    assert substring_pattern("  Mountain River ") == "%mountain river%"
    assert substring_pattern("50%_off/") == "%50/%/_off//%"


def test_the_search_blog_has_up_to_a_thousand_authors_of_a_hundred_posts() -> None:
    plan = plan_for(100_000)
    assert (plan.tenants, plan.users_per_tenant, plan.posts_per_user) == (1, 1_000, 100)
    assert (plan_for(300).users_per_tenant, plan_for(300).posts_per_user) == (3, 100)
    assert plan_for(5).users_per_tenant * plan_for(5).posts_per_user == 5


# -- the command line ----------------------------------------------------------------------------


def test_quick_changes_the_defaults_and_none_skips_the_baseline() -> None:
    options = parse_args(["--quick", "--baseline", "none"])
    assert (options.rounds, options.duration, options.memory_seconds) == (1, 2, 10)
    assert options.baseline is None
    assert parse_args([]).baseline == "c526f6f"


def test_a_bad_argument_is_one_line_and_a_non_zero_exit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--concurrency", "0"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
