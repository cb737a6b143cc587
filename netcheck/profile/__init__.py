"""Profiles (`endpoints.toml`, or the Microsoft 365 endpoints list as JSON): read, validated
and turned into typed, immutable objects.

`model` holds the objects, `schema` the file's tables and the validators of their values,
`load` the reading. Every problem is one ProfileError whose message names the file, the
entry and the key.
"""

from netcheck.profile.load import load
from netcheck.profile.model import (
    CHECKS,
    FAMILIES,
    INTERCEPTION,
    PIN_PREFIX,
    PUBLIC_ROOTS,
    RUN_FAMILIES,
    TENANTS,
    DnsName,
    Domain,
    Endpoint,
    MsoidRule,
    Profile,
    ProfileError,
    TlsPolicy,
)
from netcheck.profile.schema import http_url, trust_anchor

__all__ = [
    "CHECKS",
    "FAMILIES",
    "INTERCEPTION",
    "PIN_PREFIX",
    "PUBLIC_ROOTS",
    "RUN_FAMILIES",
    "TENANTS",
    "DnsName",
    "Domain",
    "Endpoint",
    "MsoidRule",
    "Profile",
    "ProfileError",
    "TlsPolicy",
    "http_url",
    "load",
    "trust_anchor",
]
