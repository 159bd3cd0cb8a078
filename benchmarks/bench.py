"""`make bench`: netflix-elt against the scripts it replaces and bare DuckDB, on synthetic
catalogs of BENCH_ROWS rows.

Every step runs as its own process (as a user would run it), timed wall-clock, with the peak
RSS of its whole process tree sampled every 20 ms. The baseline is benchmarks/original/: the
original numbered pandas scripts' first load, re-created, one process per step. After each
netflix-elt run its profile (<home>/logs/profile.json: each step, the ingest phases, the dbt
build and each dbt node, the checks, each publish step) gives the per-stage breakdown.
Results: tables on stdout and benchmarks/results/latest.json (also rows_<N>.json, which a 10M run
compares per-row cost with). The CDC counts the pipeline reports must equal the generator's
expected counts, or the bench fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import psutil

from netflix_elt.ingest.mapping import CANONICAL_COLUMNS
from netflix_elt.ingest.sample import sample_path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "original"))
from run_all import commands as original_steps  # noqa: E402  (benchmarks/original/run_all.py)

RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
CLI = [str(BIN / "netflix-elt")]


def measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall seconds and peak RSS (MB) of the process tree of cmd; fails on a non-zero exit."""
    started = time.perf_counter()
    proc = psutil.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - started
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"bench step failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()[-2000:]}")
    return {"seconds": round(wall, 3), "peak_rss_mb": round(peak / 2**20, 1)}


