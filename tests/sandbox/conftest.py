"""Fixtures for the escape suite: workers given only tests/sandbox, host canaries that are always removed.

The suite needs bubblewrap and root. Outside CI it is skipped without them; in CI (``$CI`` set) it fails,
because a sandbox suite that is skipped proves nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from escape_kit import PLAIN, make_worker, remove_quietly, token
from grader.sandbox.process import Worker


@pytest.fixture(scope="session", autouse=True)
def _sandbox_prerequisites():
    missing = []
    if shutil.which("bwrap") is None:
        missing.append("bubblewrap (bwrap) is not on PATH")
    if os.geteuid() != 0:
        missing.append("the tests are not running as root (per-worker uids need it)")
    if missing:
        reason = "the sandbox escape suite cannot run: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + " -- CI must run this suite, never skip it", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def spawn():
    """Factory of started workers, all closed at teardown."""
    made: list[Worker] = []

    def start(kind: str = "plain", limits=PLAIN) -> Worker:
        worker = make_worker(kind, limits)
        made.append(worker)
        worker.start()
        return worker

    yield start
    for worker in made:
        worker.close()


@pytest.fixture
def worker(spawn):
    """A fresh plain worker of its own (attacks may damage it)."""
    return spawn()


@pytest.fixture
def plant():
    """plant(path, text, mode=0o644): a host file with a canary, removed at teardown."""
    planted: list[Path] = []

    def put(path: Path | str, text: str, mode: int = 0o644) -> Path:
        path = Path(path)
        assert not path.exists(), f"refusing to overwrite {path}"
        planted.append(path)
        path.write_text(text)
        os.chmod(path, mode)
        return path

    yield put
    remove_quietly(planted)


@pytest.fixture
def host_dir():
    """A world-readable folder in the host's /tmp (not under pytest's 0700 tmp): only the sandbox can hide it."""
    folder = Path(tempfile.mkdtemp(prefix="grader-escape-", dir="/tmp"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def open_dir():
    """A world-writable folder in the host's /tmp: only the sandbox can keep writes out of it."""
    folder = Path(tempfile.mkdtemp(prefix="grader-escape-open-", dir="/tmp"))
    os.chmod(folder, 0o777 | stat.S_ISVTX)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def canary():
    return token()
