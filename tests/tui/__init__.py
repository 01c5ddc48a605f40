"""TUI tests. Screens are redrawn at most 15 times a second here (Textual reads TEXTUAL_FPS on import):
the same screens, less CPU on a shared test box."""

import os

os.environ.setdefault("TEXTUAL_FPS", "15")
