"""The pytest plugin: options, parametrization from the profile, probing, results.

A test asks for a fixture named after a check kind (`firewall`, `tls`, `crl`, `ncsi_web`,
`ncsi_dns`, `msoid`); it is parametrized over the profile's targets for that kind and
receives the check's Result. Each test's report carries the check's record (results.py);
--fail-on decides which failures fail the run, the others are reported as xfail.
"""

from __future__ import annotations

import ssl
import warnings
from pathlib import Path
from typing import Any

import pytest

from netcheck import profile as profiles
from netcheck import results, sites, winproxy
from netcheck.failures import Failure, Skip
from netcheck.net import Nameserver, Network, Proxy, has_route
from netcheck.pac import Pac, PacError
from netcheck.probes import PROBES
from netcheck.result import Deadline, Outcome, Result, Trace
from netcheck.runner import Check, Runner

PROFILE = pytest.StashKey[profiles.Profile]()
NETWORK = pytest.StashKey[Network]()
TIMEOUT = pytest.StashKey[float]()
RUNNER = pytest.StashKey[Runner]()
RESULT = pytest.StashKey[Result]()
RECORD = pytest.StashKey[results.Record]()  # on an item: its check's record
BASELINE = pytest.StashKey[results.Baseline | None]()
FAIL_ON = ("required", "any", "new-required-failures")
SYSTEM_PROXY = pytest.StashKey[dict[str, str]]()  # Windows' proxy settings, as report rows
FAMILY = pytest.StashKey[str | None]()  # a profiles.RUN_FAMILIES value, or None
FAMILY_TEXT = {
    "both": "IPv4 and IPv6, each on its own",
    "ipv4": "IPv4 only (--family=ipv4)",
    "ipv6": "IPv6 only (--family=ipv6)",
    None: "IPv4 (no IPv6 route on this machine)",
}

MARKERS = {
    "firewall": "the URL is reachable through firewall and proxy (DNS, TCP, TLS, HTTP)",
    "tls": "TLS 1.2 can be negotiated with the HTTPS endpoint",
    "crl": "the certificate revocation list downloads and is current",
    "ncsi": "Windows' network connectivity probes (web and DNS) answer as expected",
    "dns": "DNS records of custom domains (MSOID CNAME)",
}
DEFAULT_TIMEOUT = 5.0
GLOBAL_V6_PROBE = "2001:db8::1"  # any global address: only the routing table is consulted


