"""calicoctl's own system-test cases (../shared/conformance/calicoctl/*.yaml) run against
``ctl`` and a real apiserver + etcd.

Conventions of the case files (see their headers): ``command`` is a calicoctl command line,
``input`` was written to the file named after ``-f`` (or piped for ``-f -``), stdout and
stderr were captured together, ``expect`` holds what the upstream test asserts.  Every case
runs ``calicoctl`` as ``python -m ctl``; cases that cannot apply to this product are skipped
with the reason in the skip message.
"""
from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from calicomodel.builtins import COMPONENT_DEFAULTS
from calicomodel.catalog import Catalog
from conftest import etcdctl
from ctl_harness import Datastore, Run, ctl, start_server

CASES_DIR = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "calicoctl"
RESOURCES = "/calico/resources/v3/projectcalico.org"
CLUSTERINFO_KEY = f"{RESOURCES}/clusterinformations/default"
CLIENT_VERSION = "v3.32.1"

SKIPS = {
    "kubernetes": "needs a Kubernetes datastore (kubeconfig contexts main/second and k8s "
                  "Nodes); ctl talks to one apiserver and accepts --context only for "
                  "compatibility",
    "pool": "calico/node start-up case ('calicoctl node run' + node log); there is no "
            "calico/node and ctl's 'node' command has only 'status'",
    "patch-007": "calicoctl ignores --type and always does a strategic merge; ctl applies a "
                 "real RFC 6902 patch for --type json (issue 4, 'Beyond calicoctl'), so this "
                 "merge-shaped patch is rightly refused",
    "err-040": "calicoctl rejects Kubernetes 'kind: List' files; ctl accepts them on purpose "
               "(issue 4, 'Beyond calicoctl')",
    "crud-019": "the setup's replace of an unchanged object writes nothing (issue 12: writes "
                "that change nothing do not write, as in kube-apiserver), so the saved "
                "resourceVersion is still current and the replace rightly succeeds",
    "crud-020": "the setup's apply of an unchanged object writes nothing (issue 12: writes "
                "that change nothing do not write, as in kube-apiserver), so the saved "
                "resourceVersion is still current and the apply rightly succeeds",
}


def _load() -> tuple[list[dict], dict]:
    if not CASES_DIR.is_dir():
        return [], {}
    cases: list[dict] = []
    for file in sorted(CASES_DIR.glob("*.yaml")):
        if file.name != "data_samples.yaml":
            cases += yaml.safe_load(file.read_text())["cases"]
    samples = yaml.safe_load((CASES_DIR / "data_samples.yaml").read_text())
    return cases, samples


CASES, SAMPLES = _load()
# Cases that apply but fail today, each for a reason outside ctl (strict: a fix shows up as
# XPASS and the entry must go).
KNOWN_GAPS: dict[str, str] = {}
# Where ctl's exact text knowingly differs from what calicoctl's source prints.
DERIVED_DIFFERENCES = {
    "label-011": "ctl appends the cause to 'failed to update ..., label not changed'",
    "patch-009": "ctl's usage names the program ctl and lists --dry-run",
}
# Cases that ran in one upstream test function after another case and rely on its state.
PRELUDES = {"flags-005": "flags-004", "flags-006": "flags-004"}
# calicoctl's verbs, as the prefix of a derived_from_source ``<verb>_stderr`` key.
VERBS = ("create", "apply", "replace", "delete", "get", "patch", "label", "validate")
# "No datastore configured": point ctl at a closed port instead of a server.
UNREACHABLE = "http://127.0.0.1:9"


def _skip_reason(case: dict) -> str:
    if case["id"] in SKIPS:
        return SKIPS[case["id"]]
    if case["id"].startswith("pool-"):
        return SKIPS["pool"]
    if str(case.get("datastore", "")).startswith("kubernetes"):
        return SKIPS["kubernetes"]
    return ""


