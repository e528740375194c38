"""TPC-H data as Parquet, generated once per scale factor by ``tpchgen-cli`` into a cache folder."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

TABLES = ("lineitem", "orders", "customer", "part", "partsupp", "supplier", "nation", "region")
DATA_ROOT = Path(__file__).resolve().parent.parent / ".data"


def sf_label(sf: float) -> str:
    """0.1 -> '0.1', 1.0 -> '1' (folder names); see also schema_name()."""
    return f"{sf:g}"


def data_dir(sf: float) -> Path:
    return DATA_ROOT / f"sf{sf_label(sf)}"


def _tpchgen() -> str:
    beside = Path(sys.executable).with_name("tpchgen-cli")
    found = str(beside) if beside.exists() else shutil.which("tpchgen-cli")
    if not found:
        raise SystemExit("tpchgen-cli not found: pip install -e '.[bench]' (it is in the bench extra)")
    return found


def ensure_parquet(sf: float, log=print) -> Path:
    """Generate ``<table>.parquet`` for all eight tables unless they are already there."""
    folder = data_dir(sf)
    if all((folder / f"{t}.parquet").exists() for t in TABLES):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    log(f"generating TPC-H SF {sf_label(sf)} Parquet into {folder} ...")
    subprocess.run([_tpchgen(), "parquet", "-s", str(sf), "-o", str(folder), "--overwrite"], check=True)
    return folder


def row_counts(folder: Path) -> dict[str, int]:
    return {t: pq.ParquetFile(folder / f"{t}.parquet").metadata.num_rows for t in TABLES}
