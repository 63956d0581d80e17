"""Calico's own validation and selector tables, run by ``../shared/conformance/run.py`` against
a real apiserver. Every remaining disagreement is listed here with its reason."""
from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from conftest import GROUP, SHARED

RUNNER = SHARED / "conformance" / "run.py"

# run.py wraps sub-structure cases into a resource named "conformance"; Calico's client (and
# this server) allow these fields / this kind only on the singleton named "default".
DEFAULT_ONLY = {"42", "43", "46", "47", "634", "637", "638", "639", "664"}
# Calico's validator accepts the name knp.default.thing; its client refuses to create it
# ("kubernetes network policies must be managed through the kubernetes API"), as we do.
CLIENT_RULES = {"529"}
# The selector table checks validity through a GlobalNetworkPolicy's spec.selector, where
# Calico's CRD CEL rule forbids global() ("global() can only be used in an EntityRule
# namespaceSelector"); the selector itself is valid, and the parser agrees.
GLOBAL_SELECTORS = {"'global()'", "'global( )'"}


def run(table: str, url: str) -> tuple[float, list[str]]:
    out = subprocess.run([sys.executable, str(RUNNER), table, "--server", url, "--show", "1000"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    summary = re.search(r"agreement ([\d.]+)%", out.stdout)
    assert summary, out.stdout
    return float(summary.group(1)), [x for x in out.stdout.splitlines() if x.startswith("DISAGREE")]


@pytest.fixture
def conformance_server(apiserver_process):
    if not RUNNER.exists():
        pytest.skip("../shared/conformance is not present")
    # The staged-policy cases use tier "eng"; a policy's tier must exist (as in Calico).
    tier = {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "eng"},
            "spec": {}}
    assert httpx.post(f"{apiserver_process.url}{GROUP}/tiers", json=tier).status_code == 201
    return apiserver_process.url


def test_validation_table(conformance_server):
    pct, disagreements = run("validation", conformance_server)
    ids = {re.search(r"id=(\d+)", d).group(1) for d in disagreements}
    assert ids == DEFAULT_ONLY | CLIENT_RULES, "\n".join(disagreements)
    assert pct >= 98.0


def test_selector_table(conformance_server):
    pct, disagreements = run("selectors", conformance_server)
    selectors = {re.search(r"selector ('.*?') labels", d).group(1) for d in disagreements}
    assert selectors == GLOBAL_SELECTORS, "\n".join(disagreements)
