"""Synthetic catalog drops: a realistic catalog of any size (`synth_catalog`), and the next
full-snapshot drop after one with the CDC counts the pipeline must report for it (`synth_next`).
Everything runs inside DuckDB and streams, so memory stays bounded whatever the row count, and the
same seed, source and DuckDB version (its `hash()`) give a byte-identical file (a .gz also needs
the same zlib). The modules, one concern each: `catalog` and `next_drop` are the two entry points;
`generator` is the SQL of the synthetic rows, drawn from the value pools of `pools`; `reading`
reads a drop into DuckDB, `output` checks and writes the result; `session` is the bounded DuckDB
session with its scratch directory, and `sql` the literals and the seeded hash.
"""

from __future__ import annotations

from netflix_elt.tools.synth.catalog import synth_catalog
from netflix_elt.tools.synth.next_drop import CHANGE_SENTENCES, KNOWN_RATINGS, NextDropSpec, expected_path, synth_next
from netflix_elt.tools.synth.output import GZIP_BLOCK, GZIP_LEVEL
from netflix_elt.tools.synth.pools import DATE_FORMATS
from netflix_elt.tools.synth.reading import COLUMNS, GZIP_MAGIC
from netflix_elt.tools.synth.session import MEMORY_LIMIT, THREADS

__all__ = [
    "CHANGE_SENTENCES",
    "COLUMNS",
    "DATE_FORMATS",
    "GZIP_BLOCK",
    "GZIP_LEVEL",
    "GZIP_MAGIC",
    "KNOWN_RATINGS",
    "MEMORY_LIMIT",
    "THREADS",
    "NextDropSpec",
    "expected_path",
    "synth_catalog",
    "synth_next",
]
