"""Where the models live: the local DuckDB warehouse (the default) or a BigQuery dataset.

`netflix-elt run --target bigquery` (or NETFLIX_ELT_DBT_TARGET=bigquery) builds the dbt models in
BigQuery; the settings are the ones the dbt profile reads (NETFLIX_ELT_BQ_*, see
dbt_project/profiles.yml), read once from the environment into a `BigQueryTarget`, which gives
both dbt's environment (`dbt_env`) and the google client's parameters. The home remembers which
engine its models live in (`<home>/engine.json`: the target, project, dataset and endpoint, never
a credential), so later commands in the same home use it without flags.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from netflix_elt.core.errors import InputError
from netflix_elt.core.files import write_json_atomic
from netflix_elt.core.home import Home

log = logging.getLogger(__name__)

TARGET_ENV = "NETFLIX_ELT_DBT_TARGET"
TARGETS = ("duckdb", "bigquery")
ENGINE_FILE = "engine.json"
PROJECT_ENV = "NETFLIX_ELT_BQ_PROJECT"
DATASET_ENV = "NETFLIX_ELT_BQ_DATASET"
METHOD_ENV = "NETFLIX_ELT_BQ_METHOD"
KEYFILE_ENV = "NETFLIX_ELT_BQ_KEYFILE"
TOKEN_ENV = "NETFLIX_ELT_BQ_TOKEN"
LOCATION_ENV = "NETFLIX_ELT_BQ_LOCATION"
ENDPOINT_ENV = "NETFLIX_ELT_BQ_API_ENDPOINT"
DEFAULT_DATASET = "netflix_elt"
METHODS = ("oauth", "service-account", "oauth-secrets")
_PROJECT_RE = re.compile(r"^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_DATASET_RE = re.compile(r"^[A-Za-z0-9_]{1,1024}$")


@dataclass(frozen=True)
class BigQueryTarget:
    """The BigQuery dataset the models are built in, and how to reach it. `token` and `keyfile`
    are credentials (a path for the key file): never written or logged (repr hides the token)."""

    project: str
    dataset: str = DEFAULT_DATASET
    method: str = "oauth"
    keyfile: str | None = None
    token: str | None = None
    location: str | None = None
    api_endpoint: str | None = None

    def __repr__(self) -> str:
        return f"BigQueryTarget(project={self.project!r}, dataset={self.dataset!r}, endpoint={self.api_endpoint!r})"

    @property
    def where(self) -> str:
        return f"{self.project}.{self.dataset}" + (f" at {self.api_endpoint}" if self.api_endpoint else "")

    def dbt_env(self) -> dict[str, str]:
        """The environment the dbt profile's `bigquery` target reads."""
        env = {PROJECT_ENV: self.project, DATASET_ENV: self.dataset, METHOD_ENV: self.method}
        for name, value in (
            (KEYFILE_ENV, self.keyfile),
            (TOKEN_ENV, self.token),
            (LOCATION_ENV, self.location),
            (ENDPOINT_ENV, self.api_endpoint),
        ):
            if value:
                env[name] = value
        return env

    def facts(self) -> dict[str, str | None]:
        """What the home remembers: no credential."""
        return {"target": "bigquery", "project": self.project, "dataset": self.dataset, "endpoint": self.api_endpoint}


def requested_target(explicit: str | None = None) -> str | None:
    """The target asked for: the flag, else NETFLIX_ELT_DBT_TARGET, else None (the home decides)."""
    value = explicit or os.environ.get(TARGET_ENV) or None
    if value is not None and value not in TARGETS:
        raise InputError(f"target {value!r}: expected one of {', '.join(TARGETS)} (--target or {TARGET_ENV})")
    return value


