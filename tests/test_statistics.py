"""Statistics: ANALYZE source.table, and row counts steering dynamic filtering without any filter."""
from __future__ import annotations

import sqlite3

import adbc_driver_postgresql.dbapi as pgdb

import fedq
from cleanup import drop_mysql_tables, drop_pg_schemas


def test_analyze_reports_row_counts(request, tmp_path, pg_dsn, pg_admin_dsn):
    request.addfinalizer(lambda: drop_pg_schemas(pg_admin_dsn, "fedq_stats"))
    with pgdb.connect(pg_admin_dsn, autocommit=True) as con, con.cursor() as cur:
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


def test_statistics_per_source(request, tmp_path, mysql_dsn, mysql_admin_dsn):
    request.addfinalizer(lambda: drop_mysql_tables(mysql_admin_dsn, "fedq_reduce_stats"))
    """SQLite: sqlite_stat1 distinct counts and index min/max; Parquet: footer row counts and row-group
    min/max; CSV: nothing until ANALYZE counts it; MariaDB: TABLE_ROWS and index CARDINALITY."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq
    import pymysql

    from fedq.sources.mysql import _parse_dsn

    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        db.execute("CREATE TABLE t (id INTEGER, k TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"k{i % 10}") for i in range(1000)])
        db.execute("CREATE INDEX t_k ON t (k)")
        db.execute("ANALYZE")
    lake = tmp_path / "lake"
    lake.mkdir()
    pq.write_table(pa.table({"id": list(range(100)), "d": [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(100)]}),
                   lake / "p.parquet", row_group_size=30)
    (lake / "c.csv").write_text("a,b\n1,2\n3,4\n")
    with pymysql.connect(autocommit=True, **_parse_dsn(mysql_admin_dsn)) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS fedq_reduce_stats")
        cur.execute("CREATE TABLE fedq_reduce_stats (id INT PRIMARY KEY, k VARCHAR(10), INDEX (k))")
        cur.executemany("INSERT INTO fedq_reduce_stats VALUES (%s, %s)", [(i, f"k{i % 10}") for i in range(500)])
        cur.execute("ANALYZE TABLE fedq_reduce_stats")
        cur.fetchall()
    with fedq.connect(home=False) as con:
        con.attach("lite", "sqlite", path=str(tmp_path / "s.sqlite"))
        con.attach("lake", "files", url=str(lake))
        con.attach("my", "mysql", dsn=mysql_dsn)
        stats = lambda *name: con.catalog.statistics(con.catalog.resolve(list(name)))  # noqa: E731
        lite = stats("lite", "t")
        assert lite.rows == 1000 and lite.distinct("k") == 10 and (lite.column("k").min, lite.column("k").max) == ("k0", "k9")
        parquet = stats("lake", "p")
        assert parquet.rows == 100 and parquet.column("d").max == dt.date(2020, 4, 9) and parquet.column("id").min == 0
        assert stats("lake", "c").rows is None  # a CSV is not read to plan a query
        mine = stats("my", "fedq_reduce_stats")
        assert mine.rows is not None and mine.distinct("id") == 500 and mine.column("k").distinct >= 1
        analyzed = con.execute("ANALYZE lake.c, lite.t").fetchall()
        assert ("lake.main.c", 2, None, None, None, None) in analyzed and ("lite.main.t", 1000, "k", 10, "k0", "k9") in analyzed
