"""Resource settings from the environment: DuckDB's memory limit and threads (shared with dbt's profile)."""

from __future__ import annotations

import os

MEMORY_LIMIT_ENV = "NETFLIX_ELT_MEMORY_LIMIT"  # DuckDB memory_limit, e.g. "1GB" (default)
THREADS_ENV = "NETFLIX_ELT_THREADS"  # DuckDB threads (default: all cores)
DEFAULT_MEMORY_LIMIT = "1GB"


def resource_settings() -> dict[str, str]:
    """DuckDB's memory limit and threads, from the environment; shared with dbt's profile."""
    settings = {"memory_limit": os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT}
    if os.environ.get(THREADS_ENV):
        settings["threads"] = os.environ[THREADS_ENV]
    return settings
