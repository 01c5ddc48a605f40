"""A private PulseAudio server with null sinks, so sounddevice plays and records through a real
PortAudio → ALSA → PulseAudio path on a box with no sound card.

Sinks: `spk` (default sink: what the phone plays) and `mic` (its monitor `mic.monitor` is the
default source: what is played into `mic` is what the phone's microphone hears), plus `ring`.
The server runs as a child of the test process and is stopped by its PID.

An idle null sink wakes only every 2 s, so a stream opened on it would sit silent for its first
2 s. A low-latency recorder on each monitor ("keeper") keeps every sink ticking every 10 ms,
like a sound card.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

RATE = 16000
SINKS = ("spk", "mic", "ring")


@dataclass
class PulseServer:
    """A running PulseAudio: its socket, its PID and the environment clients need."""

    runtime_dir: Path
    proc: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)
    keepers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "pulse" / "native"

    def start(self) -> None:
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        (self.runtime_dir / "client.conf").write_text("autospawn = no\n")
        self.env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "HOME": str(self.runtime_dir),
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_CLIENTCONFIG": str(self.runtime_dir / "client.conf"),
        }
        args = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--system=false",
                "--disallow-exit", "--use-pid-file=no",
                "--load=module-native-protocol-unix auth-anonymous=1"]
        args += [f"--load=module-null-sink sink_name={s}" for s in SINKS]
        if self.socket.exists():
            self.socket.unlink()
        log = open(self.runtime_dir / "pulseaudio.log", "ab")
        self.proc = subprocess.Popen(args, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with {self.proc.returncode}: "
                                   f"{(self.runtime_dir / 'pulseaudio.log').read_text()[-500:]}")
            if self.socket.exists() and self.pactl("info", check=False).returncode == 0:
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("pulseaudio did not come up within 10 s")
        self.pactl("set-default-sink", "spk")
        self.pactl("set-default-source", "mic.monitor")
        self.keepers = [
            subprocess.Popen(["parecord", "--raw", "--latency-msec=10", f"--device={sink}.monitor", "/dev/null"],
                             env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for sink in SINKS
        ]
        time.sleep(0.05)
        for sink in SINKS:             # a suspend/resume re-arms the sink's timer at the new latency now
            self.pactl("suspend-sink", sink, "1")
            self.pactl("suspend-sink", sink, "0")

    def stop(self) -> None:
        keepers, self.keepers = self.keepers, []
        for keeper in keepers:
            _stop(keeper)
        proc, self.proc = self.proc, None
        if proc is not None:
            _stop(proc)

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True,
                              check=check, timeout=10)

    def play(self, wav: Path, sink: str) -> subprocess.Popen:
        """Start playing a WAV file into a sink (paplay); the caller waits for or stops it."""
        return subprocess.Popen(["paplay", f"--device={sink}", str(wav)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def recorder(self, source: str, path: Path) -> subprocess.Popen:
        """Start recording a source (e.g. "spk.monitor") as raw 16 kHz mono; stop with stop_recording."""
        return subprocess.Popen(
            ["parecord", f"--device={source}", f"--rate={RATE}", "--channels=1", "--format=s16le",
             "--raw", "--latency-msec=20", str(path)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @staticmethod
    def stop_recording(proc: subprocess.Popen, path: Path) -> np.ndarray:
        _stop(proc, signal.SIGINT)
        return np.fromfile(path, dtype="<i2").astype(np.int16)


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop one child by its PID: the signal, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _have_pulse() -> str | None:
    from shutil import which

    missing = [tool for tool in ("pulseaudio", "pactl", "paplay", "parecord") if which(tool) is None]
    return f"needs {', '.join(missing)} (Debian pulseaudio, pulseaudio-utils)" if missing else None


@pytest.fixture
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    """A PulseAudio server this process's PortAudio talks to, stopped (by PID) afterwards."""
    reason = _have_pulse()
    if reason:
        pytest.skip(reason)
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    keys = ("PULSE_SERVER", "PULSE_CLIENTCONFIG")
    saved = {k: os.environ.get(k) for k in keys}
    server.start()
    os.environ.update({k: server.env[k] for k in keys})   # the ALSA pulse plugin in this process
    try:
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
