"""The headless commands for scripts and trunk tests (SPEC §6): `register`, `call`, `answer`, `options`.

Each runs the phone through runtime.running_phone, hands it to a run_* function of headless.py and prints
the report (one JSON object with --json).
"""

from __future__ import annotations

from pathlib import Path

import click

from tuiphone.cli.common import EXIT_FAILED, RunOptions, account_index, check_media, fail_usage, finish
from tuiphone.runtime import running_phone


def audio_plan(play: str | None, tone: float | None, echo: bool, record: str | None, stereo: bool = False):
    from tuiphone.headless import AudioPlan

    if sum(x is not None and x is not False for x in (play, tone, echo or None)) > 1:
        fail_usage("choose one of --play, --tone and --echo")
    check_media(play, tone)
    rec = Path(record) if record else None
    if rec is not None and not rec.parent.exists():
        fail_usage(f"cannot record to {rec}: the folder {rec.parent} does not exist")
    if stereo and rec is None:
        fail_usage("--stereo goes with --record")
    return AudioPlan(play=Path(play) if play else None, tone=tone, echo=echo, record=rec, stereo=stereo)


@click.command()
@click.option("--account", type=int, default=1, show_default=True, help="Account number (1 = first).")
@click.option("--timeout", type=click.FloatRange(0.5, 3600), default=10.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def register(opts: RunOptions, account: int, timeout: float, as_json: bool) -> None:
    """Register an account with its SIP server and report the result."""
    from tuiphone.headless import run_register

    index = account_index(account)
    with running_phone(opts) as running:
        accounts = running.phone.config.accounts
        if index >= len(accounts):
            fail_usage(f"there is no account {account}: the config has {len(accounts)}")
        code, report = run_register(running.phone, account=index, timeout=timeout, events=running.events)
    human = (f"account {account}: registered with {report.get('server', '')} for {report['expires']} s"
             if report["registered"] else
             f"account {account}: not registered: {report['sip_status'] or ''} {report['reason']}".rstrip())
    finish(code, report, as_json, human)


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
        fail_usage(f"{flag}: '{sorted(bad)[0]}' is not a DTMF digit (use 0-9 * # A-D)")


@click.command()
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
def call(opts: RunOptions, target, account, play, tone, record, stereo, duration, dtmf, expect_dtmf, min_mos,
         timeout, rtp_timeout, as_json) -> None:
    """Call TARGET (a number, a SIP URI, or a keypad direct IP like 127*0*0*1#5070) and report."""
    from tuiphone.headless import run_call
    from tuiphone.stop_signals import raise_on_stop_signals

    _check_dtmf(dtmf, "--dtmf")
    _check_dtmf(expect_dtmf or "", "--expect-dtmf")
    audio = audio_plan(play, tone, False, record, stereo)
    index = account_index(account)
    opts.rtp_timeout = rtp_timeout
    report: dict | None = None
    raise_on_stop_signals()
    try:
        with running_phone(opts) as running:
            code, report = run_call(running.phone, target, account=index, audio=audio, duration=duration, dtmf=dtmf,
                                    expect_dtmf=expect_dtmf, min_mos=min_mos, timeout=timeout,
                                    events=running.events)
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
    finish(code, report, as_json, human)


@click.command()
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
@click.option("--max-concurrent", type=click.IntRange(1, 2000), help="Answer up to this many calls at once, each "
              "independent (no hold of the others; worker processes of 4 calls each, see `tuiphone load`).")
@click.option("--reject-percent", type=click.IntRange(0, 100), default=0, help="With --max-concurrent: refuse "
              "this share of the calls with 486 (evenly spread), to test a caller's ASR checks.")
@click.option("--with-services", is_flag=True, help="With --max-concurrent: write each call in the phone's "
              "history and send the configured Action URLs, as the phone's own calls do.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def answer(opts: RunOptions, account, play, tone, echo, record, stereo, duration, count, ring, dtmf, timeout,
           rtp_timeout, max_concurrent, reject_percent, with_services, as_json) -> None:
    """Wait for calls and answer them."""
    from tuiphone.headless import run_answer
    from tuiphone.stop_signals import raise_on_stop_signals

    if max_concurrent is not None:
        from tuiphone.cli.load import answer_concurrently
        _check_dtmf(dtmf, "--dtmf")
        if stereo:
            fail_usage("--stereo is not available with --max-concurrent yet (each call records what it hears)")
        answer_concurrently(opts, max_concurrent=max_concurrent, account=account, play=play, tone=tone, echo=echo,
                            record=record, duration=duration, count=count, ring=ring, dtmf=dtmf, timeout=timeout,
                            reject_pct=reject_percent, as_json=as_json, with_services=with_services)
    if with_services:
        fail_usage("--with-services goes with --max-concurrent (without it the calls are the phone's own, "
                   "with the Action URLs of its config)")

    _check_dtmf(dtmf, "--dtmf")
    audio = audio_plan(play, tone, echo, record, stereo)
    index = account_index(account)
    opts.rtp_timeout = rtp_timeout
    report: dict | None = None
    raise_on_stop_signals()
    try:
        with running_phone(opts, echo_service=False) as running:     # every call that arrives is ours
            if not as_json:
                click.echo(f"waiting for calls on {running.phone.backend.local_address()}", err=True)
            code, report = run_answer(running.phone, account=index, audio=audio, duration=duration, count=count,
                                      timeout=timeout, ring=ring, dtmf=dtmf, events=running.events)
    except KeyboardInterrupt as exc:
        code, report = EXIT_FAILED, _interrupted(report or {"answered": 0, "calls": []}, exc)
    human = "\n".join(f"line {c['line']}: {c['remote_uri']} {c['result']} {c['duration_s']} s "
                      f"dtmf '{c['dtmf_received']}' MOS {c['mos']}" for c in report["calls"]) or "no calls"
    finish(code, report, as_json, human)


@click.command()
@click.argument("target")
@click.option("--count", type=click.IntRange(1, 10000), default=1, show_default=True)
@click.option("--interval", type=click.FloatRange(0, 3600), default=1.0, show_default=True)
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=2.0, show_default=True,
              help="Seconds to wait for each answer.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def options(opts: RunOptions, target, count, interval, timeout, as_json) -> None:
    """Ping TARGET (host[:port] or a SIP URI) with SIP OPTIONS and report round-trip times."""
    from tuiphone.engine.options import OptionsError
    from tuiphone.headless import run_options

    try:
        code, report = run_options(target, count=count, interval=interval, bind=opts.bind or "",
                                   timeout=timeout)
    except OptionsError as exc:
        fail_usage(str(exc))
    lines = [f"{r['seq']}: " + (f"{r['sip_status']} {r['reason']} {r['rtt_ms']} ms" if r["rtt_ms"] is not None
                                else r["reason"]) for r in report["replies"]]
    lines.append(f"{report['received']}/{report['sent']} answered")
    finish(code, report, as_json, "\n".join(lines))
