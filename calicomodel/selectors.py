"""Label selectors: Calico's selector language, Kubernetes label selectors, field selectors.

Calico selectors (``spec.selector``, ``namespaceSelector``, rule selectors …) behave exactly
like libcalico-go's ``lib/selector`` (tokenizer, parser, ``ast.go``)::

    selector := WS* EOF                           the empty selector means all()
              | or EOF
    or       := and ( "||" and )*                  lowest precedence
    and      := op ( "&&" op )*
    op       := "!"* ( "has(" WS* LABEL WS* ")"
                     | "all(" WS* ")" | "global(" WS* ")"
                     | LABEL ( "==" | "!=" | "contains" | "starts" WS* "with"
                             | "ends" WS* "with" ) STRING
                     | LABEL ( "in" | "not" WS* "in" ) "{" [ STRING ( "," STRING )* [","] ] "}"
                     | "(" or ")" )
    LABEL    := [A-Za-z0-9_./-]{1,512}
    STRING   := '"' [^"]* '"' | "'" [^']* "'"    no escapes
    WS       := " " | "\\t"                        allowed between tokens; a newline is an error

Keyword operators are recognised only right after a LABEL (so a label may be called
``contains`` or ``in``). Leading ``!``s collapse by parity and negate one operation or one
parenthesised group. Semantics: ``==`` needs the label present and equal; ``!=`` is true when the
label is absent or different; ``contains``/``starts with``/``ends with``/``in`` need the label
present; ``not in`` is true when the label is absent or not in the set; ``has(l)`` tests presence;
``all()`` and ``global()`` are always true (``global()`` only carries meaning for an
EntityRule's namespaceSelector, which validation checks through `Selector.is_global_only`).

Limits, so hostile input costs bounded time and memory: at most `MAX_SELECTOR_LENGTH`
characters and `MAX_NESTING_DEPTH` nested parentheses (a ``!`` chain is collapsed while
parsing and costs no depth). Tokenizing is linear in the input length.

`parse_label_selector` implements the Kubernetes ``labelSelector`` query parameter
(``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``, ``k>1``,
``k<1``; comma means AND). `parse_field_selector` implements ``fieldSelector`` over
``metadata.name`` and ``metadata.namespace`` (``=``, ``==``, ``!=``; comma means AND).

Every parse failure raises `SelectorError`, whose message says what is wrong, where, and in which
selector.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = [
    "MAX_LABEL_LENGTH",
    "MAX_NESTING_DEPTH",
    "MAX_SELECTOR_LENGTH",
    "FieldMatcher",
    "LabelMatcher",
    "Selector",
    "SelectorError",
    "parse",
    "parse_field_selector",
    "parse_label_selector",
]

MAX_SELECTOR_LENGTH = 64 * 1024
"""Longest selector text (in characters) any parser here accepts."""

MAX_NESTING_DEPTH = 128
"""Deepest parenthesis nesting a Calico selector may use."""

MAX_LABEL_LENGTH = 512
"""Longest label name in a Calico selector (libcalico-go ``tokenizer.LabelKeyMatcher``)."""

_CACHEABLE_LENGTH = 4096
"""Only selectors up to this length are kept in the parse cache, bounding its memory."""

LabelMatcher = Callable[[Mapping[str, str]], bool]
FieldMatcher = Callable[[Mapping[str, object]], bool]


class SelectorError(ValueError):
    """A selector (Calico, label or field) could not be parsed; the message says why and where."""


def _shown(text: str) -> str:
    """Return `text` with control characters escaped, for quoting in an error message."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _located(problem: str, *, pos: int, text: str, what: str, hint: str = "") -> SelectorError:
    """Build a SelectorError for `problem` found at (0-based) character offset `pos` of `text`.

    Long inputs are quoted as a window around `pos` so the message stays readable.
    """
    if len(text) <= 160:
        quoted = _quoted(_shown(text))
    else:
        start, end = max(0, pos - 40), min(len(text), pos + 40)
        head = "…" if start else ""
        tail = "…" if end < len(text) else ""
        quoted = f"(near {_quoted(head + _shown(text[start:end]) + tail)})"
    return SelectorError(f"{problem} at position {pos} in {what} {quoted}{hint and '; ' + hint}")


