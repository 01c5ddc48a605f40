"""Regenerate the example: python -m tuiphone.config > config.toml.example"""

from tuiphone.config.render import example_config_text

print(example_config_text(), end="")
