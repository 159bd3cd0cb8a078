"""Step 4: the CDC set-up: the ETL metadata and the change log, empty."""

import duckdb
from _common import args, database

a = args()
con = duckdb.connect(database(a.work))
con.execute(
    "create table if not exists etl_metadata (run_at timestamp, rows_inserted bigint, rows_updated bigint, "
    "rows_deleted bigint)"
)
con.execute(
    "create table if not exists netflix_change_log (show_id varchar, change_type varchar, row_hash varchar, "
    "changed_at timestamp)"
)
print("CDC set up")
