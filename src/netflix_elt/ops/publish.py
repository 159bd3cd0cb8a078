"""Publishing a run's BI outputs: exports/, lookml/ and reports/dashboard.html."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from netflix_elt.core.home import Home
from netflix_elt.warehouse.connection import connect
from netflix_elt.warehouse.ledger import latest_transform

log = logging.getLogger(__name__)


def publish(home: Home) -> list[Path]:
    """The BI outputs of a run: exports/, lookml/ and reports/dashboard.html. Exports and LookML
    are rewritten only when they do not already reflect the latest transformed batch; the
    dashboard (which shows checks, runs and freshness) always is. Nothing to publish before the
    first batch is transformed."""
    from netflix_elt.bi.dashboard import build_dashboard
    from netflix_elt.bi.exports import MANIFEST, export_tables, exports_dir
    from netflix_elt.bi.lookml import MODEL_NAME, generate_lookml
    from netflix_elt.warehouse.target import home_target_name

    if home_target_name(home) == "bigquery":
        # The BI outputs read the models from the local warehouse; on BigQuery they live in the
        # dataset (query them there). Not yet: LookML for the BigQuery connection, the dashboard
        # and exports from the dataset.
        log.info("publish: the models live in BigQuery: exports/, lookml/ and the dashboard are not built")
        return []
    con = connect(home)
    try:
        transform = latest_transform(con)
    finally:
        con.close()
    if transform is None:
        log.info("publish: nothing transformed yet")
        return []
    latest = (transform["batch_id"], transform["run_id"])
    manifest = exports_dir(home) / MANIFEST
    lookml_dir = home.root / "lookml"
    try:
        published = json.loads(manifest.read_text(encoding="utf-8"))
        published_key = (published.get("batch_id"), published.get("transform_run_id"))
    except (OSError, ValueError, AttributeError):
        published_key = None
    # Keyed on the transform, not the batch: a replay (a late drop, rebuild) rewrites the tables
    # while the latest batch stays the same.
    if published_key != latest or not (lookml_dir / f"{MODEL_NAME}.model.lkml").is_file():
        # LookML first: the manifest, written last of all, then marks both as done, so a run
        # stopped half-way through either redoes both.
        generate_lookml(home, lookml_dir)
        export_tables(home)
    else:
        log.info("publish: exports/ and lookml/ already reflect batch %s", latest[0])
    dashboard = build_dashboard(home)
    log.info("published exports/, lookml/ and %s", dashboard.relative_to(home.root))
    return [exports_dir(home), lookml_dir, dashboard]
