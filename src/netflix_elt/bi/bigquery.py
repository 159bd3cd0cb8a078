"""Loading the exports (`<home>/exports/`, see `netflix_elt.bi.exports`) into BigQuery.

`netflix-elt export --bigquery PROJECT.DATASET [--endpoint URL] [--credentials FILE]` calls
`load_exports`. It uses the official `google-cloud-bigquery` client, an optional extra
(`pip install 'netflix-elt[bigquery]'`), imported inside the function so the CLI starts fast.

For every table it loads (`netflix-elt export --bigquery`: the dbt project's `bigquery` exposure,
BIGQUERY_TABLES; `load_exports` alone: every table of the manifest): the Parquet file's sha256 is
checked against the manifest (all files before any load), then one load job from the Parquet
file with an explicit schema in the table's column order and WRITE_TRUNCATE (a re-run replaces,
never doubles), then one `select count(*)` to verify the row count.

Credentials come only from a service-account JSON file (`credentials`) or the environment
(GOOGLE_APPLICATION_CREDENTIALS / application-default credentials); with an `endpoint` (an
emulator) and no file, anonymous credentials. They are never logged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from netflix_elt.core.errors import InputError, NetflixEltError, PipelineError
from netflix_elt.core.files import file_sha256
from netflix_elt.transform import registry
from netflix_elt.warehouse.bigquery import (  # shared plumbing, re-exported for callers of bi.bigquery
    API_RETRY_DEADLINE_S,
    CONNECT_DEADLINE_S,
    INSTALL_HINT,
    JOB_TIMEOUT_S,
    REQUEST_TIMEOUT_S,
    _api_message,
    _credentials,
    _failure_kind,
    api_failure,
    bigquery_type,
)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# What `netflix-elt export --bigquery` loads, in this order: the `bigquery` exposure of the dbt
# project (models/exposures.yml).
BIGQUERY_TABLES = registry.exposure_models("bigquery")

# PROJECT.DATASET. A project id is 6-30 lowercase letters, digits and hyphens (optionally behind a
# `domain.com:` prefix); a dataset name is letters, digits and underscores.
_TARGET_RE = re.compile(
    r"^(?P<project>(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9])\.(?P<dataset>[A-Za-z0-9_]{1,1024})$"
)
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")


@dataclass(frozen=True)
class LoadedTable:
    table: str
    rows_expected: int
    rows_loaded: int
    rows_verified: int


@dataclass(frozen=True)
class _Planned:
    table: str
    rows: int
    parquet: Path
    schema: list[tuple[str, str]]  # (column, BigQuery type) in table order


def parse_target(target: str) -> tuple[str, str]:
    """`PROJECT.DATASET` -> (project, dataset); InputError on any other form."""
    m = _TARGET_RE.match(target.strip()) if isinstance(target, str) else None
    if m is None:
        raise InputError(
            f"--bigquery {target!r}: expected PROJECT.DATASET (e.g. my-project.netflix), "
            "a GCP project id and a dataset name of letters, digits and underscores"
        )
    return m["project"], m["dataset"]


def _plan(exports_dir: Path, only: Sequence[str] | None = None) -> list[_Planned]:
    """Read and check the manifest and every Parquet file it names (sha256) before any load; with
    `only`, just those tables, in that order, each of which the manifest must list."""
    manifest_path = exports_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{manifest_path}: no export manifest; run `netflix-elt export` first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{manifest_path}: not a readable export manifest ({exc})") from None
    tables = manifest.get("tables") if isinstance(manifest, dict) else None
    if not isinstance(tables, list):
        raise InputError(f"{manifest_path}: no `tables` list; re-run `netflix-elt export`")
    if only is not None:
        listed = {str(e.get("table")): e for e in tables if isinstance(e, dict)}
        absent = [t for t in only if t not in listed]
        if absent:
            raise InputError(f"{manifest_path}: no table {absent[0]} to load; re-run `netflix-elt export`")
        tables = [listed[t] for t in only]
    planned: list[_Planned] = []
    for entry in tables:
        try:
            table = str(entry["table"])
            rows = int(entry["rows"])
            columns = [(str(c["name"]), str(c["type"])) for c in entry["columns"]]
            file_name = str(entry["files"]["parquet"])
            digest = str(entry["sha256"]["parquet"]).lower()
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{manifest_path}: malformed table entry ({exc!r}); re-run `netflix-elt export`") from None
        if not _TABLE_RE.match(table):
            raise InputError(f"{manifest_path}: table name {table!r} is not a valid BigQuery table name")
        if not columns:
            raise InputError(f"{manifest_path}: table {table} has no columns")
        parquet = exports_dir / file_name
        if Path(file_name).name != file_name:
            raise InputError(f"{manifest_path}: table {table}: file {file_name!r} is not a file of {exports_dir}")
        if not parquet.is_file():
            raise InputError(f"{parquet}: missing (listed in {manifest_path}); re-run `netflix-elt export`")
        actual = file_sha256(parquet)
        if actual != digest:
            raise InputError(
                f"{parquet}: sha256 {actual} does not match the manifest's {digest}; "
                "the file changed after export: re-run `netflix-elt export`"
            )
        schema = [(name, bigquery_type(ctype, where=f"{table}.{name}")) for name, ctype in columns]
        in_file = _parquet_columns(parquet)
        if in_file != [name for name, _ in columns]:
            # BigQuery matches Parquet columns by name, some emulators by position: both must agree.
            raise InputError(
                f"{parquet}: columns {in_file} differ from the manifest's {[n for n, _ in columns]}; "
                "re-run `netflix-elt export`"
            )
        planned.append(_Planned(table, rows, parquet, schema))
    return planned


def _parquet_columns(path: Path) -> list[str]:
    import duckdb

    con = duckdb.connect()
    try:
        return [d[0] for d in con.execute("select * from read_parquet(?) limit 0", [str(path)]).description]
    except duckdb.Error as exc:
        raise InputError(f"{path}: not a readable Parquet file ({' '.join(str(exc).split())[:200]})") from None
    finally:
        con.close()


def load_exports(
    exports_dir: Path,
    target: str,
    *,
    endpoint: str | None = None,
    credentials: Path | None = None,
    tables: Sequence[str] | None = None,
) -> list[LoadedTable]:
    """Load the tables of `exports_dir/manifest.json` into BigQuery `target` (PROJECT.DATASET):
    `tables` in that order (BIGQUERY_TABLES for `netflix-elt export --bigquery`), each of which
    the manifest must list, or by default every table of the manifest."""
    project, dataset = parse_target(target)
    try:
        from google.api_core import exceptions as api_exceptions
        from google.api_core.client_options import ClientOptions
        from google.cloud import bigquery
    except ImportError:
        raise InputError(f"BigQuery support is not installed: {INSTALL_HINT}") from None

    exports_dir = Path(exports_dir)
    planned = _plan(exports_dir, tables)
    creds, creds_source = _credentials(credentials, endpoint)
    anonymous = credentials is None and bool(endpoint)
    where = endpoint or "the BigQuery API"
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    client = bigquery.Client(project=project, credentials=creds, client_options=options)
    connect_retry = bigquery.DEFAULT_RETRY.with_timeout(CONNECT_DEADLINE_S)
    api_retry = bigquery.DEFAULT_RETRY.with_timeout(API_RETRY_DEADLINE_S)
    log.info("BigQuery: loading %d table(s) into %s.%s via %s, %s", len(planned), project, dataset, where, creds_source)

    def fail(exc: BaseException, doing: str) -> NetflixEltError:
        return api_failure(exc, doing, project=project, dataset=dataset, endpoint=endpoint, anonymous=anonymous)

    try:
        try:
            ds = client.get_dataset(f"{project}.{dataset}", retry=connect_retry, timeout=REQUEST_TIMEOUT_S)
        except api_exceptions.NotFound:
            raise InputError(
                f"dataset {project}.{dataset} does not exist; create it with `bq mk {project}:{dataset}`"
            ) from None
        except NetflixEltError:
            raise
        except Exception as exc:
            raise fail(exc, "opening the dataset") from exc
        location = ds.location

        loaded: list[LoadedTable] = []
        for item in planned:
            table_id = f"{project}.{dataset}.{item.table}"
            config = bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.PARQUET,
                write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
                create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
                schema=[bigquery.SchemaField(name, bq_type, mode="NULLABLE") for name, bq_type in item.schema],
            )
            try:
                with item.parquet.open("rb") as fh:
                    job = client.load_table_from_file(
                        fh, table_id, job_config=config, location=location, timeout=JOB_TIMEOUT_S
                    )
                job.result(retry=api_retry, timeout=JOB_TIMEOUT_S)
            except Exception as exc:
                raise fail(exc, f"load of {item.parquet.name} into {table_id}") from exc
            rows_loaded = int(job.output_rows or 0)

            sql = f"select count(*) as n from `{project}.{dataset}.{item.table}`"
            try:
                query = client.query(sql, location=location, retry=api_retry, job_retry=None, timeout=REQUEST_TIMEOUT_S)
                result = list(query.result(retry=api_retry, timeout=JOB_TIMEOUT_S))
            except Exception as exc:
                raise fail(exc, f"row count of {table_id}") from exc
            rows_verified = int(result[0][0]) if result else -1
            done = LoadedTable(item.table, item.rows, rows_loaded, rows_verified)
            if not (rows_loaded == rows_verified == item.rows):
                raise PipelineError(
                    f"BigQuery table {table_id}: {rows_verified} rows after loading {rows_loaded}, "
                    f"expected {item.rows} (manifest); the load is not trustworthy: re-run"
                )
            log.info("BigQuery: %s: %d rows loaded and verified", table_id, rows_verified)
            loaded.append(done)
        return loaded
    finally:
        client.close()


__all__ = [
    "API_RETRY_DEADLINE_S",
    "BIGQUERY_TABLES",
    "CONNECT_DEADLINE_S",
    "INSTALL_HINT",
    "JOB_TIMEOUT_S",
    "MANIFEST",
    "REQUEST_TIMEOUT_S",
    "LoadedTable",
    "_api_message",
    "_credentials",
    "_failure_kind",
    "bigquery_type",
    "load_exports",
    "parse_target",
]
