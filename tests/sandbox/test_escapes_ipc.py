"""Device, IPC and network escapes: private size-limited /tmp and /dev/shm, no sockets, no host IPC."""

from __future__ import annotations

import ctypes
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from escape_kit import PLAIN, REFUSED, as_text, attack, remove_quietly, token

FILL = r'''
folder = os.path.join(args["root"], args["name"])
written, error = 0, None
try:
    os.mkdir(folder)
    index = 0
    chunk = b"\xa5" * (args["chunk_mb"] << 20)
    while written < args["total_mb"] << 20:
        with open(os.path.join(folder, f"part{index}"), "wb") as handle:
            for _ in range(args["file_mb"] // args["chunk_mb"]):
                handle.write(chunk)
                written += len(chunk)
        index += 1
except OSError as exc:
    error = failure(exc)
result = {"written_mb": written >> 20, "error": error}
'''


def fill(worker, root: str) -> tuple[dict | None, str]:
    """Fills ``root`` with 1.5 GiB in files of 16 MiB (under the file-size limit), 8 MiB at a time."""
    name = f"grader-escape-fill-{token()}"
    args = {"root": root, "name": name, "total_mb": 1536, "file_mb": 16, "chunk_mb": 8}
    try:
        return attack(worker, FILL, args, timeout=30), name
    except REFUSED:
        return None, name


@pytest.mark.parametrize("root", ["/dev/shm", "/tmp"])
def test_filling_shared_memory_and_tmp_is_bounded(worker, root):
    """Write 1.5 GiB into /dev/shm or /tmp: stopped well below the worker's memory limit, nothing on the host."""
    result, name = fill(worker, root)
    try:
        if result is not None:
            assert result["written_mb"] >= 16, f"the fill writes at all: {result}"
            assert result["error"] is not None and result["written_mb"] < PLAIN.memory_mb, result
        assert not Path(root, name).exists(), f"the fill reached the host's {root}"
    finally:
        remove_quietly([Path(root, name)])


@pytest.fixture
def unix_listeners(tmp_path):
    """Unix stream sockets the host listens on: in its /tmp (mode 0777), in tmp_path, and abstract."""
    name = token()
    addresses = {"tmp": f"/tmp/grader-escape-{name}.sock", "tmp_path": str(tmp_path / "grader.sock"),
                 "abstract": f"\0grader-escape-{name}"}
    accepted: list[bytes] = []
    servers = []
    for label, address in addresses.items():
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(address)
        if not address.startswith("\0"):
            os.chmod(address, 0o777)
        server.listen(8)
        server.settimeout(0.2)
        servers.append(server)
    stop = threading.Event()

    def serve(server):
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.settimeout(1)
                try:
                    accepted.append(connection.recv(256) or b"<connected>")
                except OSError:
                    accepted.append(b"<connected>")

    threads = [threading.Thread(target=serve, args=(server,), daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    yield addresses, accepted
    stop.set()
    for thread in threads:
        thread.join(2)
    for server in servers:
        server.close()
    remove_quietly([Path(addresses["tmp"]), Path(addresses["tmp_path"])])


CONNECT_UNIX = r'''
def _connect(address):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(2)
        client.connect(address)
        client.sendall(args["token"].encode())
        return "connected"
    finally:
        client.close()

result = {label: attempt(_connect, address) for label, address in args["addresses"].items()}
'''


def test_unix_sockets_the_host_listens_on_are_unreachable(worker, unix_listeners, canary):
    """Connect to host unix sockets in /tmp, in tmp_path and in the abstract namespace: all refused."""
    addresses, accepted = unix_listeners
    result = attack(worker, CONNECT_UNIX, {"addresses": addresses, "token": canary})
    for label, address in addresses.items():
        assert not result[label]["ok"], f"connected to the host's {label} socket"
    for address in addresses.values():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
            control.connect(address)
            control.sendall(b"control")
    for _ in range(30):
        if len(accepted) >= len(addresses):
            break
        time.sleep(0.1)
    assert accepted.count(b"control") == len(addresses), "the host listeners work"
    assert not any(canary.encode() in data for data in accepted)


def test_tcp_and_udp_to_the_hosts_loopback_are_unreachable(worker, canary):
    """Connect TCP and send UDP to listeners on the host's 127.0.0.1: nothing arrives."""
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    tcp.settimeout(0.5)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.5)
    try:
        source = r'''
def _tcp():
    with socket.create_connection(("127.0.0.1", args["tcp"]), timeout=2) as client:
        client.sendall(args["token"].encode())
    return "connected"

def _udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        return client.sendto(args["token"].encode(), ("127.0.0.1", args["udp"]))

result = {"tcp": attempt(_tcp), "udp": attempt(_udp)}
'''
        result = attack(worker, source, {"tcp": tcp.getsockname()[1], "udp": udp.getsockname()[1], "token": canary})
        assert not result["tcp"]["ok"], result
        try:
            connection, _ = tcp.accept()
            connection.close()
            pytest.fail("the worker reached the host's loopback over TCP")
        except TimeoutError:
            pass
        try:
            data = udp.recv(256)
            pytest.fail(f"the worker reached the host's loopback over UDP: {data!r}")
        except TimeoutError:
            pass
    finally:
        tcp.close()
        udp.close()


def test_outside_network_is_unreachable(worker):
    """TCP to public addresses, UDP DNS to 8.8.8.8, name resolution: all fail."""
    source = r'''
def _tcp(host, port):
    with socket.create_connection((host, port), timeout=2):
        return "connected"

def _udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(2)
        client.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
                      ("8.8.8.8", 53))
        return client.recv(512)

result = {"tcp_1111": attempt(_tcp, "1.1.1.1", 443), "tcp_8888": attempt(_tcp, "8.8.8.8", 53),
          "tcp6": attempt(_tcp, "2606:4700:4700::1111", 443), "udp_dns": attempt(_udp),
          "resolve": attempt(socket.getaddrinfo, "example.com", 443)}
'''
    result = attack(worker, source)
    reached = [label for label, outcome in result.items() if outcome["ok"]]
    assert not reached, result


IPC_CREAT, IPC_EXCL, IPC_RMID = 0o1000, 0o2000, 0


class MsgBuf(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 128)]


