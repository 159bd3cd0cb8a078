"""A small LookML-to-SQL compiler: what `netflix-elt lookml --check` runs (see `lookml_run`).

It reads a LookML folder as `lkml.load` gives it (`*.model.lkml`, `*.view.lkml` and the model's
`include:` globs) and compiles a query of an explore, the way Looker does, for one SQL dialect
(`DUCKDB` or `BIGQUERY`):

- views: `sql_table_name`, or `derived_table: {sql}`; dimensions (`sql`, default
  `${TABLE}.<name>`; yesno as CASE WHEN), dimension groups of type time with the timeframes
  raw/time/date/week/month/quarter/year (`datatype: date|datetime|timestamp`, `convert_tz`),
  measures count, count_distinct, sum, average, min, max and number (over other measures), with
  `filters:`;
- substitution of `${TABLE}`, `${field}` (same view), `${view.field}` and `${view.SQL_TABLE_NAME}`;
- explores with `from`/`view_name`, `joins` (`sql_on`, `type`, `relationship`; only the joins a
  query needs, like Looker), `sql_always_where`, `always_filter`/`conditionally_filter` defaults;
- Looker filter expressions: a value, a comma list, `-value`, `%` wildcards, `NULL`/`-NULL`/`NOT
  NULL`, yesno `Yes`/`No`, numeric `>= 2000`, `[2000, 2010]`, `NOT 5`. Anything else raises
  LookmlSqlError("unsupported filter expression ...") rather than giving a wrong answer.

Counts over a view that a one_to_many join fans out use COUNT(DISTINCT primary key), as Looker's
symmetric aggregates do; a sum or average over a fanned-out view is refused (no symmetric sums).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from netflix_elt.core.errors import NetflixEltError

REF = re.compile(r"\$\{\s*(\w+)(?:\.(\w+))?\s*\}")
TIMEFRAMES = ("raw", "time", "date", "week", "month", "quarter", "year")
AGGREGATES = {"count", "count_distinct", "sum", "average", "min", "max", "number"}
FANNING = {"one_to_many", "many_to_many"}  # relationship of a join that multiplies the explore's rows
JOIN_TYPES = {"left_outer": "LEFT JOIN", "inner": "INNER JOIN", "full_outer": "FULL OUTER JOIN", "cross": "CROSS JOIN"}


class LookmlSqlError(NetflixEltError):
    """Something in the LookML this compiler cannot (or will not) turn into SQL: one line."""


# -- the dialects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    name: str  # "duckdb" or "bigquery"

    def string(self, value: str) -> str:
        if self.name == "bigquery":  # BigQuery escapes with backslashes; DuckDB doubles quotes
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + value.replace("'", "''") + "'"

    def table(self, sql_table_name: str) -> str:
        if self.name == "duckdb" and "`" in sql_table_name:  # `project.dataset.table` -> dataset.table
            parts = sql_table_name.replace("`", "").strip().split(".")
            return ".".join(parts[-2:])
        return sql_table_name

    def timeframe(self, sql: str, timeframe: str, datatype: str, convert_tz: bool) -> str:
        """`sql` (a date, datetime or timestamp column) at `timeframe`, as Looker renders it: time
        'YYYY-MM-DD HH:MM:SS', date a DATE, week its Monday and month/quarter 'YYYY-MM' as strings,
        year an integer. The check runs in UTC, so `convert_tz` only changes BigQuery's rendering."""
        if timeframe == "raw":
            return sql
        if self.name == "bigquery":
            tz = ", 'UTC'" if convert_tz and datatype == "timestamp" else ""
            if datatype == "date":
                day = sql
                time = f"FORMAT_TIMESTAMP('%F %T', TIMESTAMP({sql}))"
            elif datatype == "datetime":
                day = f"DATE({sql})"
                time = f"FORMAT_DATETIME('%F %T', {sql})"
            else:
                day = f"DATE({sql}{tz})"
                time = f"FORMAT_TIMESTAMP('%F %T', {sql}{tz})"
            return {
                "time": time,
                "date": day,
                "week": f"FORMAT_DATE('%F', DATE_TRUNC({day}, WEEK(MONDAY)))",
                "month": f"FORMAT_DATE('%Y-%m', {day})",
                "quarter": f"FORMAT_DATE('%Y-%m', DATE_TRUNC({day}, QUARTER))",
                "year": f"EXTRACT(YEAR FROM {day})",
            }[timeframe]
        day = f"CAST({sql} AS DATE)"
        return {
            "time": f"strftime(CAST({sql} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S')",
            "date": day,
            "week": f"strftime(date_trunc('week', {day}), '%Y-%m-%d')",  # ISO weeks start on Monday
            "month": f"strftime({day}, '%Y-%m')",
            "quarter": f"strftime(date_trunc('quarter', {day}), '%Y-%m')",
            "year": f"CAST(extract('year' FROM {day}) AS BIGINT)",
        }[timeframe]


