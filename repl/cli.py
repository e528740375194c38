"""The ``fedq`` command.

    fedq [CATALOG.toml]            open the REPL
    fedq demo                      build the demo data once and open the REPL on it
    fedq [CATALOG] -c "SQL"        run statements and exit (status 1 if one failed)
    echo "SQL;" | fedq [CATALOG]   same, from stdin
    fedq bench [ARGS]              the TPC-H benchmark, from a source checkout (benchmarks/README.md)
    fedq catalog export [-o FILE]  a TOML file that recreates the home catalog's sources and views
"""
from __future__ import annotations

import argparse
import sys

import fedq
from fedq.repl.output import FORMATS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedq",
        description="Federated SQL over PostgreSQL, SQLite, DuckDB files and Parquet/CSV files.",
        epilog="Use 'fedq demo' to try it on a small company's data spread over several sources.",
    )
    parser.add_argument("catalog", nargs="?", help="catalog TOML file, or 'demo'")
    parser.add_argument("-c", "--command", action="append", help="run this SQL (or \\command) and exit; repeatable")
    parser.add_argument("-f", "--format", choices=FORMATS, default=None, help="result format (default: table)")
    parser.add_argument("--no-pushdown", action="store_true", help="compute everything locally (for comparison)")
    parser.add_argument("--version", action="version", version=f"fedq {fedq.__version__}")
    return parser


def _open(catalog: str | None, pushdown: bool) -> tuple[fedq.Connection, str | None]:
    """The connection, and the banner when the demo is asked for."""
    if catalog == "demo":
        from fedq.repl.demo import banner, build_demo

        path = build_demo(progress=lambda message: print(message, file=sys.stderr))
        con = fedq.connect(path, pushdown=pushdown)
        return con, banner(path, with_postgres="pg" in con.catalog.sources)
    return fedq.connect(catalog, pushdown=pushdown), None


def _bench(argv: list[str]) -> int:
    """``fedq bench ...`` is ``python -m benchmarks.tpch ...``; benchmarks/ sits beside fedq/ in a checkout."""
    from pathlib import Path

    root = Path(fedq.__file__).resolve().parent.parent
    if (root / "benchmarks" / "tpch").is_dir() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from benchmarks.tpch.__main__ import main as bench
    except ImportError as error:
        print(f"ERROR: fedq bench needs a fedq source checkout with benchmarks/ ({error})", file=sys.stderr)
        return 2
    return bench(argv)


def _serve(argv: list[str]) -> int:
    """``fedq serve``: the catalog behind the PostgreSQL wire protocol (fedq/server.py)."""
    import logging

    from fedq.server import DEFAULT_HOST, DEFAULT_PORT, serve

    parser = argparse.ArgumentParser(prog="fedq serve", description="Serve a catalog over the PostgreSQL protocol.")
    parser.add_argument("catalog", nargs="?", help="catalog TOML file (its [server] section: host, port, users)")
    parser.add_argument("--host", default=None, help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log connections and cancellations")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")
    try:
        return serve(args.catalog, args.host, args.port, out=lambda line: print(line, file=sys.stderr, flush=True))
    except (fedq.Error, OSError) as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    if argv[:1] == ["serve"]:
        return _serve(argv[1:])
    if argv[:1] == ["catalog"]:
        from fedq.repl.catalog_command import main as catalog_command

        return catalog_command(argv[1:])
    args = _parser().parse_args(argv)
    from fedq.repl.runner import Runner

    try:
        connection, banner = _open(args.catalog, not args.no_pushdown)
    except fedq.Error as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    with connection:
        if args.command or not sys.stdin.isatty():
            runner = Runner(connection, out=sys.stdout, err=sys.stderr)
            if args.format:
                runner.settings.format = args.format
            script = "\n".join(c if c.strip().startswith("\\") or c.rstrip().endswith(";") else c + ";"
                               for c in args.command) if args.command else sys.stdin.read()
            return 0 if runner.run_script(script) else 1
        from fedq.repl.app import run_repl

        return run_repl(connection, banner or f"fedq {fedq.__version__} — \\help for commands, \\q to quit")


if __name__ == "__main__":
    sys.exit(main())
