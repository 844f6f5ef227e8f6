"""The performance benchmark: `./run bench` generates the ledgers and prints every figure.

Each figure is printed beside its target and, where one exists, beside a naive baseline
computed in the same run (loading a server's rows into pandas, one row per transaction, an
uncompacted file). The generated databases are kept under `.bench/`, so a second run skips
the generation. See docs/performance.md for what is measured and why.

Options: `--reports N` renders N reports for the memory check (default 40; 500 for the full
check, which takes about 25 minutes more), `--runs N` times each metric set N times (default
5 at 1M rows, 3 at 10M).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from kpitracker.kpis import Kpi
from scripts import bench_reads, bench_report, bench_retention, bench_writes
from kpitracker.ledger_files import parse_ledger_file
from kpitracker.sqlite_store import SqliteStore
from scripts.bench_data import CACHE, GENERATOR_VERSION, Shape
from scripts.bench_load import cached_database

ONE_M = Shape(1_000_000)
TEN_M = Shape(10_000_000)
FLEET = Shape(10_000_000, servers=1_000)
TWO_YEARS = Shape(2_000_000, days=730)
TWICE_BUSY = Shape(2_000_000)
SHAPES = [TEN_M, FLEET, ONE_M, TWO_YEARS, TWICE_BUSY]


HISTORY = Path(__file__).resolve().parents[1] / "demo" / "cardano_stackexchange.csv"


def _build(shape: Shape) -> tuple[Path, dict]:
    return cached_database(shape)


async def _import_history(path: Path) -> None:
    store = await SqliteStore.open(path)
    try:
        await store.import_rows(parse_ledger_file(HISTORY.read_bytes(), HISTORY.name, 1))
    finally:
        await store.close()


def real_history() -> tuple[Path, dict]:
    """The shipped real history (a public Q&A site's activity) as a server of its own."""
    path = CACHE / f"real-history-v{GENERATOR_VERSION}.sqlite3"
    if not path.exists():
        scratch = path.with_suffix(".partial")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
        asyncio.run(_import_history(scratch))
        scratch.rename(path)
    return path, {"largest_server": 1}


def prepare() -> dict[Shape, tuple[Path, dict]]:
    """Every database, generated two at a time where the cache does not have it yet."""
    with ProcessPoolExecutor(max_workers=2) as pool:
        built = dict(zip(SHAPES, pool.map(_build, SHAPES)))
    for shape, (path, facts) in built.items():
        print(
            f"  {shape.name}: {facts['rows']:,} ledger rows, {facts['servers']:,} servers, "
            f"{facts['members']:,} members, {facts['daily_user']:,} daily_user rows, "
            f"{facts['bytes'] / 2**20:,.0f} MB (built in {facts['build_seconds']:.0f} s)"
        )
    return built


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(
        self,
        figure: str,
        target: str,
        measured: str,
        baseline: str = "",
        ratio: str = "",
        verdict: str = "",
    ) -> None:
        self.rows.append((figure, target, measured, baseline, ratio, verdict))
        print(
            f"  {figure}: {measured}" + (f" (baseline {baseline}, {ratio})" if baseline else ""),
            flush=True,
        )

    def print(self) -> None:
        header = ("figure", "target", "measured (median)", "naive baseline", "ratio", "met")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(6)]
        line = "+".join("-" * (width + 2) for width in widths)
        print("|" + line + "|")
        for number, row in enumerate([header, *self.rows]):
            print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
            if number == 0:
                print("|" + line + "|")
        print("|" + line + "|")


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


