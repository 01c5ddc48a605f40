"""`tuiphone load TARGET`: many concurrent calls with a media check on every call, an aggregate report (ASR,
PDD, MOS), JUnit and CSV; and what `answer --max-concurrent` runs (answer_concurrently). The calls run in
worker processes (tuiphone/load/), outside the desk phone's line model: no hold, no call waiting, and no history
rows or Action URLs unless asked with --with-services (load/services.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tuiphone.cli.common import EXIT_FAILED, RunOptions, account_index, check_media, fail_usage

_DTMF_OK = set("0123456789*#ABCDabcd")


def _config(opts: RunOptions) -> Any:
    from tuiphone.runtime import load_config
    return load_config(opts)


def _codecs(config: Any, account: int | None) -> list[str]:
    if account is None:
        return ["PCMU", "PCMA", "G722"]          # G.711 first: what trunks carry
    out: list[str] = []
    for acc in [config.accounts[account]]:
        for c in acc.codecs:
            if c not in out:
                out.append(c)
    return out or ["PCMU", "PCMA", "G722"]


def account_spec(config: Any, index: int, register: bool) -> dict[str, Any]:
    """What a worker needs of account `index` for its own pjsua account (digest auth on every INVITE)."""
    acc = config.accounts[index]
    return {"index": index, "user_id": acc.user_id, "auth_id": acc.auth_id or acc.user_id,
            "password": acc.password, "display_name": acc.display_name, "domain": acc.sip_server,
            "registrar": acc.sip_server if register and acc.register else "", "proxy": acc.outbound_proxy,
            "transport": acc.transport, "srtp": acc.srtp, "reg_expires": acc.reg_expires,
            "register": bool(register and acc.register), "mwi": False}


def _resolve(config: Any, target: str, index: int | None) -> tuple[int | None, str]:
    from tuiphone.engine.dialing import account_plan, resolve_target
    from tuiphone.engine.dialplan import DialPlanError
    from tuiphone.engine.phone_error import PhoneError

    plans = {}
    for i, acc in enumerate(config.accounts):
        try:
            plans[i] = account_plan(acc)
        except DialPlanError:
            pass
    in_stack = [i for i, a in enumerate(config.accounts) if a.enabled and a.sip_server]
    try:
        return resolve_target(target, index, config, plans, in_stack, "127.0.0.1")
    except PhoneError as exc:
        fail_usage(str(exc))


def _check_dtmf(digits: str | None, flag: str) -> None:
    bad = set(digits or "") - _DTMF_OK
    if bad:
        fail_usage(f"{flag}: '{sorted(bad)[0]}' is not a DTMF digit (use 0-9 * # A-D)")


def _services(opts: RunOptions, config: Any, with_services: bool, direction: str, account: int | None,
              bind: str) -> Any:
    """--with-services: the run's calls in the phone's history and its Action URLs (None without the flag)."""
    if not with_services:
        return None
    from tuiphone.cli.common import fail
    from tuiphone.load.services import LoadServices, LoadServicesError
    from tuiphone.paths import data_dir, database_path

    try:
        return LoadServices(config, database_path(data_dir(opts.data_dir)), direction=direction, account=account,
                            address=f"{bind}:0")
    except LoadServicesError as exc:
        fail(str(exc), EXIT_FAILED)


def _media_spec(play: str | None, tone: float | None) -> dict[str, Any]:
    if play is not None and tone is not None:
        fail_usage("choose one of --play and --tone")
    check_media(play, tone)
    return {"play": play, "tone": tone}


@click.command()
@click.argument("target")
@click.option("--calls", type=click.IntRange(1, 1_000_000), default=10, show_default=True, help="Calls to place.")
@click.option("--concurrency", type=click.IntRange(1, 2000), default=4, show_default=True,
              help="Calls up at once at most (4 per worker process).")
@click.option("--rate", type=click.FloatRange(0, 10000), default=5.0, show_default=True,
              help="New calls per second (0 = as fast as the concurrency allows).")
@click.option("--duration", type=click.FloatRange(0, 86400), default=3.0, show_default=True,
              help="Seconds each call stays up once answered.")
@click.option("--tone", type=float, help="Send a sine tone of this frequency (Hz) on every call.")
@click.option("--play", type=click.Path(), help="Send this WAV file (looped) on every call.")
@click.option("--expect-tone", type=float, help="Fail a call unless the far end's audio is mostly this frequency.")
@click.option("--expect-echo", is_flag=True, help="Fail a call unless our own --tone comes back.")
@click.option("--dtmf", default="", help="DTMF digits to send on every call after the answer.")
@click.option("--expect-dtmf", help="Fail a call unless these DTMF digits are received.")
@click.option("--min-mos", type=click.FloatRange(1.0, 4.5), help="Fail a call whose estimated MOS is lower.")
@click.option("--min-asr", type=click.FloatRange(0, 100), help="Fail the run when fewer calls are answered (%); "
              "unanswered calls then fail only this threshold.")
@click.option("--max-pdd-ms", type=click.FloatRange(0), help="Fail the run when a call's PDD is longer.")
@click.option("--timeout", type=click.FloatRange(0.5, 3600), default=30.0, show_default=True,
              help="Seconds each call may take to be answered.")
@click.option("--account", type=int, help="Account number (1 = first) to call through (digest auth).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the report).")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML: one testcase per call.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write a CSV: one row per call.")
@click.option("--with-services", is_flag=True, help="Write each call in the phone's history and send the "
              "configured Action URLs (outgoing_call, established, terminated...), as the phone's own calls do.")
@click.pass_obj
def load(opts: RunOptions, target, calls, concurrency, rate, duration, tone, play, expect_tone, expect_echo, dtmf,
         expect_dtmf, min_mos, min_asr, max_pdd_ms, timeout, account, as_json, junit, csv_path,
         with_services) -> None:
    """Place many concurrent calls to TARGET (a number, a SIP URI or a keypad direct IP), check the media of
    every call, and report ASR, PDD, setup, MOS and per-call results."""
    from tuiphone.load.pool import WorkerFailed
    from tuiphone.load.record import human
    from tuiphone.load.run import Progress, run_load
    from tuiphone.load.writers import write_csv, write_junit
    from tuiphone.stop_signals import raise_on_stop_signals

    _check_dtmf(dtmf, "--dtmf")
    _check_dtmf(expect_dtmf, "--expect-dtmf")
    media = _media_spec(play, tone)
    if expect_echo and tone is None:
        fail_usage("--expect-echo needs --tone: the tone that must come back")
    if expect_tone is not None and not 20 <= expect_tone <= 7900:
        fail_usage(f"--expect-tone {expect_tone:g} Hz is outside 20-7900 Hz")
    if (expect_tone is not None or expect_echo) and duration < 1.5:
        fail_usage("tone checks need --duration 1.5 or more (audio is analysed in 1 s blocks)")
    for path, flag in ((junit, "--junit"), (csv_path, "--csv")):
        if path and not Path(path).resolve().parent.is_dir():
            fail_usage(f"{flag}: the folder of {path} does not exist")
    config = _config(opts)
    acc, uri = _resolve(config, target, account_index(account))
    spec: dict[str, Any] = {"target": target, "uri": uri, **media, "duration": duration, "timeout": timeout,
                            "expect_tone": expect_tone, "expect_echo": expect_echo, "dtmf": dtmf,
                            "expect_dtmf": expect_dtmf, "min_mos": min_mos, "bind": opts.bind or "127.0.0.1",
                            "codecs": _codecs(config, acc),
                            "account": account_spec(config, acc, register=False) if acc is not None else None}
    services = _services(opts, config, with_services, "out", acc, spec["bind"])
    raise_on_stop_signals()
    try:
        code, report = run_load(spec, calls=calls, concurrency=concurrency, rate=rate, min_asr=min_asr,
                                max_pdd_ms=max_pdd_ms, progress=Progress(), services=services)
    except WorkerFailed as exc:
        from tuiphone.cli.common import fail
        fail(str(exc), EXIT_FAILED)
    finally:
        if services is not None:
            services.close()
    if junit:
        write_junit(Path(junit), target, report["calls"], report["summary"])
    if csv_path:
        write_csv(Path(csv_path), report["calls"])
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        lines = [human(report["summary"], target)]
        bad = [r for r in report["calls"] if not r["passed"]]
        lines += [f"  call {r['n']}: {r['failure']}" for r in bad[:10]]
        if len(bad) > 10:
            lines.append(f"  ... and {len(bad) - 10} more")
        click.echo("\n".join(lines))
    raise SystemExit(code)


def answer_concurrently(opts: RunOptions, *, max_concurrent: int, account: int | None, play: str | None,
                        tone: float | None, echo: bool, record: str | None, duration: float | None,
                        count: int, ring: float, dtmf: str, timeout: float, reject_pct: int,
                        as_json: bool, with_services: bool = False) -> None:
    """`tuiphone answer --max-concurrent N`: every call independent, over worker processes behind one address."""
    from tuiphone.cli.common import fail, finish
    from tuiphone.load.pool import WorkerFailed
    from tuiphone.load.run import answer_workers, run_answer
    from tuiphone.stop_signals import raise_on_stop_signals

    media = _media_spec(play, tone)
    if echo and (play or tone is not None):
        fail_usage("choose one of --play, --tone and --echo")
    if record and not Path(record).resolve().parent.is_dir():
        fail_usage(f"cannot record to {record}: the folder does not exist")
    config = _config(opts)
    acc = account_index(account)
    if acc is not None and not 0 <= acc < len(config.accounts):
        fail_usage(f"there is no account {account}: the config has {len(config.accounts)}")
    if acc is not None and answer_workers(max_concurrent) > 1 and config.accounts[acc].transport != "udp":
        fail_usage(f"--max-concurrent above 4 needs account {account} on UDP (it is on "
                   f"{config.accounts[acc].transport}): the workers' one address in front of them is UDP")
    port = opts.port if opts.port is not None else config.sip.port
    bind = opts.bind or config.sip.bind_address or "127.0.0.1"
    spec = {**media, "echo": echo, "record": record, "duration": duration, "ring": ring, "dtmf": dtmf,
            "reject_pct": reject_pct, "codecs": _codecs(config, acc),
            "account": account_spec(config, acc, register=True) if acc is not None else None}
    registers = spec["account"] is not None and spec["account"]["register"]
    services = _services(opts, config, with_services, "in", acc, bind)
    raise_on_stop_signals()

    def ready(address: str) -> None:
        if not as_json:
            aor = f" as {spec['account']['user_id']}@{spec['account']['domain']}" if registers else ""
            click.echo(f"waiting for calls on {address}{aor} ({answer_workers(max_concurrent)} worker processes, "
                       f"{max_concurrent} calls at once)", err=True)
    try:
        code, report = run_answer(spec, max_concurrent=max_concurrent, bind=bind, port=port, count=count,
                                  timeout=timeout, on_ready=ready, services=services)
    except WorkerFailed as exc:
        fail(str(exc), EXIT_FAILED)
    except OSError as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        if services is not None:
            services.close()
    reg = report.get("registration")
    if reg is not None and not as_json and (reg["lost"] or not reg["unregistered"]):
        click.echo(f"the registration of {reg['aor']} was lost during the run" if reg["lost"] else
                   f"{reg['aor']} could not be unregistered at {reg['registrar']}: the registrar keeps "
                   f"{reg['contact']} until it expires", err=True)
    human = "\n".join(f"call {c['n']}: {c.get('remote_uri', '')} {c['result']} {c['talk_s']} s "
                      f"dtmf '{c['dtmf_received']}' MOS {c['mos']}" for c in report["calls"]) or "no calls"
    finish(code, report, as_json, human)
