"""Settings › Audio: the meters follow the real LocalAudio at 10 Hz, the test tone and the loopback come out of
the speaker and stop when the screen closes, the echo test calls *43, the counters show, and a chosen device is
used at once and kept in the config. The phone is the fake one; its sound is a real LocalAudio on WAV-file devices
(or PulseAudio)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from textual.notifications import Notify

from tests.audio.pulse import PulseServer, pulse  # noqa: F401  (the fixture)
from tests.tui.conftest import build, screen_text, until
from tuiphone.audio.analysis import has_tone
from tuiphone.audio.local import LocalAudio
from tuiphone.audio.sources import sine
from tuiphone.audio.wav import read_wav, write_wav
from tuiphone.screens.audio_test import AudioTestScreen
from tuiphone.screens.call import CallScreen
from tuiphone.screens.idle import IdleScreen

RATE = 16000


@pytest.fixture
def speaker_file(tmp_path: Path) -> Path:
    return tmp_path / "speaker.wav"


@pytest.fixture
def sound(tmp_path: Path, speaker_file: Path) -> Iterator[LocalAudio]:
    """The phone's sound: a microphone that hears a -6 dBFS 700 Hz tone, a speaker that writes a WAV file."""
    mic = tmp_path / "mic.wav"
    write_wav(mic, sine(700, 1.0, level_dbfs=-6), RATE)
    audio = LocalAudio(input_device=f"file:{mic}", output_device=f"file:{speaker_file}")
    audio.start()
    yield audio
    audio.stop()


def meter(app, name: str) -> float:
    return app.screen.query_one(f"#{name}-meter").level


def notices(seen: list) -> list[str]:
    """The sentences the app showed as notifications, in order."""
    return [str(m.notification.message) for m in seen if isinstance(m, Notify)]


def soft_keys(app) -> list[str]:
    return app.screen.query_one("SoftKeyBar").labels()


async def open_audio(app, pilot) -> AudioTestScreen:
    app.push_screen(AudioTestScreen())
    await until(pilot, lambda: isinstance(app.screen, AudioTestScreen))
    return app.screen


async def test_the_microphone_meter_and_the_counters_follow_the_sound(sound: LocalAudio) -> None:
    app, phone = build()
    phone.local_audio = sound
    async with app.run_test(size=(110, 34)) as pilot:
        await open_audio(app, pilot)
        await until(pilot, lambda: abs(meter(app, "mic") + 6) <= 1)
        await until(pilot, lambda: "Sound card under/overflows 0" in screen_text(app))
        text = screen_text(app)
        assert meter(app, "speaker") == -120
        assert "Sound on microphone file:" in text and "In use: microphone file:" in text
        assert "Speaker buffer 0 ms · underruns 0 · overruns 0 · drift corrections 0" in text
        assert "Sound card under/overflows 0 · device failures 0 · limited samples 0" in text
        mic_line = next(line for line in text.splitlines() if line.strip().startswith("Microphone  "))
        assert "█" in mic_line and mic_line.rstrip().endswith("-6 dBFS")
        assert soft_keys(app)[:3] == ["F1 Tone", "F2 Loopback", "F3 Echo test"]


async def test_the_test_tone_plays_on_the_speaker_until_the_screen_closes(sound: LocalAudio,
                                                                          speaker_file: Path) -> None:
    app, phone = build()
    phone.local_audio = sound
    async with app.run_test(size=(110, 34)) as pilot:
        await open_audio(app, pilot)
        await pilot.press("f1")
        await until(pilot, lambda: abs(meter(app, "speaker") + 12) <= 1)
        assert soft_keys(app)[0] == "F1 Tone off"
        await until(pilot, lambda: "A 1000 Hz test tone plays on the speaker." in screen_text(app))
        await pilot.pause(0.3)                                      # the screen stays open 0.3 s: so does the tone
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, IdleScreen))
        assert "test-tone" not in sound.mixer.names
    sound.stop()
    played = read_wav(speaker_file)
    loud = np.flatnonzero(np.abs(played) > 1000)
    assert len(loud) > RATE * 0.25 and has_tone(played[loud[0] : loud[-1]], RATE, 1000, min_ratio=0.95)
    assert not played[loud[-1] + 400 :].any()                       # silent after the screen closed


