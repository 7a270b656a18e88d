"""Red-team escapes: attacks beyond the original suite, each run for real in a bubblewrap worker.

The first group asserts the secure behaviour and fails while the attack succeeds; the second group
("defended") pins down attacks that are refused today and were not covered elsewhere.

Where an attack needs code running inside the Keras worker, it stands for "anything a crafted model file can
make the loader run": the ``exec`` op of ``attack_ops`` (or an op replaced through it) is that code.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import secrets
import shutil
import sys
import tempfile
import time
import unicodedata
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from escape_kit import (
    HERE,
    OPS,
    PLAIN,
    REFUSED,
    REPO,
    as_text,
    attack,
    succeeded,
    token,
)

from grader.sandbox import bwrap
from grader.sandbox.limits import Limits
from grader.sandbox.pool import WorkerPool
from grader.sandbox.prober import ProbeFailed, SandboxProber
from grader.sandbox.stderr_log import LOG_LIMIT


def control_characters(text: str) -> list[str]:
    """The C0/C1 control characters in ``text`` (ESC, BEL, BS, CSI ...), as escapes."""
    return sorted({repr(ch) for ch in text if unicodedata.category(ch) == "Cc"})


# Replaces the worker's op ``args["op"]`` with one that fails with (or returns) text full of terminal escapes.
ESCAPING_OP = r'''
EVIL = ("\x1b]0;grader: all submissions passed\x07\x1b[2J\x1b[H"
        "\x1b]52;c;cm0gLXJmIH4vY291cnNlCg==\x07\x1b[8mhidden\x1b[0m\x08\x08\x08\x9b31m")

def _raise(payload, task_dir):
    raise RuntimeError("Keras could not load the file: " + EVIL)

def _returns(payload, task_dir):
    return {"outputs": 1, "runs": [], "error": "the model fails: " + EVIL}

sys.modules["attack_ops"].OPS[args["op"]] = _raise if args["how"] == "raise" else _returns
result = "planted"
'''


# -- succeeded: secrets reach the sandbox ----------------------------------------------------------------

def test_packaged_question_bank_and_reference_solutions_are_invisible(spawn, request, monkeypatch):
    """In a wheel install (Gradescope's pip install) the bank's reference answers and reference_models are unreadable."""
    # The layout `pip install .` produces (pyproject maps questions/ into grader/ and ships reference_models),
    # placed in a site-packages folder the worker's view binds as it binds the venv's purelib.
    # Outside /tmp: the worker's private /tmp is mounted over any bind below it.
    root = Path(tempfile.mkdtemp(prefix="grader-redteam-site-", dir="/var/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    site = root / "site-packages"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "grader", site / "grader", ignore=ignore)
    shutil.copytree(REPO / "questions", site / "grader" / "questions", ignore=ignore)
    shutil.copytree(REPO / "reference_models", site / "reference_models", ignore=ignore)
    for folder in (root, site):
        folder.chmod(0o755)
    original_folders = bwrap._python_folders
    monkeypatch.setattr(bwrap, "_PACKAGE_DIR", site / "grader")
    monkeypatch.setattr(bwrap, "_python_folders", lambda: original_folders() + [str(site)])
    bwrap.runtime_view.cache_clear()
    try:
        worker = spawn()
        targets = [f"{bwrap.GRADER_MOUNT}/grader/questions/q3.toml", str(site / "grader/questions/q3.toml"),
                   str(site / "reference_models/lstm_cell.py")]
        result = attack(worker, 'result = {p: read_probe(p) for p in args["paths"]}', {"paths": targets})
    finally:
        monkeypatch.undo()
        bwrap.runtime_view.cache_clear()
    readable = {path: succeeded(methods) for path, methods in result.items() if succeeded(methods)}
    assert not readable, f"the sandbox reads the reference answers / solutions: {readable}"


@pytest.mark.xfail(strict=True, reason="accepted residual risk: code running inside the Keras worker sees every "
                   "held-out window it forecasts; only a loader exploit gets code there (the static allowlist and "
                   "safe_mode refuse code in model files). Defence would need a process per non-overlapping window group.")
def test_held_out_targets_cannot_be_read_off_the_forecast_inputs(spawn, tmp_path):
    """Code in the forecasting worker reads each window's 7 held-out targets off the next windows' inputs."""
    from grader.core.config import DEFAULT_CONFIG, SeriesConfig
    from grader.forecast.evaluation import ForecastEvaluator
    from grader.forecast.metrics import baseline_table, held_out_windows
    from grader.forecast.series import series_from_config

    worker = spawn()
    attack(worker, r'''
import numpy as np

def predict(payload, task_dir):
    last = np.load(task_dir / "inputs.npy")[:, -1, 0]     # each window's newest (held-out) value
    n = len(last)
    ahead = [[last[min(i + k, n - 1)] for k in range(1, 8)] for i in range(n)]
    np.save(payload["out"], np.asarray(ahead, "float32"))
    return {"shape": [n, 7]}

sys.modules["attack_ops"].OPS["predict"] = predict
result = "planted"
''')
    cfg = SeriesConfig.from_table(dict(DEFAULT_CONFIG["series"], seed=secrets.randbits(48)))   # a private seed
    series = series_from_config(cfg, tmp_path)
    seasonal = {row.name: row.mae for row in baseline_table(series, cfg, cfg.window)}["seasonal naive"]
    evaluator = ForecastEvaluator.__new__(ForecastEvaluator)
    evaluator.course = SimpleNamespace(series=cfg, root=tmp_path)
    evaluator.series, evaluator.default_window = series, cfg.window
    evaluator.manifest = {"tasks": {"q4_forecaster": {"mae": 0.8 * seasonal}}}
    evaluator._windows = lru_cache(maxsize=8)(evaluator._make_windows)
    task = SimpleNamespace(id="q4_forecaster", full_credit_at="reference", zero_credit_at="seasonal_naive")
    model = tmp_path / "model.keras"
    model.write_bytes(b"PK")
    evidence = evaluator(task, model, SimpleNamespace(input_shape=(None, cfg.window, 1)),
                         SandboxProber({}, worker=worker))
    windows = held_out_windows(series, cfg, cfg.window)
    exact = [s["index"] for s in evidence["samples"]
             if np.abs(np.asarray(s["forecast"]) - windows.targets[s["index"]] * series.scale).max() < 1.0]
    assert not exact, (f"held-out windows {exact} forecast to the boarding (MAE {evidence['mae']:.0f} vs seasonal "
                       f"naive {seasonal:.0f}, credit {evidence['fraction']:.0%})")


# -- succeeded: one submission affects or reads the next one in a pooled worker -------------------------

@pytest.mark.xfail(strict=True, reason="accepted residual risk: a pooled worker is one process for many submissions "
                   "(TensorFlow is imported once per worker); code that took it over outlives its submission. "
                   "`grader batch --isolate` gives each submission a fresh worker; see the next test for that mode.")
def test_a_pooled_worker_carries_nothing_from_one_submission_to_the_next(tmp_path):
    """Submission A plants code in the batch pool's worker; it forges B's result and steals B's file."""
    canary = token()
    victim_file = tmp_path / "model.keras"
    victim_file.write_text(canary)
    with WorkerPool(1, "plain", PLAIN, ops=OPS, extra_pythonpath=[HERE]) as pool:   # as run_batch builds it
        with pool.acquire() as worker:    # submission A
            attack(worker, r'''
ops = sys.modules["attack_ops"].OPS
honest, stolen = ops["exec"], []

def implant(payload, task_dir):
    if payload.get("args", {}).get("collect"):
        return {"result": stolen}
    for name in os.listdir(task_dir):
        with open(task_dir / name, "rb") as handle:
            stolen.append(handle.read(4096).decode("latin-1"))
    return {"result": "forged by A"}

ops["exec"] = implant
result = "planted"
''')
        with pool.acquire() as worker:    # submission B, honest
            b_result = attack(worker, 'result = "B: " + open("model.keras").read()', files={"model.keras": victim_file})
        with pool.acquire() as worker:    # A again (a resubmission, or A's other task)
            loot = attack(worker, "result = None", {"collect": True})
    assert b_result == f"B: {canary}", f"B's result was replaced: {b_result!r}"
    assert canary not in as_text(loot), "A read B's submitted file"


def test_an_isolated_batch_worker_carries_nothing_from_one_submission_to_the_next(tmp_path):
    """With --isolate (a fresh worker per submission), A's implant neither forges B's result nor reads B's file."""
    canary = token()
    victim_file = tmp_path / "model.keras"
    victim_file.write_text(canary)
    with WorkerPool(1, "plain", PLAIN, ops=OPS, extra_pythonpath=[HERE], isolate=True) as pool:
        with pool.acquire() as worker:
            attack(worker, "import sys\nsys.modules['attack_ops'].OPS['exec'] = lambda p, d: {'result': 'forged'}\n"
                           "result = 'planted'")
        with pool.acquire() as worker:
            b_result = attack(worker, 'result = "B: " + open("model.keras").read()', files={"model.keras": victim_file})
    assert b_result == f"B: {canary}"


KERAS_OPS = '''
from attack_ops import exec_source
from grader.sandbox.ops import OPS as _OPS, WARMUP  # noqa: F401

OPS = dict(_OPS, exec=exec_source)
'''


def test_the_previous_submissions_model_is_gone_from_the_pooled_keras_worker(tmp_path):
    """After B's model is probed, the next submission's code finds B's model (digest, weights) in ops._CACHE."""
    (tmp_path / "redteam_keras_ops.py").write_text(KERAS_OPS)
    tmp_path.chmod(0o755)
    victim = REPO / "tests" / "models" / "q1_seq2vec__bidirectional.keras"
    digest = hashlib.sha256(victim.read_bytes()).hexdigest()
    with WorkerPool(1, "keras", Limits.from_course({}, "keras"), ops="redteam_keras_ops",
                    extra_pythonpath=[HERE, tmp_path], reset_op="forget") as pool:   # as run_batch builds it
        with pool.acquire() as worker:    # submission B: its model is probed
            SandboxProber({}, worker=worker).probe_model(SimpleNamespace(kind="seq2vec", id="q1_seq2vec"),
                                                         victim, None)
        with pool.acquire() as worker:    # submission A: code in its model looks around
            found = attack(worker, r'''
cache = sys.modules["grader.sandbox.ops"]._CACHE
model = cache.get("model")
result = {"digest": cache.get("digest"), "weights": None if model is None else model.get_weights()[0].ravel()[:4].tolist()}
''')
    assert digest not in as_text(found), f"the previous submission's model is still loaded: {found}"


# -- succeeded: worker text reaches the instructor's terminal unsanitised -------------------------------

@pytest.mark.parametrize("how", ["raise", "return"])
def test_probe_messages_from_the_sandbox_hold_no_terminal_control_sequences(spawn, tmp_path, how):
    """A probe error (raised, or in the probe result) carries ESC/OSC/BS sequences to `grader grade`'s terminal."""
    worker = spawn()
    attack(worker, ESCAPING_OP, {"op": "probe_model", "how": how})
    model = tmp_path / "model.keras"
    model.write_bytes(b"PK")
    prober = SandboxProber({}, worker=worker)
    task = SimpleNamespace(kind="seq2vec", id="q1_seq2vec")
    try:
        text = str(prober.probe_model(task, model, None).get("error", ""))
    except ProbeFailed as exc:
        text = str(exc)
    assert "the model fails" in text or "could not load" in text, text
    assert not control_characters(text), f"control characters reach the instructor: {control_characters(text)}"


def test_debug_echo_of_worker_stderr_is_sanitised_and_bounded(monkeypatch, spawn):
    """With GRADER_DEBUG=1 the worker's stderr is copied raw and unbounded to the grader's own stderr."""
    monkeypatch.setenv("GRADER_DEBUG", "1")
    terminal = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", terminal)
    worker = spawn()
    attack(worker, r'''
sys.stderr.write("\x1b]0;owned\x07\x1b[2J\x1b[1;1HFAKE: grading finished, 0 failures\n")
for _ in range(48):
    sys.stderr.write("A" * 65536)
sys.stderr.flush()
result = "written"
''')
    echoed, deadline = b"", time.monotonic() + 10
    while time.monotonic() < deadline:   # the drain thread may still be copying the last chunks
        time.sleep(0.3)
        current = terminal.buffer.getvalue()
        if current == echoed and len(current) >= 3 * 2**20:
            break
        echoed = current
    assert b"\x1b" not in echoed and b"\x07" not in echoed, "terminal escapes reach the grader's stderr"
    assert len(echoed) <= LOG_LIMIT + 65536, f"{len(echoed)} bytes of worker stderr echoed (log keeps {LOG_LIMIT})"


# -- defended ---------------------------------------------------------------------------------------------

FOREIGN_ABI = r'''
import mmap

def int80(number, arg):
    # push rbx; mov eax, number; mov ebx, arg; int 0x80; pop rbx; ret  (the i386 system-call gate)
    code = (b"\x53\xb8" + number.to_bytes(4, "little") + b"\xbb" + arg.to_bytes(4, "little") + b"\xcd\x80\x5b\xc3")
    page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    return {"ok": True, "ret": ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()}

def x32(number, arg):
    ret = libc.syscall(ctypes.c_long(number | 0x40000000), ctypes.c_long(arg))
    return {"ok": ret != -1, "ret": ret, "errno": ctypes.get_errno()}

result = {
    "x32 unshare(CLONE_NEWUSER)": in_child(lambda: x32(272, 0x10000000)),
    "x32 setns": in_child(lambda: x32(308, 0)),
    "i386 unshare(CLONE_NEWUSER)": in_child(lambda: int80(310, 0x10000000)),
    "i386 mount": in_child(lambda: int80(21, 0)),
}
'''


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="x32 and i386 ABIs are x86_64's")
def test_foreign_syscall_abis_do_not_bypass_the_filter(worker):
    """unshare/setns/mount through the x32 (nr | 0x40000000) and i386 (int 0x80) ABIs: the process is killed."""
    result = attack(worker, FOREIGN_ABI)
    got_through = {name: outcome for name, outcome in result.items() if outcome.get("ok")}
    assert not got_through, got_through


