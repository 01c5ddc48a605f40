"""The local blocklist (engine/blocklist.py): exact numbers and dial-plan-style patterns (seed 3.1)."""

from __future__ import annotations

import pytest

from tuiphone.engine.blocklist import Blocklist, BlocklistError


def test_an_exact_number_blocks_only_that_number() -> None:
    b = Blocklist(["5551234"])
    assert b.matches("5551234") == "5551234"
    assert b.matches("55512345") is None
    assert b.matches("555123") is None


@pytest.mark.parametrize(("number", "blocked"), [("19001", True), ("19005551234", True), ("1900", False),
                                                 ("2900123", False), ("01900123", False)])
def test_a_pattern_blocks_the_numbers_it_matches(number: str, blocked: bool) -> None:
    assert (Blocklist(["1900x+"]).matches(number) == "1900x+") is blocked


def test_classes_and_alternatives_work_like_the_dial_plan() -> None:
    b = Blocklist(["[2-3]xx", "800xxxxxxx"])
    assert b.matches("250") == "[2-3]xx"
    assert b.matches("450") is None
    assert b.matches("8001234567") == "800xxxxxxx"


def test_the_first_matching_entry_is_reported() -> None:
    assert Blocklist(["1900x+", "19005551234"]).matches("19005551234") == "1900x+"


def test_anonymous_can_be_blocked() -> None:
    assert Blocklist(["anonymous"]).matches("anonymous") == "anonymous"


def test_an_empty_caller_number_matches_no_pattern() -> None:
    assert Blocklist(["x+", "1900x+"]).matches("") is None


def test_add_and_remove_report_whether_anything_changed_and_tell_the_owner() -> None:
    saved: list[list[str]] = []
    b = Blocklist(["100"], on_change=saved.append)
    assert saved == []                        # loading the stored entries is not a change
    assert b.add(" 200 ") is True
    assert b.add("200") is False
    assert b.remove("100") is True
    assert b.remove("100") is False
    assert b.entries == ["200"]
    assert saved == [["100", "200"], ["200"]]
    assert b.matches("100") is None


def test_removing_a_pattern_stops_it_matching() -> None:
    b = Blocklist(["1900x+"])
    b.remove("1900x+")
    assert b.matches("19001") is None


@pytest.mark.parametrize(("entry", "message"), [("", "empty entry"), ("   ", "empty entry"),
                                                ("19[00", "not a valid pattern"),
                                                ("555 1234", "not a number")])
def test_bad_entries_are_refused_with_a_sentence(entry: str, message: str) -> None:
    b = Blocklist()
    with pytest.raises(BlocklistError, match=message):
        b.add(entry)
    assert b.entries == []


def test_an_international_number_with_a_plus_can_be_blocked() -> None:
    b = Blocklist()
    b.add("+4930123456")
    assert b.matches("+4930123456") == "+4930123456"


def test_a_sip_address_can_be_blocked() -> None:
    b = Blocklist()
    b.add("spam@sip.example.com")
    assert b.entries == ["spam@sip.example.com"]


def test_a_caller_with_a_name_for_a_user_can_be_blocked() -> None:
    b = Blocklist()
    b.add("sipp")
    assert b.matches("sipp") == "sipp"


def test_a_caret_entry_is_refused_or_blocks_what_it_names() -> None:
    b = Blocklist()
    try:
        b.add("^1900x+")
    except BlocklistError:
        return
    assert b.matches("19005551234") is not None
