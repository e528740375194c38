"""A real TCP proxy on 127.0.0.1 that injects network faults between fedq and a server.

Sources connect to the proxy's port instead of the server's. The fault is global and live: setting
it applies at once to every open connection and to every new one, and "after N bytes" counts the
bytes each connection receives from the server *since the fault was set*.

=============  ==============================================================================
``pass``       forward everything (the default)
``latency``    sleep ``delay`` seconds before forwarding each chunk (both directions)
``drop``       after ``after`` bytes from the server, close both sides (the client sees EOF)
``swallow``    after ``after`` bytes from the server, forward nothing more in either direction but
               keep both sockets open and keep reading (and discarding) what arrives. With
               ``after > 0`` a fresh connection gets through until it too has received ``after``
               bytes: one stuck flow, so a cancel request on a new connection reaches the server.
               With ``after = 0`` nothing gets through on any connection: a blackholed path, where
               a cancel request on a new connection is swallowed as well.
``refuse``     close the listening port (connections are refused) and every open connection
=============  ==============================================================================

Bounded: at most ``max_connections`` open connections (more are closed at accept), two pump
threads each, every blocking call has a 0.1 s timeout so :meth:`close` stops everything promptly.
Traffic goes only to the given upstream on 127.0.0.1.
"""
from __future__ import annotations

import select
import socket
import threading
import time
from dataclasses import dataclass

CHUNK = 16_384
POLL = 0.1


@dataclass(frozen=True)
class Fault:
    mode: str = "pass"  # pass, latency, drop, swallow, refuse
    delay: float = 0.0  # latency: seconds per chunk
    after: int = 0  # drop / swallow: bytes from the server that still pass


class _Pair:
    """One client connection and its upstream connection, with per-fault byte counts."""

    def __init__(self, client: socket.socket, upstream: socket.socket, epoch: int) -> None:
        self.client, self.upstream = client, upstream
        self.epoch = epoch  # the fault generation the counts below belong to
        self.from_server = 0
        self.closed = threading.Event()
        self.threads: list[threading.Thread] = []

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass


class FaultProxy:
    """``FaultProxy(upstream_port)``: listens on 127.0.0.1 (``port``), forwards to 127.0.0.1:upstream_port."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1", max_connections: int = 32) -> None:
        if upstream_host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fault proxy only forwards to this machine")
        self.upstream = (upstream_host, upstream_port)
        self.max_connections = max_connections
        self._lock = threading.Lock()
        self._fault = Fault()
        self._epoch = 0
        self._pairs: set[_Pair] = set()
        self._stopping = threading.Event()
        self.accepted = 0  # connections accepted since start (for tests and reports)
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()
        self._acceptor = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)
        self._acceptor.start()

    # -- control ------------------------------------------------------------------------
    @property
    def fault(self) -> Fault:
        return self._fault

    def set(self, mode: str = "pass", *, delay: float = 0.0, after: int = 0) -> None:
        """Change the fault now, for open and new connections; byte counts restart at zero."""
        fault = Fault(mode, delay, after)
        if mode not in ("pass", "latency", "drop", "swallow", "refuse"):
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            self._fault = fault
            self._epoch += 1
            pairs = list(self._pairs)
        if mode == "refuse":
            self._unlisten()
            for pair in pairs:
                pair.close()
        elif self._listener is None:
            self._listen()

    def cut(self) -> None:
        """Close every open connection (the client sees EOF), as a failing path finally does; keep listening."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.close()

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def close(self) -> None:
        """Stop accepting, close every connection and join every thread."""
        self._stopping.set()
        self._unlisten()
        self._acceptor.join(timeout=2)
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.close()
        for pair in pairs:
            for thread in pair.threads:
                thread.join(timeout=2)

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- listening ----------------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))  # the same port again after "refuse"
        listener.listen(16)
        listener.settimeout(POLL)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener

    def _unlisten(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(POLL)
                continue
            try:
                client, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                full = len(self._pairs) >= self.max_connections
                epoch = self._epoch
            if full:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=3)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(POLL)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = _Pair(client, upstream, epoch)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            pair.threads = [
                threading.Thread(target=self._pump, args=(pair, client, upstream, False), name="faultproxy-up", daemon=True),
                threading.Thread(target=self._pump, args=(pair, upstream, client, True), name="faultproxy-down", daemon=True),
            ]
            for thread in pair.threads:
                thread.start()

    # -- forwarding ---------------------------------------------------------------------
    def _current(self, pair: _Pair) -> Fault:
        with self._lock:
            if pair.epoch != self._epoch:  # the fault changed: counts restart
                pair.epoch, pair.from_server = self._epoch, 0
            return self._fault

    def _pump(self, pair: _Pair, source: socket.socket, target: socket.socket, from_server: bool) -> None:
        try:
            while not pair.closed.is_set() and not self._stopping.is_set():
                try:
                    ready, _, _ = select.select([source], [], [], POLL)
                except (OSError, ValueError):
                    break
                if not ready:
                    continue
                try:
                    data = source.recv(CHUNK)
                except socket.timeout:
                    continue
                except OSError:
                    break
                fault = self._current(pair)
                if not data:  # EOF: pass it on unless the fault swallows it
                    if fault.mode == "swallow" and pair.from_server >= fault.after:
                        while not pair.closed.is_set() and not self._stopping.is_set():
                            time.sleep(POLL)  # a blackhole never says goodbye
                    break
                if fault.mode == "latency":
                    time.sleep(fault.delay)
                elif fault.mode in ("drop", "swallow"):
                    room = max(0, fault.after - pair.from_server)
                    if from_server:
                        passing = data[:room]
                        pair.from_server += len(passing)
                        if len(passing) < len(data) and fault.mode == "drop":
                            self._send(target, passing)
                            break
                        data = passing
                    elif room == 0:
                        data = b""  # swallowed
                if data and not self._send(target, data):
                    break
        finally:
            pair.close()
            with self._lock:
                self._pairs.discard(pair)

    def _send(self, target: socket.socket, data: bytes) -> bool:
        view = memoryview(data)
        while view and not self._stopping.is_set():
            try:
                sent = target.send(view)
            except socket.timeout:
                continue
            except OSError:
                return False
            view = view[sent:]
        return not view
