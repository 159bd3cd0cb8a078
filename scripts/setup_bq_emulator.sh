#!/usr/bin/env bash
# Set up the local BigQuery API emulator used by the BigQuery tests, in its own venv (it pins its
# own DuckDB, which must not meet the project's).
#
#   scripts/setup_bq_emulator.sh [VENV_DIR]     default: $NETFLIX_ELT_BQEMU_VENV, else <repo>/.bqemu
#
# Idempotent: a stamp file records the pinned set; when it matches, this is a fast no-op.
# Nothing is downloaded at run time afterwards: bqemulator runs `INSTALL spatial; LOAD spatial` at
# start-up, which would fetch the extension from DuckDB's site. The extension comes here from the
# pip wheel `duckdb-extension-spatial` instead, installed (`INSTALL '<file>'`) into
# VENV_DIR/home/.duckdb/extensions/, and the emulator is started with HOME=VENV_DIR/home, so its
# INSTALL finds it installed and does nothing. tests/bq_emulator.py starts it that way.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="${1:-${NETFLIX_ELT_BQEMU_VENV:-$REPO/.bqemu}}"
mkdir -p "$VENV_DIR"
VENV_DIR="$(cd "$VENV_DIR" && pwd)"  # absolute: it becomes HOME, where DuckDB keeps extensions
PYTHON="${PYTHON:-python3}"

# The emulator's whole pinned set (a resolve of the three top-level pins plus numpy, which
# bqemulator needs at start-up without declaring it). Change it and the stamp no longer matches.
PINS="
bqemulator==1.4.0
duckdb==1.5.5
duckdb-extension-spatial==1.5.5
numpy==2.4.6
alembic==1.20.1
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
asgiref==3.13.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
click==8.5.1
cryptography==50.0.2
fastapi==0.165.0
fastavro==1.13.1
google-api-core==2.44.0
google-auth==2.63.0
google-cloud-bigquery-storage==2.43.0
googleapis-common-protos==1.76.0
grpcio==1.85.3
grpcio-health-checking==1.80.1
grpcio-status==1.85.3
grpcio-tools==1.80.1
h11==0.16.0
httpcore==1.0.9
httptools==0.9.0
httpx==0.28.1
idna==3.20
Mako==1.4.3
MarkupSafe==3.0.4
opentelemetry-api==1.45.2
opentelemetry-exporter-http-transport==0.66b2
opentelemetry-exporter-otlp==1.45.2
opentelemetry-exporter-otlp-common==0.66b2
opentelemetry-exporter-otlp-proto-common==1.45.2
opentelemetry-exporter-otlp-proto-grpc==1.45.2
opentelemetry-exporter-otlp-proto-http==1.45.2
opentelemetry-instrumentation==0.66b2
opentelemetry-instrumentation-asgi==0.66b2
opentelemetry-instrumentation-fastapi==0.66b2
opentelemetry-instrumentation-grpc==0.66b2
opentelemetry-proto==1.45.2
opentelemetry-sdk==1.45.2
opentelemetry-semantic-conventions==0.66b2
opentelemetry-util-http==0.66b2
orjson==3.13.0
packaging==26.4
prometheus_client==0.26.0
proto-plus==1.29.0
protobuf==6.33.6
pyarrow==26.0.1
pyasn1==0.6.5
pyasn1_modules==0.4.2
pycparser==3.12
pydantic==2.14.4
pydantic-settings==2.16.3
pydantic_core==2.50.5
PyJWT==2.15.1
python-dotenv==1.2.4
pytz==2026.6
PyYAML==6.0.4
requests==2.34.2
SQLAlchemy==2.1.9
sqlglot==30.11.0
starlette==1.10.0
structlog==26.1.0
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
uvicorn==0.54.0
uvloop==0.23.0
watchfiles==1.3.0
websockets==17.4
wrapt==2.5.2
"
STAMP="$VENV_DIR/.netflix-elt-bqemu-installed"
WANT="$(printf '%s' "$PINS" | sha256sum | cut -c1-16)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV_DIR/bin/bqemulator" ]; then
    exit 0
fi

started=$(date +%s)
echo "setting up the BigQuery emulator in $VENV_DIR"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "the BigQuery emulator needs Python 3.11+ (set PYTHON=...)")'
rm -f "$STAMP"
[ -x "$VENV_DIR/bin/python" ] || "$PYTHON" -m venv "$VENV_DIR"

constraints="$VENV_DIR/constraints.txt"
printf '%s\n' "$PINS" | sed '/^$/d' > "$constraints"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV_DIR/bin/python" -m pip install --quiet -c "$constraints" \
    bqemulator duckdb duckdb-extension-spatial numpy \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

# Install the spatial extension from the wheel's file into VENV_DIR/home/.duckdb/extensions/...,
# then prove that `INSTALL spatial; LOAD spatial` (what bqemulator runs) works from there offline.
mkdir -p "$VENV_DIR/home"
HOME="$VENV_DIR/home" "$VENV_DIR/bin/python" - <<'EOF'
import pathlib

import duckdb
import duckdb_extension_spatial

root = pathlib.Path(duckdb_extension_spatial.__file__).parent
files = sorted(root.rglob("spatial.duckdb_extension"))
if not files:
    raise SystemExit(f"no spatial.duckdb_extension under {root}")
con = duckdb.connect()
con.execute(f"INSTALL '{files[0]}'")
con.close()
con = duckdb.connect()
con.execute("INSTALL spatial")
con.execute("LOAD spatial")
path = con.execute(
    "select install_path from duckdb_extensions() where extension_name = 'spatial' and loaded"
).fetchone()
if path is None:
    raise SystemExit("the spatial extension did not load")
print(f"spatial extension installed at {path[0]}")
EOF

printf '%s' "$WANT" > "$STAMP"
echo "BigQuery emulator ready in $VENV_DIR ($(($(date +%s) - started))s)"
