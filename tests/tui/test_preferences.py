"""Preferences › Date & Time (12/24 h, time zone by search) and › Ringtone (ring1–3 or a checked WAV, a sample
plays)."""

from __future__ import annotations

import wave

from tests.tui.conftest import build, screen_text, until
from tuiphone.config import load_config
from tuiphone.screens.datetime_prefs import TimezoneScreen
from tuiphone.screens.idle import IdleScreen
from tuiphone.screens.menu import MenuScreen
from tuiphone.screens.prompt import TextPromptScreen

TIME = """
[phone]
timezone = "UTC"
"""


async def open_preferences(app, pilot, entry: str) -> None:
    await pilot.press("m", "7")
    await until(pilot, lambda: "1. Language" in screen_text(app))
    await pilot.press(entry)


async def test_time_format_switches_to_12_hours_and_the_idle_clock_follows(tmp_path):
    path = tmp_path / "config.toml"
    app, _ = build(TIME, config_path=path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert str(app.screen.query_one("#clock-digits").value) == "09:05"
        await open_preferences(app, pilot, "2")
        await until(pilot, lambda: "Time format: 24-hour" in screen_text(app))
        await pilot.press("1")
        await until(pilot, lambda: "Time format: 12-hour (AM/PM)" in screen_text(app))
        assert load_config(path).phone.time_format == "12h"
        while not isinstance(app.screen, IdleScreen):
            await pilot.press("escape")
        await until(pilot, lambda: str(app.screen.query_one("#clock-digits").value) == "9:05")
        assert "AM" in screen_text(app)


async def test_time_zone_is_found_by_typing_and_saved(tmp_path):
    path = tmp_path / "config.toml"
    app, _ = build(TIME, config_path=path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_preferences(app, pilot, "2")
        await until(pilot, lambda: "Time zone: UTC" in screen_text(app))
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, TimezoneScreen))
        await pilot.press(*"shangh")
        await until(pilot, lambda: app.screen.zones == ["Asia/Shanghai"])
        await pilot.press("enter")
        await until(pilot, lambda: "Time zone: Asia/Shanghai" in screen_text(app))
        assert load_config(path).phone.timezone == "Asia/Shanghai"
        while not isinstance(app.screen, IdleScreen):
            await pilot.press("escape")
        await until(pilot, lambda: str(app.screen.query_one("#clock-digits").value) == "17:05")


async def test_time_zone_search_that_matches_nothing_says_so():
    app, _ = build(TIME)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(TimezoneScreen())
        await until(pilot, lambda: isinstance(app.screen, TimezoneScreen))
        await pilot.press(*"atlantis")
        await until(pilot, lambda: "No time zone matches" in screen_text(app))


async def test_ringtone_per_account_is_saved_and_a_sample_rings(tmp_path):
    path = tmp_path / "config.toml"
    app, phone = build(config_path=path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_preferences(app, pilot, "3")
        await until(pilot, lambda: "Home: ring1" in screen_text(app))
        await pilot.press("2")
        await until(pilot, lambda: "● ring1" in screen_text(app))
        await pilot.press("3")
        await until(pilot, lambda: "● ring3" in screen_text(app))
        assert ("start_ring", "ring3") in phone.commands
        assert load_config(path).accounts[1].ringtone == "ring3"
        assert load_config(path).accounts[0].ringtone == "ring1"


def write_wav(path, frames: bytes) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)


async def test_custom_wav_ringtone_is_checked_before_it_is_kept(tmp_path):
    path = tmp_path / "config.toml"
    good = tmp_path / "bell.wav"
    write_wav(good, b"\x00\x10" * 8000)
    app, phone = build(config_path=path)
    async with app.run_test(size=(100, 24)) as pilot:
        await open_preferences(app, pilot, "3")
        await pilot.press("1")
        await until(pilot, lambda: "Sound file: …" in screen_text(app))
        await pilot.press("4")
        await until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        app.screen.query_one("#prompt-input").value = str(tmp_path / "missing.wav")
        await pilot.press("enter")
        await until(pilot, lambda: "This file cannot ring" in screen_text(app))
        app.screen.query_one("#prompt-input").value = str(tmp_path / "notes.txt")
        await pilot.press("enter")
        await until(pilot, lambda: "must be a .wav file" in screen_text(app))
        app.screen.query_one("#prompt-input").value = str(good)
        await pilot.press("enter")
        await until(pilot, lambda: "● Sound file: bell.wav" in screen_text(app))
        assert load_config(path).accounts[0].ringtone == str(good)
        assert ("start_ring", str(good)) in phone.commands


async def test_ringtone_without_a_sound_device_is_saved_and_says_no_sample_plays():
    app, phone = build()
    phone.local_audio = None
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_preferences(app, pilot, "3")
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, MenuScreen) and "● ring1" in screen_text(app))
        await pilot.press("2")
        await until(pilot, lambda: "no sample can play" in screen_text(app))
        assert app.config.accounts[0].ringtone == "ring2"
