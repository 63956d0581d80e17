"""ctl's shape: its modules import one way (a DAG), only at module level and never from the
server; every command's help lists each option once, and the parser accepts exactly the
options the help lists."""
from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctl import cli, helptext
from ctl.arguments import HelpShown, UsageError, parse

CTL = Path(__file__).resolve().parents[1] / "ctl"
# The first line of an option: "  -s --long=<V>", "  -s" or "     --long=<V>".
OPTION_LINE = re.compile(r"^  (?:(-[A-Za-z])(?: (--[a-z][\w-]*))?|   (--[a-z][\w-]*))(=<)?")
# Arguments to which an option of the command is added: it is accepted when one of them with
# it parses (an option another one needs, such as -f, is tried with none).
BASES = {
    "get": [["ippool"], ["-f", "x"], []],
    "create": [["-f", "x"], []], "apply": [["-f", "x"], []], "replace": [["-f", "x"], []],
    "validate": [["-f", "x"], []], "diff": [["-f", "x"], []],
    "delete": [["ippool", "n"], ["ippool"], ["-f", "x"], []],
    "patch": [["ippool", "n", "-p", "{}"], ["ippool", "n"]],
    "label": [["pool", "n", "a"], ["pool", "a"], ["pool", "-l", "s", "a"]],
    "version": [[]], "completion": [["bash"]],
    "convert": [["-f", "x"], []], "node": [["status"]], "cluster": [["diags"]],
    "ipam": [["show"], ["check"], ["release"], ["configure"]],
    "datastore": [["migrate", "export"], ["migrate", "import", "-f", "x"],
                  ["migrate", "import"]],
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(CTL.rglob("*.py")):
        parts = list(path.relative_to(CTL.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(module: str, path: Path) -> list[str]:
    """The modules ``module`` imports (the submodules a ``from`` import names, if any)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package(module, path).split(".")
                anchor = ".".join(package[:len(package) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            names = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            found += names or [base]
    return found


def _graph() -> dict[str, set[str]]:
    return {module: {name for name in _imports(module, path) if name in MODULES and
                     name != module}
            for module, path in MODULES.items()}


def test_ctl_modules_form_an_import_dag():
    graph = _graph()
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import cycle: " + " -> ".join(
            trail[trail.index(module):] + [module])
        state[module] = "open"
        for target in sorted(graph[module]):
            visit(target, trail + [module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])
    assert graph["ctl.cli"] >= {"ctl.arguments", "ctl.session"}


def test_ctl_imports_only_at_module_level():
    nested = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        nested += [f"{module}:{node.lineno}" for node in ast.walk(tree)
                   if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top]
    assert nested == []


SERVER_PACKAGES = ("apiserver", "aiohttp", "aetcd", "grpc")


def test_ctl_never_imports_the_server():
    server = [f"{module}: {name}" for module, path in MODULES.items()
              for name in _imports(module, path)
              if name.split(".")[0] in SERVER_PACKAGES]
    assert server == []


def test_ctl_with_every_command_loaded_holds_no_server_code():
    """What the static check above cannot see: nothing ctl imports (the shared model that
    ``validate`` uses, say) pulls in the server, its HTTP framework or etcd's client."""
    script = ("import sys, ctl.cli, ctl.offline\n"
              + "".join(f"import ctl.commands.{m}\n" for m in set(cli.COMMANDS.values()))
              + "print(sorted({m.split('.')[0] for m in sys.modules} & "
              + f"{set(SERVER_PACKAGES)!r}))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=CTL.parent).stdout
    assert loaded.strip() == "[]"


def test_every_command_has_a_help_text_and_a_handler():
    assert list(cli.COMMANDS) == list(helptext.COMMANDS)
    for command, module in cli.COMMANDS.items():
        assert callable(importlib.import_module(f"ctl.commands.{module}").run), command


def _help(command: str, capsys) -> str:
    capsys.readouterr()
    assert cli.main([command, "--help"] if command else ["--help"]) == 0
    return capsys.readouterr().out


def _listed(text: str) -> dict[str, bool]:
    """Every option the help lists, each with whether it takes a value; fails on a repeat."""
    seen: dict[str, bool] = {}
    for line in text.splitlines():
        m = OPTION_LINE.match(line)
        for name in filter(None, m.group(1, 2, 3) if m else ()):
            assert name not in seen, f"{name} listed twice:\n{text}"
            seen[name] = bool(m.group(4))
    return seen


@pytest.mark.parametrize("command", ["", *helptext.COMMANDS])
def test_help_lists_each_option_once(command, capsys):
    listed = _listed(_help(command, capsys))
    assert {"-h", "--help"} <= set(listed)


def test_the_parser_accepts_exactly_the_options_the_help_lists(capsys):
    texts = {c: _help(c, capsys) for c in ["", *helptext.COMMANDS]}
    listed = {c: _listed(text) for c, text in texts.items()}
    program = listed.pop("")
    # every option named anywhere (a usage pattern too), every option listed, two unknown
    candidates = {name: f"{name}=<" in text for text in texts.values()
                  for name in re.findall(r"(?<![\w-])--[a-z][\w-]*", text)}
    candidates |= {name: value for options in [*listed.values(), program]
                   for name, value in options.items()}
    candidates |= {"--no-such-option": False, "-Z": False}

    def accepted(argv: list[str]) -> bool:
        try:
            parse(argv)
        except HelpShown:
            capsys.readouterr()
        except UsageError:
            return False
        return True

    def spelled(name: str) -> list[str]:
        if not candidates[name]:
            return [name]
        return [f"{name}=x"] if name.startswith("--") else [name, "x"]

    for command in helptext.COMMANDS:
        bases = BASES[command]
        assert any(accepted([command, *base]) for base in bases), command
        for name in sorted(candidates):
            ok = any(accepted([command, *base, *spelled(name)]) for base in bases)
            assert ok == (name in listed[command]), (command, name)
    for name in sorted(candidates):
        assert accepted([*spelled(name), "version"]) == (name in program), name
