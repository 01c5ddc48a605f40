"""tuiphone itself as a real peer: `python -m tuiphone ...` in its own process, on 127.0.0.1."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.peers.procs import _bind_probe
from tuiphone.engine.options import OptionsPinger, OptionsTarget


def sip_port() -> int:
    """A port free for UDP and TCP, below the kernel's ephemeral range so RTP sockets never take it first."""
    for _ in range(500):
        port = random.randrange(20000, 32000, 2)
        if port in _given:
            continue
        probes = [_bind_probe("udp", "127.0.0.1", port), _bind_probe("tcp", "127.0.0.1", port)]
        for probe in probes:
            if probe is not None:
                probe.close()
        if all(probes):
            _given.add(port)
            return port
    raise RuntimeError("no free SIP port in 20000-32000")


_given: set[int] = set()


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(data))
    return path


class PhoneProc:
    """One headless tuiphone command. `result()` waits for it and parses its --json output."""

    def __init__(self, workdir: Path, name: str, args: list[str], config: dict[str, Any] | None = None,
                 port: int | None = None):
        self.workdir = workdir
        self.name = name
        self.port = port if port is not None else sip_port()
        self.config_path = write_config(workdir / f"{name}.toml", config or {})
        self.trace_path = workdir / f"{name}.trace"
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        self.argv = [sys.executable, "-m", "tuiphone", "--config", str(self.config_path), "--data-dir",
                     str(workdir / f"{name}-data"), "--port", str(self.port), "--bind", "127.0.0.1",
                     "--sip-trace", str(self.trace_path), *args]
        self._popen: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def keypad(self) -> str:
        return f"127*0*0*1#{self.port}"

    def start(self) -> PhoneProc:
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            env = {**os.environ, "PYTHONFAULTHANDLER": "1"}     # a crash leaves its stacks in .err
            self._popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                           start_new_session=True, env=env)
        return self

    def wait_ready(self, timeout: float = 30.0) -> PhoneProc:
        """Wait until the phone answers SIP OPTIONS on its port (pjsua answers them itself). A start takes
        about a second, but on two busy cores (a flood test on the other worker, PulseAudio starting) one was
        seen to take 11 s: this only bounds a start that hangs."""
        deadline = time.monotonic() + timeout
        with OptionsPinger(OptionsTarget.parse(self.address), bind="127.0.0.1", timeout=0.3) as pinger:
            while time.monotonic() < deadline:
                if self._popen is not None and self._popen.poll() is not None:
                    pytest.fail(f"{self.name} exited early ({self._popen.returncode}): {self.stderr()}")
                if pinger.ping().sip_status == 200:
                    return self
                # Before the phone binds its port the ping is refused at once (ICMP): without a pause this
                # loop sent ~30,000 pings a start, a core's worth of CPU taken from the phone starting.
                time.sleep(0.02)
        pytest.fail(f"{self.name} did not answer OPTIONS on {self.address}: {self.stderr()}")

    def result(self, timeout: float = 30.0) -> tuple[int, dict[str, Any]]:
        assert self._popen is not None
        try:
            rc = self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"{self.name} did not finish in {timeout} s: {self.stderr()}")
        out = self.stdout_path.read_text()
        try:
            report = json.loads(out) if out.strip() else {}
        except json.JSONDecodeError:
            pytest.fail(f"{self.name} printed more than one JSON object on stdout: {out!r}")
        return rc, report

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            return ""

    def trace(self) -> str:
        return self.trace_path.read_text(errors="replace") if self.trace_path.exists() else ""

    def stop(self) -> None:
        if self._popen is None or self._popen.poll() is not None:
            return
        pid = self._popen.pid
        os.kill(pid, signal.SIGTERM)
        try:
            self._popen.wait(timeout=8)
        except subprocess.TimeoutExpired:
            os.killpg(pid, signal.SIGKILL)
            self._popen.wait(timeout=5)


@pytest.fixture
def phones(tmp_path):
    """Factory: phones(name, args, config=None, port=None) -> started PhoneProc; all stopped at teardown."""
    started: list[PhoneProc] = []

    def make(name: str, args: list[str], config: dict[str, Any] | None = None, port: int | None = None,
             ready: bool = False) -> PhoneProc:
        proc = PhoneProc(tmp_path, name, args, config, port).start()
        started.append(proc)
        if ready:
            proc.wait_ready()
        return proc

    yield make
    for proc in started:
        proc.stop()
