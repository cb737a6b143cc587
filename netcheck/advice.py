"""What to do about each failure, in the words of the activation troubleshooting checklist.

Advice is looked up by check and cause first, then by layer and cause (a timeout means
other things to a DNS server, a firewall, a proxy), then by cause alone."""

from __future__ import annotations

from netcheck import failures as f
from netcheck.failures import Layer

_ALLOW = (
    "Allow this URL on the firewall and on the proxy (host and path; Office activation needs "
    "every URL of the list). Ask the network team if you do not manage them."
)
_PROXY = (
    "If this network requires a proxy, run netcheck with --proxy (or HTTPS_PROXY), and make "
    "sure Windows HTTP clients use it too: `netsh winhttp set proxy <proxy:port>` in an "
    "elevated prompt, or exempt Microsoft 365 from the proxy with a PAC file."
)
_DNS = (
    "Check the DNS servers this machine uses (`nslookup <host>`); corporate resolvers must "
    "resolve public Microsoft names. A forwarder or DNS filter may be blocking it."
)
_TLS12 = (
    "Enable TLS 1.2 on the client: old Windows (7 SP1, 2008 R2, 2012) need the TLS 1.2 update "
    "and the 'Use TLS 1.2' box under Internet Options > Advanced. If a middlebox terminates "
    "TLS, make it offer TLS 1.2 or exempt this endpoint from inspection."
)
_TLS_TRUST = (
    "The certificate was not trusted. If a TLS-inspecting proxy or firewall re-signs traffic, "
    "exempt the Microsoft 365 activation endpoints from inspection; otherwise pass its CA to "
    "netcheck with --ca-bundle to confirm. Keep Windows updated so its root store is current."
)

