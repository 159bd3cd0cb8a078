"""The bundled sample: the canonical 2021 Netflix titles file, shipped as package data."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from netflix_elt.core.errors import PipelineError

SAMPLE_NAME = "netflix_titles.csv"
SAMPLE_SHA256 = "69cf6bd7fc5ed9b2cdb62b3c1a38c76e3ad07bfbef3fad5eafef1018ee6081f6"
SAMPLE_ROWS = 8807


def sample_path() -> Path:
    """Path of the bundled sample, its checksum verified (a damaged install fails loudly)."""
    ref = resources.files("netflix_elt") / "sample" / SAMPLE_NAME
    path = Path(str(ref))
    if not path.is_file():
        raise PipelineError(f"{path}: bundled sample is missing; reinstall netflix-elt (pip install --force-reinstall)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SAMPLE_SHA256:
        raise PipelineError(
            f"{path}: bundled sample is damaged (sha256 {digest[:12]}…, expected "
            f"{SAMPLE_SHA256[:12]}…); reinstall netflix-elt"
        )
    return path
