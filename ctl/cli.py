"""The entry point: parse the command line, run one command, turn every failure into one
line and an exit code (0 success, 1 any error), as calicoctl does."""
from __future__ import annotations

import os
import sys
from typing import Callable, Sequence

from . import helptext
from .arguments import HelpShown, UsageError, parse
from .client import CtlError
from .commands import (apply, cluster, completion, convert, datastore, delete, diff, get,
                       ipam, label, node, patch, validate, version)
from .session import CommandError, Session, err, out

# What runs each command of ``helptext.COMMANDS`` (in its order).
COMMANDS: dict[str, Callable[[Session], int]] = {
    "create": apply.run, "replace": apply.run, "apply": apply.run, "patch": patch.run,
    "delete": delete.run, "get": get.run, "label": label.run, "validate": validate.run,
    "convert": convert.run, "ipam": ipam.run, "node": node.run, "version": version.run,
    "datastore": datastore.run, "cluster": cluster.run, "diff": diff.run,
    "completion": completion.run}


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
        return COMMANDS[session.args.command](session)
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
