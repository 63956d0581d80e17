"""Calico's own validator test tables (../shared/conformance), run against `Validator` directly.

Each case is wrapped exactly as ``run.py validation`` wraps it for the live server, defaulted,
then validated; the agreement with Calico's verdict must be at least `REQUIRED_AGREEMENT`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from calicomodel.validation import Validator

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


def _resource(kind: str, name: str, spec: dict, **extra) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": {"name": name},
            "spec": spec, **extra}


def _host_prefix(address: str) -> str:
    return f"{address}/128" if ":" in address else f"{address}/32"


EXTRA_WRAPPERS = {
    "WorkloadEndpointSpec": lambda o: _resource("WorkloadEndpoint", "conformance", o),
    "WorkloadEndpointPort": lambda o: _resource("WorkloadEndpoint", "conformance",
                                                {"interfaceName": "eth0", "ports": [o]}),
    "IPNAT": lambda o: _resource("WorkloadEndpoint", "conformance", {
        "interfaceName": "eth0", "ipNetworks": [_host_prefix(o["internalIP"])], "ipNATs": [o]}),
    "NodeStatus": lambda o: _resource("Node", "conformance", {}, status=o),
    "Template": lambda o: _resource("KubeControllersConfiguration", "default", {
        "controllers": {"node": {"hostEndpoint": {"templates": [o]}}}}),
    "BGPFilterOperation": lambda o: _resource("BGPFilter", "conformance", {
        "exportV4": [{"action": "Accept", "operations": [o]}]}),
}
"""Our own wrappers for the sub-structures run.py does not send (it has no resource for them)."""


def _accepted(validator: Validator, obj: dict, namespaced: bool) -> tuple[bool, list]:
    if namespaced:
        obj["metadata"].setdefault("namespace", "default")
    validator.default(obj["kind"], obj)
    causes = validator.validate(obj["kind"], obj)
    return not causes, causes


def _verdicts(*, unsent: bool = False) -> list[tuple[dict, bool, str]]:
    """(case, accepted, causes) for the cases run.py sends, or (``unsent``) for the others."""
    validator = Validator(REPO / "schemas")
    wrap = _wrap()
    cases = yaml.safe_load((CONFORMANCE / "validation_cases.yaml").read_text())
    out = []
    for case in cases:
        objs = wrap(case)
        sent = bool(objs) and all(o["kind"] in validator.kinds for o in objs)
        if sent == unsent:
            continue
        if unsent:
            objs = [EXTRA_WRAPPERS[case["kind"]](case["object"])]
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


def test_agreement_on_sub_structures_run_py_does_not_send() -> None:
    verdicts = _verdicts(unsent=True)
    wrong = [(case, why) for case, accepted, why in verdicts if accepted != case["valid"]]
    for case, why in wrong:
        print(f"DISAGREE id={case['id']} {case['kind']} calico={case['valid']}: {case['desc']} -> {why}")
    assert len(verdicts) == 53
    assert not wrong
