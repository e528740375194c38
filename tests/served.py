"""A real `fedq serve` process on a free 127.0.0.1 port, for the tests (and benchmarks) that speak to it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nothing listens on right now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(catalog: Path, *arguments: str, env: dict[str, str] | None = None,
                 stdout: int | None = subprocess.DEVNULL, stderr: int | None = subprocess.PIPE,
                 seconds: float = 30) -> tuple[subprocess.Popen, int]:
    """``fedq serve catalog`` with ``arguments``, once it accepts connections (stderr: a text pipe by default)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "fedq.repl.cli", "serve", str(catalog), "--port", str(port), *arguments],
                               cwd=ROOT, env={**os.environ, **(env or {})}, stdout=stdout, stderr=stderr, text=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"fedq serve exited: {process.stderr.read() if process.stderr else process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    stop_server(process)
    raise AssertionError("fedq serve did not start listening in time")


def stop_server(process: subprocess.Popen) -> None:
    """Ask it to stop (SIGTERM), then kill it if it has not within 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