DUCKDB = Dialect("duckdb")
BIGQUERY = Dialect("bigquery")


# -- the project ---------------------------------------------------------------------------------


@dataclass
class Field:
    view: str
    name: str
    kind: str  # "dimension" or "measure"
    type: str
    raw: dict[str, Any]
    timeframe: str = ""  # of a dimension group's field
    group: str = ""  # the dimension group's name

    @property
    def ref(self) -> str:
        return f"{self.view}.{self.name}"


@dataclass
class View:
    name: str
    file: str
    raw: dict[str, Any]
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def primary_key(self) -> Field | None:
        return next((f for f in self.fields.values() if str(f.raw.get("primary_key", "no")) == "yes"), None)


@dataclass
class Model:
    name: str
    file: str
    raw: dict[str, Any]
    views: dict[str, View]
    explores: dict[str, dict[str, Any]]
    tests: list[dict[str, Any]]


@dataclass
class Project:
    folder: Path
    models: list[Model]
    problems: list[str]  # files that do not parse, views defined twice...
    views: dict[str, View]  # every view of every file


def _fields(name: str, raw: dict[str, Any]) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for d in raw.get("dimensions", []):
        out[d["name"]] = Field(name, d["name"], "dimension", str(d.get("type", "string")), d)
    for g in raw.get("dimension_groups", []):
        for tf in g.get("timeframes", list(TIMEFRAMES)):
            fname = f"{g['name']}_{tf}"
            out[fname] = Field(name, fname, "dimension", str(g.get("type", "time")), g, timeframe=tf, group=g["name"])
    for m in raw.get("measures", []):
        out[m["name"]] = Field(name, m["name"], "measure", str(m.get("type", "count")), m)
    return out