def bigquery_from_env(environ: dict[str, str] | None = None) -> BigQueryTarget:
    """The BigQuery settings from the environment, validated (InputError naming the variable)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        return (env.get(name) or "").strip() or None

    project = get(PROJECT_ENV)
    if project is None:
        raise InputError(f"--target bigquery needs {PROJECT_ENV} (the GCP project the models are built in)")
    if not _PROJECT_RE.match(project):
        raise InputError(f"{PROJECT_ENV}={project!r}: not a GCP project id (6-30 lowercase letters, digits, hyphens)")
    dataset = get(DATASET_ENV) or DEFAULT_DATASET
    if not _DATASET_RE.match(dataset):
        raise InputError(f"{DATASET_ENV}={dataset!r}: a dataset name is letters, digits and underscores")
    method = get(METHOD_ENV) or "oauth"
    if method not in METHODS:
        raise InputError(f"{METHOD_ENV}={method!r}: expected one of {', '.join(METHODS)}")
    keyfile, token = get(KEYFILE_ENV), get(TOKEN_ENV)
    if method == "service-account" and keyfile is None:
        raise InputError(f"{METHOD_ENV}=service-account needs {KEYFILE_ENV} (a service-account JSON key file)")
    if method == "oauth-secrets" and token is None:
        raise InputError(f"{METHOD_ENV}=oauth-secrets needs {TOKEN_ENV} (an OAuth access token)")
    return BigQueryTarget(project, dataset, method, keyfile, token, get(LOCATION_ENV), get(ENDPOINT_ENV))


def _engine_path(home: Home) -> Path:
    return home.root / ENGINE_FILE


def home_facts(home: Home) -> dict[str, str | None] | None:
    """What the home remembers about its engine (None: DuckDB, the default)."""
    try:
        facts = json.loads(_engine_path(home).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):  # no home yet (or no folder there: said where it is made)
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"{_engine_path(home)}: unreadable ({exc}); it names the engine the models live in") from None
    return facts if isinstance(facts, dict) else None


def home_target_name(home: Home) -> str:
    facts = home_facts(home)
    return str(facts.get("target") or "duckdb") if facts else "duckdb"


def check_target(home: Home, explicit: str | None = None) -> BigQueryTarget | None:
    """Before anything is written: the engine of this command in `home` (None: DuckDB). A target
    other than the home's is an InputError; BigQuery settings are validated."""
    wanted = requested_target(explicit)
    facts = home_facts(home)
    has = str(facts.get("target")) if facts else None
    if has is None and wanted is None:
        return None
    if wanted is not None and has is not None and wanted != has:
        raise InputError(
            f"{home.root}: its models live in {has}, not {wanted}; use another --home for {wanted} "
            f"(or drop --target / {TARGET_ENV})"
        )
    if has is None and wanted == "duckdb":
        return None
    if (has or wanted) != "bigquery":
        return None
    bq = bigquery_from_env()
    if has is None and _has_local_models(home):
        raise InputError(
            f"{home.root}: its models live in the local DuckDB warehouse; use another --home for --target bigquery"
        )
    if facts:
        for key, mine in (("project", bq.project), ("dataset", bq.dataset), ("endpoint", bq.api_endpoint)):
            if facts.get(key) != mine:
                raise InputError(
                    f"{home.root}: its models live in BigQuery {facts.get('project')}.{facts.get('dataset')}"
                    f"{' at ' + str(facts.get('endpoint')) if facts.get('endpoint') else ''}; "
                    f"the environment names another {key} ({mine!r}): use another --home"
                )
    return bq


def _has_local_models(home: Home) -> bool:
    """A home without engine.json whose DuckDB warehouse already has a transformed batch."""
    if not home.warehouse.is_file():
        return False
    import duckdb

    from netflix_elt.warehouse.ledger import TRANSFORMS_TABLE

    try:
        con = duckdb.connect(str(home.warehouse), read_only=True)
    except duckdb.Error:
        return False
    try:
        row = con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [TRANSFORMS_TABLE]
        ).fetchone()
        if not row or not row[0]:
            return False
        done = con.execute(f"select count(*) from {TRANSFORMS_TABLE} where status = 'succeeded'").fetchone()
        return bool(done and done[0])
    finally:
        con.close()


def remember_target(home: Home, bq: BigQueryTarget | None) -> None:
    """Record the engine in the home (first run); DuckDB homes get no file."""
    if bq is None or home_facts(home):
        return
    write_json_atomic(_engine_path(home), bq.facts())
    log.info("home %s: models live in BigQuery %s", home.root, bq.where)


def home_target(home: Home) -> BigQueryTarget | None:
    """The engine of `home` for a command without --target: BigQuery when the home says so (its
    credentials from the environment), else None (DuckDB)."""
    return check_target(home, None) if home_target_name(home) == "bigquery" else None
