"""Paging against an independent RTP implementation (ffmpeg), inside a private namespace:
ffmpeg pages and tuiphone listens (ffmpeg sends ~125 ms packets, not 20 ms), and tuiphone pages
while ffmpeg receives and decodes from an SDP file. G.722 checks the 8 kHz RTP clock rule."""

from __future__ import annotations

import subprocess

import pytest

from tests.paging.procs import (
    finish,
    start,
    tuiphone_argv,
    wait_for_stderr,
    wait_joined,
)
from tests.tools import require_tool
from tuiphone.audio.analysis import has_tone, level_dbfs
from tuiphone.audio.wav import read_wav, wav_info

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def ffmpeg() -> str:
    return require_tool("ffmpeg", "ffmpeg")

# (codec, ffmpeg encoder, payload type, rtpmap, audio rate for ffmpeg, tone)
CASES = [("PCMU", "pcm_mulaw", 0, "PCMU/8000", 8000, 700.0), ("G722", "g722", 9, "G722/8000", 16000, 5000.0)]


def _ffmpeg(*args: str) -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", *args]


def test_tuiphone_listen_plays_pages_sent_by_ffmpeg(netns, tmp_path):
    runs = []
    for n, (codec, _encoder, _pt, _, _rate, freq) in enumerate(CASES):
        group = f"224.1.2.{n + 1}:5100"
        listener = start(netns, tuiphone_argv("listen", group, "--count", "1", "--duration", "20", "--json",
                                              "--record", str(tmp_path / f"{codec}.wav"), config=tmp_path / "x"))
        runs.append((codec, group, freq, listener))
    for _codec, _group, _freq, listener in runs:
        wait_for_stderr(listener, "listening to")
    senders = []
    for (_codec, encoder, pt, _, rate, freq), (_, group, _, _) in zip(CASES, runs, strict=False):
        source = f"sine=frequency={freq:g}:duration=2:sample_rate={rate}"
        argv = _ffmpeg("-re", "-f", "lavfi", "-i", source, "-ac", "1", "-ar", str(rate), "-acodec", encoder,
                       "-payload_type", str(pt), "-f", "rtp", f"rtp://{group}?ttl=1")
        senders.append(netns.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for sender in senders:
        assert sender.wait(20) == 0, sender.stderr.read()
    for codec, _group, freq, listener in runs:
        code, heard, err = finish(listener)
        assert code == 0, err
        assert heard["codec"] == codec and heard["lost"] == 0 and heard["pages"] == 1, heard
        assert 1.9 <= heard["seconds"] <= 2.1 and abs(heard["level"] + 18.1) < 1.0, heard   # lavfi sine: 1/8 scale
        audio = read_wav(tmp_path / f"{codec}.wav")
        assert has_tone(audio[800:-800], 16000, freq, tol_hz=10, min_ratio=0.9), codec


def test_ffmpeg_decodes_pages_sent_by_tuiphone(netns, tmp_path):
    runs = []
    for n, (codec, _, pt, rtpmap, _, freq) in enumerate(CASES):
        group, port = f"224.1.3.{n + 1}", 5200
        sdp = tmp_path / f"{codec}.sdp"
        sdp.write_text(f"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=tuiphone page\nc=IN IP4 {group}/1\nt=0 0\n"
                       f"m=audio {port} RTP/AVP {pt}\na=rtpmap:{pt} {rtpmap}\n")
        out = tmp_path / f"{codec}-ffmpeg.wav"
        receiver = netns.popen(_ffmpeg("-protocol_whitelist", "file,udp,rtp", "-i", str(sdp), "-t", "1",
                                       "-ac", "1", "-ar", "16000", str(out)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        runs.append((codec, group, port, freq, out, receiver))
    for _codec, group, *_ in runs:
        wait_joined(netns, group)
    pagers = [start(netns, tuiphone_argv("page", f"{group}:{port}", "--tone", f"{freq:g}", "--codec", codec,
                                         "--duration", "1.5", "--json", config=tmp_path / "x"))
              for codec, group, port, freq, *_ in runs]
    for pager in pagers:
        code, sent, err = finish(pager)
        assert code == 0 and sent["packets"] == 75, err
    for codec, _group, _port, freq, out, receiver in runs:
        assert receiver.wait(20) == 0, receiver.stderr.read()
        assert wav_info(out).frames == 16000       # ffmpeg got its whole second
        audio = read_wav(out)
        assert has_tone(audio[800:], 16000, freq, tol_hz=10, min_ratio=0.9), codec
        assert abs(level_dbfs(audio[800:]) + 12) < 1.0, codec
