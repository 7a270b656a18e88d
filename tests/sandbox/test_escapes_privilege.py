"""Escalation escapes: namespaces, ptrace, mount, setuid, shells, dangerous syscalls and sockets all fail.

Raw syscalls run in a forked child (``in_child``): a seccomp filter that kills instead of failing the call
takes only the child, which the probe reports as "child died". Each probe first shows that its syscall
path works (``getpid`` through the same ctypes ``syscall``).
"""

from __future__ import annotations

import socket

import pytest

from escape_kit import REFUSED, as_text, attack, token

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000


def run_attack(worker, source, args=None):
    """The attack's result; a worker killed for trying counts as every call failing."""
    try:
        return attack(worker, source, args)
    except REFUSED as exc:
        return {"refused": type(exc).__name__}


def assert_all_failed(outcomes: dict) -> None:
    if "refused" in outcomes:
        return
    worked = {name: outcome for name, outcome in outcomes.items() if name != "control" and outcome.get("ok")}
    assert not worked, worked


def assert_control(result: dict) -> None:
    if "refused" not in result:
        assert result["control"]["ok"] and result["control"]["ret"] > 0, "raw syscalls work in the probe"


def test_unshare_and_clone_into_new_namespaces_fail(worker):
    """unshare(CLONE_NEWUSER|CLONE_NEWNS) and friends, clone(CLONE_NEWUSER), clone3, the unshare tool: all fail."""
    source = r'''
def _clone(flags):
    ret = syscall("clone", flags | signal.SIGCHLD, 0, 0, 0, 0)
    if ret["ok"] and ret["ret"] == 0:
        os._exit(0)
    if ret["ok"]:
        os.waitpid(ret["ret"], 0)
    return ret

def _clone3(flags):
    import struct
    clone_args = ctypes.create_string_buffer(struct.pack("<11Q", flags, 0, 0, 0, signal.SIGCHLD, 0, 0, 0, 0, 0, 0))
    ret = syscall("clone3", clone_args, 88)
    if ret["ok"] and ret["ret"] == 0:
        os._exit(0)
    if ret["ok"]:
        os.waitpid(ret["ret"], 0)
    return ret

def _tool():
    import subprocess
    done = subprocess.run(["unshare", "-Ur", "id", "-u"], capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
    return {"rc": done.returncode, "out": done.stdout}

NR.update({"x86_64": {"clone": 56, "clone3": 435}, "aarch64": {"clone": 220, "clone3": 435}}[os.uname().machine])
f = args["flags"]
result = {"control": in_child(lambda: syscall("getpid")),
          "user+mnt": in_child(lambda: syscall("unshare", f["user"] | f["mnt"])),
          "user": in_child(lambda: syscall("unshare", f["user"])),
          "mnt": in_child(lambda: syscall("unshare", f["mnt"])),
          "net+user": in_child(lambda: syscall("unshare", f["net"] | f["user"])),
          "pid+ipc+uts": in_child(lambda: syscall("unshare", f["pid"] | f["ipc"] | f["uts"])),
          "clone_user": in_child(lambda: _clone(f["user"])),
          "clone3_user": in_child(lambda: _clone3(f["user"])),
          "tool": attempt(_tool)}
if result["tool"]["ok"] and result["tool"]["value"]["rc"] != 0:
    result["tool"]["ok"] = False
'''
    flags = {"user": CLONE_NEWUSER, "mnt": CLONE_NEWNS, "net": CLONE_NEWNET, "pid": CLONE_NEWPID,
             "ipc": CLONE_NEWIPC, "uts": CLONE_NEWUTS}
    result = run_attack(worker, source, {"flags": flags})
    assert_control(result)
    assert_all_failed(result)


