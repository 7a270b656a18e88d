"""Filesystem and hygiene escapes: the sandbox sees only its task folder and its own private scratch.

Every read attack carries a control: the same probe reads a file handed to the task (``mine.txt``), so an
attack that reports nothing has been refused, not broken.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from escape_kit import (
    READ_PROBE,
    REPO,
    WRITE_PROBE,
    as_text,
    assert_probe_works,
    attack,
    control_file,
    remove_quietly,
    succeeded,
    token,
)


def probe(worker, tmp_path, paths, lists=()):
    """READ_PROBE over ``paths`` plus the control file; asserts the control was read."""
    secret = token()
    result = attack(worker, READ_PROBE, {"paths": ["mine.txt", *map(str, paths)], "list": list(map(str, lists))},
                    files={"mine.txt": control_file(tmp_path, secret)})
    assert_probe_works(result, "mine.txt", secret)
    return result


def readable(result) -> dict[str, list[str]]:
    """Host paths (not the control) that some method read."""
    return {path: ok for path, methods in result["reads"].items()
            if path != "mine.txt" and (ok := succeeded(methods))}


def listed(result) -> dict[str, list[str]]:
    return {path: outcome["value"] for path, outcome in result["listings"].items() if outcome["ok"]}


# -- reads ------------------------------------------------------------------------------------------------

def test_course_folder_is_invisible(worker, tmp_path, host_dir, canary):
    """Read and list a world-readable course folder holding answers and submissions: nothing of it is visible."""
    name = token()
    course = host_dir / f"course-{name}"
    (course / "submissions" / "alice").mkdir(parents=True)
    (course / "answers").mkdir()
    files = {
        course / "course.toml": f'title = "{canary}"\n',
        course / "answers" / "expected.csv": f"h,c\n{canary},1\n",
        course / "submissions" / "alice" / "q6_lstm_cell.py": f"# {canary}\n",
    }
    for path, text in files.items():
        path.write_text(text)
    for folder in (course, course / "submissions", course / "submissions" / "alice", course / "answers"):
        os.chmod(folder, 0o755)
    result = probe(worker, tmp_path, files, lists=[host_dir, course, course / "submissions" / "alice"])
    assert canary not in as_text(result)
    assert not readable(result)
    assert name not in as_text(listed(result)), listed(result)


def test_gradebook_database_is_unreadable(worker, tmp_path, host_dir, canary):
    """Read the course's SQLite gradebook raw and through sqlite3: the gradebook is not there."""
    database = host_dir / "grader.db"
    with sqlite3.connect(database) as connection:
        connection.execute("create table grades (student text, secret text)")
        connection.execute("insert into grades values ('alice', ?)", (canary,))
    os.chmod(database, 0o644)
    source = READ_PROBE + r'''
def _query():
    import sqlite3
    connection = sqlite3.connect(f"file:{args['db']}?mode=ro", uri=True)
    return connection.execute("select * from grades").fetchall()
result["sqlite"] = attempt(_query)
'''
    secret = token()
    result = attack(worker, source, {"paths": ["mine.txt", str(database)], "list": [str(host_dir)],
                                     "db": str(database)},
                    files={"mine.txt": control_file(tmp_path, secret)})
    assert_probe_works(result, "mine.txt", secret)
    assert canary not in as_text(result)
    assert not readable(result) and not result["sqlite"]["ok"]
    assert "grader.db" not in as_text(listed(result))


def test_series_csv_outside_the_course_is_unreadable(worker, tmp_path, host_dir, canary):
    """Read a forecasting series CSV kept beside (not in) the course, raw and with csv/numpy: refused."""
    series = host_dir / "series" / "sunspots.csv"
    series.parent.mkdir()
    os.chmod(series.parent, 0o755)
    series.write_text("t,value\n" + "".join(f"{i},{i * 0.5}\n" for i in range(50)) + f"# {canary}\n")
    os.chmod(series, 0o644)
    source = READ_PROBE + r'''
def _csv():
    import csv
    with open(args["csv"], newline="") as handle:
        return list(csv.reader(handle))
result["csv"] = attempt(_csv)
'''
    secret = token()
    result = attack(worker, source, {"paths": ["mine.txt", str(series)], "list": [str(series.parent)],
                                     "csv": str(series)},
                    files={"mine.txt": control_file(tmp_path, secret)})
    assert_probe_works(result, "mine.txt", secret)
    assert canary not in as_text(result)
    assert not readable(result) and not result["csv"]["ok"]


