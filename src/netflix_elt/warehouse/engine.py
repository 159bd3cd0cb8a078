"""Reading the dbt models wherever they were built: `ModelReader.rows(sql, params)` and
`exists(table)`, with `{name}` in the SQL replaced by the engine's name for a table. DuckDB reads
the local warehouse (positional `?` parameters); BigQuery reads the target's dataset (named
`@p0, @p1...` parameters, the `?` rewritten in order). The ledger stays local either way."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from netflix_elt.core.home import Home
from netflix_elt.warehouse.target import BigQueryTarget, home_target

_TABLE_REF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ModelReader(Protocol):
    engine: str

    def table(self, name: str) -> str: ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def exists(self, table: str) -> bool: ...

    def close(self) -> None: ...


class DuckDBReader:
    engine = "duckdb"

    def __init__(self, home: Home, con: Any = None) -> None:
        from netflix_elt.warehouse.connection import connect

        self._own = con is None
        self.con = con if con is not None else connect(home)

    def table(self, name: str) -> str:
        return name

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        sql = _TABLE_REF.sub(lambda m: self.table(m[1]), sql)
        return [tuple(r) for r in self.con.execute(sql, list(params)).fetchall()]

    def exists(self, table: str) -> bool:
        from netflix_elt.warehouse.connection import table_exists

        return bool(table_exists(self.con, table))

    def close(self) -> None:
        if self._own:
            self.con.close()


class BigQueryReader:
    engine = "bigquery"

    def __init__(self, bq: BigQueryTarget) -> None:
        from netflix_elt.warehouse.bigquery import BigQuerySession

        self.session = BigQuerySession(bq)

    def table(self, name: str) -> str:
        return f"`{self.session.table_id(name)}`"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        sql = _TABLE_REF.sub(lambda m: self.table(m[1]), sql)
        parts = sql.split("?")
        if len(parts) - 1 != len(params):
            raise ValueError(f"{len(params)} parameter(s) for {len(parts) - 1} placeholder(s)")
        named = parts[0] + "".join(f"@p{i}{part}" for i, part in enumerate(parts[1:]))
        return self.session.query(named, {f"p{i}": v for i, v in enumerate(params)})

    def exists(self, table: str) -> bool:
        return self.session.exists(table)

    def close(self) -> None:
        self.session.client.close()


def model_reader(home: Home, con: Any = None) -> ModelReader:
    """The reader for where `home`'s models live (`con`: an open local connection to reuse)."""
    return reader_for(home, home_target(home), con)


def reader_for(home: Home, bq: BigQueryTarget | None, con: Any = None) -> ModelReader:
    """The reader for models built in `bq` (None: the local warehouse of `home`), e.g. a replay's
    scratch dataset."""
    return BigQueryReader(bq) if bq is not None else DuckDBReader(home, con)
