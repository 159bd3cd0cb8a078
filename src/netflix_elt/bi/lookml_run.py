"""`netflix-elt lookml --check`: run every field of every explore, and the `test:` blocks.

`check_lookml(home, folder, against=...)` compiles (with `lookml_sql`) and runs, per explore:

1. one query with every field of the explore (dimensions grouped, measures aggregated, every
   join); when it runs, each field is proven at once;
2. else the base view alone, then each join alone (a missing table or a broken `sql_on` is named
   once), then all the fields of each view whose joins work in one query, and only when that
   fails one query per field, to name the culprit;

then every dashboard element's query (its fields and filters), and every `test:` block: its
query is run for real and each `assert:` expression must be true on every row (zero rows is a
failure). The checks that running the SQL cannot make stay: every dashboard element's explore,
fields, filters and sorts exist, and a `type: number` dimension's SQL gives a number (the
column types of the result, or of the dry run's schema).

Engines: the home's DuckDB warehouse, ATTACHed READ_ONLY to an in-memory DuckDB under the
LookML's dataset name (so `netflix_elt.<table>` resolves; nothing is written to the home), or a
BigQuery dataset (`google-cloud-bigquery`, default dataset and project the target's). On BigQuery
a field query is a dry run when the endpoint really does dry runs (probed: a dry run of
`SELECT ERROR(...)` must not fail), else `LIMIT 0`; `CheckResult.mode` says which.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from netflix_elt.bi import lookml_sql as lk
from netflix_elt.core.errors import InputError, NetflixEltError
from netflix_elt.core.home import Home

log = logging.getLogger(__name__)

PROBE = "netflix-elt dry-run probe"


class EngineError(Exception):
    """The engine refused a query (a missing table or column, a type error): one line."""


# -- engines -------------------------------------------------------------------------------------


class Engine:
    dialect: lk.Dialect
    where: str  # for the summary line
    mode: str  # how field queries are run: "LIMIT 0" or "dry run"

    def check(self, sql: str) -> dict[str, str]:
        """The result's column types (by column name) of `sql`, run with LIMIT 0 or as a dry run;
        EngineError when the engine refuses it."""
        raise NotImplementedError

    def rows(self, sql: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


class DuckDBEngine(Engine):
    dialect = lk.DUCKDB
    mode = "LIMIT 0"

    def __init__(self, home: Home, datasets: Sequence[str]) -> None:
        import duckdb

        from netflix_elt.warehouse.connection import configure

        if not home.warehouse.exists():
            raise InputError(f"{home.warehouse}: no warehouse yet; run `netflix-elt run` first")
        self.where = home.warehouse.name
        self.con = duckdb.connect(":memory:")
        configure(self.con, home, read_only=True)
        # The LookML's `dataset.table` names: the warehouse attached under the dataset's name (DuckDB
        # resolves `catalog.table`), and used, so unqualified names resolve too (BigQuery's default dataset).
        name = datasets[0] if datasets else "warehouse"
        path = str(home.warehouse).replace("'", "''")
        quoted = '"' + name.replace('"', '""') + '"'
        self.con.execute(f"ATTACH '{path}' AS {quoted} (READ_ONLY)")
        self.con.execute(f"USE {quoted}")

    def check(self, sql: str) -> dict[str, str]:
        import duckdb

        try:
            cur = self.con.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
            types = {str(d[0]): str(d[1]).upper() for d in cur.description or []}
            cur.fetchall()
            return types
        except duckdb.Error as exc:
            raise EngineError(_one_line(str(exc).split("\n")[0])) from None

    def rows(self, sql: str) -> list[dict[str, Any]]:
        import duckdb

        try:
            cur = self.con.execute(sql)
            names = [d[0] for d in cur.description or []]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        except duckdb.Error as exc:
            raise EngineError(_one_line(str(exc).split("\n")[0])) from None

    def close(self) -> None:
        self.con.close()


class BigQueryEngine(Engine):
    dialect = lk.BIGQUERY

    def __init__(self, target: str, *, endpoint: str | None = None, credentials: Path | None = None) -> None:
        from netflix_elt.bi.bigquery import (
            API_RETRY_DEADLINE_S,
            CONNECT_DEADLINE_S,
            INSTALL_HINT,
            REQUEST_TIMEOUT_S,
            _credentials,
            parse_target,
        )

        self.project, self.dataset = parse_target(target)
        try:
            from google.api_core import exceptions as api_exceptions
            from google.api_core.client_options import ClientOptions
            from google.cloud import bigquery
        except ImportError:
            raise InputError(f"BigQuery support is not installed: {INSTALL_HINT}") from None
        self.bigquery, self.api_exceptions = bigquery, api_exceptions
        creds, _source = _credentials(credentials, endpoint)
        self.endpoint = endpoint
        self.anonymous = credentials is None and bool(endpoint)
        options = ClientOptions(api_endpoint=endpoint) if endpoint else None
        self.client = bigquery.Client(project=self.project, credentials=creds, client_options=options)
        self.timeout = REQUEST_TIMEOUT_S
        # Bounded retries: an unreachable endpoint fails in seconds, not after the client's 10 minutes.
        self.retry = bigquery.DEFAULT_RETRY.with_timeout(API_RETRY_DEADLINE_S)
        try:
            self.client.get_dataset(
                f"{self.project}.{self.dataset}",
                retry=bigquery.DEFAULT_RETRY.with_timeout(CONNECT_DEADLINE_S),
                timeout=REQUEST_TIMEOUT_S,
            )
        except api_exceptions.NotFound:
            self.client.close()
            raise InputError(f"dataset {self.project}.{self.dataset} does not exist") from None
        except Exception as exc:
            self.client.close()
            raise self._fail(exc, "opening the dataset") from exc
        try:
            why_not = self._probe()
        except BaseException:
            self.client.close()
            raise
        self.dry_run = not why_not
        self.mode = "dry run" if self.dry_run else f"LIMIT 0 ({why_not})"
        self.where = f"bigquery {self.project}.{self.dataset}" + (f" at {endpoint}" if endpoint else "")
        log.debug("lookml check on %s: %s", self.where, self.mode)

    def _fail(self, exc: BaseException, doing: str) -> NetflixEltError:
        from netflix_elt.warehouse.bigquery import api_failure

        return api_failure(
            exc, doing, project=self.project, dataset=self.dataset, endpoint=self.endpoint, anonymous=self.anonymous
        )

    def _config(self, dry_run: bool) -> Any:
        return self.bigquery.QueryJobConfig(
            dry_run=dry_run, use_query_cache=False, default_dataset=f"{self.project}.{self.dataset}"
        )

    def _probe(self) -> str:
        """ "" when the endpoint does real dry runs (a dry run of a query that fails only when it
        runs passes), else why not."""
        try:
            job = self._run(f"SELECT ERROR('{PROBE}')", True)
        except EngineError as exc:
            log.debug("BigQuery dry run is not a dry run here (%s): using LIMIT 0", exc)
            return "the endpoint executes dry runs" if PROBE in str(exc) else "the endpoint refuses dry runs"
        return "" if getattr(job, "dry_run", False) else "the endpoint ignores dry_run"

    def _run(self, sql: str, dry_run: bool) -> Any:
        from netflix_elt.bi.bigquery import _api_message, _failure_kind

        try:
            job = self.client.query(
                sql, job_config=self._config(dry_run), retry=self.retry, job_retry=None, timeout=self.timeout
            )
            return job if dry_run else job.result(retry=self.retry, timeout=self.timeout)
        except self.api_exceptions.GoogleAPICallError as exc:
            if isinstance(exc, self.api_exceptions.Unauthorized | self.api_exceptions.Forbidden):
                raise self._fail(exc, "a query") from exc
            message = str(getattr(exc, "message", None) or exc).split("\n")[0].split("; reason:")[0]
            raise EngineError(_one_line(message)) from None
        except Exception as exc:
            if _failure_kind(exc) is not None:
                raise self._fail(exc, "a query") from exc
            raise EngineError(_api_message(exc)) from None

    def check(self, sql: str) -> dict[str, str]:
        if self.dry_run:
            schema = self._run(sql, True).schema
        else:
            rows = self._run(f"SELECT * FROM ({sql}) AS q LIMIT 0", False)
            list(rows)
            schema = rows.schema
        return {str(f.name): str(f.field_type).upper() for f in schema or []}

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return [dict(r.items()) for r in self._run(sql, False)]

    def close(self) -> None:
        self.client.close()


# -- the assert expressions ----------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:(?P<ref>\$\{\s*\w+(?:\.\w+)?\s*\})|(?P<num>\d+(?:\.\d+)?)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<op><>|!=|<=|>=|=|<|>|\(|\)|,|\+|-|\*|/)|(?P<word>[A-Za-z_]\w*))""",
    re.VERBOSE,
)


