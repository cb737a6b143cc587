"""Windows' Network Connectivity Status Indicator: its web probes and its DNS probe.

If these fail, Windows reports "No Internet" and Office does not even try to activate.
"""

from __future__ import annotations

from netcheck import failures as f
from netcheck.checks.kind import Kind, endpoints
from netcheck.failures import Failure, Layer
from netcheck.net import Network
from netcheck.profile import DnsName, Endpoint
from netcheck.result import Phase, Trace


async def probe_web(endpoint: Endpoint, network: Network, trace: Trace) -> str:
    """200 with exactly the expected body, not redirected, not rewritten."""
    expected = (endpoint.expect_body or "").encode()
    answer = await network.get(
        endpoint.location, trace, max_bytes=max(4096, len(expected)), family=endpoint.family
    )
    if 300 <= answer.status < 400:
        location = answer.headers.get("location", "(no Location header)")
        raise Failure(
            Layer.HTTP,
            f.HTTP_REDIRECT,
            f"redirected with {answer.status} to {location}: a captive portal?",
        )
    if answer.status != 200:
        raise Failure(Layer.HTTP, f.HTTP_STATUS, f"HTTP {answer.status} {answer.reason}")
    if answer.body != expected:
        raise Failure(
            Layer.CONTENT,
            f.WRONG_CONTENT,
            f"expected {expected.decode()!r}, got {answer.body[:64]!r}"
            + ("..." if len(answer.body) > 64 else ""),
        )
    return f"HTTP 200 {expected.decode()!r}"


async def probe_dns(name: DnsName, network: Network, trace: Trace) -> str:
    """The name resolves to exactly the expected A and AAAA addresses."""
    got = []
    for rdtype, expected in (("A", name.expect_a), ("AAAA", name.expect_aaaa)):
        if not expected:
            continue
        with trace.phase(Phase.RESOLVE, Layer.DNS):
            answer = sorted(await network.lookup(name.name, rdtype, trace))
        trace.note(**{rdtype: ", ".join(answer) or "none"})
        if answer != sorted(expected):
            raise Failure(
                Layer.DNS,
                f.DNS_WRONG_ANSWER,
                f"{name.name} {rdtype} is {', '.join(answer) or 'empty'}, "
                f"expected {', '.join(expected)}",
            )
        got.append(f"{rdtype} {', '.join(answer)}")
    return f"{name.name}: {'; '.join(got)}"


WEB = Kind("ncsi_web", "ncsi", probe_web, endpoints("ncsi_web"))
DNS = Kind("ncsi_dns", "ncsi", probe_dns, lambda profile, family: list(profile.dns_names))
