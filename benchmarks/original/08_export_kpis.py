"""Step 7: five KPI views to CSV, through pandas."""

import duckdb
from _common import args, database

EXPORTED = ["kpi_movies_vs_tv", "kpi_titles_by_year", "kpi_titles_by_country", "kpi_top_genres", "kpi_titles_by_rating"]

a = args()
con = duckdb.connect(database(a.work), read_only=True)
out = a.work / "exports"
out.mkdir(parents=True, exist_ok=True)
for view in EXPORTED:
    con.execute(f"select * from {view}").df().to_csv(out / f"{view}.csv", index=False)
print(len(EXPORTED), "KPI CSVs")
