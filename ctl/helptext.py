"""Help texts, which are also the grammar: ``arguments`` parses every command line with
docopt from exactly the text ``--help`` prints, as calicoctl does, so the two cannot disagree.

The texts are calicoctl v3.32.1's with the program named ``ctl``, plus what this client adds
(``--dry-run``, ``--selector``, ``diff``, ``completion`` and the connection options). Each
option is written once below and placed in the texts of the commands that take it; the kinds
calicoctl lists are written once too (``RESOURCE_TYPES``).
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import DEFAULT_CONFIG, DEFAULT_SERVER, DEFAULT_TIMEOUT

PROGRAM = "ctl"
# calicoctl's util.Resources(): the kinds its help lists and shell completion offers.
RESOURCE_TYPES = ("bgpconfiguration", "bgpfilter", "bgppeer", "clusterinformation",
                  "felixconfiguration", "globalnetworkpolicy", "globalnetworkset",
                  "hostendpoint", "ippool", "ipreservation", "kubecontrollersconfiguration",
                  "networkpolicy", "networkset", "node", "profile",
                  "stagedglobalnetworkpolicy", "stagedkubernetesnetworkpolicy",
                  "stagednetworkpolicy", "tier", "workloadendpoint")


def _hanging(head: str, text: str, column: int) -> str:
    """``head``, then ``text`` from ``column`` (at least two spaces after ``head``, which is
    where docopt splits an option from its description), each further line under the first;
    a ``head`` too long for the column has all of ``text`` under it."""
    first, *more = text.split("\n")
    if len(head) > column - 2:
        return "".join([f"{head}\n", *(f"{' ' * column}{line}\n" for line in (first, *more))])
    return "".join([f"{head.ljust(column - 2)}  {first}\n",
                    *(f"{' ' * column}{line}\n" for line in more)])


def _option(flags: str, text: str, *, column: int = 31) -> str:
    """One option as calicoctl lays it out: a short name from column 2, a long-only option
    lined up with the long names."""
    return _hanging(f"     {flags}" if flags.startswith("--") else f"  {flags}", text, column)


_HELP = _option("-h --help", "Show this screen.")
_RECURSIVE = _option("-R --recursive",
                     "Process the filename specified in -f or --filename recursively.")
_SKIP_EMPTY = _option("--skip-empty", "Do not error if any files or directory specified "
                      "using -f or --filename contain no\ndata.")
_CONFIG = _option("-c --config=<CONFIG>", "Path to the file containing connection\n"
                  f"configuration in YAML or JSON format.\n[default: {DEFAULT_CONFIG}]")
_NAMESPACE = _option("-n --namespace=<NS>", "Namespace of the resource.\n"
                     "Only applicable to NetworkPolicy, StagedNetworkPolicy,\n"
                     "StagedKubernetesNetworkPolicy, NetworkSet, and WorkloadEndpoint.\n"
                     "Uses the default namespace if not specified.")
_CONTEXT = _option("--context=<context>", "The name of the kubeconfig context to use.")
_MISMATCH = _option("--allow-version-mismatch", "Allow client and cluster versions mismatch.")
_DRY_RUN = _option("--dry-run", "(create/apply/replace/delete/patch) Have the server run the\n"
                   "whole request without writing anything.")
_IN_EVERY_NAMESPACE = _option("-A --all-namespaces", "With --selector, match in every "
                              "namespace.")
# the program's own
_LOG_LEVEL = _option("-l --log-level=<level>", "Set the log level (one of panic, fatal, "
                     "error,\nwarn, info, debug) [default: panic]")
_API_CONFIG = _option("-c --config=<CONFIG>", "CalicoAPIConfig file (spec.apiServer, token,\n"
                      f"tokenFile, caFile, certFile, keyFile)\n[default: {DEFAULT_CONFIG}]")
# get
_OUTPUT = _option("-o --output=<OUTPUT FORMAT>", "Output format.  One of: yaml, json, ps, "
                  "wide,\ncustom-columns=..., go-template=...,\ngo-template-file=...   "
                  "[Default: ps]")
_ALL_NAMESPACES = _option("-A --all-namespaces", "If present, list the requested object(s) "
                          "across all namespaces.")
_EXPORT = _option("--export", "If present, returns the requested object(s) stripped of\n"
                  "cluster-specific information. This flag will be ignored\n"
                  "if <NAME> is not specified.")
_GET_SELECTOR = _option("-l --selector=<SELECTOR>", "Only resources whose labels match this "
                        "Calico selector\n(e.g. \"app == 'web' && has(tier)\"). With a <KIND> "
                        "only.")
# create, delete
_SKIP_EXISTS = _option("--skip-exists", "Skip over and treat as successful any attempts to\n"
                       "create an entry that already exists.")
_SKIP_NOT_EXISTS = _option("-s --skip-not-exists", "Skip over and treat as successful, "
                           "resources that\ndon't exist.")
_DELETE_SELECTOR = _option("-l --selector=<SELECTOR>", "Delete every resource of <KIND> whose "
                           "labels match this\nCalico selector.")
# patch
_PATCH = _option("-p --patch=<PATCH>", "Spec to use to patch the resource.")
_TYPE = _option("-t --type=<TYPE>", "Format of patch type:\n"
                "   strategic   Strategic merge patch (default)\n"
                "   json        JSON Patch, RFC 6902\n"
                "   merge       JSON Merge Patch, RFC 7386")
# label
_OVERWRITE = _option("--overwrite", "If true, overwrite the value when the key is already\n"
                     "present in labels. Otherwise reports error when the\n"
                     "labeled resource already have the key in its labels.\n"
                     "Cannot be used with --remove.")
_REMOVE = _option("--remove", "If true, remove the specified key in labels of the\n"
                  "resource. Reports error when specified key does not\n"
                  "exist. Cannot be used with --overwrite.")
_LABEL_SELECTOR = _option("-l --selector=<SELECTOR>", "Label every resource of <KIND> "
                          "matching this Calico selector.")
# convert
_CONVERT_FILENAME = _option("-f --filename=<FILENAME>", "Filename to use to create the resource. "
                            "If set to\n\"-\" loads from stdin.")
_CONVERT_OUTPUT = _option("-o --output=<OUTPUT FORMAT>", "Output format. One of: yaml or json.\n"
                          "[Default: yaml]")
_IGNORE_VALIDATION = _option("--ignore-validation", "Skip validation on the converted "
                             "manifest.")
# node
_NODE = _option("--node=<NODE>", "The node whose status to show (default: this host's\n"
                "name, lower-cased, as calico-node's default node name).")
# ipam
_IP = _option("--ip=<IP>", "show: report whether this specific IP address is in use.\n"
              "release: IP address to release.")
_SHOW_BLOCKS = _option("--show-blocks", "Show detailed information for IP blocks as well as "
                       "pools.")
_SHOW_BORROWED = _option("--show-borrowed", "Show detailed information for \"borrowed\" IP "
                         "addresses.")
_SHOW_CONFIGURATION = _option("--show-configuration", "Show current Calico IPAM "
                              "configuration.")
_REPORT_OUTPUT = _option("-o --output=<FILE>", "check: Path to output report file.")
_SHOW_ALL_IPS = _option("--show-all-ips", "check: Print all IPs that are checked.")
_SHOW_PROBLEM_IPS = _option("--show-problem-ips", "check: Print all IPs that are leaked or "
                            "not allocated properly.")
_KUBECONFIG = _option("--kubeconfig=<KUBECONFIG>", "check: accepted for calicoctl's command "
                      "lines; ctl\nreads nodes and workloads from the apiserver.")
_FROM_REPORT = _option("--from-report=<REPORT>", "release: Release all leaked addresses from "
                       "the report.\nIf multiple reports are specified then only leaked\nIPs "
                       "common to all reports will be released.\nAt least one of the reports "
                       "should be newly\ngenerated.")
_FORCE = _option("--force", "release: Force release of leaked addresses.")
_STRICT_AFFINITY = _option("--strictaffinity=<true/false>", "configure: Set StrictAffinity to "
                           "true/false.\nWhen StrictAffinity is true, borrowing IP\naddresses "
                           "is not allowed.")
_MAX_BLOCKS = _option("--max-blocks-per-host=<number>", "configure: Set the maximum number of "
                      "blocks\nthat can be affine to a host.")
_KUBEVIRT = _option("--kubevirt-ip-persistence=<Enabled|Disabled>",
                    "configure: Control whether KubeVirt VMs\nretain persistent IP addresses "
                    "across\nlifecycle events.")
# datastore
_IMPORT_FILENAME = _option("-f --filename=<FILENAME>", "Filename to use to import resources.  "
                           "If set to\n\"-\" loads from stdin.")
# diff
_DIFF_FILENAME = _option("-f --filename=<FILENAME>", "Filename to diff.  If set to \"-\" "
                         "loads from stdin.\nIf filename is a directory, every .json .yaml "
                         "and .yml\nfile within that directory is used.")


def _filename(verb: str) -> str:
    """calicoctl's -f, worded for ``verb``."""
    return _option("-f --filename=<FILENAME>", f"Filename to use to {verb} the resource.  "
                   "If set to\n\"-\" loads from stdin. If filename is a directory, this "
                   "command is\ninvoked for each .json .yaml and .yml file within that "
                   "directory,\nterminating after the first failure.")


