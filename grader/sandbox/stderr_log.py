"""The worker's stderr, drained into a bounded log file in its scratch directory."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from pathlib import Path
from typing import Any

from grader.core.terminal import printable

__all__ = ["StderrDrain"]

LOG_LIMIT = 1024 * 1024
TAIL_LIMIT = 4096


class StderrDrain(threading.Thread):
    """Copies the worker's stderr into a bounded log so the pipe never fills up.

    Nothing read here feeds a decision; it is for people debugging the grader.
    """

    def __init__(self, stream: Any, log_path: Path, echo: bool) -> None:
        super().__init__(name="grader-worker-stderr", daemon=True)
        self._fd = stream.fileno()
        self._stream = stream
        self._log = open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self._echo = echo
        self._logged = 0
        self._echoed = 0
        self._stopping = threading.Event()
        self.tail = b""

    def stop(self) -> None:
        self._stopping.set()

    def _take(self, data: bytes) -> None:
        self.tail = (self.tail + data)[-TAIL_LIMIT:]
        if self._logged < LOG_LIMIT:
            chunk = data[: LOG_LIMIT - self._logged]
            self._log.write(chunk)
            self._logged += len(chunk)
            if self._logged >= LOG_LIMIT:
                self._log.write(b"\n[log truncated]\n")
            self._log.flush()
        if self._echo and self._echoed < LOG_LIMIT:
            # The worker's text is untrusted: no escape sequences reach the terminal, and no more than the log keeps.
            chunk = data[: LOG_LIMIT - self._echoed]
            self._echoed += len(chunk)
            try:
                text = chunk.decode("utf-8", "replace")
                sys.stderr.write(printable(text, keep="\n\t "))
                sys.stderr.flush()
            except (AttributeError, ValueError, OSError):
                pass

    def run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while True:
                events = poller.poll(200)
                if not events:
                    if self._stopping.is_set():
                        return
                    continue
                try:
                    data = os.read(self._fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self._take(data)
        finally:
            with contextlib.suppress(OSError, ValueError):
                self._log.close()
            with contextlib.suppress(OSError, ValueError):
                self._stream.close()
