"""TPC-DS data as Parquet, generated once per scale factor by DuckDB 1.5's tpcds extension (``CALL
dsdgen(sf=…)``) in its own virtualenv, benchmarks/.data/tpcds-venv, created from PyPI on first use:
fedq's DuckDB 2.0 cannot load the 1.5 extension, so the generator runs as a subprocess. The same
venv runs the DuckDB 1.5 + scanners peer (worker.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.tpch.datagen import DATA_ROOT, sf_label

TABLES = (
    "call_center", "catalog_page", "catalog_returns", "catalog_sales", "customer", "customer_address",
    "customer_demographics", "date_dim", "household_demographics", "income_band", "inventory", "item",
    "promotion", "reason", "ship_mode", "store", "store_returns", "store_sales", "time_dim", "warehouse",
    "web_page", "web_returns", "web_sales", "web_site",
)
VENV = DATA_ROOT / "tpcds-venv"
DUCKDB_PEER = "1.5.5"
VENV_PACKAGES = [f"duckdb=={DUCKDB_PEER}"] + [f"duckdb-extension-{e}=={DUCKDB_PEER}" for e in
                                              ("tpcds", "postgres-scanner", "mysql-scanner", "sqlite-scanner", "json")]
WORKER = Path(__file__).resolve().with_name("worker.py")


def data_dir(sf: float) -> Path:
    return DATA_ROOT / f"tpcds-sf{sf_label(sf)}"


def ensure_venv(log=print) -> Path:
    """benchmarks/.data/tpcds-venv/bin/python with DuckDB 1.5 and the extensions (created once, from PyPI)."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import duckdb, duckdb_extension_tpcds, duckdb_extension_mysql_scanner, "
             "duckdb_extension_postgres_scanner, duckdb_extension_sqlite_scanner, duckdb_extension_json"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    log(f"creating {VENV} (DuckDB {DUCKDB_PEER} with tpcds, postgres, mysql, sqlite, json extensions) ...")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *VENV_PACKAGES], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pip install {' '.join(VENV_PACKAGES)} failed: {done.stderr.strip()[-300:]}")
    return python


def worker(*args: str, log=print) -> None:
    subprocess.run([str(ensure_venv(log)), str(WORKER), *args], check=True, stdout=subprocess.DEVNULL)


def ensure_parquet(sf: float, log=print) -> Path:
    """``<table>.parquet`` for the 24 tables unless they are already there."""
    folder = data_dir(sf)
    if all((folder / f"{t}.parquet").exists() for t in TABLES):
        return folder
    log(f"generating TPC-DS SF {sf_label(sf)} Parquet into {folder} (DuckDB {DUCKDB_PEER} dsdgen) ...")
    partial = folder.with_name(folder.name + ".partial")
    worker("gen", str(sf), str(partial), log=log)
    folder.mkdir(parents=True, exist_ok=True)
    for path in partial.iterdir():  # complete files only: a run cut short leaves no half-written table
        path.replace(folder / path.name)
    partial.rmdir()
    return folder


def row_count(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows
