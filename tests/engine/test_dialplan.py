"""Dial plan (SPEC §9, seed 3.15): the seed's examples, the default plan, errors, and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuiphone.engine.dialplan import DEFAULT_PLAN, DialPlan, DialPlanError, Verdict

SEED_1 = "{[369]11 | 1617xxxxxxx}"
SEED_2 = "{^1900x+ | <=1617>xxxxxxx}"


# --- the seed's examples ---------------------------------------------------------------------


@pytest.mark.parametrize("number", ["311", "611", "911"])
def test_seed_example_one_allows_service_codes(number: str) -> None:
    assert DialPlan.parse(SEED_1).allow(number)


@pytest.mark.parametrize("number", ["411", "11", "9111", "1617123456", "161712345678", "2617123456"])
def test_seed_example_one_allows_nothing_else(number: str) -> None:
    assert not DialPlan.parse(SEED_1).allow(number)


def test_seed_example_one_allows_1617_and_seven_digits() -> None:
    verdict = DialPlan.parse(SEED_1).check("16171234567")
    assert verdict == Verdict(
        True, False, "16171234567", "1617xxxxxxx",
        "16171234567 is allowed by the dial plan rule 1617xxxxxxx",
    )


def test_seed_example_two_blocks_1900_and_names_the_rule() -> None:
    verdict = DialPlan.parse(SEED_2).check("1900555")
    assert (verdict.allowed, verdict.blocked, verdict.number) == (False, True, "1900555")
    assert verdict.rule == "^1900x+"
    assert verdict.reason == "1900555 is blocked by the dial plan rule ^1900x+"


def test_seed_example_two_adds_1617_to_seven_digit_numbers() -> None:
    verdict = DialPlan.parse(SEED_2).check("5551234")
    assert verdict.allowed and verdict.number == "16175551234"
    assert verdict.rule == "<=1617>xxxxxxx"


# --- the default plan (SPEC §5) --------------------------------------------------------------


@pytest.mark.parametrize("number", ["*72", "*7212345", "*72*100", "+4930123", "12345", "*0"])
def test_default_plan_allows_numbers_codes_and_plus(number: str) -> None:
    verdict = DialPlan.parse(DEFAULT_PLAN).check(number)
    assert verdict.allowed and verdict.number == number


@pytest.mark.parametrize("number", ["", "*", "+", "#", "12#", "*72*", "1+2"])
def test_default_plan_refuses_fragments(number: str) -> None:
    assert not DialPlan.parse(DEFAULT_PLAN).allow(number)


def test_default_plan_text_is_the_spec_default() -> None:
    assert DEFAULT_PLAN == "{ x+ | \\+x+ | *x+ | *xx*x+ }"


# --- syntax ----------------------------------------------------------------------------------


def test_range_class_allows_only_its_digits() -> None:
    plan = DialPlan.parse("{[3-5]00}")
    assert [plan.allow(n) for n in ("200", "300", "400", "500", "600")] == [False, True, True, True, False]


def test_class_followed_by_plus_repeats_it() -> None:
    plan = DialPlan.parse("{ [x#]+ }")
    assert plan.allow("12#3#") and plan.allow("#") and not plan.allow("12*")


def test_strip_replacement_removes_leading_digits() -> None:
    assert DialPlan.parse("{<1617=>xxxxxxx}").check("16175551234").number == "5551234"


def test_replacement_swaps_leading_digit() -> None:
    plan = DialPlan.parse("{1xxx[2-9]xxxxxx | <2=011>x+}")
    assert plan.check("24930123").number == "0114930123"
    assert plan.check("16172345678").number == "16172345678"


def test_replacement_to_plus_sign() -> None:
    assert DialPlan.parse("{<00=+>x+}").check("004930123").number == "+4930123"


def test_prefix_is_added_after_the_transformation() -> None:
    verdict = DialPlan.parse("{<1617=>xxxxxxx | x+}").check("16175551234", prefix="9")
    assert verdict.number == "95551234"
    assert verdict.reason.endswith("and dialed as 95551234")


def test_prefix_is_not_added_to_a_refused_number() -> None:
    verdict = DialPlan.parse(SEED_2).check("1900555", prefix="9")
    assert verdict.number == "1900555"


def test_refused_number_says_so() -> None:
    verdict = DialPlan.parse(SEED_1).check("5")
    assert verdict == Verdict(False, False, "5", None, "5 is not allowed by the dial plan")


def test_blocking_rule_wins_wherever_it_stands() -> None:
    verdict = DialPlan.parse("{ x+ | ^911 }").check("911")
    assert verdict.blocked and verdict.reason == "911 is blocked by the dial plan rule ^911"
    assert DialPlan.parse("{ x+ | ^911 }").allow("912")


def test_first_allowing_rule_decides_the_transformation() -> None:
    verdict = DialPlan.parse("{ <=9>xxx | <=8>x+ }").check("123")
    assert (verdict.number, verdict.rule) == ("9123", "<=9>xxx")


def test_dot_repeats_like_plus_one_or_more() -> None:
    plan = DialPlan.parse("{ xx. }")
    assert not plan.allow("1") and plan.allow("12") and plan.allow("123456")


def test_whitespace_inside_the_plan_is_ignored() -> None:
    plan = DialPlan.parse(" {\t1617 xxx xxxx |\n [ 3 - 5 ] 1 1 } ")
    assert plan.allow("16171234567") and plan.allow("411")
    assert plan.check("411").rule == "[ 3 - 5 ] 1 1"


def test_letters_match_in_either_case() -> None:
    plan = DialPlan.parse("{ a1x | \\+Dx+ }")
    assert plan.allow("A15") and plan.allow("a15") and plan.allow("+d9") and not plan.allow("B15")


def test_escaped_plus_is_a_literal_plus() -> None:
    plan = DialPlan.parse("{ \\+49x+ }")
    assert plan.allow("+4930") and not plan.allow("4930")


def test_parsed_plans_are_shared() -> None:
    assert DialPlan.parse(SEED_1) is DialPlan.parse(SEED_1)


# --- while dialing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "partial", "state"),
    [
        (SEED_1, "91", "incomplete"),
        (SEED_1, "911", "complete"),
        (SEED_1, "912", "invalid"),
        (SEED_1, "1617123", "incomplete"),
        (SEED_1, "16171234567", "complete"),
        (SEED_1, "", "incomplete"),
        ("{x+}", "123", "incomplete"),
        ("{x+}", "12*", "invalid"),
        ("{^1900x+ | x+}", "19005", "invalid"),
        ("{x+ | ^xxxx+}", "123", "complete"),
        (DEFAULT_PLAN, "*72*", "incomplete"),
    ],
)
def test_dialing_state(plan: str, partial: str, state: str) -> None:
    assert DialPlan.parse(plan).state(partial) == state


# --- bad plans -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("{ 12[34 }", 5, "unclosed '['"),
        ("{<=1617 xxxxxxx}", 2, "unclosed '<'"),
        ("{<1x=2>}", 4, "'x' inside '<...>'"),
        ("{[1q]}", 4, "unknown character 'q'"),
        ("{x+}}", 5, "unexpected '}'"),
        ("{}", 2, "no rules"),
        ("{ x+ | }", 8, "empty rule"),
        ("{x+q}", 4, "unknown character 'q'"),
        ("x+}", 1, "missing '{'"),
        ("{x+", 4, "missing '}'"),
        ("", 1, "empty"),
        ("{+1}", 2, "nothing to repeat"),
        ("{[5-3]}", 4, "runs backwards"),
        ("{<12>}", 2, "missing '='"),
        ("{1^2}", 3, "'^'"),
    ],
)
def test_bad_plan_names_column_and_reason(text: str, column: int, reason: str) -> None:
    with pytest.raises(DialPlanError) as caught:
        DialPlan.parse(text)
    assert caught.value.column == column
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"dial plan: column {column}: ")
    assert isinstance(caught.value, ValueError)


# --- properties ------------------------------------------------------------------------------

PLAN_CHARS = "{}|^[]<>=+.xX\\-0123456789*#ABCDabcd q"
NUMBER_CHARS = "0123456789*#+ABCDab"


@settings(deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=PLAN_CHARS, max_size=30)))
def test_any_text_parses_or_raises_dial_plan_error(text: str) -> None:
    try:
        plan = DialPlan.parse(text)
    except DialPlanError as error:
        assert 1 <= error.column <= len(text) + 1
    else:
        assert plan.rules


# A rule as data: (blocking, [(kind, payload, repeat)]), rendered both as plan text and as a
# reference regex written here independently of the parser.
_LITERAL = st.sampled_from("0123456789*#ABCD")
_ELEMENT = st.one_of(
    st.tuples(st.just("lit"), _LITERAL, st.sampled_from(["", "+", "."])),
    st.tuples(st.just("any"), st.just(""), st.sampled_from(["", "+", "."])),
    st.tuples(st.just("plus"), st.just(""), st.sampled_from(["", "+"])),
    st.tuples(st.just("class"), st.text(alphabet="0123456789*#", min_size=1, max_size=4), st.sampled_from(["", "+"])),
    st.tuples(
        st.just("repl"),
        st.tuples(st.text(alphabet="0123456789", max_size=3), st.text(alphabet="0123456789", max_size=3)).filter(
            lambda ab: ab != ("", "")
        ),
        st.just(""),
    ),
)
_RULE = st.tuples(st.booleans(), st.lists(_ELEMENT, min_size=1, max_size=5))
_PLAN = st.lists(_RULE, min_size=1, max_size=4)


def _render(rules: list) -> str:
    texts = []
    for blocking, elements in rules:
        text = "^" if blocking else ""
        for kind, payload, repeat in elements:
            shown = {"lit": payload, "any": "x", "plus": "\\+", "class": f"[{payload}]"}.get(kind)
            text += f"<{payload[0]}={payload[1]}>" if kind == "repl" else shown + repeat
        texts.append(text)
    return "{ " + " | ".join(texts) + " }"


def _reference(elements: list) -> tuple[str, str]:
    """The rule as a regex with every element in a group, and the template that dials it."""
    pattern, template = "", ""
    for n, (kind, payload, repeat) in enumerate(elements, start=1):
        quant = "+" if repeat else ""
        if kind == "repl":
            pattern += f"({payload[0]})"
            template += payload[1]
            continue
        body = {"lit": re.escape(payload), "any": "[0-9]", "plus": r"\+",
                "class": "[" + re.escape(payload) + "]"}[kind]
        pattern += f"((?:{body}){quant})"
        template += f"\\g<{n}>"
    return pattern, template


def _expected(rules: list, number: str) -> str | None:
    refs = []
    for blocking, elements in rules:
        pattern, template = _reference(elements)
        refs.append((blocking, re.compile(pattern, re.IGNORECASE), template))
    if any(blocking and ref.fullmatch(number) for blocking, ref, _ in refs):
        return None
    for blocking, ref, template in refs:
        match = None if blocking else ref.fullmatch(number)
        if match:
            return match.expand(template)
    return None


def _numbers(rules: list) -> st.SearchStrategy[str]:
    made = [st.from_regex(_reference(elements)[0], fullmatch=True) for _, elements in rules]
    return st.one_of(st.text(alphabet=NUMBER_CHARS, max_size=12), *made)


@settings(deadline=None, max_examples=150)
@given(st.data(), _PLAN)
def test_check_agrees_with_reference_regex(data: st.DataObject, rules: list) -> None:
    plan = DialPlan.parse(_render(rules))
    number = data.draw(_numbers(rules))
    verdict = plan.check(number, prefix="7")
    expected = _expected(rules, number)
    assert verdict.allowed == (expected is not None)
    assert verdict.number == ("7" + expected if expected is not None else number)
    assert plan.allow(number) == verdict.allowed


@settings(deadline=None, max_examples=150)
@given(st.data(), _PLAN)
def test_state_agrees_with_allow(data: st.DataObject, rules: list) -> None:
    plan = DialPlan.parse(_render(rules))
    number = data.draw(_numbers(rules))
    cut = data.draw(st.integers(0, len(number)))
    partial, rest = number[:cut], number[cut:]
    state = plan.state(partial)
    if state == "complete":
        assert plan.allow(partial)
    if plan.allow(partial):
        assert state != "invalid"
    if state == "invalid" or (state == "complete" and rest):
        assert not plan.allow(partial + rest)
