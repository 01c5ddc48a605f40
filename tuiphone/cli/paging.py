"""`tuiphone page` and `tuiphone listen`: multicast paging from the command line, no SIP needed.

They take the run options (`--config`, `--bind` = the interface address, `--port`).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from tuiphone.cli.common import EXIT_FAILED, EXIT_OK, RunOptions, fail_usage, finish


def _config(opts: RunOptions) -> Any | None:
    """The config when a config file exists (it is never created here): codec, ptime, busy ports."""
    from tuiphone.config import ConfigError, load_config
    from tuiphone.paths import config_path

    path = config_path(opts.config)
    if not path.exists():
        return None
    try:
        return load_config(path)
    except ConfigError as exc:
        fail_usage(str(exc))


def _group(text: str, opts: RunOptions, cfg: Any | None) -> tuple[str, int]:
    """ADDR:PORT checked for the paging range and for ports SIP or CTI use."""
    from tuiphone.audio.paging import PagingError, check_port, parse_group, used_ports

    try:
        address, port = parse_group(text)
        used = used_ports(cfg) if cfg is not None else {}
        if opts.port:
            used[opts.port] = "--port (SIP)"
        check_port(text, port, used)
    except PagingError as exc:
        fail_usage(str(exc))
    return address, port


def _until_stopped(seconds: float | None, done: threading.Event | None = None) -> None:
    """Wait `seconds` (None = for ever), until `done` is set, or until Ctrl-C or SIGTERM."""
    stop = done or threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait(seconds)
    except KeyboardInterrupt:
        pass   # Ctrl-C ends the page or the listening, as the user meant


def _source(play: str | None, tone: float | None, duration: float | None) -> Any:
    from tuiphone.audio.sources import ToneSource, WavSource
    from tuiphone.audio.wav import WavError

    if play is not None and tone is not None:
        fail_usage("choose one of --play and --tone")
    if play is None and tone is None:
        fail_usage("choose what to page: --play WAV or --tone HZ (the microphone pages from the "
                           "phone's paging key)")
    if tone is not None:
        if not 20 <= tone <= 7900:
            fail_usage(f"--tone {tone:g} Hz is outside 20-7900 Hz")
        return ToneSource(tone, level_dbfs=-12.0)
    assert play is not None            # neither --tone nor nothing: --play
    try:
        return WavSource.from_file(play, loop=duration is not None)   # once, unless a duration is given
    except WavError as exc:
        fail_usage(str(exc))


@click.command()
@click.argument("group", metavar="ADDR:PORT")
@click.option("--play", type=click.Path(), help="WAV file to page (any rate; once, or looped for --duration).")
@click.option("--tone", type=float, help="Page a sine tone of this frequency (Hz).")
@click.option("--codec", type=click.Choice(["pcmu", "pcma", "g722"], case_sensitive=False),
              help="Codec of the page (default: paging.codec of the config, else PCMU).")
@click.option("--duration", type=click.FloatRange(0.02, 86400),
              help="Seconds to page (default: the WAV once, or a tone until Ctrl-C).")
@click.option("--ttl", type=click.IntRange(1, 255), default=1, show_default=True,
              help="Multicast TTL: 1 keeps the page on the local network.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def page(opts: RunOptions, group: str, play: str | None, tone: float | None, codec: str | None,
         duration: float | None, ttl: int, as_json: bool) -> None:
    """Page a multicast group (ADDR:PORT, like 224.1.1.1:4009) with a WAV file or a tone."""
    from tuiphone.audio.paging import PagingError, PagingSender

    cfg = _config(opts)
    address, port = _group(group, opts, cfg)
    source = _source(play, tone, duration)
    codec_name = (codec or (cfg.paging.codec if cfg is not None else "PCMU")).upper()
    ptime = cfg.paging.ptime if cfg is not None else 20
    try:
        sender = PagingSender(address, port, codec_name, source=source, ttl=ttl, interface=opts.bind or "",
                              ptime=ptime, duration=duration)
        sender.start()
    except PagingError as exc:
        fail_usage(str(exc))
    if not as_json:
        click.echo(f"paging {address}:{port} with {codec_name}"
                   + ("" if duration is not None or play else "; Ctrl-C ends the page"), err=True)
    finished = threading.Event()

    def _wait_then_finish() -> None:
        sender.wait()
        finished.set()

    threading.Thread(target=_wait_then_finish, daemon=True).start()
    _until_stopped(None, finished)
    sender.stop()
    report = {"group": f"{address}:{port}", "codec": codec_name, "packets": sender.packets,
              "seconds": round(sender.seconds, 2), "ssrc": sender.ssrc, "error": sender.error}
    if sender.error:
        human = f"tuiphone: {sender.error}"
    else:
        human = f"{address}:{port}: paged {report['seconds']} s with {codec_name}, {sender.packets} packets"
    finish(EXIT_FAILED if sender.error else EXIT_OK, report, as_json, human)


@click.command()
@click.argument("group", metavar="ADDR:PORT")
@click.option("--record", type=click.Path(dir_okay=False), help="Write the pages heard to this WAV (16 kHz).")
@click.option("--duration", type=click.FloatRange(0.1, 86400), help="Seconds to listen (default: until Ctrl-C).")
@click.option("--count", type=click.IntRange(1, 10000), help="Exit once this many pages have ended.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def listen(opts: RunOptions, group: str, record: str | None, duration: float | None, count: int | None,
           as_json: bool) -> None:
    """Listen to a multicast paging group (ADDR:PORT) and report what arrived; exit 1 if no page came."""
    from tuiphone.audio.paging import PagingError, PagingListener
    from tuiphone.audio.wav import WavError, WavWriter

    cfg = _config(opts)
    address, port = _group(group, opts, cfg)
    writer = None
    if record:
        rec = Path(record)
        if not rec.parent.exists():
            fail_usage(f"cannot record to {rec}: the folder {rec.parent} does not exist")
        try:
            writer = WavWriter(rec, 16000)
        except (WavError, OSError) as exc:
            fail_usage(f"cannot record to {rec}: {exc}")
    done = threading.Event()
    ended: list[str] = []

    def page_ended(_page: Any, reason: str) -> None:
        ended.append(reason)
        if count is not None and len(ended) >= count:
            done.set()

    listener = PagingListener([(address, port, "")], sink=writer, interface=opts.bind or "",
                              on_page_end=page_ended)
    try:
        listener.start()
    except PagingError as exc:
        fail_usage(str(exc))
    click.echo(f"listening to {address}:{port}", err=True)   # on stderr even with --json: scripts wait for it
    _until_stopped(duration, done)
    listener.stop()
    if writer is not None:
        writer.close()
    stats = listener.stats[0]
    heard = listener.seconds_played > 0
    report = {"group": f"{address}:{port}", "packets": stats.packets, "lost": stats.lost,
              "codec": stats.codec or None, "seconds": round(listener.seconds_played, 2),
              "level": round(listener.level_dbfs, 1) if heard else None, "pages": stats.pages,
              "bad": stats.bad}
    if heard:
        human = (f"{address}:{port}: {stats.pages} page(s), {report['seconds']} s of {stats.codec}, "
                 f"{stats.packets} packets, {stats.lost} lost, level {report['level']} dBFS")
    else:
        human = f"{address}:{port}: no page heard ({stats.packets} packets)"
    finish(EXIT_OK if heard else EXIT_FAILED, report, as_json, human)