def test_setns_into_any_namespace_fails(worker):
    """setns() on every /proc/self/ns and /proc/1/ns file: all fail."""
    source = r'''
def _setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return syscall("setns", fd, 0)
    finally:
        os.close(fd)

paths = [f"/proc/{who}/ns/{kind}" for who in ("self", "1")
         for kind in ("user", "mnt", "net", "pid", "ipc", "uts", "cgroup", "time")]
result = {"control": in_child(lambda: syscall("getpid"))}
result.update({path: in_child(lambda path=path: _setns(path)) for path in paths})
'''
    result = run_attack(worker, source)
    assert_control(result)
    assert_all_failed(result)


def test_ptrace_fails(worker):
    """PTRACE_ATTACH to pid 1, the parent and the attacker's own child, and PTRACE_TRACEME: all fail."""
    source = r'''
PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_DETACH = 0, 16, 17

def _attach(pid):
    ret = syscall("ptrace", PTRACE_ATTACH, pid, 0, 0)
    if ret["ok"]:
        syscall("ptrace", PTRACE_DETACH, pid, 0, 0)
    return ret

child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
try:
    time.sleep(0.1)
    result = {"control": in_child(lambda: syscall("getpid")),
              "pid1": in_child(lambda: _attach(1)),
              "parent": _attach(os.getppid()),
              "own_child": _attach(child),
              "traceme": in_child(lambda: syscall("ptrace", PTRACE_TRACEME, 0, 0, 0))}
finally:
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
'''
    result = run_attack(worker, source)
    assert_control(result)
    assert_all_failed(result)


def test_mount_fails(worker):
    """mount() a tmpfs, bind-mount /, remount / read-write, mount after unshare, /bin/mount: all fail."""
    source = r'''
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
target = os.path.join(os.getcwd(), "mnt")
os.mkdir(target)

def _mount(source, fstype, flags):
    ctypes.set_errno(0)
    ret = libc.mount(source, target.encode(), fstype, flags, None)
    return {"ok": ret == 0, "errno": ctypes.get_errno()}

def _remount_root():
    ret = libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None)
    return {"ok": ret == 0, "errno": ctypes.get_errno()}

def _after_unshare():
    step = syscall("unshare", args["newuser"] | args["newns"])
    return _mount(b"none", b"tmpfs", 0) if step["ok"] else step

def _tool():
    import subprocess
    done = subprocess.run(["mount", "-t", "tmpfs", "none", target], capture_output=True, timeout=5,
                          stdin=subprocess.DEVNULL)
    return {"ok": done.returncode == 0, "rc": done.returncode, "err": done.stderr[-200:]}

result = {"control": in_child(lambda: syscall("getpid")),
          "tmpfs": in_child(lambda: _mount(b"none", b"tmpfs", 0)),
          "bind_root": in_child(lambda: _mount(b"/", None, MS_BIND | MS_REC)),
          "remount_root_rw": in_child(_remount_root),
          "after_unshare": in_child(_after_unshare),
          "tool": in_child(_tool),
          "mounted": attempt(lambda: target in read_bytes("/proc/self/mountinfo", 1 << 20).decode())}
result["mounted"]["ok"] = result["mounted"]["ok"] and result["mounted"]["value"]
'''
    result = run_attack(worker, source, {"newuser": CLONE_NEWUSER, "newns": CLONE_NEWNS})
    assert_control(result)
    assert_all_failed(result)


