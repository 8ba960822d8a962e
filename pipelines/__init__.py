"""meetings-warehouse: Zoom + MEETS -> DuckDB ELT."""