# What every command takes to reach the apiserver, in a wider column. Defaults are shown in
# parentheses: a docopt "[default: …]" would make the flag win over config file and environment.
_CONNECTION = "".join([
    "Connection options (any verb, before or after it):\n",
    _option("--server=<URL>", "apiserver URL [env: CALICO_APISERVER]\n"
            f"(default: {DEFAULT_SERVER})", column=37),
    _option("--token=<TOKEN>", "Bearer token [env: CALICO_TOKEN]", column=37),
    _option("--certificate-authority=<FILE>", "CA bundle that signed the apiserver's "
            "certificate.", column=37),
    _option("--client-certificate=<FILE>", "Client certificate for mutual TLS.", column=37),
    _option("--client-key=<FILE>", "Key of the client certificate.", column=37),
    _option("--timeout=<DURATION>", "Timeout of each request (e.g. 10s) [env: CALICO_TIMEOUT]"
            f"\n(default: {DEFAULT_TIMEOUT:g}s)", column=37)])
_DATASTORE = ("Set the Calico datastore access information in the environment variables or\n"
              "supply details in a config file.\n\n")
_RESOURCES = "".join(f"    - {kind}\n" for kind in RESOURCE_TYPES)

GET = f"""\
{_DATASTORE}Usage:
  ctl get ( (<KIND> [<NAME>...]) |
                --filename=<FILENAME> [--recursive] [--skip-empty] )
                [--output=<OUTPUT>] [--config=<CONFIG>] [--namespace=<NS>] [--all-namespaces] [--export] [--selector=<SELECTOR>] [--context=<context>] [--allow-version-mismatch] [options]

Examples:
  # List all policy in default output format.
  ctl get policy

  # List specific policies in YAML format
  ctl get -o yaml policy my-policy-1 my-policy-2

Options:
{_HELP}{_filename("get")}{_RECURSIVE}{_SKIP_EMPTY}{_OUTPUT}{_CONFIG}{_NAMESPACE}{_ALL_NAMESPACES}\
{_EXPORT}{_GET_SELECTOR}{_CONTEXT}{_MISMATCH}
{_CONNECTION}
Description:
  The get command is used to display a set of resources by filename or stdin,
  or by type and identifiers.  JSON and YAML formats are accepted for file and
  stdin format.

  Valid resource types are:

{_RESOURCES}\
  The resource type is case-insensitive and may be pluralized.

  Attempting to get resources that do not exist will simply return no results.

  When getting resources by type, only a single type may be specified at a
  time.  The name and other identifiers (hostname, scope) are optional, and are
  wildcarded when omitted. Thus if you specify no identifiers at all (other
  than type), then all configured resources of the requested type will be
  returned.

  By default the results are output in a ps-style table output.  There are
  alternative ways to display the data using the --output option:

    ps                    Display the results in ps-style output.
    wide                  As per the ps option, but includes more headings.
    custom-columns        As per the ps option, but only display the columns
                          that are requested in the comma-separated list.
    go-template           Display the results using the specified golang
                          template.  This can be used to filter results, for
                          example to return a specific value.
    go-template-file      Display the results using the golang template that is
                          contained in the specified file.
    yaml                  Display the results in YAML output format.
    json                  Display the results in JSON output format.

  Note that the data output using YAML or JSON format is always valid to use as
  input to all of the resource management commands (create, apply, replace,
  delete, get).

  Please refer to the docs at https://docs.projectcalico.org for more details on
  the output formats, including example outputs, resource structure (required
  for the golang template definitions) and the valid column names (required for
  the custom-columns option).
"""

