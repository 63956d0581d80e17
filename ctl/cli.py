"""Command-line parsing with docopt's rules (options anywhere, unique long-option prefixes,
``-ovalue``, usage errors print the ``Usage:`` section on stderr and exit 1) and dispatch."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Sequence

from . import helptext


@dataclass(frozen=True)
class Opt:
    long: str
    short: str = ""
    takes_value: bool = False


CONNECTION = (Opt("server", takes_value=True), Opt("token", takes_value=True),
              Opt("certificate-authority", takes_value=True),
              Opt("client-certificate", takes_value=True), Opt("client-key", takes_value=True),
              Opt("timeout", takes_value=True), Opt("allow-version-mismatch"), Opt("help", "h"))
CONFIG, CONTEXT = Opt("config", "c", True), Opt("context", takes_value=True)
FILES = (Opt("filename", "f", True), Opt("recursive", "R"), Opt("skip-empty"))
NAMESPACE, ALL_NS = Opt("namespace", "n", True), Opt("all-namespaces", "A")
SELECTOR, DRY_RUN = Opt("selector", "l", True), Opt("dry-run")
TOP_ONLY = (Opt("log-level", "l", True), CONFIG, CONTEXT)

VERBS: dict[str, tuple[Opt, ...]] = {
    "get": FILES + (Opt("output", "o", True), NAMESPACE, ALL_NS, Opt("export"), SELECTOR,
                    CONFIG, CONTEXT),
    "create": FILES + (Opt("skip-exists"), NAMESPACE, DRY_RUN, CONFIG, CONTEXT),
    "apply": FILES + (NAMESPACE, DRY_RUN, CONFIG, CONTEXT),
    "replace": FILES + (NAMESPACE, DRY_RUN, CONFIG, CONTEXT),
    "delete": FILES + (Opt("skip-not-exists", "s"), NAMESPACE, ALL_NS, SELECTOR, DRY_RUN,
                       CONFIG, CONTEXT),
    "patch": (Opt("patch", "p", True), Opt("type", "t", True), NAMESPACE, DRY_RUN, CONFIG,
              CONTEXT),
    "label": (NAMESPACE, ALL_NS, Opt("overwrite"), Opt("remove"), SELECTOR, CONFIG, CONTEXT),
    "validate": FILES,
    "diff": FILES + (NAMESPACE, CONFIG, CONTEXT),
    "version": (CONFIG, CONTEXT),
    "completion": (),
}


class UsageError(Exception):
    """The command line does not match the verb's usage."""


@dataclass
class Args:
    """A parsed command line: ``opts`` maps long names to a value or True."""

    verb: str
    opts: dict[str, str | bool] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)

    def get(self, name: str) -> str:
        value = self.opts.get(name, "")
        return value if isinstance(value, str) else ""

    def flag(self, name: str) -> bool:
        return bool(self.opts.get(name))


def _match_long(name: str, options: Sequence[Opt]) -> Opt:
    exact = [o for o in options if o.long == name]
    if exact:
        return exact[0]
    found = {o.long: o for o in options if o.long.startswith(name)}
    if len(found) != 1:
        raise UsageError(f"--{name}")
    return next(iter(found.values()))


def parse_options(argv: Sequence[str], options: Sequence[Opt], *,
                  stop_at_positional: bool = False) -> tuple[dict[str, str | bool], list[str]]:
    """Options (anywhere) and positionals. Raises UsageError."""
    opts: dict[str, str | bool] = {}
    positionals: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            positionals += argv[i + 1:]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            opt = _match_long(name, options)
            if opt.takes_value and not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(arg)
                value = argv[i]
            elif not opt.takes_value and eq:
                raise UsageError(arg)
            opts[opt.long] = value if opt.takes_value else True
        elif arg.startswith("-") and len(arg) > 1:
            i = _short(argv, i, options, opts)
        else:
            positionals.append(arg)
            if stop_at_positional:
                return opts, positionals + list(argv[i + 1:])
        i += 1
    return opts, positionals


def _short(argv: Sequence[str], i: int, options: Sequence[Opt],
           opts: dict[str, str | bool]) -> int:
    """Stacked short options (``-RA``, ``-oyaml``, ``-o yaml``); returns the last index used."""
    arg = argv[i]
    for j, char in enumerate(arg[1:], 1):
        matches = [o for o in options if o.short == char]
        if not matches:
            raise UsageError(arg)
        opt = matches[0]
        if not opt.takes_value:
            opts[opt.long] = True
            continue
        value = arg[j + 1:]
        if not value:
            i += 1
            if i >= len(argv):
                raise UsageError(arg)
            value = argv[i]
        opts[opt.long] = value
        return i
    return i


def parse(argv: Sequence[str]) -> Args:
    """The whole command line. Raises UsageError (``verb`` attribute set when known)."""
    top, rest = parse_options(argv, CONNECTION + TOP_ONLY, stop_at_positional=True)
    if not rest:
        if top.get("help"):
            return Args("help", top)
        raise UsageError("")
    verb = rest[0]
    if top.get("help") and verb not in VERBS:
        return Args("help", top)
    if verb not in VERBS:
        raise UsageError(verb)
    argv2 = ["-A" if a == "-a" and verb == "get" else a for a in rest[1:]]
    try:
        opts, positionals = parse_options(argv2, VERBS[verb] + CONNECTION)
    except UsageError as err:
        err.verb = verb  # type: ignore[attr-defined]
        raise
    merged = {k: v for k, v in top.items() if k != "log-level"}
    merged.update(opts)
    return Args(verb, merged, positionals)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run one verb, return the exit code (0 success, 1 any error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse(argv)
    except UsageError as err:
        verb = getattr(err, "verb", None)
        if verb:
            sys.stderr.write(helptext.usage(verb))
            return 1
        sys.stderr.write(helptext.usage("top"))
        if argv:
            print(f"Invalid option: '{' '.join(argv)}'. Use flag '--help' to read about a "
                  "specific subcommand.")
        return 1
    if args.verb == "help":
        sys.stdout.write(helptext.full("top"))
        return 0
    if args.flag("help"):
        sys.stdout.write(helptext.full(args.verb))
        return 0
    from .verbs import run
    try:
        return run(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (``ctl get … | head``): stop quietly, as Go programs do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1

