"""The BigQuery client plumbing shared by the BigQuery engine (loading the raw batch and the ledger,
reading the models: `netflix_elt.warehouse.engine`) and the exports loader
(`netflix_elt.bi.bigquery`): credentials, client construction, failure mapping, DuckDB -> BigQuery
type mapping, and the idempotent loads of a run on BigQuery. google-cloud-bigquery is an optional
extra, imported inside the functions. Credentials are never logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netflix_elt.core.errors import InputError, NetflixEltError, PipelineError

if TYPE_CHECKING:
    from netflix_elt.warehouse.target import BigQueryTarget

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'netflix-elt[bigquery]'"

# How long to try reaching the API at all (connection refused, DNS...) before giving up, and the
# per-request timeout of the small calls. The load and query jobs get longer ones.
CONNECT_DEADLINE_S = 5.0
REQUEST_TIMEOUT_S = 30.0
JOB_TIMEOUT_S = 900.0
API_RETRY_DEADLINE_S = 60.0

_DECIMAL_RE = re.compile(r"^(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")

# DuckDB type name -> BigQuery type, for the types a DuckDB `COPY ... (FORMAT parquet)` writes in a
# form a BigQuery Parquet load accepts.
_SIMPLE_TYPES = {
    "VARCHAR": "STRING",
    "TEXT": "STRING",
    "STRING": "STRING",
    "BIGINT": "INT64",
    "INTEGER": "INT64",
    "SMALLINT": "INT64",
    "TINYINT": "INT64",
    "UINTEGER": "INT64",
    "USMALLINT": "INT64",
    "UTINYINT": "INT64",
    "DOUBLE": "FLOAT64",
    "FLOAT": "FLOAT64",
    "REAL": "FLOAT64",
    "BOOLEAN": "BOOL",
    "DATE": "DATE",
    "TIME": "TIME",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMP",
    "TIMESTAMP": "DATETIME",  # no time zone: a civil date-time
    "JSON": "JSON",
    "BLOB": "BYTES",
    # DuckDB writes HUGEINT (what sum() of integers gives) to Parquet as DOUBLE; BigQuery can only
    # load a Parquet DOUBLE as FLOAT64.
    "HUGEINT": "FLOAT64",
}


def bigquery_type(duckdb_type: str, *, where: str = "") -> str:
    """The BigQuery type a Parquet column of DuckDB type `duckdb_type` loads into."""
    name = " ".join(str(duckdb_type).upper().split())
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    m = _DECIMAL_RE.match(name)
    if m:
        precision, scale = int(m[1]), int(m[2])
        # NUMERIC holds 29 integer and 9 fractional digits; anything wider needs BIGNUMERIC.
        return "NUMERIC" if scale <= 9 and precision - scale <= 29 else "BIGNUMERIC"
    raise InputError(f"{where or 'column'}: DuckDB type {duckdb_type!r} has no BigQuery mapping for a Parquet load")


def _credentials(credentials: Path | None, endpoint: str | None) -> tuple[Any, str]:
    """(google credentials, where they came from). The credentials themselves are never logged."""
    import google.auth
    from google.auth import exceptions as auth_exceptions
    from google.auth.credentials import AnonymousCredentials
    from google.oauth2 import service_account

    scopes = ["https://www.googleapis.com/auth/bigquery"]
    if credentials is not None:
        path = Path(credentials).expanduser()
        if not path.is_file():
            raise InputError(f"--credentials {path}: no such file (a service-account JSON key)")
        try:
            creds = service_account.Credentials.from_service_account_file(str(path), scopes=scopes)
        except (ValueError, KeyError, OSError, json.JSONDecodeError) as exc:
            # The message may quote the file: name the problem, not the content.
            raise InputError(f"--credentials {path}: not a service-account JSON key ({type(exc).__name__})") from None
        return creds, "service-account file"
    if endpoint:
        return AnonymousCredentials(), "anonymous (endpoint given, no credentials file)"
    try:
        creds, _ = google.auth.default(scopes=scopes)
    except auth_exceptions.DefaultCredentialsError:
        raise InputError(
            "no BigQuery credentials: pass --credentials FILE (a service-account JSON key), set "
            "GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`"
        ) from None
    return creds, "application-default credentials"


def _failure_kind(exc: BaseException) -> str | None:
    """What went wrong, however the client library wrapped it: 'refused' (the token endpoint
    refused the credentials), 'token' (it could not be reached), 'connection' (the API could not be
    reached: refused, DNS, timeout), else None."""
    import requests
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, auth_exceptions.RefreshError):
            return "refused"
        if isinstance(e, auth_exceptions.TransportError):
            return "token"
        if isinstance(e, requests.exceptions.ConnectionError | requests.exceptions.Timeout | ConnectionError):
            return "connection"
        if isinstance(e, api_exceptions.RetryError) and e.cause is not None:
            e = e.cause
            continue
        e = e.__cause__ or e.__context__
    return None


def _api_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:300]


def make_client(bq: BigQueryTarget) -> tuple[Any, Any]:
    """(google.cloud.bigquery.Client, the bigquery module) for `bq`: oauth-secrets uses the token,
    service-account the key file, oauth the application-default credentials (anonymous when an
    endpoint is given and nothing else is)."""
    try:
        from google.api_core.client_options import ClientOptions
        from google.cloud import bigquery
    except ImportError:
        raise InputError(f"BigQuery support is not installed: {INSTALL_HINT}") from None
    if bq.method == "oauth-secrets" and bq.token:
        from google.oauth2.credentials import Credentials

        creds: Any = Credentials(token=bq.token)
    else:
        keyfile = Path(bq.keyfile) if bq.method == "service-account" and bq.keyfile else None
        creds, _ = _credentials(keyfile, bq.api_endpoint)
    options = ClientOptions(api_endpoint=bq.api_endpoint) if bq.api_endpoint else None
    client = bigquery.Client(project=bq.project, credentials=creds, client_options=options, location=bq.location)
    return client, bigquery


def api_failure(
    exc: BaseException,
    doing: str,
    *,
    project: str,
    dataset: str,
    endpoint: str | None,
    endpoint_hint: str = "check --endpoint",
    anonymous: bool = False,
) -> NetflixEltError:
    """The one error for a failed BigQuery call, whoever made it (the run, `export --bigquery`,
    `lookml --check`): unreachable (PipelineError, exit 1), credentials or access refused
    (InputError, exit 2), anything else (PipelineError). Never quotes a credential."""
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    where = endpoint or "the BigQuery API"
    kind = _failure_kind(exc)
    if kind == "connection":
        hint = endpoint_hint if endpoint else "check the network"
        return PipelineError(f"cannot reach BigQuery at {where} ({doing}): connection failed; {hint}")
    if kind == "token":
        return PipelineError(
            f"cannot get a BigQuery access token ({doing}): the token endpoint is unreachable; check the network"
        )
    if kind == "refused" or isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return InputError(f"BigQuery credentials were refused ({doing}): {_api_message(exc)}")
    if isinstance(exc, api_exceptions.Unauthorized | api_exceptions.Forbidden):
        hint = "; with --endpoint and no --credentials the requests are anonymous" if anonymous else ""
        return InputError(f"BigQuery refused access to {project}.{dataset} ({doing}): {_api_message(exc)}{hint}")
    return PipelineError(f"BigQuery {doing} failed: {_api_message(exc)}")


def failure(bq: BigQueryTarget, exc: BaseException, doing: str) -> NetflixEltError:
    """The pipeline error for a failed BigQuery call on the home's target."""
    return api_failure(
        exc,
        doing,
        project=bq.project,
        dataset=bq.dataset,
        endpoint=bq.api_endpoint,
        endpoint_hint="check NETFLIX_ELT_BQ_API_ENDPOINT",
    )


