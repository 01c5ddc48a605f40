"""The control protocol: newline-delimited JSON objects on the phone's Unix socket (version 1).

Server → client, first line: the hello `{"tuiphone": 1, "pid": N, "config": "...", "version": "..."}`;
second line: `{"snapshot": {...}}` (what the phone looks like now, see server.Snapshot). Then, mixed:
- replies `{"id": n, "ok": true, "result": ...}` or `{"id": n, "ok": false, "error": "<a sentence>"}`;
- events `{"event": "<engine event class>", "data": {...}}` (codec.py).
Client → server: requests `{"id": n, "op": "<name>", "args": {...}}` (ops.py lists the ops).

A line longer than MAX_LINE, one that is not a JSON object, or a request without an id or with an unknown
op gets an error reply (`"id": null` when none could be read) and the connection is closed; the phone
goes on. A refused command (the phone said no, wrong arguments) gets an error reply and the connection stays.
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1
MAX_LINE = 1 << 20            # bytes per line, either way; a longer one ends the connection


class ProtocolError(ValueError):
    """A line that breaks the protocol; `str()` is the sentence sent back before the connection closes."""

    def __init__(self, message: str, request_id: Any = None):
        super().__init__(message)
        self.request_id = request_id


def dump(message: dict[str, Any]) -> bytes:
    """One message as its line (ASCII JSON: any string survives, even a lone surrogate from the network)."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def load(line: bytes) -> dict[str, Any]:
    """The JSON object on one line; ProtocolError for anything else."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError("that line is not JSON: send one JSON object per line") from None
    if not isinstance(message, dict):
        raise ProtocolError("send one JSON object per line, not a JSON " + type(message).__name__)
    return message


def hello(pid: int, config: str, version: str) -> dict[str, Any]:
    return {"tuiphone": VERSION, "pid": pid, "config": config, "version": version}


def check_hello(message: dict[str, Any]) -> None:
    if message.get("tuiphone") != VERSION:
        raise ProtocolError(f"the phone speaks control protocol {message.get('tuiphone')!r:.20}, this "
                            f"tuiphone speaks {VERSION}: run the same tuiphone version for both")


def request(request_id: int, op: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": request_id, "op": op, "args": args or {}}


def parse_request(message: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    """(id, op, args) of a request; ProtocolError when it is not one."""
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
        raise ProtocolError("a request needs an 'id' (a number or a string)")
    op = message.get("op")
    if not isinstance(op, str):
        raise ProtocolError("a request needs an 'op' naming what to do", request_id)
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError("a request's 'args' is an object", request_id)
    return request_id, op, args


def ok(request_id: Any, result: Any) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def error(request_id: Any, sentence: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": sentence}
