"""The course as a self-contained bundle: its config, reference models and series, with relative paths.

Grading elsewhere than the course folder needs the same few files: ``course.toml``, the
reference models with their manifest, and a CSV series if the course has one. The
Gradescope autograder (:mod:`grader.grading.gradescope`) zips them with the grader's
source; a Dask cluster (:mod:`grader.grading.dask_executor`) ships them to each worker
once as a :class:`CourseArchive`, checked by its SHA-256 where it is unpacked.
A CSV series from outside the course folder moves to ``data/<name>``, and the config is
rewritten to point at it, so no bundle holds an absolute path of this machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.core.course import Course
from grader.core.errors import GraderError


class BundleError(GraderError):
    """The course cannot be packed into a self-contained bundle; the message says the fix."""



def bundled_course(course: Course) -> tuple[str, dict[str, Path]]:
    """The bundle's ``course.toml`` text and the other course files to ship ({name under course/: file}).

    A CSV series travels with the course: a file inside the course folder keeps its relative
    path, one outside goes to ``data/<name>``, and ``[series] path`` is rewritten to match,
    so the bundled config holds no absolute path. Raises :class:`BundleError` when the
    series cannot be read or the config cannot be rewritten safely.
    """
    config = (course.root / "course.toml").read_text(encoding="utf-8")
    files = {f"reference/{path.name}": path for path in sorted(course.reference_dir.iterdir()) if path.is_file()}
    series = course.series
    if series.source != "csv":
        return config, files
    if not series.path:
        raise BundleError("course.toml: [series] source is \"csv\" but path is empty; name the CSV file")
    data = course.resolve(series.path)
    if not data.is_file():
        raise BundleError(f"course.toml: [series] path {series.path}: no such file, so the bundle could not "
                          "carry the series; fix the path")
    _check_series(course)
    try:
        inside = PurePosixPath(data.resolve().relative_to(course.root.resolve()).as_posix())
    except ValueError:
        inside = None
    name = str(inside) if inside is not None and inside.parts[0] != "reference" else f"data/{data.name}"
    rewritten = with_series_path(config, name)
    expected = tomllib.loads(config)
    expected.setdefault("series", {})["path"] = name
    try:
        same = tomllib.loads(rewritten) == expected
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise BundleError(f"course.toml: could not point [series] path at the bundled copy {name!r}; write it "
                          "as one line 'path = \"...\"' under a plain [series] header")
    return rewritten, {name: data, **files}


def _check_series(course: Course) -> None:
    """The series reads, and the references were built on it (when the manifest says which it was)."""
    from grader.forecast.manifest import read_manifest, series_key
    from grader.forecast.series import SeriesError, series_from_config

    try:
        series = series_from_config(course.series, course.root)
    except SeriesError as exc:
        raise BundleError(f"the course's series cannot be read, so grading would fail on Gradescope: {exc}") from None
    built_on = read_manifest(course).get("series_key")
    if built_on is not None and built_on != series_key(series):
        raise BundleError("the reference models were built on another series than the course's; run "
                          f"'grader reference build --course {course.root}' again, then build the bundle")


def with_series_path(config: str, path: str) -> str:
    """``config`` (course.toml text) with ``[series] path`` set to ``path``.

    Understands a ``[series]`` header with spaces or a comment and a bare or quoted ``path``
    key; :func:`bundled_course` checks the result by parsing it.
    """
    import re

    header = re.compile(r"^\s*\[\s*series\s*\]\s*(#.*)?$")
    key = re.compile(r"""^\s*(path|"path"|'path')\s*=""")
    lines = config.splitlines()
    value = f"path = {json.dumps(path, ensure_ascii=False)}"   # a JSON string is a TOML basic string
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return config.rstrip("\n") + f"\n\n[series]\n{value}\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    for i in range(start + 1, end):
        if key.match(lines[i]):
            lines[i] = value
            return "\n".join(lines) + "\n"
    lines.insert(start + 1, value)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CourseArchive:
    """The bundled course as one zip in memory, and the SHA-256 it must still have when unpacked."""

    data: bytes
    sha256: str

    @classmethod
    def of(cls, course: Course) -> "CourseArchive":
        config, files = bundled_course(course)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            # Fixed timestamps: the same course gives the same bytes, so the same digest.
            archive.writestr(zipfile.ZipInfo("course.toml"), config.encode("utf-8"))
            for name, path in sorted(files.items()):
                archive.writestr(zipfile.ZipInfo(name), path.read_bytes())
        data = buffer.getvalue()
        return cls(data, hashlib.sha256(data).hexdigest())

    def unpack(self, folder: Path) -> Course:
        """Write the course into ``folder`` (owner-only) and open it; BundleError if the bytes changed on the way."""
        from grader.core.course import open_course

        if hashlib.sha256(self.data).hexdigest() != self.sha256:
            raise BundleError(f"the course bundle arrived damaged: its SHA-256 is not {self.sha256[:12]}…")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
            for info in archive.infolist():
                name = PurePosixPath(info.filename)
                if name.is_absolute() or ".." in name.parts:   # our own archive; checked all the same
                    raise BundleError(f"the course bundle holds an unsafe name {info.filename!r}")
                target = folder.joinpath(*name.parts)
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                target.write_bytes(archive.read(info))
                target.chmod(0o600)
        # A grading worker never opens the gradebook (results go back to the client), so no URL of it travels.
        return open_course(folder, db="none://the-client-holds-the-gradebook")
