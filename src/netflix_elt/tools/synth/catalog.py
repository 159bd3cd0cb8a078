"""A new synthetic catalog drop: `rows` rows with show_ids s1..sN, their values sampled from a real
catalog (the bundled sample by default) and written as CSV, or gzipped CSV for a `.gz` name.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from netflix_elt.core.errors import InputError
from netflix_elt.ingest.sample import sample_path
from netflix_elt.tools.synth.generator import _generator_sql
from netflix_elt.tools.synth.output import _check_output, _copy_to
from netflix_elt.tools.synth.pools import _load_pools
from netflix_elt.tools.synth.session import _duckdb
from netflix_elt.tools.synth.sql import _check_seed

log = logging.getLogger("netflix_elt.tools.synth")  # the package's logger, the name it has always had


def synth_catalog(
    out: Path, rows: int, seed: int, *, source: Path | None = None, scratch_dir: Path | None = None
) -> int:
    """Write a synthetic catalog drop of `rows` rows (show_ids s1..sN) to `out`, its values sampled
    from `source` (default: the bundled sample). Returns the number of rows written."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InputError(f"synth: rows={rows!r} must be a whole number of at least 1")
    seed = _check_seed(seed)
    out = Path(out)
    src = Path(source) if source is not None else sample_path()
    _check_output(out, [src])
    started = time.monotonic()
    with _duckdb(scratch_dir, out) as (con, scratch):
        pools = _load_pools(con, src)
        sql = _generator_sql(pools, seed, "catalog", first_id=1, rows=rows)
        _copy_to(con, sql, out, scratch)
    log.info("synth: wrote %s rows to %s in %.1fs (seed %d)", f"{rows:,}", out, time.monotonic() - started, seed)
    return rows
