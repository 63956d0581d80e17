"""One module per command family, each with ``run(session) -> exit code``; ``ctl.cli`` maps
the command names of ``ctl.helptext`` to them."""
