"""Student Python that hangs or allocates tens of GB is stopped at the limit; the other tasks are graded."""

from __future__ import annotations

import shutil

import pytest

from grader.grading.checking import check_submission
from grader.sandbox.prober import SandboxProber

pytestmark = pytest.mark.slow

LOOPS_FOREVER = '''
import numpy as np

def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    while True:
        pass
'''

ALLOCATES = '''
import numpy as np

BIG = np.ones((40_000, 1_000_000))   # 320 GB, at import time

def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    return h, c
'''

FORKS_AND_HANGS = '''
import os, time

def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    if os.fork() == 0:
        os.setsid()
        time.sleep(3600)
    time.sleep(3600)
'''


@pytest.fixture(scope="module")
def short_prober():
    with SandboxProber({"task_seconds": 8, "plain_memory_mb": 512}) as prober:
        yield prober


@pytest.mark.parametrize("source, message", [
    (LOOPS_FOREVER, "timed out after 8 s"),
    (ALLOCATES, "memory"),
    (FORKS_AND_HANGS, "imports 'os'"),
], ids=["loop", "allocate", "fork"])
def test_hostile_lstm_step_scores_zero_and_rest_is_graded(bank, model_files, short_prober, tmp_path, source, message):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "q6_lstm_cell.py").write_text(source)
    shutil.copyfile(model_files["q1_seq2seq"] / "q1_seq2seq.keras", folder / "q1_seq2seq.keras")
    checked = check_submission(folder, bank, prober=short_prober, tasks=["q6_lstm_cell", "q1_seq2seq"])
    q6 = checked.for_task("q6_lstm_cell")
    assert sum(r.score for r in q6) == 0
    assert len(q6) == 1 and q6[0].status == "error" and message in q6[0].output, q6[0].output
    assert "\n" not in q6[0].output
    q1 = checked.for_task("q1_seq2seq")
    assert q1 and all(r.status == "passed" for r in q1)


def test_forking_code_past_the_static_policy_is_still_stopped_by_the_sandbox(short_prober, tmp_path):
    """The import policy is the first line; the sandbox holds on its own when a file gets past it."""
    from grader.sandbox.prober import ProbeFailed

    path = tmp_path / "q6_lstm_cell.py"
    path.write_text(FORKS_AND_HANGS)
    with pytest.raises(ProbeFailed, match="timed out after 8 s"):
        short_prober.lstm_step_cases(path)
