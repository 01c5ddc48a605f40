"""`tuiphone audio test`: the devices, a test tone that reaches the speaker, the mic's level, the counters,
and exit codes 0 / 1 / 2 with one JSON object on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.audio.pulse import PulseServer, pulse  # noqa: F401  (the fixture)
from tuiphone.audio.analysis import has_tone
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import read_wav, write_wav

RATE = 16000
# the command as the CLI registers it (main.add_command(audio)), in its own process like a user's
ENTRY = "from tuiphone.cli import main; from tuiphone.cli.audio import audio; main.add_command(audio); main()"


def run_audio_test(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", ENTRY, "--config", str(config), "audio", "test", *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def config_with(tmp_path: Path, input_device: str, output_device: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[audio]\ninput_device = "{input_device}"\noutput_device = "{output_device}"\n')
    return path


@pytest.fixture
def file_devices(tmp_path: Path) -> tuple[Path, Path]:
    """A config whose mic is a WAV of a -6 dBFS 700 Hz tone and whose speaker writes a WAV."""
    mic, speaker = tmp_path / "mic.wav", tmp_path / "speaker.wav"
    write_wav(mic, sine(700, 1.0, level_dbfs=-6), RATE)
    return config_with(tmp_path, f"file:{mic}", f"file:{speaker}"), speaker


def test_the_tone_reaches_the_speaker_and_the_mic_level_is_measured(file_devices) -> None:
    config, speaker = file_devices
    proc = run_audio_test(config, "--json", "--seconds", "1")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["result"] == "ok" and report["problems"] == []
    assert report["status"] == "ok" and report["output_device"] == f"file:{speaker}"
    assert report["tone"]["played"] and report["tone"]["output_dbfs"] == pytest.approx(-12, abs=1)
    assert report["input"]["peak_dbfs"] == pytest.approx(-6, abs=1)
    assert report["input"]["average_dbfs"] == pytest.approx(-6, abs=1)
    assert report["counters"]["speaker_underruns"] == 0 and report["counters"]["device_failures"] == 0
    played = read_wav(speaker)
    loud = np.flatnonzero(np.abs(played) > 1000)
    assert (loud[-1] - loud[0]) / RATE == pytest.approx(1.0, abs=0.05)     # one second of tone, then silence
    assert has_tone(played[loud[0] + 800 : loud[-1] - 800], RATE, 1000, min_ratio=0.95)


def test_the_human_report_says_what_was_measured(file_devices) -> None:
    config, _ = file_devices
    proc = run_audio_test(config, "--seconds", "0.5", "--tone", "440")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Test tone:  440 Hz for 1 s at -12 dBFS; the speaker played -12 dBFS" in out
    assert "Microphone level over 0.5 s: peak -6 dBFS" in out
    assert "speaker underruns 0" in out and "device failures 0" in out
    assert out.rstrip().endswith("Sound works.")


def test_a_missing_microphone_fails_with_the_reason(file_devices) -> None:
    config, _ = file_devices
    proc = run_audio_test(config, "--json", "--seconds", "0.3", "--input", "No Such Mic")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["result"] == "failed" and report["status"] == "degraded"
    assert report["problems"] == [("There is no input device called 'No Such Mic': running on null audio for the "
                                   "microphone, and trying it again until it is back.")]
    assert report["input_device"] == "null (wanted No Such Mic)"


def test_a_silent_microphone_is_a_problem_with_what_to_check(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(RATE, dtype=np.int16), RATE)
    config = config_with(tmp_path, f"file:{silent}", "null")
    proc = run_audio_test(config, "--json", "--seconds", "0.3")
    assert proc.returncode == 1
    problems = json.loads(proc.stdout)["problems"]
    assert len(problems) == 1 and problems[0].startswith(f"The microphone (file:{silent}) sent only silence")
    assert "not muted" in problems[0]


@pytest.mark.parametrize("args, words", [
    (["--seconds", "0"], "--seconds 0 is outside 0.2-60"),
    (["--tone", "9000"], "--tone 9000 Hz is outside 20-7900 Hz"),
    (["--output", " "], "--output is empty"),
])
def test_bad_options_are_usage_errors(file_devices, args, words) -> None:
    config, speaker = file_devices
    proc = run_audio_test(config, "--json", *args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert not speaker.exists()                                    # nothing was opened


def test_a_broken_config_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[audio]\nsample_rate = 11025\n')
    proc = run_audio_test(path, "--json")
    assert proc.returncode == 2 and "audio.sample_rate" in proc.stderr and "Traceback" not in proc.stderr


def test_through_pulseaudio_the_devices_are_listed_and_the_tone_is_heard(pulse: PulseServer,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    """The real path: PortAudio → ALSA → PulseAudio null sinks (spk is the speaker, mic's monitor the mic)."""
    wav = tmp_path / "700.wav"
    write_wav(wav, sine(700, 4.0, level_dbfs=-6), RATE)
    config = config_with(tmp_path, "pulse", "pulse")
    player = pulse.play(wav, "mic")
    recording = pulse.recorder("spk.monitor", tmp_path / "spk.raw")
    try:
        proc = run_audio_test(config, "--json", "--seconds", "1", env={**os.environ, **pulse.env})
    finally:
        player.terminate()
        player.wait(5)
    heard = PulseServer.stop_recording(recording, tmp_path / "spk.raw")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    names = [d["name"] for d in report["devices"]]
    assert "pulse" in names
    pulse_row = report["devices"][names.index("pulse")]
    assert pulse_row["inputs"] > 0 and pulse_row["outputs"] > 0
    assert report["input_device"] == "pulse" and report["output_device"] == "pulse"
    assert report["input"]["peak_dbfs"] == pytest.approx(-6, abs=2)
    loud = np.flatnonzero(np.abs(heard) > 1000)
    assert len(loud) > RATE // 2, "the test tone did not come out of the speaker sink"
    assert has_tone(heard[loud[0] + 800 : loud[-1] - 800], RATE, 1000, min_ratio=0.95)
