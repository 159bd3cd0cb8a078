"""Stage 1, extract: read a catalog drop (encoding, dialect, header mapping), write its immutable
raw Parquet file and quarantine, and load it into the warehouse with its ledger row.
"""
