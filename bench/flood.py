"""The highest INVITE rate a phone takes without losing a normal call: `tuiphone daemon` against bare pjsua2.

    python bench/flood.py [--seconds 30] [--start 25] [--max 800] [--json]

The flood is what a SIP scanner sends: INVITE, then CANCEL 20 ms later, from one UDP socket on 127.0.0.1.
Every 2 s a normal call (its own socket) INVITEs the phone and must ring (180) within 1 s; it is then
cancelled. A rate passes when every normal call rang and the process is still alive after `--seconds`.
The rate doubles from `--start` until one fails, then is bisected twice; each trial gets a fresh process.

  ours  `tuiphone daemon` (no account, no CTI), SIP on 127.0.0.1
  bare  this file with `--worker bare`: an Endpoint and an Account that rings (180) every call, with the
        same limits (uaConfig.maxCalls = 32, which pjsua caps at its compiled 4; 16 kHz bridge, null sound
        device, pjsua polled from one thread) and nothing of tuiphone; it leaks ended Call objects rather
        than delete them (see bare_worker)
Every process is stopped by its PID. See bench/README.md for the last numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.peers.sipflood import SipFlood  # noqa: E402  (a small UDP SIP caller, shared with the tests)

CANCEL_AFTER_S = 0.02
NORMAL_EVERY_S = 2.0
RING_WITHIN_S = 1.0
DAEMON_MAIN = ("from tuiphone.cli import main; from tuiphone.cli.daemon import daemon; "
               "main.add_command(daemon); main()")


# ----- the bare pjsua2 phone (its own process: pjsua is one per process) -----------------------------------
def bare_worker(port: int) -> None:
    import pjsua2 as pj

    class Call(pj.Call):
        def onCallState(self, prm: Any) -> None:
            if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
                ended.append(self)

    class Account(pj.Account):
        def onIncomingCall(self, prm: Any) -> None:
            call = Call(self, prm.callId)
            calls[prm.callId] = call
            op = pj.CallOpParam()
            op.statusCode = 180
            call.answer(op)

    calls: dict[int, Any] = {}
    ended: list[Any] = []
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.maxCalls = 32
    cfg.logConfig.level = 0
    cfg.logConfig.consoleLevel = 0
    cfg.medConfig.clockRate = 16000
    cfg.medConfig.sndClockRate = 16000
    cfg.medConfig.noVad = True
    cfg.medConfig.ecTailLen = 0
    ep.libInit(cfg)
    tc = pj.TransportConfig()
    tc.port, tc.boundAddress = port, "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    ep.audDevManager().setNullDev()
    ep.libStart()
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:bare@127.0.0.1:{port}"
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    acc = Account()
    acc.create(acfg, True)
    print("ready", flush=True)
    while True:
        ep.libHandleEvents(10)
        while ended:
            call = ended.pop()
            if calls.get(call.getId()) is call:
                del calls[call.getId()]
            # pj::Call keeps its id after DISCONNECTED and its destructor would hang up the next call pjsua
            # gave that id (603); leak the C++ object instead, so the bench measures capacity, not that bug
            call.thisown = False


# ----- one trial -----------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(kind: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    log = open(workdir / f"{kind}-{port}.log", "wb")
    if kind == "bare":
        argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "bare", "--port", str(port)]
    else:
        config = workdir / "ours.toml"
        config.write_text("[cti]\nenabled = false\n")
        argv = [sys.executable, "-c", DAEMON_MAIN, "--config", str(config), "--data-dir",
                str(workdir / f"data-{port}"), "--port", str(port), "--bind", "127.0.0.1", "daemon"]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                            env=env, cwd=str(HERE.parent))
    return proc, f"127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen, address: str, timeout: float = 15.0) -> None:
    """Until an INVITE rings (then it is cancelled)."""
    probe = SipFlood(address)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the phone exited at start ({proc.returncode})")
            call = probe.invite()
            probe.pump(0.3)
            if 180 in probe.statuses.get(call, []):
                probe.cancel(call)
                probe.pump(0.3)
                return
        raise RuntimeError(f"the phone on {address} did not ring within {timeout} s")
    finally:
        probe.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(8)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def trial(kind: str, rate: float, seconds: float, workdir: Path) -> dict[str, Any]:
    proc, address = _start(kind, workdir)
    try:
        _wait_ready(proc, address)
        flood, normal = SipFlood(address), SipFlood(address)
        pending: list[tuple[float, str]] = []
        normals: list[tuple[float, str]] = []
        sent = 0
        start = time.monotonic()
        next_normal = start + NORMAL_EVERY_S / 2
        while (now := time.monotonic()) < start + seconds and proc.poll() is None:
            while sent < (now - start) * rate:
                pending.append((now + CANCEL_AFTER_S, flood.invite()))
                sent += 1
            while pending and pending[0][0] <= now:
                flood.cancel(pending.pop(0)[1])
            if now >= next_normal:
                normals.append((now, normal.invite()))
                next_normal += NORMAL_EVERY_S
            for at, call in normals:
                if now - at > RING_WITHIN_S and normal.final(call) is None:
                    normal.cancel(call)
            flood.pump(0)
            normal.pump(0)
            time.sleep(0.001)
        for _, call in pending:
            flood.cancel(call)
        flood.pump(0.5)
        normal.pump(0.5)
        alive = proc.poll() is None
        rang = sum(180 in normal.statuses.get(call, []) for _, call in normals)
        finals = flood.finals()
        flood.close()
        normal.close()
        return {"kind": kind, "rate": rate, "seconds": seconds, "sent": sent, "alive": alive,
                "normal_calls": len(normals), "normal_rang": rang, "flood_finals": finals,
                "normal_statuses": [normal.statuses.get(call, []) for _, call in normals],
                "passed": alive and rang == len(normals) and len(normals) > 0,
                "exit_code": None if alive else proc.returncode}
    finally:
        _stop(proc)


def highest_rate(kind: str, seconds: float, start: float, most: float, workdir: Path,
                 trials: list[dict[str, Any]]) -> float:
    def run(rate: float) -> bool:
        result = trial(kind, rate, seconds, workdir)
        trials.append(result)
        alive = "alive" if result["alive"] else f"died (exit {result['exit_code']})"
        print(f"  {kind:4} {rate:6.0f}/s  {'pass' if result['passed'] else 'FAIL'}  normal calls rang "
              f"{result['normal_rang']}/{result['normal_calls']}, {alive}", file=sys.stderr)
        return result["passed"]

    good, bad, rate = 0.0, None, start
    while rate <= most:
        if not run(rate):
            bad = rate
            break
        good, rate = rate, rate * 2
    if bad is None:
        return good
    for _ in range(2):
        mid = round((good + bad) / 2)
        if mid in (good, bad):
            break
        if run(mid):
            good = mid
        else:
            bad = mid
    return good


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each trial (default 30)")
    ap.add_argument("--start", type=float, default=25.0, help="first rate, INVITEs per second (default 25)")
    ap.add_argument("--max", type=float, default=800.0, help="highest rate tried (default 800)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--only", choices=["ours", "bare"], help="measure one side only")
    ap.add_argument("--worker", choices=["bare"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "bare":
        bare_worker(args.port)
        return 0
    trials: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="flood-") as tmp:
        try:
            ours = bare = 0.0
            if args.only != "bare":
                ours = highest_rate("ours", args.seconds, args.start, args.max, Path(tmp), trials)
            if args.only != "ours":
                bare = highest_rate("bare", args.seconds, args.start, args.max, Path(tmp), trials)
        except RuntimeError as exc:
            print(f"flood: {exc}", file=sys.stderr)
            return 1
    died = {k: [t["rate"] for t in trials if t["kind"] == k and not t["alive"]] for k in ("ours", "bare")}
    ratio = ours / bare if bare else float("inf")
    if args.json:
        print(json.dumps({"ours": ours, "bare": bare, "ratio": ratio, "trials": trials}))
        return 0
    print(f"INVITE+CANCEL flood, {args.seconds:g} s a trial, a normal call every {NORMAL_EVERY_S:g} s must ring")
    print(f"{'':6}{'highest rate, no call lost':>28}{'died at':>16}")
    for kind, rate in (("ours", ours), ("bare", bare)):
        dead = ", ".join(f"{r:g}/s" for r in died[kind]) or "never"
        print(f"{kind:6}{rate:>24.0f} /s{dead:>18}")
    print(f"ours/bare: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
