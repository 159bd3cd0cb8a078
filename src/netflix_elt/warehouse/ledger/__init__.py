"""The ledger: every table name and every statement on the bookkeeping tables (`etl_batches`,
`etl_transforms`, `etl_runs`, `dq_results`), with the one definition of each "latest" the stages
ask for. Batches are ordered by their as-of, then their sequence; runs and check results by their
sequence; never by the wall clock.

One module per table (`batches`, `transforms`, `runs`, `results`) and the table names in `tables`;
every name is re-exported here, so callers say `from netflix_elt.warehouse import ledger`.
"""

from netflix_elt.warehouse.ledger.batches import (
    AS_OF_STEP,
    assign_sequence,
    batch_exists,
    batch_loaded_from,
    batch_with_content,
    column_mapping,
    finish_batch,
    insert_batch,
    keys_seen,
    latest_batches,
    latest_ingestion,
    list_batches,
    pending_batch_rows,
    record_raw_file,
    recover_interrupted,
    remember_source_stat,
    rows_loaded,
)
from netflix_elt.warehouse.ledger.results import (
    _NEWEST_WORST as _NEWEST_WORST,
)
from netflix_elt.warehouse.ledger.results import (
    _RESULT_COLUMNS as _RESULT_COLUMNS,
)
from netflix_elt.warehouse.ledger.results import (
    batch_results,
    has_result,
    latest_results,
    store_results,
)
from netflix_elt.warehouse.ledger.runs import (
    RUN_COLUMNS,
    close_interrupted,
    first_run_started,
    upsert_run,
)
from netflix_elt.warehouse.ledger.tables import (
    DQ_TABLE,
    LEDGER_TABLE,
    RAW_TABLE,
    RUNS_TABLE,
    TRANSFORMS_TABLE,
)
from netflix_elt.warehouse.ledger.tables import (
    _one as _one,
)
from netflix_elt.warehouse.ledger.transforms import (
    TRANSFORM_OUTCOME_COLUMNS,
    finish_transform,
    insert_transform,
    latest_decision,
    latest_transform,
)

__all__ = [
    "AS_OF_STEP",
    "DQ_TABLE",
    "LEDGER_TABLE",
    "RAW_TABLE",
    "RUNS_TABLE",
    "RUN_COLUMNS",
    "TRANSFORMS_TABLE",
    "TRANSFORM_OUTCOME_COLUMNS",
    "assign_sequence",
    "batch_exists",
    "batch_loaded_from",
    "batch_results",
    "batch_with_content",
    "close_interrupted",
    "column_mapping",
    "finish_batch",
    "finish_transform",
    "first_run_started",
    "has_result",
    "insert_batch",
    "insert_transform",
    "keys_seen",
    "latest_batches",
    "latest_decision",
    "latest_ingestion",
    "latest_results",
    "latest_transform",
    "list_batches",
    "pending_batch_rows",
    "record_raw_file",
    "recover_interrupted",
    "remember_source_stat",
    "rows_loaded",
    "store_results",
    "upsert_run",
]
