"""TPC-DS across seven source kinds: ``python -m benchmarks.tpcds --sf 1 --runs 1`` (see benchmarks/README.md).

Reuses benchmarks.tpch's answer check, progress line, totals and report table; what is TPC-DS-specific
(24 tables, 99 queries, the layout over PostgreSQL, MariaDB, SQLite, a DuckDB file, Parquet, CSV and
JSON, and the DuckDB 1.5 generator/peer) lives here.
"""
