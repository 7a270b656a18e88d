"""The system-call filter every sandboxed worker runs under, compiled by libseccomp.

The worker talks to the grader through pipes it inherits, so it needs no socket at all;
nothing it legitimately does (load a model, run NumPy) needs to debug another process,
mount a filesystem, enter or create a namespace, load BPF, touch the kernel keyring, or use
io_uring, userfaultfd or perf events, which are also the usual ways in for kernel exploits.
Those calls fail with EPERM instead of killing the process, so a student's code sees an
ordinary ``PermissionError``.

The filter is built with ``pyseccomp`` (ctypes over the system's ``libseccomp.so.2``) and
handed to bubblewrap as compiled BPF (``bwrap --seccomp FD``), which installs it just
before it starts the worker. Where libseccomp is missing, :func:`seccomp_program` returns
None and the isolation report says so.
"""

from __future__ import annotations

import errno
import tempfile
from typing import IO

__all__ = ["DENIED_SYSCALLS", "NAMESPACE_FLAGS", "seccomp_program"]

DENIED_SYSCALLS = (
    # networking: every family, including unix sockets that would reach the host's services
    "socket", "socketpair",
    # other processes' memory and the kernel's debugging interfaces
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "perf_event_open",
    # filesystems and namespaces
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
    "fanotify_init",
    # kernel attack surface nothing here needs
    "bpf", "keyctl", "add_key", "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "iopl", "ioperm", "swapon", "swapoff", "reboot", "acct", "quotactl", "lookup_dcookie", "syslog",
    "personality", "vhangup",
)

# clone() flags that create namespaces (CLONE_NEWTIME shares a bit with the exit signal in
# clone() and exists only for clone3/unshare, both refused outright).
NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
TIOCSTI = 0x5412  # pushes characters into a terminal's input queue


def _build_filter():
    import pyseccomp as sc

    program = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            program.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, ValueError, RuntimeError):
            pass  # not a system call on this architecture
    for flag in NAMESPACE_FLAGS.values():
        program.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc fall back to clone().
    program.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    program.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
    return program


def seccomp_program() -> IO[bytes] | None:
    """The compiled filter in an unlinked temporary file positioned at its start, or None
    when libseccomp (or pyseccomp) is not available here.

    The caller passes the file's descriptor to ``bwrap --seccomp`` and closes it after the
    worker has started.
    """
    try:
        program = _build_filter()
    except (ImportError, OSError, AttributeError, RuntimeError):
        return None
    handle = tempfile.TemporaryFile()
    try:
        program.export_bpf(handle)
    except (OSError, RuntimeError):
        handle.close()
        return None
    handle.seek(0)
    return handle
