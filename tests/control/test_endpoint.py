"""The control socket of a real `tuiphone daemon`: one phone per config, stale sockets, hostile lines,
another user, and no leaked file descriptors after many front-ends came and went."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from tests.services.helpers import wait_for
from tuiphone.control.client import ControlClient, NoPhone, call_phone
from tuiphone.control.endpoint import socket_path

pytestmark = pytest.mark.peers


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def exchange(path, payload: bytes, timeout: float = 10.0) -> list[dict]:
    """Connect, read the hello and snapshot, send `payload`, read every line until the phone closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(os.fspath(path))
        stream = sock.makefile("rb")
        hello, snapshot = json.loads(stream.readline()), json.loads(stream.readline())
        assert hello["tuiphone"] == 1 and "snapshot" in snapshot
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass                       # closed on us mid-line: the reply is already waiting
        lines = []
        try:
            while line := stream.readline():
                lines.append(json.loads(line))
        except ConnectionResetError:
            pass
        return lines


def test_each_config_has_its_own_private_socket(runtime_dir, tmp_path, monkeypatch):
    a, b = socket_path(tmp_path / "a.toml"), socket_path(tmp_path / "b.toml")
    assert a != b and a.parent == b.parent == runtime_dir / "tuiphone"
    assert socket_path(tmp_path / "x" / ".." / "a.toml") == a          # the resolved path names it
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert socket_path(tmp_path / "a.toml").parent == Path(f"/tmp/tuiphone-{os.getuid()}")


def test_one_phone_per_config_and_a_stale_socket_is_replaced(ctl_daemons):
    first = ctl_daemons("first")
    path = socket_path(first.config_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    second = ctl_daemons("second", config_name="first", ready=False)
    assert second._popen.wait(timeout=20) == 2
    assert (f"tuiphone: a phone is already running for {first.config_path} (pid {first.pid})"
            in second.stderr()), second.stderr()

    os.kill(first.pid, signal.SIGKILL)            # a crash leaves its socket behind
    first._popen.wait(timeout=10)
    assert path.exists()
    with pytest.raises(NoPhone):
        call_phone(first.config_path, "status")
    third = ctl_daemons("third", config_name="first")
    hello, status = call_phone(third.config_path, "status")
    assert hello["pid"] == status["pid"] == third.pid


GARBAGE = {
    "not JSON": b"hello phone\n",
    "not an object": b"[1, 2, 3]\n",
    "no id": b'{"op": "status"}\n',
    "unknown op": b'{"id": 1, "op": "reboot", "args": {}}\n',
    "args not an object": b'{"id": 2, "op": "status", "args": [1]}\n',
    "deep nesting": b"[" * 200_000 + b"\n",
    "oversized": b'{"id": 3, "op": "call", "args": {"target": "' + b"9" * (2 << 20) + b'"}}\n',
    "binary": bytes(range(256)) * 8 + b"\n",
}


def test_garbage_gets_an_error_reply_and_a_close_and_the_phone_goes_on(ctl_daemons):
    daemon = ctl_daemons()
    path = socket_path(daemon.config_path)
    for what, payload in GARBAGE.items():
        lines = exchange(path, payload)
        assert len(lines) == 1 and lines[0]["ok"] is False and lines[0]["error"], (what, lines)
    unknown = exchange(path, GARBAGE["unknown op"])[0]
    assert unknown["id"] == 1 and "reboot" in unknown["error"]
    assert "longer than" in exchange(path, GARBAGE["oversized"])[0]["error"]
    # a refused command is answered and the connection stays: the next request is carried out
    lines = exchange(path, b'{"id": 7, "op": "hangup", "args": {"line": "one"}}\n'
                           b'{"id": 8, "op": "hangup", "args": {"line": 1}}\n'
                           b'{"id": 9, "op": "status"}\n{"id": 10, "op": "nope"}\n')
    lines.sort(key=lambda m: m["id"])             # requests run side by side; the ids pair the replies
    assert [(m["id"], m["ok"]) for m in lines] == [(7, False), (8, False), (9, True), (10, False)]
    assert "whole number" in lines[0]["error"] and "line 1" in lines[1]["error"].lower()
    assert lines[2]["result"]["pid"] == daemon.pid
    assert call_phone(daemon.config_path, "status")[1]["lines"] == []
    assert "Traceback" not in daemon.stderr()


def test_a_hundred_front_ends_come_and_go_without_leaking(ctl_daemons):
    daemon = ctl_daemons()
    path = socket_path(daemon.config_path)

    async def cycles(n: int) -> None:
        for i in range(n):
            client = await ControlClient.connect(daemon.config_path)
            if i % 10 == 0:
                await client.request("status")
            await client.close()

    asyncio.run(cycles(3))
    baseline = fds(daemon.pid)
    asyncio.run(cycles(100))
    for _ in range(20):                           # and some that vanish without a word, mid-hello
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(os.fspath(path))
    wait_for(lambda: fds(daemon.pid) <= baseline, 5, f"the daemon's fds to come back to {baseline}")
    assert call_phone(daemon.config_path, "status")[1]["front_ends"] == 1


PEER = ("import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n    print('CONNECT', e.errno); sys.exit()\n"
        "s.settimeout(10)\nprint(s.makefile().readline().strip())\nprint('EOF', repr(s.recv(100)))\n")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None or not os.path.exists("/usr/bin/python3"),
                    reason="needs root and setpriv to connect as another user (nobody)")
def test_another_user_is_refused(ctl_daemons, runtime_dir):
    daemon = ctl_daemons()
    path = socket_path(daemon.config_path)

    def as_nobody() -> str:
        done = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                               "/usr/bin/python3", "-I", "-c", PEER, os.fspath(path)],
                              capture_output=True, text=True, timeout=20, cwd="/", check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    os.chmod(runtime_dir, 0o755)
    assert as_nobody().startswith("CONNECT 13")          # the 0700 folder keeps other users out already
    os.chmod(path.parent, 0o755)                          # open both doors: SO_PEERCRED must refuse alone
    os.chmod(path, 0o666)
    out = as_nobody().splitlines()
    refusal = json.loads(out[0])
    assert refusal["ok"] is False and "another user" in refusal["error"]
    assert out[1] == "EOF b''"
    assert call_phone(daemon.config_path, "status")[0]["pid"] == daemon.pid
