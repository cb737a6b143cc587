"""Scenarios as data: what the network does, and what the suite must report for each test.

A scenario file (`lab/scenarios/NAME.toml`) has a description, a [network] table (what the
firewall, DNS, web servers and proxy do; every key optional, the defaults are a healthy
network) and one or more [[run]] tables: how the suite is run and the verdict expected
per test id. A test not named in `expect` must pass.

With [sites.NAME] tables the lab has one more corporate network per site behind the same
edge, each with its own firewall rules (`drop`, `reject`), and a run probes from all of
them at once (pytest-xdist --dist each, one gateway per site): test ids end in `@NAME`. A
site with `ssh` runs an OpenSSH server and is reached over ssh by the controller in corp, as
a branch office is. A run may probe from some of the sites only (`sites`) and name the
words each site's error holds (`site_errors`; every other site must have none).

Expectation keys are test ids, `TEST[PARAM]`, where TEST or PARAM may be `*`; an exact id
beats `TEST[*-ipv6]` (the IPv6 variants of a check), which beats `TEST[*]`, which beats
`*[PARAM]`. Values: "pass", "skip", or "fail LAYER CAUSE".
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"

NETWORK_KEYS = {
    "drop": list,  # host names whose packets the firewall drops (IPv4 and IPv6)
    "reject": list,  # host names the firewall rejects with a TCP reset
    "nxdomain": list,  # host names absent from DNS
    "servfail": list,  # host names whose zone's server is unreachable: SERVFAIL
    "ipv6": str,  # "ok" or "drop" (AAAA records stay, IPv6 packets are dropped)
    "captive_portal": bool,  # every plain-HTTP connection is sent to a portal (302)
    "stale_crl": list,  # CRL URLs served with a nextUpdate in the past
    "invalid_crl": list,  # CRL URLs that serve an HTML page instead
    "ncsi_dns_a": list,  # override the A answer of the NCSI DNS name
    "msoid": dict,  # domain -> "worldwide" | "21vianet" | "absent"
    "proxy": bool,  # run squid on the corporate side
    "proxy_only": bool,  # the firewall blocks all direct egress from the corporate side
    "proxy_deny": list,  # squid dstdomain ACL entries that are denied (403)
    "proxy_auth": str,  # squid requires "basic", "ntlm" or "negotiate" (Kerberos) auth
    "proxy_bump": bool,  # squid inspects TLS (ssl-bump) with a corp CA the client trusts
    "proxy_splice": list,  # with proxy_bump: server names squid tunnels without inspecting
    "hosts": dict,  # the corporate desktop's /etc/hosts: name -> address or [addresses]
}
SITE_KEYS = {
    "drop": list,  # host names this site's packets to are dropped at the edge
    "reject": list,  # host names this site is refused (TCP reset) at the edge
    # Reached over ssh (an sshd in the site, the controller in corp) instead of a process
    # started in its namespace: "ok", "down" (no sshd) or "wrong-key" (sshd does not
    # authorize the controller's key).
    "ssh": str,
    "netcheck": str,  # with ssh: "same" or "other-version" (a netcheck of another version)
}
SSH_STATES = ("ok", "down", "wrong-key")
NETCHECK_VERSIONS = ("same", "other-version")
SITE_NAME = re.compile(r"[a-z][a-z0-9]{0,9}")
ROLES = ("corp", "edge", "inet")
PROXY_AUTH = ("basic", "ntlm", "negotiate")
RUN_KEYS = {
    "name": str,
    "proxy": str,
    "max_seconds": (int, float),
    "sites": list,  # the sites this run probes from (default: all)
    "site_errors": dict,  # site -> words its error in the results file holds (others: none)
    "expect": dict,
}
# "credentials": user and password in --proxy (basic, NTLM); "kerberos": the ticket cache
# the lab obtained with kinit in KRB5CCNAME, and no password.
PROXY_MODES = ("", "anonymous", "credentials", "kerberos")
MSOID_TARGETS = ("worldwide", "21vianet", "absent")
DEFAULT_MSOID = {"contoso.test": "worldwide", "fabrikam.test": "absent"}


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Verdict:
    outcome: str  # pass | fail | skip | error
    layer: str = ""
    cause: str = ""

    @classmethod
    def parse(cls, text: str) -> Verdict:
        words = text.split()
        if words in (["pass"], ["skip"]):
            return cls(words[0])
        if len(words) == 3 and words[0] in ("fail", "error"):
            return cls(*words)
        raise ValueError(f"{text!r}: expected 'pass', 'skip' or 'fail LAYER CAUSE'")

    def __str__(self) -> str:
        return " ".join(w for w in (self.outcome, self.layer, self.cause) if w)


@dataclass(frozen=True)
class Run:
    name: str
    proxy: str  # one of PROXY_MODES; "" is direct
    max_seconds: float
    expect: dict[str, Verdict]
    sites: tuple[str, ...] = ()  # the scenario's sites this run probes from
    site_errors: dict[str, str] = field(default_factory=dict)

    def keys(self, test_ids: list[str]) -> dict[str, str | None]:
        """The expect key that decides each test's verdict (None: it must pass)."""
        chosen: dict[str, str | None] = {}
        for test_id in test_ids:
            name, _, param = test_id.partition("[")
            param = param.removesuffix("]")
            v6 = (f"{name}[*-ipv6]",) if param.endswith("-ipv6") else ()
            candidates = (test_id, *v6, f"{name}[*]", f"*[{param}]")
            chosen[test_id] = next((k for k in candidates if k in self.expect), None)
        if unused := sorted(set(self.expect) - set(chosen.values())):
            raise ScenarioError(f"run {self.name!r}: expect keys match no test: {unused}")
        return chosen

    def expected(self, test_ids: list[str]) -> dict[str, Verdict]:
        """The verdict each collected test must have; unknown keys are an error. The Windows
        host checks are skipped here unless a key says otherwise: the lab runs on Linux."""
        keys = self.keys(test_ids)
        return {
            t: self.expect[k] if k else Verdict("skip" if t.startswith("test_host[") else "pass")
            for t, k in keys.items()
        }


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    description: str
    network: dict = field(default_factory=dict)
    runs: tuple[Run, ...] = ()
    sites: dict[str, dict] = field(default_factory=dict)  # site -> its own firewall rules

    def get(self, key: str):
        default = {"ipv6": "ok", "msoid": DEFAULT_MSOID}.get(key)
        if default is None:
            default = NETWORK_KEYS[key]()
        return self.network.get(key, default)

    @property
    def ssh_sites(self) -> dict[str, dict]:
        """The sites reached over ssh, with their rules."""
        return {name: rules for name, rules in self.sites.items() if "ssh" in rules}

    @property
    def hosts(self) -> dict[str, list[str]]:
        """The corporate desktop's hosts file: name -> its addresses."""
        pins = self.get("hosts")
        return {name: [a] if isinstance(a, str) else a for name, a in pins.items()}

    @property
    def domains(self) -> list[str]:
        return sorted(self.get("msoid"))

    def run(self, name: str) -> Run:
        for run in self.runs:
            if run.name == name:
                return run
        have = ", ".join(r.name for r in self.runs)
        raise ScenarioError(f"scenario {self.name}: no run {name!r} (have: {have})")