class BigQuerySession:
    """One client on the target's dataset: queries with parameters, Parquet load jobs."""

    def __init__(self, bq: BigQueryTarget) -> None:
        self.bq = bq
        self.client, self.module = make_client(bq)
        self.api_retry = self.module.DEFAULT_RETRY.with_timeout(API_RETRY_DEADLINE_S)

    def __enter__(self) -> BigQuerySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def table_id(self, table: str) -> str:
        return f"{self.bq.project}.{self.bq.dataset}.{table}"

    def ensure_dataset(self) -> None:
        try:
            self.client.create_dataset(
                f"{self.bq.project}.{self.bq.dataset}",
                exists_ok=True,
                retry=self.module.DEFAULT_RETRY.with_timeout(CONNECT_DEADLINE_S),
                timeout=REQUEST_TIMEOUT_S,
            )
        except NetflixEltError:
            raise
        except Exception as exc:
            raise failure(self.bq, exc, f"opening the dataset {self.bq.project}.{self.bq.dataset}") from exc

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        bigquery = self.module
        config = None
        if params:
            config = bigquery.QueryJobConfig(
                query_parameters=[bigquery.ScalarQueryParameter(k, _param_type(v), v) for k, v in params.items()]
            )
        try:
            job = self.client.query(sql, job_config=config, retry=self.api_retry, timeout=REQUEST_TIMEOUT_S)
            return [tuple(r.values()) for r in job.result(retry=self.api_retry, timeout=JOB_TIMEOUT_S)]
        except Exception as exc:
            raise failure(self.bq, exc, f"query {' '.join(sql.split())[:80]}") from exc

    def exists(self, table: str) -> bool:
        from google.api_core import exceptions as api_exceptions

        try:
            self.client.get_table(self.table_id(table), retry=self.api_retry, timeout=REQUEST_TIMEOUT_S)
        except api_exceptions.NotFound:
            return False
        except Exception as exc:
            raise failure(self.bq, exc, f"looking up {table}") from exc
        return True

    def load_parquet(self, parquet: Path, table: str, schema: list[tuple[str, str]]) -> int:
        """One load job, WRITE_TRUNCATE, explicit schema; the rows it loaded."""
        bigquery = self.module
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
            schema=[bigquery.SchemaField(name, bq_type, mode="NULLABLE") for name, bq_type in schema],
        )
        try:
            with parquet.open("rb") as fh:
                job = self.client.load_table_from_file(
                    fh, self.table_id(table), job_config=config, timeout=JOB_TIMEOUT_S
                )
            job.result(retry=self.api_retry, timeout=JOB_TIMEOUT_S)
        except Exception as exc:
            raise failure(self.bq, exc, f"load of {parquet.name} into {self.table_id(table)}") from exc
        return int(job.output_rows or 0)

    def drop_dataset(self) -> None:
        """Delete the dataset and every table in it (nothing when it does not exist)."""
        try:
            self.client.delete_dataset(
                f"{self.bq.project}.{self.bq.dataset}",
                delete_contents=True,
                not_found_ok=True,
                retry=self.api_retry,
                timeout=REQUEST_TIMEOUT_S,
            )
        except Exception as exc:
            raise failure(self.bq, exc, f"dropping the dataset {self.bq.project}.{self.bq.dataset}") from exc

    def tables(self) -> list[tuple[str, str]]:
        """(name, type) of every table and view in the dataset, by name: type TABLE or VIEW."""
        try:
            found = self.client.list_tables(
                f"{self.bq.project}.{self.bq.dataset}", retry=self.api_retry, timeout=REQUEST_TIMEOUT_S
            )
            return sorted((str(t.table_id), str(t.table_type)) for t in found)
        except Exception as exc:
            raise failure(self.bq, exc, f"listing the tables of {self.bq.project}.{self.bq.dataset}") from exc

    def to_arrow(self, table: str) -> Any:
        try:
            rows = self.client.query(f"select * from `{self.table_id(table)}`").result()
            # The Storage Read API when its client is installed (faster for big tables); without
            # it the REST endpoint, and no warning that says so on every table.
            return rows.to_arrow(create_bqstorage_client=_has_bqstorage())
        except Exception as exc:
            raise failure(self.bq, exc, f"reading {table}") from exc


