"""``ctl``: calicoctl's command lines against the projectcalico.org/v3 apiserver (HTTP only).

Imports point one way, from the entry point down (``tests/test_ctl_structure.py`` checks):

* ``cli``        entry point: parse, run one command, exit code
* ``commands/``  one module per command family, each ``run(session) -> exit code``
* ``report``     running one operation over many resources; calicoctl's summary lines
* ``inputs``     the resources a command acts on: ``-f`` files, ``<KIND> <NAME>``, selectors
* ``session``    parsed arguments + lazily built client, version check, output and errors
* ``arguments``  docopt over the help texts; ``helptext`` those texts (the grammar)
* ``client``     the one HTTP seam (httpx) and the error types rebuilt from ``Status``
* ``config``     flags, env and CalicoAPIConfig files → a connection
* ``messages``   calicoctl's wording of errors
* ``manifests``  files, stdin, directories, multi-document YAML and Lists
* ``conversion`` Kubernetes NetworkPolicies and Calico v1 resources as v3 resources (convert)
* ``decode``     Go-style decoding of manifests with the server's schemas
* ``output``     tables (tabwriter), YAML, JSON; ``gotemplate`` the Go template subset
* ``batch``      ordered or bounded-concurrent execution with a terminal progress bar

Kinds, aliases and table columns come from the server (discovery and Table responses).
"""