def _check(table: dict, schema: dict, where: str) -> None:
    for key, value in table.items():
        if key not in schema:
            raise ScenarioError(f"{where}: unknown key {key!r} (allowed: {', '.join(schema)})")
        if not isinstance(value, schema[key]):
            raise ScenarioError(f"{where}: key {key!r} has the wrong type")


def load(name_or_path: str | Path) -> Scenario:
    path = Path(name_or_path).absolute()  # a lab's state names it wherever `down` runs
    if not Path(name_or_path).suffix:
        path = SCENARIOS / f"{name_or_path}.toml"
    if not path.is_file():
        raise ScenarioError(f"no scenario {name_or_path!r} (have: {', '.join(names())})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    _check(data, {"description": str, "network": dict, "sites": dict, "run": list}, str(path))
    network = data.get("network", {})
    _check(network, NETWORK_KEYS, f"{path}: [network]")
    sites = data.get("sites", {})
    if len(sites) > 15:
        raise ScenarioError(f"{path}: [sites]: at most 15 sites")
    for name, rules in sites.items():
        if not SITE_NAME.fullmatch(name) or name in ROLES:
            raise ScenarioError(f"{path}: [sites] {name!r}: a-z then a-z0-9, at most 10")
        _check(rules, SITE_KEYS, f"{path}: [sites.{name}]")
        if rules.get("ssh", "ok") not in SSH_STATES:
            raise ScenarioError(f"{path}: [sites.{name}] ssh: one of {SSH_STATES}")
        if rules.get("netcheck", "same") not in NETCHECK_VERSIONS or (
            "netcheck" in rules and "ssh" not in rules
        ):
            raise ScenarioError(f"{path}: [sites.{name}] netcheck: {NETCHECK_VERSIONS}, with ssh")
    if network.get("ipv6", "ok") not in ("ok", "drop"):
        raise ScenarioError(f"{path}: [network] ipv6 must be 'ok' or 'drop'")
    for domain, target in network.get("msoid", {}).items():
        if target not in MSOID_TARGETS:
            raise ScenarioError(f"{path}: [network] msoid {domain}: one of {MSOID_TARGETS}")
    for host, pins in network.get("hosts", {}).items():
        for address in [pins] if isinstance(pins, str) else pins:
            try:
                ipaddress.ip_address(address)
            except (TypeError, ValueError):
                raise ScenarioError(f"{path}: [network] hosts {host}: {address!r}") from None
    auth = network.get("proxy_auth", "")
    if auth and auth not in PROXY_AUTH:
        raise ScenarioError(f"{path}: [network] proxy_auth: one of {PROXY_AUTH}")
    runs = []
    for i, run in enumerate(data.get("run", [{}])):
        where = f"{path}: [[run]] #{i + 1}"
        _check(run, RUN_KEYS, where)
        if run.get("proxy", "") not in PROXY_MODES:
            raise ScenarioError(f"{where}: proxy must be one of {PROXY_MODES}")
        fits = {"credentials": ("basic", "ntlm"), "kerberos": ("negotiate",)}
        if run.get("proxy") in fits and auth not in fits[run["proxy"]]:
            raise ScenarioError(f"{where}: proxy {run['proxy']!r} does not fit proxy_auth")
        run_sites = run.get("sites", list(sites))
        if unknown := set(run_sites) - set(sites):
            raise ScenarioError(f"{where}: sites: unknown {sorted(unknown)}")
        if unknown := set(run.get("site_errors", {})) - set(run_sites):
            raise ScenarioError(f"{where}: site_errors: not this run's sites {sorted(unknown)}")
        try:
            expect = {k: Verdict.parse(v) for k, v in run.get("expect", {}).items()}
        except (ValueError, AttributeError) as exc:
            raise ScenarioError(f"{where}: expect: {exc}") from None
        runs.append(
            Run(
                run.get("name", "default"),
                run.get("proxy", ""),
                run.get("max_seconds", 60),
                expect,
                tuple(run_sites),
                run.get("site_errors", {}),
            )
        )
    description = data.get("description", "")
    return Scenario(path.stem, path, description, network, tuple(runs), sites)


def names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.toml"))


def read_junit(path: Path) -> dict[str, Verdict]:
    """Test id → verdict, from the suite's --junitxml (netcheck's testcase properties)."""
    verdicts = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if case.find("error") is not None:
            outcome = "error"
        elif case.find("failure") is not None:
            outcome = "fail"
        elif (skipped := case.find("skipped")) is not None:
            # A failed optional check is an xfail: it does not fail the run, but its verdict
            # is still the check's failure.
            outcome = "fail" if skipped.get("type") == "pytest.xfail" else "skip"
        else:
            outcome = "pass"
        if outcome == "fail" or props.get("outcome") in ("fail", "error"):
            verdict = Verdict(
                props.get("outcome", outcome), props.get("layer", ""), props.get("cause", "")
            )
            if outcome != verdict.outcome:  # the test's status disagrees with the check's
                verdict = Verdict(f"{outcome}/{verdict.outcome}", verdict.layer, verdict.cause)
        else:
            verdict = Verdict(outcome)
        verdicts[case.get("name")] = verdict
    return verdicts


def optional_tests(path: Path) -> set[str]:
    """Tests of `required = false` entries: their failures do not fail the run."""
    return {
        case.get("name", "")
        for case in ET.parse(path).getroot().iter("testcase")
        for p in case.iter("property")
        if (p.get("name"), p.get("value")) == ("required", "False")
    }


def compare(expected: dict[str, Verdict], actual: dict[str, Verdict]) -> list[str]:
    """Human-readable differences; empty when the suite reported exactly what was expected."""
    lines = []
    for test_id in sorted(set(expected) | set(actual)):
        want, got = expected.get(test_id), actual.get(test_id)
        if want != got:
            lines.append(f"{test_id}: expected {want or 'no such test'}, got {got or 'not run'}")
    return lines
