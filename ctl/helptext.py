"""Help texts: calicoctl v3.32.1's (docopt) with the program named ``ctl`` and the options
this client adds (marked in each text). ``usage(verb)`` is what a usage error prints."""
from __future__ import annotations

TOP = """\
Usage:
  ctl [options] <command> [<args>...]

    create       Create a resource by file, directory or stdin.
    replace      Replace a resource by file, directory or stdin.
    apply        Apply a resource by file, directory or stdin.  This creates a resource
                 if it does not exist, and replaces a resource if it does exists.
    patch        Patch a preexisting resource in place.
    delete       Delete a resource identified by file, directory, stdin or resource type and
                 name.
    get          Get a resource identified by file, directory, stdin or resource type and
                 name.
    label        Add or update labels of resources.
    validate     Validate a resource by file, directory or stdin without applying it.
    version      Display the version of this binary and of the cluster.
    diff         Show what apply would change, by file, directory or stdin.
    completion   Print a shell completion script (bash or zsh).

Options:
  -h --help                    Show this screen.
  -l --log-level=<level>       Set the log level (one of panic, fatal, error,
                               warn, info, debug) [default: panic]
     --context=<context>       The name of the kubeconfig context to use.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
{connection}
Description:
  The ctl command line tool is used to manage Calico network and security
  policy, to view and manage endpoint configuration, and to manage a Calico
  node instance.

  See 'ctl <command> --help' to read about a specific subcommand.
"""

GET = """\
Set the Calico datastore access information in the environment variables or
supply details in a config file.

Usage:
  ctl get ( (<KIND> [<NAME>...]) |
                --filename=<FILENAME> [--recursive] [--skip-empty] )
                [--output=<OUTPUT>] [--config=<CONFIG>] [--namespace=<NS>] [--all-namespaces] [--export] [--selector=<SELECTOR>] [--context=<context>] [--allow-version-mismatch]

Examples:
  # List all policy in default output format.
  ctl get policy

  # List specific policies in YAML format
  ctl get -o yaml policy my-policy-1 my-policy-2

Options:
  -h --help                    Show this screen.
  -f --filename=<FILENAME>     Filename to use to get the resource.  If set to
                               "-" loads from stdin. If filename is a directory, this command is
                               invoked for each .json .yaml and .yml file within that directory,
                               terminating after the first failure.
  -R --recursive               Process the filename specified in -f or --filename recursively.
     --skip-empty              Do not error if any files or directory specified using -f or --filename contain no
                               data.
  -o --output=<OUTPUT FORMAT>  Output format.  One of: yaml, json, ps, wide,
                               custom-columns=..., go-template=...,
                               go-template-file=...   [Default: ps]
  -c --config=<CONFIG>         Path to the file containing connection
                               configuration in YAML or JSON format.
                               [default: /etc/calico/calicoctl.cfg]
  -n --namespace=<NS>          Namespace of the resource.
                               Only applicable to NetworkPolicy, StagedNetworkPolicy, StagedKubernetesNetworkPolicy,
                               NetworkSet, and WorkloadEndpoint.
                               Uses the default namespace if not specified.
  -A --all-namespaces          If present, list the requested object(s) across all namespaces.
     --export                  If present, returns the requested object(s) stripped of
                               cluster-specific information. This flag will be ignored
                               if <NAME> is not specified.
  -l --selector=<SELECTOR>     Only resources whose labels match this Calico selector
                               (e.g. "app == 'web' && has(tier)"). With a <KIND> only.
     --context=<context>       The name of the kubeconfig context to use.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
{connection}
Description:
  The get command is used to display a set of resources by filename or stdin,
  or by type and identifiers.  JSON and YAML formats are accepted for file and
  stdin format.

  Valid resource types are:

    - bgpconfiguration
    - bgpfilter
    - bgppeer
    - clusterinformation
    - felixconfiguration
    - globalnetworkpolicy
    - globalnetworkset
    - hostendpoint
    - ippool
    - ipreservation
    - kubecontrollersconfiguration
    - networkpolicy
    - networkset
    - node
    - profile
    - stagedglobalnetworkpolicy
    - stagedkubernetesnetworkpolicy
    - stagednetworkpolicy
    - tier
    - workloadendpoint
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

CREATE = """\
Set the Calico datastore access information in the environment variables or
supply details in a config file.

