"""What every command shares: --store, the filters, safe terminal output, and the error translation.

This is the bottom of the CLI: the command modules import from here, and only here are the library's
errors turned into one clear line and exit code 1.
"""
from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from kg.api import DEFAULT_STORE, Tsunagari
from kg.errors import KgError

F = TypeVar("F", bound=Callable[..., Any])

store_option = click.option("--store", type=click.Path(path_type=Path), default=DEFAULT_STORE, show_default=True,
                            help="Store folder.")


# -- safe terminal text: data never moves the cursor, retitles the window or reorders what is shown --------
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    r"""``text`` with every control character (but tab and newline) written as a visible ``\uXXXX`` escape.

    The escape is JSON's and Turtle's, so valid JSON (or N-Triples, Turtle) stays valid and means the same.

    >>> terminal_text("title\x1b]0;owned\x07")
    'title\\u001b]0;owned\\u0007'
    """
    return UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def echo_text(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print a line that may hold data: control characters are escaped (see terminal_text)."""
    click.echo(terminal_text(text), err=err, nl=nl)


def fail(message: str) -> click.ClickException:
    """The exception that ends a command with one clear (escaped) line and exit code 1."""
    return click.ClickException(terminal_text(message))


def translate_errors(command: F) -> F:
    """Our errors become one clear line and exit code 1, never a traceback."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KgError as error:      # embeddings' errors arrive as KgErrors too (kg.similar)
            raise fail(str(error)) from None
    return wrapper  # type: ignore[return-value]


def echo_json(value: Any) -> None:
    """Print a value as JSON (Japanese kept readable), control characters escaped."""
    echo_text(json.dumps(value, ensure_ascii=False, indent=1))


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal (exports escape control characters only there)."""
    return sys.stdout.isatty()


def filter_options(command: F) -> F:
    """--prefecture/--municipality/--block/--target-group/--theme/--fiscal-year/--legal-form."""
    for name, help_text in reversed((
        ("--prefecture", "Prefecture name or code (鳥取県, Tottori, 31)."),
        ("--municipality", "Municipality name or 6-digit code (includes its wards)."),
        ("--block", "Regional block (kanto, 近畿, ...)."),
        ("--target-group", "Target-group id (includes narrower ones), e.g. youth."),
        ("--theme", "Theme id (includes narrower ones), e.g. men-shed."),
        ("--legal-form", "Legal form: its id (npo, certified-npo, general-association, social-welfare-corporation...) "
                         "or its Japanese name (特定非営利活動法人, 一般社団法人...)."),
    )):
        command = click.option(name, help=help_text)(command)
    return click.option("--fiscal-year", type=int, help="Fiscal year, e.g. 2024.")(command)


class SafeOutput:
    """Standard output as a text stream for long answers: buffered, control characters escaped (terminal_text)."""

    def __init__(self, size: int = 1 << 20) -> None:
        self.parts: list[str] = []
        self.held, self.size, self.last = 0, size, "\n"

    def write(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.held += len(text)
            self.last = text[-1]
            if self.held >= self.size:
                self.flush()

    def flush(self) -> None:
        echo_text("".join(self.parts), nl=False)
        self.parts, self.held = [], 0

    def close(self) -> None:
        """Flush, ending the output with a newline."""
        self.write("" if self.last == "\n" else "\n")
        self.flush()


def open_store(store: Path) -> Tsunagari:
    """The store a command works on (``--store``)."""
    return Tsunagari.open(store)
