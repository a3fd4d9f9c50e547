"""Command line: thin; parses options, calls the API once, formats. The only place that prints or exits.

``cli`` is the `tsunagari` group (the console script and ``python -m kg``). Each group of commands is a
module here listing its ``COMMANDS``; this module adds them to ``cli``, the one way commands are
registered. ``kg.cli.common`` holds what they share (options, safe output, error translation).
"""
from __future__ import annotations

import click

from kg.cli import browse, build, graph, pictures, push, search, serve
from kg.cli.common import (SafeOutput, echo_json, echo_text, fail, filter_options, stdout_is_terminal,
                           store_option, terminal_text, translate_errors)

__all__ = ["cli", "SafeOutput", "echo_json", "echo_text", "fail", "filter_options", "stdout_is_terminal",
           "store_option", "terminal_text", "translate_errors"]


@click.group()
@click.version_option(package_name="tsunagari")
def cli() -> None:
    """tsunagari (つながり): knowledge graph and search over Japan's local projects against loneliness and isolation."""


for _module in (build, browse, search, graph, pictures, push, serve):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
