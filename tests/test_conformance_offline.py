"""Calico's own validator test tables (../shared/conformance), run against `Validator` directly.

Each case is wrapped exactly as ``run.py validation`` wraps it for the live server, defaulted,
then validated; the agreement with Calico's verdict must be at least `REQUIRED_AGREEMENT`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from apiserver.resources.validation import Validator

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
REQUIRED_AGREEMENT = 0.98
_DEFAULT_ONLY = ("run.py names the wrapped BGPConfiguration 'conformance'; clientv3's "
                 "ValidateDefaultOnlyFields (which we enforce) allows this field only on 'default'")
_SINGLETON = ("run.py names the wrapped KubeControllersConfiguration 'conformance'; clientv3 "
              "(and we) accept only the name 'default'")
KNOWN: dict[int, str] = {
    42: _DEFAULT_ONLY, 43: _DEFAULT_ONLY, 46: _DEFAULT_ONLY, 47: _DEFAULT_ONLY,
    634: _SINGLETON, 637: _SINGLETON, 638: _SINGLETON, 639: _SINGLETON, 664: _SINGLETON,
}
"""Case id → why we knowingly disagree with Calico's validator alone on it."""

pytestmark = pytest.mark.skipif(not (CONFORMANCE / "validation_cases.yaml").is_file(),
                                reason="../shared/conformance is absent")


def _wrap():
    sys.path.insert(0, str(CONFORMANCE))
    try:
        import run  # noqa: PLC0415 - the runner lives outside the repo
    finally:
        sys.path.remove(str(CONFORMANCE))
    return run.wrap


def _accepted(validator: Validator, obj: dict, namespaced: bool) -> tuple[bool, list]:
    if namespaced:
        obj["metadata"].setdefault("namespace", "default")
    validator.default(obj["kind"], obj)
    causes = validator.validate(obj["kind"], obj)
    return not causes, causes


def _verdicts() -> list[tuple[dict, bool, str]]:
    validator = Validator(REPO / "schemas")
    wrap = _wrap()
    cases = yaml.safe_load((CONFORMANCE / "validation_cases.yaml").read_text())
    out = []
    for case in cases:
        objs = wrap(case)
        if not objs or any(o["kind"] not in validator.kinds for o in objs):
            continue
        answers = []
        for obj in objs:
            namespaced = validator.schema(obj["kind"]).get("x-calico-scope") == "Namespaced"
            answers.append(_accepted(validator, obj, namespaced))
        accepted = any(ok for ok, _ in answers)
        why = "; ".join(f"{c.field}: {c.message}" for _, causes in answers for c in causes)[:400]
        out.append((case, accepted, why))
    return out


def test_agreement_with_calico_validator() -> None:
    verdicts = _verdicts()
    agree = [case for case, accepted, _ in verdicts if accepted == case["valid"]]
    for case, accepted, why in verdicts:
        if accepted != case["valid"]:
            known = KNOWN.get(case["id"], "")
            print(f"DISAGREE id={case['id']} {case['kind']} calico={'valid' if case['valid'] else 'invalid'}"
                  f" ours={'accepted' if accepted else 'rejected'}: {case['desc']} -> {why}"
                  f"{' [known: ' + known + ']' if known else ''}")
    ratio = len(agree) / len(verdicts)
    print(f"validation: agreement {100 * ratio:.1f}% ({len(agree)}/{len(verdicts)})")
    assert ratio >= REQUIRED_AGREEMENT
    unexplained = [c["id"] for c, accepted, _ in verdicts if accepted != c["valid"] and c["id"] not in KNOWN]
    assert not unexplained, f"disagreements without a known reason: {unexplained}"