CREATE = f"""\
{_DATASTORE}Usage:
  ctl create --filename=<FILENAME> [--recursive] [--skip-empty]
                   [--skip-exists] [--dry-run] [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch] [options]

Examples:
  # Create a policy using the data in policy.yaml.
  ctl create -f ./policy.yaml

  # Create a policy based on the JSON passed into stdin.
  cat policy.json | ctl create -f -

Options:
{_HELP}{_filename("create")}{_RECURSIVE}{_SKIP_EMPTY}{_SKIP_EXISTS}{_CONFIG}{_NAMESPACE}{_CONTEXT}\
{_MISMATCH}{_DRY_RUN}
{_CONNECTION}
Description:
  The create command is used to create a set of resources by filename or stdin.
  JSON and YAML formats are accepted.

  Valid resource types are:

{_RESOURCES}\
  Attempting to create a resource that already exists is treated as a
  terminating error unless the --skip-exists flag is set.  If this flag is set,
  resources that already exist are skipped.

  The output of the command indicates how many resources were successfully
  created, and the error reason if an error occurred.  If the --skip-exists
  flag is set then skipped resources are included in the success count.

  The resources are created in the order they are specified.  In the event of a
  failure creating a specific resource it is possible to work out which
  resource failed based on the number of resources successfully created.
"""

