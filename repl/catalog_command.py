"""``fedq catalog …``: the home catalog from the shell.

    fedq catalog export [CATALOG] [-o FILE]   a TOML file that recreates every source and view
    fedq catalog path                         where the home catalog lives
"""
from __future__ import annotations

import argparse
import os
import sys

import fedq
from fedq.catalog.home import home_directory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedq catalog", description="Inspect and export fedq's home catalog.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write a TOML file that recreates the sources and views")
    export.add_argument("catalog", nargs="?", help="also include this catalog file's sources and views")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    commands.add_parser("path", help="print the home catalog directory ($FEDQ_HOME or the user config dir)")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "path":
        print(home_directory(None))
        return 0
    try:
        with fedq.connect(args.catalog) as connection:
            text = connection.export_catalog()
    except fedq.Error as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    if not args.output:
        sys.stdout.write(text)
        return 0
    descriptor = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