def _quoted(value: str) -> str:
    """Quote `value` with double quotes, or single quotes if it contains a double quote."""
    quote = "'" if '"' in value else '"'
    return f"{quote}{value}{quote}"


def _check_length(text: str, what: str) -> None:
    if len(text) > MAX_SELECTOR_LENGTH:
        raise SelectorError(
            f"{what} is {len(text)} characters long; the maximum is {MAX_SELECTOR_LENGTH}"
        )


# --------------------------------------------------------------------------------------------
# Calico selector: tokens
# --------------------------------------------------------------------------------------------

_LABEL = "label"
_STRING = "string"
_HAS = "has"
_ALL = "all()"
_GLOBAL = "global()"
_END = "end"
_COMPARISONS = frozenset({"==", "!=", "contains", "starts with", "ends with"})
_SET_OPERATORS = frozenset({"in", "not in"})

_LABEL_RE = re.compile(r"[A-Za-z0-9_./-]+")
# Tried only right after a label; the look-ahead demands a word boundary after the keyword.
_KEYWORD_OP_RE = re.compile(
    r"(contains|starts[ \t]*with|ends[ \t]*with|not[ \t]*in|in)(?![A-Za-z0-9_./-])"
)
_KEYWORD_KINDS = {"c": "contains", "s": "starts with", "e": "ends with", "n": "not in", "i": "in"}
_SUGGESTIONS = {"=": "==", "&": "&&", "|": "||"}
_OPERATOR_HELP = "==, !=, contains, starts with, ends with, in, not in"


class _Token(NamedTuple):
    kind: str  # one of the constants above, or the literal punctuation / operator
    value: str  # label name or string contents; "" otherwise
    pos: int  # character offset in the selector text

    def describe(self) -> str:
        if self.kind == _LABEL:
            return f'label "{self.value}"'
        if self.kind == _STRING:
            return f"string {_quoted(self.value)}"
        if self.kind == _HAS:
            return f"'has({self.value})'"
        if self.kind == _END:
            return "end of selector"
        return f"'{self.kind}'"


def _tokenize(text: str) -> list[_Token]:
    """Split `text` into tokens ending with an _END token, mirroring libcalico-go's tokenizer.

    Raises SelectorError on characters that cannot start a token, unterminated strings,
    lone ``=``/``&``/``|``, malformed ``has(…)``/``all()``/``global()`` and over-long labels.
    """
    tokens: list[_Token] = []
    size = len(text)
    pos = 0
    after_label = False
    while True:
        pos = _skip_blanks(text, pos)
        if pos == size:
            tokens.append(_Token(_END, "", pos))
            return tokens
        char = text[pos]
        if char in "(){},":
            tokens.append(_Token(char, "", pos))
            pos += 1
        elif char in "\"'":
            close = text.find(char, pos + 1)
            if close < 0:
                raise _located(f"unterminated string (no closing {char})", pos=pos, text=text,
                               what="selector")
            tokens.append(_Token(_STRING, text[pos + 1:close], pos))
            pos = close + 1
        elif text.startswith(("==", "!=", "&&", "||"), pos):
            tokens.append(_Token(text[pos:pos + 2], "", pos))
            pos += 2
        elif char == "!":
            tokens.append(_Token("!", "", pos))
            pos += 1
        elif char in _SUGGESTIONS:
            raise _located(f"unexpected '{char}'", pos=pos, text=text, what="selector",
                           hint=f"did you mean '{_SUGGESTIONS[char]}'?")
        elif after_label:
            match = _KEYWORD_OP_RE.match(text, pos)
            if match is None:
                raise _located(
                    f"expected an operator ({_OPERATOR_HELP}) after {tokens[-1].describe()}",
                    pos=pos, text=text, what="selector")
            tokens.append(_Token(_KEYWORD_KINDS[char], "", pos))
            pos = match.end()
        elif text.startswith("has(", pos):
            label_pos = _skip_blanks(text, pos + 4)
            label = _read_label(text, label_pos)
            if label is None:
                raise _located("expected a label name after 'has('", pos=label_pos, text=text,
                               what="selector")
            close = _skip_blanks(text, label_pos + len(label))
            if not text.startswith(")", close):
                raise _located("expected ')' to close 'has('", pos=close, text=text,
                               what="selector")
            tokens.append(_Token(_HAS, label, pos))
            pos = close + 1
        elif text.startswith(("all(", "global("), pos):
            kind = _ALL if char == "a" else _GLOBAL
            close = _skip_blanks(text, pos + len(kind) - 1)
            if not text.startswith(")", close):
                raise _located(f"expected ')' to close '{kind[:-1]}'", pos=close, text=text,
                               what="selector")
            tokens.append(_Token(kind, "", pos))
            pos = close + 1
        else:
            label = _read_label(text, pos)
            if label is None:
                raise _located(f"unexpected character {char!r}", pos=pos, text=text,
                               what="selector")
            tokens.append(_Token(_LABEL, label, pos))
            pos += len(label)
        after_label = tokens[-1].kind == _LABEL


