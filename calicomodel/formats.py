"""Value formats of projectcalico.org/v3 fields, parsed the way libcalico-go parses them.

Every function here is pure and total: it returns a parsed value or ``None``/a problem string,
never raises, and runs in time linear in its input (inputs longer than a field could ever be
are refused up front).

* IPs and CIDRs follow Go's ``net.ParseIP``/``net.ParseCIDR`` and libcalico-go's
  ``cnet.ParseCIDROrIP`` (an address without a prefix is a full-length network); an
  IPv4-mapped IPv6 address counts as IPv4, as ``To4() != nil`` does in Go.
* Ports follow ``numorstring.Port``: an int, ``"min:max"`` or a port name.
* Protocols follow ``numorstring.Protocol``: an int 1-255 or one of `PROTOCOL_NAMES`.
* Names and labels follow the Kubernetes/Calico validators (DNS-1123, qualified names).
"""
from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

import re2

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

_MAX_ADDRESS_TEXT = 64
LABEL_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SUBDOMAIN_FMT = LABEL_FMT + r"(\." + LABEL_FMT + r")*"
DNS_SUBDOMAIN = re.compile(SUBDOMAIN_FMT)
DNS_LABEL = re.compile(LABEL_FMT)
NETWORK_POLICY_NAME = re.compile(
    rf"({LABEL_FMT})(\.{LABEL_FMT})?|((?:knp|ossg)\.default\.({SUBDOMAIN_FMT}))")
GLOBAL_NETWORK_POLICY_NAME = re.compile(rf"({LABEL_FMT}\.)?{LABEL_FMT}")
CONTAINER_ID = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?")
INTERFACE_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,15}")
_QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}"
                  r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}")
_DURATION = re.compile(r"[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)")

RE2_OPTIONS = re2.Options()
RE2_OPTIONS.log_errors = False

PROTOCOL_NAMES = ("TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite")
PORT_PROTOCOLS = frozenset({"TCP", "UDP", "SCTP", 6, 17, 132})
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132, "UDPLite": 136}


def parse_ip(text: object) -> IPAddress | None:
    """The address ``text`` denotes (Go ``net.ParseIP``), or None."""
    if not isinstance(text, str) or len(text) > _MAX_ADDRESS_TEXT or "%" in text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def ip_version(text: object) -> int | None:
    """4 or 6 for a valid IP address, else None."""
    address = parse_ip(text)
    return None if address is None else address.version


@dataclass(frozen=True)
class Cidr:
    """A parsed CIDR: the address as written and its prefix length (the network it lies in
    is computed on first use)."""

    address: IPAddress
    prefixlen: int

    @functools.cached_property
    def network(self) -> IPNetwork:
        network = ipaddress.IPv4Network if self.address.version == 4 else ipaddress.IPv6Network
        return network((int(self.address), self.prefixlen), strict=False)

    @property
    def version(self) -> int:
        return self.address.version

    @property
    def is_masked(self) -> bool:
        """True when no host bits are set (``10.0.0.0/8``, not ``10.0.0.1/8``)."""
        return int(self.address) & ((1 << (self.address.max_prefixlen - self.prefixlen)) - 1) == 0


def parse_cidr(text: object, *, allow_ip: bool = True) -> Cidr | None:
    """Parse ``a.b.c.d/n`` or ``x::y/n`` (or a bare IP when ``allow_ip``), else None."""
    if not isinstance(text, str) or len(text) > _MAX_ADDRESS_TEXT:
        return None
    return _parse_cidr(text, allow_ip)


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_CIDR = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}/(3[0-2]|[12]?[0-9])")


@functools.lru_cache(maxsize=65536)
def _parse_cidr(text: str, allow_ip: bool) -> Cidr | None:
    """Memoised: one request checks a CIDR several times, and peers resend the same ones.
    Plain ``a.b.c.d/n`` (the common case, thousands per network set) skips text parsing in
    ``ipaddress``; everything else goes through it."""
    v4 = _IPV4_CIDR.fullmatch(text)
    if v4:
        a, b, c, d, prefix = (int(g) for g in v4.groups())
        value = (a << 24) | (b << 16) | (c << 8) | d
        return Cidr(ipaddress.IPv4Address(value), prefix)
    address_text, slash, prefix_text = text.partition("/")
    if not slash:
        address = parse_ip(text) if allow_ip else None
        if address is None:
            return None
        return Cidr(address, address.max_prefixlen)
    address = parse_ip(address_text)
    if address is None or not is_digits(prefix_text):
        return None
    if (len(prefix_text) > 1 and prefix_text[0] == "0") or int(prefix_text) > address.max_prefixlen:
        return None
    if ":" in address_text and address.version == 4:
        address = ipaddress.IPv6Address(f"::ffff:{address}")
    return Cidr(address, int(prefix_text))


