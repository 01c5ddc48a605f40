"""Feature codes (engine/star_codes.py) and the feature state they change (engine/featurestate.py)."""

from __future__ import annotations

import logging

import pytest

from tuiphone.config import Config
from tuiphone.engine.events import FeaturesChanged
from tuiphone.engine.featurestate import FeatureError, FeatureState
from tuiphone.engine.star_codes import CODES, FeatureCode, FeatureCodeError, parse_feature_code

# every code of SPEC §3 (2.9-2.10, 3.1, 3.2, 3.6-3.8, 3.16) and issue 5, with what it means
EXPECTED_CODES = {
    "*72": ("forward_always_on", True), "*73": ("forward_always_off", False),
    "*90": ("forward_busy_on", True), "*91": ("forward_busy_off", False),
    "*92": ("forward_no_answer_on", True), "*93": ("forward_no_answer_off", False),
    "*78": ("dnd_on", False), "*79": ("dnd_off", False),
    "*50": ("call_waiting_off", False), "*51": ("call_waiting_on", False),
    "*30": ("anonymous_on", False), "*31": ("anonymous_off", False),
    "*67": ("anonymous_once", True),
    "*40": ("block", True), "*41": ("unblock", True),
}


def test_every_feature_code_of_the_spec_is_known() -> None:
    assert CODES == EXPECTED_CODES


@pytest.mark.parametrize("code", [c for c, (_, arg) in EXPECTED_CODES.items() if not arg])
def test_codes_without_an_argument_parse_alone(code: str) -> None:
    assert parse_feature_code(code) == FeatureCode(EXPECTED_CODES[code][0], code, "")
    assert parse_feature_code(f"  {code} ") == FeatureCode(EXPECTED_CODES[code][0], code, "")


@pytest.mark.parametrize("code", [c for c, (_, arg) in EXPECTED_CODES.items() if arg])
@pytest.mark.parametrize("between", ["", "*", "#", " "])
def test_codes_with_an_argument_take_the_number_after_them(code: str, between: str) -> None:
    assert parse_feature_code(f"{code}{between}2000") == FeatureCode(EXPECTED_CODES[code][0], code, "2000")


@pytest.mark.parametrize("code", [c for c, (_, arg) in EXPECTED_CODES.items() if arg])
def test_codes_that_need_a_number_say_so_when_it_is_missing(code: str) -> None:
    with pytest.raises(FeatureCodeError) as err:
        parse_feature_code(code)
    assert str(err.value) == f"{code} needs a number after it, like {code}100."
    with pytest.raises(FeatureCodeError):
        parse_feature_code(code + "#")


def test_block_and_forward_codes_keep_patterns_and_uris() -> None:
    assert parse_feature_code("*401900x+").argument == "1900x+"
    assert parse_feature_code("*72sip:2000@192.0.2.10").argument == "sip:2000@192.0.2.10"


@pytest.mark.parametrize("dialed", ["100", "*43", "*97", "*9", "*", "", "#72", "*7812", "*5012", "**72"])
def test_other_numbers_are_not_feature_codes(dialed: str) -> None:
    assert parse_feature_code(dialed) is None


# ----- FeatureState ---------------------------------------------------------------------------------

class Recorder:
    """The phone's side of FeatureState: emitted events and saved configs."""

    def __init__(self, *, accounts: int = 2, save_fails: bool = False) -> None:
        self.config = Config.model_validate({"accounts": [
            {"sip_server": f"192.0.2.{10 + i}", "user_id": f"100{i + 1}"} for i in range(accounts)]})
        self.events: list[FeaturesChanged] = []
        self.saved: list[dict] = []
        self.save_fails = save_fails
        self.state = FeatureState(self.config, self.events.append, self.save)

    def save(self, config: Config) -> None:
        if self.save_fails:
            raise OSError(28, "No space left on device")
        self.saved.append(config.model_dump())


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def apply(rec: Recorder, dialed: str, account: int | None = 0) -> str:
    code = parse_feature_code(dialed)
    assert code is not None
    return rec.state.apply(code, account)


@pytest.mark.parametrize(("on", "off", "key"), [("*72", "*73", "forward_always"), ("*90", "*91", "forward_busy"),
                                                ("*92", "*93", "forward_no_answer")])
def test_forward_codes_set_and_clear_the_target_in_the_config_and_save_it(rec: Recorder, on: str, off: str,
                                                                         key: str) -> None:
    label = key.removeprefix("forward_").replace("_", " ")
    assert apply(rec, f"{on}2000") == f"Forward {label} to 2000."
    assert getattr(rec.config.features, key) == "2000"
    assert rec.saved[-1]["features"][key] == "2000"
    assert getattr(rec.events[-1], key) == "2000"
    assert apply(rec, off) == f"Forward {label} is off."
    assert getattr(rec.config.features, key) == ""
    assert rec.saved[-1]["features"][key] == ""
    assert getattr(rec.events[-1], key) == ""
    assert len(rec.saved) == len(rec.events) == 2


