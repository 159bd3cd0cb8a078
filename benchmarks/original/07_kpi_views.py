"""Step 6: the seven KPI views."""

import duckdb
from _common import args, database

ACTIVE = "(select * from analytics_netflix_current where not is_deleted)"
VIEWS = {
    "kpi_movies_vs_tv": f"select type, count(*) as total_titles from {ACTIVE} group by 1",
    "kpi_titles_by_year": f"select release_year, count(*) as total_titles from {ACTIVE} group by 1",
    "kpi_titles_by_rating": f"select rating, count(*) as total_titles from {ACTIVE} group by 1",
    "kpi_titles_by_country": (
        "select trim(c) as country, count(distinct show_id) as total_titles "
        f"from {ACTIVE}, unnest(string_split(country, ',')) as t(c) where trim(c) <> '' group by 1"
    ),
    "kpi_top_genres": (
        "select trim(g) as genre, count(distinct show_id) as total_titles "
        f"from {ACTIVE}, unnest(string_split(listed_in, ',')) as t(g) group by 1 order by 2 desc, 1 limit 10"
    ),
    "kpi_genres_over_time": (
        "select release_year, trim(g) as genre, count(distinct show_id) as total_titles "
        f"from {ACTIVE}, unnest(string_split(listed_in, ',')) as t(g) group by 1, 2"
    ),
    "kpi_titles_added_by_month": (
        f"select date_trunc('month', date_added)::date as month_added, type, count(*) as total_titles "
        f"from {ACTIVE} where date_added is not null group by 1, 2"
    ),
}

a = args()
con = duckdb.connect(database(a.work))
for name, sql in VIEWS.items():
    con.execute(f"create or replace view {name} as {sql}")
print(len(VIEWS), "views")
