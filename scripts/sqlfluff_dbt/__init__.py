"""What dbt puts in a model's Jinja context, for sqlfluff's jinja templater (see .sqlfluff).

sqlfluff renders the dbt SQL without dbt: no manifest, no connection, no network. Its
`apply_dbt_builtins` gives ref(), source(), config(), is_incremental(), this and return(); this
module adds what the project's SQL uses beyond those, as dbt renders it for the DuckDB target:
var() from dbt_project.yml, target, adapter (dispatch to the project's duckdb__/default__
macros, quote, get_relation), dbt's cross-database macros and `execute` (false, as when dbt
parses). Nothing here runs a query.
"""

from pathlib import Path
from typing import Any

import jinja2
import yaml

_PROJECT = Path(__file__).resolve().parents[2] / "src" / "netflix_elt" / "dbt_project"
_VARS: dict[str, Any] = yaml.safe_load((_PROJECT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]

execute = False


def var(name: str, default: Any = None) -> Any:
    """dbt's var() with dbt_project.yml's values (the lint passes no --vars), else the default.

    A boolean switch (accept_deletes, accept_key_changes) renders true, so the SQL it adds is the
    SQL linted, as sqlfluff's own is_incremental() renders true.
    """
    value = _VARS.get(name)
    if isinstance(value, bool):
        return True
    return default if value is None else value


class _Relation:
    """A relation as adapter.get_relation() returns it (ref() and source() are sqlfluff's)."""

    def __init__(self, identifier: str, schema: str = "main", database: str = "netflix_dw") -> None:
        self.identifier = identifier
        self.schema = schema
        self.database = database

    def __str__(self) -> str:
        return f"{self.schema}.{self.identifier}"


class _Target:
    type = "duckdb"
    name = "duckdb"
    schema = "main"
    database = "netflix_dw"


target = _Target()


class _Adapter:
    @staticmethod
    @jinja2.pass_context
    def dispatch(context: jinja2.runtime.Context, macro_name: str, macro_namespace: str | None = None) -> Any:
        """dbt's adapter.dispatch for the DuckDB target: duckdb__<name>, else default__<name>."""
        for prefix in ("duckdb__", "default__"):
            macro = context.resolve_or_missing(prefix + macro_name)
            if macro is not jinja2.runtime.missing:
                return macro
        raise KeyError(f"no duckdb__ or default__ implementation of {macro_name}")

    @staticmethod
    def quote(identifier: str) -> str:
        return f'"{identifier}"'

    @staticmethod
    def get_relation(database: str, schema: str, identifier: str) -> _Relation:
        """The relation exists (so the lint sees the branch a rebuild takes)."""
        return _Relation(identifier, schema, database)


adapter = _Adapter()


class _Dbt:
    """dbt's cross-database macros (dbt.<name>), as dbt-duckdb renders them."""

    @staticmethod
    def type_string() -> str:
        return "varchar"

    @staticmethod
    def type_timestamp() -> str:
        return "timestamp"

    @staticmethod
    def date_trunc(datepart: str, date: str) -> str:
        return f"date_trunc('{datepart}', {date})"


dbt = _Dbt()