async def test_t_turns_the_tone_off_again(sound: LocalAudio) -> None:
    app, phone = build()
    phone.local_audio = sound
    async with app.run_test(size=(110, 34)) as pilot:
        await open_audio(app, pilot)
        await pilot.press("t")
        await until(pilot, lambda: meter(app, "speaker") > -20)
        await pilot.press("t")
        await until(pilot, lambda: meter(app, "speaker") < -100)
        assert soft_keys(app)[0] == "F1 Tone" and "test-tone" not in sound.mixer.names


async def test_loopback_plays_the_microphone_on_the_speaker_half_a_second_later(sound: LocalAudio,
                                                                                speaker_file: Path) -> None:
    app, phone = build()
    phone.local_audio = sound
    async with app.run_test(size=(110, 34)) as pilot:
        await open_audio(app, pilot)
        await pilot.press("l")
        await until(pilot, lambda: "Loopback: what the microphone hears plays on the speaker 0.5 s later."
                    in screen_text(app))
        assert soft_keys(app)[1] == "F2 Loopback off"
        await until(pilot, lambda: abs(meter(app, "speaker") + 6) <= 1)
        await pilot.press("l")
        await until(pilot, lambda: meter(app, "speaker") < -100)
        assert "loopback" not in sound.mixer.names
    sound.stop()
    played = read_wav(speaker_file)
    loud = np.flatnonzero(np.abs(played) > 1000)
    assert loud[0] / RATE >= 0.45                                   # nothing before the delay had passed
    assert has_tone(played[loud[0] + 400 : loud[-1]], RATE, 700, min_ratio=0.95)


async def test_leaving_the_screen_stops_the_loopback(sound: LocalAudio) -> None:
    app, phone = build()
    phone.local_audio = sound
    async with app.run_test(size=(110, 34)) as pilot:
        await open_audio(app, pilot)
        await pilot.press("l")
        assert "loopback" in sound.mixer.names
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, IdleScreen))
        assert "loopback" not in sound.mixer.names


async def test_the_echo_test_calls_star_43_and_shows_the_call(sound: LocalAudio) -> None:
    app, phone = build()
    phone.local_audio = sound
    async with app.run_test(size=(110, 34)) as pilot:
        await open_audio(app, pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, CallScreen))
        assert phone.commands == [("call", "*43", None)]


async def test_without_local_sound_only_the_echo_test_is_offered() -> None:
    app, phone = build()
    phone.local_audio = None
    async with app.run_test(size=(110, 34)) as pilot:
        await open_audio(app, pilot)
        await until(pilot, lambda: "only the echo test call can be tried" in screen_text(app))
        assert soft_keys(app)[0] == "F1 Echo test" and "F4 Back" in soft_keys(app)
        await pilot.press("t", "l")
        assert phone.commands == []


async def test_the_screen_speaks_chinese_after_a_switch(sound: LocalAudio) -> None:
    app, phone = build()
    phone.local_audio = sound
    async with app.run_test(size=(110, 34)) as pilot:
        await open_audio(app, pilot)
        app.switch_language("zh_CN")
        await until(pilot, lambda: soft_keys(app)[:3] == ["F1 测试音", "F2 回环", "F3 回声测试"])
        await until(pilot, lambda: "扬声器缓冲 0 毫秒 · 欠载 0" in screen_text(app))
        assert "麦克风" in screen_text(app)


