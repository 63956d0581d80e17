"""A subset of Go's ``text/template``, enough for calicoctl's ``-o go-template``.

Supported: text, ``{{pipeline}}``, trim markers ``{{-``/``-}}``, comments, ``if``/``else if``/
``else``, ``range`` (with ``$i, $v :=``), ``with``, variables (``$``, ``$x := …``), field
chains (``.ObjectMeta.Name``), string/number/bool literals, parenthesised pipelines, ``|``
and the functions ``len index print printf println eq ne lt le gt ge and or not``.

Data is the calicoctl shape: a slice of objects, each with Go field names (``TypeMeta``,
``ObjectMeta``, ``ListMeta``, ``Items``, ``Spec``; embedded fields are promoted, so ``.Name``
and ``.Kind`` work too). Field names match JSON keys case-insensitively (``CIDR`` = ``cidr``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

NO_VALUE = "<no value>"


class TemplateError(Exception):
    pass


# -- data --------------------------------------------------------------------------------------
class GoObject:
    """A JSON object seen through Go struct field names."""

    _EMBEDDED = {"TypeMeta": ("kind", "apiVersion"), "ObjectMeta": "metadata",
                 "ListMeta": "metadata"}

    def __init__(self, data: dict[str, Any], *, top: bool = False) -> None:
        self.data, self.top = data, top

    def field(self, name: str) -> Any:
        if self.top and name == "TypeMeta":
            return GoObject({k: self.data[k] for k in ("kind", "apiVersion") if k in self.data})
        if self.top and name in ("ObjectMeta", "ListMeta"):
            return wrap(self.data.get("metadata") or {})
        for key, value in self.data.items():
            if key.lower() == name.lower():
                return wrap(value)
        if self.top:
            meta = self.data.get("metadata") or {}
            for key, value in meta.items():
                if key.lower() == name.lower():
                    return wrap(value)
        return None

    def __len__(self) -> int:
        return len(self.data)


def wrap(value: Any) -> Any:
    if isinstance(value, dict):
        top = "apiVersion" in value and "kind" in value
        return GoObject(value, top=top)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def go_view(objects: list[dict]) -> list[Any]:
    """calicoctl's template data: the ``[]runtime.Object`` of the results."""
    return [wrap(o) for o in objects]


def show(value: Any) -> str:
    """``fmt.Print`` of a value."""
    if value is None:
        return NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(show(v) for v in value) + "]"
    if isinstance(value, GoObject):
        return "map[" + " ".join(f"{k}:{show(wrap(v))}" for k, v in
                                 sorted(value.data.items())) + "]"
    return str(value)


def truth(value: Any) -> bool:
    if isinstance(value, GoObject):
        return bool(value.data)
    return bool(value)


