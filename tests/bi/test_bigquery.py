"""`netflix_elt.bi.bigquery.load_exports` against a real BigQuery API emulator (tests/bq_emulator.py):
what is read back equals the Parquet files row for row, a re-load replaces (WRITE_TRUNCATE), and
every error is one clear line of the right class."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from netflix_elt.bi.bigquery import LoadedTable, bigquery_type, load_exports, parse_target
from netflix_elt.core.errors import InputError, PipelineError

from conftest import CANONICAL


def _client(endpoint: tuple[str, str]) -> Any:
    url, project = endpoint
    return bigquery.Client(project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": url})


_DATASETS = iter(range(1_000_000))


@pytest.fixture
def dataset(bq_endpoint: tuple[str, str]) -> str:
    """A fresh, empty dataset; returns PROJECT.DATASET."""
    _, project = bq_endpoint
    name = f"ds_{os.getpid()}_{next(_DATASETS)}"
    client = _client(bq_endpoint)
    try:
        client.create_dataset(f"{project}.{name}")
    finally:
        client.close()
    return f"{project}.{name}"


# -- exports made here with DuckDB, in the manifest shape netflix_elt.bi.exports writes ----------------

_TABLES = {
    # Every canonical column as read, plus typed ones: 8,807 rows of real text (quotes, commas,
    # non-ASCII, a trailing NBSP), NULLs included.
    "titles": f"""
        select *, try_cast(release_year as integer) as release_year_int,
               cast(try_strptime(trim(date_added), '%B %d, %Y') as date) as date_added_parsed
        from read_csv('{CANONICAL}', header = true, all_varchar = true, quote = '"', escape = '"')
        order by show_id
    """,
    "kpi_movies_vs_tv": f"""
        select type, count(*) as total_titles
        from read_csv('{CANONICAL}', header = true, all_varchar = true, quote = '"', escape = '"')
        group by type order by type
    """,
    # Every DuckDB type the loader maps, with a row of NULLs.
    "all_types": """
        select * from (values
            ('a', 9007199254740993::bigint, -7::integer, 3::smallint, 1.5::double, true,
             date '2021-09-25', timestamptz '2021-09-25 12:34:56.789+00', timestamp '2021-09-25 12:34:56',
             '{"k": [1, "x", null]}'::json, 12345.678::decimal(18, 3), 42::hugeint),
            (null, null, null, null, null, null, null, null, null, null, null, null)
        ) t(s, big, i, small, d, b, day, ts, civil, j, dec, huge)
        order by s nulls last
    """,
    "empty_table": "select 'x'::varchar as s, 1::bigint as n where false",
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_exports(out: Path, tables: dict[str, str]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    entries = []
    try:
        for name, sql in tables.items():
            con.execute(f"create or replace table {name} as {sql}")
            cols = [{"name": c, "type": t} for c, t, *_ in con.execute(f"describe {name}").fetchall()]
            files = {"parquet": f"{name}.parquet", "csv": f"{name}.csv"}
            con.execute(f"copy {name} to '{out / files['parquet']}' (format parquet, compression zstd)")
            con.execute(f"copy {name} to '{out / files['csv']}' (format csv, header)")
            rows = con.execute(f"select count(*) from {name}").fetchone()[0]
            entries.append(
                {
                    "table": name,
                    "rows": rows,
                    "columns": cols,
                    "files": files,
                    "sha256": {k: _sha256(out / v) for k, v in files.items()},
                }
            )
    finally:
        con.close()
    manifest = {"generated_at": "2026-11-26T23:00:00+00:00", "batch_id": "b1", "tables": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_exports(tmp_path_factory.mktemp("exports"), _TABLES)


def _copy(exports: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(exports, tmp_path / "exports"))


# -- comparing what BigQuery returns with the Parquet files -------------------------------------


def _norm(v: Any) -> Any:
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.UTC)
    if isinstance(v, decimal.Decimal):
        return v.normalize()
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    return v


def _sorted(rows: list[tuple]) -> list[tuple]:
    return sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)


def parquet_rows(path: Path, json_columns: set[str]) -> list[tuple]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        cur = con.execute("select * from read_parquet(?)", [str(path)])
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    idx = [i for i, n in enumerate(names) if n in json_columns]
    out = []
    for r in rows:
        r = list(r)
        for i in idx:
            r[i] = None if r[i] is None else json.loads(r[i])
        out.append(tuple(r))
    return _sorted(out)


def bq_rows(endpoint: tuple[str, str], table_id: str) -> list[tuple]:
    client = _client(endpoint)
    try:
        return _sorted([tuple(r.values()) for r in client.query(f"select * from `{table_id}`").result()])
    finally:
        client.close()


def _manifest(exports: Path) -> dict:
    return json.loads((exports / "manifest.json").read_text(encoding="utf-8"))


def assert_tables_equal_parquet(endpoint: tuple[str, str], target: str, exports: Path) -> None:
    for entry in _manifest(exports)["tables"]:
        json_cols = {c["name"] for c in entry["columns"] if c["type"] == "JSON"}
        expected = parquet_rows(exports / entry["files"]["parquet"], json_cols)
        got = bq_rows(endpoint, f"{target}.{entry['table']}")
        assert len(got) == entry["rows"] == len(expected), entry["table"]
        assert got == expected, entry["table"]


# -- tests ----------------------------------------------------------------------------------------


def test_every_table_reads_back_equal_to_its_parquet_file(bq_endpoint, dataset, exports):
    loaded = load_exports(exports, dataset, endpoint=bq_endpoint[0])
    manifest = _manifest(exports)
    assert [t.table for t in loaded] == [t["table"] for t in manifest["tables"]]
    for t, entry in zip(loaded, manifest["tables"], strict=True):
        assert t == LoadedTable(entry["table"], entry["rows"], entry["rows"], entry["rows"])
    assert loaded[0].rows_verified == 8807
    assert_tables_equal_parquet(bq_endpoint, dataset, exports)


def test_tables_loads_just_those_in_that_order(bq_endpoint, dataset, exports):
    """`export --bigquery` loads the `bigquery` exposure's tables (tables=BIGQUERY_TABLES): only
    those, in that order; one the manifest does not list is an input error before any load."""
    loaded = load_exports(exports, dataset, endpoint=bq_endpoint[0], tables=("kpi_movies_vs_tv", "empty_table"))
    assert [t.table for t in loaded] == ["kpi_movies_vs_tv", "empty_table"]
    with pytest.raises(InputError, match=r"manifest\.json: no table kpi_top_genres to load; re-run `netflix-elt"):
        load_exports(exports, dataset, endpoint="http://127.0.0.1:9", tables=("kpi_movies_vs_tv", "kpi_top_genres"))


def test_schema_follows_the_manifest_column_order_and_types(bq_endpoint, dataset, exports):
    load_exports(exports, dataset, endpoint=bq_endpoint[0])
    client = _client(bq_endpoint)
    try:
        table = client.get_table(f"{dataset}.all_types")
    finally:
        client.close()
    legacy = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}  # the API may answer either name
    assert [(f.name, legacy.get(f.field_type, f.field_type)) for f in table.schema] == [
        ("s", "STRING"),
        ("big", "INT64"),
        ("i", "INT64"),
        ("small", "INT64"),
        ("d", "FLOAT64"),
        ("b", "BOOL"),
        ("day", "DATE"),
        ("ts", "TIMESTAMP"),
        ("civil", "DATETIME"),
        ("j", "JSON"),
        ("dec", "NUMERIC"),
        ("huge", "FLOAT64"),
    ]


def test_a_second_load_replaces_instead_of_doubling(bq_endpoint, dataset, exports):
    first = load_exports(exports, dataset, endpoint=bq_endpoint[0])
    second = load_exports(exports, dataset, endpoint=bq_endpoint[0])
    assert first == second
    assert_tables_equal_parquet(bq_endpoint, dataset, exports)


def test_a_reload_with_fewer_rows_truncates(bq_endpoint, dataset, tmp_path):
    big = write_exports(tmp_path / "big", {"t": "select range as n, 'x' || range as s from range(100)"})
    small = write_exports(tmp_path / "small", {"t": "select range as n, 'y' || range as s from range(7)"})
    assert load_exports(big, dataset, endpoint=bq_endpoint[0])[0].rows_verified == 100
    assert load_exports(small, dataset, endpoint=bq_endpoint[0]) == [LoadedTable("t", 7, 7, 7)]
    assert_tables_equal_parquet(bq_endpoint, dataset, small)


def test_a_file_over_5_mib_goes_through_a_resumable_upload(bq_endpoint, dataset, tmp_path):
    # The client uploads files up to 5 MiB in one request and larger ones in a resumable session.
    sql = "select range as n, md5(range::varchar) || md5((range + 1)::varchar) as s from range(300000)"
    exports = write_exports(tmp_path / "big", {"big": sql})
    assert (exports / "big.parquet").stat().st_size > 5 * 1024 * 1024
    assert load_exports(exports, dataset, endpoint=bq_endpoint[0]) == [LoadedTable("big", 300000, 300000, 300000)]
    summary = "select sum(n), count(distinct s), min(s), max(s) from {}"
    client = _client(bq_endpoint)
    try:
        got = next(iter(client.query(summary.format(f"`{dataset}.big`")).result())).values()
    finally:
        client.close()
    con = duckdb.connect()
    try:
        assert tuple(got) == con.execute(summary.format(f"read_parquet('{exports / 'big.parquet'}')")).fetchone()
    finally:
        con.close()


@pytest.mark.slow
def test_loads_what_netflix_elt_export_writes(bq_endpoint, dataset, tmp_path):
    from netflix_elt.bi.exports import export_tables
    from netflix_elt.core.home import Home
    from netflix_elt.ops.pipeline import run_pipeline

    home = Home(tmp_path / "home")
    run_pipeline(home)
    manifest = export_tables(home)
    exports = home.root / "exports"
    loaded = load_exports(exports, dataset, endpoint=bq_endpoint[0])
    assert {t.table: t.rows_verified for t in loaded} == {t["table"]: t["rows"] for t in manifest["tables"]}
    assert {t.table: t.rows_verified for t in loaded}["analytics_netflix_current"] == 8807
    assert_tables_equal_parquet(bq_endpoint, dataset, exports)


def test_missing_dataset_is_an_input_error_naming_the_fix(bq_endpoint, exports):
    url, project = bq_endpoint
    with pytest.raises(InputError) as err:
        load_exports(exports, f"{project}.no_such_dataset", endpoint=url)
    assert str(err.value) == (
        f"dataset {project}.no_such_dataset does not exist; create it with `bq mk {project}:no_such_dataset`"
    )


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_fails_in_seconds_naming_the_url(exports):
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(PipelineError) as err:
        load_exports(exports, "test-project.netflix", endpoint=url)
    assert time.monotonic() - started < 20
    assert url in str(err.value)
    assert "cannot reach BigQuery" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_credentials_is_an_input_error(exports, tmp_path):
    """No --credentials, no endpoint, nothing in the environment. In a child process with a bare
    environment, so no credentials of this machine are found and the GCE metadata server is not
    probed (NO_GCE_CHECK)."""
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from netflix_elt.bi.bigquery import load_exports
        from netflix_elt.core.errors import NetflixEltError
        try:
            load_exports(Path({str(exports)!r}), "my-project.netflix")
        except NetflixEltError as exc:
            print(type(exc).__name__, exc)
            sys.exit(exc.exit_code)
        """
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "NO_GCE_CHECK": "true",
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
    }
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.startswith("InputError no BigQuery credentials: pass --credentials FILE"), proc.stdout
    assert "GOOGLE_APPLICATION_CREDENTIALS" in proc.stdout


