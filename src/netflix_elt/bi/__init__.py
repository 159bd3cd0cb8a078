"""Stage 4, serve: exports, BigQuery loads, generated LookML and the offline dashboard."""
