"""TPC-H through fedq against a local lower bound and peers: ``python -m benchmarks.tpch --help``.

Modules, one job each: datagen (Parquet via tpchgen-cli), layouts (where tables live, catalog TOML),
load (PostgreSQL/SQLite loading), queries (the 22 queries, rewritten with sqlglot), engines (fedq and
peers), peer_worker (DuckDB 1.5 subprocess), check (answer comparison), runner, progress, report
(JSON/Markdown/PNG), compare (against a baseline JSON).
"""
