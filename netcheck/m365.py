"""The Microsoft 365 IP address and URL web service (`endpoints/worldwide` JSON) as a profile.

Each endpoint set lists `urls` with `tcpPorts`; every (host, port) becomes one [[endpoint]]:
443 → https://host/, 80 → http://host/ (id `host:80`), any other TCP port an entry that is
listed but skipped (netcheck speaks HTTP). Wildcards (`*.domain`, `*cdn.onenote.net`,
`autodiscover.*.onmicrosoft.com`) stay wildcards: probed at a `probe_host` you give, else
listed and skipped with the reason. A host listed by several sets is one entry: required if
any set requires it, the strongest category (Optimize > Allow > Default), every service area.
Sets with IP ranges only are named in the header and in the summary: they have no host name.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from netcheck import document
from netcheck.document import Invalid, Syntax, Table, checked
from netcheck.textfile import InputError, decode, read_text
from netcheck.url import hostname

SERVICE_URL = "https://endpoints.office.com/endpoints/worldwide"
CATEGORIES = ("Optimize", "Allow", "Default")  # strongest first
SCHEMES = {443: "https", 80: "http"}
NOT_THE_LIST = "expected the endpoints web service's JSON: a list of endpoint sets"


class M365Error(InputError):
    """Input that is not the endpoints web service's JSON; the message is one line."""


def _ports(value: str) -> str:
    """`tcpPorts`: "80,443", each a TCP port."""
    ports = [p.strip() for p in value.split(",") if p.strip()]
    if not all(p.isascii() and p.isdigit() and 0 < int(p) < 65536 for p in ports):
        raise ValueError(f"{value!r} is not a list of port numbers (1-65535)")
    return ",".join(ports)


def _host(value: str) -> str:
    return hostname(value, wildcard=True)


Host = checked(_host)
Ports = checked(_ports)


class EndpointSet(Table, forbid_unknown_fields=False, rename="camel"):
    """One set of the list, as far as netcheck reads it (the list has more: ips, udpPorts...)."""

    id: int
    urls: tuple[Host, ...] = ()
    tcp_ports: Ports = ""
    category: str = "Default"
    required: bool = False
    service_area: str = ""
    notes: str = ""


@dataclass
class Summary:
    sets: int = 0
    urls: int = 0  # unique URL entries (host patterns) in the input
    wildcards: int = 0
    probed_wildcards: int = 0
    endpoints: int = 0
    other_ports: int = 0  # entries listed but skipped: a TCP port netcheck does not probe
    ip_only: list[int] = field(default_factory=list)  # set ids with no URL

    def __str__(self) -> str:
        ip_only = ", ".join(map(str, self.ip_only)) or "none"
        return (
            f"{self.sets} endpoint sets, {self.urls} unique URLs ({self.wildcards} wildcards, "
            f"{self.probed_wildcards} with a probe host) -> {self.endpoints} endpoints "
            f"({self.other_ports} on ports other than 80/443, listed and skipped); "
            f"sets with IP ranges only, not converted: {ip_only}"
        )


@dataclass
class _Entry:
    host: str
    port: int
    sets: list[int] = field(default_factory=list)
    required: bool = False
    category: str = "Default"
    areas: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def validate(data: object) -> list[EndpointSet]:
    """The web service's JSON (parsed) as endpoint sets; M365Error naming the set and key."""
    try:
        return document.convert(data, list[EndpointSet])
    except Invalid as exc:
        raise _error(exc, data) from None


def _error(exc: Invalid, data: object) -> M365Error:
    if not exc.path:
        return M365Error(NOT_THE_LIST)
    index = exc.path[0]
    label = f"endpoint set [{index}]"
    raw = data[index] if isinstance(data, list) and isinstance(index, int) else None
    if isinstance(raw, dict) and isinstance(raw.get("id"), int):
        label += f" (id {raw['id']})"
    return M365Error(f"{label}: {exc.describe(1, table='object')}")