APPLY = f"""\
{_DATASTORE}Usage:
  ctl apply --filename=<FILENAME> [--recursive] [--skip-empty] [--dry-run]
                   [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch] [options]

Examples:
  # Apply a policy using the data in policy.yaml.
  ctl apply -f ./policy.yaml

  # Apply a policy based on the JSON passed into stdin.
  cat policy.json | ctl apply -f -

Options:
{_HELP}{_filename("apply")}{_RECURSIVE}{_SKIP_EMPTY}{_CONFIG}{_NAMESPACE}{_CONTEXT}{_MISMATCH}\
{_DRY_RUN}
{_CONNECTION}
Description:
  The apply command is used to create or replace a set of resources by filename
  or stdin.  JSON and YAML formats are accepted.

  Valid resource types are:

{_RESOURCES}\
  When applying a resource:
  -  if the resource does not already exist (as determined by it's primary
     identifiers) then it is created
  -  if the resource already exists then the specification for that resource is
     replaced in it's entirety by the new resource specification.

  The output of the command indicates how many resources were successfully
  applied, and the error reason if an error occurred.

  The resources are applied in the order they are specified.  In the event of a
  failure applying a specific resource it is possible to work out which
  resource failed based on the number of resources successfully applied

  When applying a resource to perform an update, the complete resource spec
  must be provided, it is not sufficient to supply only the fields that are
  being updated.
"""

REPLACE = f"""\
{_DATASTORE}Usage:
  ctl replace --filename=<FILENAME> [--recursive] [--skip-empty] [--dry-run]
                   [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch] [options]

Examples:
  # Replace a policy using the data in policy.yaml.
  ctl replace -f ./policy.yaml

  # Replace a policy based on the JSON passed into stdin.
  cat policy.json | ctl replace -f -

Options:
{_HELP}{_filename("replace")}{_RECURSIVE}{_SKIP_EMPTY}{_CONFIG}{_NAMESPACE}{_CONTEXT}{_MISMATCH}\
{_DRY_RUN}
{_CONNECTION}
Description:
  The replace command is used to replace a set of resources by filename or
  stdin.  JSON and YAML formats are accepted.

  Valid resource types are:

{_RESOURCES}\
  Attempting to replace a resource that does not exist is treated as a
  terminating error.

  The output of the command indicates how many resources were successfully
  replaced, and the error reason if an error occurred.

  The resources are replaced in the order they are specified.  In the event of
  a failure replacing a specific resource it is possible to work out which
  resource failed based on the number of resources successfully replaced.

  When replacing a resource, the complete resource spec must be provided, it is
  not sufficient to supply only the fields that are being updated.
"""

