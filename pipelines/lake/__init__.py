"""The warehouse beyond one file: DuckLake (PostgreSQL catalog + Parquet on object storage)."""