_BY_CAUSE: dict[str, str] = {
    f.DNS_NXDOMAIN: _DNS,
    f.DNS_SERVFAIL: _DNS,
    f.DNS_REFUSED: _DNS,
    f.DNS_NO_ANSWER: _DNS,
    f.DNS_NO_NAMESERVER: "No DNS server answered. Check the adapter's DNS settings and that "
    "UDP/TCP port 53 to them is open, or give one with --nameserver.",
    f.DNS_CNAME_LOOP: "The name's CNAME records point at each other (or form a chain too "
    "long to follow): the zone is misconfigured, or a DNS filter rewrites it. Ask the owner "
    "of the zone, or your DNS team if a filter is involved.",
    f.DNS_ERROR: _DNS,
    f.TIMEOUT: f"Packets are dropped silently, typically by a firewall rule. {_ALLOW} {_PROXY}",
    f.DNS_BLOCKED: "The name is blocked by DNS: a DNS filter, a sinkhole or a hosts-file entry "
    "answers with an address that leads nowhere (0.0.0.0, 127.0.0.1 or a block page). If the "
    "detail says it happens on this machine, look for the name in the hosts file "
    "(C:\\Windows\\System32\\drivers\\etc\\hosts, /etc/hosts) and in NRPT rules "
    "(`Get-DnsClientNrptPolicy`) or VPN/endpoint-security DNS policies; otherwise ask the DNS "
    "team to allow the Microsoft 365 activation names in the DNS filter.",
    f.DNS_OS_OVERRIDE: "This machine resolves the name differently from its DNS servers: a "
    "hosts-file entry, an NRPT rule (`Get-DnsClientNrptPolicy`), a VPN's DNS policy or a local "
    "DNS filter. Office uses the machine's resolver: remove or fix that local rule. "
    "`Resolve-DnsName <host>` (Windows) or `getent hosts <host>` shows what the machine "
    "resolves; `ipconfig /flushdns` clears a stale cache entry.",
    f.NO_IPV6_ROUTE: "The host publishes only IPv6 addresses and this machine has no IPv6 "
    "route: give the network IPv6 connectivity, or reach the host through a proxy.",
    f.ADDRESS_UNREACHABLE: "Some addresses of this host do not accept connections while another "
    "does. Clients that try addresses one at a time (WinHTTP, and so Office activation) wait "
    "for each dead address before the next, and may give up: allow every address of the host "
    "on the firewall (the DNS answer changes over time), or find why those addresses are "
    "unreachable from this network.",
    f.OVERLOADED: "No verdict: this machine was too busy to run the check in time, so its "
    "result says nothing about the network. Run again with fewer checks at once (a smaller "
    "profile, -k to select) or on a less loaded machine.",
    f.CONNECTION_REFUSED: f"The connection was actively refused (a firewall reject rule or a "
    f"closed port). {_ALLOW}",
    f.CONNECTION_RESET: "A device on the path reset the connection: often a firewall or IPS "
    f"that filters by host name. {_ALLOW}",
    f.CONNECTION_CLOSED: f"The peer or a middlebox closed the connection early. {_ALLOW}",
    f.NETWORK_UNREACHABLE: "This machine has no route to the address: check the default "
    f"gateway, VPN split tunnelling, or whether a proxy is mandatory. {_PROXY}",
    f.HOST_UNREACHABLE: f"The address is unreachable from here: check routing and VPN. {_PROXY}",
    f.OS_ERROR: "The operating system refused the connection (see the detail): check local "
    f"firewall or endpoint-security software on this machine, then the network. {_ALLOW}",
    f.IPV6_BROKEN: "This machine has an IPv6 route and the name publishes an AAAA record, but "
    "IPv6 connections to it fail; clients that prefer IPv6 (Windows does) stall or fail even "
    "where IPv4 works. If the IPv4 check of the same URL fails too, the destination itself is "
    "blocked: fix that first. Otherwise, to confirm, disable IPv6 on the adapter (or prefer "
    "IPv4) and activate again; the fix is IPv6 routing or the firewall's IPv6 rules (allow "
    "the same destinations as over IPv4), or not advertising IPv6 on this network.",
    f.PROXY_AUTH_REQUIRED: "The proxy wants credentials (407) and netcheck had none it could "
    "use (the detail names the schemes the proxy offers). On Windows netcheck answers NTLM and "
    "Negotiate with the logged-on user, as Office does; elsewhere give them in --proxy "
    "(http://DOMAIN%5Cuser:password@proxy:port) or get a Kerberos ticket with kinit. Make sure "
    "the proxy lets Microsoft 365 activation through with Windows integrated authentication, "
    "or without authentication: Office cannot answer a password prompt of the proxy.",
    f.PROXY_AUTH_FAILED: "The proxy refused the credentials, or the authentication exchange "
    "failed (see the detail): check the user name (DOMAIN\\user for NTLM, user@REALM for "
    "Kerberos), the password, and for Negotiate the Kerberos ticket (`klist`) and the proxy's "
    "service name (HTTP/<proxy FQDN>, the name in the proxy setting). Then make the proxy "
    "accept Office activation with integrated authentication.",
    f.PROXY_AUTH_UNSUPPORTED: "The proxy asks for an authentication scheme netcheck does not "
    "speak (it speaks Negotiate, NTLM and Basic); Office and Windows may not speak it either. "
    "Ask the proxy team to offer Negotiate or NTLM, or to exempt Microsoft 365 activation "
    "from authentication.",
    f.PAC_ERROR: "The proxy auto-config (PAC) file failed or did not answer in time for this "
    "URL (see the detail). A PAC file that calls dnsResolve() or isInNet() waits for DNS: "
    "make it answer for the Microsoft 365 hosts without lookups (shExpMatch on the host), "
    "and fix the script error if there is one. Windows and Office evaluate the same file.",
    f.PROXY_DENIED: f"The proxy refused this destination. {_ALLOW}",
    f.PROXY_ERROR: "The proxy could not reach the destination or failed: check the proxy's "
    f"own DNS and egress. {_ALLOW}",
    f.TLS_UNTRUSTED: _TLS_TRUST,
    f.TLS_HOSTNAME_MISMATCH: "The certificate is for another name: a middlebox or captive "
    f"portal answered instead of the real service. {_TLS_TRUST}",
    f.TLS_EXPIRED: "The certificate has expired, or this machine's clock is wrong: check the "
    f"date and time first. {_TLS_TRUST}",
    f.TLS_INTERCEPTION: "A TLS-inspecting proxy or firewall re-signed this connection with "
    "its own CA: the chain verifies only because that CA is trusted here, not up to the roots "
    "the service uses. Office activation and sign-in break under inspection: exempt these "
    "endpoints from TLS inspection (a 'do not decrypt' / SSL-bypass rule for the Microsoft 365 "
    "activation URLs). If the inspection is intended and known to work, declare its CA in "
    "the profile's expected_roots or run with --tls-interception=warn.",
    f.TLS_VERSION: _TLS12,
    f.TLS_NOT_TLS: "Something answered that does not speak TLS on this port (a proxy, a captive "
    f"portal or a filter). {_PROXY}",
    f.TLS_HANDSHAKE: f"The TLS handshake failed. {_TLS12}",
    f.TLS_CLIENT_CERTIFICATE: "The server (or a TLS-terminating middlebox in front of it) demands "
    "a client certificate, which Office does not present for activation: something other than "
    "the Microsoft service answered. Exempt this endpoint from the middlebox that terminates "
    "TLS, or find which device requires client certificates on this path.",
    f.HTTP_PROTOCOL: f"The answer was not valid HTTP: a middlebox is rewriting traffic. {_ALLOW}",
    f.HTTP_REDIRECT: "The request was redirected, as a captive portal or a proxy login page "
    "does: sign in to the portal, or exempt this URL from it.",
    f.HTTP_STATUS: f"The server or a middlebox answered with an error status. {_ALLOW}",
    f.TOO_LARGE: "The answer was far larger than expected: something other than the service "
    "answered.",
    f.WRONG_CONTENT: "The answer is not the service's: a proxy, filter or captive portal "
    f"replaced it. {_ALLOW}",
    f.CRL_INVALID: "What was downloaded is not a certificate revocation list: a proxy or "
    "captive portal answered instead. Allow the CRL URL without authentication or inspection.",
    f.CRL_EXPIRED: "The CRL is past its nextUpdate: a proxy cache is serving a stale copy. "
    "Purge it and let CRL URLs bypass caching.",
    f.DNS_WRONG_ANSWER: "The name resolves, but not to the expected address: a DNS filter, "
    "split-horizon zone or hosts-file entry rewrites it.",
    f.MSOID_21VIANET: "Delete the MSOID CNAME from the domain's public DNS zone (it is only for "
    "tenants operated by 21Vianet in China), then wait for the TTL to expire. Users of this "
    "domain otherwise get 'custom domain isn't in our system' and cannot activate.",
    f.MSOID_UNEXPECTED: "The MSOID CNAME points at an unexpected host: delete it, or point it "
    "at the value the profile expects.",
    f.MSOID_MISSING: "The tenant is operated by 21Vianet: publish the MSOID CNAME to "
    "clientconfig.partner.microsoftonline-p.net.cn.",
}

