"""What every step of the baseline shares: its arguments and where it reads and writes."""

from __future__ import annotations

import argparse
from pathlib import Path


def args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    return ap.parse_args()


def database(work: Path) -> str:
    return str(work / "netflix_dw.db")


def raw_parquet(work: Path) -> Path:
    return work / "data" / "raw" / "netflix_titles.parquet"