Usage:
  ctl create --filename=<FILENAME> [--recursive] [--skip-empty]
                   [--skip-exists] [--dry-run] [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch]

Examples:
  # Create a policy using the data in policy.yaml.
  ctl create -f ./policy.yaml

  # Create a policy based on the JSON passed into stdin.
  cat policy.json | ctl create -f -

Options:
  -h --help                    Show this screen.
  -f --filename=<FILENAME>     Filename to use to create the resource.  If set to
                               "-" loads from stdin. If filename is a directory, this command is
                               invoked for each .json .yaml and .yml file within that directory,
                               terminating after the first failure.
  -R --recursive               Process the filename specified in -f or --filename recursively.
     --skip-empty              Do not error if any files or directory specified using -f or --filename contain no
                               data.
     --skip-exists             Skip over and treat as successful any attempts to
                               create an entry that already exists.
  -c --config=<CONFIG>         Path to the file containing connection
                               configuration in YAML or JSON format.
                               [default: /etc/calico/calicoctl.cfg]
  -n --namespace=<NS>          Namespace of the resource.
                               Only applicable to NetworkPolicy, StagedNetworkPolicy,
                               StagedKubernetesNetworkPolicy, NetworkSet, and WorkloadEndpoint.
                               Uses the default namespace if not specified.
     --context=<context>       The name of the kubeconfig context to use.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
  --dry-run                    (create/apply/replace/delete/patch) Have the server run the
                               whole request without writing anything.
{connection}
Description:
  The create command is used to create a set of resources by filename or stdin.
  JSON and YAML formats are accepted.

  Valid resource types are:

    - bgpconfiguration
    - bgpfilter
    - bgppeer
    - clusterinformation
    - felixconfiguration
    - globalnetworkpolicy
    - globalnetworkset
    - hostendpoint
    - ippool
    - ipreservation
    - kubecontrollersconfiguration
    - networkpolicy
    - networkset
    - node
    - profile
    - stagedglobalnetworkpolicy
    - stagedkubernetesnetworkpolicy
    - stagednetworkpolicy
    - tier
    - workloadendpoint
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

APPLY = """\
Set the Calico datastore access information in the environment variables or
supply details in a config file.

Usage:
  ctl apply --filename=<FILENAME> [--recursive] [--skip-empty] [--dry-run]
                   [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch]

Examples:
  # Apply a policy using the data in policy.yaml.
  ctl apply -f ./policy.yaml

  # Apply a policy based on the JSON passed into stdin.
  cat policy.json | ctl apply -f -

Options:
  -h --help                    Show this screen.
  -f --filename=<FILENAME>     Filename to use to apply the resource.  If set to
                               "-" loads from stdin. If filename is a directory, this command is
                               invoked for each .json .yaml and .yml file within that directory,
                               terminating after the first failure.
  -R --recursive               Process the filename specified in -f or --filename recursively.
     --skip-empty              Do not error if any files or directory specified using -f or --filename contain no
                               data.
  -c --config=<CONFIG>         Path to the file containing connection
                               configuration in YAML or JSON format.
                               [default: /etc/calico/calicoctl.cfg]
  -n --namespace=<NS>          Namespace of the resource.
                               Only applicable to NetworkPolicy, StagedNetworkPolicy,
                               StagedKubernetesNetworkPolicy, NetworkSet, and WorkloadEndpoint.
                               Uses the default namespace if not specified.
     --context=<context>       The name of the kubeconfig context to use.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
  --dry-run                    (create/apply/replace/delete/patch) Have the server run the
                               whole request without writing anything.
{connection}
Description:
  The apply command is used to create or replace a set of resources by filename
  or stdin.  JSON and YAML formats are accepted.

  Valid resource types are:

    - bgpconfiguration
    - bgpfilter
    - bgppeer
    - clusterinformation
    - felixconfiguration
    - globalnetworkpolicy
    - globalnetworkset
    - hostendpoint
    - ippool
    - ipreservation
    - kubecontrollersconfiguration
    - networkpolicy
    - networkset
    - node
    - profile
    - stagedglobalnetworkpolicy
    - stagedkubernetesnetworkpolicy
    - stagednetworkpolicy
    - tier
    - workloadendpoint
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

REPLACE = """\
Set the Calico datastore access information in the environment variables or
supply details in a config file.