class NetcheckWarning(UserWarning):
    """A check passed with a finding the profile only warns about (e.g. TLS inspection)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netcheck", "netcheck network reachability")
    group.addoption(
        "--endpoints",
        metavar="PATH",
        help="profile to check (default: endpoints.toml in the rootdir)",
    )
    group.addoption(
        "--probe-timeout",
        metavar="SECONDS",
        help=f"total deadline of one check, DNS included (default {DEFAULT_TIMEOUT:g})",
    )
    group.addoption(
        "--nameserver",
        action="append",
        default=[],
        metavar="IP[:PORT]",
        help="resolve every name with this DNS server (repeatable)",
    )
    group.addoption(
        "--proxy",
        metavar="URL",
        help="http://[user:pass@]host:port, or 'none' to ignore HTTPS_PROXY/HTTP_PROXY",
    )
    group.addoption(
        "--ca-bundle",
        metavar="PATH",
        help="extra trusted CA certificates (PEM), e.g. a TLS-inspection CA",
    )
    group.addoption(
        "--family",
        choices=profiles.RUN_FAMILIES,
        help="ipv4 or ipv6: test over this family only; both: the firewall check of each "
        "dual-stack host once per family (default: both where this machine routes IPv6, "
        "else as the addresses come, IPv4 first)",
    )
    group.addoption(
        "--tls-interception",
        choices=profiles.INTERCEPTION,
        help="whether TLS interception fails a check or only warns (default: the profile's)",
    )
    group.addoption(
        "--expected-root",
        action="append",
        default=[],
        metavar="NAME|PIN",
        help="a root CA the HTTPS endpoints may chain to: RFC 4514 subject or sha256//<base64> "
        "SPKI pin (repeatable; adds to the profile's expected_roots)",
    )
    group.addoption(
        "--pac",
        metavar="URL|FILE",
        help="pick the proxy per URL with this proxy auto-config (PAC) file (needs pypac)",
    )
    group.addoption(
        "--domain",
        action="append",
        default=[],
        metavar="NAME",
        help="custom domain whose MSOID record is checked (repeatable)",
    )
    group.addoption(
        "--tenant",
        choices=profiles.TENANTS,
        help="who operates the tenant (default: the profile's, else worldwide)",
    )
    group.addoption(
        "--results",
        metavar="PATH",
        help="JSON results file (default: results.json next to the HTML report); 'none': off",
    )
    group.addoption(
        "--baseline",
        metavar="PATH",
        help="an earlier results file: report what newly fails, newly passes, changed cause",
    )
    group.addoption(
        "--fail-on",
        choices=FAIL_ON,
        default="required",
        help="what fails the run: a failing required check (default), any failing check, "
        "or only a required check that passed in the --baseline",
    )
    group.addoption(
        "--site",
        metavar="NAME",
        help="where this run probes from (test ids end in @NAME); with --dist each, "
        "each --tx gateway's id names its site",
    )


def _settings(config: pytest.Config) -> tuple[profiles.Profile, Network, float]:
    """Options → profile, network settings and timeout; any problem is a UsageError."""
    opt = config.option
    try:
        timeout = float(opt.probe_timeout) if opt.probe_timeout else DEFAULT_TIMEOUT
    except ValueError:
        raise pytest.UsageError(f"--probe-timeout: {opt.probe_timeout!r} is not a number") from None
    if not 0 < timeout <= 600:
        raise pytest.UsageError(f"--probe-timeout: must be between 0 and 600 s, not {timeout:g}")
    try:
        nameservers = tuple(Nameserver.parse(n) for n in opt.nameserver)
    except ValueError as exc:
        raise pytest.UsageError(f"--nameserver: {exc}") from None
    proxy = None
    if opt.proxy and opt.proxy.lower() not in ("none", "direct"):
        try:
            proxy = Proxy.parse(opt.proxy)
        except ValueError as exc:  # the message never repeats the value: it may hold a password
            raise pytest.UsageError(f"--proxy: {exc}") from None
    bundles = (Path(opt.ca_bundle),) if opt.ca_bundle else ()
    network = Network(nameservers, proxy, use_env_proxy=not opt.proxy, ca_bundles=bundles)
    for path in network.trust_files():
        source = "--ca-bundle" if path in bundles else "REQUESTS_CA_BUNDLE"
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
        except FileNotFoundError:
            raise pytest.UsageError(f"{source}: {path}: no such file") from None
        except (OSError, ssl.SSLError) as exc:
            raise pytest.UsageError(f"{source} {path}: not a PEM CA certificate ({exc})") from None
    if opt.pac:
        if opt.proxy:
            raise pytest.UsageError("--pac and --proxy exclude each other: give one")
        try:
            pac = Pac(opt.pac, _pac_script(opt.pac, network, timeout))
        except PacError as exc:
            raise pytest.UsageError(f"--pac: {exc}") from None
        network = Network(nameservers, ca_bundles=bundles, pac=pac)
    try:
        domains = tuple(profiles.hostname(d) for d in opt.domain)
    except ValueError as exc:
        raise pytest.UsageError(f"--domain: {exc}") from None
    try:
        roots = tuple(profiles.trust_anchor(r) for r in opt.expected_root)
    except ValueError as exc:
        raise pytest.UsageError(f"--expected-root: {exc}") from None
    path = Path(opt.endpoints) if opt.endpoints else config.rootpath / "endpoints.toml"
    try:
        profile = profiles.load(
            path,
            domains=domains,
            tenant=opt.tenant,
            interception=opt.tls_interception,
            expected_roots=roots,
        )
    except profiles.ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    return profile, network, timeout


def _pac_script(source: str, network: Network, timeout: float) -> str:
    """The PAC file's text, from a file or fetched directly (no proxy) with netcheck's DNS."""
    if not source.startswith(("http://", "https://")):
        try:
            return Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PacError(f"{source}: cannot read: {exc}") from None
    direct = Network(network.nameservers, use_env_proxy=False, ca_bundles=network.ca_bundles)
    try:
        answer = direct.get(source, Trace(Deadline(timeout)), max_bytes=1 << 20)
    except (Failure, Skip) as exc:
        raise PacError(f"{source}: cannot download: {exc}") from None
    if answer.status != 200:
        raise PacError(f"{source}: HTTP {answer.status} {answer.reason}")
    return answer.body.decode("utf-8", errors="replace")


def _baseline(config: pytest.Config) -> results.Baseline | None:
    opt = config.option
    if opt.fail_on == "new-required-failures" and not opt.baseline:
        raise pytest.UsageError("--fail-on=new-required-failures needs --baseline=PATH")
    if not opt.baseline:
        return None
    try:
        return results.Baseline.load(Path(opt.baseline))
    except results.ResultsError as exc:
        raise pytest.UsageError(f"--baseline: {exc}") from None


def results_path(config: pytest.Config) -> Path | None:
    """--results, else results.json next to the HTML report, else reports/ under the rootdir."""
    chosen = config.option.results
    if chosen:
        return None if chosen.lower() == "none" else Path(chosen)
    html = getattr(config.option, "htmlpath", None)
    return (Path(html).parent if html else config.rootpath / "reports") / "results.json"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.stash[PROFILE], config.stash[NETWORK], config.stash[TIMEOUT] = _settings(config)
    # A route lookup only (no packet): does this machine have IPv6 beyond its own links?
    config.stash[FAMILY] = config.option.family or ("both" if has_route(GLOBAL_V6_PROBE) else None)
    config.stash[BASELINE] = _baseline(config)
    if config.option.site:
        sites.check_name(config.option.site, "--site")
    if sites.distributed(config) and not config.option.collectonly:  # each gateway: a site
        plugin = sites.Sites(config)
        plugin.preflight()
        config.pluginmanager.register(plugin, "netcheck.sites")
    if hasattr(config, "workeroutput") and sites.site(config):
        config.workeroutput[sites.SITE] = sites.settings(config)
    config.stash[SYSTEM_PROXY] = {}
    if not hasattr(config, "workerinput"):  # the controller records, reports and warns
        from netcheck.recorder import Recorder

        config.pluginmanager.register(Recorder(config), "netcheck.recorder")
        rows, mismatch = winproxy.environment_rows(winproxy.read_winhttp(), winproxy.read_wininet())
        config.stash[SYSTEM_PROXY] = rows
        if mismatch:
            config.issue_config_time_warning(NetcheckWarning(mismatch), stacklevel=2)
    if config.pluginmanager.hasplugin("html"):
        from netcheck import report

        report.configure(config)
        config.pluginmanager.register(report, "netcheck.report")
    if getattr(config.option, "dist", "no") != "no":  # the xdist controller
        from netcheck import distribute

        config.pluginmanager.register(distribute, "netcheck.distribute")


def pytest_report_header(config: pytest.Config) -> list[str]:
    profile, network = config.stash[PROFILE], config.stash[NETWORK]
    family = FAMILY_TEXT[config.stash[FAMILY]]
    return [
        f"netcheck: {profile.name} ({profile.path}), timeout {config.stash[TIMEOUT]:g} s",
        f"netcheck: resolver {network.describe_resolver()}; proxy {network.describe_proxy()}",
        f"netcheck: address families: {family}",
        *(f"netcheck: {k}: {v}" for k, v in config.stash[SYSTEM_PROXY].items()),
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    profile = metafunc.config.stash[PROFILE]
    at = f"@{site}" if (site := sites.site(metafunc.config)) else ""
    for kind in PROBES:
        if kind not in metafunc.fixturenames:
            continue
        targets = profile.targets(kind, metafunc.config.stash[FAMILY])
        if targets:
            skip = pytest.mark.skip
            params = [
                pytest.param(t, id=f"{t.id}{at}", marks=[skip(reason=r)] if (r := _skip(t)) else [])
                for t in targets
            ]
            metafunc.parametrize(kind, params, indirect=True)
        else:
            reason = (
                "no custom domain given: add --domain=contoso.com (repeatable) or list "
                "domains in the profile's [msoid] table"
                if kind == "msoid"
                else f"the profile {profile.path} has no target for '{kind}'"
            )
            metafunc.parametrize(
                kind,
                [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
                ids=[f"none{at}"],
                indirect=True,
            )


def _skip(target: object) -> str:
    """Why a profile entry is listed but not probed ('' if it is probed)."""
    return getattr(target, "skip", "")


def _runner(config: pytest.Config) -> Runner:
    if RUNNER not in config.stash:
        config.stash[RUNNER] = Runner(config.stash[NETWORK], config.stash[TIMEOUT])
    return config.stash[RUNNER]


def _param(item: pytest.Item) -> tuple[str, Any] | None:
    """The check kind the item is parametrized over, and its target (None: nothing to probe)."""
    params = getattr(item, "callspec", None)
    kind = next((k for k in PROBES if params and k in params.params), None)
    return (kind, params.params[kind]) if kind else None


def _check(item: pytest.Item) -> Check | None:
    param = _param(item)
    return Check(*param) if param and param[1] is not None else None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start every selected check now, so the whole run costs about one probe timeout.

    An xdist worker starts the checks of its own tests only (see netcheck.distribute).
    """
    config = session.config
    if config.option.collectonly:
        return
    items = session.items
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        from netcheck import distribute

        mode = workerinput.get(distribute.MODE, "on_demand")
        if mode == "share":
            items = [items[i] for i in distribute.share(len(items), workerinput)]
        elif mode != "all":
            return
    checks = [c for item in items if (c := _check(item)) and not _skip(c.target)]
    _runner(config).submit(*checks)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if RUNNER in config.stash and (line := config.stash[RUNNER].summary()):
        terminalreporter.write_line(f"netcheck: {line}")


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUNNER in config.stash:
        config.stash[RUNNER].close()


