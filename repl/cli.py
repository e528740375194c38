"""The ``fedq`` command.

    fedq [CATALOG.toml]            open the REPL
    fedq demo                      build the demo data once and open the REPL on it
    fedq [CATALOG] -c "SQL"        run statements and exit (status 1 if one failed, 130 on Ctrl-C)
    fedq [CATALOG] -f FILE.sql     run the statements of a file and exit, as psql -f (-c and -f run in order)
    fedq [CATALOG] -c "SQL" -o F   the same, results written to file F (refused if F exists, unless --overwrite)
    echo "SQL;" | fedq [CATALOG]   same, from stdin
    fedq bench [ARGS]              the TPC-H benchmark, from a source checkout (benchmarks/README.md)
    fedq catalog export [-o FILE]  a TOML file that recreates the home catalog's sources and views
    fedq serve [CATALOG]           the catalog behind the PostgreSQL protocol
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import fedq
from fedq.repl.output import FORMATS


SUBCOMMANDS = """commands:
  fedq serve [CATALOG]            serve the catalog over the PostgreSQL protocol (fedq serve --help)
  fedq catalog export [-o FILE]   write a TOML file that recreates the home catalog (fedq catalog --help)
  fedq demo                       build a small company's data over several sources and open the REPL on it
  fedq bench [ARGS]               the TPC-H benchmark, from a source checkout (fedq bench --help)"""


class _Script(argparse.Action):
    """-c and -f append to one list, so they run in the order given (as psql runs them)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any,
                 option: str | None = None) -> None:
        scripts = getattr(namespace, self.dest) or []
        scripts.append((self.const, value))
        setattr(namespace, self.dest, scripts)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedq",
        description="Federated SQL over PostgreSQL, MySQL, SQLite, DuckDB files, REST APIs and Parquet/CSV files. "
                    "With no -c or -f, opens the REPL (\\? there lists its commands).",
        epilog=SUBCOMMANDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("catalog", nargs="?", help="catalog TOML file, or 'demo'")
    parser.add_argument("-c", "--command", dest="scripts", action=_Script, const="command", metavar="SQL",
                        help="run this SQL (or \\command) and exit; repeatable")
    parser.add_argument("-f", "--file", dest="scripts", action=_Script, const="file", metavar="FILE",
                        help="run the statements in FILE and exit ('-' reads stdin); repeatable")
    parser.add_argument("--format", choices=FORMATS, default=None, help="result format (default: table)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write results to FILE (format from its extension "
                        "unless --format is given); an existing FILE is not replaced unless --overwrite")
    parser.add_argument("--overwrite", action="store_true", help="let -o replace an existing file")
    parser.add_argument("--no-pushdown", action="store_true", help="compute everything locally (for comparison)")
    parser.add_argument("--version", action="version", version=f"fedq {fedq.__version__}")
    return parser


def _open(catalog: str | None, pushdown: bool) -> tuple[fedq.Connection, str | None, str | None]:
    """The connection, the banner when the demo is asked for, and the catalog file (for \\conninfo)."""
    if catalog == "demo":
        from fedq.repl.demo import banner, build_demo

        path = build_demo(progress=lambda message: print(message, file=sys.stderr))
        con = fedq.connect(path, pushdown=pushdown)
        return con, banner(path, with_postgres="pg" in con.catalog.sources), str(path)
    return fedq.connect(catalog, pushdown=pushdown), None, catalog


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
    """``fedq serve``: the catalog behind the PostgreSQL wire protocol (server/, installed as fedq.server)."""
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
    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C outside a query (connecting, a meta command): no traceback
        print("ERROR: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(args: argparse.Namespace) -> int:
    from fedq.repl.commands import Settings, close_output, open_output
    from fedq.repl.runner import Runner

    fmt = args.format or (_format_of(args.output) if args.output else None)
    try:
        scripts = [_script_text(kind, value) for kind, value in args.scripts or []]
        connection, banner, catalog_file = _open(args.catalog, not args.no_pushdown)
        output = open_output(args.output, args.overwrite) if args.output else None
    except fedq.Error as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    settings = Settings(catalog_file=catalog_file)
    with connection:
        if scripts or not sys.stdin.isatty() or output is not None:
            runner = Runner(connection, out=sys.stdout, err=sys.stderr, settings=settings)
            runner.settings.output, runner.settings.output_name = output, args.output
            if fmt:
                runner.settings.format = fmt
            try:
                ok = True
                for script in scripts or [sys.stdin.read()]:
                    ok = runner.run_script(script) and ok
                    if runner.quit or runner.cancelled:
                        break
            finally:
                close_output(runner.settings)
            if runner.cancelled:
                _exit_cancelled(connection)
            return 0 if ok else 1
        from fedq.repl.app import run_repl

        return run_repl(connection, banner or f"fedq {fedq.__version__} — \\? for commands, \\q to quit",
                        settings=settings)


def _script_text(kind: str, value: str) -> str:
    """A -c command (a missing final ``;`` added) or the text of a -f file."""
    if kind == "command":
        return value if value.strip().startswith("\\") or value.rstrip().endswith(";") else value + ";"
    if value == "-":
        return sys.stdin.read()
    try:
        with open(value, encoding="utf-8") as file:
            return file.read()
    except OSError as error:
        raise fedq.ProgrammingError(f"-f: cannot read file '{value}': {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise fedq.ProgrammingError(f"-f: file '{value}' is not UTF-8 text") from None


def _exit_cancelled(connection: fedq.Connection) -> None:
    """Exit 130 after Ctrl-C stopped a query. Not through interpreter shutdown: a DuckDB thread of the
    cancelled query that still calls into Python then would abort the process (SIGABRT)."""
    connection.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _format_of(path: str) -> str:
    """-o's format from the file's extension: .csv, .tsv, .json, .jsonl/.ndjson, .md, .html; else a table."""
    if path.lower().endswith((".parquet", ".pq")):
        raise SystemExit(f"ERROR: -o writes text ({', '.join(FORMATS)}); for Parquet run "
                         f"COPY (query) TO '{path}' (FORMAT parquet)")
    suffix = os.path.splitext(path)[1].lower()
    return {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".md": "markdown",
            ".html": "html", ".htm": "html"}.get(suffix, "table")


if __name__ == "__main__":
    sys.exit(main())