Usage:
  ctl replace --filename=<FILENAME> [--recursive] [--skip-empty] [--dry-run]
                   [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch]

Examples:
  # Replace a policy using the data in policy.yaml.
  ctl replace -f ./policy.yaml

  # Replace a policy based on the JSON passed into stdin.
  cat policy.json | ctl replace -f -

Options:
  -h --help                    Show this screen.
  -f --filename=<FILENAME>     Filename to use to replace the resource.  If set
                               to "-" loads from stdin. If filename is a directory, this command is
                               invoked for each .json .yaml and .yml file within that directory,
                               terminating after the first failure.
  -R --recursive               Process the filename specified in -f or --filename recursively.
     --skip-empty              Do not error if any files or directory specified using -f or --filename contain no
                               data.
  -c --config=<CONFIG>         Path to the file containing connection
                               configuration in YAML or JSON format.
                               [default: /etc/calico/calicoctl.cfg]
  -n --namespace=<NS>          Namespace of the resource.
                               Only applicable to NetworkPolicy, StagedNetworkPolicy,
                               StagedKubernetesNetworkPolicy, NetworkSet, and WorkloadEndpoint.
                               Uses the default namespace if not specified.
     --context=<context>       The name of the kubeconfig context to use.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
  --dry-run                    (create/apply/replace/delete/patch) Have the server run the
                               whole request without writing anything.
{connection}
Description:
  The replace command is used to replace a set of resources by filename or
  stdin.  JSON and YAML formats are accepted.

  Valid resource types are:

    - bgpconfiguration
    - bgpfilter
    - bgppeer
    - clusterinformation
    - felixconfiguration
    - globalnetworkpolicy
    - globalnetworkset
    - hostendpoint
    - ippool
    - ipreservation
    - kubecontrollersconfiguration
    - networkpolicy
    - networkset
    - node
    - profile
    - stagedglobalnetworkpolicy
    - stagedkubernetesnetworkpolicy
    - stagednetworkpolicy
    - tier
    - workloadendpoint
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