def _params() -> list:
    if not CASES:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"{CASES_DIR} is absent (the shared conformance cases are not checked out)"))]
    out = []
    for case in CASES:
        reason = _skip_reason(case)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        if case["id"] in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(reason=KNOWN_GAPS[case["id"]], strict=True))
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


@pytest.fixture(scope="module")
def shared_server(etcd):
    server = start_server(etcd.endpoint)
    # calicoctl's system tests ran on a bare etcd, where no calico-node or kube-controllers
    # had created their default configurations: the cases start without them.
    for kind in COMPONENT_DEFAULTS:
        etcdctl(etcd.endpoint, "del", f"{RESOURCES}/{Catalog().kind(kind).plural}/default")
    store = Datastore(etcd.endpoint)
    yield server, store
    server.stop()


@pytest.mark.parametrize("case", _params())
def test_case(case: dict, shared_server, tmp_path: Path) -> None:
    server, store = shared_server
    store.reset()
    CaseRun(case, server.url, store, tmp_path).run()


# -- inputs ----------------------------------------------------------------------------------
def _many_nets(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("<<MANY_NETS"):
        return [f"10.{i >> 8}.{i % 256}.0/28" for i in range(10000)]
    if isinstance(value, dict):
        return {k: _many_nets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_many_nets(v) for v in value]
    return value


def _clean(value: Any) -> Any:
    """The upstream clean_calico_data(): drop creationTimestamp/resourceVersion/uid keys and
    null / {} values, recursively."""
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("creationTimestamp", "resourceVersion", "uid"):
                continue
            v = _clean(v)
            if v is None or v == {}:
                continue
            out[k] = v
        return out
    return value


def _dig(obj: Any, dotted: str) -> Any:
    """``metadata.labels.app`` (label keys may contain dots: longest key match first)."""
    cur, rest = obj, dotted
    while rest:
        if not isinstance(cur, dict):
            return None
        key = next((k for k in sorted(cur, key=len, reverse=True)
                    if rest == k or rest.startswith(k + ".")), None)
        if key is None:
            return None
        cur, rest = cur[key], rest[len(key) + 1:]
    return cur


# -- one case --------------------------------------------------------------------------------
class CaseRun:
    """Executes one case: setup steps, the command, then every expectation."""

    def __init__(self, case: dict, url: str, store: Datastore, workdir: Path) -> None:
        self.case, self.url, self.store, self.dir = case, url, store, workdir
        self.saved: dict[str, str] = {}
        self.last_input: Any = None
        datastore = str(case.get("datastore", ""))
        self.no_server = datastore.startswith("none")
        self.uses_revisions = "rev0" in json.dumps(case)
        self.setup_objects: list[str] = []
        self.main_result: Run | None = None

    # running commands
    def ctl(self, command: str, data: Any = None, *, stdin: bool = False,
            fmt: str = "", env: dict[str, str] | None = None) -> Run:
        argv = shlex.split(command)
        assert argv[0] == "calicoctl", command
        argv = argv[1:]
        text = self._input_text(data, fmt, argv) if data is not None else None
        piped = None
        for i, arg in enumerate(argv):
            target = arg[len("--filename="):] if arg.startswith("--filename=") else None
            if arg == "-f" and i + 1 < len(argv):
                target = argv[i + 1]
            if target is None:
                continue
            if target == "-" or stdin:
                piped = text if text is not None else ""
                argv[argv.index(target) if target in argv else i] = "-"
                if arg.startswith("--filename="):
                    argv[i] = "--filename=-"
                continue
            path = self._file_for(target, text)
            if arg.startswith("--filename="):
                argv[i] = f"--filename={path}"
            else:
                argv[i + 1] = str(path)
        url = UNREACHABLE if self.no_server else self.url
        return ctl(url, *argv, stdin=piped, env=env, cwd=self.dir)

    def _file_for(self, target: str, text: str | None) -> Path:
        path = self.dir / Path(target).name
        if text is not None:
            path.write_text(text)
        elif Path(target).stem.replace("stale-", "") in self.saved or "-with-" in target:
            path.write_text(self._saved_file(Path(target).stem))
        return path

    def _saved_file(self, stem: str) -> str:
        m = re.match(r"(\w+?)-with-(\w+?)-resourceVersion$", stem)
        if m:
            obj = yaml.safe_load(self.saved[m.group(1)])
            obj["metadata"]["resourceVersion"] = yaml.safe_load(
                self.saved[m.group(2)])["metadata"]["resourceVersion"]
            return yaml.safe_dump(obj)
        return self.saved[stem.replace("stale-", "")]

    def _input_text(self, data: Any, fmt: str, argv: list[str]) -> str | None:
        if isinstance(data, str):
            if data in SAMPLES:
                data = SAMPLES[data]
            elif data.startswith("<"):
                return None          # a placeholder: the saved output named by the file
            elif data == "":
                return ""
            else:
                return yaml.safe_dump(data)   # the harness writeyaml()s the string
        data = _many_nets(data)
        self.last_input = data
        if fmt == "json" or any(a.endswith(".json") for a in argv):
            return json.dumps(data, indent=2)
        return yaml.safe_dump(data, sort_keys=False)

    # the case
    def run(self) -> None:
        prelude = next((c for c in CASES if c["id"] == PRELUDES.get(self.case["id"])), None)
        for step in (prelude or {}).get("setup") or []:
            self.setup_step(step)
        for step in self.case.get("setup") or []:
            self.setup_step(step)
        c = self.case
        before = self._before()
        result = self.ctl(c["command"], c.get("input"), stdin=bool(c.get("input_via_stdin")),
                          fmt=c.get("input_format", ""))
        self.main_result = result
        self.check(c["expect"], result, c["command"], top=True)
        self.check_derived(result)
        for key in ("then", "after"):
            steps = c["expect"].get(key) or []
            for step in steps if isinstance(steps, list) else [steps]:
                self.then_step(step, before)
        for variant in self._variants():
            variant()

    def setup_step(self, step: dict) -> None:
        command = step["command"]
        if command.startswith("calico_version_helper"):
            self.set_cluster_version(command)
            return
        result = self.ctl(command, step.get("input"), stdin=bool(step.get("input_via_stdin")))
        expect = str(step.get("expect", "success"))
        want_ok = not expect.startswith("failure")
        assert (result.code == 0) == want_ok, f"setup {command}: {result}"
        note = str(step.get("note", ""))
        m = re.search(r"saved as (\w+)", note)
        if m:
            self.saved[m.group(1)] = result.stdout
        m = re.search(r"get -> (\w+)", note)
        if m and isinstance(step.get("input"), dict):
            meta = step["input"]["metadata"]
            got = self.ctl(f"calicoctl get {step['input']['kind']} {meta['name']} -o yaml")
            self.saved[m.group(1)] = got.stdout
        if isinstance(step.get("input"), dict) and self.uses_revisions:
            meta = step["input"]["metadata"]
            got = self.ctl(f"calicoctl get {step['input']['kind']} {meta['name']} -o yaml"
                           + (f" -n {meta['namespace']}" if meta.get("namespace") else ""))
            self.saved.setdefault(f"rev{len(self.setup_objects)}", got.stdout)
            self.setup_objects.append(got.stdout)

    def set_cluster_version(self, command: str) -> None:
        """The upstream calico_version_helper: write ClusterInformation.spec.calicoVersion
        straight into etcd (the API treats ClusterInformation as read-only)."""
        m = re.search(r"-v (\S+)", command)
        obj = self.store.get_json(CLUSTERINFO_KEY)
        obj["spec"]["calicoVersion"] = m.group(1).lstrip("v") if m else CLIENT_VERSION
        self.store.put(CLUSTERINFO_KEY, json.dumps(obj).encode())

    def then_step(self, step: dict, before: Run | None) -> None:
        result = self.ctl(step["command"], step.get("input") if "input" in step else
                          self._special_input(step), stdin=bool(step.get("input_via_stdin")),
                          fmt=step.get("input_format", ""))
        self.check(step, result, step["command"])
        note = str(step.get("note", ""))
        if "identical to before" in note:
            assert _no_rv(result.output) == _no_rv(before.output)
        if note.startswith("output identical to '"):
            other = self.ctl(note.split("'")[1])
            assert result.output == other.output
        if "metadata.namespace == 'default'" in note:
            obj = yaml.safe_load(result.stdout)
            assert obj["metadata"]["namespace"] == "default"
            assert obj["metadata"]["labels"]["projectcalico.org/namespace"] == "default"
        if note == "clusterGUID unchanged":
            guid = yaml.safe_load(self.saved["clusterinfo"])["spec"]["clusterGUID"]
            now = self.ctl("calicoctl get clusterinfo default -o yaml").stdout
            assert yaml.safe_load(now)["spec"]["clusterGUID"] == guid

    def _special_input(self, step: dict) -> Any:
        if "export output with spec.order changed" in str(step.get("note", "")):
            obj = yaml.safe_load(self.main_result.stdout)
            obj["spec"]["order"] = 100
            return obj
        return None

    def _before(self) -> Run | None:
        for key in ("then", "after"):
            step = self.case["expect"].get(key)
            if isinstance(step, dict) and "identical to before" in str(step.get("note", "")):
                return self.ctl(step["command"])
        return None

    # expectations
    def check_derived(self, result: Run) -> None:
        """Beyond the upstream assertions: the exact stdout/stderr read off calicoctl's
        source (``derived_from_source``), unless it holds a placeholder or a known,
        documented difference. ``<verb>_stderr`` / ``<verb>_stdout`` are those of the
        case's command run with ``<verb>`` in place of its own verb."""
        if self.case["id"] in DERIVED_DIFFERENCES:
            return
        derived = self.case.get("derived_from_source") or {}
        for key, wanted in derived.items():
            m = re.fullmatch(r"(?:(\w+)_)?(stdout|stderr)", key)
            if not m or not isinstance(wanted, str) or "<" in wanted:
                continue
            verb, stream = m.groups()
            command = self.case["command"]
            if verb in VERBS:
                command = re.sub(r"^calicoctl \w+", f"calicoctl {verb}", command)
                result = self.ctl(command, self.case.get("input"),
                                  stdin=bool(self.case.get("input_via_stdin")),
                                  fmt=self.case.get("input_format", ""))
            elif verb:
                continue
            got = _calicoctl_part(getattr(result, stream)).replace(str(self.dir) + "/", "/tmp/")
            assert got == wanted, f"derived {key} of {command}"

    def check(self, expect: dict, result: Run, command: str, *, top: bool = False) -> None:
        what = f"{command}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
        wanted = expect.get("result")
        if wanted is None and ("resulting_object" in expect or "fields" in expect):
            wanted = "success"
        if wanted:
            assert (result.code == 0) == (wanted == "success"), f"exit {result.code}: {what}"
        captured = result.output.rstrip() if result.code == 0 else result.output
        for text in expect.get("output_contains") or []:
            assert text in result.output, f"missing {text!r}: {what}"
        for text in expect.get("output_not_contains") or []:
            assert text not in result.output, f"unexpected {text!r}: {what}"
        assert "Traceback" not in result.output, what
        if "output_equals" in expect:
            assert captured == expect["output_equals"], what
        if "stdout_only_equals" in expect:
            assert result.stdout == expect["stdout_only_equals"], what
        self.check_objects(expect, result, command, what)
        for assertion in expect.get("assertions") or []:
            check_assertion(assertion, result, self)

    def check_objects(self, expect: dict, result: Run, command: str, what: str) -> None:
        if not any(k in expect for k in ("resulting_object", "fields", "item_names_in_order")):
            return
        json_out = "-o json" in command or expect.get("output_format") == "json"
        got = json.loads(result.stdout) if json_out else yaml.safe_load(result.stdout)
        wanted = expect.get("resulting_object")
        if isinstance(wanted, str) and wanted.startswith("clusterinfo_name1_rev1"):
            assert re.fullmatch(r"[a-f0-9]{32}", got["spec"]["clusterGUID"]), what
            assert got["spec"]["datastoreReady"] is True, what
            self.saved["clusterinfo"] = result.stdout
        elif wanted is not None:
            assert _clean(got) == _clean(_many_nets(copy.deepcopy(wanted))), what
        for path, value in (expect.get("fields") or {}).items():
            assert _dig(got, path) == value, f"{path}: {what}"
        if "item_names_in_order" in expect:
            names = [i["metadata"]["name"] for i in got["items"]]
            assert names == expect["item_names_in_order"], what

    # variants spelled out in the case text
    def _variants(self) -> list:
        out = []
        extra = self.case["expect"].get("also_for_kind") or {}
        for kind, spec in extra.items():
            out.append(lambda spec=spec: self._stale_replace(spec))
        also = self.case["expect"].get("also")
        if isinstance(also, dict):
            out.append(lambda: self._also(also))
        for command in self.case["expect"].get("same_for") or []:
            out.append(lambda command=command: self.check(
                self.case["expect"], self.ctl(command), command))
        return out

    def _stale_replace(self, spec: dict) -> None:
        """also_for_kind: create, keep rev0, replace, then replacing rev0 must conflict."""
        assert self.ctl("calicoctl create -f input.yaml", spec["create"]).code == 0
        meta = spec["create"]["metadata"]
        rev0 = self.ctl(f"calicoctl get {spec['create']['kind']} {meta['name']} -n "
                        f"{meta['namespace']} -o yaml").stdout
        assert self.ctl("calicoctl replace -f input.yaml", spec["replace"]).code == 0
        result = self.ctl("calicoctl replace -f rev.yaml", yaml.safe_load(rev0))
        assert result.code != 0 and "update conflict" in result.output, result

    def _also(self, also: dict) -> None:
        assert self.ctl("calicoctl create -f input.yaml", also["setup_input"]).code == 0
        result = self.ctl(also["command"])
        self.check({k: v for k, v in self.case["expect"].items()
                    if k in ("result", "output_contains")}, result, also["command"])


# The lines ctl adds after calicoctl's message: where in the input each field cause is.
_WHERE = re.compile(r"^(?:file .+|stdin), document \d+ \(.+\): .+\n", re.M)


def _calicoctl_part(text: str) -> str:
    """``text`` without ctl's location lines, which calicoctl does not print."""
    return _WHERE.sub("", text)


def _no_rv(text: str) -> str:
    return re.sub(r"resourceVersion: \S+", "", text)


def check_assertion(text: str, result: Run, run: CaseRun) -> None:
    """The prose assertions of the case files, one rule per sentence."""
    obj = yaml.safe_load(result.stdout)
    meta = obj.get("metadata", {})
    rev0 = yaml.safe_load(run.saved.get("rev0", "{}")) or {}
    m = re.fullmatch(r"([\w.]+) == (\{.*\})", text)
    if m:
        assert _dig(obj, m.group(1)) == yaml.safe_load(m.group(2)), text
    elif text.startswith("metadata has no "):
        for key in re.split(r",\s*", text[len("metadata has no "):]):
            assert key not in meta, (text, meta)
    elif text == "metadata.uid and metadata.creationTimestamp equal rev0's (not the file's)":
        assert meta["uid"] == rev0["metadata"]["uid"]
        assert meta["creationTimestamp"] == rev0["metadata"]["creationTimestamp"]
    elif text == "resourceVersion changed":
        assert meta["resourceVersion"] != rev0["metadata"]["resourceVersion"]
    elif text == "metadata.name unchanged":
        assert meta["name"] == run.last_input["metadata"]["name"]
    elif text.startswith("--export is ignored for a list"):
        for item in obj["items"]:
            for key in ("uid", "creationTimestamp", "namespace", "resourceVersion"):
                assert key in item["metadata"], (key, item)
    else:
        raise AssertionError(f"no rule for the assertion {text!r}")