DELETE = f"""\
{_DATASTORE}Usage:
  ctl delete ( (<KIND> [<NAME>...] [--selector=<SELECTOR>] [--all-namespaces]) |
                   --filename=<FILE> [--recursive] [--skip-empty] )
                   [--skip-not-exists] [--dry-run] [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch] [options]

Examples:
  # Delete a policy using the type and name specified in policy.yaml.
  ctl delete -f ./policy.yaml

  # Delete a policy based on the type and name in the YAML passed into stdin.
  cat policy.yaml | ctl delete -f -

  # Delete policies with names "foo" and "bar"
  ctl delete policy foo bar

Options:
{_HELP}{_SKIP_NOT_EXISTS}{_DELETE_SELECTOR}{_IN_EVERY_NAMESPACE}{_filename("delete")}{_RECURSIVE}\
{_SKIP_EMPTY}{_CONFIG}{_NAMESPACE}{_CONTEXT}{_MISMATCH}{_DRY_RUN}
{_CONNECTION}
Description:
  The delete command is used to delete a set of resources by filename or stdin,
  or by type and identifiers.  JSON and YAML formats are accepted for file and
  stdin format.

  Valid resource types are:

{_RESOURCES}\
  The resource type is case-insensitive and may be pluralized.

  Attempting to delete a resource that does not exists is treated as a
  terminating error unless the --skip-not-exists flag is set.  If this flag is
  set, resources that do not exist are skipped.

  When deleting resources by type, only a single type may be specified at a
  time.  The name is required along with any and other identifiers required to
  uniquely identify a resource of the specified type.

  The output of the command indicates how many resources were successfully
  deleted, and the error reason if an error occurred.  If the --skip-not-exists
  flag is set then skipped resources are included in the success count.

  The resources are deleted in the order they are specified.  In the event of a
  failure deleting a specific resource it is possible to work out which
  resource failed based on the number of resources successfully deleted.
"""

PATCH = f"""\
{_DATASTORE}Usage:
  ctl patch <KIND> <NAME> --patch=<PATCH> [--type=<TYPE>] [--dry-run] [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch] [options]

Examples:
  # Partially update a node using a strategic merge patch.
  ctl patch node node-0 --patch '{{"spec":{{"bgp": {{"routeReflectorClusterID": "CLUSTER_ID"}}}}}}'

  # Partially update a node using a json merge patch.
  ctl patch node node-0 --patch '{{"spec":{{"bgp": {{"routeReflectorClusterID": "CLUSTER_ID"}}}}}}' --type json

Options:
{_HELP}{_PATCH}{_TYPE}{_CONFIG}{_NAMESPACE}{_CONTEXT}{_MISMATCH}{_DRY_RUN}
{_CONNECTION}
Description:
  The patch command is used to patch a specific resource by type and identifiers in place.
  Currently, only JSON format is accepted.

  Valid resource types are:

{_RESOURCES}\
  The resource type is case-insensitive and may be pluralized.

  Attempting to patch a resource that does not exists is treated as a
  terminating error unless the --skip-not-exists flag is set.  If this flag is
  set, resources that do not exist are skipped.

  When patching resources by type, only a single type may be specified at a
  time.  The name is required along with any and other identifiers required to
  uniquely identify a resource of the specified type.
"""

# calicoctl's usage, then the --selector form this client adds (docopt does not backtrack,
# so the two forms are two patterns rather than one alternative inside the first).
LABEL = f"""\
{_DATASTORE}Usage:
  ctl label (<KIND> <NAME>
  	              ( <key>=<value> [--overwrite] |
  	                <key> --remove )
                  [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>]) [--allow-version-mismatch] [options]
  ctl label <KIND> --selector=<SELECTOR> [--all-namespaces]
                  ( <key>=<value> [--overwrite] | <key> --remove )
                  [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch] [options]

Examples:
  # Label a workload endpoint
  ctl label workloadendpoints nginx --namespace=default app=web

  # Label a node and overwrite the original value of key 'cluster'
  ctl label nodes node1 cluster=frontend --overwrite

  # Remove label with key 'cluster' of the node
  ctl label nodes node1 cluster --remove

Options:
{_HELP}{_CONFIG}{_NAMESPACE}{_OVERWRITE}{_REMOVE}{_LABEL_SELECTOR}{_IN_EVERY_NAMESPACE}{_CONTEXT}\
{_MISMATCH}
{_CONNECTION}
Description:
  The label command is used to add or update a label on a resource. Resource types
  that can be labeled are:

{_RESOURCES}\
  The resource type is case-insensitive and may be pluralized.

  Attempting to label resources that do not exist will get an error.

  Attempting to remove a label that does not in the resource will get an error.

  When labeling a resource on an existing key:
  - gets an error if option --overwrite is not provided.
  - value of the key updates to specified value if option --overwrite is provided.
"""