DELETE = """\
Set the Calico datastore access information in the environment variables or
supply details in a config file.

Usage:
  ctl delete ( (<KIND> [<NAME>...] [--selector=<SELECTOR>] [--all-namespaces]) |
                   --filename=<FILE> [--recursive] [--skip-empty] )
                   [--skip-not-exists] [--dry-run] [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch]

Examples:
  # Delete a policy using the type and name specified in policy.yaml.
  ctl delete -f ./policy.yaml

  # Delete a policy based on the type and name in the YAML passed into stdin.
  cat policy.yaml | ctl delete -f -

  # Delete policies with names "foo" and "bar"
  ctl delete policy foo bar

Options:
  -h --help                    Show this screen.
  -s --skip-not-exists         Skip over and treat as successful, resources that
                               don't exist.
  -l --selector=<SELECTOR>     Delete every resource of <KIND> whose labels match this
                               Calico selector.
  -A --all-namespaces          With --selector, match in every namespace.
  -f --filename=<FILENAME>     Filename to use to delete the resource.  If set to
                               "-" loads from stdin. If filename is a directory, this command is
                               invoked for each .json .yaml and .yml file within that directory,
                               terminating after the first failure.
  -R --recursive               Process the filename specified in -f or --filename recursively.
     --skip-empty              Do not error if any files or directory specified using -f or --filename contain no
                               data.
  -c --config=<CONFIG>         Path to the file containing connection
                               configuration in YAML or JSON format.
                               [default: /etc/calico/calicoctl.cfg]
  -n --namespace=<NS>          Namespace of the resource.
                               Only applicable to NetworkPolicy, StagedNetworkPolicy,
                               StagedKubernetesNetworkPolicy, NetworkSet, and WorkloadEndpoint.
                               Uses the default namespace if not specified.
     --context=<context>       The name of the kubeconfig context to use.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
  --dry-run                    (create/apply/replace/delete/patch) Have the server run the
                               whole request without writing anything.
{connection}
Description:
  The delete command is used to delete a set of resources by filename or stdin,
  or by type and identifiers.  JSON and YAML formats are accepted for file and
  stdin format.

  Valid resource types are:

    - bgpconfiguration
    - bgpfilter
    - bgppeer
    - clusterinformation
    - felixconfiguration
    - globalnetworkpolicy
    - globalnetworkset
    - hostendpoint
    - ippool
    - ipreservation
    - kubecontrollersconfiguration
    - networkpolicy
    - networkset
    - node
    - profile
    - stagedglobalnetworkpolicy
    - stagedkubernetesnetworkpolicy
    - stagednetworkpolicy
    - tier
    - workloadendpoint
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

PATCH = """\
Set the Calico datastore access information in the environment variables or
supply details in a config file.

Usage:
  ctl patch <KIND> <NAME> --patch=<PATCH> [--type=<TYPE>] [--dry-run] [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch]

Examples:
  # Partially update a node using a strategic merge patch.
  ctl patch node node-0 --patch '{"spec":{"bgp": {"routeReflectorClusterID": "CLUSTER_ID"}}}'

  # Partially update a node using a json merge patch.
  ctl patch node node-0 --patch '{"spec":{"bgp": {"routeReflectorClusterID": "CLUSTER_ID"}}}' --type json

Options:
  -h --help                    Show this screen.
  -p --patch=<PATCH>           Spec to use to patch the resource.
  -t --type=<TYPE>             Format of patch type:
                                  strategic   Strategic merge patch (default)
                                  json        JSON Patch, RFC 6902
                                  merge       JSON Merge Patch, RFC 7386
  -c --config=<CONFIG>         Path to the file containing connection
                               configuration in YAML or JSON format.
                               [default: /etc/calico/calicoctl.cfg]
  -n --namespace=<NS>          Namespace of the resource.
                               Only applicable to NetworkPolicy, StagedNetworkPolicy,
                               StagedKubernetesNetworkPolicy, NetworkSet, and WorkloadEndpoint.
                               Uses the default namespace if not specified.
     --context=<context>       The name of the kubeconfig context to use.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
  --dry-run                    (create/apply/replace/delete/patch) Have the server run the
                               whole request without writing anything.
{connection}
Description:
  The patch command is used to patch a specific resource by type and identifiers in place.
  Currently, only JSON format is accepted.

  Valid resource types are:

    - bgpconfiguration
    - bgpfilter
    - bgppeer
    - clusterinformation
    - felixconfiguration
    - globalnetworkpolicy
    - globalnetworkset
    - hostendpoint
    - ippool
    - ipreservation
    - kubecontrollersconfiguration
    - networkpolicy
    - networkset
    - node
    - profile
    - stagedglobalnetworkpolicy
    - stagedkubernetesnetworkpolicy
    - stagednetworkpolicy
    - tier
    - workloadendpoint
  The resource type is case-insensitive and may be pluralized.

  Attempting to patch a resource that does not exists is treated as a
  terminating error unless the --skip-not-exists flag is set.  If this flag is
  set, resources that do not exist are skipped.

  When patching resources by type, only a single type may be specified at a
  time.  The name is required along with any and other identifiers required to
  uniquely identify a resource of the specified type.
"""

LABEL = """\
Set the Calico datastore access information in the environment variables or
supply details in a config file.

