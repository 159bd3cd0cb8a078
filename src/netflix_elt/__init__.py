"""netflix-elt: a local-first ELT pipeline for the Netflix titles catalog."""

__version__ = "0.1.0"