def cidr_problem(text: object, *, version: int | None = None, masked: bool = False,
                 allow_ip: bool = True) -> str | None:
    """Why ``text`` is not an acceptable CIDR, or None when it is."""
    cidr = parse_cidr(text, allow_ip=allow_ip)
    if cidr is None:
        return f"invalid CIDR {shown(text)}"
    if version is not None and cidr.version != version:
        return f"{shown(text)} is not an IPv{version} CIDR"
    if masked and not cidr.is_masked:
        return f"{shown(text)} has host bits set (the network is {cidr.network})"
    return None


def ip_problem(text: object, *, version: int | None = None) -> str | None:
    """Why ``text`` is not an acceptable IP address, or None when it is."""
    found = ip_version(text)
    if found is None:
        return f"invalid IP address {shown(text)}"
    if version is not None and found != version:
        return f"{shown(text)} is not an IPv{version} address"
    return None


@dataclass(frozen=True)
class Port:
    """A decoded ``numorstring.Port``."""

    min: int = 0
    max: int = 0
    name: str = ""


def parse_port(value: object) -> Port | str:
    """Decode a port like ``numorstring.Port.UnmarshalJSON``; a string result is the problem
    (worded as libcalico-go words it)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return f"port must be a number, a range \"min:max\" or a name, not {shown(value)}"
    if isinstance(value, int):
        if not 0 <= value <= 65535:
            return f"cannot unmarshal number {shown(value)} into a port (0-65535)"
        return Port(value, value)
    number = _uint(value, 65535)
    if number is not None:
        return Port(number, number)
    if ":" not in value:
        return Port(name=value)
    parts = value.split(":")
    if len(parts) != 2:
        return f"invalid port format ({shown(value)}): must be \"min:max\""
    low, high = (_uint(part, 65535) for part in parts)
    if low is None:
        return f"invalid minimum port number in range ({value})"
    if high is None:
        return f"invalid maximum port number in range ({value})"
    if low > high:
        return f"minimum port number ({low}) is greater than maximum port number ({high}) in port range"
    return Port(low, high)


def port_problem(port: Port) -> str | None:
    """The validator's verdict on a decoded port (``validatePort``), naming the end of the
    range it refuses as ``Invalid value: <port>: ...`` (so a client can say ``Port = '0'`` of
    the range ``0:65535``, as calicoctl does)."""
    if port.name:
        return None
    if port.min < 1 or port.max < 1:
        bad = port.min if port.min < 1 else port.max
        return f"Invalid value: {bad}: port range invalid, port number must be between 1 and 65535"
    return None


def port_name_problem(name: object) -> str | None:
    """Why ``name`` is not a Kubernetes port name (IANA_SVC_NAME), or None."""
    if not isinstance(name, str) or not name:
        return "port name must not be empty"
    if len(name) > 15 or not _PORT_NAME.fullmatch(name) or "--" in name \
            or not any(c.isalpha() for c in name):
        return (f"invalid port name {shown(name)}: at most 15 lower-case letters, digits and '-', "
                "with at least one letter and no leading, trailing or double '-'")
    return None


def decode_protocol(value: object) -> int | str | None:
    """Decode ``numorstring.Protocol``: numeric strings that fit uint8 become ints."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        number = _uint(value, 255)
        return value if number is None else number
    if isinstance(value, int):
        return value if 0 <= value <= 255 else None
    return None


def protocol_problem(value: object) -> str | None:
    """Why ``value`` is not a valid protocol (``validateProtocol``), or None."""
    decoded = decode_protocol(value)
    if decoded is None:
        return f"invalid protocol {shown(value)}: must be 1-255 or one of {', '.join(PROTOCOL_NAMES)}"
    if decoded == 0:
        return "protocol number 0 is invalid: must be 1-255"
    if isinstance(decoded, str) and decoded not in PROTOCOL_NAMES:
        return f"invalid protocol {shown(value)}: must be 1-255 or one of {', '.join(PROTOCOL_NAMES)}"
    return None


def protocol_supports_ports(value: object) -> bool:
    """``Protocol.SupportsPorts``: TCP, UDP, SCTP by name (any case) or number."""
    decoded = decode_protocol(value)
    if isinstance(decoded, str):
        return decoded.upper() in ("TCP", "UDP", "SCTP")
    return decoded in PORT_PROTOCOLS


def protocol_is(value: object, name: str) -> bool:
    """True when ``value`` denotes protocol ``name`` (by exact name or by number)."""
    decoded = decode_protocol(value)
    return decoded == name or decoded == PROTOCOL_NUMBERS[name]