def _skip_blanks(text: str, pos: int) -> int:
    """Return the offset of the first character at or after `pos` that is not a space or tab."""
    size = len(text)
    while pos < size and text[pos] in " \t":
        pos += 1
    return pos


def _read_label(text: str, pos: int) -> str | None:
    """Return the label name starting at `pos`, or None if none starts there.

    Raises SelectorError if the name is longer than MAX_LABEL_LENGTH.
    """
    match = _LABEL_RE.match(text, pos)
    if match is None:
        return None
    if match.end() - pos > MAX_LABEL_LENGTH:
        raise _located(f"label name is longer than {MAX_LABEL_LENGTH} characters", pos=pos,
                       text=text, what="selector")
    return match.group()


# --------------------------------------------------------------------------------------------
# Calico selector: syntax tree
# --------------------------------------------------------------------------------------------


class _Node(Protocol):
    """A selector syntax-tree node; immutable."""

    @property
    def children(self) -> tuple[_Node, ...]: ...

    def compile(self) -> LabelMatcher:
        """Return a function evaluating this node against a label mapping."""
        ...

    def write(self, out: list[str]) -> None:
        """Append this node's canonical text fragments (libcalico-go ``collectFragments``)."""
        ...

    def prefixed(self, prefix: str) -> _Node:
        """Return a copy with `prefix` prepended to every label name."""
        ...


def _always(labels: Mapping[str, str]) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class _Always:
    """``all()`` or ``global()``: true for any labels; ``call`` is which one was written."""

    call: str

    def compile(self) -> LabelMatcher:
        return _always

    @property
    def children(self) -> tuple[_Node, ...]:
        return ()

    def write(self, out: list[str]) -> None:
        out.append(f"{self.call}()")

    def prefixed(self, prefix: str) -> _Node:
        return self


_ALL_NODE, _GLOBAL_NODE = _Always("all"), _Always("global")


@dataclass(frozen=True, slots=True)
class _Has:
    label: str

    def compile(self) -> LabelMatcher:
        label = self.label
        return lambda labels: label in labels

    @property
    def children(self) -> tuple[_Node, ...]:
        return ()

    def write(self, out: list[str]) -> None:
        out.append(f"has({self.label})")

    def prefixed(self, prefix: str) -> _Node:
        return _Has(prefix + self.label)


@dataclass(frozen=True, slots=True)
class _Compare:
    label: str
    op: str  # one of _COMPARISONS
    value: str

    def compile(self) -> LabelMatcher:
        label, value = self.label, self.value
        if self.op == "==":
            return lambda labels: labels.get(label) == value
        if self.op == "!=":
            return lambda labels: labels.get(label) != value
        test: Callable[[str], bool] = {
            "contains": lambda actual: value in actual,
            "starts with": lambda actual: actual.startswith(value),
            "ends with": lambda actual: actual.endswith(value),
        }[self.op]

        def present_and(labels: Mapping[str, str]) -> bool:
            actual = labels.get(label)
            return actual is not None and test(actual)

        return present_and

    @property
    def children(self) -> tuple[_Node, ...]:
        return ()

    def write(self, out: list[str]) -> None:
        out.append(f"{self.label} {self.op} {_quoted(self.value)}")

    def prefixed(self, prefix: str) -> _Node:
        return _Compare(prefix + self.label, self.op, self.value)


