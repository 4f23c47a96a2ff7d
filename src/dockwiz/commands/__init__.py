"""Headless subcommands: one module per command, each with ``register(subparsers)``.

Each module adds its own parser and sets ``func`` (``args -> exit status``). ``cli.py`` imports
only the module of the command being run, so a quick command (``dockwiz certs``) never pays
for the TUI's or pydantic's import time.
"""