def test_dnd_codes_turn_do_not_disturb_on_and_off(rec: Recorder) -> None:
    assert apply(rec, "*78") == "Do not disturb is on."
    assert rec.config.features.dnd is True and rec.saved[-1]["features"]["dnd"] is True
    assert rec.events[-1].dnd is True
    assert apply(rec, "*79") == "Do not disturb is off."
    assert rec.config.features.dnd is False and rec.saved[-1]["features"]["dnd"] is False
    assert rec.events[-1].dnd is False


def test_call_waiting_codes_turn_it_off_and_on(rec: Recorder) -> None:
    assert apply(rec, "*50") == "Call waiting is off."
    assert rec.config.features.call_waiting is False and rec.saved[-1]["features"]["call_waiting"] is False
    assert rec.events[-1].call_waiting is False
    assert apply(rec, "*51") == "Call waiting is on."
    assert rec.events[-1].call_waiting is True and rec.saved[-1]["features"]["call_waiting"] is True


def test_anonymous_codes_change_only_the_account_they_were_dialed_on(rec: Recorder) -> None:
    assert apply(rec, "*30", account=1) == "Account 2: anonymous calls on."
    assert [a.anonymous for a in rec.config.accounts] == [False, True]
    assert [a["anonymous"] for a in rec.saved[-1]["accounts"]] == [False, True]
    assert rec.events[-1].anonymous == (False, True)
    assert apply(rec, "*31", account=1) == "Account 2: anonymous calls off."
    assert rec.events[-1].anonymous == (False, False)


def test_anonymous_codes_need_an_account() -> None:
    rec = Recorder(accounts=0)
    with pytest.raises(FeatureError, match="configure an account first"):
        apply(rec, "*30", account=None)
    assert rec.events == [] and rec.saved == []


def test_anonymous_for_one_call_is_not_a_setting(rec: Recorder) -> None:
    with pytest.raises(FeatureError, match=r"\*67"):
        apply(rec, "*672000")
    assert rec.events == [] and rec.saved == []


def test_block_codes_add_and_remove_blocklist_entries(rec: Recorder) -> None:
    assert apply(rec, "*4019005551234") == "19005551234 is blocked."
    assert apply(rec, "*401900x+") == "1900x+ is blocked."
    assert rec.events[-1].blocklist == ("19005551234", "1900x+")
    assert apply(rec, "*401900x+") == "1900x+ was already blocked."
    assert apply(rec, "*4119005551234") == "19005551234 is no longer blocked."
    assert rec.events[-1].blocklist == ("1900x+",)
    assert apply(rec, "*41555") == "555 was not on the blocklist."
    assert rec.state.blocklist.entries == ["1900x+"]


def test_a_bad_blocklist_entry_is_a_sentence_for_the_user(rec: Recorder) -> None:
    with pytest.raises(FeatureError, match=r"not a valid pattern"):
        rec.state.block("19[00")
    assert rec.state.blocklist.entries == []


def test_unknown_forwarding_kind_is_refused(rec: Recorder) -> None:
    with pytest.raises(FeatureError, match="use always, busy or no_answer"):
        rec.state.set_forward("sometimes", "2000")
    assert rec.saved == [] and rec.events == []


def test_anonymous_for_a_missing_account_is_refused(rec: Recorder) -> None:
    with pytest.raises(FeatureError, match="no account 3"):
        rec.state.set_anonymous(2, True)


def test_a_forward_target_with_spaces_is_refused_with_a_sentence(rec: Recorder) -> None:
    with pytest.raises(FeatureError, match="2000 100"):
        rec.state.set_forward("always", "2000 100")
    assert rec.config.features.forward_always == ""


def test_a_config_that_cannot_be_saved_still_changes_the_feature_and_says_why(caplog) -> None:
    rec = Recorder(save_fails=True)
    with caplog.at_level(logging.WARNING, logger="tuiphone.engine.featurestate"):
        assert rec.state.set_dnd(True) == "Do not disturb is on."
    assert rec.config.features.dnd is True and rec.events[-1].dnd is True
    assert "could not save the config" in caplog.text and "No space left" in caplog.text


def test_snapshot_reports_every_feature(rec: Recorder) -> None:
    rec.state.set_dnd(True)
    rec.state.set_forward("busy", "3000")
    rec.state.set_call_waiting(False)
    rec.state.set_anonymous(0, True)
    rec.state.block("1900x+")
    assert rec.state.snapshot() == FeaturesChanged(dnd=True, call_waiting=False, forward_always="",
                                                   forward_busy="3000", forward_no_answer="",
                                                   anonymous=(True, False), blocklist=("1900x+",))
