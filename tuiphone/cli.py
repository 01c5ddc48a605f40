"""Command line: the TUI by default, headless commands for scripts and trunk tests (SPEC §6).

Exit codes: 0 success, 1 the call/registration/check failed, 2 usage or config error.
With --json exactly one JSON object goes to stdout; everything else goes to stderr.
"""

from __future__ import annotations

import json
import logging
import queue
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import click

from tuiphone import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class Common:
    config: str | None
    data_dir: str | None
    port: int | None
    bind: str | None
    log_level: str
    sip_trace: str | None
    pcap: str | None = None
    pcap_full: str | None = None    # dumpcap: the phone's SIP and RTP packets
    local_audio: bool = False       # the TUI and the daemon use the sound devices; scripts use files/tones
    rtp_timeout: int | None = None  # --rtp-timeout of call/answer: features.rtp_timeout for this run


def _fail_usage(message: str) -> None:
    click.echo(f"tuiphone: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _load(common: Common):
    from tuiphone.config import ConfigError, load_or_create
    from tuiphone.paths import config_path

    path = config_path(common.config)
    try:
        cfg, created = load_or_create(path)
    except ConfigError as exc:
        _fail_usage(str(exc))
    if created:
        click.echo(f"tuiphone: wrote a default config to {path}", err=True)
    from tuiphone.services.provisioning import provision_at_start
    return provision_at_start(cfg)


@contextmanager
def running_phone(common: Common, services: bool = True, echo_service: bool = True) -> Iterator[Any]:
    """Build the phone from the config and the common options, start it, and always stop it.

    With `services` the Action URLs, syslog, CTI and phonebook download run beside it on their own
    thread; the TUI and the daemon run them on their own asyncio loop and pass False. Without
    `echo_service` calls to sip:echo@ are not answered by the built-in echo test (`answer` takes them)."""
    from tuiphone.config import save_config
    from tuiphone.engine.phone import Phone, PhoneError
    from tuiphone.engine.sip import PjsuaBackend
    from tuiphone.engine.sipports import EXPLAINED
    from tuiphone.engine.sip_trace import SipTraceWriter
    from tuiphone.paths import config_path, data_dir

    cfg = _load(common)
    if common.rtp_timeout is not None:
        cfg.features.rtp_timeout = common.rtp_timeout
    path = config_path(common.config)
    local = None
    if common.local_audio:
        from tuiphone.audio.local import LocalAudio
        local = LocalAudio.from_config(cfg.audio)
    phone = Phone(cfg, PjsuaBackend(log_level=5 if common.log_level == "debug" else 0),
                  port=common.port, bind=common.bind, save_config=lambda c: save_config(c, path),
                  local_audio=local, data_dir=str(data_dir(common.data_dir)), echo_service=echo_service)
    if not common.local_audio:          # headless modes drain it; the TUI and daemon subscribe their own
        phone.events = queue.Queue()    # subscribed before the port opens: a call arriving at once is not lost
        phone.subscribe(phone.events.put)
    trace = None
    if common.sip_trace:
        try:
            trace = SipTraceWriter(common.sip_trace)
        except OSError as exc:
            _fail_usage(f"cannot write the SIP trace to {common.sip_trace}: {exc.strerror}")
        phone.subscribe(trace)
    pcap = None
    if common.pcap:
        from tuiphone.services.pcap import SipPcapWriter
        try:
            pcap = SipPcapWriter(common.pcap, phone.backend.local_address)
        except OSError as exc:
            _fail_usage(f"cannot write the capture to {common.pcap}: {exc.strerror}")
        phone.subscribe(pcap)
    try:
        phone.start()
    except PhoneError as exc:       # a port in use or an address the host lacks is a config error: exit 2
        click.echo(f"tuiphone: {exc}", err=True)
        sys.exit(EXIT_USAGE if exc.result == EXPLAINED else EXIT_FAILED)
    full = _start_full_capture(common, phone) if common.pcap_full else None
    runner = None
    if services:
        from tuiphone.services.runner import ServiceError, ServicesThread
        runner = ServicesThread(phone, cfg, data_dir(common.data_dir))
        try:
            runner.start()
        except ServiceError as exc:
            phone.stop()
            _fail_usage(str(exc))
    pager = None
    if common.local_audio:              # the TUI and the daemon take part in paging; scripts do not
        from tuiphone.engine.pager import attach_pager
        pager = attach_pager(phone)
    if common.local_audio:              # the TUI and the daemon: SIGTERM and a closed terminal stop them like Ctrl-C
        from tuiphone.terminal_closed import stop_on_terminal_closed

        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        stop_on_terminal_closed(lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    else:                               # headless commands: SIGTERM, SIGHUP or Ctrl-C end the run, saying which
        from tuiphone.stop_signals import raise_on_stop_signals

        raise_on_stop_signals()
    try:
        yield phone
    finally:
        if runner is not None:
            runner.stop()
        if pager is not None:
            pager.stop()
        phone.stop()
        if full is not None:
            full.stop()
        if trace is not None:
            trace.close()
        if pcap is not None:
            pcap.close()


def _start_full_capture(common: Common, phone: Any) -> Any:
    """`--pcap-full FILE`: dumpcap records the phone's SIP and RTP packets; a capture that cannot start stops
    the phone with a sentence saying why (not installed, no permission)."""
    from tuiphone.services.pcap import CaptureError, DumpcapCapture

    capture = DumpcapCapture.of_phone(common.pcap_full, phone)
    try:
        capture.start()
    except CaptureError as exc:
        phone.stop()
        _fail_usage(f"cannot capture to {common.pcap_full}: {exc}")
    return capture


def _finish(code: int, report: dict, as_json: bool, human: str) -> None:
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        click.echo(human)
    sys.exit(code)


def _account_index(account: int | None) -> int | None:
    if account is None:
        return None
    if account < 1:
        _fail_usage("--account counts from 1 (account 1 is the first [[accounts]] entry)")
    return account - 1


def _audio_plan(play: str | None, tone: float | None, echo: bool, record: str | None, stereo: bool = False):
    from tuiphone.audio.wav import WavError, read_wav
    from tuiphone.headless import AudioPlan

    if sum(x is not None and x is not False for x in (play, tone, echo or None)) > 1:
        _fail_usage("choose one of --play, --tone and --echo")
    if play is not None:
        try:
            read_wav(play)
        except WavError as exc:
            _fail_usage(str(exc))
    if tone is not None and not 20 <= tone <= 7900:
        _fail_usage(f"--tone {tone:g} Hz is outside 20-7900 Hz")
    rec = Path(record) if record else None
    if rec is not None and not rec.parent.exists():
        _fail_usage(f"cannot record to {rec}: the folder {rec.parent} does not exist")
    if stereo and rec is None:
        _fail_usage("--stereo goes with --record")
    return AudioPlan(play=Path(play) if play else None, tone=tone, echo=echo, record=rec, stereo=stereo)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", envvar="TUIPHONE_CONFIG", help="Config file (default: the platform config dir).")
@click.option("--data-dir", help="Folder for history, phonebook, recordings and logs.")
@click.option("--port", type=click.IntRange(0, 65535), help="Local SIP port (0 = any free port).")
@click.option("--bind", help="Local address to bind SIP and RTP to.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True)
@click.option("--sip-trace", type=click.Path(dir_okay=False), help="Write every SIP message to this file.")
@click.option("--pcap", type=click.Path(dir_okay=False), help="Write every SIP message to this pcap file.")
@click.option("--pcap-full", type=click.Path(dir_okay=False),
              help="Record the phone's SIP and RTP packets with dumpcap into this pcapng file.")
@click.version_option(__version__, prog_name="tuiphone")
@click.pass_context
def main(ctx: click.Context, config, data_dir, port, bind, log_level, sip_trace, pcap, pcap_full) -> None:
    """tuiphone: a SIP phone for the terminal. With no command it opens the phone."""
    logging.basicConfig(level=getattr(logging, log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Common(config, data_dir, port, bind, log_level, sip_trace, pcap, pcap_full)
    if ctx.invoked_subcommand is None:
        _run_tui(ctx.obj)


def _run_tui(common: Common) -> None:
    from tuiphone.app import run_app

    common.local_audio = True
    sys.exit(run_app(common))


@main.command()
@click.option("--account", type=int, default=1, show_default=True, help="Account number (1 = first).")
@click.option("--timeout", type=click.FloatRange(0.5, 3600), default=10.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def register(common: Common, account: int, timeout: float, as_json: bool) -> None:
    """Register an account with its SIP server and report the result."""
    from tuiphone.headless import run_register

    index = _account_index(account)
    with running_phone(common) as phone:
        if index >= len(phone.config.accounts):
            _fail_usage(f"there is no account {account}: the config has {len(phone.config.accounts)}")
        code, report = run_register(phone, account=index, timeout=timeout)
    human = (f"account {account}: registered with {report.get('server', '')} for {report['expires']} s"
             if report["registered"] else
             f"account {account}: not registered: {report['sip_status'] or ''} {report['reason']}".rstrip())
    _finish(code, report, as_json, human)


_DTMF_OK = set("0123456789*#ABCDabcd")

_RTP_TIMEOUT = click.option(
    "--rtp-timeout", type=click.IntRange(0, 3600),
    help="End a call after this many seconds with no RTP/RTCP from the far end; 0 = never "
         "(default: features.rtp_timeout, 30).")


def _interrupted(report: dict, exc: BaseException) -> dict:
    """A run stopped by a signal before (or after) its own report: say so in the report."""
    from tuiphone.stop_signals import signal_name

    name = signal_name(exc)
    report.setdefault("interrupted", name)
    if "result" in report:          # a call's report says why it ended
        report.setdefault("reason", f"interrupted by {name}")
    return report


def _check_dtmf(digits: str, flag: str) -> None:
    bad = set(digits) - _DTMF_OK
    if bad:
        _fail_usage(f"{flag}: '{sorted(bad)[0]}' is not a DTMF digit (use 0-9 * # A-D)")


@main.command()
@click.argument("target")
@click.option("--account", type=int, help="Account number (1 = first); default: the first with a server.")
@click.option("--play", type=click.Path(), help="WAV file to play into the call (any rate; looped).")
@click.option("--tone", type=float, help="Play a sine tone of this frequency (Hz).")
@click.option("--record", type=click.Path(dir_okay=False), help="Record what the far end sends to this WAV.")
@click.option("--stereo", is_flag=True, help="With --record: both sides, ours left and theirs right.")
@click.option("--duration", type=click.FloatRange(0, 86400), default=5.0, show_default=True,
              help="Seconds to stay in the call once answered.")
@click.option("--dtmf", default="", help="DTMF digits to send after the answer.")
@click.option("--expect-dtmf", help="Fail unless these DTMF digits are received.")
@click.option("--min-mos", type=click.FloatRange(1.0, 4.5), help="Fail when the estimated MOS is lower.")
@click.option("--timeout", type=click.FloatRange(0.5, 3600), default=30.0, show_default=True,
              help="Seconds to wait for an answer.")
@_RTP_TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def call(common: Common, target, account, play, tone, record, stereo, duration, dtmf, expect_dtmf, min_mos,
         timeout, rtp_timeout, as_json) -> None:
    """Call TARGET (a number, a SIP URI, or a keypad direct IP like 127*0*0*1#5070) and report."""
    from tuiphone.headless import run_call
    from tuiphone.stop_signals import raise_on_stop_signals

    _check_dtmf(dtmf, "--dtmf")
    _check_dtmf(expect_dtmf or "", "--expect-dtmf")
    audio = _audio_plan(play, tone, False, record, stereo)
    index = _account_index(account)
    common.rtp_timeout = rtp_timeout
    report: dict | None = None
    raise_on_stop_signals()
    try:
        with running_phone(common) as phone:
            code, report = run_call(phone, target, account=index, audio=audio, duration=duration, dtmf=dtmf,
                                    expect_dtmf=expect_dtmf, min_mos=min_mos, timeout=timeout)
    except KeyboardInterrupt as exc:
        code, report = EXIT_FAILED, _interrupted(report or {"target": target, "result": "failed", "sip_status": 0},
                                                 exc)
    human = f"{target}: {report['result']}"
    if report.get("sip_status"):
        human += f" ({report['sip_status']} {report.get('reason', '')})".rstrip()
    if report["result"] == "answered":
        human += (f", setup {report['setup_ms']} ms, {report['duration_s']} s, {report['codec']}, "
                  f"MOS {report['mos']}, loss {report['rx']['lost']}/{report['rx']['packets']}")
    elif report.get("reason") and not report.get("sip_status"):
        human += f": {report['reason']}"
    _finish(code, report, as_json, human)


@main.command()
@click.option("--account", type=int, help="Only answer calls to this account (1 = first).")
@click.option("--play", type=click.Path(), help="WAV file to play to each caller.")
@click.option("--tone", type=float, help="Play a sine tone of this frequency (Hz).")
@click.option("--echo", is_flag=True, help="Play back what the caller says, one second later.")
@click.option("--record", type=click.Path(dir_okay=False), help="Record each call (NAME-N.wav when --count > 1).")
@click.option("--stereo", is_flag=True, help="With --record: both sides, ours left and theirs right.")
@click.option("--duration", type=click.FloatRange(0, 86400), help="Hang up after this many seconds "
              "(default: wait for the caller to hang up).")
@click.option("--count", type=click.IntRange(1, 10000), default=1, show_default=True,
              help="Answer this many calls, then exit.")
@click.option("--ring", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
              help="Let each call ring this many seconds before answering.")
@click.option("--dtmf", default="", help="DTMF digits to send after answering.")
@click.option("--timeout", type=click.FloatRange(0.5, 86400), default=60.0, show_default=True,
              help="Seconds to wait for the calls.")
@_RTP_TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def answer(common: Common, account, play, tone, echo, record, stereo, duration, count, ring, dtmf, timeout,
           rtp_timeout, as_json) -> None:
    """Wait for calls and answer them."""
    from tuiphone.headless import run_answer
    from tuiphone.stop_signals import raise_on_stop_signals

    _check_dtmf(dtmf, "--dtmf")
    audio = _audio_plan(play, tone, echo, record, stereo)
    index = _account_index(account)
    common.rtp_timeout = rtp_timeout
    report: dict | None = None
    raise_on_stop_signals()
    try:
        with running_phone(common, echo_service=False) as phone:     # every call that arrives is ours
            if not as_json:
                click.echo(f"waiting for calls on {phone.backend.local_address()}", err=True)
            code, report = run_answer(phone, account=index, audio=audio, duration=duration, count=count,
                                      timeout=timeout, ring=ring, dtmf=dtmf)
    except KeyboardInterrupt as exc:
        code, report = EXIT_FAILED, _interrupted(report or {"answered": 0, "calls": []}, exc)
    human = "\n".join(f"line {c['line']}: {c['remote_uri']} {c['result']} {c['duration_s']} s "
                      f"dtmf '{c['dtmf_received']}' MOS {c['mos']}" for c in report["calls"]) or "no calls"
    _finish(code, report, as_json, human)


@main.command()
@click.argument("target")
@click.option("--count", type=click.IntRange(1, 10000), default=1, show_default=True)
@click.option("--interval", type=click.FloatRange(0, 3600), default=1.0, show_default=True)
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=2.0, show_default=True,
              help="Seconds to wait for each answer.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def options(common: Common, target, count, interval, timeout, as_json) -> None:
    """Ping TARGET (host[:port] or a SIP URI) with SIP OPTIONS and report round-trip times."""
    from tuiphone.engine.options import OptionsError
    from tuiphone.headless import run_options

    try:
        code, report = run_options(target, count=count, interval=interval, bind=common.bind or "",
                                   timeout=timeout)
    except OptionsError as exc:
        _fail_usage(str(exc))
    lines = [f"{r['seq']}: " + (f"{r['sip_status']} {r['reason']} {r['rtt_ms']} ms" if r["rtt_ms"] is not None
                                else r["reason"]) for r in report["replies"]]
    lines.append(f"{report['received']}/{report['sent']} answered")
    _finish(code, report, as_json, "\n".join(lines))


@main.group()
def config() -> None:
    """Check the config file."""


@config.command("check")
@click.argument("path", required=False)
@click.pass_obj
def config_check(common: Common, path: str | None) -> None:
    """Check a config file (default: the one the phone would use) without changing it."""
    from tuiphone.config import check_config_cli
    from tuiphone.paths import config_path

    code, message = check_config_cli(Path(path) if path else config_path(common.config))
    click.echo(message, err=code != 0)
    sys.exit(code)


def _register_commands() -> None:
    from tuiphone.daemon import daemon, import_gs, phonebook
    from tuiphone.audio_cmd import audio
    from tuiphone.paging_cmd import listen, page

    main.add_command(daemon)
    main.add_command(page)
    main.add_command(listen)
    main.add_command(audio)
    main.add_command(phonebook)
    config.add_command(import_gs)
    from tuiphone.web.web_cmd import web; main.add_command(web)  # noqa: E702 (one line: `tuiphone web`)


_COMMON_FIELDS = ("config", "data_dir", "port", "bind", "log_level", "sip_trace", "pcap", "pcap_full")


def _set_common(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A common option given after the command: it overrides the same option given before it."""
    if value is None or ctx.resilient_parsing or not isinstance(ctx.obj, Common):
        return
    setattr(ctx.obj, param.name, value)
    if param.name == "log_level":
        logging.getLogger().setLevel(getattr(logging, value.upper()))


def accept_common_options_after(group: click.Group) -> None:
    """Give every command under `group` the common options too (`tuiphone call 1002 --pcap x.pcap` works as
    `tuiphone --pcap x.pcap call 1002` does). main's callback makes the Common before a command parses its
    options, so these only change fields of it."""
    common = [p for p in main.params if isinstance(p, click.Option) and p.name in _COMMON_FIELDS]
    for command in group.commands.values():
        taken = {name for p in command.params for name in p.opts}
        for option in common:
            if taken.intersection(option.opts):
                continue
            command.params.append(click.Option(option.opts, type=option.type, help=option.help, default=None,
                                               expose_value=False, callback=_set_common))
        if isinstance(command, click.Group):
            accept_common_options_after(command)


_register_commands()
accept_common_options_after(main)

if __name__ == "__main__":
    main()
