"""Step 5: the analytics set-up: the current table, empty, with its hash and soft-delete columns."""

import duckdb
from _common import args, database

a = args()
con = duckdb.connect(database(a.work))
con.execute("create or replace table analytics_netflix_current as select * from staging_netflix_titles where false")
con.execute("alter table analytics_netflix_current add column row_hash varchar")
con.execute("alter table analytics_netflix_current add column is_deleted boolean")
con.execute("alter table analytics_netflix_current add column updated_at timestamp")
print("analytics set up")