def test_inherited_pipes_cannot_be_reopened_through_proc(worker):
    """Reopen the reply, request and stderr pipes via /proc/self/fd for the other direction: refused."""
    result = attack(worker, r'''
def reopen(fd, flags):
    os.close(os.open(f"/proc/self/fd/{fd}", flags | os.O_NONBLOCK))
    return "reopened"

reply_fd = int(sys.argv[sys.argv.index("--reply-fd") + 1])
result = {f"{fd}/{'r' if flags == os.O_RDONLY else 'w'}": attempt(reopen, fd, flags)
          for fd in sorted({1, 2, 3, reply_fd}) for flags in (os.O_RDONLY, os.O_WRONLY)}
result["/proc/1/fd"] = listing("/proc/1/fd")
''')
    opened = {name: outcome for name, outcome in result.items() if outcome.get("ok")}
    assert not opened, opened


def test_a_deeply_nested_reply_within_the_size_limit_costs_the_task_only(spawn):
    """Write a 2 MiB JSON of nested arrays straight into the reply pipe: the worker is refused, the grader lives."""
    worker = spawn()
    bomb = r'''
reply_fd = int(sys.argv[sys.argv.index("--reply-fd") + 1])
os.write(reply_fd, b'{"id": 1, "ok": true, "result": ' + b"[" * (2 << 20) + b"\n")
time.sleep(5)
'''
    with pytest.raises(REFUSED):
        attack(worker, bomb)
    assert attack(worker, 'result = "fresh"') == "fresh"


def _lease_stress(index: int, seconds: float, first: int, queue) -> None:
    from grader.sandbox.uids import UidRange, UidsExhausted, lease_uid

    uids, overlaps, leases = UidRange(first, 2), 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            lease = lease_uid(uids, index)
        except UidsExhausted:
            continue
        leases += 1
        marker = f"/tmp/redteam-lease-{lease.uid}"
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            time.sleep(0.001)
            os.unlink(marker)
        except FileExistsError:
            overlaps += 1
        lease.release()
    queue.put((leases, overlaps))


def test_concurrent_graders_never_lease_one_uid_twice():
    """Six processes lease and release a 2-uid range as fast as they can: no uid is ever held twice at once."""
    first = 1_999_990_000 + secrets.randbelow(4000) * 2
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=_lease_stress, args=(i, 2.0, first, queue)) for i in range(6)]
    for process in processes:
        process.start()
    counts = [queue.get(timeout=30) for _ in processes]
    for process in processes:
        process.join()
    assert sum(leases for leases, _ in counts) > 50, counts
    assert sum(overlaps for _, overlaps in counts) == 0, counts
