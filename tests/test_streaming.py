"""Results stream: ``fedq -c … --format csv`` writes batches as they arrive with bounded memory,
Ctrl-C (SIGINT to a real process) cancels a running query and exits cleanly, and the REPL asks
before showing a huge result (pgcli's row-limit prompt)."""
from __future__ import annotations

import io
import signal
import subprocess
import sys
import time

import duckdb
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

import fedq
from fedq.repl.app import run_repl

CHILD_RSS = r"""
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, repr(done.stderr))
"""


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fedq.repl.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _interrupt(process: subprocess.Popen, after: float) -> tuple[int, str]:
    time.sleep(after)
    assert process.poll() is None, "the query ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)  # generous: a bound for a loaded CI machine, not a timing test
    return process.returncode, err


def test_ctrl_c_cancels_a_streaming_query_and_exits_without_a_traceback():
    code, err = _interrupt(_start("-c", "SELECT * FROM range(2000000000) t(i)", "--format", "csv"), 3)
    assert code == 130
    assert err.strip() == "ERROR: query cancelled"


def test_ctrl_c_cancels_a_query_that_has_not_returned_a_row():
    code, err = _interrupt(_start("-c", "SELECT count(*) FROM range(1000000000000) t(i)"), 3)
    assert code == 130 and "Traceback" not in err and "query cancelled" in err


def test_a_large_csv_streams_in_bounded_memory(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    rows = 3_000_000  # about 300 MB of CSV: held whole as Python rows it would take several GB
    duckdb.sql(f"COPY (SELECT i AS id, repeat('x', 60 + i % 40) AS note, i * 0.5 AS score FROM range({rows}) t(i)) "
               f"TO '{lake / 'big.csv'}' (FORMAT csv)")
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'[sources.lake]\ntype = "files"\nurl = "{lake}"\n')
    done = subprocess.run([sys.executable, "-c", CHILD_RSS, sys.executable, "-m", "fedq.repl.cli", str(catalog),
                           "-c", "SELECT * FROM lake.big", "--format", "csv"], capture_output=True, text=True, timeout=600, check=False)
    code, peak_mb, err = done.stdout.split(" ", 2)
    assert code == "0", err
    assert int(peak_mb) < 700, f"peak RSS {peak_mb} MB"  # generous: the data alone is ~300 MB, Python rows would be GBs


def test_csv_output_is_what_duckdb_writes(tmp_path):
    sql = "SELECT 1 AS i, 'a,b' AS s, '' AS e, NULL AS n, 2.50::DECIMAL(5,2) AS d, DATE '2024-01-02' AS day, 'q\"x' AS q"
    done = subprocess.run([sys.executable, "-m", "fedq.repl.cli", "-c", sql, "--format", "csv"],
                          capture_output=True, text=True, timeout=60, check=False)
    duckdb.sql(f"COPY ({sql}) TO '{tmp_path / 'd.csv'}' (FORMAT csv)")
    assert done.stdout == (tmp_path / "d.csv").read_text()


def _session(connection, keys: str) -> str:
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        run_repl(connection, out=out, input=pipe, output=DummyOutput(), history=InMemoryHistory())
    return out.getvalue()


def test_the_repl_asks_before_showing_more_than_the_row_limit():
    with fedq.connect(home=False) as con:
        declined = _session(con, "SELECT * FROM range(5000) t(i);\rn\rSELECT 7 AS seven;\r\\q\r")
        assert "result not shown: it has more than 1,000 rows" in declined
        assert "│       7 │" in declined and "4999" not in declined
        accepted = _session(con, "SELECT * FROM range(5000) t(i);\ry\r\\q\r")
        assert "4999" in accepted and "(5,000 rows" in accepted
        small = _session(con, "SELECT * FROM range(1000) t(i);\r\\q\r")  # at the limit: no question
        assert "(1,000 rows" in small
