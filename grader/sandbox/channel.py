"""The parent's side of the worker protocol: requests out, bounded replies in, output files fetched.

Requests go to the worker's stdin and replies come back on a pipe of their own, one JSON
object per line (see :mod:`grader.sandbox.worker`). Everything that comes back is untrusted:
a reply's size is checked before it is parsed, and an op's output file arrives inside the
reply (the task folder is read-only to the worker), its size checked before it is decoded.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import select
import time
from typing import Any, Mapping

from grader.sandbox.errors import MemoryExceeded, TaskFailed, WorkerCrashed, memory_message, one_line
from grader.sandbox.limits import Limits
from grader.sandbox.worker import REPLY_LIMIT, size_text

__all__ = ["ChannelClosed", "Deadline", "ProtocolError", "send", "ReplyReader", "read_result", "decode_output"]


class ChannelClosed(Exception):
    """The worker's end of the channel is closed: it exited, crashed or closed the pipe."""


class Deadline(Exception):
    """The deadline passed before the message was sent or a whole reply arrived."""


class ProtocolError(Exception):
    """What arrived is not one JSON object within the size limit; the message says how."""


def _ready(poller: select.poll, deadline: float) -> bool:
    """One poll that ends by ``deadline``: whether the descriptor is ready. Raises Deadline once it has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Deadline
    return bool(poller.poll(max(1, int(remaining * 1000))))


def send(fd: int, data: bytes, deadline: float) -> None:
    """Write all of ``data`` to the worker's non-blocking stdin ``fd``; Deadline or ChannelClosed if it cannot."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    view = memoryview(data)
    while view:
        if not _ready(poller, deadline):
            continue
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            raise ChannelClosed from None


class ReplyReader:
    """The read end of a worker's reply pipe (non-blocking), and what arrived past the last message."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    @property
    def unread(self) -> bool:
        """Whether bytes past the last message arrived."""
        return bool(self._buffer)

    def read_message(self, deadline: float, limit: int = REPLY_LIMIT) -> dict[str, Any]:
        """The next JSON line from the reply channel, within the deadline and ``limit`` bytes.

        The size is checked before the line is parsed: a reply is untrusted input.
        """
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while b"\n" not in self._buffer:
            if len(self._buffer) > limit:
                raise ProtocolError(f"reply longer than {size_text(limit)}")
            if not _ready(poller, deadline):
                continue
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                raise ChannelClosed
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > limit:
            raise ProtocolError(f"reply longer than {size_text(limit)}")
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            raise ProtocolError("reply is not JSON") from None
        if not isinstance(message, dict):
            raise ProtocolError("reply is not a JSON object")
        return message

    def close(self) -> None:
        """Close the pipe; later calls do nothing (the number may already name another file)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def read_result(reply: Mapping[str, Any], request_id: int, limits: Limits) -> dict[str, Any]:
    """The op's result in ``reply``; MemoryExceeded or TaskFailed when the op failed, WorkerCrashed
    when the reply breaks the protocol (the worker must then not be given another task)."""
    if reply.get("id") != request_id:
        raise WorkerCrashed("the worker broke the reply protocol (reply for another request)")
    if reply.get("ok") is True and isinstance(reply.get("result"), dict):
        return reply["result"]
    if reply.get("ok") is False:
        if reply.get("kind") == "memory":
            raise MemoryExceeded(memory_message(limits))
        raise TaskFailed(one_line(str(reply.get("error") or "the op failed without a message")))
    raise WorkerCrashed("the worker broke the reply protocol (malformed reply)")


def decode_output(reply: Mapping[str, Any], name: str, limit: int) -> bytes:
    """The bytes of the op's output file ``name`` carried base64-encoded in ``reply``; at most
    ``limit`` bytes, the encoded length checked before it is decoded."""
    encoded = reply.get("output")
    if not isinstance(encoded, str) or len(encoded) > 4 * ((limit + 2) // 3):
        raise WorkerCrashed(f"the worker broke the reply protocol (no readable {name})")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise WorkerCrashed(f"the worker broke the reply protocol ({name} is not base64)") from None
    if len(data) > limit:
        raise TaskFailed(f"the task's {name} is {size_text(len(data))}, over the {size_text(limit)} it may take")
    return data
