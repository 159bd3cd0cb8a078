"""Step 1: read the drop with pandas, write it to the raw Parquet file."""

import pandas as pd
from _common import args, raw_parquet

a = args()
df = pd.read_csv(a.csv, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
df.columns = [c.strip() for c in df.columns]
target = raw_parquet(a.work)
target.parent.mkdir(parents=True, exist_ok=True)
df.to_parquet(target, index=False)
print(f"extracted {len(df):,} rows")
