"""The DuckDB warehouse: connections, versioned migrations and the ledger tables."""