def test_credentials_file_missing_or_not_a_key(exports, tmp_path):
    with pytest.raises(InputError, match=r"--credentials .*nope\.json: no such file"):
        load_exports(exports, "my-project.netflix", credentials=tmp_path / "nope.json")
    bad = tmp_path / "key.json"
    bad.write_text('{"type": "service_account", "private_key": "SECRET-MATERIAL"}', encoding="utf-8")
    with pytest.raises(InputError, match="not a service-account JSON key") as err:
        load_exports(exports, "my-project.netflix", credentials=bad)
    assert "SECRET-MATERIAL" not in str(err.value)


def test_a_credentials_file_is_used_and_never_logged(bq_endpoint, dataset, exports, tmp_path, caplog):
    """A real service-account key (generated here) whose token endpoint is a closed local port:
    the loader uses it (not anonymous credentials, even with an endpoint) and fails cleanly
    without showing the key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    key = {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "loader@test-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"http://127.0.0.1:{_closed_port()}/token",
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(key), encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PipelineError, match="cannot get a BigQuery access token") as err:
        load_exports(exports, dataset, endpoint=bq_endpoint[0], credentials=path)
    body = pem.splitlines()[1]
    assert body not in str(err.value)
    assert body not in caplog.text
    assert "service-account file" in caplog.text


def test_sha256_mismatch_names_the_file_and_loads_nothing(bq_endpoint, dataset, exports, tmp_path):
    copy = _copy(exports, tmp_path)
    target = copy / "kpi_movies_vs_tv.parquet"
    target.write_bytes(target.read_bytes() + b"\0")
    with pytest.raises(InputError) as err:
        load_exports(copy, dataset, endpoint=bq_endpoint[0])
    assert str(target) in str(err.value)
    assert "sha256" in str(err.value)
    client = _client(bq_endpoint)
    try:
        assert list(client.list_tables(dataset)) == []  # checked before the first load
    finally:
        client.close()


def test_a_row_count_that_does_not_match_the_manifest_is_a_pipeline_error(bq_endpoint, dataset, exports, tmp_path):
    copy = _copy(exports, tmp_path)
    manifest = _manifest(copy)
    entry = next(t for t in manifest["tables"] if t["table"] == "kpi_movies_vs_tv")
    entry["rows"] += 1
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"kpi_movies_vs_tv: 2 rows after loading 2, expected 3"):
        load_exports(copy, dataset, endpoint=bq_endpoint[0])


def test_manifest_and_parquet_must_agree(exports, tmp_path):
    copy = _copy(exports, tmp_path)
    manifest = _manifest(copy)
    entry = next(t for t in manifest["tables"] if t["table"] == "kpi_movies_vs_tv")
    entry["columns"].reverse()
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(InputError, match="differ from the manifest"):
        load_exports(copy, "test-project.netflix", endpoint="http://127.0.0.1:9")
    (copy / "manifest.json").unlink()
    with pytest.raises(InputError, match=r"manifest\.json: no export manifest; run `netflix-elt export` first"):
        load_exports(copy, "test-project.netflix", endpoint="http://127.0.0.1:9")


@pytest.mark.parametrize(
    "target",
    ["netflix", "my-project.", ".netflix", "my-project.net-flix", "my-project.a.b", "My-Project.netflix", "ab.cd", ""],
)
def test_a_bad_target_is_an_input_error(exports, target):
    with pytest.raises(InputError, match=r"expected PROJECT\.DATASET"):
        load_exports(exports, target, endpoint="http://127.0.0.1:9")


def test_target_forms():
    assert parse_target("my-project.netflix") == ("my-project", "netflix")
    assert parse_target("example.com:my-project.netflix_2") == ("example.com:my-project", "netflix_2")


def test_type_mapping():
    assert bigquery_type("VARCHAR") == "STRING"
    assert bigquery_type("BIGINT") == bigquery_type("INTEGER") == "INT64"
    assert bigquery_type("DOUBLE") == "FLOAT64"
    assert bigquery_type("BOOLEAN") == "BOOL"
    assert bigquery_type("DATE") == "DATE"
    assert bigquery_type("TIMESTAMP WITH TIME ZONE") == "TIMESTAMP"
    assert bigquery_type("TIMESTAMP") == "DATETIME"
    assert bigquery_type("JSON") == "JSON"
    assert bigquery_type("DECIMAL(18,3)") == bigquery_type("DECIMAL(38, 9)") == "NUMERIC"
    assert bigquery_type("DECIMAL(38,10)") == bigquery_type("DECIMAL(38,0)") == "BIGNUMERIC"
    assert bigquery_type("HUGEINT") == "FLOAT64"  # DuckDB writes HUGEINT to Parquet as DOUBLE
    for unsupported in ("INTEGER[]", "STRUCT(a INTEGER)", "UUID", "INTERVAL", "MAP(VARCHAR, INTEGER)"):
        with pytest.raises(InputError, match="no BigQuery mapping"):
            bigquery_type(unsupported, where="t.c")


def test_without_the_client_library_the_error_says_what_to_install(exports, monkeypatch):
    import google.cloud

    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)  # as if it were not installed
    monkeypatch.delattr(google.cloud, "bigquery", raising=False)
    with pytest.raises(InputError, match=r"pip install 'netflix-elt\[bigquery\]'"):
        load_exports(exports, "test-project.netflix", endpoint="http://127.0.0.1:9")