VALIDATE = f"""\
Usage:
  ctl validate --filename=<FILENAME> [--recursive] [--skip-empty] [--allow-version-mismatch] [options]

Examples:
  # Validate a policy using the data in policy.yaml.
  ctl validate -f ./policy.yaml

  # Validate a policy based on the JSON passed into stdin.
  cat policy.json | ctl validate -f -

Options:
{_HELP}{_filename("validate")}{_RECURSIVE}{_SKIP_EMPTY}{_MISMATCH}
{_CONNECTION}
Description:
  The validate command is used to validate a set of resources by filename
  or stdin.  JSON and YAML formats are accepted.

  Valid resource types are:

{_RESOURCES}
  The validate command parses the specified resources and validates them
  without contacting a server, with the checks the apiserver runs on a create
  (rules about other resources, such as a policy's tier existing, are left to
  the apiserver). This can be used to check resource syntax, structure, and
  schema validity before applying them.

  The output of the command indicates how many resources were successfully
  validated, and the error reason if an error occurred.

  The resources are validated in the order they are specified.  In the event of a
  failure validating a specific resource it is possible to work out which
  resource failed based on the number of resources successfully validated.
"""

CONVERT = f"""\
{_DATASTORE}Usage:
  ctl convert --filename=<FILENAME>
                [--output=<OUTPUT>] [--ignore-validation] [--allow-version-mismatch] [options]

Examples:
  # Convert the contents of policy.yaml to a Calico v3 policy.
  ctl convert -f ./policy.yaml -o yaml

  # Convert a policy based on the JSON passed into stdin.
  cat policy.json | ctl convert -f -

Options:
{_HELP}{_CONVERT_FILENAME}{_CONVERT_OUTPUT}{_IGNORE_VALIDATION}{_MISMATCH}
{_CONNECTION}
Description:
  Convert config files from Calico v1 or Kubernetes to Calico v3 API versions. Both YAML and JSON formats are accepted.

  The default output will be printed to stdout in YAML format.

  Kubernetes networking.k8s.io/v1 NetworkPolicies (and Lists of them) are converted as
  Calico converts them; Calico v1 resources (apiVersion v1: node, hostEndpoint,
  workloadEndpoint, profile, policy, tier, ipPool, bgpPeer) as calicoctl converted them.
  Unless --ignore-validation is given, the result is validated offline, with
  the apiserver's own checks.
"""

NODE = f"""\
Usage:
  ctl node status [--node=<NODE>] [--config=<CONFIG>] [--allow-version-mismatch] [options]

Options:
{_HELP}{_NODE}{_CONFIG}{_MISMATCH}
{_CONNECTION}
Description:
  Check the status of the Calico node instance.  This includes the status and
  uptime of the node instance, and BGP peering states.

  ctl reads them from the node's CalicoNodeStatus resource, which calico-node fills in
  every spec.updatePeriodSeconds.  Without one (or with one calico-node no longer
  updates), it prints the manifest that asks calico-node to report.
"""

