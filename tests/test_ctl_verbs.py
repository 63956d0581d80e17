"""ctl's verbs and flags as a subprocess against a real apiserver + etcd, output as text."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ctl_harness import ctl, ctl_env, run, write  # noqa: F401 - fixtures too

POOL = """apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool1
spec:
  cidr: 10.0.1.0/24
  ipipMode: Always
  vxlanMode: Never
  nodeSelector: foo == 'bar'
"""
POOL2 = POOL.replace("pool1", "pool2").replace("10.0.1.0/24", "fed0:8001::/64") \
    .replace("foo == 'bar'", "all()").replace("ipipMode: Always", "ipipMode: Never")
NETSET = """apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata:
  name: ns1
  namespace: {ns}
  labels: {{app: web}}
spec:
  nets: [10.0.0.0/24]
"""


def manifest(tmp_path: Path, text: str, name: str = "in.yaml") -> str:
    return str(write(tmp_path / name, text))


# -- create / apply / replace ----------------------------------------------------------------
def test_create_then_create_again_fails_and_skip_exists_succeeds(run, tmp_path):
    f = manifest(tmp_path, POOL)
    r = run("create", "-f", f)
    assert (r.code, r.stdout, r.stderr) == (0, "Successfully created 1 'IPPool' resource(s)\n", "")
    r = run("create", "-f", f)
    assert r.code == 1 and r.stdout == ""
    assert r.stderr == ("failed to create 'IPPool' resource: [resource already exists: "
                        "IPPool(pool1) with error: <nil>]\n")
    r = run("create", "--skip-exists", "-f", f)
    assert (r.code, r.stdout) == (0, "Successfully created 1 'IPPool' resource(s)\n")


def test_apply_creates_then_updates_and_mixed_kinds_drop_the_kind(run, tmp_path):
    f = manifest(tmp_path, POOL + "---\n" + NETSET.format(ns="default"))
    r = run("apply", "-f", f)
    assert (r.code, r.stdout) == (0, "Successfully applied 2 resource(s)\n")
    r = run("apply", "-f", f)
    assert (r.code, r.stdout) == (0, "Successfully applied 2 resource(s)\n")


def test_replace_needs_the_object_and_stale_versions_conflict(run, tmp_path):
    f = manifest(tmp_path, POOL)
    r = run("replace", "-f", f)
    assert r.code == 1
    assert r.stdout == "Partial success: replaced the first 1 out of 1 'IPPool' resources:\n"
    assert r.stderr == "hit error: resource does not exist: IPPool(pool1) with error: <nil>\n"
    run("create", "-f", f)
    stale = run("get", "ippool", "pool1", "-o", "yaml").stdout
    changed = manifest(tmp_path, POOL.replace("foo == 'bar'", "foo == 'baz'"), "changed.yaml")
    assert run("replace", "-f", changed).stdout == "Successfully replaced 1 'IPPool' resource(s)\n"
    r = run("replace", "-f", manifest(tmp_path, stale, "stale.yaml"))
    assert r.code == 1 and r.stderr == "hit error: update conflict: IPPool(pool1)\n"
    r = run("apply", "-f", str(tmp_path / "stale.yaml"))
    assert r.stderr == "failed to apply 'IPPool' resource: [update conflict: IPPool(pool1)]\n"


def test_partial_success_lines(run, tmp_path):
    good = [POOL.replace("pool1", f"p{i}").replace("10.0.1.0", f"10.{i}.0.0") for i in range(3)]
    bad = POOL.replace("pool1", "bad").replace("10.0.1.0/24", "10.0.1.0/33")
    r = run("create", "-f", manifest(tmp_path, "---\n".join(good + [bad])))
    assert r.code == 1
    assert r.stdout == "Partial success: created the first 3 out of 4 'IPPool' resources:\n"
    assert r.stderr.startswith("hit error: [error with field IPPool.Spec.CIDR = '10.0.1.0/33'")
    r = run("apply", "-f", manifest(tmp_path, "---\n".join([bad, bad]), "two.yaml"))
    assert r.stderr.startswith("failed to apply any 'IPPool' resources: [error with field")


def test_server_owned_metadata_is_accepted_and_stripped(run, tmp_path):
    exported = POOL.replace("  name: pool1", "  name: pool1\n  uid: abc\n  resourceVersion: '7'"
                            "\n  creationTimestamp: '2020-01-01T00:00:00Z'\n  selfLink: /x"
                            "\n  generation: 3\n  finalizers: [f]")
    r = run("create", "-f", manifest(tmp_path, exported, "exported.yaml"))
    assert r.code == 0, r
    meta = yaml.safe_load(run("get", "ippool", "pool1", "-o", "yaml").stdout)["metadata"]
    assert meta["uid"] != "abc" and "selfLink" not in meta and "finalizers" not in meta


UNKNOWN = "field in document is not recognized or is in the wrong location: {}\n"
DECODE = "failed to execute command: error unmarshaling JSON: while decoding JSON: {}\n"


@pytest.mark.parametrize("third, stderr", [
    (NETSET.format(ns="default").replace("  nets:", "  xyz: 1\n  nets:"), UNKNOWN.format("xyz")),
    (NETSET.format(ns="default").replace("  labels:", "  colour: red\n  labels:"),
     UNKNOWN.format("colour")),
    (NETSET.format(ns="default").replace("spec:", "extra: 1\nspec:"), UNKNOWN.format("extra")),
    ("apiVersion: projectcalico.org/v3\nkind: IPPoolList\nmetadata: {continue: '', x: 1}\n"
     "items: []\n", UNKNOWN.format("x")),
    ("- " + NETSET.format(ns="default").replace("\n", "\n  ").replace("  nets:", "  bogus: 1\n"
                                                                       "    nets:"),
     UNKNOWN.format("bogus")),
    (NETSET.format(ns="default").replace("[10.0.0.0/24]", "10.0.0.0/24"),
     DECODE.format("json: cannot unmarshal string into Go struct field "
                   "NetworkSetSpec.spec.nets of type []interface {}")),
])
def test_a_document_that_does_not_decode_stops_everything(run, tmp_path, third, stderr):
    """calicoctl decodes every document strictly before sending anything: an unknown field
    anywhere (spec, metadata, top level, a list's metadata, a sequence) or a wrong type in
    the third document applies nothing, and the error is calicoctl's one line."""
    f = manifest(tmp_path, "---\n".join([POOL, POOL2, third]))
    for verb in ("apply", "create", "replace", "delete", "validate"):
        r = run(verb, "-f", f)
        assert (r.code, r.stdout, r.stderr) == (1, "", stderr), verb
    assert json.loads(run("get", "ippool", "-o", "json").stdout)["items"] == []


def test_yaml_binary_and_sets_are_read_as_go_reads_them(run, tmp_path):
    text = POOL.replace("  name: pool1", "  name: pool1\n  labels: {a: !!binary aGVsbG8=}")
    r = run("apply", "-f", manifest(tmp_path, text))
    assert (r.code, r.stderr) == (0, "")
    r = run("apply", "-f", manifest(tmp_path, text.replace("{a:", "{b: !!set {x}, a:"), "s.yaml"))
    assert r.stderr == ("failed to execute command: error unmarshaling JSON: while decoding "
                        "JSON: json: cannot unmarshal object into Go struct field "
                        "ObjectMeta.metadata.labels of type string\n")
    meta = yaml.safe_load(run("get", "ippool", "pool1", "-o", "yaml").stdout)["metadata"]
    assert meta["labels"] == {"a": "hello"}
    r = run("apply", "-f", manifest(tmp_path, POOL.replace("name: pool1", "name: pool1\n  "
                                                           "annotations: {? !!binary eA==: 1}"),
                                    "key.yaml"))
    assert r.code == 1 and r.stderr.startswith("failed to execute command: unsupported YAML")


def test_decoding_errors_are_the_first_go_meets(run, tmp_path):
    """Per document: keys in sorted order, an unknown field or a type mismatch remembered
    (the first wins), a numorstring error at once; documents in order, so an earlier
    document's error beats a later document's broken YAML."""
    spec = "spec:\n  cidr: 10.0.1.0/24\n"
    pool = "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\n"
    for extra, stderr in [
        ("  aaa: 1\n  disabled: 'no'\n", UNKNOWN.format("aaa")),
        ("  zzz: 1\n  disabled: 'no'\n",
         DECODE.format("json: cannot unmarshal string into Go struct field "
                       "IPPoolSpec.spec.disabled of type bool")),
        ("  Disabled: true\n  NATOutgoing: true\n", ""),
    ]:
        r = run("validate", "-f", manifest(tmp_path, pool + spec + extra))
        assert r.stderr == stderr, extra
    peer = ("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: b}\n"
            "spec: {aaa: 1, asNumber: AS1}\n")
    assert run("apply", "-f", manifest(tmp_path, peer)).stderr == \
        DECODE.format("invalid AS Number format (AS1)")
    two = pool + spec + "  bogus: 1\n---\nkind: [\n"
    assert run("apply", "-f", manifest(tmp_path, two)).stderr == UNKNOWN.format("bogus")


def test_scalars_for_string_fields_become_strings_outside_sequences(run, tmp_path):
    """sigs.k8s.io/yaml converts YAML numbers and booleans for Go string fields (labels are
    map[string]string), except in a YAML sequence of resources."""
    labelled = POOL.replace("  name: pool1", "  name: pool1\n  labels: {v: 1.10, b: yes, n: 7}")
    assert run("apply", "-f", manifest(tmp_path, labelled)).code == 0
    labels = yaml.safe_load(run("get", "ippool", "pool1", "-o", "yaml").stdout)["metadata"][
        "labels"]
    assert labels == {"v": "1.1", "b": "true", "n": "7"}
    sequence = "- " + labelled.replace("\n", "\n  ")
    r = run("apply", "-f", manifest(tmp_path, sequence, "seq.yaml"))
    assert r.stderr == DECODE.format("json: cannot unmarshal bool into Go struct field "
                                     "ObjectMeta.metadata.labels of type string")


def test_dry_run_writes_nothing(run, tmp_path):
    f = manifest(tmp_path, POOL)
    r = run("apply", "--dry-run", "-f", f)
    assert r.stdout == "Successfully applied 1 'IPPool' resource(s) (dry run)\n"
    assert run("get", "ippool", "pool1").code == 1
    run("create", "-f", f)
    assert run("delete", "ippool", "pool1", "--dry-run").code == 0
    r = run("patch", "ippool", "pool1", "-p", '{"spec":{"disabled":true}}', "--dry-run")
    assert r.stdout == "Successfully patched 1 'IPPool' resource (dry run)\n"
    assert "disabled" not in run("get", "ippool", "pool1", "-o", "yaml").stdout


def test_dry_run_create_and_replace_write_nothing(run, tmp_path):
    f = manifest(tmp_path, POOL)
    r = run("create", "--dry-run", "-f", f)
    assert (r.code, r.stdout) == (0, "Successfully created 1 'IPPool' resource(s) (dry run)\n")
    assert run("get", "ippool", "pool1").code == 1
    run("create", "-f", f)
    before = run("get", "ippool", "pool1", "-o", "yaml").stdout
    r = run("replace", "--dry-run", "-f", manifest(tmp_path, POOL.replace("Always", "Never"),
                                                   "changed.yaml"))
    assert (r.code, r.stdout) == (0, "Successfully replaced 1 'IPPool' resource(s) (dry run)\n")
    assert run("get", "ippool", "pool1", "-o", "yaml").stdout == before
    r = run("create", "--dry-run", "-f", f)
    assert r.code == 1 and "resource already exists: IPPool(pool1)" in r.stderr


# -- files -----------------------------------------------------------------------------------
def test_stdin_directories_recursion_and_lists(run, tmp_path):
    r = run("apply", "-f", "-", stdin=POOL)
    assert r.stdout == "Successfully applied 1 'IPPool' resource(s)\n"
    write(tmp_path / "d" / "a.yaml", POOL2)
    write(tmp_path / "d" / "sub" / "b.YML", NETSET.format(ns="default"))
    write(tmp_path / "d" / "notes.txt", "not a manifest")
    assert run("apply", "-f", str(tmp_path / "d")).stdout == \
        "Successfully applied 1 'IPPool' resource(s)\n"
    assert run("apply", "-R", "-f", str(tmp_path / "d")).stdout == \
        "Successfully applied 2 resource(s)\n"
    k8s_list = {"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(POOL)]}
    calico_list = {"apiVersion": "projectcalico.org/v3", "kind": "IPPoolList",
                   "items": [yaml.safe_load(POOL2)]}
    r = run("apply", "-f", manifest(tmp_path, json.dumps(k8s_list) + "\n---\n" +
                                    yaml.safe_dump(calico_list), "lists.yaml"))
    assert r.stdout == "Successfully applied 2 'IPPool' resource(s)\n"


def test_items_of_a_kind_list_are_of_that_kind(run, tmp_path):
    """As in Go's typed list decoding, an item may leave out its kind and apiVersion."""
    typed = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSetList",
             "items": [{"metadata": {"name": "gns1"}, "spec": {"nets": ["10.1.0.0/24"]}}]}
    r = run("create", "-f", manifest(tmp_path, yaml.safe_dump(typed)))
    assert (r.code, r.stdout) == (0, "Successfully created 1 'GlobalNetworkSet' resource(s)\n")
    assert yaml.safe_load(run("get", "gnetsets", "gns1", "-o", "yaml").stdout)["spec"] == \
        {"nets": ["10.1.0.0/24"]}


@pytest.mark.parametrize("text, message", [
    ("kind: IPPool\n\tapiVersion: projectcalico.org/v3\n",
     "failed to execute command: error parsing {f} line 12: found character '\\t' that "
     "cannot start any token"),
    ("apiVersion: projectcalico.org/v3\nkind: ipPool\nmetadata: {name: x}\n",
     "failed to execute command: unknown resource type (ipPool) and/or version "
     "(projectcalico.org/v3) in {f}\n"),
    ("apiVersion: projectcalico.org/v7\nkind: IPPool\nmetadata: {name: x}\n",
     "failed to execute command: unknown resource type (IPPool) and/or version "
     "(projectcalico.org/v7) in {f}\n"),
    ("just text\n", "failed to execute command: {f}: document 2 is not a resource"),
    ("apiVersion: projectcalico.org/v3\nkind: BogusList\nitems:\n- " +
     POOL2.replace("\n", "\n  "),
     "failed to execute command: unknown resource type (BogusList) and/or version "
     "(projectcalico.org/v3) in {f}\n"),
    ("apiVersion: projectcalico.org/v3\nkind: BogusList\nitems: []\n",
     "failed to execute command: unknown resource type (BogusList) and/or version "
     "(projectcalico.org/v3) in {f}\n"),
    ("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSetList\nitems:\n- " +
     POOL2.replace("\n", "\n  "),
     "failed to execute command: {f}: document 2: item 1 of GlobalNetworkSetList has kind "
     "IPPool (projectcalico.org/v3); a GlobalNetworkSetList holds only GlobalNetworkSet "
     "resources\n"),
])
def test_bad_files_abort_before_writing(run, tmp_path, text, message):
    f = manifest(tmp_path, POOL + "---\n" + text)
    r = run("apply", "-f", f)
    assert r.code == 1 and r.stdout == "" and r.stderr.startswith(message.format(f=f))
    assert "Traceback" not in r.stderr
    assert run("get", "ippool", "pool1").code == 1


def test_unreadable_inputs_are_one_line_and_nothing_is_written(run, tmp_path):
    text = POOL.replace("pool1", "caf\u00e9").encode("latin-1")  # 0xe9: not UTF-8
    (tmp_path / "latin1.yaml").write_bytes(text)
    write(tmp_path / "d" / "a.yaml", POOL2)
    (tmp_path / "d" / "b.yaml").symlink_to(tmp_path / "gone.yaml")
    f = str(tmp_path / "latin1.yaml")
    for args, stdin, message in [
        (("-f", f), None, f"read {f}: the file is not valid UTF-8 text (byte 0xe9 on line 4)"),
        (("-f", "-"), text, "read stdin: the input is not valid UTF-8 text (byte 0xe9 on line 4)"),
        (("-f", f"{f}/x.yaml"), None, f"open {f}/x.yaml: not a directory"),
        (("-f", str(tmp_path / "d")), None,
         f"open {tmp_path / 'd' / 'b.yaml'}: no such file or directory"),
    ]:
        r = run("apply", *args, stdin=stdin)
        assert (r.code, r.stdout, r.stderr) == (1, "", f"failed to execute command: {message}\n")
    assert run("get", "ippool", "pool2").code == 1


def test_empty_and_missing_inputs(run, tmp_path):
    f = manifest(tmp_path, "---\n", "empty.yaml")
    r = run("create", "-f", f)
    assert (r.code, r.stderr) == (1, f"no resources specified in file {f}\n")
    r = run("create", "-f", f, "--skip-empty")
    assert (r.code, r.stdout) == (0, "No resources specified\n")
    (tmp_path / "emptydir").mkdir()
    r = run("apply", "-f", str(tmp_path / "emptydir"))
    assert r.stderr == f"no resources specified in directory {tmp_path / 'emptydir'}\n"
    r = run("apply", "-f", "nosuch.yaml")
    assert r.stderr == "failed to execute command: open nosuch.yaml: no such file or directory\n"


# -- get -------------------------------------------------------------------------------------
def test_get_tables_ps_wide_and_custom_columns(run, tmp_path):
    run("create", "-f", manifest(tmp_path, POOL + "---\n" + POOL2))
    r = run("get", "ippool", "pool1")
    assert r.stdout == ("NAME    CIDR          SELECTOR       \n"
                        "pool1   10.0.1.0/24   foo == 'bar'   \n\n")
    r = run("get", "ippools", "-o", "wide")
    assert r.stdout.splitlines()[0].split() == [
        "NAME", "CIDR", "NAT", "IPIPMODE", "VXLANMODE", "DISABLED", "DISABLEBGPEXPORT",
        "SELECTOR", "ASSIGNMENTMODE"]
    r = run("get", "pools", "-o", "custom-columns=NAME,IPIPMODE")
    assert r.stdout == "NAME    IPIPMODE   \npool1   Always     \npool2   Never      \n\n"
    r = run("get", "ipp", "-o", "custom-columns=NAME,FOO")
    assert r.code == 1 and r.stderr.startswith("unknown heading FOO, valid values are: NAME")


def test_get_yaml_json_bare_object_list_and_missing_names(run, tmp_path):
    run("create", "-f", manifest(tmp_path, POOL))
    one = run("get", "ippool", "pool1", "-o", "yaml").stdout
    assert one.startswith("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n")
    listed = run("get", "ippool", "-o", "yaml").stdout
    assert listed.startswith("apiVersion: projectcalico.org/v3\nitems:\n- apiVersion")
    assert "kind: IPPoolList\nmetadata:\n  resourceVersion: " in listed
    js = run("get", "ippool", "pool1", "-o", "json").stdout
    assert js.startswith('{\n  "kind": "IPPool",\n  "apiVersion": "projectcalico.org/v3",')
    assert js.endswith("}") and not js.endswith("\n")
    r = run("get", "ippool", "pool1", "nope", "-o", "yaml")
    assert r.code == 1 and r.stdout == one
    assert r.stderr == "resource does not exist: IPPool(nope) with error: <nil>\n"


def test_get_go_template_and_export(run, tmp_path):
    run("create", "-f", manifest(tmp_path, POOL + "---\n" + POOL2))
    r = run("get", "ippool", "-o",
            "go-template={{range .}}{{range .Items}}{{.ObjectMeta.Name}},{{end}}{{end}}")
    assert (r.code, r.stdout) == (0, "pool1,pool2,")
    t = write(tmp_path / "t.tmpl", "{{range .}}{{.Spec.CIDR}} {{.Kind}}{{end}}")
    assert run("get", "ippool", "pool2", "-o", f"go-template-file={t}").stdout == \
        "fed0:8001::/64 IPPool"
    exported = yaml.safe_load(run("get", "ippool", "pool1", "-o", "yaml", "--export").stdout)
    assert set(exported["metadata"]) == {"name"}
    for bad, message in (("xml", "unrecognized output format 'xml'"),
                         ("=yaml", "unrecognized output format '=yaml'"),
                         ("go-template=", "need to specify a template"),
                         ("custom-columns=", "need to specify at least one column")):
        r = run("get", "ippool", "-o", bad)
        assert (r.code, r.stderr) == (1, message + "\n")
    assert run("get", "ippool", "-o=yaml").stderr == "unrecognized output format '=yaml'\n"


def test_get_errors(run):
    assert run("get", "somekind").stderr == \
        "failed to get resources: resource type 'somekind' is not supported\n"
    assert run("get", "policy", "").stderr == \
        "failed to get resources: resource name may not be empty\n"
    assert run("get", "ippool", "-A").stderr == "IPPool is not namespaced\n"
    assert run("get", "ippool", "-a").stderr == "IPPool is not namespaced\n"
    assert run("get", "netsets", "x", "-A").stderr == \
        "cannot use --all-namespace flag for getting a single resource\n"
    assert run("get", "netsets", "-n", "a", "-A").stderr == \
        "cannot use both --namespace and --all-namespaces flags at the same time\n"


def test_namespaces_and_selectors(run, tmp_path):
    run("create", "-f", manifest(tmp_path, NETSET.format(ns="default") + "---\n" +
                                 NETSET.format(ns="ns2").replace("app: web", "app: db")))
    assert run("get", "netsets").stdout == "NAME   \nns1    \n\n"
    assert run("get", "netsets", "-A").stdout == \
        "NAMESPACE   NAME   \ndefault     ns1    \nns2         ns1    \n\n"
    assert run("get", "netsets", "-n", "ns2", "-o", "wide").stdout == \
        "NAMESPACE   NAME   NETS          \nns2         ns1    10.0.0.0/24   \n\n"
    assert run("get", "netsets", "-A", "-l", "app == 'db'").stdout == \
        "NAMESPACE   NAME   \nns2         ns1    \n\n"
    r = run("apply", "-n", "other", "-f", manifest(tmp_path, NETSET.format(ns="ns2"), "x.yaml"))
    assert r.stderr == ("failed to apply 'NetworkSet' resource: [resource namespace does not "
                        "match client namespace. ns2 != other]\n")
    r = run("create", "-f", manifest(tmp_path, POOL.replace("name: pool1", "name: pool1\n"
                                                            "  namespace: x"), "ns.yaml"))
    assert r.stderr == ("failed to create 'IPPool' resource: [namespace should not be specified "
                        "for a non-namespaced resource. IPPool is not a namespaced resource]\n")
    r = run("delete", "netsets", "-A", "-l", "app == 'web'")
    assert r.stdout == "Successfully deleted 1 'NetworkSet' resource(s)\n"
    assert run("get", "netsets", "-A").stdout == "NAMESPACE   NAME   \nns2         ns1    \n\n"


def test_get_tiers_sorted_by_order(run):
    r = run("get", "tiers")
    assert [line.split()[0] for line in r.stdout.splitlines()[1:-1]] == [
        "kube-admin", "default", "kube-baseline"]


# -- delete ----------------------------------------------------------------------------------
def test_delete_by_name_file_and_skip_not_exists(run, tmp_path):
    f = manifest(tmp_path, POOL + "---\n" + POOL2)
    run("create", "-f", f)
    r = run("delete", "ippool", "pool1", "blah")
    assert r.code == 1 and r.stdout == "Successfully deleted 1 'IPPool' resource(s)\n"
    assert r.stderr == ("Failed to delete 'IPPool' resource: resource does not exist: "
                        "IPPool(blah) with error: <nil>\n\n")
    assert run("delete", "ippool", "x", "--skip-not-exists").stdout == \
        "Successfully deleted 1 'IPPool' resource(s)\n"
    assert run("delete", "-s", "-f", f).stdout == "Successfully deleted 2 'IPPool' resource(s)\n"


def test_delete_with_stale_resource_version_conflicts(run, tmp_path):
    run("create", "-f", manifest(tmp_path, POOL))
    stale = manifest(tmp_path, run("get", "ippool", "pool1", "-o", "yaml").stdout, "s.yaml")
    run("apply", "-f", manifest(tmp_path, POOL.replace("Always", "Never"), "new.yaml"))
    r = run("delete", "-f", stale)
    assert r.stderr == "Failed to delete 'IPPool' resource: update conflict: IPPool(pool1)\n\n"


def test_read_only_cluster_information_is_refused_in_calicoctls_words(run, tmp_path):
    f = manifest(tmp_path, "apiVersion: projectcalico.org/v3\nkind: ClusterInformation\n"
                           "metadata: {name: default}\nspec: {clusterGUID: g}\n")
    readonly = "operation apply is not supported on ClusterInformation: resource is readonly"
    update = "operation apply or replace is not supported on ClusterInformation"
    for args, stderr in [
        (("create", "-f", f), "failed to create 'ClusterInformation' resource: [operation "
                              "create or apply is not supported on ClusterInformation]\n"),
        (("apply", "-f", f), f"failed to apply 'ClusterInformation' resource: [{readonly}]\n"),
        (("replace", "-f", f), f"hit error: {update}\n"),
        (("delete", "clusterinfo", "default"), "Failed to delete 'ClusterInformation' resource: "
                                               "operation delete is not supported on "
                                               "ClusterInformation\n\n"),
        (("patch", "clusterinfo", "default", "-p", '{"spec":{"clusterType":"x"}}'),
         f"hit error: updating existing resource: {update}\n"),
    ]:
        r = run(*args)
        assert (r.code, r.stderr) == (1, stderr), args
    assert yaml.safe_load(run("get", "clusterinfo", "default", "-o", "yaml").stdout)[
        "spec"]["clusterGUID"] != "g"


# -- patch and label -------------------------------------------------------------------------
def test_patch_types(run, tmp_path):
    run("create", "-f", manifest(tmp_path, POOL.replace("  name: pool1", "  name: pool1\n"
                                                        "  labels: {a: b}")))
    r = run("patch", "ipp", "pool1", "-p", '{"spec":{"natOutgoing":true}}')
    assert (r.code, r.stdout) == (0, "Successfully patched 1 'IPPool' resource\n")
    r = run("patch", "ippool", "pool1", "--type", "merge", "-p", '{"metadata":{"labels":null}}')
    assert r.code == 0
    r = run("patch", "ippool", "pool1", "-t", "json",
            "-p", '[{"op":"replace","path":"/spec/ipipMode","value":"CrossSubnet"}]')
    assert r.code == 0, r
    obj = yaml.safe_load(run("get", "ippool", "pool1", "-o", "yaml").stdout)
    assert obj["spec"]["natOutgoing"] is True and obj["spec"]["ipipMode"] == "CrossSubnet"
    assert "labels" not in obj["metadata"]
    r = run("patch", "node", "nosuch", "-p", '{"spec":{}}')
    assert r.stderr == "hit error: resource does not exist: Node(nosuch) with error: <nil>\n"
    r = run("patch", "node", "n1")
    assert r.code == 1 and r.stderr.startswith("Usage:\n  ctl patch <KIND> <NAME>")


@pytest.mark.parametrize("patch_type", ["strategic", "merge"])
def test_strategic_and_merge_patches_merge_maps_replace_lists_and_delete_nulls(
        run, tmp_path, patch_type):
    """Calico's types carry no patch strategies, so both merge the same way."""
    run("create", "-f", manifest(tmp_path, "apiVersion: projectcalico.org/v3\n"
                                           "kind: GlobalNetworkSet\nmetadata:\n  name: g\n"
                                           "  labels: {a: '1', b: '2'}\n"
                                           "spec:\n  nets: [10.0.0.0/24, 10.1.0.0/24]\n"))
    patch = {"metadata": {"labels": {"b": None, "c": "3"}}, "spec": {"nets": ["10.2.0.0/24"]}}
    r = run("patch", "gnetsets", "g", "--type", patch_type, "-p", json.dumps(patch))
    assert (r.code, r.stdout) == (0, "Successfully patched 1 'GlobalNetworkSet' resource\n")
    obj = yaml.safe_load(run("get", "gnetsets", "g", "-o", "yaml").stdout)
    assert obj["metadata"]["labels"] == {"a": "1", "c": "3"}
    assert obj["spec"] == {"nets": ["10.2.0.0/24"]}


def test_label_set_update_overwrite_remove(run, tmp_path):
    run("create", "-f", manifest(tmp_path, POOL))
    assert run("label", "pools", "pool1", "a=b").stdout == \
        "Successfully set label a on pools pool1\n"
    assert run("label", "pools", "pool1", "a=b").stdout == \
        "Successfully updated label a on pools pool1\n"
    assert run("label", "pools", "pool1", "a=c").stderr == (
        "failed to update label of pools pool1, key a is already present. please use "
        "'--overwrite' to set a new value\n")
    assert run("label", "pools", "pool1", "a=c", "--overwrite").code == 0
    assert run("label", "pools", "pool1", "a", "--remove").stdout == \
        "Successfully removed label a from pools pool1\n"
    assert run("label", "pools", "pool1", "a", "--remove").stderr == \
        "cannot remove label of pools pool1, key a does not exist\n"
    assert run("label", "pools", "nosuch", "a=b").stderr == "pools nosuch not found\n"
    assert run("label", "pools", "pool1", "a=b=c").stderr == "invalid label a=b=c\n"
    r = run("label", "pools", "pool1", "bad key=x")
    assert r.stderr.startswith("failed to update pools pool1, label not changed")


def test_label_by_selector(run, tmp_path):
    run("create", "-f", manifest(tmp_path, NETSET.format(ns="default") + "---\n" +
                                 NETSET.format(ns="default").replace("ns1", "ns2")))
    r = run("label", "netsets", "-l", "app == 'web'", "tier=front")
    assert r.stdout == ("Successfully set label tier on netsets ns1\n"
                        "Successfully set label tier on netsets ns2\n")


# -- validate, diff, version, completion, help ----------------------------------------------
def test_patch_failures_in_calicoctls_words(run, tmp_path):
    """resourcemgr.Patch: the get's error as it is, an unknown field in the patched object as
    one plain line (massageError), the update's errors after 'updating existing resource:'."""
    run("create", "-f", manifest(tmp_path, POOL))
    for args, stderr in [
        (("ippool", "nosuch", "-p", '{"spec":{}}'),
         "hit error: resource does not exist: IPPool(nosuch) with error: <nil>\n"),
        (("ippool", "pool1", "-p", '{"spec":{"bogus":1}}'), UNKNOWN.format("bogus")),
        (("ippool", "pool1", "-p", '{"spec":{"cidr":"10.0.1.0/33"}}'),
         "hit error: updating existing resource: error with field IPPool.Spec.CIDR = "
         "'10.0.1.0/33' ("),
        (("ippool", "pool1", "-p", '{"metadata":{"resourceVersion":"1"},"spec":{}}'),
         "hit error: updating existing resource: update conflict: IPPool(pool1)\n"),
        (("ippool", "pool1", "-t", "json", "-p", '[{"op":"remove","path":"/spec/nosuch"}]'),
         "hit error: the JSON patch does not apply: "),
    ]:
        r = run("patch", *args)
        assert (r.code, r.stdout) == (1, ""), args
        assert r.stderr.startswith(stderr), (args, r.stderr)
    spec = yaml.safe_load(run("get", "ippool", "pool1", "-o", "yaml").stdout)["spec"]
    assert spec["cidr"] == "10.0.1.0/24" and "bogus" not in spec


def test_validate_of_a_read_only_kind_decodes_it_only(run, tmp_path):
    """The server refuses every write of ClusterInformation, dry runs too; calicoctl's
    offline validate accepts a well-formed one, and ctl checks it as calicoctl decodes it."""
    info = ("apiVersion: projectcalico.org/v3\nkind: ClusterInformation\n"
            "metadata: {name: default}\nspec: {clusterGUID: g, datastoreReady: true}\n")
    r = run("validate", "-f", manifest(tmp_path, info))
    assert (r.code, r.stdout, r.stderr) == (
        0, "Successfully validated 1 'ClusterInformation' resource(s)\n", "")
    r = run("validate", "-f", manifest(tmp_path, info.replace("g,", "g, colour: red,"), "x.yaml"))
    assert (r.code, r.stderr) == (1, UNKNOWN.format("colour"))
    r = run("validate", "-f", manifest(tmp_path, info.replace("true", "'yes'"), "y.yaml"))
    assert r.stderr == DECODE.format("json: cannot unmarshal string into Go struct field "
                                     "ClusterInformationSpec.spec.datastoreReady of type bool")
    assert yaml.safe_load(run("get", "clusterinfo", "default", "-o", "yaml").stdout)[
        "spec"]["clusterGUID"] != "g"


def test_validate_is_a_server_side_dry_run(run, tmp_path):
    good = manifest(tmp_path, POOL)
    assert run("validate", "-f", good).stdout == "Successfully validated 1 'IPPool' resource(s)\n"
    bad = manifest(tmp_path, POOL.replace("foo == 'bar'", "foo ==="), "bad.yaml")
    r = run("validate", "-f", bad)
    assert r.code == 1 and r.stderr.startswith("failed to validate 'IPPool' resource: [")
    assert run("get", "ippool", "pool1").code == 1
    assert run("validate", "-n", "x", "-f", good).stderr.startswith("Usage:")


def test_diff(run, tmp_path):
    f = manifest(tmp_path, POOL)
    r = run("diff", "-f", f)
    assert r.code == 1 and "+++ IPPool(pool1) (applied)" in r.stdout
    assert "+  cidr: 10.0.1.0/24" in r.stdout
    run("apply", "-f", f)
    assert (run("diff", "-f", f).code, run("diff", "-f", f).stdout) == (0, "")
    r = run("diff", "-f", manifest(tmp_path, POOL.replace("Always", "Never"), "b.yaml"))
    assert r.code == 1 and "-  ipipMode: Always\n+  ipipMode: Never\n" in r.stdout


def test_version_completion_and_help(run):
    r = run("version")
    assert r.code == 0 and r.stdout.startswith("Client Version:    v3.32.1\n")
    assert "Cluster Version:   v3.32.1" in r.stdout
    bash = run("completion", "bash")
    assert bash.code == 0 and "complete -F _ctl_complete ctl" in bash.stdout
    assert "#compdef ctl" in run("completion", "zsh").stdout
    assert run("completion", "fish").code == 1
    top = run("--help")
    assert top.code == 0 and top.stdout.startswith("Usage:\n  ctl [options] <command>")
    for verb in ("get", "apply", "create", "replace", "delete", "patch", "label", "validate",
                 "version", "diff", "completion"):
        h = run(verb, "-h")
        assert h.code == 0 and "Usage:" in h.stdout, verb
    bad = run("--allow-version-mismatch", "-m")
    assert bad.code == 1 and bad.stdout == ("Invalid option: '--allow-version-mismatch -m'. "
                                            "Use flag '--help' to read about a specific "
                                            "subcommand.\n")
    assert run("get", "--remove").stderr.startswith("Usage:\n  ctl get")


def test_version_mismatch(ctl_env, run, tmp_path):
    _, store = ctl_env
    key = "/calico/resources/v3/projectcalico.org/clusterinformations/default"
    info = store.get_json(key)
    info["spec"]["calicoVersion"] = "v0.0.1"
    store.put(key, json.dumps(info).encode())
    f = manifest(tmp_path, POOL)
    r = run("apply", "-f", f)
    assert r.code == 1 and r.stderr == ("version mismatch.\nClient Version:   v3.32.1\n"
                                        "Cluster Version:  v0.0.1\n"
                                        "Use --allow-version-mismatch to override\n")
    assert run("get", "ippool").stderr.startswith("failed to get resources: version mismatch.")
    assert run("apply", "-f", f, "--allow-version-mismatch").code == 0
    assert run("--allow-version-mismatch", "get", "ippool").code == 0


def test_big_apply_is_concurrent_and_orders_tiers_first(run, tmp_path):
    policies = [{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                 "metadata": {"name": f"t1.p{i}"},
                 "spec": {"tier": "t1", "order": i, "selector": "all()"}} for i in range(60)]
    tier = {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "t1"},
            "spec": {"order": 50}}
    f = manifest(tmp_path, yaml.safe_dump_all(policies + [tier]))
    r = run("apply", "-f", f)
    assert (r.code, r.stdout) == (0, "Successfully applied 61 resource(s)\n"), r
    assert len(run("get", "gnp", "-o", "yaml").stdout.split("kind: GlobalNetworkPolicy\n")) == 61
    r = run("delete", "-f", f)
    assert (r.code, r.stdout) == (0, "Successfully deleted 61 resource(s)\n"), r