def metric_sets(
    table: Table,
    label: str,
    path: Path,
    facts: dict,
    runs: int,
    limit_ms: float,
    pandas_runs: int,
    check_all: bool,
) -> dict:
    server = facts["largest_server"]
    timed = asyncio.run(bench_reads.time_metric_sets(path, server, runs))
    print(f"  metric set at {label}, median of {runs} runs, ms:")
    periods = [period for period, _ in bench_reads.PERIODS]
    print("    " + "instant".ljust(24) + "".join(period.rjust(9) for period in periods))
    by_instant: dict[str, list[float]] = {}
    for instant, period, ms in timed["cases"]:
        by_instant.setdefault(instant, []).append(ms)
    for instant, values in by_instant.items():
        print("    " + instant.ljust(24) + "".join(f"{ms:9.1f}" for ms in values))

    memory = bench_reads.fast_memory(path, server)
    everything = bench_reads.cases(path)
    checked = (
        list(range(len(everything)))
        if check_all
        else [
            i
            for i, (instant, _, _, _) in enumerate(everything)
            if instant.label in ("latest midnight", "90 days back, 05:00")
        ]
    )
    baseline = bench_reads.pandas_baseline(path, server, pandas_runs, checked)
    problems = bench_reads.compare(path, memory["values"], baseline)
    typical = next(
        ms for instant, period, ms in timed["cases"] if f"{instant}, {period}" == baseline["case"]
    )
    worst = max(ms for _, _, ms in timed["cases"])
    recent = max(
        ms for instant, _, ms in timed["cases"] if instant in ("latest midnight", "last day 14:37")
    )
    pandas_ms = 1000 * baseline["seconds"]
    table.add(
        f"metric set, {label}, recent instants (worst of 8)",
        f"<= {limit_ms:.0f} ms",
        f"{recent:.1f} ms",
        verdict=_yes(recent <= limit_ms),
    )
    table.add(
        f"metric set, {label}, any instant (worst of 16)",
        f"<= {limit_ms:.0f} ms",
        f"{worst:.1f} ms",
        verdict=_yes(worst <= limit_ms),
    )
    table.add(
        f"metric set, {label}, {baseline['case']}",
        ">= 10x pandas",
        f"{typical:.1f} ms",
        f"{pandas_ms:,.0f} ms (load {baseline['load_seconds']:.1f} s)",
        f"{pandas_ms / typical:,.0f}x",
        _yes(pandas_ms / typical >= 10),
    )
    used = memory["peak_mb"] - memory["ready_mb"]
    naive_used = baseline["peak_mb"] - baseline["ready_mb"]
    table.add(
        f"peak memory of the reads, {label}",
        "< 100 MB",
        f"+{used:.0f} MB (process peak {memory['peak_mb']:.0f} MB, "
        f"{memory['ready_mb']:.0f} MB of it imports)",
        f"+{naive_used:,.0f} MB",
        f"{naive_used / max(used, 1):.0f}x",
        _yes(used < 100),
    )
    table.add(
        f"fast path == raw rows, {label}",
        "equal",
        f"{len(baseline['checked']) - len(problems)} of {len(baseline['checked'])} "
        "instant/period cases equal",
        "pandas over raw rows",
        "",
        _yes(not problems),
    )
    for problem in problems:
        print(f"    DIFFERENT: {problem}")
    table.add(
        f"event loop during metric reads, {label}",
        "< 50 ms",
        f"worst wait {timed['worst_loop_wait_ms']:.1f} ms",
        verdict=_yes(timed["worst_loop_wait_ms"] < 50),
    )
    return {case[:2]: case[2] for case in timed["cases"]}


def snapshot_job(table: Table, path: Path) -> None:
    week_only = asyncio.run(bench_reads.nightly_snapshot(path, [], write=True))
    kpis = [
        Kpi("daily_active_users", 10, period) for period in ("day", "week", "month", "quarter")
    ]
    with_kpis = asyncio.run(bench_reads.nightly_snapshot(path, kpis, write=True))
    naive = bench_reads.pandas_snapshot_estimate(path, sample=40)
    seconds = week_only["seconds"]
    table.add(
        f"nightly snapshot, {week_only['servers']:,} servers, 10M rows, written",
        "<= 2 s",
        f"{seconds:.2f} s",
        f"~{naive['seconds']:,.0f} s (from {naive['sampled']} servers)",
        f"{naive['seconds'] / seconds:,.0f}x",
        _yes(seconds <= 2),
    )
    table.add(
        "nightly snapshot, the same with KPIs over all four periods",
        "<= 2 s",
        f"{with_kpis['seconds']:.2f} s",
        verdict=_yes(with_kpis["seconds"] <= 2),
    )


def recording(table: Table, path: Path, facts: dict) -> None:
    result = asyncio.run(
        bench_writes.recording(
            path, CACHE / "scratch-writes.sqlite3", facts["largest_server"], bursts=10, size=20_000
        )
    )
    rate, naive = result["rows_per_second"], result["naive_rows_per_second"]
    table.add(
        f"recording in bursts ({result['rows']:,} rows into 1M)",
        ">= 50,000 rows/s",
        f"{rate:,.0f} rows/s",
        f"{naive:,.0f} rows/s (a transaction per row)",
        f"{rate / naive:,.0f}x",
        _yes(rate >= 50_000),
    )
    table.add(
        "event loop while recording",
        "< 50 ms",
        f"worst wait {result['worst_loop_wait_ms']:.1f} ms",
        verdict=_yes(result["worst_loop_wait_ms"] < 50),
    )
    worst = max(result["claim_during_bursts_ms"] or 0, result["claim_idle_worst_ms"])
    table.add(
        "a single claim to durable",
        "< 1 s",
        f"{result['claim_idle_median_ms']:.1f} ms idle, {worst:.0f} ms worst " "(during bursts)",
        verdict=_yes(worst < 1000),
    )


