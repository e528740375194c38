"""Statistics: ANALYZE source.table, and row counts steering dynamic filtering without any filter."""
from __future__ import annotations

import sqlite3

import adbc_driver_postgresql.dbapi as pgdb

import fedq


def test_analyze_reports_row_counts(tmp_path, pg_dsn):
    with pgdb.connect(pg_dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS fedq_stats")
        cur.execute("DROP TABLE IF EXISTS fedq_stats.facts")
        cur.execute("CREATE TABLE fedq_stats.facts AS SELECT i AS id, i % 50 AS dim_id FROM generate_series(1, 20000) i")
        cur.execute("ANALYZE fedq_stats.facts")  # pg_stats: distinct counts, histogram bounds
    with sqlite3.connect(tmp_path / "d.sqlite") as db:
        db.execute("CREATE TABLE dims (id INTEGER, label TEXT)")
        db.executemany("INSERT INTO dims VALUES (?, ?)", [(i, f"d{i}") for i in range(0, 100, 10)])
    with fedq.connect() as con:
        con.attach("pg", "postgres", dsn=pg_dsn)
        con.attach("lite", "sqlite", path=str(tmp_path / "d.sqlite"))
        result = con.execute("ANALYZE pg.fedq_stats.facts, lite.dims").fetchall()
        assert [r[:2] for r in result if r[2] is None] == [("pg.fedq_stats.facts", 20000), ("lite.main.dims", 10)]
        assert ("pg.fedq_stats.facts", 20000, "dim_id", 50, "0", "49") in result  # distinct, min, max from pg_stats
        sql = "SELECT d.label, f.id FROM pg.fedq_stats.facts f JOIN lite.dims d ON d.id = f.dim_id"
        rows = con.execute(sql).fetchall()
        (statement,) = con.source("pg").statements
        assert '"dim_id" IN (' in statement  # the 10-row side's keys went to PostgreSQL: no filter needed
    with fedq.connect(pushdown=False) as off:
        off.attach("pg", "postgres", dsn=pg_dsn)
        off.attach("lite", "sqlite", path=str(tmp_path / "d.sqlite"))
        assert sorted(off.execute(sql).fetchall()) == sorted(rows)
    assert len(rows) == 2000
