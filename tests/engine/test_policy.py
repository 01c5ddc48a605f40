"""The incoming-call rules (engine/incoming.py): what a call gets, in the desk phone's order."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuiphone.engine.backend import IncomingInfo
from tuiphone.engine.incoming import IncomingContext, Verdict, decide, is_anonymous, source_host, wants_intercom

SERVER = "192.0.2.10"


def call_from(number: str = "200", *, source: str = f"{SERVER}:5060", request_user: str = "1001",
              headers: dict[str, str] | None = None, uri: str | None = None) -> IncomingInfo:
    return IncomingInfo(remote_uri=uri or f"sip:{number}@{SERVER}", remote_name="", remote_number=number,
                        request_user=request_user, source=source, headers=headers or {})


def context(**changes) -> IncomingContext:
    """An idle account phone with every feature off; `changes` switch some on."""
    base = IncomingContext(
        account_user="1001", contact_user="1001", server_addresses=frozenset({SERVER}),
        accept_only_from_server=False, check_user_id=True, reject_anonymous=False, auto_answer="off",
        dnd=False, call_waiting=True, forward_always="", forward_busy="", forward_no_answer="",
        forward_no_answer_delay=20.0, busy=False, free_line=True, blocked=False,
    )
    return replace(base, **changes)


# ----- plain ringing --------------------------------------------------------------------------------

def test_an_ordinary_call_rings() -> None:
    assert decide(call_from(), context()) == Verdict("ring", reason="ringing")


# ----- ghost calls ----------------------------------------------------------------------------------

def test_invite_from_a_non_server_address_gets_403_as_a_ghost_when_only_the_server_may_call() -> None:
    v = decide(call_from(source="203.0.113.9:5060"), context(accept_only_from_server=True))
    assert (v.action, v.code, v.ghost) == ("reject", 403, True)
    assert "203.0.113.9:5060" in v.reason


def test_invite_from_the_server_rings_when_only_the_server_may_call() -> None:
    assert decide(call_from(), context(accept_only_from_server=True)).action == "ring"


def test_an_ipv6_server_source_is_recognised() -> None:
    ctx = context(accept_only_from_server=True, server_addresses=frozenset({"2001:db8::10"}))
    assert decide(call_from(source="[2001:db8::10]:5060"), ctx).action == "ring"
    assert decide(call_from(source="[2001:db8::11]:5060"), ctx).code == 403


def test_any_source_rings_when_the_check_is_off() -> None:
    assert decide(call_from(source="203.0.113.9:5060"), context()).action == "ring"


def test_invite_for_another_user_gets_404_as_a_ghost() -> None:
    v = decide(call_from(request_user="100"), context())
    assert (v.action, v.code, v.ghost) == ("reject", 404, True)
    assert "'100'" in v.reason


def test_request_user_is_not_checked_when_check_user_id_is_off() -> None:
    assert decide(call_from(request_user="100"), context(check_user_id=False)).action == "ring"


def test_the_registered_contact_user_is_accepted_too() -> None:
    ctx = context(contact_user="ab12cd")
    assert decide(call_from(request_user="ab12cd"), ctx).action == "ring"
    assert decide(call_from(request_user="1001"), ctx).action == "ring"


def test_a_call_that_matched_no_account_must_name_one_of_the_phones_users() -> None:
    # the scanner case of seed 3.4: INVITE sip:100@<phone> while account 1001 (check_user_id) is registered
    ctx = context(account_user=None, contact_user=None, known_users=frozenset({"1001", "alice"}))
    v = decide(call_from(request_user="100"), ctx)
    assert (v.action, v.code, v.ghost) == ("reject", 404, True)
    assert v.reason == "INVITE for user '100', not any account of this phone"
    assert decide(call_from(request_user="alice"), ctx).action == "ring"
    assert decide(call_from(request_user="1001"), ctx).action == "ring"


def test_a_plain_direct_ip_call_has_no_user_and_rings() -> None:
    ctx = context(account_user=None, contact_user=None, known_users=frozenset({"1001"}))
    assert decide(call_from(request_user=""), ctx).action == "ring"       # INVITE sip:192.0.2.7:5062


def test_direct_calls_are_not_checked_when_no_account_checks_user_ids() -> None:
    ctx = context(account_user=None, contact_user=None, check_user_id=False, known_users=frozenset({"1001"}))
    assert decide(call_from(request_user="whoever"), ctx).action == "ring"


def test_a_phone_with_no_account_users_refuses_every_named_user_when_checking() -> None:
    ctx = context(account_user=None, contact_user=None)
    assert decide(call_from(request_user="whoever"), ctx).code == 404


def test_a_request_uri_with_no_user_is_not_a_ghost() -> None:
    assert decide(call_from(request_user=""), context()).action == "ring"


# ----- anonymous callers ----------------------------------------------------------------------------

ANONYMOUS_CALLS = {
    "from anonymous": call_from("anonymous", uri="sip:anonymous@anonymous.invalid"),
    "privacy id": call_from("200", headers={"privacy": "id"}),
    "privacy header;id": call_from("200", headers={"privacy": "header; id"}),
    "Anonymous number": call_from("Anonymous", uri="sip:Anonymous@192.0.2.10"),
}


@pytest.mark.parametrize("info", ANONYMOUS_CALLS.values(), ids=ANONYMOUS_CALLS.keys())
def test_anonymous_callers_get_433_when_rejected(info: IncomingInfo) -> None:
    assert is_anonymous(info)
    v = decide(info, context(reject_anonymous=True))
    assert (v.action, v.code, v.ghost) == ("reject", 433, False)


@pytest.mark.parametrize("info", ANONYMOUS_CALLS.values(), ids=ANONYMOUS_CALLS.keys())
def test_anonymous_callers_ring_when_not_rejected(info: IncomingInfo) -> None:
    assert decide(info, context()).action == "ring"


@pytest.mark.parametrize("privacy", ["none", "header", "user", ""])
def test_callers_showing_their_number_are_not_anonymous(privacy: str) -> None:
    info = call_from("200", headers={"privacy": privacy} if privacy else {})
    assert not is_anonymous(info)
    assert decide(info, context(reject_anonymous=True)).action == "ring"


# ----- blocklist, DND, forwarding, busy ---------------------------------------------------------------

def test_blocked_callers_get_603() -> None:
    v = decide(call_from("19005551234"), context(blocked=True))
    assert (v.action, v.code) == ("reject", 603)
    assert "19005551234" in v.reason


def test_dnd_answers_486() -> None:
    v = decide(call_from(), context(dnd=True))
    assert (v.action, v.code, v.reason) == ("reject", 486, "do not disturb")


@pytest.mark.parametrize("kind", ["forward_always", "forward_busy"])
def test_dnd_with_forwarding_answers_302_to_the_target(kind: str) -> None:
    v = decide(call_from(), context(dnd=True, **{kind: "2000"}))
    assert (v.action, v.code, v.target, v.reason) == ("forward", 302, "2000", "do not disturb: forwarded")


def test_dnd_forwards_to_the_always_target_before_the_busy_one() -> None:
    v = decide(call_from(), context(dnd=True, forward_always="2000", forward_busy="3000"))
    assert v.target == "2000"


def test_forward_always_answers_302() -> None:
    v = decide(call_from(), context(forward_always="2000"))
    assert (v.action, v.code, v.target, v.reason) == ("forward", 302, "2000", "forward always")


def test_forward_always_applies_while_busy_too() -> None:
    v = decide(call_from(), context(forward_always="2000", forward_busy="3000", busy=True, call_waiting=False))
    assert v.target == "2000"


def test_a_second_call_rings_while_busy_with_call_waiting_on() -> None:
    v = decide(call_from(), context(busy=True, call_waiting=True))
    assert v.action == "ring"


def test_a_second_call_gets_486_while_busy_without_call_waiting() -> None:
    v = decide(call_from(), context(busy=True, call_waiting=False))
    assert (v.action, v.code, v.reason) == ("reject", 486, "busy")


def test_a_second_call_is_forwarded_while_busy_without_call_waiting_when_busy_forwarding_is_set() -> None:
    v = decide(call_from(), context(busy=True, call_waiting=False, forward_busy="3000"))
    assert (v.action, v.code, v.target, v.reason) == ("forward", 302, "3000", "busy: forwarded")


def test_no_free_line_gets_486_even_with_call_waiting() -> None:
    v = decide(call_from(), context(busy=True, call_waiting=True, free_line=False))
    assert (v.action, v.code, v.reason) == ("reject", 486, "every line is in use")


def test_no_free_line_is_forwarded_when_busy_forwarding_is_set() -> None:
    v = decide(call_from(), context(busy=True, free_line=False, forward_busy="3000"))
    assert (v.action, v.target) == ("forward", "3000")


def test_busy_forwarding_does_not_apply_to_an_idle_phone() -> None:
    assert decide(call_from(), context(forward_busy="3000")).action == "ring"


# ----- order of the rules ---------------------------------------------------------------------------

def test_the_rules_apply_in_the_desk_phones_order() -> None:
    """Switch every rule on, then off one at a time from the top: each time the next rule decides."""
    info = call_from("anonymous", source="203.0.113.9:5060", request_user="100",
                     uri="sip:anonymous@anonymous.invalid")
    ctx = context(accept_only_from_server=True, reject_anonymous=True, blocked=True, dnd=True,
                  forward_always="2000", busy=True, call_waiting=False, forward_busy="")
    seen = [decide(info, ctx)]
    for change in ({"accept_only_from_server": False}, {"check_user_id": False}, {"reject_anonymous": False},
                   {"blocked": False}, {"dnd": False}, {"forward_always": ""}, {"busy": False}):
        ctx = replace(ctx, **change)
        seen.append(decide(info, ctx))
    assert [(v.action, v.code) for v in seen] == [
        ("reject", 403), ("reject", 404), ("reject", 433), ("reject", 603),
        ("forward", 302), ("forward", 302), ("reject", 486), ("ring", 0),
    ]
    assert [v.reason for v in seen][2:] == [
        "anonymous caller rejected", "anonymous is on the blocklist", "do not disturb: forwarded", "forward always",
        "busy", "ringing",
    ]
    assert [v.ghost for v in seen] == [True, True] + [False] * 6


# ----- auto answer and intercom ---------------------------------------------------------------------

INTERCOM_HEADERS = {
    "Call-Info answer-after=0": {"call-info": "<sip:192.0.2.10>;answer-after=0"},
    "Call-Info spaced": {"call-info": "<sip:192.0.2.10> ; Answer-After = 0"},
    "Alert-Info auto answer": {"alert-info": "<http://127.0.0.1/x>;info=Auto Answer"},
    "Alert-Info alert-autoanswer": {"alert-info": "<http://www.notused.com>;info=alert-autoanswer"},
}


@pytest.mark.parametrize("headers", INTERCOM_HEADERS.values(), ids=INTERCOM_HEADERS.keys())
def test_intercom_calls_are_answered_automatically_in_intercom_mode(headers: dict[str, str]) -> None:
    info = call_from(headers=headers)
    assert wants_intercom(info)
    v = decide(info, context(auto_answer="intercom"))
    assert (v.action, v.auto_answer) == ("ring", True)


@pytest.mark.parametrize("headers", INTERCOM_HEADERS.values(), ids=INTERCOM_HEADERS.keys())
def test_intercom_requests_are_ignored_when_auto_answer_is_off(headers: dict[str, str]) -> None:
    v = decide(call_from(headers=headers), context(auto_answer="off"))
    assert (v.action, v.auto_answer) == ("ring", False)


@pytest.mark.parametrize("headers", [{}, {"call-info": "<sip:192.0.2.10>;answer-after=5"},
                                     {"call-info": "<http://192.0.2.10/photo.jpg>;purpose=icon"},
                                     {"alert-info": "<http://192.0.2.10/ring.wav>"}])
def test_ordinary_calls_ring_in_intercom_mode(headers: dict[str, str]) -> None:
    info = call_from(headers=headers)
    assert not wants_intercom(info)
    assert decide(info, context(auto_answer="intercom")).auto_answer is False


def test_auto_answer_on_answers_every_call() -> None:
    assert decide(call_from(), context(auto_answer="on")).auto_answer is True


def test_auto_answer_never_breaks_into_a_call_in_progress() -> None:
    info = call_from(headers=INTERCOM_HEADERS["Call-Info answer-after=0"])
    assert decide(info, context(auto_answer="on", busy=True)).auto_answer is False
    assert decide(info, context(auto_answer="intercom", busy=True)).auto_answer is False


# ----- forward on no answer -------------------------------------------------------------------------

def test_no_answer_forwarding_rings_first_then_forwards_after_the_delay() -> None:
    v = decide(call_from(), context(forward_no_answer="4000", forward_no_answer_delay=12.0))
    assert (v.action, v.target, v.forward_after, v.auto_answer) == ("ring", "4000", 12.0, False)


def test_an_auto_answered_call_is_not_forwarded_on_no_answer() -> None:
    v = decide(call_from(), context(forward_no_answer="4000", auto_answer="on"))
    assert (v.auto_answer, v.forward_after, v.target) == (True, None, "")


def test_source_host_strips_the_port() -> None:
    assert source_host("192.0.2.1:5060") == "192.0.2.1"
    assert source_host("[2001:db8::1]:5062") == "2001:db8::1"
    assert source_host("2001:db8::1") == "2001:db8::1"
    assert source_host("192.0.2.1") == "192.0.2.1"


# ----- properties -----------------------------------------------------------------------------------

_text = st.text(max_size=40)
_addresses = st.sampled_from(["192.0.2.10", "203.0.113.9", "2001:db8::10", "127.0.0.1"])
_sources = st.one_of(_text, st.builds(lambda h, p: f"{h}:{p}", _addresses, st.integers(0, 65535)),
                     st.builds(lambda h, p: f"[{h}]:{p}", _addresses, st.integers(0, 65535)))
_header_names = st.sampled_from(["call-info", "alert-info", "privacy", "from", "x-other"])
_infos = st.builds(IncomingInfo, remote_uri=_text, remote_name=_text, remote_number=_text,
                   request_user=_text, source=_sources,
                   headers=st.dictionaries(_header_names, _text, max_size=4))
_targets = st.sampled_from(["", "2000", "sip:2000@192.0.2.10"])
_contexts = st.builds(
    IncomingContext,
    account_user=st.one_of(st.none(), _text), contact_user=st.one_of(st.none(), _text),
    server_addresses=st.frozensets(_addresses, max_size=3),
    accept_only_from_server=st.booleans(), check_user_id=st.booleans(), reject_anonymous=st.booleans(),
    auto_answer=st.sampled_from(["off", "on", "intercom"]), dnd=st.booleans(), call_waiting=st.booleans(),
    forward_always=_targets, forward_busy=_targets, forward_no_answer=_targets,
    forward_no_answer_delay=st.floats(1, 120), busy=st.booleans(), free_line=st.booleans(),
    blocked=st.booleans(), known_users=st.frozensets(_text, max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(_infos, _contexts)
def test_any_call_gets_a_consistent_verdict(info: IncomingInfo, ctx: IncomingContext) -> None:
    v = decide(info, ctx)
    if v.action == "ring":
        assert v.code == 0 and not v.ghost
        assert ctx.free_line, "a call rang with no line free"
        assert not (ctx.busy and not ctx.call_waiting), "a second call rang with call waiting off"
        assert not ctx.blocked and not ctx.dnd and not ctx.forward_always
        assert v.auto_answer is False or not ctx.busy
        assert (v.forward_after is not None) == bool(v.target) == bool(ctx.forward_no_answer and not v.auto_answer)
    elif v.action == "forward":
        assert v.code == 302 and v.target and not v.ghost
    else:
        assert v.action == "reject" and v.code in (403, 404, 433, 486, 603)
        assert v.ghost == (v.code in (403, 404))


@settings(max_examples=150, deadline=None)
@given(_infos, _contexts)
def test_ghost_calls_never_ring(info: IncomingInfo, ctx: IncomingContext) -> None:
    ctx = replace(ctx, accept_only_from_server=True)
    v = decide(info, ctx)
    if source_host(info.source) not in ctx.server_addresses:
        assert (v.action, v.code, v.ghost) == ("reject", 403, True)
    if v.action == "ring":
        assert source_host(info.source) in ctx.server_addresses


@settings(max_examples=150, deadline=None)
@given(_infos, _contexts)
def test_a_call_for_a_user_of_no_account_never_rings_when_user_ids_are_checked(info: IncomingInfo,
                                                                              ctx: IncomingContext) -> None:
    ctx = replace(ctx, check_user_id=True)
    mine = {ctx.account_user, ctx.contact_user} if ctx.account_user is not None else set(ctx.known_users)
    v = decide(info, ctx)
    if info.request_user and info.request_user not in mine - {None, ""}:
        assert (v.action, v.ghost) == ("reject", True) and v.code in (403, 404)