def test_progress_bar_on_a_terminal_only(ctl_env, run, tmp_path):
    """Over 50 resources with stderr on a terminal: a rich progress bar; the summary line on
    stdout is unchanged."""
    url, _ = ctl_env
    sets = [{"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
             "metadata": {"name": f"s{i}"}, "spec": {"nets": [f"10.0.{i}.0/24"]}}
            for i in range(55)]
    f = manifest(tmp_path, yaml.safe_dump_all(sets))
    master, slave = pty.openpty()
    proc = subprocess.run([sys.executable, "-m", "ctl", "apply", "-f", f],
                          env={**os.environ, "CALICO_APISERVER": url, "COLUMNS": "100"},
                          stdout=subprocess.PIPE, stderr=slave, text=True, timeout=120)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.returncode == 0
    assert proc.stdout == "Successfully applied 55 'GlobalNetworkSet' resource(s)\n"
    assert b"applying" in b"".join(chunks)
    plain = run("apply", "-f", f)
    assert plain.stderr == "" and plain.stdout == proc.stdout


def test_bash_completion_completes_verbs_kinds_options_and_names(ctl_env, run, tmp_path):
    url, _ = ctl_env
    run("create", "-f", manifest(tmp_path, POOL))
    script = write(tmp_path / "c.sh", run("completion", "bash").stdout)
    probe = (f"source {script}; for words in 'ctl ap' 'ctl get ipp' 'ctl get -o y' "
             "'ctl delete --sk' 'ctl get ippool po'; do read -ra COMP_WORDS <<< \"$words\"; "
             "COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _ctl_complete; echo \"${COMPREPLY[*]}\"; done")
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CALICO_APISERVER": url,
                               "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert done.stdout.splitlines() == ["apply", "ippool", "yaml",
                                        "--skip-empty --skip-not-exists", "pool1"], done


