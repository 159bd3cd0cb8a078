"""The wall clock, in UTC: used for timestamps shown to people, never to order batches."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