@dataclass(frozen=True, slots=True)
class _InSet:
    label: str
    values: tuple[str, ...]  # sorted, no duplicates
    negated: bool  # True for "not in"

    def compile(self) -> LabelMatcher:
        label, values = self.label, frozenset(self.values)
        if self.negated:
            return lambda labels: labels.get(label) not in values
        return lambda labels: labels.get(label) in values

    @property
    def children(self) -> tuple[_Node, ...]:
        return ()

    def write(self, out: list[str]) -> None:
        op = "not in" if self.negated else "in"
        out.append(f"{self.label} {op} {{{', '.join(map(_quoted, self.values))}}}")

    def prefixed(self, prefix: str) -> _Node:
        return _InSet(prefix + self.label, self.values, self.negated)


@dataclass(frozen=True, slots=True)
class _Not:
    operand: _Node

    def compile(self) -> LabelMatcher:
        operand = self.operand.compile()
        return lambda labels: not operand(labels)

    @property
    def children(self) -> tuple[_Node, ...]:
        return (self.operand,)

    def write(self, out: list[str]) -> None:
        out.append("!")
        self.operand.write(out)

    def prefixed(self, prefix: str) -> _Node:
        return _Not(self.operand.prefixed(prefix))


@dataclass(frozen=True, slots=True)
class _And:
    operands: tuple[_Node, ...]  # at least two

    def compile(self) -> LabelMatcher:
        operands = tuple(operand.compile() for operand in self.operands)

        def all_match(labels: Mapping[str, str]) -> bool:
            for operand in operands:
                if not operand(labels):
                    return False
            return True

        return all_match

    @property
    def children(self) -> tuple[_Node, ...]:
        return self.operands

    def write(self, out: list[str]) -> None:
        _write_joined(out, " && ", self.operands)

    def prefixed(self, prefix: str) -> _Node:
        return _And(tuple(operand.prefixed(prefix) for operand in self.operands))


@dataclass(frozen=True, slots=True)
class _Or:
    operands: tuple[_Node, ...]  # at least two

    def compile(self) -> LabelMatcher:
        operands = tuple(operand.compile() for operand in self.operands)

        def any_match(labels: Mapping[str, str]) -> bool:
            for operand in operands:
                if operand(labels):
                    return True
            return False

        return any_match

    @property
    def children(self) -> tuple[_Node, ...]:
        return self.operands

    def write(self, out: list[str]) -> None:
        _write_joined(out, " || ", self.operands)

    def prefixed(self, prefix: str) -> _Node:
        return _Or(tuple(operand.prefixed(prefix) for operand in self.operands))


def _write_joined(out: list[str], separator: str, operands: tuple[_Node, ...]) -> None:
    out.append("(")
    for index, operand in enumerate(operands):
        if index:
            out.append(separator)
        operand.write(out)
    out.append(")")


# --------------------------------------------------------------------------------------------
# Calico selector: parser and public type
# --------------------------------------------------------------------------------------------