def convert(
    data: object, *, probe_hosts: dict[str, str] | None = None, source: str = ""
) -> tuple[dict[str, Any], Summary]:
    """The web service's JSON (parsed) → profile data (the TOML's tables) and a summary."""
    sets = validate(data)
    probe_hosts = _probe_hosts(probe_hosts or {})
    summary = Summary(sets=len(sets))
    entries: dict[tuple[str, int], _Entry] = {}
    for s in sets:
        if not s.urls:
            summary.ip_only.append(s.id)
            continue
        ports = [int(p) for p in s.tcp_ports.split(",") if p] or [443]
        for host in s.urls:
            for port in ports:
                e = entries.setdefault((host, port), _Entry(host, port))
                e.sets.append(s.id)
                e.required |= s.required
                if s.category in CATEGORIES and _strength(s.category) < _strength(e.category):
                    e.category = s.category
                if s.service_area and s.service_area not in e.areas:
                    e.areas.append(s.service_area)
                if s.notes and s.notes not in e.notes:
                    e.notes.append(s.notes)
    hosts = sorted({h for h, _ in entries})
    summary.urls = len(hosts)
    wildcards = [h for h in hosts if "*" in h]
    summary.wildcards = len(wildcards)
    summary.probed_wildcards = sum(w in probe_hosts for w in wildcards)
    unknown = sorted(set(probe_hosts) - set(wildcards))
    if unknown:
        raise M365Error(f"--probe-host: {unknown[0]!r} is not a wildcard URL of this list")
    endpoints = [_endpoint(e, hosts, probe_hosts) for e in entries.values()]
    summary.endpoints = len(endpoints)
    summary.other_ports = sum("skip" in e for e in endpoints)
    head = {
        "name": "Microsoft 365 endpoints (worldwide)",
        "description": f"Converted from the Microsoft 365 endpoints web service"
        f"{f' ({source})' if source else ''}: {summary}.",
    }
    return {"profile": head, "endpoint": endpoints}, summary


def _probe_hosts(pairs: dict[str, str]) -> dict[str, str]:
    """--probe-host PATTERN=HOST pairs in normal form."""
    try:
        return {_host(k): hostname(v) for k, v in pairs.items()}
    except ValueError as exc:
        raise M365Error(f"--probe-host: {exc}") from None


def _strength(category: str) -> int:
    """0 for the strongest category (Optimize)."""
    return CATEGORIES.index(category)


def _endpoint(e: _Entry, hosts: list[str], probe_hosts: dict[str, str]) -> dict[str, Any]:
    url = f"{SCHEMES[e.port]}://{e.host}/" if e.port in SCHEMES else f"https://{e.host}:{e.port}/"
    sets = ", ".join(map(str, e.sets))
    notes = [f"Microsoft 365 endpoint set {sets}."]
    out: dict[str, Any] = {"url": url, "id": e.host if e.port == 443 else f"{e.host}:{e.port}"}
    if "*" in e.host:
        if e.host in probe_hosts:
            out["probe_host"] = probe_hosts[e.host]
        listed = [h for h in hosts if "*" not in h and fnmatchcase(h, e.host)]
        if listed:
            notes.append(
                f"Hosts under it that this list names (checked on their own): {', '.join(listed)}."
            )
    out |= {
        "category": e.category,
        "service_area": ", ".join(e.areas),
        "required": e.required,
        "notes": " ".join([*notes, *e.notes]),
    }
    if e.port == 80:
        out["checks"] = ["firewall"]
    if e.port not in SCHEMES:
        out["skip"] = (
            f"TCP port {e.port} is not HTTP: netcheck probes port 443 (https) and 80 (http)"
        )
    return out


def from_json(text: str, **kwargs: Any) -> tuple[dict[str, Any], Summary]:
    """The list's JSON text as profile data (see convert)."""
    try:
        data = document.parse(text, "JSON")
    except Syntax as exc:
        raise M365Error(str(exc)) from None
    except Invalid as exc:  # nested too deep, or a string that is no text
        raise _error(exc, None) from None
    return convert(data, **kwargs)


def read(path: str) -> str:
    """A saved copy of the list, as text."""
    try:
        return read_text(path)
    except InputError as exc:
        raise M365Error(str(exc)) from None


def fetch(url: str = SERVICE_URL, timeout: float = 30) -> str:
    """Download the list; the service asks for a client request id (a GUID) on every call."""
    import requests

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    query.setdefault("clientrequestid", [str(uuid.uuid4())])
    url = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    where = f"{parts.scheme}://{parts.netloc}{parts.path}"
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise M365Error(f"cannot download {where}: {exc}") from None
    try:
        return decode(response.content, where)
    except InputError as exc:
        raise M365Error(str(exc)) from None


def to_toml(data: dict[str, Any], comments: Sequence[str] = ()) -> str:
    """Write profile data as TOML (strings, booleans and lists of strings are all it holds)."""
    lines = [f"# {c}" for c in comments]
    lines += ["", "[profile]", *_pairs(data["profile"])]
    for table in data.get("endpoint", []):
        lines += ["", "[[endpoint]]", *_pairs(table)]
    return "\n".join(lines).lstrip("\n") + "\n"


def _pairs(table: dict[str, Any]) -> list[str]:
    return [f"{key} = {_value(value)}" for key, value in table.items()]


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string