def _has_bqstorage() -> bool:
    import importlib.util

    return importlib.util.find_spec("google.cloud.bigquery_storage") is not None


def _param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    return "STRING"


def _duck_schema(con: Any, table: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns where table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return [(str(n), bigquery_type(str(t), where=f"{table}.{n}")) for n, t in rows]


def load_sources(bq: BigQueryTarget, con: Any, batch_id: str, tmp_dir: Path) -> dict[str, int]:
    """Before dbt builds batch `batch_id` on BigQuery: its raw rows and the ledger, from the local
    DuckDB warehouse (`con`), into the dataset the dbt sources point at, with load jobs.
    Idempotent by batch: the batch goes to `_load_<batch>` (WRITE_TRUNCATE), then its rows in
    raw_netflix_titles are replaced (delete, insert from the load table) and the count checked;
    the ledger is WRITE_TRUNCATE. A retried or killed run never duplicates a batch."""
    from netflix_elt.warehouse.ledger import LEDGER_TABLE, RAW_TABLE

    tmp_dir.mkdir(parents=True, exist_ok=True)
    load_table = "_load_" + re.sub(r"[^A-Za-z0-9_]", "_", batch_id)
    raw_schema = _duck_schema(con, RAW_TABLE)
    ledger_schema = _duck_schema(con, LEDGER_TABLE)
    raw_file, ledger_file = tmp_dir / f"{load_table}.parquet", tmp_dir / "_load_ledger.parquet"
    con.execute(f"copy (select * from {RAW_TABLE} where _batch_id = $1) to '{raw_file}' (format parquet)", [batch_id])
    con.execute(f"copy (select * from {LEDGER_TABLE}) to '{ledger_file}' (format parquet)")
    (expected,) = con.execute(f"select count(*) from {RAW_TABLE} where _batch_id = ?", [batch_id]).fetchone()
    try:
        with BigQuerySession(bq) as s:
            s.ensure_dataset()
            loaded = s.load_parquet(raw_file, load_table, raw_schema)
            if loaded != expected:
                raise PipelineError(f"BigQuery load of batch {batch_id}: {loaded} rows loaded, expected {expected}")
            raw = s.table_id(RAW_TABLE)
            if not s.exists(RAW_TABLE):
                s.query(f"create table `{raw}` as select * from `{s.table_id(load_table)}` where false")
            columns = ", ".join(f"`{n}`" for n, _ in raw_schema)
            s.query(f"delete from `{raw}` where _batch_id = @b", {"b": batch_id})
            s.query(f"insert into `{raw}` ({columns}) select {columns} from `{s.table_id(load_table)}`")
            (n,) = s.query(f"select count(*) from `{raw}` where _batch_id = @b", {"b": batch_id})[0]
            if int(n) != expected:
                raise PipelineError(f"BigQuery {raw}: batch {batch_id} has {n} rows, expected {expected}")
            s.client.delete_table(s.table_id(load_table), not_found_ok=True)
            ledger_rows = s.load_parquet(ledger_file, LEDGER_TABLE, ledger_schema)
    finally:
        raw_file.unlink(missing_ok=True)
        ledger_file.unlink(missing_ok=True)
    log.info(
        "BigQuery: batch %s: %d raw rows and %d ledger rows loaded into %s", batch_id, expected, ledger_rows, bq.where
    )
    return {"raw": int(expected), "ledger": ledger_rows}


REPLAY_SUFFIX = "__replay"


def replay_target(bq: BigQueryTarget) -> BigQueryTarget:
    """The scratch dataset a replay of the raw layer (rebuild, a late drop) builds in, beside the
    live one, so the live dataset is untouched until the replay is complete."""
    return dataclasses.replace(bq, dataset=f"{bq.dataset}{REPLAY_SUFFIX}")


def reset_dataset(bq: BigQueryTarget) -> None:
    """An empty dataset `bq` (what a killed replay left in it is dropped first)."""
    with BigQuerySession(bq) as s:
        s.drop_dataset()
        s.ensure_dataset()


def drop_dataset(bq: BigQueryTarget) -> None:
    with BigQuerySession(bq) as s:
        s.drop_dataset()


def swap_in_dataset(replayed: BigQueryTarget, live: BigQueryTarget) -> list[str]:
    """Make the live dataset's tables what the replay built: each table copied over its live
    namesake (one copy job each, WRITE_TRUNCATE: the copy replaces the table at once, schema,
    rows and description). Load tables a killed run left in the live dataset are dropped; live
    tables the replay did not build are left alone. Views are not copied (a copy job takes tables
    only, and a view names its dataset): the caller has dbt create them again in the live
    dataset. Not atomic across tables: the caller marks the replay pending until it is done, and
    a run finding the mark replays again. Returns the tables copied."""
    with BigQuerySession(replayed) as built:
        items = built.tables()
    copied = [name for name, kind in items if kind == "TABLE" and not name.startswith("_load_")]
    with BigQuerySession(live) as s:
        s.ensure_dataset()
        bigquery = s.module
        copy_config = bigquery.CopyJobConfig(write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)
        for name in copied:
            try:
                job = s.client.copy_table(
                    f"{replayed.project}.{replayed.dataset}.{name}",
                    s.table_id(name),
                    job_config=copy_config,
                    retry=s.api_retry,
                )
                job.result(retry=s.api_retry, timeout=JOB_TIMEOUT_S)
            except Exception as exc:
                raise failure(live, exc, f"copying the replayed {name} into {live.dataset}") from exc
        for name, kind in s.tables():
            if kind == "TABLE" and name.startswith("_load_"):
                s.client.delete_table(s.table_id(name), not_found_ok=True)
    log.info("BigQuery: %d replayed table(s) copied into %s", len(copied), live.where)
    return copied
