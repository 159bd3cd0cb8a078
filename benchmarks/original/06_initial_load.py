"""Step 5: the initial load of the current table, each row with its md5 hash."""

import duckdb
from _common import args, database

a = args()
con = duckdb.connect(database(a.work))
columns = [r[0] for r in con.execute("describe staging_netflix_titles").fetchall()]
hashed = " || '|' || ".join(f"coalesce(cast({c} as varchar), '')" for c in columns)
con.execute(
    f"insert into analytics_netflix_current select *, md5({hashed}) as row_hash, false as is_deleted, "
    "current_timestamp as updated_at from staging_netflix_titles"
)
n = con.execute("select count(*) from analytics_netflix_current").fetchone()[0]
con.execute("insert into etl_metadata values (current_timestamp, ?, 0, 0)", [n])
con.execute(
    "insert into netflix_change_log select show_id, 'insert', row_hash, updated_at from analytics_netflix_current"
)
print(n, "current rows")