IPAM = f"""\
{_DATASTORE}Usage:
  ctl ipam show [--ip=<IP> | --show-blocks | --show-borrowed | --show-configuration]
                [--config=<CONFIG>] [--allow-version-mismatch] [options]
  ctl ipam check [--show-all-ips] [--show-problem-ips] [--output=<FILE>]
                 [--kubeconfig=<KUBECONFIG>] [--config=<CONFIG>] [--allow-version-mismatch]
                 [options]
  ctl ipam release [--ip=<IP>] [--from-report=<REPORT>]... [--force] [--config=<CONFIG>]
                   [--allow-version-mismatch] [options]
  ctl ipam configure [--strictaffinity=<true/false>] [--max-blocks-per-host=<number>]
                     [--kubevirt-ip-persistence=<Enabled|Disabled>] [--config=<CONFIG>]
                     [--allow-version-mismatch] [options]

Examples:
  # IP usage of every pool, and of each block.
  ctl ipam show --show-blocks

  # Find leaked addresses and handles, then release them.
  ctl datastore migrate lock
  ctl ipam check -o report.json
  ctl ipam release --from-report=report.json
  ctl datastore migrate unlock

Options:
{_HELP}{_IP}{_SHOW_BLOCKS}{_SHOW_BORROWED}{_SHOW_CONFIGURATION}{_REPORT_OUTPUT}\
{_SHOW_ALL_IPS}{_SHOW_PROBLEM_IPS}{_KUBECONFIG}{_FROM_REPORT}{_FORCE}{_STRICT_AFFINITY}\
{_MAX_BLOCKS}{_KUBEVIRT}{_CONFIG}{_MISMATCH}
{_CONNECTION}
Description:
  IP address management commands for Calico, on the IPAM data calico-node and the
  CNI plugin write (the apiserver serves it as IPAMBlock, BlockAffinity, IPAMHandle
  and IPAMConfiguration objects).

    show       Show details of a Calico configuration, assigned IP address, or of
               overall IP usage.
    check      Check the integrity of the IPAM datastructures against the
               workloads and nodes the apiserver holds.
    release    Release a Calico assigned IP address (the apiserver edits its block
               with a compare-and-swap, as calicoctl does), or every address and
               handle a check report found leaked.
    configure  Configure IPAM (IPAMConfiguration default).

  Note that release does not remove the IP from any existing endpoints that may be
  using it, so only use it to clean up addresses from endpoints that were not
  cleanly removed from Calico.
"""

DATASTORE = f"""\
Usage:
  ctl datastore migrate export [--config=<CONFIG>] [--allow-version-mismatch] [options]
  ctl datastore migrate import --filename=<FILENAME> [--config=<CONFIG>] [--allow-version-mismatch] [options]
  ctl datastore migrate lock [--config=<CONFIG>] [--allow-version-mismatch] [options]
  ctl datastore migrate unlock [--config=<CONFIG>] [--allow-version-mismatch] [options]

Examples:
  # Move every resource of one apiserver to another.
  ctl datastore migrate lock
  ctl datastore migrate export > datastore.txt
  ctl --server https://new:5443 datastore migrate import -f datastore.txt
  ctl --server https://new:5443 datastore migrate unlock

Options:
{_HELP}{_IMPORT_FILENAME}{_CONFIG}{_MISMATCH}
{_CONNECTION}
Description:
  Migration specific commands.

    export  Export every resource to stdout (the datastore must be locked): one
            <Kind>List per kind, in dependency order (Tiers before policies,
            BGPFilters before BGPPeers, IPPools before what is allocated from
            them), without server-owned fields, built-in virtual objects or
            federation copies; then the ClusterInformation, and the IPAM data
            (blocks, affinities, handles, configuration) in calicoctl's JSON.
    import  Apply an export to a new datastore (one holding only the server's
            built-ins), IPAM data last, and leave it locked.
    lock    Lock the datastore (ClusterInformation spec.datastoreReady false) to
            prepare it for migration. This prevents any new Calico resources from
            affecting the cluster but does not prevent updating or creating new
            Calico resources.
    unlock  Unlock the datastore to complete migration. This once again allows
            Calico resources to take effect in the cluster.
"""

CLUSTER = f"""\
{_DATASTORE}Usage:
  ctl cluster diags [--config=<CONFIG>] [--allow-version-mismatch] [options]

Options:
{_HELP}{_CONFIG}{_MISMATCH}
{_CONNECTION}
Description:
  The cluster diags command collects a snapshot of diagnostic info related to
  Calico for the given cluster.  It generates a .tar.gz file in the current
  directory containing all the diags: every resource (YAML and a wide table per
  kind), the apiserver's version, API discovery, metrics and verbose readiness,
  and the federation status of every RemoteClusterConfiguration.
"""

