"""Many vantage points: the same profile from several sites at once, one report.

`pytest --dist each --tx popen//id=hq//python=python3 --tx ssh=nc@branch1//id=branch1//...`
runs every check once per gateway (pytest-xdist's `each` scheduling); each gateway is a
site, named by its id. A site's tests carry the site in their ids (`test_firewall[host@hq]`)
and in their records, so pytest-html, JUnit XML and the results file keep every site's
result apart. On the controlling process, `Sites` checks that each site can start netcheck
before the run (an unreachable site is reported, not fatal to the others), stops xdist from
respawning a crashed site, and gathers what each site saw for the matrix endpoint by site.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

import netcheck
from netcheck import results
from netcheck.plugin.keys import SETTINGS

SITE = "netcheck_site"  # key in xdist's workerinput (the site) and workeroutput (its settings)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
PREFLIGHT_TIMEOUT = 60.0
# Run on each site before the tests: can its Python run netcheck under xdist, which version?
PREFLIGHT = """
try:
    import netcheck, netcheck.plugin.hooks, xdist.remote
    channel.send(("version", netcheck.__version__))
except Exception as exc:
    channel.send(("error", f"cannot import netcheck there: {type(exc).__name__}: {exc}"))
"""


def check_name(name: str, source: str) -> str:
    if not NAME.fullmatch(name):
        raise pytest.UsageError(
            f"{source}: site name {name!r}: use letters, digits, '.', '_' and '-' (at most 40)"
        )
    return name


def site(config: pytest.Config) -> str | None:
    """Where this process probes from: its gateway's id in a --dist each run, else --site."""
    workerinput = getattr(config, "workerinput", {})
    return workerinput.get(SITE) or config.stash[SETTINGS].site


def distributed(config: pytest.Config) -> bool:
    """The controlling process of a run from several sites (--dist each)."""
    return getattr(config.option, "dist", "no") == "each" and not hasattr(config, "workerinput")


def settings(config: pytest.Config) -> dict[str, str]:
    """What a site reaches the network with, sent to the controller when the site finishes."""
    network = config.stash[SETTINGS].network
    return {"resolver": network.describe_resolver(), "proxy": network.describe_proxy()}


@dataclass
class Site:
    name: str
    spec: str  # the --tx specification
    error: str | None = None  # why the site gave no or incomplete results
    settings: dict[str, str] = field(default_factory=dict)


class Sites:
    """Controller side of a --dist each run: one Site per --tx gateway."""

    def __init__(self, config: pytest.Config) -> None:
        from xdist.workermanage import parse_tx_spec_config

        self.config = config
        self.sites: dict[str, Site] = {}
        for spec in parse_tx_spec_config(config):
            match = re.search(r"(?:^|//)id=([^/]*)", spec)
            if not match:
                raise pytest.UsageError(
                    f"--tx {spec}: name each site with an id, e.g. --tx {spec}//id=branch1"
                )
            name = check_name(match.group(1), f"--tx {spec}")
            if name in self.sites:
                raise pytest.UsageError(f"--tx: two gateways are named {name!r}")
            self.sites[name] = Site(name, spec)
        # A site whose worker crashes is reported, never respawned in a loop.
        if config.option.maxworkerrestart is None:
            config.option.maxworkerrestart = "0"

    def preflight(self) -> None:
        """Start each site's Python once; drop the sites that cannot run netcheck, so the
        others still run (xdist would abort the whole run on a gateway that fails to start)."""
        with ThreadPoolExecutor(len(self.sites)) as pool:
            errors = pool.map(_preflight, [s.spec for s in self.sites.values()])
        for site, error in zip(self.sites.values(), errors, strict=True):
            site.error = error
        reachable = [s.spec for s in self.sites.values() if not s.error]
        if not reachable:
            lines = "; ".join(f"{s.name}: {s.error}" for s in self.sites.values())
            raise pytest.UsageError(f"no site can run netcheck: {lines}")
        self.config.option.tx = reachable

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[SITE] = node.gateway.id

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> object:
        """A site that could not start or crashed fails the run: its checks were not made."""
        outcome = yield
        session.testsfailed += sum(1 for s in self.sites.values() if s.error)
        return outcome

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        site = self.sites.get(node.gateway.id)
        if site is None:
            return
        if error:
            site.error = f"worker crashed: {error}"
        site.settings = getattr(node, "workeroutput", {}).get(SITE, site.settings)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        return [
            f"netcheck: site {s.name} ({s.spec})" + (f": UNREACHABLE, {s.error}" if s.error else "")
            for s in self.sites.values()
        ]

    def matrix(self, records: Iterable[results.Record]) -> Matrix:
        return Matrix.of(records, list(self.sites))

    def summary(self, records: Iterable[results.Record]) -> list[dict[str, Any]]:
        """The results file's `sites`: each site's settings, error and counts."""
        counts = self.matrix(records).counts
        return [
            {
                "name": s.name,
                "spec": s.spec,
                "error": s.error,
                **s.settings,
                "summary": dict(sorted(counts[s.name].items())),
            }
            for s in self.sites.values()
        ]


def _preflight(spec: str) -> str | None:
    import execnet

    group = execnet.Group()
    try:
        channel = group.makegateway(spec).remote_exec(PREFLIGHT)
        kind, value = channel.receive(PREFLIGHT_TIMEOUT)
    except Exception as exc:  # any way of not starting: no such program, ssh refused, ...
        text = " ".join(str(exc).split()) or type(exc).__name__
        return f"cannot start Python there: {text}"[:500]
    finally:
        group.terminate(timeout=5)
    if kind == "error":
        return value
    if value != netcheck.__version__:
        return (
            f"netcheck {value} there, {netcheck.__version__} here: results of different "
            "versions do not compare; install the same version at the site"
        )
    return None


@dataclass
class Matrix:
    """Every check (kind, endpoint) at every site: the record, or None where it did not run."""

    sites: list[str]
    rows: list[tuple[str, str]]
    cells: dict[tuple[str, str, str], results.Record]
    counts: dict[str, Counter[str]]  # site -> test outcome -> count

    @classmethod
    def of(cls, records: Iterable[results.Record], sites: list[str]) -> Matrix:
        sites, rows = list(sites), {}
        cells, counts = {}, {s: Counter() for s in sites}
        for rec in records:
            site, row = rec["site"] or "", (rec["check"] or "", rec["endpoint"] or "none")
            if site not in counts:
                sites.append(site)
                counts[site] = Counter()
            rows.setdefault(row, None)
            cells[(*row, site)] = rec
            counts[site][rec["test_outcome"] or "not run"] += 1
        return cls(sites, list(rows), cells, counts)

    def cell(self, check: str, endpoint: str, site: str) -> results.Record | None:
        return self.cells.get((check, endpoint, site))


def verdict(rec: results.Record | None) -> str:
    """A cell: `passed`, `failed: tcp connection_refused`, `xfailed: dns dns_nxdomain`,
    `warning: tls ...` (a passed check with a warning), `not run`."""
    if rec is None:
        return "not run"
    outcome = "warning" if rec["outcome"] == "warn" else rec["test_outcome"] or rec["outcome"]
    return f"{outcome}: {rec['layer']} {rec['cause']}" if rec["layer"] else outcome
