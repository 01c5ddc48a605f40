"""`tuiphone ctl ...` (scripts against the running phone) and `tuiphone stop`.

Exit codes: 0 done, 1 the phone said no or no phone runs for the config, 2 usage. With --json exactly one
JSON object goes to stdout (`ctl events --json`: one per event); sentences go to stderr.
The CLI registers them: `main.add_command(ctl)`, `main.add_command(stop)`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STOP_WAIT_S = 30.0

_JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
_LINE = click.argument("line", type=click.IntRange(1, 99))


def _config(common: Any) -> Any:
    from tuiphone.paths import config_path

    return config_path(getattr(common, "config", None))


def _run(common: Any, as_json: bool, work: Callable[[Any], Awaitable[tuple[Any, str]]]) -> None:
    """Connect to the phone, run `work(client)` -> (report, human text), print it and exit."""
    from tuiphone.control.client import ControlClient, ControlError, PhoneRefused

    async def go() -> tuple[Any, str]:
        client = await ControlClient.connect(_config(common))
        try:
            return await work(client)
        finally:
            await client.close()
    try:
        report, human = asyncio.run(go())
    except PhoneRefused as exc:
        _say_no(str(exc), as_json)
    except ControlError as exc:
        _say_no(str(exc), as_json)
    if as_json:
        click.echo(json.dumps({"ok": True, "result": report}, ensure_ascii=False))
    elif human:
        click.echo(human)
    sys.exit(EXIT_OK)


def _say_no(sentence: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"ok": False, "error": sentence}, ensure_ascii=False))
    click.echo(f"tuiphone: {sentence}", err=True)
    sys.exit(EXIT_FAILED)


def _op(op: str, human: Callable[[Any], str], **args: Any) -> Callable[[Any], Awaitable[tuple[Any, str]]]:
    async def work(client: Any) -> tuple[Any, str]:
        result = await client.request(op, **args)
        return result, human(result)
    return work


def _duration(seconds: float) -> str:
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _line_text(item: dict[str, Any], now: float) -> str:
    call = item["call"]
    who = call["remote_number"] or call["remote_uri"]
    if call["remote_name"]:
        who += f" ({call['remote_name']})"
    text = f"line {call['line']}: {call['state']} {'to' if call['direction'] == 'out' else 'from'} {who}"
    if item.get("talking_since"):
        text += f", {_duration(now - item['talking_since'])}"
    marks = [name for name, on in (("muted", call["muted"]), ("held by the far end", call["remote_hold"]),
                                   ("recording", call["recording"]), ("in the conference", call["conference"]))
             if on]
    if call["codec"]:
        marks.insert(0, call["codec"])
    return text + (f" [{', '.join(marks)}]" if marks else "")


def status_text(status: dict[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    fronts = status.get("front_ends", 0)
    head = (f"phone pid {status['pid']} for {status['config']}: SIP on {status['sip']}, "
            f"up {_duration(status['up_s'])}, {fronts} front-end{'s' if fronts != 1 else ''} attached")
    out = [head]
    for reg in status.get("registrations", []):
        n = reg["account"] + 1
        out.append(f"account {n}: registered with {reg['server']} for {reg['expires']} s" if reg["registered"]
                   else f"account {n}: not registered: {reg['sip_status'] or ''} {reg['reason']}".rstrip())
    lines = status.get("lines", [])
    out += [_line_text(item, now) for item in lines] or ["no calls"]
    f = status.get("features") or {}
    if f:
        forwards = ", ".join(f"forward {kind} to {f['forward_' + key]}" for kind, key in
                             (("always", "always"), ("busy", "busy"), ("when not answered", "no_answer"))
                             if f["forward_" + key])
        out.append(f"features: do not disturb {'on' if f['dnd'] else 'off'}, call waiting "
                   f"{'on' if f['call_waiting'] else 'off'}" + (f", {forwards}" if forwards else ""))
    for mwi in status.get("mwi", []):
        if mwi["waiting"]:
            out.append(f"voicemail: {mwi['new']} new, {mwi['old']} old")
    audio = status.get("audio")
    if audio:
        out.append(f"audio: {audio['status']}" + (f" ({audio['reason']})" if audio["status"] != "ok" else "")
                   + f", volume {round(audio['volume'] * 100)}%")
    return "\n".join(out)


@click.group()
def ctl() -> None:
    """Control the phone that runs for this config (`tuiphone daemon` or `tuiphone`) from a script."""


@ctl.command()
@_JSON
@click.pass_obj
def status(common: Any, as_json: bool) -> None:
    """Lines, registrations, features and audio of the running phone."""
    _run(common, as_json, _op("status", status_text))


@ctl.command()
@click.argument("number")
@click.option("--account", type=click.IntRange(1, 99), help="Account number (1 = first); default: the phone's.")
@_JSON
@click.pass_obj
def dial(common: Any, number: str, account: int | None, as_json: bool) -> None:
    """Call NUMBER (a number, a SIP URI or a keypad direct IP) from the running phone."""
    index = account - 1 if account is not None else None
    _run(common, as_json, _op("call", lambda line: f"calling {number} on line {line}", target=number, account=index))


def _pick(lines: list[dict[str, Any]], states: tuple[str, ...]) -> int | None:
    for state in states:
        for item in lines:
            if item["call"]["state"] == state:
                return item["call"]["line"]
    return None


@ctl.command()
@click.argument("line", type=click.IntRange(1, 99), required=False)
@_JSON
@click.pass_obj
def answer(common: Any, line: int | None, as_json: bool) -> None:
    """Answer LINE (default: the call ringing)."""
    from tuiphone.control.client import PhoneRefused

    async def work(client: Any) -> tuple[Any, str]:
        number = line or _pick(client.view.to_data()["lines"], ("ringing",))
        if number is None:
            raise PhoneRefused("no call is ringing")
        await client.request("answer", line=number)
        return {"line": number}, f"answered line {number}"
    _run(common, as_json, work)


@ctl.command()
@click.argument("line", type=click.IntRange(1, 99), required=False)
@click.option("--all", "every", is_flag=True, help="Hang up every line.")
@_JSON
@click.pass_obj
def hangup(common: Any, line: int | None, every: bool, as_json: bool) -> None:
    """Hang up LINE (default: the call in progress), or every line with --all."""
    from tuiphone.control.client import PhoneRefused

    if every and line is not None:
        raise click.UsageError("give LINE or --all, not both")

    async def work(client: Any) -> tuple[Any, str]:
        if every:
            await client.request("hangup_all")
            return {"lines": "all"}, "hung up every line"
        lines = client.view.to_data()["lines"]
        number = line or _pick(lines, ("talking", "calling", "dialing", "ringing", "held"))
        if number is None:
            raise PhoneRefused("there is no call to hang up")
        await client.request("hangup", line=number)
        return {"line": number}, f"hung up line {number}"
    _run(common, as_json, work)


def _line_command(name: str, op: str, done: str, doc: str) -> None:
    @ctl.command(name, help=doc)
    @_LINE
    @_JSON
    @click.pass_obj
    def command(common: Any, line: int, as_json: bool) -> None:
        _run(common, as_json, _op(op, lambda _: done.format(line=line), line=line))


_line_command("hold", "hold", "line {line} is on hold", "Put LINE on hold.")
_line_command("resume", "resume", "line {line} is back", "Take LINE off hold.")


@ctl.command()
@_LINE
@click.argument("digits")
@_JSON
@click.pass_obj
def dtmf(common: Any, line: int, digits: str, as_json: bool) -> None:
    """Send DIGITS (0-9 * # A-D) as DTMF on LINE."""
    _run(common, as_json, _op("send_dtmf", lambda _: f"sent {digits} on line {line}", line=line, digits=digits))


@ctl.command()
@_LINE
@click.argument("target")
@_JSON
@click.pass_obj
def transfer(common: Any, line: int, target: str, as_json: bool) -> None:
    """Transfer the call on LINE to TARGET (blind transfer)."""
    _run(common, as_json, _op("blind_transfer", lambda _: f"transferring line {line} to {target}",
                              line=line, target=target))


@ctl.command()
@click.argument("state", type=click.Choice(["on", "off"]))
@_JSON
@click.pass_obj
def dnd(common: Any, state: str, as_json: bool) -> None:
    """Turn do not disturb on or off."""
    _run(common, as_json, _op("set_dnd", str, on=state == "on"))


@ctl.command()
@click.argument("kind", type=click.Choice(["always", "busy", "noanswer"]))
@click.argument("target")
@_JSON
@click.pass_obj
def forward(common: Any, kind: str, target: str, as_json: bool) -> None:
    """Forward calls (always, when busy, when not answered) to TARGET; `off` stops forwarding of that kind."""
    value = "" if target == "off" else target
    _run(common, as_json, _op("set_forward", str, kind="no_answer" if kind == "noanswer" else kind, target=value))


@ctl.command()
@_LINE
@click.argument("state", type=click.Choice(["on", "off"]))
@_JSON
@click.pass_obj
def record(common: Any, line: int, state: str, as_json: bool) -> None:
    """Start or stop recording LINE (both sides, into the phone's recordings folder)."""
    def human(path: Any) -> str:
        if state == "on":
            return f"recording line {line} to {path}"
        return f"stopped recording line {line}" + (f"; the file is {path}" if path else "")
    _run(common, as_json, _op("record", human, line=line, on=state == "on"))


@ctl.command()
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@_JSON
@click.pass_obj
def history(common: Any, limit: int, as_json: bool) -> None:
    """The latest calls of the phone's history, newest first."""
    def human(rows: list[dict[str, Any]]) -> str:
        out = []
        for row in rows:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["started"]))
            who = row["remote_number"] or row["remote_uri"]
            if row["remote_name"]:
                who += f" ({row['remote_name']})"
            out.append(f"{when} {row['direction']:3} {who} {row['disposition']} {_duration(row['duration_s'])}")
        return "\n".join(out) or "no calls in the history"
    _run(common, as_json, _op("history", human, limit=limit))


