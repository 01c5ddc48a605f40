"""`tuiphone audio test`: is the sound working? Lists the devices, plays a test tone on the speaker,
listens to the microphone for a moment and reports the underrun and drift counters.

Exit codes follow the CLI: 0 the sound works, 1 a device fell back to null audio, the tone never
reached the speaker or the microphone sent only silence, 2 usage or config error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import click

from tuiphone.cli.common import EXIT_FAILED, EXIT_OK, RunOptions, fail_usage, finish
from tuiphone.runtime import load_config

__all__ = ["audio", "measure", "run_audio_test"]

SILENCE_DBFS = -120.0
SAMPLE_S = 0.1                     # LocalAudio.levels() covers the last 100 ms
TONE_MARGIN_DB = 6.0               # the tone counts as played when the speaker got within this of its level


def _mean_dbfs(levels: list[float]) -> float:
    """Average of levels by power, not by dB (a loud half and a silent half is not -60 dBFS)."""
    if not levels:
        return SILENCE_DBFS
    power = sum(10 ** (d / 10) for d in levels) / len(levels)
    return max(SILENCE_DBFS, 10 * math.log10(power)) if power > 0 else SILENCE_DBFS


def measure(read: Callable[[], float], seconds: float, sleep: Callable[[float], None] = time.sleep) -> list[float]:
    """Sample `read()` every 100 ms for `seconds` (what a 10 Hz meter would show)."""
    samples = []
    for _ in range(max(1, round(seconds / SAMPLE_S))):
        sleep(SAMPLE_S)
        samples.append(read())
    return samples


def run_audio_test(audio: Any, tone_hz: float = 1000.0, tone_dbfs: float = -12.0, tone_s: float = 1.0,
                   listen_s: float = 2.0) -> dict[str, Any]:
    """Play a tone through a started LocalAudio, then listen to its mic; the report as a dict.

    `problems` holds a sentence for everything a user must fix; empty means the sound works."""
    from tuiphone.audio.sources import WavSource, sine

    audio.add_stream("test-tone", WavSource(sine(tone_hz, tone_s, level_dbfs=tone_dbfs), loop=False))
    try:
        played = measure(lambda: audio.levels().speaker_dbfs, tone_s)
    finally:
        audio.remove_stream("test-tone")
    heard = measure(lambda: audio.levels().mic_dbfs, listen_s)
    stats = audio.stats()
    tone_out = max(played)
    report: dict[str, Any] = {
        "status": stats.status, "reason": stats.reason,
        "input_device": stats.input_device, "output_device": stats.output_device,
        "tone": {"hz": tone_hz, "seconds": tone_s, "level_dbfs": tone_dbfs, "output_dbfs": round(tone_out, 1),
                 "played": tone_out >= tone_dbfs - TONE_MARGIN_DB},
        "input": {"seconds": listen_s, "peak_dbfs": round(max(heard), 1),
                  "average_dbfs": round(_mean_dbfs(heard), 1)},
        "counters": {k: v for k, v in asdict(stats).items()
                     if k not in ("status", "reason", "input_device", "output_device", "ringer_device")},
    }
    problems = []
    if stats.status != "ok":
        problems.append(stats.reason)
    if not report["tone"]["played"]:
        problems.append(f"The test tone did not reach the speaker ({stats.output_device}): it played at "
                        f"{tone_out:.0f} dBFS instead of {tone_dbfs:.0f} dBFS. Check the output device.")
    if max(heard) <= SILENCE_DBFS and not stats.input_device.startswith("null ("):   # else the reason says why
        problems.append(f"The microphone ({stats.input_device}) sent only silence for {listen_s:g} s: check that "
                        "it is plugged in, chosen as the input device and not muted.")
    report["problems"] = problems
    report["result"] = "failed" if problems else "ok"
    return report


def _device_rows(devices: list[Any]) -> list[dict[str, Any]]:
    return [{"index": d.index, "name": d.name, "hostapi": d.hostapi, "inputs": d.inputs, "outputs": d.outputs,
             "default_rate": d.default_rate, "default_input": d.is_default_input,
             "default_output": d.is_default_output} for d in devices]


def _human(report: dict[str, Any]) -> str:
    lines = ["Sound devices:"]
    for d in report["devices"]:
        marks = "".join(m for m, on in ((" [default input]", d["default_input"]),
                                        (" [default output]", d["default_output"])) if on)
        lines.append(f"  {d['index']:>3}  {d['name']}  ({d['hostapi']}, {d['inputs']} in, {d['outputs']} out, "
                     f"{d['default_rate']:g} Hz){marks}")
    if not report["devices"]:
        lines.append("  none found")
    tone, heard, c = report["tone"], report["input"], report["counters"]
    lines += [
        f"Microphone: {report['input_device']}",
        f"Speaker:    {report['output_device']}",
        (f"Test tone:  {tone['hz']:g} Hz for {tone['seconds']:g} s at {tone['level_dbfs']:g} dBFS; "
         f"the speaker played {tone['output_dbfs']:g} dBFS"),
        (f"Microphone level over {heard['seconds']:g} s: peak {heard['peak_dbfs']:g} dBFS, "
         f"average {heard['average_dbfs']:g} dBFS"),
        (f"Counters:   mic underruns {c['mic_underruns']}, overruns {c['mic_overruns']}, "
         f"drift corrections {c['mic_corrections']}; speaker underruns {c['speaker_underruns']}, "
         f"overruns {c['speaker_overruns']}, drift corrections {c['speaker_corrections']}; "
         f"sound card xruns {c['device_xruns']}, device failures {c['device_failures']}"),
    ]
    lines += [f"Problem: {p}" for p in report["problems"]]
    lines.append("Sound works." if report["result"] == "ok" else "Sound test failed.")
    return "\n".join(lines)


@click.group()
def audio() -> None:
    """Check the sound devices."""


@audio.command("test")
@click.option("--input", "input_device", help="Microphone to test (default: audio.input_device).")
@click.option("--output", "output_device", help="Speaker to test (default: audio.output_device).")
@click.option("--tone", "tone_hz", type=float, default=1000.0, show_default=True, help="Test tone frequency (Hz).")
@click.option("--seconds", type=float, default=2.0, show_default=True, help="How long to listen to the microphone.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def audio_test(opts: RunOptions, input_device: str | None, output_device: str | None, tone_hz: float,
               seconds: float, as_json: bool) -> None:
    """List the sound devices, play a test tone, measure the microphone level and report the counters."""
    from tuiphone.audio.device import list_devices
    from tuiphone.audio.local import LocalAudio

    if not 20 <= tone_hz <= 7900:
        fail_usage(f"--tone {tone_hz:g} Hz is outside 20-7900 Hz")
    if not 0.2 <= seconds <= 60:
        fail_usage(f"--seconds {seconds:g} is outside 0.2-60")
    for flag, value in (("--input", input_device), ("--output", output_device)):
        if value is not None and not value.strip():
            fail_usage(f'{flag} is empty: give a device name or index, "default", "null" or "file:PATH.wav"')
    cfg = load_config(opts).audio
    devices = _device_rows(list_devices(refresh=True))     # before any stream opens: a rescan is still allowed
    local = LocalAudio(input_device or cfg.input_device, output_device or cfg.output_device,
                       sample_rate=cfg.sample_rate, tone_region=cfg.tone_region)
    local.start()
    try:
        report = run_audio_test(local, tone_hz=tone_hz, listen_s=seconds)
    finally:
        local.stop()
    report = {"result": report.pop("result"), "devices": devices, **report}
    finish(EXIT_OK if report["result"] == "ok" else EXIT_FAILED, report, as_json, _human(report))
