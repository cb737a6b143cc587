"""Findings: a run's failed checks grouped by root cause, each with its fix once.

A pure function of the records (netcheck.results), so it works alike on the controller of
an xdist run, on a results file read back, and for runs from several sites. Generic over
(layer, cause, subject): a new cause needs no code here. What a failure is about follows
from its layer: a name (dns), a host (tcp, tls, http, content), a proxy (proxy), or a CA
for the causes listed in SHARED. A cause that hit several hosts while no check on the same
path (site and proxy) got past its layer is machine-wide: one finding about "every host".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from netcheck.advice import advice_for
from netcheck.results import CAUSE_CHANGED, FAILING, NEW_FAILURE, Record, host_port

LAYERS = ("dns", "tcp", "proxy", "tls", "http", "content")
SEVERITIES = ("blocking", "optional", "warning")
SHOWN_IN_FULL = 12  # findings the terminal and the report show in full; the rest in brief
# Causes about something many hosts share, and the evidence item that names it.
SHARED = {"tls_interception": ("ca", "certificate_issuer")}
# A cause whose advice depends on the layer: the advice of the cause meant there.
INTERNAL = "netcheck", "internal_error"  # a netcheck bug: its own layer and cause
INTERNAL_ADVICE = (
    "This is a bug in netcheck, not a network fault: report it with the check's evidence "
    "(it holds the traceback)."
)


@dataclass
class Finding:
    """One problem: a layer and cause, what it hit, its fix, and the checks it explains."""

    id: str  # F1, F2, ... in the order shown
    severity: str  # blocking (a required check fails), optional, warning (passed, flagged)
    layer: str
    cause: str
    about: str  # what `subject` is: name, host, address, proxy, ca, machine (a Windows
    # setting; `hosts` are the host checks), or all (every destination: machine-wide)
    subject: str
    hosts: list[str]  # host:port (a name, at dns) of each destination it hit
    tried: list[str]  # the address:port attempts, with their outcome
    detail: str  # one check's explanation, as an example
    advice: str
    new: bool  # newly failing (or changed cause) against the baseline
    sites: list[str]  # where it was seen (empty for a run from one place)
    checks: list[str]  # record ids

    @property
    def headline(self) -> str:
        """`tcp / timeout: officecdn.microsoft.com:443`, `tls / tls_interception: by CN=...`"""
        what = {"all": self.subject, "address": self.subject}.get(self.about)
        if self.about == "machine":
            what = f"this machine ({', '.join(self.hosts)})"
        what = what or (f"the proxy {self.subject}" if self.about == "proxy" else "")
        what = what or (f"by {self.subject}" if self.about == "ca" else ", ".join(self.hosts))
        at = ", ".join(self.sites)
        at = f" at site{'s' * (len(self.sites) > 1)} {at}" if at else ""
        return f"{self.layer} / {self.cause}: {what}{at}"

    @property
    def hit(self) -> str:
        """The destinations, when the headline names something they share."""
        if self.about in ("name", "host", "machine"):
            return ""
        return f"{plural(len(self.hosts), 'destination')}: {some(self.hosts, 12)}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "headline": self.headline, "hit": self.hit}


@dataclass
class Verdict:
    ok: bool  # nothing blocks the profile's purpose from here
    text: str


@dataclass
class _Group:
    records: list[Record] = field(default_factory=list)
    hosts: dict[str, None] = field(default_factory=dict)  # ordered sets
    tried: dict[str, None] = field(default_factory=dict)
    sites: dict[str, None] = field(default_factory=dict)


def _severity(rec: Record) -> str:
    if rec["outcome"] not in FAILING:
        return "warning"
    return "optional" if rec["required"] is False else "blocking"


def _layer_cause(rec: Record) -> tuple[str, str]:
    return (rec["layer"], rec["cause"]) if rec["layer"] else INTERNAL


def _destination(rec: Record) -> str:
    host, port = host_port(rec["target"])
    if rec["layer"] == "dns" or port is None:
        return host or str(rec["endpoint"])
    return f"{host}:{port}"


def _subject(rec: Record) -> tuple[str, str]:
    layer, cause = _layer_cause(rec)
    if (layer, cause) == INTERNAL:
        return "all", "netcheck itself"
    if cause in SHARED:
        about, item = SHARED[cause]
        if value := rec["evidence"].get(item):
            return about, value
    if layer == "proxy" and rec["proxy"]:
        return "proxy", rec["proxy"]
    if layer == "host":  # a Windows setting: the checks that found it are its "hosts"
        return "machine", "this machine"
    return ("name" if layer == "dns" else "host"), host_port(rec["target"])[0] or _destination(rec)


def _failed_attempt(tried: str) -> str:
    """`198.51.100.7:443 timeout after 250 ms` as `198.51.100.7:443 timeout`; "" for an
    attempt that connected (the checks of one finding differ in their timings only)."""
    address, _, outcome = tried.partition(" ")
    outcome = re.split(r" (?:after|in) \d", outcome)[0]
    return "" if outcome.startswith("connected") else f"{address} {outcome}".strip()


def _path(rec: Record) -> tuple[str | None, str | None]:
    return rec["site"], rec["proxy"]


def _got_past(rec: Record, layer: str) -> bool:
    """The check went beyond `layer`: it passed, or failed further along the path."""
    if rec["outcome"] in ("pass", "warn"):
        return True
    return (
        rec["layer"] in LAYERS
        and layer in LAYERS
        and LAYERS.index(rec["layer"]) > LAYERS.index(layer)
    )


def compute(
    records: Iterable[Record], resolvers: Mapping[str | None, str] | None = None
) -> list[Finding]:
    """The findings of a run, blocking ones first. `resolvers` names the resolver of each
    site (None: a run from one place) for a machine-wide DNS finding."""
    records = list(records)
    flagged = [r for r in records if r["outcome"] in (*FAILING, "warn")]
    past: dict[tuple, set[str]] = defaultdict(set)  # path -> layers some check got past
    for rec in records:
        for layer in LAYERS:
            if _got_past(rec, layer):
                past[_path(rec)].add(layer)
    # Machine-wide: a (path, layer, cause) that hit several subjects, none of them got past.
    spread: dict[tuple, set[str]] = defaultdict(set)
    for rec in flagged:
        spread[(*_path(rec), *_layer_cause(rec))].add(_subject(rec)[1])
    groups: dict[tuple, _Group] = defaultdict(_Group)
    for rec in flagged:
        layer, cause = _layer_cause(rec)
        about, subject = _subject(rec)
        path = _path(rec)
        wide = len(spread[(*path, layer, cause)]) > 1 and layer not in past[path]
        if about in ("name", "host") and wide:
            about, subject = "all", _everything(layer, rec, resolvers or {})
        group = groups[(layer, cause, about, subject)]
        group.records.append(rec)
        group.hosts[_destination(rec)] = None
        group.tried.update(dict.fromkeys(a for t in rec["tried"] if (a := _failed_attempt(t))))
        if rec["site"]:
            group.sites[rec["site"]] = None
    findings = [_finding(key, group) for key, group in _by_address(groups).items()]
    findings.sort(key=_order)
    for n, finding in enumerate(findings, 1):
        finding.id = f"F{n}"
    return findings


def _by_address(groups: dict[tuple, _Group]) -> dict[tuple, _Group]:
    """At the tcp layer the path knows no host name: hosts that failed alike at an address
    they share are one problem, a rule on that address (about "address")."""
    merged: dict[tuple, _Group] = {}
    owner: dict[tuple, tuple] = {}  # (layer, cause, address) -> key in merged
    for key, group in groups.items():
        layer, cause, about, _ = key
        addresses = {(layer, cause, t.partition(" ")[0]) for t in group.tried}
        into = next((owner[a] for a in addresses if a in owner), None)
        if layer != "tcp" or about != "host" or into is None:
            into = key
            merged[key] = group
        else:
            _absorb(merged[into], group)
        owner.update(dict.fromkeys(addresses, into))
    out = {}
    for key, group in merged.items():
        if key[2] == "host" and len({host_port(r["target"])[0] for r in group.records}) > 1:
            key = (
                *key[:2],
                "address",
                some(sorted({t.partition(" ")[0] for t in group.tried}), 4),
            )
        out[key] = group
    return out


def _absorb(into: _Group, group: _Group) -> None:
    into.records += group.records
    for name in ("hosts", "tried", "sites"):
        getattr(into, name).update(getattr(group, name))


def _everything(layer: str, rec: Record, resolvers: Mapping[str | None, str]) -> str:
    if layer == "dns":
        resolver = resolvers.get(rec["site"])
        return "no name resolves" + (f" (resolver {resolver})" if resolver else "")
    via = f" through the proxy {rec['proxy']}" if rec["proxy"] else ""
    return f"every destination fails{via}"


def _finding(key: tuple, group: _Group) -> Finding:
    layer, cause, about, subject = key
    first = group.records[0]
    return Finding(
        id="",
        severity=min((_severity(r) for r in group.records), key=SEVERITIES.index),
        layer=layer,
        cause=cause,
        about=about,
        subject=subject,
        hosts=list(group.hosts),
        tried=list(group.tried),
        detail=first["detail"] or "",
        advice=first.get("advice") or advice(first["check"], layer, cause),
        new=any(r["change"] in (NEW_FAILURE, CAUSE_CHANGED) for r in group.records),
        sites=list(group.sites),
        checks=[r["id"] for r in group.records],
    )


def advice(check: str, layer: str | None, cause: str | None) -> str:
    """What to do about a failure, once: netcheck.advice's for the cause at its layer."""
    if (layer, cause) == INTERNAL:
        return INTERNAL_ADVICE
    return advice_for(check, cause, layer)