def py(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


COLUMNS = list(CANONICAL_COLUMNS)


def merge_baseline(base: Path, nxt: Path, work: Path) -> dict[str, float]:
    """One NULL-safe, all-column MERGE of the next drop into a table holding the first: the
    statement is timed inside its process; setup (loading the first drop) is not."""
    db = work / "merge.duckdb"
    db.unlink(missing_ok=True)
    cols = ", ".join(f'"{c}"' for c in COLUMNS)
    changed = " or ".join(f't."{c}" is distinct from s."{c}"' for c in COLUMNS[1:])
    sets = ", ".join(f'"{c}" = s."{c}"' for c in COLUMNS[1:])
    create = f"create table t as select {cols} from read_csv({str(base)!r}, all_varchar=true)"
    values = ", ".join(f's."{c}"' for c in COLUMNS)
    merge = (
        f"merge into t using (select {cols} from read_csv({str(nxt)!r}, all_varchar=true)) s "
        f"on t.show_id = s.show_id when matched and ({changed}) then update set {sets} "
        f"when not matched then insert ({cols}) values ({values}) when not matched by source then delete"
    )
    code = (
        f"import duckdb, time, json\ncon = duckdb.connect({str(db)!r})\n"
        f"con.execute('set enable_progress_bar = false')\ncon.execute({create!r})\n"
        f"started = time.perf_counter()\ncon.execute({merge!r})\n"
        "print(json.dumps({'merge_seconds': time.perf_counter() - started}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    db.unlink(missing_ok=True)
    return {"seconds": round(json.loads(proc.stdout.strip().splitlines()[-1])["merge_seconds"], 3)}


def baseline(csv: Path, work: Path) -> dict[str, object]:
    """The original scripts' first load of `csv`: each step's process measured, in order."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    steps = {name: measure(cmd) for name, cmd in original_steps(csv, work)}
    return {
        "seconds": round(sum(s["seconds"] for s in steps.values()), 3),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in steps.values()),
        "steps": steps,
    }


def profile(home: Path) -> dict[str, object]:
    """The last run's profile in `home` (logs/profile.json)."""
    return json.loads((home / "logs" / "profile.json").read_text())


def breakdown(name: str, prof: dict[str, object], top: int = 12) -> list[str]:
    """Where one run's time went: the steps, the phases inside them, the slowest dbt nodes."""
    phases: dict[str, float] = prof["phases"]  # type: ignore[assignment]
    lines = [f"{name}: {prof['seconds']:.2f}s ({prof['status']})"]
    for stepname in ("ingest", "transform", "monitor", "publish"):
        if stepname not in phases:
            continue
        lines.append(f"  {stepname:<34} {phases[stepname]:>8.2f}s")
        for k, v in phases.items():
            if k.startswith(f"{stepname}."):
                lines.append(f"    {k:<32} {v:>8.2f}s")
            if stepname == "transform" and k == "dbt.parse":
                lines.append(f"      {'of which dbt.parse':<30} {v:>8.2f}s")
        if stepname == "transform" and "transform.dbt_build" in phases:
            inside = sum(v for k, v in phases.items() if k.startswith("transform."))
            lines.append(f"    {'(the rest of the transform)':<32} {phases['transform'] - inside:>8.2f}s")
    nodes = sorted(((v, k) for k, v in phases.items() if k.startswith("dbt.build.")), reverse=True)
    if nodes:
        lines.append(f"  dbt nodes: {len(nodes)}, {sum(v for v, _ in nodes):.2f}s in all (2 run at once); slowest:")
        lines += [f"    {k.removeprefix('dbt.build.'):<44} {v:>6.2f}s" for v, k in nodes[:top]]
    return lines


def cdc_counts(home: Path) -> dict[str, int]:
    con = duckdb.connect(str(home / "netflix_dw.duckdb"), read_only=True)
    try:
        row = con.execute(
            "select inserted, updated, unchanged, deleted, revived from etl_transforms "
            "where status = 'succeeded' order by finished_at desc limit 1"
        ).fetchone()
    finally:
        con.close()
    return dict(zip(["inserted", "updated", "unchanged", "deleted", "revived"], row, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ROWS", 1_000_000)))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--keep", action="store_true", help="keep the drops and homes (to profile them)")
    ap.add_argument(
        "--memory-limit",
        default=os.environ.get("BENCH_MEMORY_LIMIT") or None,
        help="NETFLIX_ELT_MEMORY_LIMIT for the pipeline's steps (default: the pipeline's own default)",
    )
    args = ap.parse_args()
    n = args.rows
    work = args.work / str(n)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base, nxt = work / "drop_1.csv", work / "drop_2.csv"

    print(f"bench: {n:,} rows on {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB", flush=True)
    gen = {
        "base": measure([*CLI, "synth", "--rows", str(n), "--seed", str(args.seed), "--out", str(base)]),
        "next": measure(
            [
                *CLI,
                "synth",
                "--next-of",
                str(base),
                "--changed",
                "1%",
                "--new",
                "0.5%",
                "--deleted",
                "0.2%",
                "--seed",
                str(args.seed + 1),
                "--out",
                str(nxt),
            ]
        ),
    }
    expected_path = nxt.with_name(nxt.name.removesuffix(".gz").removesuffix(".csv") + ".expected.json")
    expected = json.loads(expected_path.read_text())

    steps: dict[str, dict[str, float]] = {}
    copy_sql = f"copy (select * from read_csv({str(base)!r}, all_varchar=true)) to {str(work / 'copy.parquet')!r}"
    steps["duckdb_copy"] = measure(py(f"import duckdb; duckdb.execute({copy_sql!r})"))
    steps["duckdb_merge"] = merge_baseline(base, nxt, work)
    original = {"full": baseline(base, work / "original"), "sample": baseline(sample_path(), work / "original_sample")}
    steps["original_first_load"] = {k: original["full"][k] for k in ("seconds", "peak_rss_mb")}  # type: ignore[misc]
    steps["original_sample"] = {k: original["sample"][k] for k in ("seconds", "peak_rss_mb")}  # type: ignore[misc]

    h_ingest, h_run, h_sample = work / "home_ingest", work / "home_run", work / "home_sample"
    env = {"NETFLIX_ELT_MEMORY_LIMIT": args.memory_limit} if args.memory_limit else {}
    steps["ingest"] = measure([*CLI, "--home", str(h_ingest), "-q", "ingest", str(base)], env)
    # Not timed: a run on this machine parses the dbt project into the user's cache, as any
    # earlier run would have (the very first run on a machine is measured on its own below).
    subprocess.run([*CLI, "--home", str(work / "home_warm"), "-q", "run"], env={**os.environ, **env}, check=True)
    profiles = {}
    steps["full_run"] = measure([*CLI, "--home", str(h_run), "-q", "run", "--source", str(base)], env)
    profiles["full_run"] = profile(h_run)
    steps["incremental_run"] = measure([*CLI, "--home", str(h_run), "-q", "run", "--source", str(nxt)], env)
    profiles["incremental_run"] = profile(h_run)
    got = cdc_counts(h_run)
    steps["noop_rerun"] = measure([*CLI, "--home", str(h_run), "-q", "run", "--source", str(nxt)], env)
    # A new process on a fresh home: with the parsed dbt manifest in the user's cache (any earlier
    # run on this machine), and without it (the very first run on a machine parses the project).
    steps["sample_cold_run"] = measure([*CLI, "--home", str(h_sample), "-q", "run"], env)
    profiles["sample_cold_run"] = profile(h_sample)
    first = {**env, "NETFLIX_ELT_CACHE_DIR": str(work / "empty_cache")}
    steps["sample_first_run_on_machine"] = measure([*CLI, "--home", str(work / "home_first"), "-q", "run"], first)

    want = {k: expected[k] for k in ("inserted", "updated", "unchanged", "deleted", "revived")}
    for s in ("ingest", "full_run", "incremental_run"):
        steps[s]["rows_per_s"] = round(n / steps[s]["seconds"])
    ratios = {
        "ingest_vs_duckdb_copy": round(steps["ingest"]["seconds"] / steps["duckdb_copy"]["seconds"], 2),
        "incremental_vs_full_run": round(steps["incremental_run"]["seconds"] / steps["full_run"]["seconds"], 2),
        "incremental_vs_duckdb_merge": round(steps["incremental_run"]["seconds"] / steps["duckdb_merge"]["seconds"], 2),
        "full_run_seconds_per_million_rows": round(steps["full_run"]["seconds"] / n * 1e6, 3),
        "full_run_vs_original": round(steps["full_run"]["seconds"] / steps["original_first_load"]["seconds"], 2),
        "incremental_vs_original": round(
            steps["incremental_run"]["seconds"] / steps["original_first_load"]["seconds"], 2
        ),
        "sample_run_vs_original_sample": round(
            steps["sample_cold_run"]["seconds"] / steps["original_sample"]["seconds"], 2
        ),
    }
    suffix = f"_mem{args.memory_limit}" if args.memory_limit else ""
    previous = RESULTS / "rows_1000000.json"  # the default settings' 1M run
    if n > 1_000_000 and previous.is_file():
        small = json.loads(previous.read_text())
        per_row_small = small["steps"]["full_run"]["seconds"] / small["rows"]
        ratios["per_row_cost_vs_1m"] = round(steps["full_run"]["seconds"] / n / per_row_small, 2)
        per_row_small = small["steps"]["incremental_run"]["seconds"] / small["rows"]
        ratios["incremental_per_row_cost_vs_1m"] = round(steps["incremental_run"]["seconds"] / n / per_row_small, 2)
    outside = ("duckdb_copy", "duckdb_merge", "original_first_load", "original_sample")
    peak = max(s.get("peak_rss_mb", 0) for k, s in steps.items() if k not in outside)
    result = {
        "rows": n,
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "memory_limit": args.memory_limit or "pipeline default",
        "generate": gen,
        "steps": steps,
        "ratios": ratios,
        "peak_rss_mb_pipeline": peak,
        "cdc_expected": want,
        "cdc_reported": got,
        "original": original,
        "profiles": profiles,
    }
    RESULTS.mkdir(exist_ok=True)
    for name in ("latest.json", f"rows_{n}{suffix}.json"):
        (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")

    print(f"{'step':<28} {'seconds':>9} {'rows/s':>11} {'peak RSS MB':>12}")
    for k, s in steps.items():
        print(f"{k:<28} {s['seconds']:>9.2f} {s.get('rows_per_s', ''):>11} {s.get('peak_rss_mb', ''):>12}")
    for which, label in (("full", f"{n:,} rows"), ("sample", "the sample")):
        print(f"original scripts on {label}:")
        for k, s in original[which]["steps"].items():  # type: ignore[union-attr]
            print(f"  {k:<26} {s['seconds']:>9.2f} {'':>11} {s['peak_rss_mb']:>12}")
    for k, prof in profiles.items():
        print("\n".join(breakdown(k, prof)))
        print(f"  {'(process start-up, imports, exit)':<34} {steps[k]['seconds'] - prof['seconds']:>8.2f}s")
    for k, v in ratios.items():
        print(f"{k:<36} {v}")
    print(f"cdc expected {want}\ncdc reported {got}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if got != want:
        raise SystemExit("bench FAILED: the pipeline's CDC counts differ from the generator's expected counts")


if __name__ == "__main__":
    main()