class _Parser:
    """Recursive-descent parser over the token list; recursion is bounded by MAX_NESTING_DEPTH."""

    __slots__ = ("_text", "_tokens", "_index")

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokenize(text)
        self._index = 0

    def parse(self) -> _Node:
        if self._peek().kind == _END:
            return _ALL_NODE
        node = self._or(0)
        extra = self._peek()
        if extra.kind != _END:
            raise self._unexpected(extra, "expected '&&', '||' or the end of the selector")
        return node

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _next(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind != _END:
            self._index += 1
        return token

    def _unexpected(self, token: _Token, expected: str) -> SelectorError:
        return _located(f"{expected}, found {token.describe()}", pos=token.pos, text=self._text,
                        what="selector")

    def _or(self, depth: int) -> _Node:
        operands = [self._and(depth)]
        while self._peek().kind == "||":
            self._next()
            operands.append(self._and(depth))
        return operands[0] if len(operands) == 1 else _Or(tuple(operands))

    def _and(self, depth: int) -> _Node:
        operands = [self._operation(depth)]
        while self._peek().kind == "&&":
            self._next()
            operands.append(self._operation(depth))
        return operands[0] if len(operands) == 1 else _And(tuple(operands))

    def _operation(self, depth: int) -> _Node:
        negated = False
        while self._peek().kind == "!":
            self._next()
            negated = not negated
        token = self._next()
        node: _Node
        if token.kind == _HAS:
            node = _Has(token.value)
        elif token.kind == _ALL:
            node = _ALL_NODE
        elif token.kind == _GLOBAL:
            node = _GLOBAL_NODE
        elif token.kind == _LABEL:
            node = self._label_operation(token)
        elif token.kind == "(":
            if depth >= MAX_NESTING_DEPTH:
                raise _located(f"parentheses nested more than {MAX_NESTING_DEPTH} deep",
                               pos=token.pos, text=self._text, what="selector")
            node = self._or(depth + 1)
            close = self._next()
            if close.kind != ")":
                raise self._unexpected(
                    close, f"expected ')' matching the '(' opened at position {token.pos}")
        else:
            raise self._unexpected(
                token, "expected a label comparison, has(…), all(), global(), '!' or '('")
        return _Not(node) if negated else node

    def _label_operation(self, label: _Token) -> _Node:
        operator = self._next()
        if operator.kind in _COMPARISONS:
            value = self._next()
            if value.kind != _STRING:
                raise self._unexpected(value, f"expected a quoted string after '{operator.kind}'")
            return _Compare(label.value, operator.kind, value.value)
        if operator.kind in _SET_OPERATORS:
            brace = self._next()
            if brace.kind != "{":
                raise self._unexpected(brace, f"expected '{{' after '{operator.kind}'")
            values = set()
            token = self._next()
            while token.kind == _STRING:
                values.add(token.value)
                token = self._next()
                if token.kind != ",":
                    break
                token = self._next()
            if token.kind != "}":
                raise self._unexpected(
                    token, f"expected a quoted string, ',' or '}}' in the set opened at position "
                           f"{brace.pos}")
            return _InSet(label.value, tuple(sorted(values)), operator.kind == "not in")
        raise self._unexpected(operator,
                               f"expected an operator ({_OPERATOR_HELP}) after {label.describe()}")


@dataclass(frozen=True, slots=True, eq=False)
class Selector:
    """A parsed Calico selector; immutable and safe to share between threads.

    Build one with `parse`. Two selectors are equal when their canonical forms are equal.
    """

    _root: _Node
    _canonical: str
    _match: LabelMatcher

    @classmethod
    def _from_root(cls, root: _Node) -> Selector:
        fragments: list[str] = []
        root.write(fragments)
        return cls(root, "".join(fragments), root.compile())

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether `labels` satisfy the selector (libcalico-go ``Evaluate``)."""
        return self._match(labels)

    def __str__(self) -> str:
        """The canonical form (libcalico-go ``Selector.String()``), e.g. ``(a == "b" && has(c))``.
        """
        return self._canonical

    def __repr__(self) -> str:
        return f"Selector({self._canonical!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Selector) and other._canonical == self._canonical

    def __hash__(self) -> int:
        return hash(self._canonical)

    @property
    def unique_id(self) -> str:
        """``"s:" + base64url-no-pad(SHA-224("s:" + canonical))`` (libcalico-go ``UniqueID()``)."""
        digest = hashlib.sha224(f"s:{self._canonical}".encode()).digest()
        return "s:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    @property
    def uses_global(self) -> bool:
        """Whether ``global()`` appears anywhere in the selector."""
        pending = [self._root]
        while pending:
            node = pending.pop()
            if node is _GLOBAL_NODE:
                return True
            pending.extend(node.children)
        return False

    @property
    def is_global_only(self) -> bool:
        """Whether the whole selector is ``global()`` (redundant parentheses allowed)."""
        return self._root is _GLOBAL_NODE

    def with_label_prefix(self, prefix: str) -> Selector:
        """Return this selector with `prefix` prepended to every label name.

        This is libcalico-go's ``PrefixVisitor``; e.g. namespace selectors are evaluated against
        endpoint labels prefixed ``pcns.``.
        """
        return Selector._from_root(self._root.prefixed(prefix))


@functools.lru_cache(maxsize=2048)
def _parse_cached(text: str) -> Selector:
    return Selector._from_root(_Parser(text).parse())


def parse(text: str) -> Selector:
    """Parse a Calico selector; the empty (or all-blank) selector is ``all()``.

    Raises SelectorError if `text` is not a valid selector, is longer than MAX_SELECTOR_LENGTH
    characters or nests parentheses deeper than MAX_NESTING_DEPTH. Results for texts of up to a
    few KiB are cached, so callers need not keep parsed selectors around.
    """
    _check_length(text, "selector")
    if len(text) <= _CACHEABLE_LENGTH:
        return _parse_cached(text)
    return Selector._from_root(_Parser(text).parse())


# --------------------------------------------------------------------------------------------
# Kubernetes label selectors (k8s.io/apimachinery/pkg/labels/selector.go)
# --------------------------------------------------------------------------------------------

_K8S_TOKEN_RE = re.compile(r"[ \t\r\n]*(?:(!=|==|[=!(),<>])|([^ \t\r\n=!(),<>]+)|\Z)")
_K8S_IDENT = "identifier"
_K8S_END = "end"
_QUALIFIED_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_K8S_OPERATOR_HELP = "=, ==, !=, in, notin, >, <"


def _label_key_problem(key: str) -> str | None:
    """Return why `key` is not a Kubernetes qualified name, or None if it is one."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "the prefix before '/' must not be empty"
        if "/" in prefix:
            return "a label key may contain at most one '/'"
        if len(prefix) > 253 or not _DNS_SUBDOMAIN_RE.fullmatch(prefix):
            return ("the prefix before '/' must be a DNS-1123 subdomain of at most 253 "
                    "characters (lower-case alphanumerics, '-' and '.')")
    if not name:
        return "the name part must not be empty"
    if len(name) > 63 or not _QUALIFIED_NAME_RE.fullmatch(name):
        return ("the name part must be at most 63 characters of alphanumerics, '-', '_' or '.', "
                "starting and ending with an alphanumeric")
    return None


def _label_value_problem(value: str) -> str | None:
    """Return why `value` is not a Kubernetes label value, or None if it is one ("" is valid)."""
    if value and (len(value) > 63 or not _QUALIFIED_NAME_RE.fullmatch(value)):
        return ("a label value must be empty or at most 63 characters of alphanumerics, '-', '_' "
                "or '.', starting and ending with an alphanumeric")
    return None


def _as_int64(value: str | None) -> int | None:
    """Parse `value` like Go's ``strconv.ParseInt(value, 10, 64)``; None if it would fail."""
    if value is None or len(value) > 20 or not _INT64_RE.fullmatch(value):
        return None
    number = int(value)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


class _LabelSelectorParser:
    """Parser for the Kubernetes label selector syntax, following apimachinery's labels.Parse."""

    __slots__ = ("_text", "_tokens", "_index")

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens: list[_Token] = []
        pos = 0
        while True:
            match = _K8S_TOKEN_RE.match(text, pos)
            assert match is not None  # every character is a blank, a symbol or in an identifier
            if match.group(1):
                self._tokens.append(_Token(match.group(1), "", match.start(1)))
            elif match.group(2):
                self._tokens.append(_Token(_K8S_IDENT, match.group(2), match.start(2)))
            else:
                self._tokens.append(_Token(_K8S_END, "", len(text)))
                break
            pos = match.end()
        self._index = 0

    def _next(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind != _K8S_END:
            self._index += 1
        return token

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _error(self, problem: str, token: _Token) -> SelectorError:
        return _located(problem, pos=token.pos, text=self._text, what="label selector")

    def _unexpected(self, token: _Token, expected: str) -> SelectorError:
        if token.kind == _K8S_END:
            found = "the end of the selector"
        else:
            found = f"'{token.value or token.kind}'"
        return self._error(f"expected {expected}, found {found}", token)

    def parse(self) -> LabelMatcher:
        requirements: list[LabelMatcher] = []
        if self._peek().kind == _K8S_END:
            return _always
        while True:
            requirements.append(self._requirement())
            token = self._next()
            if token.kind == _K8S_END:
                break
            if token.kind != ",":
                raise self._unexpected(token, "',' or the end of the selector")
        if len(requirements) == 1:
            return requirements[0]
        matchers = tuple(requirements)
        return lambda labels: all(matcher(labels) for matcher in matchers)

    def _requirement(self) -> LabelMatcher:
        absent = self._peek().kind == "!"
        if absent:
            self._next()
        key_token = self._next()
        if key_token.kind != _K8S_IDENT:
            raise self._unexpected(key_token, "a label key")
        key = key_token.value
        problem = _label_key_problem(key)
        if problem:
            raise self._error(f'invalid label key "{key}": {problem}', key_token)
        if absent:
            return lambda labels: key not in labels
        if self._peek().kind in (",", _K8S_END):
            return lambda labels: key in labels
        operator = self._next()
        op = operator.value if operator.kind == _K8S_IDENT else operator.kind
        if op in ("in", "notin"):
            values = self._value_set()
            if op == "in":
                return lambda labels: labels.get(key) in values
            return lambda labels: labels.get(key) not in values
        if op in ("=", "==", "!="):
            value = self._exact_value()
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
        if op in (">", "<"):
            value_token = self._peek()
            bound = _as_int64(self._exact_value())
            if bound is None:
                raise self._error(f"the value after '{op}' must be an integer", value_token)
            if op == ">":
                return lambda labels: _compare_int(labels.get(key), bound) > 0
            return lambda labels: _compare_int(labels.get(key), bound) < 0
        raise self._unexpected(operator, f"an operator ({_K8S_OPERATOR_HELP}) after '{key}'")

    def _value(self, token: _Token) -> str:
        problem = _label_value_problem(token.value)
        if problem:
            raise self._error(f'invalid label value "{token.value}": {problem}', token)
        return token.value

    def _exact_value(self) -> str:
        """Parse the value after =, ==, !=, > or <; a missing value means ""."""
        if self._peek().kind in (",", _K8S_END):
            return ""
        token = self._next()
        if token.kind != _K8S_IDENT:
            raise self._unexpected(token, "a label value")
        return self._value(token)

    def _value_set(self) -> frozenset[str]:
        """Parse ``( v1, v2, … )``; empty entries, as in ``(a,)`` or ``()``, stand for ""."""
        opening = self._next()
        if opening.kind != "(":
            raise self._unexpected(opening, "'(' to start the list of values")
        values: set[str] = set()
        expect_value = True
        while True:
            token = self._next()
            if token.kind == ")":
                if expect_value:
                    values.add("")
                return frozenset(values)
            if token.kind == ",":
                if expect_value:
                    values.add("")
                expect_value = True
            elif token.kind == _K8S_IDENT and expect_value:
                values.add(self._value(token))
                expect_value = False
            else:
                raise self._unexpected(token, "a label value, ',' or ')'")


def _compare_int(actual: str | None, bound: int) -> int:
    """Return the sign of ``int(actual) - bound``; 0 when `actual` is missing or not an int64."""
    number = _as_int64(actual)
    if number is None:
        return 0
    return (number > bound) - (number < bound)


@functools.lru_cache(maxsize=256)
def parse_label_selector(text: str) -> LabelMatcher:
    """Parse a Kubernetes label selector (the ``labelSelector`` list parameter).

    Returns a predicate over a label mapping; requirements separated by commas must all hold, and
    the empty selector matches everything. ``!=`` and ``notin`` also match objects without the
    label; ``>``/``<`` need an integer label value. Raises SelectorError on bad syntax, on keys that
    are not qualified names, on invalid label values, and on texts longer than
    MAX_SELECTOR_LENGTH.
    """
    _check_length(text, "label selector")
    return _LabelSelectorParser(text).parse()


# --------------------------------------------------------------------------------------------
# Field selectors (k8s.io/apimachinery/pkg/fields/selector.go), metadata fields only
# --------------------------------------------------------------------------------------------

_SUPPORTED_FIELDS = {"metadata.name": "name", "metadata.namespace": "namespace"}
_FIELD_OPERATOR_RE = re.compile(r"!=|==|=")  # leftmost wins; at one offset, the longest
_FIELD_ESCAPES = {"\\": "\\", ",": ",", "=": "="}


def _split_unescaped(text: str) -> list[tuple[int, str]]:
    """Split `text` at commas not preceded by a backslash escape; return (offset, term) pairs."""
    terms: list[tuple[int, str]] = []
    start = 0
    index = 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == ",":
            terms.append((start, text[start:index]))
            start = index + 1
        index += 1
    terms.append((start, text[start:]))
    return terms


def _unescape_field_value(value: str, *, pos: int, text: str) -> str:
    r"""Resolve ``\\``, ``\,`` and ``\=``; raise SelectorError on other escapes or a bare ``=``."""
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\":
            escaped = _FIELD_ESCAPES.get(value[index + 1:index + 2])
            if escaped is None:
                raise _located(r"invalid escape sequence (only \\, \, and \= are allowed)",
                               pos=pos + index, text=text, what="field selector")
            out.append(escaped)
            index += 2
            continue
        if char == "=":
            raise _located(r"unescaped '=' in a value (write \=)", pos=pos + index, text=text,
                           what="field selector")
        out.append(char)
        index += 1
    return "".join(out)


def _field_term(term: str, *, pos: int, text: str) -> FieldMatcher:
    """Compile one ``<field><op><value>`` term found at offset `pos` of `text`.

    Raises SelectorError if the term has no operator, names an unsupported field or has a
    badly escaped value.
    """
    found = _FIELD_OPERATOR_RE.search(term)
    if found is None:
        raise _located(f'"{term}" is not of the form <field>=<value>, <field>==<value> or '
                       f"<field>!=<value>", pos=pos, text=text, what="field selector")
    index, op = found.start(), found.group()
    field = term[:index].strip()
    attribute = _SUPPORTED_FIELDS.get(field)
    if attribute is None:
        raise _located(f'unsupported field "{field}" (supported fields: '
                       f"{', '.join(_SUPPORTED_FIELDS)})", pos=pos, text=text,
                       what="field selector")
    raw_value = term[index + len(op):]
    value_pos = pos + index + len(op) + len(raw_value) - len(raw_value.lstrip())
    value = _unescape_field_value(raw_value.strip(), pos=value_pos, text=text)

    def actual(metadata: Mapping[str, object]) -> str:
        found = metadata.get(attribute)
        return found if isinstance(found, str) else ""

    if op == "!=":
        return lambda metadata: actual(metadata) != value
    return lambda metadata: actual(metadata) == value


@functools.lru_cache(maxsize=256)
def parse_field_selector(text: str) -> FieldMatcher:
    r"""Parse a Kubernetes field selector (the ``fieldSelector`` list parameter).

    Returns a predicate over an object's ``metadata`` mapping; a missing field reads as "".
    Supported fields are ``metadata.name`` and ``metadata.namespace`` with ``=``, ``==`` and
    ``!=``; terms separated by commas must all hold, empty terms are ignored, blanks around
    field names and values are ignored, and values may escape ``\``, ``,`` and ``=`` with a
    backslash. Raises SelectorError naming the unsupported
    field (and listing the supported ones), or describing the malformed term.
    """
    _check_length(text, "field selector")
    matchers = tuple(
        _field_term(term, pos=pos, text=text)
        for pos, term in _split_unescaped(text)
        if term.strip()
    )
    return lambda metadata: all(matcher(metadata) for matcher in matchers)
