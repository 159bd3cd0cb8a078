"""Run the baseline's steps in order, each as its own process; print each step's seconds."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = sorted(p for p in HERE.glob("0*.py"))


def commands(csv: Path, work: Path) -> list[tuple[str, list[str]]]:
    """(step name, command) for each step, in order."""
    return [(p.stem, [sys.executable, str(p), "--csv", str(csv), "--work", str(work)]) for p in STEPS]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    a.work.mkdir(parents=True)
    total = 0.0
    for name, cmd in commands(a.csv, a.work):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        took = time.perf_counter() - started
        total += took
        print(f"{name:<20} {took:7.2f}s")
    print(f"{'total':<20} {total:7.2f}s")


if __name__ == "__main__":
    main()
