"""The sandboxed worker process: ``python -m grader.sandbox.worker --kind {keras,plain} --ops MODULE``.

The grader never loads a student's model or imports a student's Python in its own
process; it asks a worker (started by :mod:`grader.sandbox.process`) to do it.

Protocol, one JSON object per line:

* requests arrive on stdin: ``{"id": 7, "op": "probe", "payload": {...}, "dir": "/scratch/task-x"}``;
* replies leave on the file descriptor given by ``--reply-fd``, never on stdout:
  ``{"id": 7, "ok": true, "result": {...}}`` or
  ``{"id": 7, "ok": false, "error": "ValueError: ...", "kind": "exception" | "memory"}``;
* after its imports and ``WARMUP`` the worker announces ``{"ready": true, "pid": ..., ...}``,
  or ``{"ready": false, "error": "..."}`` before exiting if it cannot start.

``MODULE`` must define ``OPS: dict[str, Callable[[dict, Path], dict]]`` (payload and task
directory to a JSON-able dict) and may define ``WARMUP: Callable[[], None]``, which runs
while the worker may still be root, before it drops to ``--uid``/``--gid``.

After the drop the worker usually cannot read the interpreter's own files (on the grading
machines Python lives under a 0700 ``/root``), so everything an op needs must be imported
at module import or in ``WARMUP``; :data:`PRELOAD` covers the stdlib student code commonly uses.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import gc
import importlib
import json
import os
import shutil
import stat
import tempfile
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from grader.core.terminal import printable

REPLY_LIMIT = 4 * 1024 * 1024
REQUEST_LIMIT = 64 * 1024 * 1024
MESSAGE_LIMIT = 300
# Exit status when even a "memory" reply could not be built; the parent maps it to MemoryExceeded.
EXIT_OUT_OF_MEMORY = 86
EXIT_STARTUP_FAILED = 87

KINDS = ("keras", "plain")

KERAS_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "CUDA_VISIBLE_DEVICES": "",
    "KERAS_BACKEND": "tensorflow",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

PRELOAD = (
    "__future__", "_strptime", "abc", "array", "ast", "base64", "binascii", "bisect", "calendar",
    "cmath", "collections", "collections.abc", "contextlib", "copy", "copyreg", "csv", "dataclasses",
    "datetime", "decimal", "enum", "fnmatch", "fractions", "functools", "glob", "hashlib", "heapq",
    "inspect", "io", "itertools", "json", "linecache", "locale", "logging", "math", "numbers",
    "operator", "pathlib", "pickle", "pprint", "queue", "random", "re", "shutil", "socket",
    "statistics", "string", "struct", "tempfile", "textwrap", "threading", "time", "tokenize",
    "traceback", "types", "typing", "unicodedata", "uuid", "warnings", "weakref", "zipfile", "zlib",
    # codecs are imported on first use; zipfile (hence np.load of .npz) needs cp437
    "encodings.ascii", "encodings.cp1252", "encodings.cp437", "encodings.idna", "encodings.latin_1",
    "encodings.raw_unicode_escape", "encodings.unicode_escape", "encodings.utf_16", "encodings.utf_32",
    "encodings.utf_8", "encodings.utf_8_sig",
    "numpy", "numpy.typing",
)
OPTIONAL_PRELOAD = ("typing_extensions",)

PR_SET_NO_NEW_PRIVS = 38

Op = Callable[[dict, Path], dict]


def one_line(exc: BaseException, limit: int = MESSAGE_LIMIT) -> str:
    """``"Type: message"`` on a single line of at most ``limit`` characters; never raises."""
    try:
        text = str(exc)
    except Exception:
        text = "<message could not be printed>"
    name = type(exc).__name__
    # Ops raise plain RuntimeErrors with messages already worded for the student.
    prefix = "" if type(exc) is RuntimeError and text else f"{name}: "
    line = " ".join(f"{prefix}{text}".split()) if text else name
    line = printable(line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _send(fd: int, message: dict[str, Any]) -> None:
    _write_all(fd, json.dumps(message).encode("ascii") + b"\n")


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays are what ops most often return by accident.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def encode_reply(reply: dict[str, Any]) -> bytes:
    """The reply as one JSON line of at most :data:`REPLY_LIMIT` bytes (plus a requested output file).

    A result that cannot be encoded or is too large becomes an error reply for the same id.
    """
    try:
        data = json.dumps(reply, default=_jsonable).encode("ascii")
    except MemoryError as exc:
        return encode_reply({"id": reply.get("id"), "ok": False, "error": one_line(exc), "kind": "memory"})
    except (TypeError, ValueError, RecursionError) as exc:
        return encode_reply({"id": reply.get("id"), "ok": False, "kind": "exception",
                             "error": f"result is not JSON: {one_line(exc, MESSAGE_LIMIT - 20)}"})
    output = reply.get("output")
    if len(data) + 1 > REPLY_LIMIT + (len(output) if isinstance(output, str) else 0):
        return encode_reply({"id": reply.get("id"), "ok": False, "kind": "exception",
                             "error": f"result too large: {len(data)} bytes (limit {REPLY_LIMIT // 2**20} MiB)"})
    return data + b"\n"


def handle(request: Any, ops: dict[str, Op], home: Path) -> dict[str, Any]:
    """Run one request and return its reply; exceptions from the op become error replies.

    ``request["output"] = {"name": ..., "limit": ...}`` asks for a file the op leaves in its
    working folder, returned base64-encoded as ``reply["output"]``.
    """
    request_id = request.get("id") if isinstance(request, dict) else None
    scratch = None
    try:
        if not isinstance(request, dict):
            raise ValueError("request must be a JSON object")
        name = request.get("op")
        if name not in ops:
            raise LookupError(f"unknown op {name!r} (known: {', '.join(sorted(ops))})")
        payload = request.get("payload") or {}
        task_dir = Path(request.get("dir") or home)
        # The task folder holds the inputs, read-only; the op works (and leaves its output) in
        # a scratch folder of its own in the worker's private, size-limited TMPDIR.
        scratch = Path(tempfile.mkdtemp(prefix="task-"))
        for entry in os.listdir(task_dir):   # the inputs, by the names the op knows them by
            os.symlink(task_dir / entry, scratch / entry)
        os.chdir(scratch)
        result = ops[name](payload, task_dir)
        if not isinstance(result, dict):
            raise TypeError(f"op {name!r} returned {type(result).__name__}, expected dict")
        reply = {"id": request_id, "ok": True, "result": result}
        output = request.get("output")
        if isinstance(output, dict):
            reply["output"] = read_output(scratch, str(output.get("name")), int(output.get("limit", 0)))
        return reply
    except MemoryError as exc:
        return {"id": request_id, "ok": False, "error": one_line(exc), "kind": "memory"}
    except BaseException as exc:  # student code may raise SystemExit or KeyboardInterrupt
        try:
            traceback.print_exc()
        except Exception:
            pass
        return {"id": request_id, "ok": False, "error": one_line(exc), "kind": "exception"}
    finally:
        try:
            os.chdir(home)
        except OSError:
            pass
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def size_text(n: int) -> str:
    """``n`` bytes as "3 MiB", "12 KiB" or "100 bytes"."""
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 1024:g} KiB" if n >= 1024 else f"{n} bytes"


def read_output(scratch: Path, name: str, limit: int) -> str:
    """The file ``name`` the op left in ``scratch``, base64-encoded, if it is a regular file of at most ``limit`` bytes."""
    try:
        fd = os.open(scratch / os.path.basename(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise RuntimeError(f"the task produced no {name}") from None
    except OSError as exc:
        raise RuntimeError(f"the task's {name} cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RuntimeError(f"the task's {name} is not a regular file it wrote")
        if info.st_size > limit:
            raise RuntimeError(f"the task's {name} is {size_text(info.st_size)}, over the {size_text(limit)} it may take")
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
        if len(data) > limit:
            raise RuntimeError(f"the task's {name} grew past the {size_text(limit)} it may take")
        return base64.b64encode(data).decode("ascii")
    finally:
        os.close(fd)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _pid_namespace_is_new() -> bool:
    try:
        own = os.readlink("/proc/self/ns/pid")
    except OSError:
        return False
    try:
        return own != os.readlink("/proc/self/ns/pid_for_children")
    except FileNotFoundError:
        # The kernel hides pid_for_children until the namespace has its first process,
        # which is exactly the case of a namespace the parent has just unshared for us.
        return True
    except OSError:
        return False


def _detach_descriptors() -> None:
    os.closerange(3, max(256, os.sysconf("SC_OPEN_MAX")))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)


def _exit_like(status: int) -> None:
    """Exit with the wait ``status`` of a child: same exit code, or death by the same signal."""
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    if code > 128:
        try:
            number = signal.Signals(code - 128)
            if number not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
        except (ValueError, OSError):
            pass
    os._exit(code)


def _serve_as_namespace_init(worker: int, uid: int | None, gid: int | None) -> None:
    """Body of PID 1 of the namespace: reap orphans until ``worker`` ends, then end with it.

    The kernel then kills every other process in the namespace, including children that left
    the worker's process group with setsid(). A namespace init cannot kill itself with a
    signal, so a signal death is passed on as exit code 128 + signal.
    """
    try:
        _detach_descriptors()
        if uid is not None and gid is not None:
            drop_privileges(uid, gid)
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                os._exit(0)
            if pid == worker:
                os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
    finally:
        os._exit(70)


def enter_pid_namespace(uid: int | None, gid: int | None) -> bool:
    """Continue as the worker inside the PID namespace the parent prepared, if there is one.

    The process the parent started cannot create threads once its children belong to another
    PID namespace, so it forks the namespace's init, which forks the real worker; the outer
    process only waits and exits the way the worker did. Must run before any thread exists.
    Returns whether the caller is now inside a fresh PID namespace.
    """
    if not _pid_namespace_is_new():
        return False
    init = os.fork()
    if init:
        try:
            _detach_descriptors()
            _, status = os.waitpid(init, 0)
            _exit_like(status)
        finally:
            os._exit(70)
    worker = os.fork()
    if worker:
        _serve_as_namespace_init(worker, uid, gid)
    return True


def host_pid() -> int:
    """This process's id as the grader sees it (``os.getpid()`` is namespace-local)."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups, irreversibly, or raise."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) != (uid, uid, gid, gid):
        raise RuntimeError("privileges were not dropped")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError("root could be regained after dropping privileges")