def filters_of(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, expression) pairs of a `filters:` (the `[a: "x", b: "y"]` form, or the older
    `filters: {field: a value: "x"}` blocks)."""
    out: list[tuple[str, str]] = []
    for group in raw.get("filters__all", []):
        for item in group:
            out.extend((str(k), str(v)) for k, v in item.items())
    for item in raw.get("filters", []) if isinstance(raw.get("filters"), list) else []:
        if isinstance(item, dict) and "field" in item:
            out.append((str(item["field"]), str(item.get("value", ""))))
    return out


def load_project(folder: Path) -> Project:
    """Every `*.lkml` file of `folder` (and below), parsed; each model with the views its
    `include:` globs bring in."""
    import lkml

    problems: list[str] = []
    docs: dict[Path, dict[str, Any]] = {}
    for path in sorted(folder.rglob("*.lkml")):
        try:
            docs[path] = lkml.load(path.read_text(encoding="utf-8")) or {}
        except Exception as exc:  # lkml raises its own syntax errors
            problems.append(f"{_rel(folder, path)}: does not parse ({' '.join(str(exc).split())})")
    views: dict[str, View] = {}
    by_file: dict[Path, list[View]] = {}
    for path, doc in docs.items():
        for raw in doc.get("views", []):
            view = View(raw["name"], _rel(folder, path), raw, _fields(raw["name"], raw))
            if view.name in views:
                problems.append(f"{view.file}: view {view.name} is defined again (first in {views[view.name].file})")
                continue
            views[view.name] = view
            by_file.setdefault(path, []).append(view)
    models: list[Model] = []
    for path, doc in docs.items():
        if not path.name.endswith(".model.lkml"):
            continue
        included: dict[str, View] = {v.name: v for v in by_file.get(path, [])}
        tests = list(doc.get("tests", []))
        for pattern in doc.get("includes", []):
            glob = str(pattern).lstrip("/")
            # Looker's "*.view" means "*.view.lkml".
            globs = [glob] if glob.endswith((".lkml", ".lookml")) else [glob, f"{glob}.lkml"]
            for inc in sorted({p for g in globs for p in folder.glob(g)}):
                for v in by_file.get(inc, []):
                    included.setdefault(v.name, v)
                if inc != path and inc in docs:
                    tests.extend(docs[inc].get("tests", []))
        explores = {e["name"]: e for e in doc.get("explores", [])}
        name = path.name[: -len(".model.lkml")]
        models.append(Model(name, _rel(folder, path), doc, included, explores, tests))
    return Project(folder, models, problems, views)


def _rel(folder: Path, path: Path) -> str:
    return str(Path(folder.name) / path.relative_to(folder))


# -- filters -------------------------------------------------------------------------------------

_NUM = r"-?\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^([\[(])\s*({_NUM})\s*,\s*({_NUM})\s*([\])])$")
_COMPARE = re.compile(rf"^(>=|<=|!=|<>|>|<|=)\s*({_NUM})$")
_NOT_NUM = re.compile(rf"^(?:NOT\s+|-)({_NUM})$", re.IGNORECASE)


def _split(expression: str) -> list[str]:
    """A filter expression's comma-separated terms (`^,`, Looker's escape, or `\\,` is a literal
    comma; a comma inside a range's brackets does not split)."""
    terms, cur, depth, i = [], "", 0, 0
    while i < len(expression):
        ch = expression[i]
        if ch in "^\\" and i + 1 < len(expression):
            cur += expression[i : i + 2]
            i += 2
            continue
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth <= 0:
            terms.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    terms.append(cur.strip())
    return terms


