"""TUI tests. Screens are redrawn at most 15 times a second here (Textual reads TEXTUAL_FPS on import):
the same screens, less CPU on a shared test box."""

import os

os.environ.setdefault("TEXTUAL_FPS", "15")

# Pilot waits for "idle" after every key by sleeping in steps of SLEEP_GRANULARITY (20 ms): most of a TUI
# test's time. Shorter steps keep the same checks (each test waits for what it asserts) in a quarter of each wait.
import textual._wait  # noqa: E402

textual._wait.SLEEP_GRANULARITY = 0.005