def event_text(message: dict[str, Any]) -> str:
    data = message.get("data") or {}
    fields = " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={json.dumps(v)}"
                      for k, v in data.items() if k != "text")
    return f"{message.get('event')} {fields}".rstrip()


@ctl.command()
@_JSON
@click.pass_obj
def events(common: Any, as_json: bool) -> None:
    """Print the phone's events as they happen, one per line, until Ctrl-C (or the reader goes)."""
    from tuiphone.control.client import ControlClient, ControlError

    async def follow() -> int:
        client = await ControlClient.connect(_config(common))
        try:
            async for message in client.events(raw=True):
                line = json.dumps(message) if as_json else event_text(message)
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            click.echo(f"tuiphone: {client.problem}", err=True)
            return EXIT_FAILED
        finally:
            await client.close()
    try:
        code = asyncio.run(follow())
    except ControlError as exc:
        _say_no(str(exc), as_json)
    except KeyboardInterrupt:
        code = EXIT_OK
    except BrokenPipeError:        # `ctl events | head`: the reader is gone, and so are we
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")   # exited, not yet reaped
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


@click.command()
@click.option("--timeout", type=click.FloatRange(1, 600), default=STOP_WAIT_S, show_default=True,
              help="Seconds to wait for the phone to hang up, unregister and exit.")
@_JSON
@click.pass_obj
def stop(common: Any, timeout: float, as_json: bool) -> None:
    """Stop the phone that runs for this config (it hangs up its calls and unregisters first)."""
    from tuiphone.control.client import ControlError, PhoneRefused, call_phone

    try:
        hello, _ = call_phone(_config(common), "stop")
    except (ControlError, PhoneRefused) as exc:
        _say_no(str(exc), as_json)
    pid = int(hello["pid"])
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            _say_no(f"the phone (pid {pid}) is still stopping after {timeout:g} s", as_json)
        time.sleep(0.05)
    if as_json:
        click.echo(json.dumps({"ok": True, "result": {"stopped": True, "pid": pid}}))
    else:
        click.echo(f"the phone (pid {pid}) has stopped")
    sys.exit(EXIT_OK)
