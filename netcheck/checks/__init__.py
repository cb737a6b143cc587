"""The kinds of check, one module each. A module declares its Kind (probe, marker, plan);
adding a kind is one module here, one line below and one thin test file in tests_network/."""

from __future__ import annotations

from netcheck.checks import crl, firewall, host, msoid, ncsi, tls
from netcheck.checks.kind import Kind, Target

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (firewall.KIND, tls.KIND, crl.KIND, ncsi.WEB, ncsi.DNS, msoid.KIND, host.KIND)
}
MARKERS = {
    "firewall": "the URL is reachable through firewall and proxy (DNS, TCP, TLS, HTTP)",
    "tls": "TLS 1.2 can be negotiated with the HTTPS endpoint",
    "crl": "the certificate revocation list downloads and is current",
    "ncsi": "Windows' network connectivity probes (web and DNS) answer as expected",
    "dns": "DNS records of custom domains (MSOID CNAME)",
    "host": "this Windows machine's settings from the activation checklist (Windows only)",
}

__all__ = ["KINDS", "MARKERS", "Kind", "Target"]