def report(table: Table, path: Path, facts: dict, count: int) -> None:
    scratch = CACHE / "scratch-report.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(path, scratch)
    result = asyncio.run(bench_report.reports(scratch, facts["largest_server"], count))
    growth = result["rss_at_end_mb"] - result["rss_after_10_mb"]
    table.add(
        f"report, 20 KPIs, {result['images']} charts (1M-row server)",
        "< 1 s",
        f"{result['seconds']:.2f} s",
        verdict=_yes(result["seconds"] < 1),
    )
    table.add(
        "event loop while reporting",
        "< 50 ms",
        f"worst wait {result['worst_loop_wait_ms']:.1f} ms",
        verdict=_yes(result["worst_loop_wait_ms"] < 50),
    )
    table.add(
        f"memory over {result['reports']} reports",
        "no growth",
        f"{result['rss_after_10_mb']:.0f} MB after 10, {result['rss_at_end_mb']:.0f} MB "
        f"after {result['reports']} ({growth:+.1f} MB)",
        verdict=_yes(growth < 5),
    )


def growth(table: Table, built: dict, base: dict) -> None:
    for label, shape in (
        ("twice the history (730 days)", TWO_YEARS),
        ("twice the activity (365 days)", TWICE_BUSY),
    ):
        path, facts = built[shape]
        timed = asyncio.run(bench_reads.time_metric_sets(path, facts["largest_server"], 5))
        ratios = [
            ms / base[(instant, period)]
            for instant, period, ms in timed["cases"]
            if instant in ("latest midnight", "last day 14:37")
        ]
        ratio = statistics.median(ratios)
        table.add(
            f"growth, 2M rows with {label} vs 1M",
            "< 2x",
            f"{ratio:.2f}x (median of 8 recent cases; worst {max(ratios):.2f}x)",
            verdict=_yes(ratio < 2),
        )


def retention(table: Table, path: Path, facts: dict) -> None:
    result = asyncio.run(
        bench_retention.compaction(
            path, CACHE / "scratch-retention.sqlite3", facts["largest_server"], keep_days=365
        )
    )
    mb = 2**20
    table.add(
        "retention: two years, raw rows kept for one",
        "file stops growing",
        f"{result['bytes_vacuumed'] / mb:,.0f} MB after compaction and VACUUM "
        f"({result['deleted']:,} rows deleted in {result['seconds']:.0f} s, "
        f"{result['kept_old_rows']:,} kept)",
        f"{result['bytes_before'] / mb:,.0f} MB uncompacted",
        f"{result['bytes_before'] / result['bytes_vacuumed']:.1f}x smaller",
        "yes",
    )
    table.add(
        "retention: values unchanged after compaction",
        "equal",
        f"{result['checked'] - result['changed']} of {result['checked']} " "instant/period cases",
        verdict=_yes(result["changed"] == 0),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="The KPI tracker's performance benchmark.")
    parser.add_argument("--reports", type=int, default=40)
    parser.add_argument("--runs", type=int, default=0)
    options = parser.parse_args()
    started = time.perf_counter()
    print(f"Benchmark on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print("Generating (or reusing) the ledgers under .bench/ ...", flush=True)
    built = prepare()
    print(f"  ready after {time.perf_counter() - started:.0f} s", flush=True)

    table = Table()
    metric_sets(table, "real history", *real_history(), options.runs or 5, 25, 5, True)
    base = metric_sets(table, "1M rows", *built[ONE_M], options.runs or 5, 25, 5, True)
    metric_sets(table, "10M rows", *built[TEN_M], options.runs or 3, 250, 2, False)
    snapshot_job(table, built[FLEET][0])
    recording(table, *built[ONE_M])
    report(table, *built[ONE_M], options.reports)
    growth(table, built, base)
    retention(table, *built[TWO_YEARS])

    print()
    table.print()
    print(
        f"Finished in {time.perf_counter() - started:.0f} s "
        f"(load average now {os.getloadavg()[0]:.1f})."
    )


if __name__ == "__main__":
    main()
