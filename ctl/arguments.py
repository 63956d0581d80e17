"""Command lines read as calicoctl reads them: docopt over the help texts (``helptext``).

The program's own options come before the command (docopt's ``options_first``, as in
calicoctl); the command's text then decides the rest: options anywhere, unique prefixes of
long options, ``-ovalue``, and the usage patterns. ``-h``/``--help`` prints the help text
(docopt does, as calicoctl's does) wherever it appears.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import docopt

from . import helptext

Value = str | bool | list[str] | None
# calicoctl's get rewrites -a to -A before parsing.
_REWRITES = {"get": {"-a": "-A"}}
# The program's options that are not connection settings a command could use.
_PROGRAM_ONLY = ("--log-level", "--help", "<command>", "<args>")


class UsageError(Exception):
    """The command line does not match the usage of ``command`` (None: of the program)."""

    def __init__(self, command: str | None = None) -> None:
        super().__init__(command or helptext.PROGRAM)
        self.command = command


class HelpShown(Exception):
    """``-h``/``--help`` was given and the help text has been printed."""


@dataclass(frozen=True)
class Option:
    """One option as a help text declares it."""

    short: str  # "-f", or "" when there is none
    long: str  # "--filename", or "" when there is none
    default: str | None  # what docopt reports when the option is absent


@dataclass(frozen=True)
class Args:
    """A parsed command line. Keys are spelled as in the usage: ``--output``, ``<KIND>``."""

    command: str
    values: Mapping[str, Value]

    def get(self, key: str) -> str:
        """An option's or argument's text; "" when absent."""
        value = self.values.get(key)
        return value if isinstance(value, str) else ""

    def flag(self, key: str) -> bool:
        return self.values.get(key) is True

    def all(self, key: str) -> list[str]:
        """A repeated argument (``<NAME>...``)."""
        value = self.values.get(key)
        return list(value) if isinstance(value, list) else []


def options(text: str) -> list[Option]:
    """Every option ``text`` declares, read by docopt's own reader (the parser's table)."""
    sections = docopt.parse_docstring_sections(text)
    return [Option(o.short or "", o.longer or "", o.value if o.argcount else None)
            for part in (sections.before_usage, sections.after_usage)
            for o in docopt.parse_options(part)]


def parse(argv: Sequence[str]) -> Args:
    """The whole command line. Raises UsageError, or HelpShown after printing the help.

    Connection options may also come before the command; given in both places, the
    command's wins."""
    program = Args(helptext.PROGRAM, _docopt(helptext.TOP, argv, None, options_first=True))
    command = program.get("<command>")
    if command not in helptext.COMMANDS:
        raise UsageError()
    rewrite = _REWRITES.get(command, {})
    rest = [rewrite.get(arg, arg) for arg in program.all("<args>")]
    text = helptext.COMMANDS[command].text
    values = _docopt(text, [command, *rest], command)
    before = {k: v for k, v in _given(program.values, helptext.TOP).items()
              if k not in _PROGRAM_ONLY}
    return Args(command, {**values, **before, **_given(values, text)})


def _docopt(text: str, argv: Sequence[str], command: str | None, *,
            options_first: bool = False) -> dict[str, Value]:
    try:
        return dict(docopt.docopt(text, list(argv), default_help=True,
                                  options_first=options_first))
    except docopt.DocoptExit:
        raise UsageError(command) from None
    except SystemExit:  # docopt printed the help, as calicoctl's PrintHelpAndExit does
        raise HelpShown() from None


def _given(values: Mapping[str, Value], text: str) -> dict[str, Value]:
    """The values the command line set (not a default, nor an absent option)."""
    defaults = {o.long or o.short: o.default for o in options(text)}
    return {k: v for k, v in values.items()
            if v not in (None, False, []) and v != defaults.get(k)}
