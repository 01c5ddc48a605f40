"""The roles LocalAudio's devices play (microphone, speaker, ringer), and the sound's status in a sentence."""

from __future__ import annotations

from tuiphone.audio.device import DeviceChoice, Endpoint, portaudio_problem


class DeviceRole:
    """One of mic / speaker / ringer: what the config asked for and what runs now."""

    def __init__(self, name: str, spec: str, direction: str):
        self.name = name               # "microphone", "speaker", "ringer"
        self.spec = spec
        self.direction = direction
        self.endpoint: Endpoint | None = None
        self.problem: str | None = None    # why it runs on null instead of spec
        self.failed_at = 0.0           # when it last fell back (for retries)
        self.lost_midstream = False

    @property
    def wants_device(self) -> bool:
        return DeviceChoice.parse(self.spec).kind not in ("null", "file")

    @property
    def on_fallback(self) -> bool:
        return self.problem is not None

    def describe(self) -> str:
        if self.endpoint is None:
            return "closed"
        if self.on_fallback:
            return f"null (wanted {self.spec})"
        return self.endpoint.describe()


def status_of(roles: list[DeviceRole]) -> tuple[str, str]:
    """(status, reason) for the roles as they run now: "ok", "null" or "degraded", and why in a sentence."""
    failed = [r for r in roles if r.on_fallback]
    if not failed:
        status, reason = "ok", "Sound on " + ", ".join(
            f"{r.name} {r.endpoint.describe() if r.endpoint else r.spec}" for r in roles) + "."
    elif len(failed) == len(roles) and not any(r.lost_midstream for r in failed):
        status = "null"
        cause = portaudio_problem() or failed[0].problem or "no sound device"
        if cause == failed[0].problem and all("no sound device" in (r.problem or "") for r in failed):
            cause = "no sound device"
        reason = f"{_sentence_start(cause)}: running on null audio."
    else:
        status = "degraded"
        names = " and ".join(r.name for r in failed)
        problems = "; ".join(dict.fromkeys(r.problem or "" for r in failed))
        reason = f"{_sentence_start(problems)}: running on null audio for the {names}"
        if any(r.wants_device for r in failed):
            reason += ", and trying it again until it is back"
        reason += "."
    return status, reason


def _sentence_start(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text
