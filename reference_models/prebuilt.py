"""Reference forecasters trained once for the demo's fixed series, shipped in the package.

Training the three reference forecasters takes about three minutes on two cores, which
is most of ``grader demo``. The demo's series is fixed (published seed), so the trained
models are too: they are built once with :func:`rebuild` and shipped under
``reference_models/demo/`` with ``prebuilt.json``, which records for each file its
SHA-256, the reference version key it was trained for (builder version, training
version and series key, as in the course manifest) and its held-out MAE when built.

:func:`prebuilt_file` hands out a file only when both still match: a model whose
builder, training or series has changed since is trained afresh instead, never reused.

Rebuild after changing a forecaster's builder or the training (a test fails until then)::

    python -m reference_models.prebuilt
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FOLDER = Path(__file__).with_name("demo")
INDEX = FOLDER / "prebuilt.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prebuilt_index() -> dict[str, dict[str, str]]:
    """Task id -> {"file", "sha256", "version_key", "held_out_mae"} of every shipped forecaster (empty when none)."""
    if not INDEX.is_file():
        return {}
    return json.loads(INDEX.read_text(encoding="utf-8"))["tasks"]


def prebuilt_file(task: str, version_key: str) -> Path | None:
    """The shipped model for ``task`` if it was trained for ``version_key`` and its bytes are intact."""
    entry = prebuilt_index().get(task)
    if entry is None or entry["version_key"] != version_key:
        return None
    path = FOLDER / entry["file"]
    if not path.is_file() or _sha256(path) != entry["sha256"]:
        return None
    return path


def rebuild() -> dict[str, dict[str, str]]:
    """Train the forecasters on the demo series in a scratch course and ship them here."""
    import shutil
    import tempfile

    from grader.core.course import init_course
    from grader.forecast.references import build_references
    from reference_models import FORECAST_TASKS

    with tempfile.TemporaryDirectory() as scratch:
        course = init_course(Path(scratch) / "demo", name="prebuilt", demo=True)
        manifest = build_references(course, tasks=list(FORECAST_TASKS), log=print, prebuilt=False)
        FOLDER.mkdir(exist_ok=True)
        tasks = {}
        for task in FORECAST_TASKS:
            entry = manifest["tasks"][task]
            shutil.copyfile(course.reference_dir / entry["file"], FOLDER / entry["file"])
            tasks[task] = {"file": entry["file"], "sha256": _sha256(FOLDER / entry["file"]),
                           "version_key": entry["version_key"], "held_out_mae": entry["mae"]}
    INDEX.write_text(json.dumps({"tasks": tasks}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return tasks


if __name__ == "__main__":
    for task, entry in rebuild().items():
        print(f"{task}: {entry['file']} sha256 {entry['sha256'][:12]}… for {entry['version_key']}")
