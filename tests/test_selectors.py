"""Contract tests for calicomodel.selectors.

The Calico part is checked against every case of shared/conformance/selector_cases.yaml
(converted from libcalico-go's parser and tokenizer tests), then against our own tables.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from calicomodel.selectors import (
    MAX_LABEL_LENGTH,
    MAX_NESTING_DEPTH,
    MAX_SELECTOR_LENGTH,
    SelectorError,
    parse,
    parse_field_selector,
    parse_label_selector,
)

CASES_PATH = Path(__file__).resolve().parents[2] / "shared/conformance/selector_cases.yaml"
EXPECTED_CASE_COUNT = 201


def _load_cases() -> list[dict[str, Any]] | None:
    if not CASES_PATH.is_file():
        return None
    with CASES_PATH.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


_CASES = _load_cases()


def conformance(key: str | None = None) -> list[Any]:
    """Parametrize over the conformance cases having `key` (all cases if None), with ids."""
    if _CASES is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CASES_PATH} not found"))]
    return [
        pytest.param(case, id=f"{index:03d}-{Path(case['source']).name}")
        for index, case in enumerate(_CASES)
        if key is None or key in case
    ]


# --------------------------------------------------------------------------------------------
# Conformance with libcalico-go
# --------------------------------------------------------------------------------------------


@pytest.mark.skipif(_CASES is None, reason=f"{CASES_PATH} not found")
def test_conformance_file_is_complete() -> None:
    assert _CASES is not None and len(_CASES) == EXPECTED_CASE_COUNT


@pytest.mark.parametrize("case", conformance())
def test_conformance_validity(case: dict[str, Any]) -> None:
    if case["valid"]:
        parse(case["selector"])
    else:
        with pytest.raises(SelectorError):
            parse(case["selector"])


@pytest.mark.parametrize("case", conformance("matches"))
def test_conformance_matches(case: dict[str, Any]) -> None:
    assert parse(case["selector"]).matches(case["labels"]) is case["matches"]


@pytest.mark.parametrize("case", conformance("canonical"))
def test_conformance_canonical_form_and_unique_id(case: dict[str, Any]) -> None:
    selector = parse(case["selector"])
    assert str(selector) == case["canonical"]
    assert selector.unique_id == case["unique_id"]
    assert str(parse(str(selector))) == case["canonical"]  # the canonical form is a fixed point


@pytest.mark.parametrize("case", conformance("canonical_with_label_prefix"))
def test_conformance_label_prefix(case: dict[str, Any]) -> None:
    selector = parse(case["selector"])
    expected = case["canonical_with_label_prefix"]
    assert str(selector.with_label_prefix(expected["prefix"])) == expected["result"]
    assert str(selector) == str(parse(case["selector"]))  # the original is unchanged


# --------------------------------------------------------------------------------------------
# Calico selectors: our own cases
# --------------------------------------------------------------------------------------------

CANONICAL = [
    pytest.param('a == "1" && b == "2" || c == "3"', '((a == "1" && b == "2") || c == "3")',
                 id="and-binds-tighter"),
    pytest.param('a == "1" && (b == "2" || c == "3")', '(a == "1" && (b == "2" || c == "3"))',
                 id="parenthesised-or"),
    pytest.param("!!a == 'x'", 'a == "x"', id="double-negation-collapses"),
    pytest.param("!!!has(a)", "!has(a)", id="triple-negation"),
    pytest.param("((( has( a ) )))", "has(a)", id="redundant-parentheses"),
    pytest.param("a notin {'y','x',}", 'a not in {"x", "y"}', id="notin-trailing-comma"),
    pytest.param("a in{}", "a in {}", id="empty-set"),
    pytest.param("a startswith'x'", 'a starts with "x"', id="startswith"),
    pytest.param("a ends\twith 'x'", 'a ends with "x"', id="tab-between-keywords"),
    pytest.param("contains contains 'in'", 'contains contains "in"', id="keyword-as-label"),
    pytest.param("global( )", "global()", id="global"),
    pytest.param(" \t ", "all()", id="blank-is-all"),
    pytest.param("a in {'\"', \"'\"}", "a in {'\"', \"'\"}", id="set-quote-choice"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_canonical_form(text: str, canonical: str) -> None:
    assert str(parse(text)) == canonical


MATCHES = [
    pytest.param('a == "1" || b == "1" && c == "1"', {"a": "1"}, True, id="or-short-circuit"),
    pytest.param('(a == "1" || b == "1") && c == "1"', {"a": "1"}, False, id="group-then-and"),
    pytest.param("!a == 'x'", {}, True, id="negation-binds-whole-comparison"),
    pytest.param("a != 'x'", {}, True, id="ne-absent"),
    pytest.param("a != 'x'", {"a": "x"}, False, id="ne-equal"),
    pytest.param("a contains 'x'", {}, False, id="contains-absent"),
    pytest.param("a contains ''", {"a": ""}, True, id="contains-empty"),
    pytest.param("a starts with 'pro'", {"a": "prod"}, True, id="starts-with"),
    pytest.param("a ends with 'od'", {"a": "prod"}, True, id="ends-with"),
    pytest.param("a ends with 'pr'", {"a": "prod"}, False, id="ends-with-miss"),
    pytest.param("a in {'x', 'y'}", {"a": "y"}, True, id="in"),
    pytest.param("a in {}", {"a": ""}, False, id="in-empty-set"),
    pytest.param("a not in {'x'}", {}, True, id="not-in-absent"),
    pytest.param("a not in {'x'}", {"a": "x"}, False, id="not-in-member"),
    pytest.param("has(a) && !has(b)", {"a": "", "b": "1"}, False, id="has-not-has"),
    pytest.param("global()", {"x": "y"}, True, id="global-true"),
    pytest.param("", {}, True, id="empty-matches-all"),
]


@pytest.mark.parametrize(("text", "labels", "expected"), MATCHES)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse(text).matches(labels) is expected


def test_error_message_names_problem_position_and_selector() -> None:
    with pytest.raises(SelectorError) as error:
        parse("a == 'b' & c")
    assert str(error.value) == (
        "unexpected '&' at position 9 in selector \"a == 'b' & c\"; did you mean '&&'?"
    )


ERRORS = [
    pytest.param("a = 'b'", ["unexpected '='", "position 2", "did you mean '=='"], id="lone-eq"),
    pytest.param("a | b", ["unexpected '|'", "did you mean '||'"], id="lone-pipe"),
    pytest.param("a == b", ["expected a quoted string after '=='", 'found label "b"',
                            "position 5"], id="unquoted-value"),
    pytest.param("a b", ['after label "a"', "position 2"], id="missing-operator"),
    pytest.param("a in {'x' 'y'}", ["expected a quoted string, ',' or '}'", "position 10"],
                 id="set-missing-comma"),
    pytest.param("(a == 'x'", ["expected ')' matching the '(' opened at position 0",
                               "found end of selector"], id="unclosed-paren"),
    pytest.param("a == 'x')", ["expected '&&', '||' or the end of the selector", "found ')'"],
                 id="stray-close-paren"),
    pytest.param("a == 'x", ["unterminated string", "position 5"], id="unterminated"),
    pytest.param("has()", ["expected a label name after 'has('"], id="has-empty"),
    pytest.param("a == 'x'\n&& has(b)", ["unexpected character '\\n'", "position 8"],
                 id="newline"),
    pytest.param("&& has(a)", ["found '&&'", "position 0"], id="leading-and"),
]


@pytest.mark.parametrize(("text", "fragments"), ERRORS)
def test_error_messages(text: str, fragments: list[str]) -> None:
    with pytest.raises(SelectorError) as error:
        parse(text)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_selector_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        parse("%")


@pytest.mark.parametrize("depth", [100_000, 30_000], ids=["over-length", "under-length"])
def test_deep_parentheses_fail_fast_without_recursion_error(depth: int) -> None:
    started = time.perf_counter()
    with pytest.raises(SelectorError) as error:
        parse("(" * depth + "all()" + ")" * depth)
    assert time.perf_counter() - started < 2.0
    expected = "characters long" if 2 * depth > MAX_SELECTOR_LENGTH else "nested more than"
    assert expected in str(error.value)
    assert len(str(error.value)) < 300  # a huge selector is not echoed in full


def test_nesting_limit_is_exact() -> None:
    deepest = "!(" * MAX_NESTING_DEPTH + "has(a)" + ")" * MAX_NESTING_DEPTH
    assert parse(deepest).matches({"a": ""}) is True  # an even number of negations of has(a)
    assert parse(deepest).matches({}) is False
    with pytest.raises(SelectorError, match="nested more than"):
        parse("(" * (MAX_NESTING_DEPTH + 1) + "all()" + ")" * (MAX_NESTING_DEPTH + 1))


def test_negation_chain_costs_no_depth() -> None:
    assert str(parse("!" * 10_001 + "has(a)")) == "!has(a)"


def test_length_limit_is_exact() -> None:
    text = "has(a)".ljust(MAX_SELECTOR_LENGTH)
    assert str(parse(text)) == "has(a)"
    with pytest.raises(SelectorError, match=f"the maximum is {MAX_SELECTOR_LENGTH}"):
        parse(text + " ")


def test_label_length_limit() -> None:
    assert parse("has(" + "a" * MAX_LABEL_LENGTH + ")").matches({"a" * MAX_LABEL_LENGTH: ""})
    with pytest.raises(SelectorError, match=f"longer than {MAX_LABEL_LENGTH}"):
        parse("has(" + "a" * (MAX_LABEL_LENGTH + 1) + ")")


GLOBAL_USE = [
    pytest.param("global()", True, True, id="global"),
    pytest.param(" ( global( ) ) ", True, True, id="global-parenthesised"),
    pytest.param("global() && all()", True, False, id="global-and"),
    pytest.param("all() || !global()", True, False, id="global-negated-in-or"),
    pytest.param("a == 'global()'", False, False, id="global-in-string"),
    pytest.param("all()", False, False, id="all"),
    pytest.param("", False, False, id="empty"),
]


@pytest.mark.parametrize(("text", "uses_global", "is_global_only"), GLOBAL_USE)
def test_global_flags(text: str, uses_global: bool, is_global_only: bool) -> None:
    selector = parse(text)
    assert selector.uses_global is uses_global
    assert selector.is_global_only is is_global_only


def test_selectors_with_same_canonical_form_are_equal() -> None:
    first, second = parse("a=='b'&&has(c)"), parse('(a == "b") && has( c )')
    assert first == second and hash(first) == hash(second)
    assert first.unique_id == second.unique_id
    assert first != parse("has(c) && a == 'b'")


def test_parse_results_are_cached() -> None:
    assert parse("app == 'cached'") is parse("app == 'cached'")


def test_matching_ten_thousand_label_sets_is_fast() -> None:
    selector = parse("app == 'web' && tier in {'a', 'b'} && !has(old) || env starts with 'prod'")
    label_sets = [
        {"app": ("web", "db")[i % 2], "tier": "abc"[i % 3], "env": ("prod-1", "dev")[i % 5 == 0]}
        for i in range(10_000)
    ]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        matched = sum(map(selector.matches, label_sets))
        best = min(best, time.perf_counter() - started)
    assert matched == sum(
        1 for labels in label_sets
        if (labels["app"] == "web" and labels["tier"] in "ab") or labels["env"] == "prod-1"
    )
    assert best < 0.050


# --------------------------------------------------------------------------------------------
# Kubernetes label selectors
# --------------------------------------------------------------------------------------------

LABELS = {"app": "web", "tier": "front", "version": "10", "example.com/team": "net"}

LABEL_SELECTORS = [
    pytest.param("", True, id="empty"),
    pytest.param("  ", True, id="blank"),
    pytest.param("app=web", True, id="eq"),
    pytest.param("app==web", True, id="double-eq"),
    pytest.param("app = db", False, id="eq-miss-spaces"),
    pytest.param("app!=db", True, id="ne"),
    pytest.param("missing!=db", True, id="ne-absent"),
    pytest.param("tier in (front, back)", True, id="in"),
    pytest.param("tier in (back)", False, id="in-miss"),
    pytest.param("missing in (back)", False, id="in-absent"),
    pytest.param("tier notin (back)", True, id="notin"),
    pytest.param("missing notin (back)", True, id="notin-absent"),
    pytest.param("example.com/team", True, id="exists-prefixed"),
    pytest.param("!missing", True, id="does-not-exist"),
    pytest.param("!app", False, id="does-not-exist-miss"),
    pytest.param("app=web,tier=back", False, id="comma-is-and"),
    pytest.param(" app = web ,\ttier in (front) , !missing ", True, id="whitespace"),
    pytest.param("version>9", True, id="gt"),
    pytest.param("version<9", False, id="lt"),
    pytest.param("app>1", False, id="gt-non-integer-label"),
    pytest.param("missing=", False, id="eq-empty-value-absent"),
    pytest.param("missing!=", True, id="ne-empty-value-absent"),
    pytest.param("in=x", False, id="keyword-as-key"),
]


@pytest.mark.parametrize(("text", "expected"), LABEL_SELECTORS)
def test_label_selector(text: str, expected: bool) -> None:
    assert parse_label_selector(text)(LABELS) is expected


LABEL_SELECTOR_ERRORS = [
    pytest.param("app=web=x", ["expected ',' or the end of the selector", "found '='",
                               "position 7"], id="double-operator"),
    pytest.param("app in web", ["expected '(' to start the list of values"], id="in-no-paren"),
    pytest.param("app in (a b)", ["expected a label value, ',' or ')'", "found 'b'"],
                 id="in-missing-comma"),
    pytest.param("app in (a", ["found the end of the selector"], id="in-unclosed"),
    pytest.param("app,", ["expected a label key, found the end of the selector"],
                 id="trailing-comma"),
    pytest.param("app (x)", ["expected an operator", "after 'app'"], id="no-operator"),
    pytest.param("Example.com/team", ['invalid label key "Example.com/team"',
                                      "DNS-1123 subdomain"], id="key-uppercase-prefix"),
    pytest.param("/team", ["prefix before '/' must not be empty"], id="key-empty-prefix"),
    pytest.param("a/b/c", ["at most one '/'"], id="key-two-slashes"),
    pytest.param("-app", ['invalid label key "-app"', "starting and ending"], id="key-leading-dash"),
    pytest.param("a" * 64, ["at most 63 characters"], id="key-too-long"),
    pytest.param("app=we b", ["found 'b'"], id="value-with-space"),
    pytest.param("app=-web", ['invalid label value "-web"'], id="value-leading-dash"),
    pytest.param("app in (ok, x" + "y" * 63 + ")", ["invalid label value"], id="value-too-long"),
    pytest.param("version>ten", ["the value after '>' must be an integer"], id="gt-non-integer"),
]


@pytest.mark.parametrize(("text", "fragments"), LABEL_SELECTOR_ERRORS)
def test_label_selector_errors(text: str, fragments: list[str]) -> None:
    with pytest.raises(SelectorError) as error:
        parse_label_selector(text)
    assert "in label selector" in str(error.value)
    for fragment in fragments:
        assert fragment in str(error.value)


# --------------------------------------------------------------------------------------------
# Field selectors
# --------------------------------------------------------------------------------------------

METADATA = {"name": "pool-a", "namespace": "prod", "labels": {"x": "y"}}

FIELD_SELECTORS = [
    pytest.param("", METADATA, True, id="empty"),
    pytest.param("metadata.name=pool-a", METADATA, True, id="eq"),
    pytest.param("metadata.name==pool-b", METADATA, False, id="double-eq-miss"),
    pytest.param("metadata.name!=pool-b", METADATA, True, id="ne"),
    pytest.param("metadata.name=pool-a,metadata.namespace=dev", METADATA, False,
                 id="comma-is-and"),
    pytest.param("metadata.namespace=prod,metadata.name!=x", METADATA, True, id="both-fields"),
    pytest.param("metadata.namespace=", {"name": "global-pool"}, True,
                 id="cluster-scoped-namespace-is-empty"),
    pytest.param("metadata.namespace!=prod", {"name": "global-pool"}, True,
                 id="cluster-scoped-ne"),
    pytest.param(r"metadata.name=a\,b", {"name": "a,b"}, True, id="escaped-comma"),
    pytest.param(" metadata.name = pool-a ,", METADATA, True, id="blanks-and-empty-term"),
]


@pytest.mark.parametrize(("text", "metadata", "expected"), FIELD_SELECTORS)
def test_field_selector(text: str, metadata: dict[str, object], expected: bool) -> None:
    assert parse_field_selector(text)(metadata) is expected


FIELD_SELECTOR_ERRORS = [
    pytest.param("spec.cidr=10.0.0.0/8", ['unsupported field "spec.cidr"',
                                          "supported fields: metadata.name, metadata.namespace"],
                 id="unsupported-field"),
    pytest.param("metadata.name", ['"metadata.name" is not of the form <field>=<value>'],
                 id="no-operator"),
    pytest.param("metadata.name=a=b", ["unescaped '='", "position 15"], id="unescaped-eq"),
    pytest.param(r"metadata.name=a\b", ["invalid escape sequence", "position 15"],
                 id="bad-escape"),
]


@pytest.mark.parametrize(("text", "fragments"), FIELD_SELECTOR_ERRORS)
def test_field_selector_errors(text: str, fragments: list[str]) -> None:
    with pytest.raises(SelectorError) as error:
        parse_field_selector(text)
    assert "in field selector" in str(error.value)
    for fragment in fragments:
        assert fragment in str(error.value)


@pytest.mark.parametrize("parser", [parse_label_selector, parse_field_selector],
                         ids=["label", "field"])
def test_kubernetes_selectors_enforce_length_limit(parser: Any) -> None:
    with pytest.raises(SelectorError, match=f"the maximum is {MAX_SELECTOR_LENGTH}"):
        parser("a" * (MAX_SELECTOR_LENGTH + 1))
