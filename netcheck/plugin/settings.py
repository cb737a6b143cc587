"""netcheck's options and the settings a run uses, read once when pytest configures.

Every option has an ini twin (`netcheck_<name>` in pytest.ini) and most an environment
twin (`NETCHECK_<NAME>`); the command line beats the environment, which beats the ini file.
A bad value is a UsageError naming where it came from.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import pytest

from netcheck import baseline as baselines
from netcheck import profile as profiles
from netcheck.failures import Failure, Skip
from netcheck.net import HttpAnswer, Nameserver, Network, has_route
from netcheck.net import proxy as proxies
from netcheck.net.pac import Pac, PacError
from netcheck.net.resolve import Resolver
from netcheck.net.tls import Trust
from netcheck.plugin.sites import check_name
from netcheck.result import Deadline, Trace
from netcheck.textfile import InputError, decode, read_text
from netcheck.url import Url, hostname, is_ip, redact

T = TypeVar("T")
DEFAULT_TIMEOUT = 5.0
FAIL_ON = ("required", "any", "new-required-failures")
PAC_LIMIT = 1 << 20
PAC_REDIRECTS = 5
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
# A global address beyond any link (2000::/3, nothing on-link): only the routing table is
# consulted, no packet is sent. A machine with IPv6 on its links only has no route to it.
GLOBAL_V6_PROBE = "2000::1"
FAMILY_TEXT = {
    "both": "IPv4 and IPv6, each on its own",
    "ipv4": "IPv4 only (--family=ipv4)",
    "ipv6": "IPv6 only (--family=ipv6)",
    None: "IPv4 (no IPv6 route on this machine)",
}


@dataclass(frozen=True)
class Option:
    name: str  # --name on the command line
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    repeat: bool = False  # repeatable; its ini twin is a list of lines, it has no env twin

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def ini(self) -> str:
        return f"netcheck_{self.dest}"

    @property
    def env(self) -> str | None:
        return None if self.repeat else f"NETCHECK_{self.dest.upper()}"


OPTIONS = (
    Option("endpoints", "profile to check (default: endpoints.toml beside pytest.ini)", "PATH"),
    Option(
        "probe-timeout",
        f"total deadline of one check, DNS included (default {DEFAULT_TIMEOUT:g})",
        "SECONDS",
    ),
    Option("nameserver", "resolve every name with this DNS server only", "IP[:PORT]", repeat=True),
    Option(
        "proxy",
        "the proxy: http://[user:pass@]host:port, or where to read it: winhttp (Windows' "
        "setting, what Office activation uses; the default on Windows), system (Internet "
        "Options on Windows; System Settings on macOS, the default there), env "
        "(HTTPS_PROXY/HTTP_PROXY/NO_PROXY; the default elsewhere), or none",
        "URL|SOURCE",
    ),
    Option("ca-bundle", "extra trusted CA certificates (PEM), e.g. a TLS-inspection CA", "PATH"),
    Option(
        "family",
        "ipv4 or ipv6: test over this family only; both: the firewall check of each "
        "dual-stack host once per family (default: both where this machine routes IPv6, "
        "else as the addresses come, IPv4 first)",
        choices=profiles.RUN_FAMILIES,
    ),
    Option(
        "tls-interception",
        "whether TLS interception fails a check or only warns (default: the profile's)",
        choices=profiles.INTERCEPTION,
    ),
    Option(
        "expected-root",
        "a root CA the HTTPS endpoints may chain to: RFC 4514 subject, sha256//<base64> SPKI "
        "pin or 'public' (adds to the profile's expected_roots)",
        "NAME|PIN",
        repeat=True,
    ),
    Option("pac", "pick the proxy per URL with this proxy auto-config (PAC) file", "URL|FILE"),
    Option(
        "block-page",
        "an address a DNS filter answers for blocked names (besides 0.0.0.0, 127.0.0.0/8, "
        ":: and ::1): such answers fail at the dns layer as blocked",
        "IP",
        repeat=True,
    ),
    Option("domain", "custom domain whose MSOID record is checked", "NAME", repeat=True),
    Option(
        "tenant",
        "who operates the tenant (default: the profile's, else worldwide)",
        choices=profiles.TENANTS,
    ),
    Option(
        "results",
        "JSON results file (default: results.json next to the HTML report); 'none': off",
        "PATH",
    ),
    Option(
        "metrics",
        "Prometheus metrics of the run, replaced after each run: a *.prom file in "
        "node_exporter's textfile directory (the directory must exist)",
        "PATH",
    ),
    Option(
        "baseline",
        "an earlier results file: report what newly fails, newly passes, changed cause",
        "PATH",
    ),
    Option(
        "fail-on",
        "what fails the run: a failing required check (default), any failing check, or only "
        "a required check that passed in the --baseline",
        choices=FAIL_ON,
    ),
    Option(
        "site",
        "where this run probes from (test ids end in @NAME); with --dist each, each --tx "
        "gateway's id names its site",
        "NAME",
    ),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("netcheck", "netcheck network reachability")
    for opt in OPTIONS:
        twins = f" [ini: {opt.ini}" + (f", env: {opt.env}]" if opt.env else "]")
        group.addoption(
            f"--{opt.name}",
            dest=opt.dest,
            action="append" if opt.repeat else "store",
            default=[] if opt.repeat else None,
            metavar="|".join(opt.choices) if opt.choices else opt.metavar,
            help=opt.help + (" (repeatable)" if opt.repeat else "") + twins,
        )
        parser.addini(opt.ini, opt.help, type="linelist" if opt.repeat else "string")


def value(config: pytest.Config, name: str) -> tuple[Any, str]:
    """An option's value and where it came from: command line, environment or ini file."""
    opt = next(o for o in OPTIONS if o.name == name)
    given = config.getoption(opt.dest)
    if given not in (None, []):
        found: Any = given
        source = f"--{opt.name}"
    elif opt.env and (env := os.environ.get(opt.env)):
        found, source = env, opt.env
    else:
        found, source = config.getini(opt.ini), f"ini {opt.ini}"
    # Choices are checked here, not by argparse: one line, wherever the value came from.
    if opt.choices and found and found not in opt.choices:
        raise pytest.UsageError(f"{source}: {found!r} is not one of {', '.join(opt.choices)}")
    return found or ([] if opt.repeat else None), source


