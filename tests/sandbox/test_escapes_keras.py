"""The Keras worker (TensorFlow imported, slow to start) gets the same walls: one worker for the module.

kill -1 runs last: it may take the Keras worker down with it.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from escape_kit import (
    KILL_ALL,
    READ_PROBE,
    REFUSED,
    WRITE_PROBE,
    as_text,
    assert_probe_works,
    attack,
    control_file,
    make_worker,
    remove_quietly,
    token,
)
from grader.sandbox.limits import Limits


@pytest.fixture(scope="module")
def keras_worker():
    with make_worker("keras", Limits.from_course({}, "keras")) as worker:
        yield worker


def test_keras_worker_cannot_read_host_canaries(keras_worker, tmp_path, host_dir, plant, canary):
    """The Keras worker reads a canary in the host's /tmp and in a world-readable course folder: refused."""
    course_file = host_dir / "answers.csv"
    course_file.write_text(f"h,c\n{canary},1\n")
    course_file.chmod(0o644)
    planted = plant(f"/tmp/grader-escape-{token()}.txt", canary)
    control = token()
    assert attack(keras_worker, "import tensorflow\nresult = tensorflow.__name__") == "tensorflow"
    result = attack(keras_worker, READ_PROBE, {"paths": ["mine.txt", str(planted), str(course_file)],
                                               "list": ["/tmp", str(host_dir)]},
                    files={"mine.txt": control_file(tmp_path, control)})
    assert_probe_works(result, "mine.txt", control)
    assert canary not in as_text(result)


def test_keras_worker_cannot_write_the_hosts_tmp(keras_worker, open_dir, canary):
    """The Keras worker writes a canary to /tmp, /var/tmp, /dev/shm and a world-writable host folder: none lands."""
    name = f"grader-escape-{token()}.txt"
    targets = [Path("/tmp") / name, Path("/var/tmp") / name, Path("/dev/shm") / name, open_dir / name]
    try:
        result = attack(keras_worker, WRITE_PROBE, {"token": canary, "paths": [str(path) for path in targets]})
        assert result["control"]["ok"], "the task folder is writable"
        reached = [str(path) for path in targets if path.exists()]
        assert not reached, f"written on the host: {reached}"
    finally:
        remove_quietly(targets)


def test_keras_worker_kill_minus_one_spares_other_workers(keras_worker, spawn):
    """The Keras worker sends SIGKILL to -1: a plain worker alive beside it keeps serving, unrestarted."""
    bystander = spawn()
    pid = bystander.pid
    try:
        outcome = attack(keras_worker, KILL_ALL)
        assert outcome["own_child"] == signal.SIGKILL, f"kill -1 works (it kills its own child): {outcome}"
    except REFUSED:
        pass
    assert attack(bystander, "result = os.getpid()") > 0
    assert bystander.pid == pid and bystander.restarts == 0