# -- parsing -------------------------------------------------------------------------------------
_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:\\.|[^"\\])*"|`[^`]*`)|(?P<num>-?\d+(?:\.\d+)?)
    |(?P<decl>:=)|(?P<pipe>\|)|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)
    |(?P<var>\$\w*)(?P<varfields>(?:\.\w+)*)|(?P<fields>(?:\.\w+)+|\.)|(?P<ident>\w+))""", re.X)


@dataclass
class Node:
    kind: str                       # text, action, if, range, with
    value: Any = None               # text or pipeline
    body: list["Node"] | None = None
    alt: list["Node"] | None = None
    names: tuple[str, ...] = ()     # variables declared by range/assignment


def _split(template: str) -> list[tuple[str, str]]:
    """(kind, text) pieces: ``text`` and ``action`` with trim markers applied."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    for m in _ACTION.finditer(template):
        text = template[pos:m.start()]
        if m.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", m.group(2).strip()))
        pos = m.end()
        if m.group(3):
            rest = template[pos:]
            pos += len(rest) - len(rest.lstrip())
    pieces.append(("text", template[pos:]))
    return [p for p in pieces if p != ("text", "")]


def parse(template: str) -> list[Node]:
    """The template's syntax tree. Raises TemplateError."""
    pieces = _split(template)
    nodes, end = _parse_list(pieces, 0, ())
    if end != len(pieces):
        raise TemplateError(f"unexpected {{{{{pieces[end][1]}}}}}")
    return nodes


def _parse_list(pieces: list[tuple[str, str]], i: int,
                stops: tuple[str, ...]) -> tuple[list[Node], int]:
    out: list[Node] = []
    while i < len(pieces):
        kind, text = pieces[i]
        if kind == "text":
            out.append(Node("text", text))
            i += 1
            continue
        word = text.split(None, 1)[0] if text else ""
        if word in stops:
            return out, i
        if text.startswith("/*"):
            i += 1
            continue
        if word in ("if", "range", "with"):
            node, i = _parse_block(pieces, i, word, text[len(word):].strip())
            out.append(node)
            continue
        if word in ("end", "else"):
            raise TemplateError(f"unexpected {{{{{text}}}}}")
        out.append(_action_node(text))
        i += 1
    if stops:
        raise TemplateError("unexpected EOF: missing {{end}}")
    return out, i


def _parse_block(pieces: list[tuple[str, str]], i: int, word: str,
                 arg: str) -> tuple[Node, int]:
    names: tuple[str, ...] = ()
    if word in ("range", "with") and ":=" in arg:
        left, arg = arg.split(":=", 1)
        names = tuple(n.strip() for n in left.split(","))
    node = Node(word, _pipeline(arg), names=names)
    node.body, i = _parse_list(pieces, i + 1, ("end", "else"))
    text = pieces[i][1]
    if text.startswith("else"):
        rest = text[4:].strip()
        if rest.startswith("if ") and word == "if":
            inner, i = _parse_block(pieces, i, "if", rest[3:].strip())
            node.alt = [inner]
            return node, i
        node.alt, i = _parse_list(pieces, i + 1, ("end",))
    return node, i + 1


def _action_node(text: str) -> Node:
    m = re.match(r"^(\$\w*)\s*:?=\s*(.*)$", text, re.S)
    if m and ":=" in text.split('"')[0] + "=":
        return Node("assign", _pipeline(m.group(2)), names=(m.group(1),))
    return Node("action", _pipeline(text))


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"bad syntax in {{{{{text}}}}}")
        pos = m.end()
        kind = m.lastgroup if m.lastgroup != "varfields" else "var"
        if m.group("var") is not None:
            out.append(("var", m.group("var") + (m.group("varfields") or "")))
        else:
            out.append((kind, m.group(kind)))
    return out


def _pipeline(text: str) -> list:
    tokens = _tokens(text)
    cmds, pos = _parse_pipeline(tokens, 0)
    if pos != len(tokens):
        raise TemplateError(f"unexpected {tokens[pos][1]!r} in {{{{{text}}}}}")
    return cmds


def _parse_pipeline(tokens: list[tuple[str, str]], pos: int) -> tuple[list, int]:
    cmds: list[list] = [[]]
    while pos < len(tokens) and tokens[pos][0] != "rp":
        kind, value = tokens[pos]
        if kind == "pipe":
            cmds.append([])
            pos += 1
        elif kind == "lp":
            inner, pos = _parse_pipeline(tokens, pos + 1)
            if pos >= len(tokens):
                raise TemplateError("unclosed (")
            pos += 1
            chain = ""
            if pos < len(tokens) and tokens[pos][0] == "fields" and tokens[pos][1] != ".":
                chain, pos = tokens[pos][1], pos + 1
            cmds[-1].append(("sub", (inner, chain)))
        else:
            cmds[-1].append((kind, value))
            pos += 1
    if any(not c for c in cmds):
        raise TemplateError("missing value for command")
    return cmds, pos


# -- execution ------------------------------------------------------------------------------
def _compare(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def fn(a: Any, *others: Any) -> bool:
        return any(op(a, b) for b in others) if op is _eq else op(a, others[0])
    return fn


def _eq(a: Any, b: Any) -> bool:
    return a == b


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, GoObject):
            value = wrap(value.data.get(key))
        elif isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            value = value[key]
        else:
            raise TemplateError(f"error calling index: cannot index {show(value)} with {key!r}")
    return value


def _printf(fmt: str, *args: Any) -> str:
    out = re.sub(r"%[-+# 0-9.]*[vsdqtfg]", "{}", fmt.replace("%%", "\0"))
    return out.format(*[show(a) for a in args]).replace("\0", "%")


FUNCS: dict[str, Callable[..., Any]] = {
    "len": len, "index": _index, "printf": _printf,
    "print": lambda *a: "".join(show(x) for x in a),
    "println": lambda *a: " ".join(show(x) for x in a) + "\n",
    "eq": _compare(_eq), "ne": _compare(lambda a, b: a != b), "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b), "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b), "not": lambda a: not truth(a),
    "and": lambda *a: next((x for x in a if not truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if truth(x)), a[-1]),
}


class _Scope:
    def __init__(self, root: Any) -> None:
        self.vars: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        for frame in reversed(self.vars):
            if name in frame:
                return frame[name]
        raise TemplateError(f"undefined variable: {name}")


def _fields(value: Any, chain: str) -> Any:
    for name in [n for n in chain.split(".") if n]:
        if isinstance(value, GoObject):
            value = value.field(name)
        elif value is None:
            return None
        else:
            raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
    return value


def _operand(token: tuple, dot: Any, scope: _Scope) -> Any:
    kind, value = token
    if kind == "str":
        return value[1:-1] if value[0] == "`" else bytes(value[1:-1], "utf-8").decode(
            "unicode_escape")
    if kind == "num":
        return float(value) if "." in value else int(value)
    if kind == "fields":
        return dot if value == "." else _fields(dot, value)
    if kind == "var":
        name, _, chain = value.partition(".")
        return _fields(scope.get(name), chain)
    if kind == "sub":
        return _fields(_run_pipeline(value[0], dot, scope), value[1])
    if kind == "ident" and value in ("true", "false"):
        return value == "true"
    if kind == "ident" and value == "nil":
        return None
    raise TemplateError(f"function {value!r} not defined")