def _string_chars(value: str) -> list[tuple[str, bool]]:
    """A string filter term's characters, each with whether it is a wildcard: Looker's `%` (any
    run) and `_` (any one character), unless escaped with `^` (Looker's escape: `^%`, `^_`, `^,`,
    `^^`, `^"`); `\\,` and `\\\\` are read as a literal comma and backslash too."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if i + 1 < len(value) and (ch == "^" or (ch == "\\" and value[i + 1] in ",\\")):
            out.append((value[i + 1], False))
            i += 2
            continue
        out.append((ch, ch in "%_"))
        i += 1
    return out


def _number(text: str) -> str:
    try:
        return str(Decimal(text))
    except InvalidOperation:
        raise LookmlSqlError(f"not a number: {text!r}") from None


def filter_sql(sql: str, expression: str, kind: str, dialect: Dialect) -> str:
    """The WHERE condition of Looker filter `expression` on a field of `kind` ("string",
    "number", "yesno", "time") whose SQL is `sql`. LookmlSqlError for anything else."""
    expr = str(expression).strip()

    def unsupported() -> LookmlSqlError:
        return LookmlSqlError(f"unsupported filter expression {expression!r} on a {kind} field")

    upper = expr.upper()
    if upper == "NULL":
        return f"({sql}) IS NULL"
    if upper in ("-NULL", "NOT NULL"):
        return f"({sql}) IS NOT NULL"
    if kind == "yesno":
        if upper == "YES":
            return f"({sql})"
        if upper == "NO":
            return f"NOT COALESCE(({sql}), FALSE)"
        raise unsupported()
    if not expr:
        raise unsupported()
    positive: list[str] = []
    negative: list[str] = []
    if kind == "number":
        values: list[str] = []
        for term in _split(expr):
            if re.fullmatch(_NUM, term):
                values.append(_number(term))
            elif m := _COMPARE.match(term):
                op = "<>" if m[1] == "!=" else m[1]
                (negative if op == "<>" else positive).append(f"({sql}) {op} {_number(m[2])}")
            elif m := _RANGE.match(term):
                lo = ">=" if m[1] == "[" else ">"
                hi = "<=" if m[4] == "]" else "<"
                positive.append(f"(({sql}) {lo} {_number(m[2])} AND ({sql}) {hi} {_number(m[3])})")
            elif m := _NOT_NUM.match(term):
                negative.append(f"(({sql}) <> {_number(m[1])} OR ({sql}) IS NULL)")
            elif term.upper() == "NULL":
                positive.append(f"({sql}) IS NULL")
            else:
                raise unsupported()
        if values:
            positive.append(f"({sql}) IN ({', '.join(values)})")
    elif kind == "string":
        for term in _split(expr):
            negated = term.startswith("-")
            value = term[1:] if negated else term
            if not value or value.upper() in ("EMPTY", "NOT NULL") or value.startswith("-"):
                raise unsupported()
            if value.upper() == "NULL":
                (negative if negated else positive).append(f"({sql}) IS {'NOT ' if negated else ''}NULL")
                continue
            chars = _string_chars(value)
            literal = "".join(c for c, _ in chars)
            if not any(wild for _, wild in chars):
                cond = f"({sql}) = {dialect.string(literal)}"
            elif any(c in "%_" and not wild for c, wild in chars):
                raise unsupported()  # a wildcard beside an escaped % or _: LIKE escapes differ per engine
            else:
                cond = f"({sql}) LIKE {dialect.string(literal)}"
            if negated:
                negative.append(f"(NOT {cond} OR ({sql}) IS NULL)")
            else:
                positive.append(cond)
    else:
        raise unsupported()
    parts = ([f"({' OR '.join(positive)})"] if positive else []) + negative
    return " AND ".join(parts)


def filter_kind(f: Field) -> str:
    if f.type == "yesno":
        return "yesno"
    if f.group:
        return "time"
    if f.kind == "measure" or f.type in ("number", "tier"):
        return "number"
    return "string"


# -- queries -------------------------------------------------------------------------------------


@dataclass
class Explore:
    """An explore of a model, resolved: its alias -> view, and its joins in order."""

    model: Model
    name: str
    raw: dict[str, Any]
    base: str  # the base view's alias
    aliases: dict[str, View]  # alias -> view (the base first, then the joins in order)
    joins: dict[str, dict[str, Any]]  # alias -> join

    @property
    def where(self) -> str:
        return f"{self.model.file}: explore {self.name}"


def explore(model: Model, name: str) -> Explore:
    raw = model.explores.get(name)
    if raw is None:
        raise LookmlSqlError(f"{model.file}: no explore {name}")
    alias = str(raw.get("view_name") or name)
    view_name = str(raw.get("from") or raw.get("view_name") or name)
    aliases: dict[str, View] = {}
    joins: dict[str, dict[str, Any]] = {}
    where = f"{model.file}: explore {name}"
    if view_name not in model.views:
        raise LookmlSqlError(f"{where}: uses view {view_name}, which is not defined (or not included)")
    aliases[alias] = model.views[view_name]
    for join in raw.get("joins", []):
        jname = str(join["name"])
        jview = str(join.get("from") or join.get("view_name") or jname)
        if jview not in model.views:
            raise LookmlSqlError(f"{where}: join {jname} uses view {jview}, which is not defined (or not included)")
        aliases[jname] = model.views[jview]
        joins[jname] = join
    return Explore(model, name, raw, alias, aliases, joins)


@dataclass
class Compiled:
    sql: str
    columns: list[str]  # the result's column names, in order: one per field asked for
    joins: list[str]  # the joins it needed


@dataclass
class _Ctx:
    ex: Explore
    dialect: Dialect
    needed: set[str] = field(default_factory=set)  # aliases the SQL refers to
    stack: list[str] = field(default_factory=list)


def _field(ctx: _Ctx, alias: str, name: str) -> Field:
    view = ctx.ex.aliases.get(alias)
    if view is None:
        raise LookmlSqlError(f"{alias}.{name} refers to view {alias}, which the explore does not join")
    f = view.fields.get(name)
    if f is None:
        raise LookmlSqlError(f"{alias}.{name} is not a field of view {view.name}")
    return f


def _table(view: View, dialect: Dialect) -> str:
    if "sql_table_name" in view.raw:
        return dialect.table(str(view.raw["sql_table_name"]).strip())
    derived = view.raw.get("derived_table")
    if derived is not None:
        if "sql" not in derived:
            raise LookmlSqlError(f"view {view.name}: only derived tables with `sql:` are supported")
        return f"({derived['sql']})"
    return view.name


def _substitute(ctx: _Ctx, alias: str, sql: str, *, in_measure: bool) -> str:
    def repl(m: re.Match[str]) -> str:
        a, b = m[1], m[2]
        if b is None:
            if a == "TABLE":
                ctx.needed.add(alias)
                return alias
            target_alias, fname = alias, a
        elif b == "SQL_TABLE_NAME":
            target = next((v for v in ctx.ex.aliases.values() if v.name == a), None)
            target = target or ctx.ex.model.views.get(a)
            if target is None:
                raise LookmlSqlError(f"${{{a}.SQL_TABLE_NAME}}: no view {a}")
            return _table(target, ctx.dialect)
        else:
            target_alias, fname = a, b
        f = _field(ctx, target_alias, fname)
        if f.kind == "measure" and not in_measure:
            raise LookmlSqlError(f"${{{f.ref}}}: a dimension cannot refer to measure {f.ref}")
        return f"({field_sql(ctx, target_alias, f)})"

    return REF.sub(repl, sql)


def _dimension_sql(ctx: _Ctx, alias: str, f: Field) -> str:
    sql = str(f.raw.get("sql") or f"${{TABLE}}.{f.group or f.name}")
    inner = _substitute(ctx, alias, sql, in_measure=False)
    if f.group:
        if f.type != "time":
            raise LookmlSqlError(f"dimension_group {f.view}.{f.group}: type {f.type} is not supported (only time)")
        if f.timeframe not in TIMEFRAMES:
            raise LookmlSqlError(f"dimension_group {f.view}.{f.group}: timeframe {f.timeframe} is not supported")
        datatype = str(f.raw.get("datatype", "timestamp"))
        convert = str(f.raw.get("convert_tz", "yes")) == "yes" and datatype != "date"
        return ctx.dialect.timeframe(inner, f.timeframe, datatype, convert)
    return inner  # a yesno is its condition in SQL; only its column in SELECT says 'Yes'/'No'


def select_sql(sql: str, f: Field) -> str:
    """A field's SQL as a column of the result (a yesno dimension as 'Yes'/'No', as Looker shows it)."""
    if f.type == "yesno" and f.kind == "dimension" and not f.group:
        return f"CASE WHEN ({sql}) THEN 'Yes' ELSE 'No' END"
    return sql