class ExpressionError(NetflixEltError):
    """An assert expression this evaluator does not understand."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot read {text[pos : pos + 20]!r} in {text!r}")
        kind = m.lastgroup or ""
        out.append((kind, m[kind]))
        pos = m.end()
    return out


@dataclass
class Expression:
    """A parsed Looker expression: `${view.field}` (or a column's name, `${count}`), numbers,
    strings, yes/no, null, `=`, `!=`/`<>`, `<`, `<=`, `>`, `>=`, `+ - * /`, AND, OR, NOT,
    is_null(), parentheses. No eval()."""

    text: str
    tree: Any = None
    refs: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Expression:
        toks = _tokens(text)
        pos = 0
        refs: list[str] = []

        def peek() -> tuple[str, str] | None:
            return toks[pos] if pos < len(toks) else None

        def take(kind: str | None = None, value: str | None = None) -> tuple[str, str]:
            nonlocal pos
            t = peek()
            if t is None or (kind and t[0] != kind) or (value and t[1].upper() != value):
                raise ExpressionError(
                    f"expected {value or kind} at {' '.join(v for _, v in toks[pos:]) or 'the end'} in {text!r}"
                )
            pos += 1
            return t

        def word(w: str) -> bool:
            t = peek()
            return t is not None and t[0] == "word" and t[1].upper() == w

        def p_or() -> Any:
            node = p_and()
            while word("OR"):
                take()
                node = ("or", node, p_and())
            return node

        def p_and() -> Any:
            node = p_not()
            while word("AND"):
                take()
                node = ("and", node, p_not())
            return node

        def p_not() -> Any:
            if word("NOT"):
                take()
                return ("not", p_not())
            return p_cmp()

        def p_cmp() -> Any:
            node = p_add()
            t = peek()
            if t and t[0] == "op" and t[1] in ("=", "!=", "<>", "<", "<=", ">", ">="):
                take()
                node = ("cmp", "!=" if t[1] == "<>" else t[1], node, p_add())
            return node

        def p_add() -> Any:
            node = p_mul()
            while (t := peek()) and t[0] == "op" and t[1] in "+-":
                take()
                node = ("arith", t[1], node, p_mul())
            return node

        def p_mul() -> Any:
            node = p_unary()
            while (t := peek()) and t[0] == "op" and t[1] in "*/":
                take()
                node = ("arith", t[1], node, p_unary())
            return node

        def p_unary() -> Any:
            t = peek()
            if t and t == ("op", "-"):
                take()
                return ("arith", "-", ("lit", Decimal(0)), p_unary())
            return p_atom()

        def p_atom() -> Any:
            t = peek()
            if t is None:
                raise ExpressionError(f"{text!r} ends too early")
            kind, value = take()
            if kind == "ref":
                ref = value[2:-1].strip()
                refs.append(ref)
                return ("ref", ref)
            if kind == "num":
                return ("lit", Decimal(value))
            if kind == "str":
                return ("lit", re.sub(r"\\(.)", r"\1", value[1:-1]))
            if (kind, value) == ("op", "("):
                node = p_or()
                take("op", ")")
                return node
            if kind == "word":
                w = value.lower()
                if w in ("yes", "true"):
                    return ("lit", True)
                if w in ("no", "false"):
                    return ("lit", False)
                if w == "null":
                    return ("lit", None)
                if w == "is_null":
                    take("op", "(")
                    node = p_or()
                    take("op", ")")
                    return ("is_null", node)
                raise ExpressionError(f"unsupported function or name {value!r} in {text!r}")
            raise ExpressionError(f"unexpected {value!r} in {text!r}")

        tree = p_or()
        if pos != len(toks):
            raise ExpressionError(f"unexpected {toks[pos][1]!r} in {text!r}")
        return cls(text, tree, refs)

    def evaluate(self, values: dict[str, Any]) -> Any:
        return _eval(self.tree, values)

    def holds(self, values: dict[str, Any]) -> bool:
        """Whether the expression is true on a row; ExpressionError when it is not yes/no at all."""
        value = self.evaluate(values)
        if value is not None and not isinstance(value, bool):
            raise ExpressionError(f"{self.text!r} gives {value!r}, not yes/no")
        return value is True


def _value(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, Decimal):
        return v
    if isinstance(v, int | float):
        return Decimal(str(v))
    if v in ("Yes", "No"):  # a yesno dimension's value
        return v == "Yes"
    return v


def _eval(node: Any, values: dict[str, Any]) -> Any:
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "ref":
        if node[1] not in values:
            raise ExpressionError(f"${{{node[1]}}} is not a column of the test's query")
        return _value(values[node[1]])
    if op == "is_null":
        return _eval(node[1], values) is None
    if op == "not":
        v = _eval(node[1], values)
        return None if v is None else not _truth(v)
    if op in ("and", "or"):
        a, b = _truth(_eval(node[1], values)), _truth(_eval(node[2], values))
        return (a and b) if op == "and" else (a or b)
    a, b = _eval(node[2], values), _eval(node[3], values)
    if op == "arith":
        if a is None or b is None:
            return None
        if not isinstance(a, Decimal) or not isinstance(b, Decimal):
            raise ExpressionError(f"{node[1]} needs numbers, got {a!r} and {b!r}")
        if node[1] == "/" and b == 0:
            return None
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[node[1]]
    cmp = node[1]
    if cmp in ("=", "!="):
        equal = a == b
        return equal if cmp == "=" else not equal
    if a is None or b is None:
        return False
    try:
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[cmp]
    except TypeError:
        raise ExpressionError(f"cannot compare {a!r} {cmp} {b!r}") from None


def _truth(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    raise ExpressionError(f"{v!r} is not yes/no")


# -- the check -----------------------------------------------------------------------------------


@dataclass
class CheckResult:
    where: str
    mode: str
    problems: list[str] = field(default_factory=list)
    fields: int = 0  # distinct view.field pairs that ran
    explores: int = 0
    queries: int = 0
    tests: int = 0  # test blocks run
    tests_passed: int = 0
    elements: int = 0  # dashboard elements run
    seconds: float = 0.0


def _datasets(project: lk.Project) -> list[str]:
    """The dataset qualifiers of the views' `sql_table_name`s, most used first."""
    counts: dict[str, int] = {}
    for v in project.views.values():
        name = str(v.raw.get("sql_table_name", "")).replace("`", "").strip()
        parts = name.split(".")
        if len(parts) >= 2:
            counts[parts[-2]] = counts.get(parts[-2], 0) + 1
    return sorted(counts, key=lambda d: -counts[d])


def check_lookml(
    home: Home,
    folder: Path,
    *,
    against: str = "duckdb",
    target: str | None = None,
    endpoint: str | None = None,
    credentials: Path | None = None,
) -> CheckResult:
    """Compile and run every field of every explore, every dashboard element and every `test:`
    of the LookML in `folder` on the home's DuckDB warehouse or on BigQuery `target`
    (PROJECT.DATASET). InputError when there is no LookML to check or the target is bad."""
    if not folder.is_dir() or not any(folder.rglob("*.lkml")):
        raise InputError(f"{folder}: no LookML files; run `netflix-elt lookml` to generate them")
    project = lk.load_project(folder)
    if not project.models:
        if project.problems:
            return CheckResult("", "", list(project.problems))
        raise InputError(f"{folder}: no model file (*.model.lkml); run `netflix-elt lookml` to generate it")
    started = time.monotonic()
    engine: Engine
    if against == "bigquery":
        if not target:
            raise InputError("--against bigquery needs --bigquery PROJECT.DATASET (or NETFLIX_ELT_BQ_PROJECT)")
        engine = BigQueryEngine(target, endpoint=endpoint, credentials=credentials)
    elif against == "duckdb":
        engine = DuckDBEngine(home, _datasets(project))
    else:
        raise InputError(f"--against {against!r}: expected duckdb or bigquery")
    result = CheckResult(engine.where, engine.mode, list(project.problems))
    try:
        seen: set[tuple[str, str]] = set()
        for model in project.models:
            for name in model.explores:
                _check_explore(engine, model, name, result, seen)
            for test in model.tests:
                _run_test(engine, model, test, result)
        _check_dashboards(engine, project, result)
        result.fields = len(seen)
    finally:
        engine.close()
    result.seconds = time.monotonic() - started
    log.debug(
        "lookml check against %s: %d fields of %d explores, %d tests, %d dashboard elements, %d queries, "
        "%d problems in %.2fs (%s)",
        result.where,
        result.fields,
        result.explores,
        result.tests,
        result.elements,
        result.queries,
        len(result.problems),
        result.seconds,
        result.mode,
    )
    return result


NUMERIC_TYPE = re.compile(r"INT|FLOAT|DOUBLE|DECIMAL|NUMERIC|REAL")


def _try(
    engine: Engine, result: CheckResult, compiled: lk.Compiled, fields: Sequence[lk.Field] = (), where: str = ""
) -> str | None:
    """The engine's error for the query, else None; a `type: number` dimension among `fields`
    whose SQL gives no number is a problem too (what the SQL alone would not catch)."""
    result.queries += 1
    try:
        types = engine.check(compiled.sql)
    except EngineError as exc:
        return str(exc)
    for f, column in zip(fields, compiled.columns, strict=False):
        got = types.get(column)
        if f.kind == "dimension" and f.type == "number" and got is not None and not NUMERIC_TYPE.search(got):
            result.problems.append(f"{where}: field {f.ref}: is type: number, but its SQL gives {got}")
    return None


def _check_explore(engine: Engine, model: lk.Model, name: str, result: CheckResult, seen: set[tuple[str, str]]) -> None:
    where = f"{model.file}: explore {name}"
    try:
        ex = lk.explore(model, name)
    except lk.LookmlSqlError as exc:
        result.problems.append(str(exc))
        return
    result.explores += 1
    fields = list(lk.iter_fields(ex))
    d = engine.dialect

    def compile_or_note(what: str, build: Callable[[], lk.Compiled]) -> lk.Compiled | None:
        try:
            return build()
        except lk.LookmlSqlError as exc:
            result.problems.append(f"{where}: {what}: {exc}")
            return None

    refs = [f.ref for f in fields]
    everything = compile_or_note("all fields", lambda: lk.compile_query(ex, refs, d, joins=list(ex.joins), exact=False))
    if everything is not None and _try(engine, result, everything, fields, where) is None:
        seen.update((ex.aliases[f.view].name, f.name) for f in fields)
        return
    # Something fails: the base view alone, each join alone, then field by field.
    base = ex.aliases[ex.base]
    compiled = compile_or_note(f"view {base.name}", lambda: lk.compile_query(ex, [], d, joins=[]))
    if compiled is None:
        return
    error = _try(engine, result, compiled)
    if error:
        result.problems.append(f"{where}: view {base.name} ({_source(base)}): {error}")
        return
    broken: set[str] = set()
    for j in ex.joins:
        # The join with the joins its sql_on needs (in explore order, up to itself).
        order = list(ex.joins)
        needs = [x for x in order[: order.index(j) + 1] if x == j or x in _join_deps(ex, j)]
        compiled = compile_or_note(f"join {j}", functools.partial(lk.compile_query, ex, [], d, joins=needs))
        if compiled is None:
            broken.add(j)
            continue
        error = _try(engine, result, compiled)
        if error:
            view = ex.aliases[j]
            result.problems.append(f"{where}: join {j} (view {view.name}, {_source(view)}): {error}")
            broken.add(j)
    for alias in ex.aliases:
        if alias in broken:
            continue  # named once, as its join
        mine = [f for f in fields if f.view == alias]
        # All of a view's fields in one query, then (if it fails) one by one.
        try:
            whole = lk.compile_query(ex, [f.ref for f in mine], d, exact=False)
        except lk.LookmlSqlError:
            whole = None
        if whole is not None and not broken & set(whole.joins) and _try(engine, result, whole, mine, where) is None:
            seen.update((ex.aliases[alias].name, f.name) for f in mine)
            continue
        for f in mine:
            label = f"field {f.ref}"
            compiled = compile_or_note(label, functools.partial(lk.compile_query, ex, [f.ref], d, exact=False))
            if compiled is None or broken & set(compiled.joins):
                continue  # a join it needs is named already
            error = _try(engine, result, compiled, [f], where)
            if error:
                result.problems.append(f"{where}: {label}: {error}")
            else:
                seen.add((ex.aliases[alias].name, f.name))


def _join_deps(ex: lk.Explore, j: str) -> set[str]:
    out: set[str] = set()
    todo = [j]
    while todo:
        cur = todo.pop()
        for a, b in lk.REF.findall(str(ex.joins[cur].get("sql_on", ""))):
            if b and a in ex.joins and a not in out and a != j:
                out.add(a)
                todo.append(a)
    return out


def _source(view: lk.View) -> str:
    if "sql_table_name" in view.raw:
        return f"sql_table_name {str(view.raw['sql_table_name']).strip()}"
    return "derived_table" if "derived_table" in view.raw else f"table {view.name}"


def _run_test(engine: Engine, model: lk.Model, test: dict[str, Any], result: CheckResult) -> None:
    name = str(test.get("name"))
    where = f"{model.file}: test {name}"
    result.tests += 1
    source = test.get("explore_source") or {}
    try:
        ex = lk.explore(model, str(source.get("name")))
        columns = [(str(c["name"]), str(c["field"])) for c in source.get("columns", [])]
        if not columns:
            raise lk.LookmlSqlError("its explore_source has no column")
        asserts = [
            (str(a.get("name")), Expression.parse(str(a.get("expression", "")))) for a in test.get("asserts", [])
        ]
        if not asserts:
            raise lk.LookmlSqlError("it has no assert")
        limit = int(source["limit"]) if "limit" in source else None
        compiled = lk.compile_query(
            ex, [f for _, f in columns], engine.dialect, filters=lk.filters_of(source), limit=limit
        )
    except (lk.LookmlSqlError, ExpressionError, ValueError) as exc:
        result.problems.append(f"{where}: {exc}")
        return
    result.queries += 1
    try:
        rows = engine.rows(compiled.sql)
    except EngineError as exc:
        result.problems.append(f"{where}: its query fails: {exc}")
        return
    # A row's values by `view.field` (what the expressions name) and by the column's name.
    keyed = []
    for row in rows:
        values: dict[str, Any] = {}
        for (cname, ref), col in zip(columns, compiled.columns, strict=True):
            v = row.get(col)
            values[ref] = v
            values[cname] = v
        keyed.append(values)
    failed = False
    for aname, expr in asserts:
        if not keyed:
            result.problems.append(f"{where}: assert {aname} ({expr.text}): the query returned no rows")
            failed = True
            continue
        bad: list[str] = []
        try:
            for values in keyed:
                if not expr.holds(values):
                    bad.append(", ".join(f"{r} = {values.get(r)!r}" for r in dict.fromkeys(expr.refs)))
        except ExpressionError as exc:
            result.problems.append(f"{where}: assert {aname}: {exc}")
            failed = True
            continue
        if bad:
            more = f" (and {len(bad) - 3} more rows)" if len(bad) > 3 else ""
            result.problems.append(
                f"{where}: assert {aname} ({expr.text}) is false for {len(bad)} of {len(keyed)} row(s): "
                + "; ".join(bad[:3])
                + more
            )
            failed = True
    if not failed:
        result.tests_passed += 1


def _check_dashboards(engine: Engine, project: lk.Project, result: CheckResult) -> None:
    import yaml

    models = {m.name: m for m in project.models}

    for path in sorted(project.folder.glob("*.dashboard.lookml")):
        rel = str(Path(project.folder.name) / path.name)
        try:
            dashboards = yaml.safe_load(path.read_text(encoding="utf-8").replace("\t", "  "))
        except yaml.YAMLError as exc:
            result.problems.append(f"{rel}: does not parse ({_one_line(str(exc), 200)})")
            continue
        for dash in dashboards if isinstance(dashboards, list) else []:
            defaults = {str(f.get("name")): f for f in dash.get("filters", []) or []}
            for el in dash.get("elements", []) or []:
                if "explore" not in el:
                    continue  # a text tile
                name = str(el.get("model") or next(iter(models)))
                if name not in models:
                    result.problems.append(
                        f"{rel}: element {el.get('name')}: model {name} is not in {project.folder.name}/"
                    )
                    continue
                _check_element(engine, models[name], rel, el, defaults, result)


def _check_element(
    engine: Engine, model: lk.Model, rel: str, el: dict[str, Any], defaults: dict[str, Any], result: CheckResult
) -> None:
    where = f"{rel}: element {el.get('name')}"
    try:
        ex = lk.explore(model, str(el["explore"]))
    except lk.LookmlSqlError as exc:
        result.problems.append(f"{where}: {exc}")
        return
    refs = [str(r) for r in el.get("fields", []) or []]
    filters = [(str(k), str(v)) for k, v in (el.get("filters") or {}).items()]
    for name, target in (el.get("listen") or {}).items():
        default = (defaults.get(str(name)) or {}).get("default_value")
        if default not in (None, ""):
            filters.append((str(target), str(default)))
    listens = [str(t) for t in (el.get("listen") or {}).values()]  # checked even with no default value
    sorts = [str(s).split()[0] for s in el.get("sorts", []) or [] if str(s).split()]
    named = [*refs, *(t for t, _ in filters), *listens, *sorts]
    missing = False
    for ref in dict.fromkeys(named):
        view, _, fname = ref.rpartition(".")
        if view not in ex.aliases or fname not in ex.aliases[view].fields:
            result.problems.append(f"{where}: uses {ref}, which is not a field of explore {ex.name}")
            missing = True
    if missing:
        return
    result.elements += 1
    try:
        compiled = lk.compile_query(ex, refs, engine.dialect, filters=filters, exact=False)
    except lk.LookmlSqlError as exc:
        result.problems.append(f"{where}: {exc}")
        return
    error = _try(engine, result, compiled)
    if error:
        result.problems.append(f"{where}: its query fails: {error}")