async def test_devices_are_listed_and_a_chosen_one_is_used_at_once_and_kept_in_the_config(
    pulse: PulseServer, tmp_path: Path,  # noqa: F811
) -> None:
    audio = LocalAudio(input_device="pulse", output_device="null")
    audio.start()                                    # the phone's start lists the devices anew
    config_path = tmp_path / "config.toml"
    app, phone = build(config_path=config_path)
    phone.local_audio = audio
    seen: list = []
    try:
        async with app.run_test(size=(110, 34), message_hook=seen.append) as pilot:
            screen = await open_audio(app, pilot)
            await until(pilot, lambda: screen.devices)
            names = [d.name for d in screen.devices]
            assert "pulse" in names and "default" in names
            text = screen_text(app)
            default_row = next(line for line in text.splitlines() if " default " in line)
            assert "mic speaker" in default_row                  # the config says "default" for both
            table = app.screen.query_one("#audio-devices")
            table.move_cursor(row=names.index("pulse"))
            await pilot.press("i")
            await until(pilot, lambda: app.config.audio.input_device == "pulse")
            await until(pilot, lambda: notices(seen))
            assert notices(seen) == ["pulse is now the microphone, and the config keeps it."]
            assert audio.stats().output_device == "null"
            await pilot.press("o")
            await until(pilot, lambda: audio.stats().output_device == "pulse")   # no restart needed
            assert app.config.audio.output_device == "pulse" and audio.status == "ok"
            await until(pilot, lambda: "In use: microphone pulse, speaker pulse" in screen_text(app))
            pulse_row = next(line for line in screen_text(app).splitlines() if " pulse " in line)
            assert "mic speaker" in pulse_row
    finally:
        audio.stop()
    saved = tomllib.loads(config_path.read_text())
    assert saved["audio"]["input_device"] == "pulse" and saved["audio"]["output_device"] == "pulse"


async def test_without_a_config_file_a_choice_is_used_but_not_kept(pulse: PulseServer) -> None:  # noqa: F811
    audio = LocalAudio(input_device="null", output_device="null")
    audio.start()
    app, phone = build()
    phone.local_audio = audio
    seen: list = []
    try:
        async with app.run_test(size=(110, 34), message_hook=seen.append) as pilot:
            screen = await open_audio(app, pilot)
            await until(pilot, lambda: screen.devices)
            await pilot.press("i")
            await until(pilot, lambda: notices(seen))
            assert notices(seen) == ["pulse is now the microphone; the phone has no config file, so it is not "
                                     "kept for the next start."]
            assert audio.stats().input_device == "pulse" and app.config.audio.input_device == "pulse"
    finally:
        audio.stop()


async def test_a_config_that_cannot_be_written_keeps_the_old_device_and_says_why(
    pulse: PulseServer, tmp_path: Path,  # noqa: F811
) -> None:
    audio = LocalAudio(input_device="pulse", output_device="null")
    audio.start()
    (tmp_path / "a file").write_text("")          # a config path under a file: nothing can be written there
    app, phone = build(config_path=tmp_path / "a file" / "config.toml")
    phone.local_audio = audio
    seen: list = []
    try:
        async with app.run_test(size=(110, 34), message_hook=seen.append) as pilot:
            screen = await open_audio(app, pilot)
            await until(pilot, lambda: screen.devices)
            await pilot.press("o")
            await until(pilot, lambda: notices(seen))
            assert notices(seen)[0].endswith("a file/config.toml: cannot be saved: File exists; nothing was changed")
            assert app.config.audio.output_device == "default" and audio.stats().output_device == "null"
    finally:
        audio.stop()


async def test_settings_lists_audio_and_it_opens_the_audio_screen() -> None:
    app, phone = build()
    phone.local_audio = None
    async with app.run_test(size=(110, 34)) as pilot:
        from tuiphone.screens.settings import settings_menu

        app.push_screen(settings_menu())
        await until(pilot, lambda: "4. Audio" in screen_text(app))
        await pilot.press("4")
        await until(pilot, lambda: isinstance(app.screen, AudioTestScreen))


async def test_a_device_that_will_not_open_runs_on_null_audio_and_says_so(
    pulse: PulseServer, tmp_path: Path,  # noqa: F811
) -> None:
    audio = LocalAudio(input_device="null", output_device="null")
    audio.start()
    app, phone = build(config_path=tmp_path / "config.toml")
    phone.local_audio = audio
    seen: list = []
    try:
        async with app.run_test(size=(110, 34), message_hook=seen.append) as pilot:
            screen = await open_audio(app, pilot)
            await until(pilot, lambda: screen.devices)
            pulse.stop()                              # the sound server goes away after the list was shown
            await pilot.press("o")
            await until(pilot, lambda: notices(seen))
            assert notices(seen) == ["pulse would not open as the speaker: the speaker runs on null audio until "
                                     "it does."]
            assert audio.status == "degraded" and audio.stats().output_device == "null (wanted pulse)"
    finally:
        audio.stop()
