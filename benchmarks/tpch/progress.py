"""One live status line on stderr (rewritten in place on a terminal, one line per query otherwise)."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total, self.stream = total, stream
        self.started = time.perf_counter()
        self.live = stream.isatty()
        self.width = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def show(self, index: int, number: int, engine: str, step: str) -> None:
        text = f"[{index}/{self.total}] Q{number:02d}  {engine:<15} {step:<10} elapsed {self.elapsed():6.1f} s"
        if self.live:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
            self.stream.flush()

    def done(self, index: int, number: int, summary: str) -> None:
        text = f"[{index}/{self.total}] Q{number:02d}  {summary}  (elapsed {self.elapsed():.1f} s)"
        self.stream.write(("\r" + text.ljust(self.width) if self.live else text) + "\n")
        self.width = 0
        self.stream.flush()

    def log(self, message: str) -> None:
        if self.live and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        self.stream.write(message + "\n")
        self.stream.flush()
