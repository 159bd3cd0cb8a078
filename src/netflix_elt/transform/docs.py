"""The dbt project's documentation as one offline HTML file: `<home>/reports/dbt-docs.html`.

`dbt docs generate --static` runs in-process through the packaged project's runner (`Dbt`: the
explicit --project-dir/--profiles-dir/--target-path under the home, the profile's environment
for the call only, the parsed manifest shared with the builds) and writes `static_index.html`,
the docs site with the manifest and the warehouse catalog (column types) inlined. That single
file is copied next to the dashboard, written under a temporary name and renamed, so a reader
never sees half of it.

External resources: the page loads nothing from the network as generated here. dbt's docs app
carries a Snowplow tracker (script from a CloudFront host, events to sinter-collect.com) that it
starts only when the inlined manifest says `send_anonymous_usage_stats: true`; the project's
flags and DO_NOT_TRACK make it false. The other http(s) URLs in the file (`external_urls`) are
links a reader may click (docs.getdbt.com, GitHub issues in dbt's macros), license comments
and XML namespaces, not fetches.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from netflix_elt.core.errors import InputError, PipelineError
from netflix_elt.core.home import Home
from netflix_elt.transform.dbt import Dbt

DOCS_FILE = "dbt-docs.html"
STATIC_INDEX = "static_index.html"
_URL_RE = re.compile(rb"""https?://[^\s"'`<>()\\]+""")


def build_docs(home: Home) -> Path:
    """Generate the dbt docs of `home`'s warehouse and return `<home>/reports/dbt-docs.html`.

    Column types come from the warehouse's catalog. A home without a warehouse yet is refused
    (InputError), as the dashboard refuses it: compiling the project would open, and so
    create, an empty warehouse file."""
    if not home.warehouse.exists():
        raise InputError(f"{home.warehouse}: no warehouse yet; run `netflix-elt run` first")
    dbt = Dbt(home)
    dbt.parse()
    args = ["docs", "generate", "--static"]
    res = dbt._invoke(args)
    generated = dbt.target_path / STATIC_INDEX
    if not res.success or not generated.is_file():
        raise PipelineError(f"dbt docs generate failed: {res.exception}; see {dbt.log_path / 'dbt.log'}")
    out = home.root / "reports" / DOCS_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(generated.read_bytes())
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def external_urls(path: Path) -> list[str]:
    """The distinct http(s) URLs written in a generated docs file (fetched or merely linked)."""
    return sorted({m.decode("ascii", "replace") for m in _URL_RE.findall(path.read_bytes())})
