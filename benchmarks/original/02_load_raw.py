"""Step 2: the raw table in DuckDB, from the Parquet file."""

import duckdb
from _common import args, database, raw_parquet

a = args()
con = duckdb.connect(database(a.work))
con.execute(
    "create or replace table raw_netflix_titles as select *, current_timestamp as loaded_at from read_parquet(?)",
    [str(raw_parquet(a.work))],
)
print(con.execute("select count(*) from raw_netflix_titles").fetchone()[0], "raw rows")
