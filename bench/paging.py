"""Multicast paging CPU: sender, listener, ten groups at once, and G.711 in numpy against a Python loop.

    python bench/paging.py [--seconds S] [--json] [--no-live]

Offline (no network): each pipeline runs flat out over S seconds of audio (default 20) and the
number is audio seconds / CPU seconds ("x real time": 100x means one page costs 1 % of a core).
  sender     ToneSource -> 16->8 kHz (G.711) -> encode -> RTP packet, per codec
  listener   parse RTP -> loss count -> jitter buffer -> decode -> 8->16 kHz (G.711), per codec
  10 pages   ten listener pipelines summed by the Mixer every 20 ms (the worst case of 10 groups)
  G.711      table lookup in numpy against the per-sample reference loop, samples per second
Live (root only; a private network namespace, deleted at the end, so no packet leaves the box):
real PagingSender and PagingListener threads for S seconds; each thread's CPU from
/proc/self/task/TID/stat, as % of one core and as x real time. "10 groups": ten senders to ten
groups and one listener joined to all ten (it plays the first and counts the others as waiting).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tuiphone.audio import g711
from tuiphone.audio.jitter import JitterBuffer
from tuiphone.audio.mixer import Mixer
from tuiphone.audio.paging import CODECS, GroupStats, PagingListener, PagingSender
from tuiphone.audio.rtp import Packetizer, parse_packet
from tuiphone.audio.sources import ToneSource

FRAME = 320                      # 20 ms at 16 kHz
TICKS = 160                      # 20 ms of the 8 kHz RTP clock


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _packets(codec: str, seconds: float) -> list[bytes]:
    encode, source, pk = CODECS[codec].encoder(), ToneSource(1000), Packetizer(CODECS[codec].payload_type)
    return [pk.packet(encode(source.read(FRAME)), TICKS) for _ in range(int(seconds * 50))]


def sender_x(codec: str, seconds: float) -> float:
    encode, source, pk = CODECS[codec].encoder(), ToneSource(1000), Packetizer(CODECS[codec].payload_type)
    frames = int(seconds * 50)
    return seconds / _cpu(lambda: [pk.packet(encode(source.read(FRAME)), TICKS) for _ in range(frames)])


class _Pipeline:
    """What the listener thread does per packet and per 20 ms tick, without the socket."""

    def __init__(self, codec: str) -> None:
        self.jitter = JitterBuffer(CODECS[codec].decoder(), out_per_tick=2, frame=FRAME)
        self.stats = GroupStats()

    def packet(self, data: bytes) -> None:
        pkt = parse_packet(data)
        self.stats.count(pkt.ssrc, pkt.sequence)
        self.jitter.put(pkt.timestamp, pkt.payload)

    def read(self, n: int) -> np.ndarray:           # a frame source for the mixer
        frame = self.jitter.pop()
        return frame if frame is not None else np.zeros(n, dtype=np.int16)


def listener_x(codec: str, seconds: float) -> float:
    packets = _packets(codec, seconds)
    pipe = _Pipeline(codec)
    sink = np.zeros(FRAME, dtype=np.int16)

    def run() -> None:
        for data in packets:
            pipe.packet(data)
            sink[:] = pipe.read(FRAME)
    return seconds / _cpu(run)


def ten_pages_x(seconds: float) -> float:
    codecs = ["PCMU", "PCMA", "G722"] * 4
    streams = [_packets(codecs[i], seconds) for i in range(10)]
    pipes = [_Pipeline(codecs[i]) for i in range(10)]
    mixer = Mixer()
    for i, pipe in enumerate(pipes):
        mixer.add(f"page{i}", pipe, gain=0.1)
    out = np.zeros(FRAME, dtype=np.int16)

    def run() -> None:
        for k in range(len(streams[0])):
            for pipe, stream in zip(pipes, streams, strict=False):
                pipe.packet(stream[k])
            mixer.read_into(out)
    return seconds / _cpu(run)


def g711_rates(seconds: float) -> dict[str, float]:
    x = (np.sin(np.arange(int(8000 * seconds)) * 0.37) * 12000).astype(np.int16)
    codes = g711.ulaw_encode(x)
    py_n = min(len(x), 40000)                   # the Python loop is slow: time a slice of it
    xs, cs = [int(v) for v in x[:py_n]], [int(c) for c in codes[:py_n]]
    out = {
        "numpy_encode_msps": len(x) / _cpu(lambda: [g711.ulaw_encode(x) for _ in range(5)]) * 5 / 1e6,
        "numpy_decode_msps": len(x) / _cpu(lambda: [g711.ulaw_decode(codes) for _ in range(5)]) * 5 / 1e6,
        "python_encode_msps": py_n / _cpu(lambda: [g711.ulaw_encode_sample(v) for v in xs]) / 1e6,
        "python_decode_msps": py_n / _cpu(lambda: [g711.ulaw_decode_sample(c) for c in cs]) / 1e6,
    }
    out["encode_ratio"] = out["numpy_encode_msps"] / out["python_encode_msps"]
    out["decode_ratio"] = out["numpy_decode_msps"] / out["python_decode_msps"]
    return out


# ---------------------------------------------------------------- live, in a private namespace


def _thread_cpu(name_prefix: str) -> float:
    """CPU seconds (user + system) of the live threads whose name starts with name_prefix."""
    total = 0
    for t in threading.enumerate():
        if t.name.startswith(name_prefix) and t.native_id is not None:
            try:
                stat = Path(f"/proc/self/task/{t.native_id}/stat").read_text()
            except FileNotFoundError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def live(seconds: float, groups: int) -> dict[str, float]:
    from tests.paging.netns import Netns

    ns = Netns()
    try:
        targets = [(f"224.5.0.{i + 1}", 7000, f"g{i + 1}") for i in range(groups)]
        frames = [0]
        sink = type("Sink", (), {"write": lambda self, f: frames.__setitem__(0, frames[0] + 1)})()
        listener = PagingListener(targets, sink=sink, interface="127.0.0.1", ignore_own=False)
        senders = [PagingSender(a, p, "PCMU", source=ToneSource(500 + 100 * i), interface="127.0.0.1",
                                duration=seconds) for i, (a, p, _) in enumerate(targets)]
        with ns.inside():
            listener.start()
            for s in senders:
                s.start()
        time.sleep(seconds * 0.9)                 # measure while every thread is running
        listen_cpu, send_cpu = _thread_cpu("paging-listener"), _thread_cpu("page-")
        for s in senders:
            s.wait(seconds + 2)
        listener.stop()
        wall = seconds * 0.9
        return {"listener_cpu_pct": 100 * listen_cpu / wall, "senders_cpu_pct": 100 * send_cpu / wall,
                "listener_x": wall / max(listen_cpu, 1e-9), "sender_x": wall * groups / max(send_cpu, 1e-9),
                "frames_played": frames[0], "packets": sum(s.packets for s in listener.stats)}
    finally:
        ns.delete()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-live", action="store_true", help="skip the part that needs root")
    args = parser.parse_args()
    s = args.seconds
    report: dict = {"seconds": s}
    report["sender_x"] = {c: sender_x(c, s) for c in CODECS}
    report["listener_x"] = {c: listener_x(c, s) for c in CODECS}
    report["ten_pages_mixed_x"] = ten_pages_x(s / 2)
    report["g711"] = g711_rates(s)
    if not args.no_live and os.geteuid() == 0:
        report["live_one_group"] = live(min(s, 5.0), 1)
        report["live_ten_groups"] = live(min(s, 5.0), 10)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"offline, x real time over {s:g} s of audio (higher is cheaper)")
    for c in CODECS:
        print(f"  {c:5}  sender {report['sender_x'][c]:7.0f}x   listener {report['listener_x'][c]:7.0f}x")
    print(f"  10 pages decoded and mixed at once: {report['ten_pages_mixed_x']:.0f}x")
    g = report["g711"]
    print(f"G.711 mu-law, Msamples/s: encode numpy {g['numpy_encode_msps']:.0f} vs Python "
          f"{g['python_encode_msps']:.2f} ({g['encode_ratio']:.0f}x); decode numpy {g['numpy_decode_msps']:.0f} "
          f"vs Python {g['python_decode_msps']:.2f} ({g['decode_ratio']:.0f}x)")
    for key, label in (("live_one_group", "1 group"), ("live_ten_groups", "10 groups")):
        if key in report:
            r = report[key]
            print(f"live PCMU, {label}: listener thread {r['listener_cpu_pct']:.2f} % of a core "
                  f"({r['listener_x']:.0f}x), senders {r['senders_cpu_pct']:.2f} % ({r['sender_x']:.0f}x each), "
                  f"{r['packets']} packets, {r['frames_played']} frames played")
    return 0


if __name__ == "__main__":
    sys.exit(main())