def _parsed(config: pytest.Config, name: str, parse: Callable[[Any], T]) -> T:
    raw, source = value(config, name)
    try:
        return parse(raw)
    except ValueError as exc:  # messages never repeat a --proxy value: it may hold a password
        raise pytest.UsageError(f"{source}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, from options, environment and ini file."""

    profile: profiles.Profile
    network: Network
    timeout: float
    family: str | None  # a profiles.RUN_FAMILIES value, or None (no IPv6 route: as they come)
    fail_on: str
    baseline: baselines.Baseline | None
    site: str | None  # --site (an xdist gateway's id overrides it on that worker)
    results: Path | None  # the JSON results file, None: off
    metrics: Path | None  # the Prometheus metrics file, None: off

    @property
    def family_text(self) -> str:
        return FAMILY_TEXT[self.family]


def read(config: pytest.Config) -> Settings:
    """The run's settings; any problem is a one-line UsageError."""
    timeout = _parsed(config, "probe-timeout", _timeout)
    nameservers = _parsed(config, "nameserver", lambda v: tuple(map(Nameserver.parse, v)))
    block_pages = _parsed(config, "block-page", lambda v: tuple(map(_address, v)))
    resolver = Resolver(nameservers, block_pages)
    bundles = _ca_bundles(config)
    proxy_choice, proxy_source = value(config, "proxy")
    pac_source, source = value(config, "pac")
    if pac_source and proxy_choice:
        raise pytest.UsageError("--pac and --proxy exclude each other: give one")
    proxy = _parsed(
        config,
        "proxy",
        lambda v: proxies.source(v if not pac_source else "none", named=proxy_source),
    )
    network = Network(resolver, proxy, Trust(bundles))
    if pac_source := pac_source or proxy.pac_url:
        try:
            network.pac = Pac(pac_source, _pac_script(pac_source, network, timeout))
            network.pac.validate(timeout)
        except PacError as exc:
            raise pytest.UsageError(f"{source}: {exc}") from None
    domains = _parsed(config, "domain", lambda v: tuple(map(hostname, v)))
    roots = _parsed(config, "expected-root", lambda v: tuple(map(profiles.trust_anchor, v)))
    endpoints, _ = value(config, "endpoints")
    suite = config.inipath.parent if config.inipath else config.rootpath  # the suite
    try:
        profile = profiles.load(
            Path(endpoints) if endpoints else suite / "endpoints.toml",
            domains=domains,
            tenant=value(config, "tenant")[0],
            interception=value(config, "tls-interception")[0],
            expected_roots=roots,
        )
    except profiles.ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    fail_on = value(config, "fail-on")[0] or "required"
    site, source = value(config, "site")
    return Settings(
        profile=profile,
        network=network,
        timeout=timeout,
        # A route lookup only (no packet): does this machine have IPv6 beyond its own links?
        family=value(config, "family")[0] or ("both" if has_route(GLOBAL_V6_PROBE) else None),
        fail_on=fail_on,
        baseline=_baseline(config, fail_on),
        site=check_name(site, source) if site else None,
        results=_results_path(config),
        metrics=_parsed(config, "metrics", _metrics_path),
    )


def _timeout(raw: str | None) -> float:
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        timeout = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if not 0 < timeout <= 600:
        raise ValueError(f"must be between 0 and 600 s, not {timeout:g}")
    return timeout


def _metrics_path(raw: str | None) -> Path | None:
    if not raw or raw.lower() == "none":
        return None
    path = Path(raw)
    if not path.parent.is_dir():
        raise ValueError(f"{path.parent}: no such directory")
    return path


def _address(raw: str) -> str:
    if not is_ip(raw.strip()):
        raise ValueError(f"{raw!r} is not an IP address")
    return raw.strip()


def _ca_bundles(config: pytest.Config) -> tuple[Path, ...]:
    """--ca-bundle and REQUESTS_CA_BUNDLE: extra trust anchors. Every CA file the run is
    told to trust is checked first (SSL_CERT_FILE too, which OpenSSL reads itself)."""
    option = value(config, "ca-bundle")[0]
    named = [("--ca-bundle", Path(option))] if option else []
    named += [(var, Path(env)) for var in CA_VARIABLES if (env := os.environ.get(var))]
    for source, path in named:
        _check_ca_file(source, path)
    return tuple(dict.fromkeys(path for source, path in named if source != "SSL_CERT_FILE"))


def _check_ca_file(source: str, path: Path) -> None:
    """A usage error, naming where it was given, unless `path` is a PEM file of CA certificates:
    a missing bundle would otherwise be ignored and every HTTPS check fail as untrusted."""
    if path.is_dir():
        raise pytest.UsageError(f"{source}: {path}: is a directory, not a PEM file")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except FileNotFoundError:
        raise pytest.UsageError(f"{source}: {path}: no such file") from None
    except (OSError, ssl.SSLError) as exc:
        raise pytest.UsageError(f"{source}: {path}: not a PEM CA certificate ({exc})") from None


def _pac_script(source: str, network: Network, timeout: float) -> str:
    """The PAC file's text, from a file or fetched directly (no proxy), as Windows does."""
    if not source.startswith(("http://", "https://")):
        try:
            return read_text(Path(source), limit=PAC_LIMIT)
        except InputError as exc:
            raise PacError(str(exc)) from None
    direct, deadline = Network(network.resolver, trust=network.trust), Deadline(timeout)

    async def fetch(url: Url) -> HttpAnswer:  # following redirects, as WinHTTP does
        for _ in range(PAC_REDIRECTS):
            answer = await direct.get(url, Trace(deadline), max_bytes=PAC_LIMIT)
            if not (300 <= answer.status < 400 and "location" in answer.headers):
                return answer
            url = Url.parse(urljoin(str(url), answer.headers["location"]))
        raise ValueError(f"more than {PAC_REDIRECTS} redirects")

    try:
        answer = asyncio.run(asyncio.wait_for(fetch(Url.parse(source)), timeout))
    except (Failure, Skip, ValueError, TimeoutError) as exc:
        why = str(exc) or f"no answer within {timeout:g} s"
        raise PacError(f"{redact(source)}: cannot download: {why}") from None
    if answer.status != 200:
        raise PacError(f"{redact(source)}: HTTP {answer.status} {answer.reason}")
    try:
        return decode(answer.body, where=redact(source))
    except InputError as exc:
        raise PacError(str(exc)) from None


def _baseline(config: pytest.Config, fail_on: str) -> baselines.Baseline | None:
    path, source = value(config, "baseline")
    if fail_on == "new-required-failures" and not path:
        raise pytest.UsageError("--fail-on=new-required-failures needs --baseline=PATH")
    if not path:
        return None
    try:
        return baselines.load(Path(path))
    except baselines.BaselineError as exc:
        raise pytest.UsageError(f"{source}: {exc}") from None


def _results_path(config: pytest.Config) -> Path | None:
    """--results, else results.json next to the HTML report, else reports/ under the rootdir."""
    chosen, _ = value(config, "results")
    if chosen:
        return None if chosen.lower() == "none" else Path(chosen)
    html = getattr(config.option, "htmlpath", None)
    return (Path(html).parent if html else config.rootpath / "reports") / "results.json"