def fanned_out(ex: Explore, alias: str, joins: Sequence[str]) -> bool:
    """Whether the joins of a query repeat the rows of `alias`'s view (Looker's fan-out)."""
    for j in joins:
        rel = str(ex.joins[j].get("relationship", "many_to_one"))
        if j == alias:
            if rel in ("many_to_one", "many_to_many"):
                return True
        elif rel in FANNING:
            return True
    return False


def _measure_sql(ctx: _Ctx, alias: str, f: Field) -> str:
    view = ctx.ex.aliases[alias]
    kind = f.type
    if kind not in AGGREGATES:
        raise LookmlSqlError(f"measure {f.ref}: type {kind} is not supported")
    if kind == "number":
        return _substitute(ctx, alias, str(f.raw.get("sql", "NULL")), in_measure=True)
    conds = []
    for target, expression in filters_of(f.raw):
        t_alias, _, t_name = target.rpartition(".")
        tf = _field(ctx, t_alias or alias, t_name)
        sql = field_sql(ctx, t_alias or alias, tf)
        conds.append(filter_sql(sql, expression, filter_kind(tf), ctx.dialect))
    cond = " AND ".join(conds)
    ctx.needed.add(alias)
    if "sql" in f.raw:
        value = _substitute(ctx, alias, str(f.raw["sql"]), in_measure=False)
    elif kind == "count":
        pk = view.primary_key
        value = f"({field_sql(ctx, alias, pk)})" if pk is not None else "1"
    else:
        raise LookmlSqlError(f"measure {f.ref}: type {kind} needs `sql:`")
    if cond:
        value = f"CASE WHEN {cond} THEN {value} END"
    if kind == "count":  # fan-out is decided when the query's joins are known (see `fan`)
        return f"/*count:{alias}*/COUNT({value})"
    if kind in ("sum", "average"):
        return f"/*sum:{alias}*/{'SUM' if kind == 'sum' else 'AVG'}({value})"
    return {"count_distinct": f"COUNT(DISTINCT {value})", "min": f"MIN({value})", "max": f"MAX({value})"}[kind]


