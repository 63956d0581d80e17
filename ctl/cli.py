"""The entry point: parse the command line, run one command, turn every failure into one
line and an exit code (0 success, 1 any error), as calicoctl does."""
from __future__ import annotations

import importlib
import os
import sys
from typing import Sequence

from . import helptext
from .arguments import HelpShown, UsageError, parse
from .client import CtlError
from .session import CommandError, Session, err, out

# The module of ``ctl.commands`` whose ``run(session)`` runs each command of
# ``helptext.COMMANDS`` (in its order). Only the command run is imported, as pip does: one
# command's dependencies (validate's model of every kind) do not slow down the others.
COMMANDS: dict[str, str] = {
    "create": "apply", "replace": "apply", "apply": "apply", "patch": "patch",
    "delete": "delete", "get": "get", "label": "label", "validate": "validate",
    "convert": "convert", "ipam": "ipam", "node": "node", "version": "version",
    "datastore": "datastore", "cluster": "cluster", "diff": "diff", "completion": "completion"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``argv`` (default: the process's arguments); returns the exit code."""
    try:
        return _parse_and_run(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        err("interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (``ctl get … | head``): stop quietly, as Go programs do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parse_and_run(argv: list[str]) -> int:
    try:
        args = parse(argv)
    except HelpShown:
        return 0
    except UsageError as exc:
        if exc.command:
            err(helptext.usage(exc.command))
            return 1
        err(helptext.usage())
        if argv:
            out(f"Invalid option: '{' '.join(argv)}'. Use flag '--help' to read about a "
                "specific subcommand.\n")
        return 1
    return _run(Session(args))


def _run(session: Session) -> int:
    """One parsed command; every failure becomes one line and exit code 1."""
    try:
        module = importlib.import_module(f"{__package__}.commands.{COMMANDS[session.args.command]}")
        return module.run(session)
    except UsageError:
        err(helptext.usage(session.args.command))
        return 1
    except CommandError as exc:
        (out if exc.to_stdout else err)(f"{exc}\n")
        return 1
    except CtlError as exc:
        err(f"{exc}\n")
        return 1
    finally:
        session.close()
