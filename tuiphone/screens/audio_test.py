"""Settings › Audio: the sound devices, the microphone and speaker levels (10 Hz), a test tone, a
loopback test (mic → speaker after a delay), the echo test call and the underrun/drift counters.

The tests run on the phone's own LocalAudio (`app.phone.local_audio`), the one calls use. A chosen
device is used at once (a call goes on through the switch) and kept in the config's [audio] section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import DataTable, Static

from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.widgets.level_meter import LevelMeter
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

__all__ = ["AudioTestScreen", "device_marks", "local_audio_of"]

_STATES = ("ok", "null", "degraded", "stopped")   # LocalAudio.status values
TEST_TONE_HZ = 1000
TEST_TONE_DBFS = -12.0
LOOPBACK_DELAY_S = 0.5
SAMPLE_S = 0.1                     # the meters and counters follow LocalAudio at 10 Hz
TONE_STREAM = "test-tone"

def local_audio_of(phone: Any) -> Any:
    """The phone's LocalAudio, or None when it runs without local sound."""
    audio = getattr(phone, "local_audio", None)
    return audio if callable(getattr(audio, "levels", None)) else None


def device_marks(device: Any, input_spec: str, output_spec: str) -> list[str]:
    """Which roles the config gives this device: its name or index, or "default" on PortAudio's default."""
    def named(spec: str, is_default: bool) -> bool:
        return spec == device.name or spec == str(device.index) or (spec in ("", "default") and is_default)

    marks = []
    if device.inputs and named(input_spec, device.is_default_input):
        marks.append(t("audio_test.mark_input"))
    if device.outputs and named(output_spec, device.is_default_output):
        marks.append(t("audio_test.mark_output"))
    return marks


