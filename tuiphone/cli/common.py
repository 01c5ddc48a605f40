"""What the command modules of the CLI share: the exit codes, usage errors and the final report.

Exit codes: 0 success, 1 the call/registration/check failed, 2 usage or config error (defined in runtime).
With --json exactly one JSON object goes to stdout; everything else goes to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn, overload

import click

from tuiphone.runtime import EXIT_FAILED, EXIT_OK, EXIT_USAGE, RunOptions, StartError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "RunOptions", "StartError", "account_index", "fail",
           "fail_usage", "finish"]


def fail(message: str, code: int) -> NoReturn:
    """End the command with `tuiphone: message` on stderr and the exit code."""
    click.echo(f"tuiphone: {message}", err=True)
    sys.exit(code)


def fail_usage(message: str) -> NoReturn:
    fail(message, EXIT_USAGE)


def finish(code: int, report: dict, as_json: bool, human: str) -> NoReturn:
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        click.echo(human)
    sys.exit(code)


@overload
def account_index(account: int) -> int: ...
@overload
def account_index(account: None) -> None: ...
def account_index(account: int | None) -> int | None:
    if account is None:
        return None
    if account < 1:
        fail_usage("--account counts from 1 (account 1 is the first [[accounts]] entry)")
    return account - 1


def check_media(play: str | None, tone: float | None) -> None:
    """Usage errors (exit 2) for --play (a WAV that cannot be read) and --tone (outside 20-7900 Hz)."""
    if play is not None:
        from tuiphone.audio.wav import WavError, read_wav

        try:
            read_wav(play)
        except WavError as exc:
            fail_usage(str(exc))
    if tone is not None and not 20 <= tone <= 7900:
        fail_usage(f"--tone {tone:g} Hz is outside 20-7900 Hz")
