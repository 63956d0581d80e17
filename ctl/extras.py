"""Verbs beyond calicoctl's resource commands: ``version``, ``diff`` and ``completion``."""
from __future__ import annotations

import difflib
from importlib import metadata
from typing import Any

from . import output
from .cli import VERBS, UsageError
from .client import ApiError, CtlError, NotFound
from .verbs import (CLIENT_VERSION, CommandError, Item, Session, describe_id, err, for_create,
                    for_update, load_items, namespace_problem, out, run_items)

_VOLATILE = ("uid", "creationTimestamp", "resourceVersion", "generation", "managedFields")
CALICOCTL_KINDS = ("bgpconfiguration", "bgpfilter", "bgppeer", "clusterinformation",
                   "felixconfiguration", "globalnetworkpolicy", "globalnetworkset",
                   "hostendpoint", "ippool", "ipreservation", "kubecontrollersconfiguration",
                   "networkpolicy", "networkset", "node", "profile",
                   "stagedglobalnetworkpolicy", "stagedkubernetesnetworkpolicy",
                   "stagednetworkpolicy", "tier", "workloadendpoint")


# -- version ---------------------------------------------------------------------------------
def run_version(session: Session) -> int:
    """Client version always; cluster details when the server answers."""
    try:
        package = metadata.version("calico-apiserver")
    except metadata.PackageNotFoundError:
        package = "unknown"
    out(f"Client Version:    {CLIENT_VERSION}\nctl package:       {package}\n")
    try:
        server = session.client.version()
        info = session.kind("clusterinformation")
        spec = session.client.get(info, "default", None).get("spec", {}) if info else {}
    except CtlError as exc:
        err(f"{exc}\n")
        return 1
    out(f"Cluster Version:   {spec.get('calicoVersion') or server.get('calicoVersion', '')}\n"
        f"Cluster Type:      {spec.get('clusterType', '')}\n"
        f"API Server:        {server.get('gitVersion', '')} ({server.get('platform', '')}, "
        f"cluster {server.get('clusterName', '')})\n")
    return 0


# -- diff ------------------------------------------------------------------------------------
def run_diff(session: Session) -> int:
    """A unified diff per resource between the stored object and what apply would store
    (server-side dry run). Exit 1 when anything differs or fails."""
    if not session.args.get("filename") or session.args.positionals:
        raise UsageError("diff")
    items = load_items(session)
    if items is None:
        out("No resources specified\n")
        return 0
    session.check_version()
    texts = run_items(items, lambda item: _diff_one(session, item), label="diffing")
    failed = False
    for item, text in zip(items, texts):
        if text and text.startswith("error: "):
            err(text[len("error: "):] + "\n")
            failed = True
        elif text:
            out(text)
            failed = True
    return 1 if failed else 0


def _diff_one(session: Session, item: Item) -> str | None:
    problem = namespace_problem(item, session.args.get("namespace"))
    if problem:
        return f"error: {problem}"
    try:
        try:
            live: dict[str, Any] | None = session.client.get(item.kind, item.name,
                                                             item.namespace)
        except NotFound:
            live = None
        if live is None:
            after = session.client.create(item.kind, for_create(item.obj), dry_run=True)
        else:
            after = session.client.replace(item.kind, for_update(item.obj), dry_run=True)
    except ApiError as exc:
        return f"error: {item.describe(exc, verb='apply')}"
    before = output.to_yaml(_stable(live)).splitlines(keepends=True) if live else []
    now = output.to_yaml(_stable(after)).splitlines(keepends=True)
    who = describe_id(item)
    lines = difflib.unified_diff(before, now, fromfile=f"{who} (live)",
                                 tofile=f"{who} (applied)")
    return "".join(lines) or None


def _stable(obj: dict) -> dict:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE}
    return output.go_order({**obj, "metadata": meta})


# -- completion ------------------------------------------------------------------------------
_BASH = r"""# bash completion for ctl (source <(ctl completion bash))
_ctl_complete() {
    local cur prev verb i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    verb=""
    for ((i=1; i<COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in -*) ;; *) verb="${COMP_WORDS[i]}"; break;; esac
    done
    case "$prev" in
        -f|--filename|-c|--config|--certificate-authority|--client-certificate|--client-key)
            COMPREPLY=($(compgen -f -- "$cur")); return;;
        -o|--output)
            COMPREPLY=($(compgen -W "ps wide yaml json custom-columns= go-template= go-template-file=" -- "$cur")); return;;
        -t|--type)
            COMPREPLY=($(compgen -W "strategic merge json" -- "$cur")); return;;
    esac
    if [[ -z "$verb" ]]; then
        COMPREPLY=($(compgen -W "VERBS" -- "$cur")); return
    fi
    if [[ "$cur" == -* ]]; then
        case "$verb" in
OPTIONS
        esac
        return
    fi
    local kind="" n=0
    for ((j=i+1; j<COMP_CWORD; j++)); do
        case "${COMP_WORDS[j]}" in -*) ;; *) kind="${COMP_WORDS[j]}"; n=$((n+1));; esac
    done
    case "$verb" in
        get|delete|patch|label)
            if [[ $n -eq 0 ]]; then
                COMPREPLY=($(compgen -W "KINDS" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(ctl get "$kind" -o 'go-template={{range .}}{{range .Items}}{{.ObjectMeta.Name}} {{end}}{{end}}' 2>/dev/null)" -- "$cur"))
            fi;;
        completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur"));;
    esac
}
complete -F _ctl_complete ctl
"""

_ZSH = """#compdef ctl
# zsh completion for ctl (ctl completion zsh > "${fpath[1]}/_ctl")
autoload -U +X bashcompinit && bashcompinit
"""


def _options(verb: str) -> str:
    words = [f"--{o.long}" for o in VERBS[verb]] + [f"-{o.short}" for o in VERBS[verb]
                                                     if o.short]
    words += ["--server", "--token", "--timeout", "--help"]
    return f'            {verb}) COMPREPLY=($(compgen -W "{" ".join(words)}" -- "$cur"));;'


def bash_script() -> str:
    return (_BASH.replace("VERBS", " ".join(VERBS)).replace("KINDS", " ".join(CALICOCTL_KINDS))
            .replace("OPTIONS", "\n".join(_options(v) for v in VERBS)))


def run_completion(session: Session) -> int:
    shells = session.args.positionals
    if len(shells) != 1:
        raise UsageError("completion")
    if shells[0] == "bash":
        out(bash_script())
    elif shells[0] == "zsh":
        out(_ZSH + bash_script())
    else:
        raise CommandError(f"unsupported shell '{shells[0]}': use bash or zsh")
    return 0