def _order(f: Finding) -> tuple:
    layer = LAYERS.index(f.layer) if f.layer in LAYERS else len(LAYERS)
    return SEVERITIES.index(f.severity), f.about != "all", layer, -len(f.checks), f.subject


def by_check(findings: Iterable[Finding]) -> dict[str, Finding]:
    """Each check's finding, by record id."""
    return {check: f for f in findings for check in f.checks}


def verdict(purpose: str, records: Iterable[Record], findings: list[Finding]) -> Verdict:
    """One line: can `purpose` (the profile's name) work from here, and what blocks it."""
    records = list(records)
    blocking = [f for f in findings if f.severity == "blocking"]
    optional = [f for f in findings if f.severity == "optional"]
    warnings = [f for f in findings if f.severity == "warning"]
    tested = sum(r["outcome"] != "skip" for r in records)
    if not tested:
        return Verdict(False, f"Not known: no check was made ({plural(len(records), 'skipped')}).")
    extras = [
        plural(len(some), what)
        for some, what in ((optional, "optional problem"), (warnings, "warning"))
        if some
    ]
    others = f"; also {' and '.join(extras)}" if extras else ""
    if blocking:
        failed = sum(len(f.checks) for f in blocking)
        return Verdict(
            False,
            f"No: {purpose} is blocked from here by {plural(len(blocking), 'problem')} "
            f"({plural(failed, 'failed check')}){others}.",
        )
    return Verdict(
        True, f"Yes: nothing blocks {purpose} from here ({plural(tested, 'check')} made){others}."
    )


def plural(n: int, noun: str) -> str:
    """`1 check`, `2 checks`, `3 skipped`."""
    return f"{n} {noun}{'' if n == 1 or noun.endswith('ed') else 's'}"


def some(items: list[str], n: int) -> str:
    """The first `n` items, and how many more."""
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more