Usage:
  ctl label (<KIND> (<NAME> | --selector=<SELECTOR> [--all-namespaces])
  	              ( <key>=<value> [--overwrite] |
  	                <key> --remove )
                  [--config=<CONFIG>] [--namespace=<NS>] [--context=<context>]) [--allow-version-mismatch]




Examples:
  # Label a workload endpoint
  ctl label workloadendpoints nginx --namespace=default app=web

  # Label a node and overwrite the original value of key 'cluster'
  ctl label nodes node1 cluster=frontend --overwrite

  # Remove label with key 'cluster' of the node
  ctl label nodes node1 cluster --remove

Options:
  -h --help                    Show this screen.
  -c --config=<CONFIG>         Path to the file containing connection
                               configuration in YAML or JSON format.
                               [default: /etc/calico/calicoctl.cfg]
  -n --namespace=<NS>          Namespace of the resource.
                               Only applicable to NetworkPolicy, StagedNetworkPolicy, StagedKubernetesNetworkPolicy,
                               NetworkSet, and WorkloadEndpoint.
                               Uses the default namespace if not specified.
     --overwrite               If true, overwrite the value when the key is already
                               present in labels. Otherwise reports error when the
                               labeled resource already have the key in its labels.
                               Cannot be used with --remove.
     --remove                  If true, remove the specified key in labels of the
                               resource. Reports error when specified key does not
                               exist. Cannot be used with --overwrite.
  -l --selector=<SELECTOR>     Label every resource of <KIND> matching this Calico selector.
  -A --all-namespaces          With --selector, match in every namespace.
     --context=<context>       The name of the kubeconfig context to use.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
{connection}
Description:
  The label command is used to add or update a label on a resource. Resource types
  that can be labeled are:

    - bgpconfiguration
    - bgpfilter
    - bgppeer
    - clusterinformation
    - felixconfiguration
    - globalnetworkpolicy
    - globalnetworkset
    - hostendpoint
    - ippool
    - ipreservation
    - kubecontrollersconfiguration
    - networkpolicy
    - networkset
    - node
    - profile
    - stagedglobalnetworkpolicy
    - stagedkubernetesnetworkpolicy
    - stagednetworkpolicy
    - tier
    - workloadendpoint
  The resource type is case-insensitive and may be pluralized.

  Attempting to label resources that do not exist will get an error.

  Attempting to remove a label that does not in the resource will get an error.

  When labeling a resource on an existing key:
  - gets an error if option --overwrite is not provided.
  - value of the key updates to specified value if option --overwrite is provided.
"""

VALIDATE = """\
Usage:
  ctl validate --filename=<FILENAME> [--recursive] [--skip-empty] [--allow-version-mismatch]

Examples:
  # Validate a policy using the data in policy.yaml.
  ctl validate -f ./policy.yaml

  # Validate a policy based on the JSON passed into stdin.
  cat policy.json | ctl validate -f -

Options:
  -h --help                    Show this screen.
  -f --filename=<FILENAME>     Filename to use to validate the resource.  If set to
                               "-" loads from stdin. If filename is a directory, this command is
                               invoked for each .json .yaml and .yml file within that directory,
                               terminating after the first failure.
  -R --recursive               Process the filename specified in -f or --filename recursively.
     --skip-empty              Do not error if any files or directory specified using -f or --filename contain no
                               data.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
{connection}
Description:
  The validate command is used to validate a set of resources by filename
  or stdin.  JSON and YAML formats are accepted.

  Valid resource types are:

    - bgpconfiguration
    - bgpfilter
    - bgppeer
    - clusterinformation
    - felixconfiguration
    - globalnetworkpolicy
    - globalnetworkset
    - hostendpoint
    - ippool
    - ipreservation
    - kubecontrollersconfiguration
    - networkpolicy
    - networkset
    - node
    - profile
    - stagedglobalnetworkpolicy
    - stagedkubernetesnetworkpolicy
    - stagednetworkpolicy
    - tier
    - workloadendpoint

  The validate command parses the specified resources and has the apiserver
  validate them with a dry run (nothing is written). This can be used to check resource syntax,
  structure, and schema validity before applying them.

  The output of the command indicates how many resources were successfully
  validated, and the error reason if an error occurred.

  The resources are validated in the order they are specified.  In the event of a
  failure validating a specific resource it is possible to work out which
  resource failed based on the number of resources successfully validated.
