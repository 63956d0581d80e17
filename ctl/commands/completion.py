"""``completion``: a bash (or zsh, through bashcompinit) script that completes commands,
options and kinds as the help texts list them, and resource names by asking the apiserver."""
from __future__ import annotations

from ..arguments import options
from ..helptext import COMMANDS, RESOURCE_TYPES, usage
from ..session import CommandError, Session, out

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
        KIND_COMMANDS)
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


def run(session: Session) -> int:
    shell = session.args.get("<SHELL>")
    if shell == "bash":
        out(_bash_script())
    elif shell == "zsh":
        out(_ZSH + _bash_script())
    else:
        raise CommandError(f"unsupported shell '{shell}': use bash or zsh")
    return 0


def _bash_script() -> str:
    return (_BASH.replace("VERBS", " ".join(COMMANDS))
            .replace("KIND_COMMANDS", "|".join(c for c in COMMANDS if "<KIND>" in usage(c)))
            .replace("KINDS", " ".join(RESOURCE_TYPES))
            .replace("OPTIONS", "\n".join(_options_case(c) for c in COMMANDS)))


def _options_case(command: str) -> str:
    """The ``case`` arm offering every option ``command``'s help text declares."""
    declared = options(COMMANDS[command].text)
    words = sorted(o.long for o in declared if o.long) + sorted(o.short for o in declared
                                                                 if o.short)
    return f'            {command}) COMPREPLY=($(compgen -W "{" ".join(words)}" -- "$cur"));;'
