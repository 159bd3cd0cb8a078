"""`netflix-elt`: a thin command line over the library. The group and the error-to-exit-code
mapping are in `app`; the commands, by stage, in `load` (ingest, run), `checks` (monitor,
status), `publish` (lookml, export, dashboard, docs) and `maintain` (verify, rebuild, schedule,
synth)."""

from __future__ import annotations

from netflix_elt.cli import checks, load, maintain, publish
from netflix_elt.cli.app import cli

__all__ = ["cli", "main"]

for _command in (
    load.ingest,
    load.run,
    checks.monitor,
    checks.status,
    publish.lookml,
    publish.export,
    publish.dashboard,
    publish.docs,
    maintain.verify,
    maintain.rebuild,
    maintain.schedule,
    maintain.synth,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="netflix-elt")


if __name__ == "__main__":  # pragma: no cover
    main()
