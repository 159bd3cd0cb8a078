"""The whole pipeline, step by step. The CLI's `run` is a thin layer over `run_pipeline`."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from netflix_elt import logs
from netflix_elt.home import Home
from netflix_elt.ingest import BatchResult, IngestOptions, ingest_file
from netflix_elt.sample import sample_path
from netflix_elt.transform import TransformOptions, TransformResult, transform_pending
from netflix_elt.warehouse import connect

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_id: str
    batches: list[BatchResult] = field(default_factory=list)
    transforms: list[TransformResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def loaded(self) -> list[BatchResult]:
        return [b for b in self.batches if b.status == "succeeded"]

    @property
    def skipped(self) -> list[BatchResult]:
        return [b for b in self.batches if b.status == "skipped"]


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}_{uuid.uuid4().hex[:6]}"


def run_pipeline(
    home: Home,
    sources: list[Path] | None = None,
    options: IngestOptions | None = None,
    transform_options: TransformOptions | None = None,
    result: RunResult | None = None,
) -> RunResult:
    """Ingest each source (the bundled sample by default), transforming each loaded batch in
    order. Batches left pending by an earlier run are transformed first. Pass `result` to keep
    what was done so far when a step raises."""
    home.ensure()
    result = result or RunResult(run_id=new_run_id())
    started = time.monotonic()
    with logs.run_context(result.run_id):
        files = sources or [sample_path()]
        log.info("run %s: %d drop(s) into %s", result.run_id, len(files), home.warehouse)
        with logs.step("transform"):
            result.transforms += transform_pending(home, result.run_id, transform_options)
        for f in files:
            with logs.step("ingest"):
                con = connect(home)
                try:
                    result.batches.append(ingest_file(home, con, f, options))
                finally:
                    con.close()
            with logs.step("transform"):
                result.transforms += transform_pending(home, result.run_id, transform_options)
    result.seconds = time.monotonic() - started
    return result