"""

CONNECTION = """
Connection options (any verb, before or after it):
     --server=<URL>                  apiserver URL [env: CALICO_APISERVER]
                                     [default: http://127.0.0.1:5443]
     --token=<TOKEN>                 Bearer token [env: CALICO_TOKEN]
     --certificate-authority=<FILE>  CA bundle that signed the apiserver's certificate.
     --client-certificate=<FILE>     Client certificate for mutual TLS.
     --client-key=<FILE>             Key of the client certificate.
     --timeout=<DURATION>            Timeout of each request (e.g. 10s) [default: 30s]
  -c --config=<CONFIG>               CalicoAPIConfig file (spec.apiServer, token,
                                     tokenFile, caFile, certFile, keyFile)
                                     [default: /etc/calico/calicoctl.cfg]
"""

VERSION = """\
Usage:
  ctl version [--config=<CONFIG>] [--allow-version-mismatch]

Options:
  -h --help                    Show this screen.
  -c --config=<CONFIG>         Path to the file containing connection
                               configuration in YAML or JSON format.
                               [default: /etc/calico/calicoctl.cfg]
{connection}
Description:
  Display the version of ctl and, when the apiserver is reachable, of the cluster.
"""

DIFF = """\
Usage:
  ctl diff --filename=<FILENAME> [--recursive] [--skip-empty] [--config=<CONFIG>]
           [--namespace=<NS>] [--context=<context>] [--allow-version-mismatch]

Examples:
  # Show what applying policy.yaml would change.
  ctl diff -f ./policy.yaml

Options:
  -h --help                    Show this screen.
  -f --filename=<FILENAME>     Filename to diff.  If set to "-" loads from stdin.
                               If filename is a directory, every .json .yaml and .yml
                               file within that directory is used.
  -R --recursive               Process the filename specified in -f or --filename recursively.
     --skip-empty              Do not error if any files or directory specified using -f or
                               --filename contain no data.
  -c --config=<CONFIG>         Path to the file containing connection
                               configuration in YAML or JSON format.
                               [default: /etc/calico/calicoctl.cfg]
  -n --namespace=<NS>          Namespace of the resource (namespaced kinds only).
     --context=<context>       Accepted for calicoctl compatibility; ignored.
     --allow-version-mismatch  Allow client and cluster versions mismatch.
{connection}
Description:
  The diff command asks the apiserver what each resource would look like after an
  apply (a server-side dry run) and prints a unified diff against the stored object
  (fields the server owns are left out).  Exit code 0: no differences; 1: differences
  or an error.
"""

COMPLETION = """\
Usage:
  ctl completion <SHELL>

Examples:
  # Load completion into the current bash shell.
  source <(ctl completion bash)

  # zsh
  ctl completion zsh > "${fpath[1]}/_ctl"

Options:
  -h --help                    Show this screen.

Description:
  Print a completion script for <SHELL> (bash or zsh).  Kinds are completed from the
  calicoctl names; resource names are completed by asking the apiserver.
"""

TEXTS = {"top": TOP, "get": GET, "create": CREATE, "apply": APPLY, "replace": REPLACE,
         "delete": DELETE, "patch": PATCH, "label": LABEL, "validate": VALIDATE,
         "version": VERSION, "diff": DIFF, "completion": COMPLETION}


def full(verb: str) -> str:
    """The whole help of a verb (``top`` for the program)."""
    return TEXTS[verb].replace("{connection}", CONNECTION)


def usage(verb: str) -> str:
    """Only the ``Usage:`` section, as docopt prints it on a usage error."""
    text = full(verb)
    start = text.index("Usage:")
    end = text.find("\n\n", start)
    return text[start:end if end >= 0 else None].rstrip() + "\n"