class AudioTestScreen(PhoneScreen):
    """Audio diagnostics; the test tone and the loopback stop when the screen closes."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("t", "tone", "Test tone", show=False, id="audio-test-tone"),
        Binding("l", "loopback", "Loopback", show=False, id="audio-loopback"),
        Binding("e", "echo_test", "Echo test", show=False, id="audio-echo-test"),
        Binding("i", "use_device('input')", "Use as microphone", show=False, id="audio-use-input"),
        Binding("o", "use_device('output')", "Use as speaker", show=False, id="audio-use-output"),
    ]
    DEFAULT_CSS = """
    AudioTestScreen #audio-devices { height: 1fr; }
    AudioTestScreen #audio-state, AudioTestScreen #audio-counters { padding: 0 1; height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.devices: list[Any] | None = None      # None until the worker has listed them
        self.tone_on = False
        self.loopback_on = False
        self._shown: dict[str, str] = {}              # what each text shows (sampled 10 times a second)

    @property
    def audio(self) -> Any:
        return local_audio_of(self.app.phone)

    def compose(self) -> ComposeResult:
        labels = (t("audio_test.meter_mic"), t("audio_test.meter_speaker"))
        width = max(cell_len(label) for label in labels)
        yield StatusBar()
        yield Static(t("audio_test.title"), classes="screen-title")
        yield Static("", id="audio-state", markup=False)
        yield DataTable(id="audio-devices", cursor_type="row", zebra_stripes=True)
        yield LevelMeter(labels[0], label_width=width, id="mic-meter")
        yield LevelMeter(labels[1], label_width=width, id="speaker-meter")
        yield Static("", id="audio-counters", markup=False)
        yield Static(t("audio_test.hint"), classes="hint", markup=False)
        yield SoftKeyBar()

    def on_mount(self) -> None:
        self.fill_devices()
        self.sample()
        self.set_interval(SAMPLE_S, self.sample)
        self.run_worker(self._list_devices, thread=True, exclusive=True, group="audio-devices",
                        exit_on_error=False)

    def on_unmount(self) -> None:
        audio = self.audio
        if audio is not None:
            if self.tone_on:
                audio.remove_stream(TONE_STREAM)
            if self.loopback_on:
                audio.stop_loopback()
        self.tone_on = self.loopback_on = False

    async def relabel(self) -> None:
        await super().relabel()
        self._shown.clear()                          # the texts were composed anew, empty
        self.fill_devices()
        self.sample()

    # ----- the device list (PortAudio is asked on a worker thread: it can take a moment) ----------------
    def _list_devices(self) -> None:
        from tuiphone.audio.device import list_devices

        # rescanned first (PortAudio lists once, when the process first used it; a sound server may have started
        # since); while a stream of the phone is open there is no rescan and the list is the last one
        devices = list_devices(refresh=True)
        self.app.call_from_thread(self._listed, devices)

    def _listed(self, devices: list[Any]) -> None:
        self.devices = devices
        try:
            self.fill_devices()
        except NoMatches:
            pass               # being rebuilt: relabel fills the new table


    def fill_devices(self) -> None:
        table = self.query_one("#audio-devices", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_columns(t("audio_test.col_use"), "#", t("audio_test.col_device"), t("audio_test.col_in"),
                          t("audio_test.col_out"), t("audio_test.col_rate"))
        if self.devices is None or not self.devices:
            key = "audio_test.listing" if self.devices is None else "audio_test.no_devices"
            table.add_row("", "", t(key), "", "", "")
        else:
            cfg = self.app.config.audio
            for d in self.devices:
                table.add_row(" ".join(device_marks(d, cfg.input_device, cfg.output_device)), str(d.index), d.name,
                              str(d.inputs), str(d.outputs), f"{d.default_rate:g}", key=str(d.index))
            table.move_cursor(row=min(max(row, 0), table.row_count - 1))
        self.refresh_soft_keys()

    def chosen_device(self) -> Any:
        table = self.query_one("#audio-devices", DataTable)
        if not self.devices or not table.row_count:
            return None
        return self.devices[min(table.cursor_row, len(self.devices) - 1)]

    # ----- levels and counters ------------------------------------------------------------------------
    def sample(self) -> None:
        """Read the levels and counters now (the 10 Hz timer calls this)."""
        try:
            self._sample()
        except NoMatches:
            pass               # the screen is being rebuilt for a new language; the next tick draws it

    def _sample(self) -> None:
        audio = self.audio
        state = self.query_one("#audio-state", Static)
        if audio is None:
            attached = getattr(self.app, "attached", False)      # the devices are the phone process's
            self._show(state, t("phone.not_here", what=t("audio_test.what")) if attached else t("audio_test.no_audio"))
            return
        levels, s = audio.levels(), audio.stats()
        self.query_one("#mic-meter", LevelMeter).show(levels.mic_dbfs)
        self.query_one("#speaker-meter", LevelMeter).show(levels.speaker_dbfs)
        # the engine's sentence in English; each language words the state itself (the details are the engine's)
        state_line = t(f"audio_test.status_{s.status}", reason=s.reason) if s.status in _STATES else s.reason
        lines = [state_line, t("audio_test.now", input=s.input_device, output=s.output_device, ringer=s.ringer_device),
                 t("audio_test.volumes", speaker=round(audio.volume * 100), ring=round(audio.ring_volume * 100))]
        if self.tone_on:
            lines.append(t("audio_test.tone_on", hz=TEST_TONE_HZ))
        if self.loopback_on:
            lines.append(t("audio_test.loopback_on", delay=f"{LOOPBACK_DELAY_S:g}"))
        self._show(state, "\n".join(lines))
        self._show(self.query_one("#audio-counters", Static), "\n".join((
            t("audio_test.counters_mic", fill=f"{s.mic_fill_ms:.0f}", underruns=s.mic_underruns,
                overruns=s.mic_overruns, corrections=s.mic_corrections),
            t("audio_test.counters_speaker", fill=f"{s.speaker_fill_ms:.0f}", underruns=s.speaker_underruns,
                overruns=s.speaker_overruns, corrections=s.speaker_corrections),
            t("audio_test.counters_device", xruns=s.device_xruns, failures=s.device_failures,
                limited=s.limited_samples),
            t("audio_test.bridge_c" if s.bridge_port == "c" else "audio_test.bridge_python"))))

    def _show(self, widget: Static, text: str) -> None:
        """Update only on a change: the counters rarely move, and an update costs a layout."""
        if self._shown.get(widget.id or "") != text:
            self._shown[widget.id or ""] = text
            widget.update(text)

    # ----- keys ---------------------------------------------------------------------------------------
    def soft_keys(self) -> Sequence[SoftKey | None]:
        keys: list[SoftKey | None] = []
        if self.audio is not None:
            keys += [SoftKey(t("audio_test.key_tone_off" if self.tone_on else "audio_test.key_tone"), "tone"),
                     SoftKey(t("audio_test.key_loopback_off" if self.loopback_on else "audio_test.key_loopback"),
                             "loopback")]
        keys.append(SoftKey(t("audio_test.key_echo"), "echo_test"))
        if self.chosen_device() is not None:
            keys += [SoftKey(t("audio_test.key_use_input"), "use_device('input')"),
                     SoftKey(t("audio_test.key_use_output"), "use_device('output')")]
        if len(keys) < 4:
            keys += [None] * (3 - len(keys))         # Back on F4, like every screen that fits on one page
        keys.append(SoftKey("key.back", "back"))
        return keys

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.refresh_soft_keys()

    def action_tone(self) -> None:
        """A steady test tone on the speaker, on or off."""
        from tuiphone.audio.sources import ToneSource

        audio = self.audio
        if audio is None:
            return
        if self.tone_on:
            audio.remove_stream(TONE_STREAM)
        else:
            audio.add_stream(TONE_STREAM, ToneSource(TEST_TONE_HZ, level_dbfs=TEST_TONE_DBFS))
        self.tone_on = not self.tone_on
        self.sample()
        self.refresh_soft_keys()

    def action_loopback(self) -> None:
        """The microphone back through the speaker half a second later, on or off."""
        audio = self.audio
        if audio is None:
            return
        if self.loopback_on:
            audio.stop_loopback()
        else:
            audio.start_loopback(LOOPBACK_DELAY_S)
        self.loopback_on = not self.loopback_on
        self.sample()
        self.refresh_soft_keys()

    def action_echo_test(self) -> None:
        """Call the echo test: the far end plays back what it hears (the call screen takes over)."""
        from tuiphone.engine.incoming import ECHO_CODE

        self.app.place_call(ECHO_CODE)

    def action_use_device(self, role: str) -> None:
        """Use the highlighted device as the microphone (`input`) or speaker (`output`) now, and keep it
        in the config when there is a config file."""
        device = self.chosen_device()
        if device is None:
            return
        if (device.inputs if role == "input" else device.outputs) == 0:
            self.app.show_error(t(f"audio_test.no_{role}", device=device.name))
            return
        role_name = t(f"audio_test.role_{role}")
        audio_cfg = self.app.editable_config().audio     # attached: the schema's models from the view
        if self.app.config_path is None:
            setattr(audio_cfg, f"{role}_device", device.name)    # for this run only (checked by the schema)
            kept = False
        else:
            problem = self.app.change_setting(audio_cfg, f"{role}_device", device.name)
            if problem:                      # refused by the schema or the disk: the old device stays
                self.app.show_error(problem)
                return
            kept = True
        self.fill_devices()
        audio = self.audio
        if audio is None:
            self.app.notify(t("audio_test.saved_for_next_start", device=device.name, role=role_name), markup=False)
            return
        # opening a stream can take a moment (a dead device up to seconds): not on the UI thread
        self.run_worker(lambda: self._switch(audio, role, device.name, role_name, kept), thread=True,
                        group="audio-switch", exit_on_error=False)

    def _switch(self, audio: Any, role: str, name: str, role_name: str, kept: bool) -> None:
        problems = audio.use_devices(**{role: name})
        if role in problems:
            self.app.call_from_thread(self.app.show_error,
                                      t("audio_test.would_not_open", device=name, role=role_name))
        else:
            key = "audio_test.chosen" if kept else "audio_test.not_kept"
            self.app.call_from_thread(self.app.notify, t(key, device=name, role=role_name), markup=False)

    def action_back(self) -> None:
        self.dismiss()

