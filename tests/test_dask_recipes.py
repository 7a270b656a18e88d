"""The README's Dask recipes, tested as far as this machine allows.

- A scheduler and a worker started with Dask's own commands, graded through with the
  ``grader batch --executor dask --scheduler`` command line.
- The Slurm block is run as written (with ``scale`` and ``input`` stubbed: there is no
  Slurm here), and the job script it would submit is checked.
- The Kubernetes block is parsed and checked for what the grader needs of it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(language: str, holding: str) -> str:
    """The README's fenced ``language`` block that contains ``holding``."""
    blocks = re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
    found = [block for block in blocks if holding in block]
    assert len(found) == 1, f"README should hold one ```{language} block with {holding!r}"
    return found[0]


@pytest.mark.slow
def test_a_scheduler_and_worker_started_by_hand_grade_through_the_command_line(demo, tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    dask = [sys.executable, "-m", "dask"]
    scheduler = subprocess.Popen([*dask, "scheduler", "--port", "0", "--dashboard-address", ":0",
                                  "--scheduler-file", str(scheduler_file)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(120):
            if scheduler_file.exists() and scheduler_file.stat().st_size:
                break
            time.sleep(0.25)
        import json

        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([*dask, "worker", address, "--nworkers", "1", "--nthreads", "1",
                                   "--dashboard-address", ":0"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples = demo["course"].root / "samples"
        folder = tmp_path / "class"
        folder.mkdir()
        for name in ("alice", "dave"):
            shutil.copytree(samples / name, folder / name)
        graded = subprocess.run(
            [sys.executable, "-m", "grader", "batch", str(folder), "--course", str(demo["course"].root),
             "--db", f"sqlite:///{tmp_path / 'hand.db'}", "--executor", "dask", "--scheduler", address],
            capture_output=True, text=True, timeout=600)
        assert graded.returncode == 0, graded.stderr[-2000:]
        assert re.search(r"^alice\s+graded\s+80/80", graded.stdout, re.M), graded.stdout
        assert re.search(r"^dave\s+graded\s+78/80", graded.stdout, re.M), graded.stdout
        assert "Dask dashboard: http" in graded.stderr
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def test_an_unreachable_scheduler_is_one_line(demo, tmp_path):
    from click.testing import CliRunner

    from grader.cli import cli

    samples = demo["course"].root / "samples"
    result = CliRunner().invoke(cli, ["batch", str(samples), "--course", str(demo["course"].root),
                                      "--db", f"sqlite:///{tmp_path / 'x.db'}", "--executor", "dask",
                                      "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_the_slurm_recipe_builds_a_cluster_of_single_threaded_workers(monkeypatch):
    pytest.importorskip("dask_jobqueue")
    import dask
    from dask_jobqueue import SLURMCluster

    scaled = []
    monkeypatch.setattr(SLURMCluster, "scale", lambda self, n=None, **jobs: scaled.append(jobs) if jobs else None)
    monkeypatch.setattr("builtins.input", lambda prompt="": "")
    code = _block("python", "SLURMCluster").replace("scheduler_options={\"port\": 8786}",
                                                    "scheduler_options={\"port\": 0}")   # any free port here
    namespace: dict = {}
    with dask.config.set({}):     # the block's config.set is undone when the test ends
        exec(compile(code, "README slurm_cluster.py", "exec"), namespace)
        assert dask.config.get("distributed.scheduler.allowed-failures") == 1
    cluster = namespace["cluster"]
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert scaled == [{"jobs": 8}]
    assert "--nworkers 8" in script and "--nthreads 1" in script, script
    assert "#SBATCH -p normal" in script and "#SBATCH -A cs-deep-learning" in script and "#SBATCH -t 02:00:00" in script
    assert "source $HOME/rnn-grader/.venv/bin/activate" in script
    # Each worker gets memory/processes; it must hold the course's default memory_mb and the worker around it.
    assert re.search(r"--memory-limit (\d+(?:\.\d+)?)GiB", script)
    per_worker = float(re.search(r"--memory-limit (\d+(?:\.\d+)?)GiB", script).group(1))
    assert per_worker >= 4.5


def test_the_kubernetes_recipe_runs_single_threaded_workers_that_may_sandbox():
    import yaml

    from grader.core.config import DEFAULT_CONFIG

    manifest = yaml.safe_load(_block("yaml", "kind: DaskCluster"))
    assert manifest["apiVersion"] == "kubernetes.dask.org/v1" and manifest["kind"] == "DaskCluster"
    worker = manifest["spec"]["worker"]["spec"]["containers"][0]
    scheduler = manifest["spec"]["scheduler"]["spec"]["containers"][0]
    assert worker["image"] == scheduler["image"], "client, scheduler and workers run one grader version"
    args = worker["args"]
    assert args[:2] == ["dask", "worker"] and args[args.index("--nthreads") + 1] == "1"
    assert {"name": "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES", "value": "1"} in scheduler["env"]
    security = worker["securityContext"]
    assert "SYS_ADMIN" in security["capabilities"]["add"]          # bubblewrap's namespaces
    assert security["seccompProfile"]["type"] == "Unconfined"
    memory = worker["resources"]["limits"]["memory"]
    assert memory.endswith("Gi") and int(memory[:-2]) * 1024 > DEFAULT_CONFIG["limits"]["memory_mb"]
    service = manifest["spec"]["scheduler"]["service"]
    assert any(port["port"] == 8786 for port in service["ports"])
