"""What a Python port costs pjmedia's clock thread, with no network and no sound card in the way.

    python bench/audio_clock.py [--seconds 10] [--runs 3] [--json]

One pjsua2 endpoint (null sound device, 16 kHz bridge, 20 ms frames) plays a 700 Hz C tone generator into
the null speaker, and the CPU of the thread pjmedia calls "clock" (it runs the bridge and every port's
callbacks) is read from /proc over --seconds, with the whole process's CPU next to it, for four set-ups:

  bare     tone -> null speaker: the bridge alone, no Python anywhere;
  port     tone -> tuiphone's _FramePort (no source, no sinks: it sends silence) -> null speaker: two Python
           callbacks per 20 ms frame that do next to nothing;
  local    tone -> _FramePort with LocalAudio (null devices) as source and sink, as the phone's local port
           in Python (TUIPHONE_LOCAL_PORT=python): the mic read through its drift corrector, the speaker
           ring written;
  cport    tone -> the C local port (engine/localport.py) with the same LocalAudio driving it from its device
           threads, as the phone runs now: nothing on the clock thread calls Python.

Each measurement is a child process of its own (a port once in the bridge stays there until the endpoint
goes, and would tax the next set-up); the set-ups take turns. Medians over --runs, % of one core. Every
child has ended when this returns.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]
SETUPS = ("bare", "port", "local", "cport")


def clock_ticks() -> int:
    """CPU ticks (user + system, 1/100 s) of the thread named "clock"."""
    for task in Path("/proc/self/task").iterdir():
        stat = (task / "stat").read_text()
        if stat[stat.index("(") + 1 : stat.rindex(")")] == "clock":
            fields = stat[stat.rindex(")") + 2 :].split()
            return int(fields[11]) + int(fields[12])
    return 0


def process_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(ep, setup: str, seconds: float) -> tuple[float, float]:
    import ctypes

    import pjsua2 as pj

    from tuiphone.audio.local import LocalAudio
    from tuiphone.engine.backend import CallMedia
    from tuiphone.engine.localport import LocalPort
    from tuiphone.engine.sip import _make_port

    audio = LocalAudio("null", "null") if setup in ("local", "cport") else None
    if audio is not None:
        audio.start()
    tone = pj.ToneGenerator()
    tone.createToneGenerator(16000, 1)
    desc = pj.ToneDesc()
    desc.freq1 = desc.freq2 = 700
    desc.on_msec, desc.off_msec, desc.volume = 1000, 0, 0
    tones = pj.ToneDescVector()
    tones.append(desc)
    tone.play(tones, True)
    speaker = ep.audDevManager().getPlaybackDevMedia()
    port = cport = None
    if setup == "bare":
        tone.startTransmit(speaker)
    elif setup == "cport":
        cport = LocalPort(ctypes.CDLL(pj._pjsua2.__file__), 16000, 320)
        audio.attach_bridge(cport)
        cport.activate()
        cport.connect(tone.getPortId(), cport.slot)          # what a call says, to the speaker side
        cport.connect(cport.slot, speaker.getPortId())       # the microphone, to where a call would take it
    else:
        media = CallMedia(source=audio.mic, sinks=[audio.speaker]) if audio is not None else CallMedia()
        port = _make_port(f"bench-{setup}", media, None)
        tone.startTransmit(port)
        port.startTransmit(speaker)
    try:
        until = time.monotonic() + 1.0
        while time.monotonic() < until:        # let the clock start and settle
            ep.libHandleEvents(10)
        t0, c0, w0 = clock_ticks(), process_seconds(), time.monotonic()
        while time.monotonic() - w0 < seconds:
            ep.libHandleEvents(10)
        wall = time.monotonic() - w0
        return (clock_ticks() - t0) / wall, 100 * (process_seconds() - c0) / wall   # % of one core
    finally:
        if cport is not None:
            cport.close()
        elif port is not None:
            port.media = CallMedia()
            port.stopTransmit(speaker)
            tone.stopTransmit(port)
        else:
            tone.stopTransmit(speaker)
        if audio is not None:
            audio.stop()
        hold.append((tone, port))       # destroyed only after the clock is stopped (see sip._retire_port)


hold: list = []


def run_setup(setup: str, seconds: float) -> tuple[float, float]:
    """In this (child) process: one endpoint, one set-up, one measurement."""
    import pjsua2 as pj

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = cfg.logConfig.consoleLevel = 0
    cfg.medConfig.clockRate = cfg.medConfig.sndClockRate = 16000
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    ep.libStart()
    try:
        return measure(ep, setup, seconds)
    finally:
        ep.audDevManager().setNoDev()           # stop the clock, then the ports may go
        hold.clear()
        ep.libDestroy()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="CPU of pjmedia's clock thread: bridge alone, an idle Python port, "
                                             "the phone's local port.")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per measurement (default 10)")
    ap.add_argument("--runs", type=int, default=3, help="measurements per set-up, taking turns (default 3)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--setup", choices=SETUPS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.setup:
        print(json.dumps(run_setup(args.setup, args.seconds)))
        return 0
    samples: dict[str, list[float]] = {s: [] for s in SETUPS}
    process: dict[str, list[float]] = {s: [] for s in SETUPS}
    for _ in range(args.runs):
        for setup in SETUPS:
            child = subprocess.run([sys.executable, __file__, "--setup", setup, "--seconds", str(args.seconds)],
                                   capture_output=True, text=True, timeout=args.seconds + 60)
            if child.returncode != 0:
                print(f"audio_clock: the {setup} run failed (exit code {child.returncode}): "
                      f"{child.stderr.strip()[-800:]}", file=sys.stderr)
                return 1
            clock, whole = json.loads(child.stdout.strip().splitlines()[-1])
            samples[setup].append(clock)
            process[setup].append(whole)
    result: dict = {s: round(statistics.median(v), 2) for s, v in samples.items()}
    result["process"] = {s: round(statistics.median(v), 2) for s, v in process.items()}
    result["runs"] = samples
    result["process_runs"] = process
    if args.json:
        print(json.dumps(result))
    else:
        pr = result["process"]
        print(f"% of one core (median of {args.runs} x {args.seconds:g} s)      clock thread   whole process")
        print(f"  bridge alone (tone -> null speaker)          {result['bare']:8.2f} %   {pr['bare']:10.2f} %")
        print(f"  + a Python port that sends silence           {result['port']:8.2f} %   {pr['port']:10.2f} %")
        print(f"  + LocalAudio behind it (the Python port)     {result['local']:8.2f} %   {pr['local']:10.2f} %")
        print(f"  the C local port, LocalAudio driving it      {result['cport']:8.2f} %   {pr['cport']:10.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
