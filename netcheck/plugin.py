"""The pytest plugin: options, parametrization from the profile, probing, results.

A test asks for a fixture named after a check kind (`firewall`, `tls`, `crl`, `ncsi_web`,
`ncsi_dns`, `msoid`); it is parametrized over the profile's targets for that kind and
receives the check's Result.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from netcheck import profile as profiles
from netcheck.net import Nameserver, Network, Proxy
from netcheck.probes import PROBES
from netcheck.result import Outcome, Result
from netcheck.runner import Check, Runner

PROFILE = pytest.StashKey[profiles.Profile]()
NETWORK = pytest.StashKey[Network]()
TIMEOUT = pytest.StashKey[float]()
RUNNER = pytest.StashKey[Runner]()
RESULT = pytest.StashKey[Result]()

MARKERS = {
    "firewall": "the URL is reachable through firewall and proxy (DNS, TCP, TLS, HTTP)",
    "tls": "TLS 1.2 can be negotiated with the HTTPS endpoint",
    "crl": "the certificate revocation list downloads and is current",
    "ncsi": "Windows' network connectivity probes (web and DNS) answer as expected",
    "dns": "DNS records of custom domains (MSOID CNAME)",
}
DEFAULT_TIMEOUT = 5.0


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
    try:
        domains = tuple(profiles.hostname(d) for d in opt.domain)
    except ValueError as exc:
        raise pytest.UsageError(f"--domain: {exc}") from None
    path = Path(opt.endpoints) if opt.endpoints else config.rootpath / "endpoints.toml"
    try:
        profile = profiles.load(path, domains=domains, tenant=opt.tenant)
    except profiles.ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    return profile, network, timeout


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.stash[PROFILE], config.stash[NETWORK], config.stash[TIMEOUT] = _settings(config)
    if config.pluginmanager.hasplugin("html"):
        from netcheck import report

        report.configure(config)
        config.pluginmanager.register(report, "netcheck.report")


def pytest_report_header(config: pytest.Config) -> list[str]:
    profile, network = config.stash[PROFILE], config.stash[NETWORK]
    return [
        f"netcheck: {profile.name} ({profile.path}), timeout {config.stash[TIMEOUT]:g} s",
        f"netcheck: resolver {network.describe_resolver()}; proxy {network.describe_proxy()}",
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    profile = metafunc.config.stash[PROFILE]
    for kind in PROBES:
        if kind not in metafunc.fixturenames:
            continue
        targets = profile.targets(kind)
        if targets:
            metafunc.parametrize(kind, targets, ids=[t.id for t in targets], indirect=True)
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
                ids=["none"],
                indirect=True,
            )


def _runner(config: pytest.Config) -> Runner:
    if RUNNER not in config.stash:
        config.stash[RUNNER] = Runner(config.stash[NETWORK], config.stash[TIMEOUT])
    return config.stash[RUNNER]


def _check(item: pytest.Item) -> Check | None:
    params = getattr(item, "callspec", None)
    for kind in PROBES:
        if params and kind in params.params and params.params[kind] is not None:
            return Check(kind, params.params[kind])
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start every selected check now, so the whole run costs about one probe timeout."""
    config = session.config
    if config.option.collectonly or os.environ.get("PYTEST_XDIST_WORKER"):
        return  # xdist workers probe as tests arrive: they do not know their share in advance
    for item in session.items:
        if check := _check(item):
            _runner(config).submit(check)


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUNNER in config.stash:
        config.stash[RUNNER].close()


def _result_fixture(request: pytest.FixtureRequest) -> Result:
    check = _check(request.node)
    assert check is not None, f"{request.fixturename} is a netcheck fixture: use it in a test"
    result = _runner(request.config).result(check)
    request.node.stash[RESULT] = result
    target = check.target
    request.node.user_properties.extend(
        [
            ("check", check.kind),
            ("endpoint", target.id),
            ("required", str(target.required)),
            ("outcome", result.outcome.value),
            ("layer", result.layer or ""),
            ("cause", result.cause or ""),
            ("probe_time", f"{result.elapsed:.3f}"),
            ("address", result.evidence.get("address", "")),
            ("proxy", result.evidence.get("proxy", "")),
        ]
    )
    if result.outcome is Outcome.SKIP:
        pytest.skip(result.detail)
    return result


# One fixture per check kind, all alike: the check's Result for the parametrized target.
for _kind in PROBES:
    globals()[_kind] = pytest.fixture(name=_kind)(_result_fixture)
del _kind


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """A failed check reads as its explanation, not as a Python assertion."""
    report: pytest.TestReport = yield
    result = item.stash.get(RESULT, None)
    if result and report.when == "call" and report.failed and not result.passed:
        report.longrepr = result.explain()
    return report