def _result_fixture(request: pytest.FixtureRequest) -> Result:
    check = _check(request.node)
    assert check is not None, f"{request.fixturename} is a netcheck fixture: use it in a test"
    result = _runner(request.config).result(check)
    request.node.stash[RESULT] = result
    if result.outcome is Outcome.SKIP:
        pytest.skip(result.detail)
    if result.outcome is Outcome.WARN:
        warnings.warn(NetcheckWarning(result.explain()), stacklevel=1)
    return result


# One fixture per check kind, all alike: the check's Result for the parametrized target.
for _kind in PROBES:
    globals()[_kind] = pytest.fixture(name=_kind)(_result_fixture)
del _kind


def _record(item: pytest.Item) -> results.Record | None:
    """The item's record, made once its setup ran (the fixture has probed by then)."""
    if RECORD in item.stash:
        return item.stash[RECORD]
    if (param := _param(item)) is None:
        return None
    result = item.stash.get(RESULT, None)
    rec = results.record(item.nodeid, *param, result, sites.site(item.config))
    if result is None and (skip := item.get_closest_marker("skip")):
        rec["detail"] = skip.kwargs.get("reason", rec["detail"])
    if baseline := item.config.stash[BASELINE]:
        baseline.annotate(rec)
    item.stash[RECORD] = rec
    item.user_properties.extend(results.junit_properties(rec))
    return rec


def _tolerated(config: pytest.Config, rec: results.Record) -> str | None:
    """Why this failed check does not fail the run under --fail-on, or None if it does."""
    fail_on = config.option.fail_on
    if fail_on == "any" or rec["outcome"] != Outcome.FAIL:
        return None  # an internal error is netcheck's bug: it always fails the run
    failure = f"{results.describe(rec)}: {rec['detail']}"
    if not rec["required"]:
        return f"optional check failed: {failure}"
    if fail_on == "new-required-failures" and rec["change"] != results.NEW_FAILURE:
        return f"known failure (baseline: {results.describe(rec['baseline'])}): {failure}"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """A failed check reads as its explanation, not as a Python assertion; a failure the
    gate tolerates (optional, or known from the baseline) is reported as xfail."""
    rec = _record(item)
    report: pytest.TestReport = yield
    result = item.stash.get(RESULT, None)
    if result and report.when == "call" and report.failed and not result.passed:
        report.longrepr = result.explain()
        if rec and (reason := _tolerated(item.config, rec)):
            report.outcome, report.wasxfail = "skipped", reason
    if rec:
        report.netcheck = rec  # type: ignore[attr-defined]  # travels to the xdist controller
    return report