def _run_pipeline(cmds: list, dot: Any, scope: _Scope) -> Any:
    result: Any = None
    for n, cmd in enumerate(cmds):
        head = cmd[0]
        if head[0] == "ident" and head[1] in FUNCS:
            args = [_operand(t, dot, scope) for t in cmd[1:]]
            if n:
                args.append(result)
            try:
                result = FUNCS[head[1]](*args)
            except TypeError as err:
                raise TemplateError(f"error calling {head[1]}: {err}") from None
        else:
            if len(cmd) > 1 or n:
                raise TemplateError(f"can't give argument to non-function {head[1]}")
            result = _operand(head, dot, scope)
    return result


def _run(nodes: list[Node], dot: Any, scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "action":
            out.append(show(_run_pipeline(node.value, dot, scope)))
        elif node.kind == "assign":
            scope.vars[-1][node.names[0]] = _run_pipeline(node.value, dot, scope)
        elif node.kind == "if":
            branch = node.body if truth(_run_pipeline(node.value, dot, scope)) else node.alt
            _run(branch or [], dot, scope, out)
        elif node.kind == "with":
            value = _run_pipeline(node.value, dot, scope)
            scope.vars.append({node.names[0]: value} if node.names else {})
            try:
                _run(node.body if truth(value) else node.alt or [],
                     value if truth(value) else dot, scope, out)
            finally:
                scope.vars.pop()
        else:
            _range(node, _run_pipeline(node.value, dot, scope), dot, scope, out)


def _range(node: Node, value: Any, dot: Any, scope: _Scope, out: list[str]) -> None:
    if isinstance(value, GoObject):
        pairs = [(k, wrap(v)) for k, v in sorted(value.data.items())]
    elif isinstance(value, list):
        pairs = list(enumerate(value))
    elif value is None:
        pairs = []
    else:
        raise TemplateError(f"range can't iterate over {show(value)}")
    if not pairs:
        _run(node.alt or [], dot, scope, out)
        return
    for key, item in pairs:
        frame: dict[str, Any] = {}
        if len(node.names) == 2:
            frame = {node.names[0]: key, node.names[1]: item}
        elif len(node.names) == 1:
            frame = {node.names[0]: item}
        scope.vars.append(frame)
        try:
            _run(node.body or [], item, scope, out)
        finally:
            scope.vars.pop()


def render(template: str, data: Any) -> str:
    """Execute ``template`` on ``data``. Raises TemplateError."""
    out: list[str] = []
    _run(parse(template), data, _Scope(data), out)
    return "".join(out)