def test_repository_tree_is_invisible(worker, tmp_path):
    """Read the repository (reference models, tests, .git, docs): only the grader package may be mounted."""
    paths = [REPO / "reference_models" / "__init__.py", REPO / "reference_models" / "variants.py",
             REPO / "tests" / "test_sandbox.py", REPO / "tests" / "conftest.py", REPO / "tests" / "attacks.py",
             REPO / ".git" / "HEAD", REPO / ".git" / "config", REPO / "README.md", REPO / "pyproject.toml",
             REPO / "ARCHITECTURE.md"]
    assert all(path.is_file() for path in paths)
    result = probe(worker, tmp_path, paths, lists=[REPO, REPO / "tests", REPO / "reference_models", REPO / ".git"])
    assert not readable(result)
    seen = listed(result)
    assert not (set(seen.get(str(REPO), [])) & {".git", "reference_models", "README.md", "pyproject.toml"}), seen
    assert not (set(seen.get(str(REPO / "tests"), [])) & {"test_sandbox.py", "conftest.py", "attacks.py"}), seen
    assert str(REPO / "reference_models") not in seen and str(REPO / ".git") not in seen


def test_etc_shadow_is_unreadable(worker, tmp_path):
    """Read /etc/shadow, /etc/gshadow and /etc/sudoers: refused."""
    result = probe(worker, tmp_path, ["/etc/shadow", "/etc/gshadow", "/etc/sudoers"])
    assert not readable(result)


def test_etc_passwd_is_not_the_hosts(worker, tmp_path):
    """Read /etc/passwd and /etc/group: absent, or a stub that names none of the host's accounts."""
    host_users = [line.split(":")[0] for line in Path("/etc/passwd").read_text().splitlines()
                  if line and line.split(":")[0] not in ("root", "nobody", "nogroup")]
    assert host_users, "the host has accounts besides root and nobody"
    result = probe(worker, tmp_path, ["/etc/passwd", "/etc/group"])
    for path, methods in result["reads"].items():
        for outcome in methods.values():
            if path != "mine.txt" and outcome["ok"]:
                lines = outcome["value"].splitlines()
                leaked = [user for user in host_users if any(line.startswith(f"{user}:") for line in lines)]
                assert not leaked, f"{path} lists host accounts {leaked}"


def test_root_home_is_invisible(worker, tmp_path, plant, canary):
    """Read a canary planted in /root, root's dotfiles, and list /root: nothing but the interpreter may be there."""
    planted = plant(f"/root/grader-escape-{token()}.txt", canary)
    result = probe(worker, tmp_path, [planted, "/root/.bashrc", "/root/.gitconfig", "/root/.profile"],
                   lists=["/root"])
    assert canary not in as_text(result)
    assert not readable(result)
    assert set(listed(result).get("/root", [])) <= {".pyenv"}


def test_home_is_invisible(worker, tmp_path, plant, canary):
    """Read a world-readable canary planted in /home and list /home: not visible."""
    planted = plant(f"/home/grader-escape-{token()}.txt", canary)
    result = probe(worker, tmp_path, [planted], lists=["/home"])
    assert canary not in as_text(result)
    assert not readable(result)
    host_entries = set(os.listdir("/home")) - {planted.name}
    assert not (set(listed(result).get("/home", [])) & host_entries)


def test_host_tmp_is_invisible(worker, tmp_path, plant, canary):
    """Read world-readable canaries planted in the host's /tmp and /var/tmp, and list both: not visible."""
    name = f"grader-escape-{token()}.txt"
    planted = [plant(f"/tmp/{name}", canary), plant(f"/var/tmp/{name}", canary)]
    result = probe(worker, tmp_path, planted, lists=["/tmp", "/var/tmp"])
    assert canary not in as_text(result)
    assert not readable(result)
    assert name not in as_text(listed(result))


