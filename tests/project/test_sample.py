from __future__ import annotations

import hashlib

import pytest

from netflix_elt.core.errors import PipelineError
from netflix_elt.ingest import sample

from conftest import CANONICAL


def test_bundled_sample_is_the_canonical_file() -> None:
    path = sample.sample_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sample.SAMPLE_SHA256
    assert path.read_bytes() == CANONICAL.read_bytes()


def test_checksum_mismatch_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "SAMPLE_SHA256", "0" * 64)
    with pytest.raises(PipelineError, match="bundled sample is damaged"):
        sample.sample_path()