# A check's own advice, shown first when its cause is one of these.
_BY_CHECK: dict[tuple[str, str], str] = {
    ("ncsi_web", f.HTTP_REDIRECT): "Windows' NCSI probe was redirected, so Windows believes "
    "there is no internet and Office will not try to activate: sign in to the captive "
    "portal or exempt the NCSI URLs from it.",
    ("ncsi_web", f.WRONG_CONTENT): "Windows' NCSI probe got the wrong text, so Windows "
    "reports 'No Internet'. Exempt the NCSI URLs from the proxy or filter; if a proxy is "
    "mandatory, set HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\"
    "NetworkConnectivityStatusIndicator\\UseGlobalDNS (DWORD) to 1.",
    ("ncsi_dns", f.DNS_WRONG_ANSWER): "Windows' NCSI DNS probe got the wrong address, so "
    "Windows may report 'No Internet'. Let dns.msftncsi.com resolve publicly, or set "
    "UseGlobalDNS = 1 (DWORD) under HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\"
    "NetworkConnectivityStatusIndicator.",
}


# Advice for a cause at one layer, before the cause's own.
_BY_LAYER: dict[tuple[str, str], str] = {
    (Layer.DNS, f.TIMEOUT): "No DNS server answered in time. Check the DNS servers this "
    "machine uses (`ipconfig /all`, `Resolve-DnsName <host>`, `nslookup <host>`) and that "
    "UDP and TCP port 53 to them are open; a DNS server that is overloaded or forwards to an "
    "unreachable upstream looks the same.",
    (Layer.PROXY, f.TIMEOUT): "The proxy did not answer in time. If other checks through the "
    "same proxy pass, the proxy is up and still trying to reach this destination: its own "
    "outbound firewall or DNS holds it, so allow the destination on the proxy's egress. If "
    "every check through it times out, check the proxy address and port in the setting "
    "netcheck used (see the report's environment), that the proxy is up, and that this "
    "machine may reach it.",
    (Layer.PROXY, f.CONNECTION_REFUSED): "The proxy refused the connection: the proxy setting "
    "names a host or port where no proxy listens. Check the setting netcheck used (WinHTTP: "
    "`netsh winhttp show proxy`; the environment; the PAC file).",
    (Layer.TLS, f.TIMEOUT): "The TLS handshake stalled: a middlebox that inspects or filters "
    f"TLS holds the connection. {_ALLOW}",
    (Layer.HTTP, f.TIMEOUT): "The server or a middlebox accepted the request but did not "
    f"answer it in time. {_ALLOW}",
}
for _cause in (
    f.DNS_NXDOMAIN,
    f.DNS_SERVFAIL,
    f.DNS_NO_ANSWER,
    f.NETWORK_UNREACHABLE,
    f.HOST_UNREACHABLE,
    f.CONNECTION_RESET,
    f.CONNECTION_CLOSED,
):
    _BY_LAYER[(Layer.PROXY, _cause)] = (
        "netcheck could not reach the proxy itself (see the detail): check the proxy setting "
        "it used (WinHTTP: `netsh winhttp show proxy`; the environment; the PAC file), the "
        "proxy's name in DNS, and the route to it."
    )


def advice_for(check: str, cause: str | None, layer: str | None = None) -> str:
    if cause is None:
        return ""
    return (
        _BY_CHECK.get((check, cause))
        or _BY_LAYER.get((str(layer), cause))
        or _BY_CAUSE.get(cause, "")
    )
