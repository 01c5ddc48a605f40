"""Where a running phone listens: one Unix socket per config file, private to the user.

`$XDG_RUNTIME_DIR/tuiphone/<name>.sock` (`/tmp/tuiphone-<uid>/` when XDG_RUNTIME_DIR is unset), the
folder 0700 and the socket 0600; `<name>` is a short hash of the config file's resolved path, so two
configs run two phones. `claim(config)` makes the phone the one for its config: it holds an flock on
`<name>.lock` (which also records its pid) for as long as it runs, so a second phone for the same config
is told who runs it, and a socket left by a phone that crashed (nobody holds the lock) is replaced.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import socket
import stat
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

RUNTIME_ENV = "XDG_RUNTIME_DIR"
BACKLOG = 64


class EndpointError(Exception):
    """The control socket cannot be set up; `str()` is a sentence saying what to change."""


class AlreadyRunning(EndpointError):
    def __init__(self, config: Path, pid: int | None):
        who = f"pid {pid}" if pid else "its pid is not known yet"
        super().__init__(f"a phone is already running for {config} ({who})")
        self.pid = pid


def socket_dir() -> Path:
    runtime = os.environ.get(RUNTIME_ENV, "")
    if runtime:
        return Path(runtime) / "tuiphone"
    return Path("/tmp") / f"tuiphone-{os.getuid()}"


def endpoint_name(config: Path | str) -> str:
    resolved = str(Path(os.path.expanduser(os.fspath(config))).resolve())
    return hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def socket_path(config: Path | str) -> Path:
    return socket_dir() / f"{endpoint_name(config)}.sock"


def lock_path(config: Path | str) -> Path:
    return socket_dir() / f"{endpoint_name(config)}.lock"


def private_dir(path: Path) -> Path:
    """`path`, created 0700 if missing; EndpointError when it is not a folder of ours (someone else's, or a
    symlink: in /tmp anyone could have made it first)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise EndpointError(f"cannot make the folder {path} for the control socket: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise EndpointError(f"{path} is not a folder of yours: remove it, or set {RUNTIME_ENV} to one that is")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def recorded_pid(config: Path | str) -> int | None:
    """The pid the phone for `config` wrote into its lock file (None when there is none)."""
    try:
        text = lock_path(config).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def running_pid(config: Path | str) -> int | None:
    """The pid of the phone that holds the lock for `config` now, or None when no phone does."""
    try:
        fd = os.open(lock_path(config), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return recorded_pid(config) or -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@dataclass
class Claim:
    """The phone's hold on its endpoint: the listening socket (non-blocking) and the paths."""
    config: Path
    path: Path
    sock: socket.socket


@contextmanager
def claim(config: Path | str) -> Iterator[Claim]:
    """Become the phone for `config` and listen on its socket; AlreadyRunning when another phone is.
    At exit the socket file goes (the lock file stays, empty: removing it would race a new phone)."""
    config = Path(config)
    private_dir(socket_dir())
    path, lock = socket_path(config), lock_path(config)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(config, _pid_of_holder(config)) from None
    sock = None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        sock = _listen(path)
        bound = os.stat(path).st_ino
        yield Claim(config, path, sock)
    finally:
        if sock is not None:
            sock.close()
            try:
                if os.stat(path).st_ino == bound:
                    path.unlink()
            except OSError:
                pass
        os.ftruncate(fd, 0)
        os.close(fd)


def _pid_of_holder(config: Path) -> int | None:
    for _ in range(20):          # the holder writes its pid right after taking the lock
        pid = recorded_pid(config)
        if pid:
            return pid
        time.sleep(0.01)
    return None


def _listen(path: Path) -> socket.socket:
    """A socket listening at `path`, 0600. We hold the lock, so a file there is a crashed phone's: replace it."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise EndpointError(f"{path} is in the way of the control socket and is not one: remove it")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)        # 0600 from the start: no moment where another user could connect
    try:
        sock.bind(os.fspath(path))
        os.chmod(path, 0o600)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.ENAMETOOLONG or "too long" in str(exc):      # "AF_UNIX path too long"
            raise EndpointError(f"the control socket path {path} is too long: set {RUNTIME_ENV} "
                                "to a shorter folder") from None
        raise EndpointError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old)
    sock.setblocking(False)
    return sock


def peer_uid(sock: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a Unix socket (SO_PEERCRED)."""
    pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                         struct.calcsize("3i")))
    return pid, uid