def test_setuid_binaries_fail(worker):
    """Run su, passwd, mount, newgrp, chsh, gpasswd (setuid root on the host): absent or without root."""
    source = r'''
def _run(argv):
    import subprocess
    done = subprocess.run(argv, capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
    return {"rc": done.returncode, "out": (done.stdout + done.stderr)[-300:]}

def _execv(argv):
    pid = os.fork()
    if pid == 0:
        try:
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    status = os.waitpid(pid, 0)[1]
    return {"rc": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1, "out": ""}

def _setuid_files():
    found = []
    for folder in ("/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            try:
                mode = os.stat(os.path.join(folder, name)).st_mode
            except OSError:
                continue
            if mode & (stat.S_ISUID | stat.S_ISGID):
                found.append(os.path.join(folder, name))
    return found

target = os.path.join(os.getcwd(), "mnt")
os.mkdir(target)
runs = {"su": ["/usr/bin/su", "-c", "id -u", "root"], "passwd": ["/usr/bin/passwd", "-S", "root"],
        "mount": ["/bin/mount", "-t", "tmpfs", "none", target], "newgrp": ["/usr/bin/newgrp", "root"],
        "chsh": ["/usr/bin/chsh", "-s", "/bin/sh", "root"], "gpasswd": ["/usr/bin/gpasswd", "-a", "nobody", "root"]}
result = {name: attempt(_run, argv) for name, argv in runs.items()}
result.update({f"{name}_execv": attempt(_execv, argv) for name, argv in runs.items()})
for name, outcome in result.items():
    if outcome["ok"] and outcome["value"]["rc"] != 0:
        outcome["ok"] = False
result["setuid_files"] = attempt(_setuid_files)
'''
    result = run_attack(worker, source)
    if "refused" in result:
        return
    result.pop("setuid_files")
    worked = {name: outcome for name, outcome in result.items() if outcome["ok"]}
    assert not worked, worked
    assert "uid=0" not in as_text(result) and "root P" not in as_text(result)


def test_no_shell_can_be_started(worker):
    """os.system, subprocess with /bin/sh and bash, os.posix_spawn of sh: fail or do not exist."""
    marker = token()
    source = r'''
out = os.path.join(os.getcwd(), "shell_ran")

def _system():
    status = os.system(f"echo {args['marker']} > {out}")
    return {"status": status}

def _run(argv):
    import subprocess
    done = subprocess.run(argv, capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
    return {"rc": done.returncode, "out": done.stdout}

def _shell_true():
    import subprocess
    return subprocess.run(f"echo {args['marker']}", shell=True, capture_output=True).stdout

def _execv(path):
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(path, ["sh", "-c", f"echo {args['marker']} > {out}"])
        finally:
            os._exit(127)
    return os.waitpid(pid, 0)[1]

def _spawn():
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", f"echo {args['marker']} > {out}"], {})
    return os.waitpid(pid, 0)[1]

result = {"system": attempt(_system),
          "sh": attempt(_run, ["/bin/sh", "-c", f"echo {args['marker']}"]),
          "bash": attempt(_run, ["/bin/bash", "-c", f"echo {args['marker']}"]),
          "shell_true": attempt(_shell_true),
          "posix_spawn": attempt(_spawn),
          "execv_sh": attempt(_execv, "/bin/sh"),
          "execv_dash": attempt(_execv, "/bin/dash"),
          "execv_bash": attempt(_execv, "/bin/bash")}
result["file"] = attempt(read_bytes, out)
'''
    result = run_attack(worker, source, {"marker": marker})
    if "refused" in result:
        return
    assert not result["file"]["ok"], "a shell wrote the marker file"
    assert marker not in as_text(result), result


def test_setuid_root_fails_and_no_capabilities_are_held(worker):
    """setuid(0), seteuid(0), setresuid(0,0,0), setgid(0), setgroups([0]) fail; CapEff/CapPrm are empty."""
    source = r'''
status = read_bytes("/proc/self/status", 65536).decode().splitlines()
caps = {line.split(":")[0]: int(line.split()[1], 16) for line in status
        if line.startswith(("CapEff", "CapPrm", "CapAmb"))}
result = {"control": in_child(lambda: syscall("getpid")),
          "setuid": in_child(lambda: attempt(os.setuid, 0)),
          "seteuid": in_child(lambda: attempt(os.seteuid, 0)),
          "setresuid": in_child(lambda: attempt(os.setresuid, 0, 0, 0)),
          "setgid": in_child(lambda: attempt(os.setgid, 0)),
          "setgroups": in_child(lambda: attempt(os.setgroups, [0])),
          "raw_setuid": in_child(lambda: syscall("setuid", 0)),
          "caps": {"ok": any(caps.values()), "value": caps}, "euid": os.geteuid()}
'''
    result = run_attack(worker, source)
    assert_control(result)
    assert_all_failed({k: v for k, v in result.items() if k != "euid"})
    if "euid" in result:
        assert result["euid"] != 0


