"""Shared set-up for the benchmark scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_BUILD = (
    "import shutil, sys\n"
    "from pathlib import Path\n"
    "from reference_models import BUILDERS, LSTM_CELL_SOURCE\n"
    "out = Path(sys.argv[1])\n"
    "for task, build in BUILDERS.items():\n"
    "    if task == 'q6_lstm_cell': shutil.copyfile(LSTM_CELL_SOURCE, out / 'q6_lstm_cell.py')\n"
    "    else: build().save(out / f'{task}.keras')\n"
)


def build_reference_files(folder: Path) -> None:
    """Every task's reference architecture (untrained) in ``folder``, built in a child process.

    The benchmark's own process stays free of TensorFlow; timings do not depend on the weights.
    """
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", _BUILD, str(folder)], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})
