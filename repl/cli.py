"""The ``fedq`` console script: ``fedq -c SQL [CATALOG]`` runs one statement; the REPL is coming."""
from __future__ import annotations

import argparse
import csv
import sys

import fedq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fedq", description="Federated SQL over PostgreSQL, SQLite and files.")
    parser.add_argument("catalog", nargs="?", help="catalog TOML file")
    parser.add_argument("-c", "--command", help="run one SQL statement and exit")
    parser.add_argument("--version", action="version", version=f"fedq {fedq.__version__}")
    args = parser.parse_args(argv)
    if args.catalog == "demo" or not args.command:
        print("fedq: the interactive REPL and `fedq demo` are coming soon (issue 3); use -c \"SQL\" for now.")
        return 0
    try:
        with fedq.connect(args.catalog) as con:
            cursor = con.execute(args.command)
            if cursor.description:
                writer = csv.writer(sys.stdout)
                writer.writerow([d[0] for d in cursor.description])
                writer.writerows(cursor.fetchall())
    except fedq.Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
