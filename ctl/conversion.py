"""Older manifests as Calico v3 resources, by the rules ``calicoctl convert`` applied (its last
release with the command, v3.31): Kubernetes ``networking.k8s.io/v1`` NetworkPolicies as
libcalico-go's ``K8sNetworkPolicyToCalico`` converts them (calicoctl then drops the
``knp.default.`` name prefix, so the result can be applied as a Calico policy), and Calico v1
resources as libcalico-go's ``upgrade/converters`` convert them.

Objects are built with their keys in Go struct order, so that JSON output is calicoctl's.
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Any, Callable

K8S_NETWORKING = "networking.k8s.io/v1"
V3 = "projectcalico.org/v3"
_PROTOCOLS = ("TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite")
_ORCHESTRATOR_IS_K8S = "projectcalico.org/orchestrator == 'k8s'"
_PORT_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
_PORT_RANGE = re.compile(r"^(\d+):(\d+)$", re.ASCII)


class ConversionError(Exception):
    """A resource that cannot be converted (calicoctl's message)."""


def convert(doc: dict) -> list[dict]:
    """The v3 resources one loaded resource converts to (a List yields its items).
    Raises ConversionError."""
    kind, version = doc.get("kind"), doc.get("apiVersion")
    if (kind, version) == ("NetworkPolicy", K8S_NETWORKING):
        return [k8s_network_policy(doc)]
    if (kind, version) == ("List", "v1"):
        return [k8s_network_policy(item) for item in doc.get("items") or []]
    converter = V1_CONVERTERS.get(kind) if version == "v1" else None
    if converter is None:
        raise ConversionError(f"unknown resource type ({kind or ''}) and/or version "
                              f"({version or ''})")
    return [converter(doc.get("metadata") or {}, doc.get("spec") or {})]


def _resource(kind: str, meta: dict, spec: dict) -> dict:
    return {"kind": kind, "apiVersion": V3, "metadata": meta, "spec": spec}


def _map(labels: dict | None) -> dict:
    """A Go map: its keys sorted, as encoding/json writes them."""
    return dict(sorted((labels or {}).items()))


def _pruned(obj: dict) -> dict:
    """``obj`` without the keys Go's ``omitempty`` leaves out (empty, None, false)."""
    return {k: v for k, v in obj.items() if v is not None and v is not False and
            v not in ("", [], {})}


# -- Kubernetes NetworkPolicy (libcalico-go/lib/backend/k8s/conversion) -----------------------
def k8s_network_policy(np: dict) -> dict:
    """A NetworkPolicy of the same name, order 1000, selectors on pods of orchestrator k8s."""
    meta, spec = np.get("metadata") or {}, np.get("spec") or {}
    problems, rules = [], {}
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        rules[direction] = []
        for index, rule in enumerate(spec.get(direction) or []):
            try:
                rules[direction] += _k8s_rules(rule.get(peers_key) or [], rule.get("ports") or [],
                                               ingress=direction == "ingress")
            except ConversionError as exc:
                problems.append(f"{direction}[{index}] (k8s rule couldn't be converted: {exc})")
    if problems:
        name = meta.get("name", "")
        detail = (f": error with rule {problems[0]}" if len(problems) == 1 else
                  ": error with the following rules:\n" + "".join(f"-  {p}\n" for p in problems))
        raise ConversionError(f"failed to convert k8s resource: policy: {name}{detail}")
    declared = spec.get("policyTypes") or []
    types = [t for t in ("Ingress", "Egress") if t in declared] or ["Ingress"]
    return _resource("NetworkPolicy", _pruned({"name": meta.get("name"),
                                                "namespace": meta.get("namespace")}), _pruned({
        "order": 1000, "ingress": rules["ingress"], "egress": rules["egress"],
        "selector": _k8s_selector(spec.get("podSelector") or {}, pods=True), "types": types}))


def _k8s_selector(selector: dict | None, *, pods: bool) -> str:
    """``k8sSelectorToCalico``: pod selectors also select the k8s orchestrator; an empty
    namespace selector is ``all()``."""
    terms = [_ORCHESTRATOR_IS_K8S] if pods else []
    if selector is None:
        return " && ".join(terms)
    labels, expressions = selector.get("matchLabels") or {}, selector.get("matchExpressions") or []
    if not pods and not labels and not expressions:
        return "all()"
    terms += [f"{k} == '{labels[k]}'" for k in sorted(labels)]
    for e in expressions:
        values = "', '".join(e.get("values") or [])
        terms.append({"In": f"{e.get('key')} in {{ '{values}' }}",
                      "NotIn": f"{e.get('key')} not in {{ '{values}' }}",
                      "Exists": f"has({e.get('key')})",
                      "DoesNotExist": f"! has({e.get('key')})"}.get(e.get("operator"), ""))
    return " && ".join(t for t in terms if t)


def _k8s_rules(peers: list, ports: list, *, ingress: bool) -> list[dict]:
    """``k8sRuleToCalico``: one rule per protocol and peer, each with all its ports."""
    by_protocol: dict[str, list | None] = {}
    for port in ports or [None]:
        if port is None:                 # no ports: every protocol and port
            by_protocol = {"": None}
            break
        protocol = _protocol(str(port.get("protocol") or "TCP"))
        numbers = _k8s_port(port)
        if numbers is None:
            by_protocol[protocol] = None
        elif by_protocol.get(protocol, []) is not None:
            by_protocol[protocol] = (by_protocol.get(protocol) or []) + numbers
    rules = []
    for protocol in sorted(by_protocol):
        numbers = by_protocol[protocol]
        dst_ports = _simplified(numbers) if numbers is not None else None
        for peer in peers or [None]:
            entity = _k8s_peer(peer)
            rule: dict[str, Any] = {"action": "Allow"}
            if protocol:
                rule["protocol"] = _port_value(protocol)
            if ingress:
                rule["source"] = _pruned(entity)
                rule["destination"] = _pruned({"ports": dst_ports})
            else:
                rule["destination"] = _pruned({"nets": entity.get("nets"),
                                               "selector": entity.get("selector"),
                                               "namespaceSelector":
                                                   entity.get("namespaceSelector"),
                                               "ports": dst_ports,
                                               "notNets": entity.get("notNets")})
            rules.append(_pruned(rule))
    return rules


def _k8s_port(port: dict) -> list | None:
    """The destination ports of one NetworkPolicyPort (None: every port)."""
    if port.get("port") is None:
        return None
    text = str(port["port"])
    if port.get("endPort") is not None:
        text = f"{text}:{port['endPort']}"
    try:
        return [port_from_string(text)]
    except ValueError as exc:
        raise ConversionError(f"failed to parse k8s port: invalid port {text}: {exc}") from None


def _k8s_peer(peer: dict | None) -> dict:
    """``k8sPeerToCalicoFields``: nets from an ipBlock, else pod and namespace selectors."""
    if peer is None:
        return {}
    block = peer.get("ipBlock")
    if block:
        return {"nets": [_network(block.get("cidr"))],
                "notNets": [_network(c) for c in block.get("except") or []]}
    return {"selector": _k8s_selector(peer.get("podSelector"), pods=True),
            "namespaceSelector": _k8s_selector(peer.get("namespaceSelector"), pods=False)}


# -- ports and protocols (api/pkg/lib/numorstring) --------------------------------------------
def port_from_string(text: str) -> int | str:
    """``PortFromString``: a number, ``min:max`` or a port name. Raises ValueError."""
    if text.isascii() and text.isdigit():
        if int(text) > 65535:
            raise ValueError(f"invalid port format ({text})")
        return int(text)
    m = _PORT_RANGE.match(text)
    if m:
        low, high = int(m.group(1)), int(m.group(2))
        if low > 65535:
            raise ValueError(f"invalid minimum port number in range ({text})")
        if high > 65535:
            raise ValueError(f"invalid maximum port number in range ({text})")
        if low > high:
            raise ValueError(f"minimum port number ({low}) is greater than maximum port "
                             f"number ({high}) in port range")
        return low if low == high else f"{low}:{high}"
    if not _PORT_NAME.match(text):
        raise ValueError(f"invalid name for named port ({text})")
    return text


def _simplified(ports: list) -> list:
    """``SimplifyPorts``: numbers and ranges merged into the fewest ranges, names kept."""
    if len(ports) <= 1:
        return ports
    names = [p for p in ports if isinstance(p, str) and not _PORT_RANGE.match(p)]
    numbers = sorted(n for p in ports if p not in names for n in _span(p))
    if len(numbers) <= 1:
        return ports
    out: list = list(names)
    start = prev = numbers[0]
    for n in numbers[1:] + [None]:
        if n is not None and n <= prev + 1:
            prev = n
            continue
        out.append(start if start == prev else f"{start}:{prev}")
        if n is not None:
            start = prev = n
    return out


def _span(port: int | str) -> range:
    if isinstance(port, int):
        return range(port, port + 1)
    low, high = port.split(":")
    return range(int(low), int(high) + 1)


def _protocol(text: str) -> str:
    """``ProtocolFromString``: a known protocol name in its canonical case."""
    return next((p for p in _PROTOCOLS if p.lower() == text.lower()), text)


def _port_value(protocol: Any) -> Any:
    """A protocol as numorstring marshals it: a number stays a number."""
    return int(protocol) if isinstance(protocol, str) and protocol.isascii() \
        and protocol.isdigit() else protocol


def _network(cidr: Any) -> str:
    """A CIDR as Calico's IPNet holds it: the masked network (a bare address: one host)."""
    try:
        return str(ipaddress.ip_network(str(cidr), strict=False))
    except ValueError:
        raise ConversionError(f"invalid CIDR address: {cidr}") from None


def _interface(cidr: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    try:
        return ipaddress.ip_interface(str(cidr))
    except ValueError:
        raise ConversionError(f"invalid CIDR address: {cidr}") from None


# -- Calico v1 (libcalico-go/lib/upgrade/converters) ------------------------------------------
_NON_NAME = re.compile(r"[^-.a-z0-9]+")
_DOT_DASH = re.compile(r"[.-]*[.][.-]*")


def node_name(v1_name: str) -> str:
    """``ConvertNodeName``: lower case, ``/`` as ``.``, other characters as ``-``."""
    name = _NON_NAME.sub("-", v1_name.lower().replace("/", "."))
    return _DOT_DASH.sub(".", name).strip(".-")


def _name(v1_name: str, *, dots: bool = True) -> str:
    """``convertName`` (``convertNameNoDots``): a valid name, with a hash of the original
    when it had to change."""
    name = node_name(v1_name)
    if not dots:
        name = name.replace(".", "-")
    if name == v1_name:
        return name
    return f"{name}-{hashlib.sha1(v1_name.encode()).hexdigest()[:8]}"


def _ip_name(ip: str) -> str:
    """``convertIpToName``: an IPv4 address dashed, an IPv6 one as eight dashed groups."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return str(address).replace(".", "-")
    return "-".join(f"{g:04x}" for g in (int.from_bytes(address.packed[i:i + 2], "big")
                                          for i in range(0, 16, 2)))


def _profile_name(name: str) -> str:
    return _name("kns." + name[len("k8s_ns."):] if name.startswith("k8s_ns.") else name)


def _selector(text: str) -> str:
    return text.replace("calico/k8s_ns", "projectcalico.org/namespace")


def _v1_bgp_peer(meta: dict, spec: dict) -> dict:
    scope, node, ip = meta.get("scope"), meta.get("node") or "", meta.get("peerIP")
    if not ip:
        raise ConversionError(f"no PeerIP is set, invalid BGPPeer: {meta}")
    if scope == "global" and node:
        raise ConversionError(f"With Global scope having a Node is invalid: {meta}")
    if scope == "node" and not node:
        raise ConversionError(f"With Node scope a Node must be defined: {meta}")
    if scope not in ("global", "node"):
        raise ConversionError("insufficient identifiers, missing 'scope'")
    peer = str(ipaddress.ip_address(ip))
    name = _ip_name(peer) if scope == "global" else f"{node_name(node)}.{_ip_name(peer)}"
    return _resource("BGPPeer", {"name": name}, _pruned({
        "node": node_name(node) if scope == "node" else "", "peerIP": peer,
        "asNumber": spec.get("asNumber")}))


def _v1_ip_pool(meta: dict, spec: dict) -> dict:
    cidr = _network(meta.get("cidr"))
    ipip = spec.get("ipip")
    mode = "Never"
    if ipip and ipip.get("enabled"):
        mode = "CrossSubnet" if str(ipip.get("mode") or "").lower() == "cross-subnet" else "Always"
    name = cidr.replace(".", "-").replace(":", "-").replace("/", "-")
    return _resource("IPPool", {"name": name}, _pruned({
        "cidr": cidr, "vxlanMode": "Never", "ipipMode": mode,
        "natOutgoing": spec.get("nat-outgoing"), "disabled": spec.get("disabled"),
        "blockSize": 26 if ipaddress.ip_network(cidr).version == 4 else 122,
        "nodeSelector": "all()", "allowedUses": ["Workload", "Tunnel"],
        "assignmentMode": "Automatic"}))


def _v1_node(meta: dict, spec: dict) -> dict:
    bgp = spec.get("bgp")
    out: dict[str, Any] = {}
    if bgp:
        if not bgp.get("ipv4Address") and not bgp.get("ipv6Address"):
            raise ConversionError(f"Invalid NodeBGPSpec, missing address: {bgp}")
        out["bgp"] = _pruned({"asNumber": bgp.get("asNumber"), **{
            key: str(_interface(bgp[key])) for key in ("ipv4Address", "ipv6Address")
            if bgp.get(key)}})
    out["orchRefs"] = [_pruned({"nodeName": r.get("nodeName"),
                                "orchestrator": r.get("orchestrator")})
                       for r in spec.get("orchRefs") or []]
    return {**_resource("Node", {"name": node_name(meta.get("name") or "")}, _pruned(out)),
            "status": {}}


def _endpoint_ports(ports: list, *, v3_protocols: bool = True) -> list[dict]:
    """Named ports; a host endpoint's protocols are converted to v3's case, a workload
    endpoint's are copied (as the converters do)."""
    return [{"name": p.get("name"),
             "protocol": _v1_protocol(p.get("protocol")) if v3_protocols else p.get("protocol"),
             "port": p.get("port")} for p in ports]


def _v1_host_endpoint(meta: dict, spec: dict) -> dict:
    node = node_name(meta.get("node") or "")
    ips = [str(ipaddress.ip_address(ip)) for ip in spec.get("expectedIPs") or []]
    ips = [ip for ip in ips if ":" not in ip] + [ip for ip in ips if ":" in ip]
    return _resource("HostEndpoint", _pruned({
        "name": _name(f"{node}.{meta.get('name') or ''}"), "labels": _map(meta.get("labels"))}),
        _pruned({"node": node, "interfaceName": spec.get("interfaceName"),
                 "expectedIPs": ips,
                 "profiles": [_profile_name(p) for p in spec.get("profiles") or []],
                 "ports": _endpoint_ports(spec.get("ports") or [])}))


def _v1_workload_endpoint(meta: dict, spec: dict) -> dict:
    orchestrator, workload = meta.get("orchestrator") or "", meta.get("workload") or ""
    labels = dict(meta.get("labels") or {})
    if "calico/k8s_ns" in labels:
        labels["projectcalico.org/namespace"] = labels.pop("calico/k8s_ns")
    namespace, pod, container, workload_name = "default", "", "", ""
    if orchestrator == "k8s":
        if "." not in workload:
            raise ConversionError(f"malformed k8s workload ID '{workload}': workload was not "
                                  "added through the Calico CNI plugin and cannot be "
                                  "converted")
        namespace, pod = workload.split(".", 1)
        container = meta.get("activeInstanceID") or ""
    elif orchestrator == "cni":
        container = workload
    elif orchestrator == "libnetwork":
        workload_name = "libnetwork"
    else:
        workload_name = _name(workload)
    nets = [str(ipaddress.ip_network(n, strict=False)) for n in spec.get("ipNetworks") or []]
    nats = [{"internalIP": n.get("internalIP"), "externalIP": n.get("externalIP")}
            for n in spec.get("ipNATs") or []]
    wep = _pruned({
        "orchestrator": _name(orchestrator), "workload": workload_name,
        "node": node_name(meta.get("node") or ""), "containerID": container, "pod": pod,
        "endpoint": _name(meta.get("name") or ""),
        "ipNetworks": [n for n in nets if ":" not in n] + [n for n in nets if ":" in n],
        "ipNATs": [n for n in nats if ":" not in str(n["internalIP"])] +
                  [n for n in nats if ":" in str(n["internalIP"])],
        "ipv4Gateway": spec.get("ipv4Gateway"), "ipv6Gateway": spec.get("ipv6Gateway"),
        "profiles": [_profile_name(p) for p in spec.get("profiles") or []],
        "interfaceName": spec.get("interfaceName"), "mac": spec.get("mac"),
        "ports": _endpoint_ports(spec.get("ports") or [], v3_protocols=False),
        "allowSpoofedSourcePrefixes": [str(ipaddress.ip_network(n, strict=False)) for n in
                                       spec.get("allow_spoofed_source_prefixes") or []]})
    identity = [wep.get("node", ""), wep.get("orchestrator", ""),
                pod or container or workload_name, wep.get("endpoint", "")]
    name = "-".join(part.replace("-", "--") for part in identity)
    return _resource("WorkloadEndpoint", _pruned({"name": name, "namespace": namespace,
                                                  "labels": _map(labels)}), wep)


def _v1_rules(rules: list) -> list[dict]:
    return [_v1_rule(r) for r in rules]


def _v1_rule(rule: dict) -> dict:
    """``ruleAPIToBackend`` then ``rulebackendToAPIv3``: actions and protocols in v3's case,
    ``net`` merged into ``nets``, tags into selectors."""
    action = str(rule.get("action") or "")
    if action.lower() == "pass" or action == "next-tier":
        action = "Pass"
    else:
        action = next((a for a in ("Allow", "Deny", "Log", "Pass") if a.lower() == action.lower()),
                      action or "Allow")
    icmp = {n: _pruned({"type": (rule.get(n) or {}).get("type"),
                        "code": (rule.get(n) or {}).get("code")}) for n in ("icmp", "notICMP")}
    return _pruned({
        "action": action, "ipVersion": rule.get("ipVersion"),
        "protocol": _v1_protocol(rule.get("protocol")), "icmp": icmp["icmp"],
        "notProtocol": _v1_protocol(rule.get("notProtocol")), "notICMP": icmp["notICMP"],
        "source": _v1_entity(rule.get("source") or {}),
        "destination": _v1_entity(rule.get("destination") or {})})


def _v1_protocol(protocol: Any) -> Any:
    return None if protocol is None else _port_value(_protocol(str(protocol)))


def _v1_entity(entity: dict) -> dict:
    def nets(one: str, many: str) -> list[str]:
        merged = [_network(n) for n in entity.get(many) or []]
        return merged + ([_network(entity[one])] if entity.get(one) else [])

    def selector(sel: str, tag: str) -> str:
        text, label = _selector(entity.get(sel) or ""), entity.get(tag) or ""
        if label:
            return f"({text}) && {label} == ''" if text else f"{label} == ''"
        return text

    return _pruned({"nets": nets("net", "nets"), "selector": selector("selector", "tag"),
                    "ports": entity.get("ports"), "notNets": nets("notNet", "notNets"),
                    "notSelector": selector("notSelector", "notTag"),
                    "notPorts": entity.get("notPorts")})


def _v1_policy(meta: dict, spec: dict) -> dict:
    tier = _name(meta.get("tier") or "", dots=False) or "default"
    ingress, egress = spec.get("ingress") or [], spec.get("egress") or []
    types = spec.get("types") or (["ingress"] if not egress else ["egress"] if not ingress
                                  else ["ingress", "egress"])
    v3_types = []
    for t in types:
        if str(t).lower() not in ("ingress", "egress"):
            raise ConversionError(f"invalid policy type: '{t}'")
        v3_types.append(str(t).capitalize())
    untracked = bool(spec.get("doNotTrack") or spec.get("preDNAT"))
    return _resource("GlobalNetworkPolicy", _pruned({
        "name": f"{tier}.{_name(meta.get('name') or '', dots=False)}",
        "labels": {"projectcalico.org/tier": tier}, "annotations": _map(meta.get("annotations"))}),
        _pruned({"tier": tier, "order": spec.get("order"), "ingress": _v1_rules(ingress),
                 "egress": _v1_rules(egress), "selector": _selector(spec.get("selector") or ""),
                 "types": v3_types, "doNotTrack": spec.get("doNotTrack"),
                 "preDNAT": spec.get("preDNAT"), "applyOnForward": untracked}))


def _v1_profile(meta: dict, spec: dict) -> dict:
    name = _profile_name(meta.get("name") or "")
    labels = dict(meta.get("labels") or {})
    for tag in meta.get("tags") or []:
        if tag in labels:
            raise ConversionError(f"Tag: '{tag}' and Label '{tag} == {labels[tag]}' have the "
                                  f"same value for Profile: {name}. Change the Label key "
                                  "before proceeding")
        labels[tag] = ""
    return _resource("Profile", {"name": name}, _pruned({
        "ingress": _v1_rules(spec.get("ingress") or []),
        "egress": _v1_rules(spec.get("egress") or []), "labelsToApply": _map(labels)}))


V1_CONVERTERS: dict[str, Callable[[dict, dict], dict]] = {
    "bgpPeer": _v1_bgp_peer, "ipPool": _v1_ip_pool, "hostEndpoint": _v1_host_endpoint,
    "node": _v1_node, "policy": _v1_policy, "profile": _v1_profile,
    "workloadEndpoint": _v1_workload_endpoint}
"""calicoctl convert's v1 kinds (its resource loader's, by exact name)."""