VERSION = f"""\
Usage:
  ctl version [--config=<CONFIG>] [--context=<context>] [--allow-version-mismatch] [options]

Options:
{_HELP}{_CONFIG}{_CONTEXT}{_MISMATCH}
{_CONNECTION}
Description:
  Display the version of ctl and, when the apiserver is reachable, of the cluster.
"""

DIFF = f"""\
Usage:
  ctl diff --filename=<FILENAME> [--recursive] [--skip-empty] [--config=<CONFIG>]
           [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch] [options]

Examples:
  # Show what applying policy.yaml would change.
  ctl diff -f ./policy.yaml

Options:
{_HELP}{_DIFF_FILENAME}{_RECURSIVE}{_SKIP_EMPTY}{_CONFIG}{_NAMESPACE}{_CONTEXT}{_MISMATCH}
{_CONNECTION}
Description:
  The diff command asks the apiserver what each resource would look like after an
  apply (a server-side dry run) and prints a unified diff against the stored object
  (fields the server owns are left out).  Exit code 0: no differences; 1: differences
  or an error.
"""

COMPLETION = f"""\
Usage:
  ctl completion <SHELL> [options]

Examples:
  # Load completion into the current bash shell.
  source <(ctl completion bash)

  # zsh
  ctl completion zsh > "${{fpath[1]}}/_ctl"

Options:
{_HELP}
{_CONNECTION}
Description:
  Print a completion script for <SHELL> (bash or zsh).  Kinds are completed from the
  calicoctl names; resource names are completed by asking the apiserver.
"""

@dataclass(frozen=True)
class Command:
    """A command's line in the program's help (``summary``) and its own help ``text``."""

    summary: str
    text: str


# In the order of calicoctl's list, then this client's own commands.
COMMANDS: dict[str, Command] = {
    "create": Command("Create a resource by file, directory or stdin.", CREATE),
    "replace": Command("Replace a resource by file, directory or stdin.", REPLACE),
    "apply": Command("Apply a resource by file, directory or stdin.  This creates a resource\n"
                     "if it does not exist, and replaces a resource if it does exists.", APPLY),
    "patch": Command("Patch a preexisting resource in place.", PATCH),
    "delete": Command("Delete a resource identified by file, directory, stdin or resource type "
                      "and\nname.", DELETE),
    "get": Command("Get a resource identified by file, directory, stdin or resource type and\n"
                   "name.", GET),
    "label": Command("Add or update labels of resources.", LABEL),
    "validate": Command("Validate a resource by file, directory or stdin without applying it.",
                        VALIDATE),
    "convert": Command("Convert config files between different API versions.", CONVERT),
    "ipam": Command("IP address management.", IPAM),
    "node": Command("Calico node status, as calico-node reports it.", NODE),
    "version": Command("Display the version of this binary and of the cluster.", VERSION),
    "datastore": Command("Calico datastore management.", DATASTORE),
    "cluster": Command("Access cluster information.", CLUSTER),
    "diff": Command("Show what apply would change, by file, directory or stdin.", DIFF),
    "completion": Command("Print a shell completion script (bash or zsh).", COMPLETION),
}


TOP = f"""\
Usage:
  ctl [options] <command> [<args>...]

{"".join(_hanging(f"    {name}", command.summary, 17) for name, command in COMMANDS.items())}
Options:
{_HELP}{_LOG_LEVEL}{_CONTEXT}{_MISMATCH}{_API_CONFIG}
{_CONNECTION}
Description:
  The ctl command line tool manages Calico network and security policy and
  endpoint configuration through the Calico apiserver (projectcalico.org/v3),
  with calicoctl's commands, flags and messages.  It never talks to etcd or
  Kubernetes directly: calicoctl's datastore settings (datastoreType,
  etcdEndpoints, DATASTORE_TYPE, ETCD_ENDPOINTS) are replaced by the apiserver's
  URL (--server, CALICO_APISERVER or spec.apiServer in the config file).

  See 'ctl <command> --help' to read about a specific subcommand.
"""


def usage(command: str | None = None) -> str:
    """Only the ``Usage:`` section of ``command``'s help text (None: the program's), as docopt
    prints it on a usage error."""
    text = COMMANDS[command].text if command else TOP
    start = text.index("Usage:")
    end = text.find("\n\n", start)
    return text[start:end if end >= 0 else None].rstrip() + "\n"