def field_sql(ctx: _Ctx, alias: str, f: Field) -> str:
    key = f"{alias}.{f.name}"
    if key in ctx.stack:
        raise LookmlSqlError(f"{key} refers to itself ({' -> '.join([*ctx.stack, key])})")
    ctx.stack.append(key)
    try:
        return _measure_sql(ctx, alias, f) if f.kind == "measure" else _dimension_sql(ctx, alias, f)
    finally:
        ctx.stack.pop()


_FAN_MARK = re.compile(r"/\*(count|sum):(\w+)\*/(COUNT|SUM|AVG)\(")


def compile_query(
    ex: Explore,
    fields: Sequence[str],
    dialect: Dialect,
    *,
    filters: Sequence[tuple[str, str]] = (),
    limit: int | None = None,
    defaults: bool = True,
    joins: Sequence[str] | None = None,
    exact: bool = True,
) -> Compiled:
    """SELECT `fields` (view.field refs) FROM the explore, with the joins they (and the filters,
    the explore's sql_always_where and, with `defaults`, its always_filter and conditionally_filter
    defaults) need, dimensions grouped; `joins` forces a set of joins instead (for checking a join).
    Without `exact` (a query only checked, never read) a fanned-out sum is not refused."""
    ctx = _Ctx(ex, dialect)
    selects: list[tuple[str, str, Field]] = []  # (sql, column, field)
    for ref in fields:
        alias, _, name = ref.rpartition(".")
        f = _field(ctx, alias or ex.base, name)
        selects.append((select_sql(field_sql(ctx, alias or ex.base, f), f), f"{alias or ex.base}_{name}", f))
    all_filters = list(filters)
    if defaults:
        given = {t for t, _ in filters}
        all_filters += [(t, e) for t, e in filters_of(ex.raw.get("always_filter") or {}) if t not in given]
        cond = ex.raw.get("conditionally_filter") or {}
        unless = {str(u) for u in cond.get("unless", [])}
        if not (given & unless):
            all_filters += [(t, e) for t, e in filters_of(cond) if t not in given]
    where: list[str] = []
    having: list[str] = []
    for target, expression in all_filters:
        alias, _, name = target.rpartition(".")
        f = _field(ctx, alias or ex.base, name)
        sql = filter_sql(field_sql(ctx, alias or ex.base, f), expression, filter_kind(f), dialect)
        (having if f.kind == "measure" else where).append(sql)
    if "sql_always_where" in ex.raw:
        where.insert(0, _substitute(ctx, ex.base, str(ex.raw["sql_always_where"]), in_measure=False))
    needed_joins = list(joins) if joins is not None else _joins_for(ctx)
    join_sql: list[str] = []
    for j in needed_joins:
        join = ex.joins[j]
        kind = str(join.get("type", "left_outer"))
        if kind not in JOIN_TYPES:
            raise LookmlSqlError(f"join {j}: type {kind} is not supported")
        if "sql" in join or "foreign_key" in join or "sql_where" in join:
            raise LookmlSqlError(f"join {j}: only `sql_on` joins are supported")
        view = ex.aliases[j]
        text = f"{JOIN_TYPES[kind]} {_table(view, dialect)} AS {j}"
        if kind != "cross":
            if "sql_on" not in join:
                raise LookmlSqlError(f"join {j}: no sql_on")
            text += f" ON {_substitute(ctx, j, str(join['sql_on']), in_measure=False)}"
        join_sql.append(text)

    def fan(m: re.Match[str]) -> str:
        what, alias, fn = m[1], m[2], m[3]
        if not fanned_out(ex, alias, needed_joins):
            return f"{fn}("
        if what == "count" and ex.aliases[alias].primary_key is not None:
            return "COUNT(DISTINCT "
        if not exact:
            return f"{fn}("
        raise LookmlSqlError(
            f"a {'count' if what == 'count' else 'sum or average'} over view {alias}, which the query's joins "
            "fan out, needs symmetric aggregates (a primary key for a count; not supported for sums)"
        )

    body = [f"{sql} AS {col}" for sql, col, _ in selects] or ["1 AS one"]
    text = f"SELECT {', '.join(body)}\nFROM {_table(ex.aliases[ex.base], dialect)} AS {ex.base}"
    for j in join_sql:
        text += f"\n{j}"
    if where:
        text += "\nWHERE " + " AND ".join(f"({w})" for w in where)
    dims = [i + 1 for i, (_, _, f) in enumerate(selects) if f.kind == "dimension"]
    if dims:
        text += "\nGROUP BY " + ", ".join(str(i) for i in dims)
    if having:
        text += "\nHAVING " + " AND ".join(f"({h})" for h in having)
    if limit is not None:
        text += f"\nLIMIT {int(limit)}"
    text = _FAN_MARK.sub(fan, text)
    return Compiled(text, [c for _, c, _ in selects], needed_joins)


def _joins_for(ctx: _Ctx) -> list[str]:
    """The joins the query's SQL refers to, and those their sql_on refer to, in explore order."""
    ex = ctx.ex
    seen: set[str] = set()
    todo = [a for a in ctx.needed if a != ex.base]
    while todo:
        j = todo.pop()
        if j in seen or j not in ex.joins:
            continue
        seen.add(j)
        before = set(ctx.needed)
        _substitute(ctx, j, str(ex.joins[j].get("sql_on", "")), in_measure=False)
        todo.extend(ctx.needed - before)
        for dep in REF.findall(str(ex.joins[j].get("sql_on", ""))):
            if dep[1] and dep[0] in ex.joins:
                todo.append(dep[0])
    return [j for j in ex.joins if j in seen]


def iter_fields(ex: Explore) -> Iterator[Field]:
    """Every field of every view of the explore, in order (base first)."""
    for alias, view in ex.aliases.items():
        for f in view.fields.values():
            yield Field(alias, f.name, f.kind, f.type, f.raw, f.timeframe, f.group)
