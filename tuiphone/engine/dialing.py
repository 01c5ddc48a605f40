"""Dialing: what the user dialed -> (account, SIP URI), and placing the call on a free line.

The chain (echo test, direct IP, SIP URI, then a number through an account's dial plan) is one here: the
Phone's `resolve_target` and the dialer's preview (screens/dialer.py) both ask this module.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from tuiphone.engine.backend import CallMedia
from tuiphone.engine.dialplan import DialPlan, Verdict
from tuiphone.engine.directip import (
    DirectIpError,
    is_direct_ip,
    keypad_to_uri,
    normalize_target,
)
from tuiphone.engine.featurestate import FeatureError
from tuiphone.engine.incoming import ECHO_CODE, ECHO_USER
from tuiphone.engine.lines import Line
from tuiphone.engine.phone_error import PhoneError
from tuiphone.engine.phone_part import PhonePart
from tuiphone.engine.sipuri import split_name_uri
from tuiphone.engine.star_codes import FeatureCode, FeatureCodeError, parse_feature_code

if TYPE_CHECKING:
    from tuiphone.config import AccountConfig, Config

ANONYMOUS_FROM = '"Anonymous" <sip:anonymous@anonymous.invalid>'


def default_account(config: Config) -> int | None:
    """The account a number is dialed through when none is named: the first enabled one with a SIP server."""
    for i, acc in enumerate(config.accounts):
        if acc.enabled and acc.sip_server:
            return i
    return None


def direct_ip_uri(text: str) -> str | None:
    """A typed IP address (192*168*1*60#5062 or 192.168.1.60:5062) -> its SIP URI; None when `text` is not
    one. Raises DirectIpError for an address that cannot be."""
    return keypad_to_uri(text) if is_direct_ip(text) else None


def account_plan(acc: AccountConfig) -> DialPlan:
    """The account's dial plan; raises DialPlanError when it does not parse."""
    return DialPlan.parse(acc.dial_plan)


def check_number(plan: DialPlan, number: str, acc: AccountConfig) -> Verdict:
    """What the account's dial plan makes of `number` (with the account's prefix)."""
    return plan.check(number, acc.dial_plan_prefix)


def resolve_target(target: str, account: int | None, config: Config, plans: Mapping[int, DialPlan],
                   accounts_in_stack: Collection[int], local_address: str) -> tuple[int | None, str]:
    """Turn what the user dialed into (account or None for direct, SIP URI). Raises PhoneError."""
    text = target.strip()
    if not text:
        raise PhoneError("Nothing to dial: enter a number, a SIP URI or an IP address.", "failed")
    if account is not None and not 0 <= account < len(config.accounts):
        raise PhoneError(f"There is no account {account + 1}: the config has "
                         f"{len(config.accounts)}.", "failed")
    if text == ECHO_CODE:
        return None, f"sip:{ECHO_USER}@{local_address}"
    try:
        direct = direct_ip_uri(text)
        if direct is not None:
            return None, direct
        if text.lower().startswith(("sip:", "sips:")) or "@" in text:
            uri = normalize_target(text, default_domain=None)
            return (account if account is not None and account in accounts_in_stack else None), uri
    except DirectIpError as exc:
        raise PhoneError(str(exc), "failed") from None
    index = account if account is not None else default_account(config)
    if index is None:
        raise PhoneError(f"{text} is a number, but no account is configured to dial it through: "
                         "give a SIP URI or a direct IP (like 192*168*1*60#5062).", "failed")
    acc = config.accounts[index]
    if not acc.enabled:
        raise PhoneError(f"Account {index + 1} is disabled: set accounts[{index}].enabled = true.", "failed")
    if not acc.sip_server:
        raise PhoneError(f"Account {index + 1} has no SIP server: set accounts[{index}].sip_server.", "failed")
    plan = plans.get(index)
    if plan is None:
        raise PhoneError(f"Account {index + 1} has an invalid dial plan: fix accounts[{index}].dial_plan.",
                         "blocked_by_dial_plan")
    verdict = check_number(plan, text, acc)
    if not verdict.allowed:
        raise PhoneError(verdict.reason, "blocked_by_dial_plan")
    return index, server_uri(verdict.number, acc)


def server_uri(number: str, acc: AccountConfig) -> str:
    """A number (or code) to call through the account's SIP server, with its transport. Raises PhoneError."""
    try:
        uri = normalize_target(number, default_domain=acc.sip_server)
    except DirectIpError as exc:
        raise PhoneError(str(exc), "failed") from None
    if acc.transport != "udp":
        uri += f";transport={acc.transport}"
    return uri


class Dialing(PhonePart):
    """Placing calls: feature codes the phone carries out itself, then the INVITE on a free line."""

    def resolve(self, target: str, account: int | None) -> tuple[int | None, str]:
        p = self.phone
        return resolve_target(target, account, p.config, p.registration.plans, p.registration.regs,
                              p.backend.local_address())

    def call(self, target: str, account: int | None, media: CallMedia | None,
             headers: dict[str, str] | None) -> Future[Any]:
        p = self.phone

        def job() -> int | None:
            dialed, anonymous_once = target.strip(), False
            code = self._local_feature(dialed, account)
            if code is not None:
                if code.name != "anonymous_once":
                    try:
                        p._notice(p.features.apply(code, account if account is not None
                                                   else default_account(p.config)))
                    except FeatureError as exc:
                        raise PhoneError(str(exc), "failed") from None
                    return None
                dialed, anonymous_once = code.argument, True
            acc, uri = self.resolve(dialed, account)
            return self.place_call(acc, uri, target, media, headers, anonymous_once)
        return p.backend.submit(job)

    def place_call(self, acc: int | None, uri: str, dialed: str, media: CallMedia | None,
                   headers: dict[str, str] | None, anonymous_once: bool = False) -> int:
        """Send the INVITE for a resolved target on a free line (SIP thread); the line number."""
        p, table = self.phone, self.phone.line_table
        number = table.free()
        if number is None:
            raise PhoneError(f"All {table.max_lines} lines are busy: end a call first.", "failed")
        m = media or CallMedia()
        hdrs, from_uri = dict(headers or {}), ""
        if anonymous_once or (acc is not None and p.config.accounts[acc].anonymous):
            hdrs["Privacy"] = "id"
            from_uri = ANONYMOUS_FROM
        try:
            cid = p.backend.make_call(acc, uri, hdrs, m, from_uri)
        except ValueError as exc:
            raise PhoneError(str(exc), "failed") from None
        p._end_stale(cid)
        table.hold_others(None)     # only once the new call exists: a refused call leaves the talk alone
        _, _, user = split_name_uri(uri)
        line = Line(number=number, cid=cid, direction="out", account=acc, remote_uri=uri,
                    remote_number=user or dialed, media=m)
        table.add(line)
        p._emit(line.snapshot())
        table.call_started(line)
        return number

    def _local_feature(self, dialed: str, account: int | None) -> FeatureCode | None:
        config = self.phone.config
        index = account if account is not None else default_account(config)
        if index is not None and not config.accounts[index].local_call_features:
            return None    # the server handles star codes for this account
        try:
            return parse_feature_code(dialed)
        except FeatureCodeError as exc:
            raise PhoneError(str(exc), "failed") from None