def test_host_files_through_numpy_os_open_and_ctypes(worker, tmp_path, host_dir, canary):
    """np.fromfile / os.open / libc open through ctypes / mmap of a world-readable host file: all refused."""
    secret = host_dir / "weights.bin"
    secret.write_bytes(canary.encode() * 4)
    os.chmod(secret, 0o644)
    source = READ_PROBE + r'''
def _mmap(path):
    import mmap
    with open(path, "rb") as handle:
        return mmap.mmap(handle.fileno(), 0, prot=mmap.PROT_READ)[:4096]
result["mmap"] = {path: attempt(_mmap, path) for path in args["paths"]}
'''
    control = token()
    result = attack(worker, source, {"paths": ["mine.txt", str(secret)]},
                    files={"mine.txt": control_file(tmp_path, control)})
    assert_probe_works(result, "mine.txt", control)
    assert result["mmap"]["mine.txt"]["ok"], result["mmap"]
    assert canary not in as_text(result)
    assert not readable(result) and not result["mmap"][str(secret)]["ok"]


def test_symlinks_and_hardlinks_from_the_task_folder_do_not_reach_the_host(worker, tmp_path, host_dir, canary):
    """Symlink and hardlink a host canary into the task folder and read through them: refused."""
    secret = host_dir / "secret.txt"
    secret.write_text(canary)
    os.chmod(secret, 0o644)
    source = r'''
def _via_symlink(target, name):
    os.symlink(target, name)
    return read_bytes(name)

def _via_hardlink(target, name):
    os.link(target, name)
    return read_bytes(name)

result = {"control": attempt(_via_symlink, os.path.abspath("mine.txt"), "own-link"),
          "symlink": attempt(_via_symlink, args["secret"], "link"),
          "hardlink": attempt(_via_hardlink, args["secret"], "hard"),
          "dotdot": attempt(read_bytes, os.path.relpath(args["secret"], os.getcwd()))}
'''
    control = token()
    result = attack(worker, source, {"secret": str(secret)}, files={"mine.txt": control_file(tmp_path, control)})
    assert result["control"]["ok"] and control in result["control"]["value"], result["control"]
    assert canary not in as_text(result)


# -- /proc ------------------------------------------------------------------------------------------------

def test_proc_of_the_grader_process_is_invisible(spawn, tmp_path, monkeypatch, canary):
    """Read /proc/<pytest pid>/{environ,cmdline,status,maps} and its parent's environ: no host secrets."""
    monkeypatch.setenv("GRADER_ESCAPE_CANARY", canary)
    worker = spawn()
    me, parent = os.getpid(), os.getppid()
    paths = [f"/proc/{me}/environ", f"/proc/{me}/cmdline", f"/proc/{me}/status", f"/proc/{me}/maps",
             f"/proc/{parent}/environ", f"/proc/{parent}/cmdline"]
    result = probe(worker, tmp_path, paths)
    text = as_text(result)
    assert canary not in text
    assert "pytest" not in text


def test_proc_lists_only_the_sandboxs_own_processes(worker):
    """List /proc and read every cmdline: a handful of sandbox processes, never the grader or host init."""
    source = r'''
pids = sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
result = {"self": os.getpid(), "pids": pids,
          "cmdlines": {pid: attempt(read_bytes, f"/proc/{pid}/cmdline") for pid in pids[:500]}}
'''
    result = attack(worker, source)
    assert result["self"] in result["pids"], "the probe sees its own process"
    text = as_text(result["cmdlines"])
    assert "pytest" not in text and "process_api" not in text
    assert len(result["pids"]) <= 16, f"{len(result['pids'])} processes visible"


def test_proc_1_is_not_the_host_init(worker):
    """Read /proc/1/cmdline and /proc/1/status: pid 1 is the sandbox's own, not the host's init."""
    host_init = Path("/proc/1/cmdline").read_bytes().decode("latin-1")
    source = r'''
result = {"cmdline": attempt(read_bytes, "/proc/1/cmdline"), "status": attempt(read_bytes, "/proc/1/status")}
'''
    result = attack(worker, source)
    if result["cmdline"]["ok"]:
        assert result["cmdline"]["value"] != host_init
    assert host_init.split("\0")[0] not in as_text(result)


def test_no_visible_process_environ_holds_host_variables(spawn, monkeypatch, canary):
    """Read the environ of every pid visible in /proc (bwrap's init included): no host canary variable."""
    monkeypatch.setenv("GRADER_ESCAPE_CANARY", canary)
    worker = spawn()
    source = r'''
pids = sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
result = {"status": attempt(read_bytes, "/proc/self/status"), "own": attempt(read_bytes, "/proc/self/environ", 65536),
          "others": {pid: attempt(read_bytes, f"/proc/{pid}/environ", 65536) for pid in pids[:500]}}
'''
    result = attack(worker, source)
    assert result["status"]["ok"], "the probe reads its own /proc entries"
    assert canary not in as_text(result)


