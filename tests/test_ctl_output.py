"""ctl's renderers as text: tabwriter layout, YAML/JSON shapes, Go templates, -o parsing."""
from __future__ import annotations

import pytest

from ctl import gotemplate, output
from ctl.output import Format

TABLE = {"columnDefinitions": [{"name": "NAMESPACE", "priority": 0},
                               {"name": "NAME", "priority": 0},
                               {"name": "CIDR", "priority": 0},
                               {"name": "NAT", "priority": 1}],
         "rows": [{"cells": ["default", "ippool-name1", "10.0.1.0/24", False]}]}


def test_tabwriter_minwidth_padding_and_trailing_cells():
    assert output.tabwrite([["NAME", "CIDR", "SELECTOR"],
                            ["ippool-name1", "10.0.1.0/24", "foo == 'bar'"]]) == (
        "NAME           CIDR          SELECTOR       \n"
        "ippool-name1   10.0.1.0/24   foo == 'bar'   \n")
    assert output.tabwrite([["A"], [""]]) == "A    \n     \n"


@pytest.mark.parametrize("fmt, ns, text", [
    ("ps", False, "NAME           CIDR          \nippool-name1   10.0.1.0/24   \n\n"),
    ("wide", False, "NAME           CIDR          NAT     \nippool-name1   10.0.1.0/24   false   \n\n"),
    ("ps", True, "NAMESPACE   NAME           CIDR          \n"
                 "default     ippool-name1   10.0.1.0/24   \n\n"),
])
def test_tables_pick_columns_by_priority_and_namespace(fmt, ns, text):
    assert output.render_table(TABLE, Format(fmt), with_namespace=ns) == text


def test_custom_columns_and_unknown_heading():
    assert output.render_table(TABLE, Format("custom-columns", "nat,NAME"),
                               with_namespace=False) == "NAT     NAME           \nfalse   ippool-name1   \n\n"
    with pytest.raises(output.OutputError, match="unknown heading FOO, valid values are: "
                                                 "NAME, CIDR, NAT"):
        output.render_table(TABLE, Format("custom-columns", "FOO"), with_namespace=False)


def test_yaml_sorted_keys_and_go_quoting():
    text = output.to_yaml({"b": "1", "a": {"z": "", "y": "true", "x": "all()", "w": 1000.0},
                           "c": ["10.0.0.0/8"], "d": "two\nlines"})
    assert text == ("a:\n  w: 1000\n  x: all()\n  \"y\": \"true\"\n  z: \"\"\nb: \"1\"\n"
                    "c:\n- 10.0.0.0/8\nd: |-\n  two\n  lines\n")


def test_json_struct_order_html_escape_and_no_newline():
    obj = {"spec": {"selector": "a > b && c < d"}, "metadata": {"uid": "u", "name": "n"},
           "apiVersion": "projectcalico.org/v3", "kind": "IPPool"}
    assert output.to_json(obj) == (
        '{\n  "kind": "IPPool",\n  "apiVersion": "projectcalico.org/v3",\n  "metadata": {\n'
        '    "name": "n",\n    "uid": "u"\n  },\n  "spec": {\n'
        '    "selector": "a \\u003e b \\u0026\\u0026 c \\u003c d"\n  }\n}')


def test_one_result_is_bare_several_are_a_sequence():
    a = {"apiVersion": "v", "kind": "K", "metadata": {"name": "a"}}
    assert output.render_objects([a], Format("yaml")).startswith("apiVersion: v\n")
    assert output.render_objects([a, a], Format("yaml")).startswith("- apiVersion: v\n")
    assert output.render_objects([a, a], Format("json")).startswith("[\n  {\n")


@pytest.mark.parametrize("value, parsed", [
    ("ps", Format("ps")), ("yml", Format("yaml")), ("custom-columns=A,B",
                                                     Format("custom-columns", "A,B")),
    ("go-template={{.}}", Format("go-template", "{{.}}")),
])
def test_parse_format(value, parsed):
    assert output.parse_format(value) == parsed


DATA = [{"apiVersion": "projectcalico.org/v3", "kind": "IPPoolList",
         "metadata": {"resourceVersion": "9"},
         "items": [{"apiVersion": "projectcalico.org/v3", "kind": "IPPool",
                    "metadata": {"name": "a", "labels": {"x": "y"}},
                    "spec": {"cidr": "10.0.0.0/24", "natOutgoing": True}},
                   {"apiVersion": "projectcalico.org/v3", "kind": "IPPool",
                    "metadata": {"name": "b"}, "spec": {"cidr": "10.1.0.0/24"}}]}]


@pytest.mark.parametrize("template, text", [
    ("{{range .}}{{range .Items}}{{.ObjectMeta.Name}}{{end}}{{end}}", "ab"),
    ("{{range .}}{{.Kind}} {{.ListMeta.ResourceVersion}} {{len .Items}}{{end}}", "IPPoolList 9 2"),
    ("{{range .}}{{range $i, $p := .Items}}{{$i}}:{{$p.Spec.CIDR}}"
     "{{if .Spec.NATOutgoing}}+{{else}}-{{end}} {{end}}{{end}}",
     "0:10.0.0.0/24+ 1:10.1.0.0/24- "),
    ("{{- range . -}}\n  {{(index .Items 0).Labels.x}} {{.Name}}{{end}}", "y <no value>"),
    ('{{range .}}{{range .Items}}{{printf "%s=%v;" .Name .Spec.Cidr}}{{end}}{{end}}',
     "a=10.0.0.0/24;b=10.1.0.0/24;"),
    ('{{with $x := "q"}}{{$x}}{{end}}{{/* comment */}}{{if eq 1 1}}!{{end}}', "q!"),
])
def test_go_template(template, text):
    assert gotemplate.render(template, gotemplate.go_view(DATA)) == text


@pytest.mark.parametrize("template", ["{{range .}}", "{{end}}", "{{.A | }}", "{{nosuch 1}}"])
def test_go_template_errors(template):
    with pytest.raises(gotemplate.TemplateError):
        gotemplate.render(template, gotemplate.go_view(DATA))


def test_null_creation_timestamp_is_left_out():
    obj = {"apiVersion": "v", "kind": "Profile",
           "metadata": {"creationTimestamp": None, "name": "p", "resourceVersion": "1"}}
    assert output.render_objects([obj], Format("yaml")) == (
        'apiVersion: v\nkind: Profile\nmetadata:\n  name: p\n  resourceVersion: "1"\n')