@pytest.fixture
def host_sysv(canary):
    """A SysV shared-memory segment and message queue on the host (mode 0666), each holding the canary."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    shm_key = msg_key = 0
    shm_id = msg_id = -1
    for _ in range(20):
        shm_key, msg_key = (int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF for _ in range(2))
        shm_id = libc.shmget(shm_key, 4096, IPC_CREAT | IPC_EXCL | 0o666)
        msg_id = libc.msgget(msg_key, IPC_CREAT | IPC_EXCL | 0o666)
        if shm_id >= 0 and msg_id >= 0:
            break
        if shm_id >= 0:
            libc.shmctl(shm_id, IPC_RMID, None)
        if msg_id >= 0:
            libc.msgctl(msg_id, IPC_RMID, None)
    assert shm_id >= 0 and msg_id >= 0, f"host SysV IPC unavailable (errno {ctypes.get_errno()})"
    address = libc.shmat(shm_id, None, 0)
    ctypes.memmove(address, canary.encode(), len(canary))
    libc.shmdt(ctypes.c_void_p(address))
    message = MsgBuf(1, canary.encode())
    assert libc.msgsnd(msg_id, ctypes.byref(message), len(canary), 0) == 0
    yield {"shm_key": shm_key, "msg_key": msg_key, "shm_id": shm_id, "msg_id": msg_id}
    libc.shmctl(shm_id, IPC_RMID, None)
    libc.msgctl(msg_id, IPC_RMID, None)


def test_sysv_ipc_shared_with_the_host_is_unreachable(worker, host_sysv, canary):
    """Attach the host's SysV shm segment and receive from its message queue, by key and by id: refused."""
    source = r'''
libc.shmat.restype = ctypes.c_void_p

class MsgBuf(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 128)]

def _shm(shm_id):
    address = libc.shmat(shm_id, None, 0o10000)  # SHM_RDONLY
    if address in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "shmat")
    return ctypes.string_at(address, 64)

def _shm_by_key():
    shm_id = libc.shmget(args["shm_key"], 0, 0)
    if shm_id < 0:
        raise OSError(ctypes.get_errno(), "shmget")
    return _shm(shm_id)

def _msg(msg_id):
    buffer = MsgBuf()
    n = libc.msgrcv(msg_id, ctypes.byref(buffer), 128, 0, 0o4000)  # IPC_NOWAIT
    if n < 0:
        raise OSError(ctypes.get_errno(), "msgrcv")
    return buffer.mtext[:n]

def _msg_by_key():
    msg_id = libc.msgget(args["msg_key"], 0)
    if msg_id < 0:
        raise OSError(ctypes.get_errno(), "msgget")
    return _msg(msg_id)

def _own():
    shm_id = libc.shmget(0, 4096, 0o1000 | 0o600)  # IPC_PRIVATE
    if shm_id < 0:
        raise OSError(ctypes.get_errno(), "own shmget")
    address = libc.shmat(shm_id, None, 0)
    ctypes.memmove(address, b"own segment", 11)
    data = ctypes.string_at(address, 11)
    libc.shmctl(shm_id, 0, None)
    return data

result = {"shm_key": attempt(_shm_by_key), "shm_id": attempt(_shm, args["shm_id"]),
          "msg_key": attempt(_msg_by_key), "msg_id": attempt(_msg, args["msg_id"]),
          "ipcs": attempt(read_bytes, "/proc/sysvipc/shm", 65536), "control": attempt(_own)}
'''
    result = attack(worker, source, host_sysv)
    assert result["control"]["ok"] and result["control"]["value"] == "own segment", "SysV calls work in the probe"
    assert canary not in as_text(result)
    assert not any(result[k]["ok"] for k in ("shm_key", "shm_id", "msg_key", "msg_id")), result


def test_host_posix_shared_memory_is_invisible(worker, plant, canary):
    """Open a POSIX shm segment the host made in /dev/shm (mode 0666): not there."""
    name = f"grader-escape-{token()}"
    plant(f"/dev/shm/{name}", canary, mode=0o666)
    source = r'''
def _shm_open():
    import mmap
    fd = os.open("/dev/shm/" + args["name"], os.O_RDWR)
    try:
        return mmap.mmap(fd, 0)[:64]
    finally:
        os.close(fd)
result = {"open": attempt(_shm_open), "listing": listing("/dev/shm")}
'''
    result = attack(worker, source, {"name": name})
    assert canary not in as_text(result)
    assert name not in as_text(result["listing"])
