"""Facts about Calico that several parts of the server rely on, written once."""
from __future__ import annotations

CALICO_VERSION = "v3.32.1"
"""The Calico release whose API, defaults and validation this server reproduces."""

TIER_LABEL = "projectcalico.org/tier"
NAMESPACE_LABEL = "projectcalico.org/namespace"
ORCHESTRATOR_LABEL = "projectcalico.org/orchestrator"
POLICY_METADATA = "projectcalico.org/metadata"
"""The annotation libcalico-go stores a policy's own name in."""

DEFAULT_TIER = "default"
BUILTIN_TIERS = {"default": ("Deny", 1_000_000), "kube-admin": ("Pass", 1_000),
                 "kube-baseline": ("Pass", 10_000_000)}
"""Tiers every datastore has: name → (defaultAction, order)."""
DEFAULT_TIER_ORDER = BUILTIN_TIERS[DEFAULT_TIER][1]

DEFAULT_ALLOW_PROFILE = "projectcalico-default-allow"