def forbid_new_privileges() -> bool:
    """Set no_new_privs so setuid binaries cannot raise privileges; whether it took effect."""
    try:
        return _libc().prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0),
                             ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0
    except (OSError, AttributeError):
        return False


def import_framework(kind: str) -> None:
    """Import what every op of ``kind`` relies on; TensorFlow only for "keras"."""
    os.environ["GRADER_WORKER_KIND"] = kind
    for name, value in THREAD_ENV.items():
        os.environ.setdefault(name, value)
    if kind != "keras":
        return
    for name, value in KERAS_ENV.items():
        os.environ.setdefault(name, value)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras  # noqa: F401


def preload() -> None:
    """Import :data:`PRELOAD` (required) and :data:`OPTIONAL_PRELOAD` (if installed)."""
    for name in PRELOAD:
        importlib.import_module(name)
    for name in OPTIONAL_PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def load_ops(module_name: str) -> tuple[dict[str, Op], Callable[[], None] | None]:
    """The ``OPS`` table and optional ``WARMUP`` of ``module_name``."""
    module = importlib.import_module(module_name)
    ops = getattr(module, "OPS", None)
    if not isinstance(ops, dict) or not all(callable(op) for op in ops.values()):
        raise TypeError(f"{module_name}.OPS must be a dict of callables")
    warmup = getattr(module, "WARMUP", None)
    return ops, warmup


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m grader.sandbox.worker")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--ops", required=True, help="module defining OPS (and optionally WARMUP)")
    parser.add_argument("--reply-fd", type=int, default=None, help="where replies go (default: a dup of stdout)")
    parser.add_argument("--uid", type=int, default=None, help="drop to this uid after WARMUP")
    parser.add_argument("--gid", type=int, default=None, help="drop to this gid after WARMUP")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve requests until stdin closes; the return value is the exit status."""
    started = time.monotonic()
    args = _parse_args(argv)
    drop = args.uid is not None and args.gid is not None and os.geteuid() == 0
    pidns = enter_pid_namespace(args.uid if drop else None, args.gid if drop else None)
    reply_fd = args.reply_fd if args.reply_fd is not None else os.dup(1)
    os.set_inheritable(reply_fd, False)
    request_fd = os.dup(0)
    # Stray prints (TensorFlow, student code) must never reach the reply channel, and
    # student input() must not swallow the next request.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    os.umask(0o077)
    home = Path.cwd()
    try:
        import_framework(args.kind)
        preload()
        ops, warmup = load_ops(args.ops)
        if warmup is not None:
            warmup()
        # What is alive now (TensorFlow and Keras: some 300,000 objects) lives as long as the
        # worker. Frozen, it is skipped by every later full collection (clear_session runs one
        # per submission), which otherwise walks it for about 0.25 s each time.
        gc.freeze()
        os.chdir(home)
        if drop:
            drop_privileges(args.uid, args.gid)
        no_new_privs = forbid_new_privileges()
    except BaseException as exc:
        traceback.print_exc()
        try:
            _send(reply_fd, {"ready": False, "error": one_line(exc)})
        except OSError:
            pass
        return EXIT_STARTUP_FAILED

    _send(reply_fd, {
        "ready": True, "pid": host_pid(), "kind": args.kind, "uid": os.getuid(), "gid": os.getgid(),
        "no_new_privs": no_new_privs, "pidns": pidns, "seconds": round(time.monotonic() - started, 3),
    })
    requests = os.fdopen(request_fd, "rb", buffering=1 << 16)
    while True:
        try:
            line = requests.readline(REQUEST_LIMIT)
            if not line:
                return 0
            try:
                request = json.loads(line)
            except ValueError as exc:
                request = None
                reply = {"id": None, "ok": False, "error": one_line(exc), "kind": "exception"}
            else:
                reply = handle(request, ops, home)
            del request
            data = encode_reply(reply)
            del reply
            _write_all(reply_fd, data)
        except MemoryError:
            return EXIT_OUT_OF_MEMORY
        except BrokenPipeError:
            return 0


if __name__ == "__main__":
    sys.exit(main())
