"""Fixtures for the audio tests: a private PulseAudio server with null sinks (see pulse.py)."""

from tests.audio.pulse import pulse  # noqa: F401  (registers the fixture for tests/audio)