def test_readme_tour_applies_every_example_and_patches_wireguard(run):
    examples = Path(__file__).resolve().parents[1] / "examples"
    count = len(list(examples.glob("*.yaml")))
    r = run("apply", "-f", str(examples))
    assert (r.code, r.stdout, r.stderr) == (0, f"Successfully applied {count} resource(s)\n", "")
    patch = (examples / "patches" / "wireguard-merge-patch.json").read_text()
    r = run("patch", "felixconfiguration", "default", "--type=merge", "-p", patch)
    assert r.stdout == "Successfully patched 1 'FelixConfiguration' resource\n"
    r = run("get", "felixconfiguration", "default", "-o", "json")
    assert json.loads(r.stdout)["spec"]["wireguardEnabled"] is True


def test_field_errors_name_the_offending_end_of_a_port_range(run, tmp_path):
    policy = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
              "metadata": {"name": "ports"},
              "spec": {"ingress": [{"action": "Allow", "protocol": "TCP",
                                    "destination": {"ports": [80, "0:65535"]}}]}}
    f = manifest(tmp_path, yaml.safe_dump(policy))
    r = run("create", "-f", f)
    assert (r.code, r.stderr) == (1, "failed to create 'GlobalNetworkPolicy' resource: [error "
                                     "with field Port = '0' (port range invalid, port number "
                                     "must be between 1 and 65535)]\n"
                                     f"file {f}, document 1 (GlobalNetworkPolicy ports): "
                                     "spec.ingress[0].destination.ports[1]\n")


def test_default_only_bgp_fields_are_refused_without_a_value(run, tmp_path):
    config = {"apiVersion": "projectcalico.org/v3", "kind": "BGPConfiguration",
              "metadata": {"name": "node.a"}, "spec": {"nodeToNodeMeshEnabled": True}}
    f = manifest(tmp_path, yaml.safe_dump(config))
    r = run("apply", "-f", f)
    assert (r.code, r.stderr) == (1, "failed to apply 'BGPConfiguration' resource: [error with "
                                     "field BGPConfiguration.Spec.NodeToNodeMeshEnabled (Cannot "
                                     "set nodeToNodeMeshEnabled on a non default BGP "
                                     "Configuration.)]\n"
                                     f"file {f}, document 1 (BGPConfiguration node.a): "
                                     "spec.nodeToNodeMeshEnabled\n")
