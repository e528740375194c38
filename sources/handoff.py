"""Handing items from a producer thread to a bounded queue without ever blocking past a stop signal."""
from __future__ import annotations

import queue
import threading
from typing import Any


def put_until_stopped(target: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put ``item`` once there is room; False (item dropped) if ``stop`` is set first, so a producer
    whose consumer has gone away never waits for ever."""
    while not stop.is_set():
        try:
            target.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