DANGEROUS = {
    "keyctl": r'''
def _keys():
    got = syscall("keyctl", 0, -3, 1)  # KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, create
    added = syscall("add_key", b"user", b"grader-escape", b"x", 1, -2)  # KEY_SPEC_PROCESS_KEYRING
    return {"ok": got["ok"] or added["ok"], "keyctl": got, "add_key": added}
result["attack"] = in_child(_keys)
''',
    "bpf": r'''
def _bpf():
    import struct
    attr = ctypes.create_string_buffer(struct.pack("<IIII", 2, 4, 4, 1), 72)  # BPF_MAP_TYPE_ARRAY
    ret = syscall("bpf", 0, attr, 72)  # BPF_MAP_CREATE
    if ret["ok"]:
        os.close(ret["ret"])
    return ret
result["attack"] = in_child(_bpf)
''',
    "perf_event_open": r'''
def _perf():
    import struct
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQ", attr, 0, 1, 128, 1)  # PERF_TYPE_SOFTWARE, size, PERF_COUNT_SW_TASK_CLOCK
    struct.pack_into("<Q", attr, 40, 1 | 1 << 5 | 1 << 6)  # disabled, exclude_kernel, exclude_hv
    ret = syscall("perf_event_open", attr, 0, -1, -1, 8)  # this task, any cpu, PERF_FLAG_FD_CLOEXEC
    if ret["ok"]:
        os.close(ret["ret"])
    return ret
result["attack"] = in_child(_perf)
''',
    "io_uring_setup": r'''
def _uring():
    params = ctypes.create_string_buffer(120)
    ret = syscall("io_uring_setup", 1, params)
    if ret["ok"]:
        os.close(ret["ret"])
    return ret
result["attack"] = in_child(_uring)
''',
    "userfaultfd": r'''
def _uffd():
    ret = syscall("userfaultfd", os.O_CLOEXEC | os.O_NONBLOCK | 1)  # UFFD_USER_MODE_ONLY
    if ret["ok"]:
        os.close(ret["ret"])
    return ret
result["attack"] = in_child(_uffd)
''',
}


@pytest.mark.parametrize("name", sorted(DANGEROUS))
def test_dangerous_syscall_fails(worker, name):
    """keyctl/add_key, bpf, perf_event_open, io_uring_setup, userfaultfd through ctypes syscall(): each fails."""
    source = 'result = {"control": in_child(lambda: syscall("getpid"))}\n' + DANGEROUS[name]
    result = run_attack(worker, source)
    assert_control(result)
    assert_all_failed(result)


SOCKETS = {
    "netlink_route": (socket.AF_NETLINK, socket.SOCK_RAW, 0),
    "packet_raw": (socket.AF_PACKET, socket.SOCK_RAW, 0),
    "inet_raw_icmp": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    "inet_stream": (socket.AF_INET, socket.SOCK_STREAM, 0),
    "inet6_dgram": (socket.AF_INET6, socket.SOCK_DGRAM, 0),
    "unix_stream": (socket.AF_UNIX, socket.SOCK_STREAM, 0),
}


@pytest.mark.parametrize("name", sorted(SOCKETS))
def test_socket_creation_is_denied(worker, name):
    """socket() of any family (netlink, packet, raw, inet, inet6, unix) fails in the plain worker."""
    source = r'''
def _socket():
    with socket.socket(*args["triple"]) as made:
        return made.family
result = {"attack": in_child(lambda: attempt(_socket))}
'''
    result = run_attack(worker, source, {"triple": list(SOCKETS[name])})
    assert_all_failed(result)
