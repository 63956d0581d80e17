"""``ctl``: calicoctl's command lines against the projectcalico.org/v3 apiserver (HTTP only).

Where to look:

* ``cli``       argument parsing (docopt rules) and dispatch; ``helptext`` the help texts
* ``verbs``     the session, manifest → items, create/apply/replace/validate and their lines
* ``get``, ``edits`` (delete/patch/label), ``extras`` (version/diff/completion)
* ``client``    the one HTTP seam (httpx) and the error types rebuilt from ``Status``
* ``messages``  calicoctl's wording of those errors
* ``manifests`` files, stdin, directories, multi-document YAML and Lists
* ``decode``    Go-style decoding of manifests with the server's schemas
* ``output``    tables (tabwriter), YAML, JSON; ``gotemplate`` the Go template subset
* ``batch``     ordered or bounded-concurrent execution with a terminal progress bar
* ``config``    flags, env and CalicoAPIConfig files → a connection

Kinds, aliases and table columns come from the server (discovery and Table responses).
"""