def test_proc_root_and_cwd_links_do_not_reach_the_host(worker, plant, canary):
    """Follow /proc/<grader pid>/root, /proc/<grader pid>/cwd and /proc/1/root to a host canary: refused."""
    planted = plant(f"/tmp/grader-escape-{token()}.txt", canary)
    me = os.getpid()
    paths = [f"/proc/{me}/root{planted}", f"/proc/{os.getppid()}/root{planted}", f"/proc/1/root{planted}",
             f"/proc/{me}/cwd/pyproject.toml", f"/proc/{me}/root{REPO}/pyproject.toml"]
    source = r'''
result = {"reads": {path: attempt(read_bytes, path) for path in args["paths"]},
          "control": attempt(read_bytes, "/proc/self/cwd/mine.txt")}
'''
    result = attack(worker, source, {"paths": paths}, files={"mine.txt": planted})
    assert result["control"]["ok"], "the probe follows its own /proc/self/cwd"
    leaked = {path: outcome for path, outcome in result["reads"].items() if outcome["ok"]}
    assert not leaked, leaked


def test_only_a_minimal_dev_is_visible(worker):
    """Open the host's block devices, /dev/kmsg, /dev/mem, /dev/port, /dev/kvm; list /dev: no device of the host."""
    host_blocks = sorted(f"/dev/{name}" for name in os.listdir("/dev")
                         if stat.S_ISBLK(os.lstat(f"/dev/{name}").st_mode))
    assert host_blocks, "the host has a block device to attack"
    source = r'''
def _open(path):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return len(os.read(fd, 512))
    finally:
        os.close(fd)

def _blocks():
    return sorted(name for name in os.listdir("/dev") if stat.S_ISBLK(os.lstat("/dev/" + name).st_mode))

result = {"control": {path: attempt(_open, path) for path in ("/dev/null", "/dev/urandom", "/dev/zero")},
          "devices": {path: attempt(_open, path) for path in args["paths"]},
          "blocks": attempt(_blocks)}
'''
    paths = [*host_blocks, "/dev/kmsg", "/dev/mem", "/dev/kmem", "/dev/port", "/dev/kvm", "/dev/console",
             "/dev/tty0", "/dev/cpu/0/msr"]
    result = attack(worker, source, {"paths": paths})
    assert all(outcome["ok"] for outcome in result["control"].values()), result["control"]
    assert not succeeded(result["devices"]), result["devices"]
    assert not (result["blocks"]["ok"] and result["blocks"]["value"]), result["blocks"]


# -- writes -----------------------------------------------------------------------------------------------

def test_writes_outside_the_task_folder_never_reach_the_host(worker, open_dir, canary):
    """Write a canary to /tmp, /var/tmp, /dev/shm, the repository, a world-writable host folder: none on the host."""
    name = f"grader-escape-{token()}.txt"
    targets = [Path("/tmp") / name, Path("/var/tmp") / name, Path("/dev/shm") / name, REPO / name,
               REPO / "grader" / name, REPO / "tests" / "sandbox" / name, open_dir / name, Path("/root") / name,
               Path("/home") / name, Path("/etc") / name]
    try:
        result = attack(worker, WRITE_PROBE, {"token": canary, "paths": [str(path) for path in targets]})
        assert result["control"]["ok"] and result["control"]["value"] == canary, "the task folder is writable"
        reached = [str(path) for path in targets if path.exists()]
        assert not reached, f"written on the host: {reached}"
    finally:
        remove_quietly(targets)


# -- hygiene ----------------------------------------------------------------------------------------------

def test_host_environment_is_not_inherited(spawn, monkeypatch, canary):
    """Set canary variables in the grader's environment, then dump os.environ inside: none arrives."""
    monkeypatch.setenv("GRADER_ESCAPE_CANARY", canary)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", canary + "aws")
    monkeypatch.setenv("LD_PRELOAD", f"/tmp/{canary}.so")
    worker = spawn()
    source = r'''
result = {"environ": dict(os.environ), "raw": attempt(read_bytes, "/proc/self/environ", 65536)}
'''
    result = attack(worker, source)
    assert result["environ"], "the probe sees its own (scrubbed) environment"
    assert canary not in as_text(result)
    assert "GRADER_ESCAPE_CANARY" not in result["environ"] and "LD_PRELOAD" not in result["environ"]