def qualified_name_problem(key: object) -> str | None:
    """Why ``key`` is not a Kubernetes qualified name (``[prefix/]name``), or None."""
    if not isinstance(key, str):
        return f"{shown(key)} is not a string"
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return f"invalid key {shown(key)}: prefix part must be non-empty"
        if len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix):
            return f"invalid key {shown(key)}: prefix part must be a DNS-1123 subdomain"
    if not name:
        return f"invalid key {shown(key)}: name part must be non-empty"
    if len(name) > 63:
        return f"invalid key {shown(key)}: name part must be no more than 63 characters"
    if "/" in prefix or not _QUALIFIED_NAME_PART.fullmatch(name):
        return (f"invalid key {shown(key)}: name part must consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character")
    return None


def label_value_problem(value: object) -> str | None:
    """Why ``value`` is not a Kubernetes label value, or None."""
    if not isinstance(value, str):
        return f"{shown(value)} is not a string"
    if len(value) > 63:
        return f"invalid label value {shown(value)}: must be no more than 63 characters"
    if not _LABEL_VALUE.fullmatch(value):
        return (f"invalid label value {shown(value)}: must be empty or consist of alphanumeric "
                "characters, '-', '_' or '.', starting and ending with an alphanumeric character")
    return None


def is_mac(text: object) -> bool:
    """Go ``net.ParseMAC`` for 48-bit addresses."""
    return isinstance(text, str) and len(text) <= 32 and _MAC.fullmatch(text) is not None


def is_duration(text: object) -> bool:
    """Go ``time.ParseDuration`` syntax (``"1m30s"``, ``"-1ns"``, ``"0"``)."""
    return isinstance(text, str) and len(text) <= 64 and _DURATION.fullmatch(text) is not None


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", re.ASCII)
_NANOS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9,
          "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_duration(text: object) -> int | None:
    """Go ``time.ParseDuration`` of ``text`` in nanoseconds, or None when it is not one."""
    if not is_duration(text):
        return None
    body = text.lstrip("+-")
    if body == "0":
        return 0
    total, pos = Fraction(0), 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            return None
        total += Fraction(match.group(1)) * _NANOS[match.group(2)]
        pos = match.end()
    if pos != len(body):
        return None
    nanos = int(total)
    return -nanos if text.startswith("-") else nanos


def go_duration(nanos: int) -> str:
    """Go's ``time.Duration.String()``: ``2m5s``, ``1h0m0s``, ``1.5s``, ``500ms``, ``0s``."""
    if nanos == 0:
        return "0s"
    sign, u = ("-" if nanos < 0 else ""), abs(nanos)
    if u < 10**9:
        unit, size = ("ns", 1) if u < 10**3 else ("µs", 10**3) if u < 10**6 else ("ms", 10**6)
        return sign + _decimal(u, size) + unit
    hours, rest = divmod(u, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    head = f"{hours}h{minutes}m" if hours else f"{minutes}m" if minutes else ""
    return sign + head + _decimal(rest, 10**9) + "s"


def _decimal(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def is_wireguard_key(text: object) -> bool:
    """A WireGuard public key: 32 bytes, standard base64 (``wgtypes.ParseKey``)."""
    if not isinstance(text, str) or len(text) != 44:
        return False
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def is_name(text: object) -> bool:
    """The ``name`` validate tag: a DNS-1123 subdomain (length is checked elsewhere)."""
    return isinstance(text, str) and len(text) <= 253 and DNS_SUBDOMAIN.fullmatch(text) is not None


def is_digits(text: str) -> bool:
    """One or more ASCII decimal digits: ``str.isdigit`` alone also takes "²", which ``int``
    refuses, and Arabic-Indic digits, which Go's parsers do not read."""
    return text.isascii() and text.isdigit()


def _uint(text: str, limit: int) -> int | None:
    """``strconv.ParseUint(text, 10, bits)``: ASCII digits only, value at most ``limit``."""
    if len(text) > 20 or not is_digits(text):
        return None
    number = int(text)
    return number if number <= limit else None


def shown(value: object, limit: int = 80) -> str:
    """A short, safe rendering of a user value for messages."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "…"
        return repr(text)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return "a very large integer"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    return f"a {type(value).__name__}"




def is_go_regexp(text: object) -> bool:
    """Go ``regexp.Compile`` accepts ``text`` (RE2 syntax)."""
    if not isinstance(text, str) or len(text) > 4096:
        return False
    try:
        re2.compile(text, RE2_OPTIONS)
    except re2.error:
        return False
    return True
