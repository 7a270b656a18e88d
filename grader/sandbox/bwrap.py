"""The filesystem view and namespaces of a worker, made by bubblewrap (``bwrap``).

A worker sees a root that bubblewrap builds from nothing:

* read-only: the interpreter, its stdlib and site-packages (of the venv too), the shared
  libraries of ``/usr/lib``, ``ld.so.cache``, and the ``grader`` package alone at
  :data:`GRADER_MOUNT` (never the project tree, whose ``reference_models`` are solutions);
* read-only too: its own task folder at :data:`TASK_MOUNT`, a host folder that holds one
  task's input copies at a time and no other worker can see (the worker writes only in its
  private scratch, so it cannot fill the host's disk);
* private: ``/proc`` of its own PID namespace, a minimal ``/dev``, and size-limited tmpfs
  ``/tmp`` (its HOME) and ``/dev/shm`` that vanish with it.

No ``/etc`` (so no ``passwd``), no ``/home``, no host ``/tmp``, no shell: ``/usr/bin`` is not
in the view. New mount, PID, network, IPC, UTS and cgroup namespaces; ``--die-with-parent``
and ``--new-session``. When the grader is root, bwrap runs privileged without a user
namespace and keeps only CAP_SETUID/CAP_SETGID, which the worker spends on dropping to its
own uid after its imports (:func:`grader.sandbox.worker.drop_privileges`); otherwise bwrap
uses an unprivileged user namespace and the worker keeps the grader's uid.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

__all__ = ["GRADER_MOUNT", "TASK_MOUNT", "SCRATCH", "View", "find_bwrap", "bwrap_usable", "runtime_view",
           "bwrap_command"]

GRADER_MOUNT = "/opt/rnn-grader"
TASK_MOUNT = "/task"
SCRATCH = "/tmp"
SYSTEM_LIBRARIES = ("/lib", "/lib32", "/lib64", "/libx32", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache",)
# What an installed grader keeps next to its code that no worker needs and no student may read:
# the question bank (reference answers, rubrics), report templates, the reference solutions.
SECRET_PACKAGE_DATA = ("questions", "templates")
SECRET_SITE_PACKAGES = ("reference_models", "grader/questions", "grader/templates")
SHM_MB = 64
PROBE_LEAKS = 3
PROBE = f"import os, sys; sys.exit({PROBE_LEAKS} if os.path.exists('/etc/passwd') or os.path.exists('/home') else 0)"

_PACKAGE_DIR = Path(__file__).resolve().parents[1]   # the grader package itself


@dataclass(frozen=True)
class View:
    """What a worker's root holds: read-only binds (host, inside), symlinks (target, link), the
    python to run and its ``PYTHONPATH``."""

    binds: tuple[tuple[str, str], ...]
    symlinks: tuple[tuple[str, str], ...]
    python: str
    pythonpath: tuple[str, ...]
    masked: tuple[str, ...] = field(default=())   # folders inside the binds hidden under an empty tmpfs


def find_bwrap() -> str | None:
    """The ``bwrap`` executable on PATH (or ``$GRADER_BWRAP``), or None."""
    override = os.environ.get("GRADER_BWRAP")
    if override is not None:
        return override if override and os.access(override, os.X_OK) else None
    return shutil.which("bwrap", path=os.environ.get("PATH", "") + ":/usr/bin:/bin")


def _symlink_chain(path: str) -> tuple[list[tuple[str, str]], str]:
    """The symlinks met resolving ``path`` (as (target, link) pairs) and the file it ends at."""
    links = []
    current = os.path.abspath(path)
    for _ in range(40):
        parent = os.path.realpath(os.path.dirname(current))
        current = os.path.join(parent, os.path.basename(current))
        if not os.path.islink(current):
            return links, current
        target = os.readlink(current)
        links.append((target, current))
        current = os.path.normpath(os.path.join(parent, target))
    raise OSError(f"too many symbolic links resolving {path}")


def _python_folders() -> list[str]:
    """The stdlib, site-packages and libpython folders of this interpreter (and of its venv)."""
    folders = []
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_prefix}):
        paths = sysconfig.get_paths(vars=scheme_vars) if scheme_vars else sysconfig.get_paths()
        folders += [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    folders += site.getsitepackages()
    libdir = sysconfig.get_config_var("LIBDIR")
    library = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
    if libdir and library and os.path.exists(os.path.join(libdir, library)):
        folders.append(os.path.join(libdir, library))
    return folders


def _covered(path: str, chosen: list[str]) -> bool:
    return any(path == other or path.startswith(other.rstrip("/") + "/") for other in chosen)


@functools.lru_cache(maxsize=16)
def runtime_view(extra_pythonpath: tuple[str, ...] = ()) -> View:
    """The read-only part of a worker's root for this interpreter, plus ``extra_pythonpath``
    folders (test ops) bound at ``GRADER_MOUNT/extra<i>``."""
    binds: list[tuple[str, str]] = []
    symlinks: list[tuple[str, str]] = []
    chosen: list[str] = []

    def bind(path: str, inside: str | None = None) -> None:
        real = os.path.realpath(path)
        if not os.path.exists(real) or (inside is None and _covered(real, chosen)):
            return
        binds.append((real, inside or real))
        chosen.append(real)

    for folder in SYSTEM_LIBRARIES:
        if os.path.islink(folder):
            symlinks.append((os.readlink(folder), folder))
        elif os.path.isdir(folder):
            bind(folder)
    for name in SYSTEM_FILES:
        bind(name)
    chain, interpreter = _symlink_chain(sys.executable)
    symlinks.extend(chain)
    bind(interpreter)
    if sys.prefix != sys.base_prefix:
        bind(os.path.join(sys.prefix, "pyvenv.cfg"))
    python_folders = list(dict.fromkeys(_python_folders()))
    for folder in sorted(python_folders, key=len):
        bind(folder)
    bind(str(_PACKAGE_DIR), f"{GRADER_MOUNT}/grader")
    masked = [f"{GRADER_MOUNT}/grader/{name}" for name in SECRET_PACKAGE_DATA if (_PACKAGE_DIR / name).is_dir()]
    for folder in python_folders:
        for name in SECRET_SITE_PACKAGES:
            candidate = os.path.realpath(os.path.join(folder, name))
            if os.path.isdir(candidate) and _covered(candidate, chosen):
                masked.append(candidate)
    pythonpath = [GRADER_MOUNT]
    for index, extra in enumerate(extra_pythonpath):
        inside = f"{GRADER_MOUNT}/extra{index}"
        bind(extra, inside)
        pythonpath.append(inside)
    return View(tuple(binds), tuple(symlinks), os.path.abspath(sys.executable), tuple(pythonpath),
                tuple(dict.fromkeys(masked)))


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def bwrap_command(bwrap: str, view: View, task_folder: Path, *, scratch_mb: int, privileged: bool,
                  seccomp_fd: int | None, info_fd: int | None = None) -> list[str]:
    """The ``bwrap`` arguments (up to and including ``--``) that start a worker in ``view``
    with ``task_folder`` bound read-only at :data:`TASK_MOUNT`."""
    command = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
               "--die-with-parent", "--new-session"]
    if privileged:
        command += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command += ["--unshare-user", "--disable-userns"]
    # The private mounts first: a host path under /tmp (a venv in /tmp/x/.venv) is then bound
    # on top of the private /tmp instead of being hidden by it.
    command += ["--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", str(scratch_mb * 2**20), "--tmpfs", SCRATCH,
                "--perms", "1777", "--size", str(min(SHM_MB, scratch_mb) * 2**20), "--tmpfs", "/dev/shm"]
    # bwrap makes missing parents 0700; the worker, once it is not root, must traverse them.
    made: set[str] = {SCRATCH, "/dev", "/dev/shm", "/proc"}
    targets = [inside for _, inside in view.binds] + [link for _, link in view.symlinks]
    for target in targets:
        for folder in _ancestors(target):
            if folder not in made and not any(folder == link for _, link in view.symlinks):
                made.add(folder)
                command += ["--perms", "0755", "--dir", folder]
    for host, inside in view.binds:
        command += ["--ro-bind", host, inside]
    for target, link in view.symlinks:
        command += ["--symlink", target, link]
    for folder in view.masked:
        command += ["--perms", "0555", "--size", "4096", "--tmpfs", folder]
    command += ["--ro-bind", str(task_folder), TASK_MOUNT, "--remount-ro", "/", "--chdir", SCRATCH]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    if info_fd is not None:
        command += ["--info-fd", str(info_fd)]
    return command + ["--"]


@functools.lru_cache(maxsize=1)
def bwrap_usable() -> str | None:
    """Why bubblewrap cannot isolate a worker on this machine, or None when it can.

    Tried once per process by starting ``true``-like Python in the same namespaces a worker
    gets (a container without CAP_SYS_ADMIN or user namespaces refuses them).
    """
    bwrap = find_bwrap()
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    view = runtime_view()
    probe_dir = Path(os.path.realpath(os.environ.get("TMPDIR", "/tmp")))
    command = bwrap_command(bwrap, view, probe_dir, scratch_mb=1, privileged=os.geteuid() == 0, seccomp_fd=None)
    try:
        # The probe checks what only a real sandbox shows: the host's /etc is gone.
        done = subprocess.run(command + [view.python, "-S", "-c", PROBE], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30, env={})
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap could not run ({type(exc).__name__})"
    if done.returncode == PROBE_LEAKS:
        return f"{bwrap} ran, but the host's files were still visible: it is not a working bubblewrap"
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bubblewrap cannot create the sandbox here ({reason[-1][:120] if reason else f'exit {done.returncode}'})"
    return None
