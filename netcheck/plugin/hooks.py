"""The pytest plugin (entry point `netcheck`): parametrization from the profile, probing,
fixtures, and failures that read as explanations.

A test asks for a fixture named after a check kind (`firewall`, `tls`, `crl`, `ncsi_web`,
`ncsi_dns`, `msoid`); it is parametrized over the profile's targets for that kind and
receives the check's Result. The parts of the plugin that only some runs need (recorder,
report, sites, xdist scheduling) are registered in pytest_configure.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from netcheck import results, winproxy
from netcheck.checks import KINDS, MARKERS
from netcheck.engine import Check, Engine
from netcheck.plugin import distribute, gate, recorder, report, settings, sites
from netcheck.plugin.keys import ENGINE, RECORD, RESULT, SETTINGS, SYSTEM_PROXY, NetcheckWarning
from netcheck.result import Outcome, Result


def pytest_addoption(parser: pytest.Parser) -> None:
    settings.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.stash[SETTINGS] = settings.read(config)
    if config.pluginmanager.hasplugin("html"):  # after settings: results.json's default path
        report.configure(config)  # is the HTML report's directory, as the user gave it
        config.pluginmanager.register(report, "netcheck.report")
    config.stash[SYSTEM_PROXY] = {}
    worker = hasattr(config, "workerinput")
    if sites.distributed(config) and not config.option.collectonly:  # each gateway: a site
        plugin = sites.Sites(config)
        plugin.preflight()
        config.pluginmanager.register(plugin, "netcheck.sites")
    if worker and sites.site(config):
        config.workeroutput[sites.SITE] = sites.settings(config)
    if not worker:  # the controller records, reports and warns
        config.pluginmanager.register(recorder.Recorder(config), "netcheck.recorder")
        rows, mismatch = winproxy.environment_rows(winproxy.read_winhttp(), winproxy.read_wininet())
        config.stash[SYSTEM_PROXY] = rows
        if mismatch:
            config.issue_config_time_warning(NetcheckWarning(mismatch), stacklevel=2)
    if getattr(config.option, "dist", "no") != "no":  # the xdist controller
        config.pluginmanager.register(distribute, "netcheck.distribute")


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash[SETTINGS]
    return [
        f"netcheck: {s.profile.name} ({s.profile.path}), timeout {s.timeout:g} s",
        f"netcheck: resolver {s.network.describe_resolver()}; proxy {s.network.describe_proxy()}",
        f"netcheck: address families: {s.family_text}",
        *(f"netcheck: {k}: {v}" for k, v in config.stash[SYSTEM_PROXY].items()),
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    s = metafunc.config.stash[SETTINGS]
    at = f"@{site}" if (site := sites.site(metafunc.config)) else ""
    for kind in KINDS.values():
        if kind.name not in metafunc.fixturenames:
            continue
        if targets := kind.plan(s.profile, s.family):
            params = [
                pytest.param(t, id=f"{t.id}{at}", marks=_skip_marks(getattr(t, "skip", "")))
                for t in targets
            ]
        else:
            params = [
                pytest.param(None, id=f"none{at}", marks=_skip_marks(kind.none_reason(s.profile)))
            ]
        metafunc.parametrize(kind.name, params, indirect=True)


def _skip_marks(reason: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.skip(reason=reason)] if reason else []


def engine(config: pytest.Config) -> Engine:
    if ENGINE not in config.stash:
        s = config.stash[SETTINGS]
        config.stash[ENGINE] = Engine(s.network, s.timeout)
    return config.stash[ENGINE]


def _param(item: pytest.Item) -> tuple[str, Any] | None:
    """The check kind the item is parametrized over, and its target (None: nothing to probe)."""
    params = getattr(item, "callspec", None)
    kind = next((k for k in KINDS if params and k in params.params), None)
    return (kind, params.params[kind]) if kind else None


def _check(item: pytest.Item) -> Check | None:
    param = _param(item)
    return Check(*param) if param and param[1] is not None else None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start every selected check now, so the whole run costs about one probe timeout.

    An xdist worker starts the checks of its own tests only (see netcheck.plugin.distribute).
    """
    config = session.config
    if config.option.collectonly:
        return
    items = session.items
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        mode = workerinput.get(distribute.MODE, "on_demand")
        if mode == "share":
            items = [items[i] for i in distribute.share(len(items), workerinput)]
        elif mode != "all":
            return
    checks = [c for item in items if (c := _check(item)) and not getattr(c.target, "skip", "")]
    engine(config).submit(*checks)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if ENGINE in config.stash and (line := config.stash[ENGINE].summary()):
        terminalreporter.write_line(f"netcheck: {line}")


def pytest_unconfigure(config: pytest.Config) -> None:
    if ENGINE in config.stash:
        config.stash[ENGINE].close()
    if SETTINGS in config.stash:
        config.stash[SETTINGS].network.close()


def _result(request: pytest.FixtureRequest) -> Result:
    """The check's Result for the target the test is parametrized over."""
    check = _check(request.node)
    assert check is not None, f"{request.fixturename} is a netcheck fixture: use it in a test"
    result = engine(request.config).result(check)
    request.node.stash[RESULT] = result
    if result.outcome is Outcome.SKIP:
        pytest.skip(result.detail)
    if result.outcome is Outcome.WARN:
        warnings.warn(NetcheckWarning(result.explain()), stacklevel=1)
    return result


@pytest.fixture
def firewall(request: pytest.FixtureRequest) -> Result:
    return _result(request)


@pytest.fixture
def tls(request: pytest.FixtureRequest) -> Result:
    return _result(request)


@pytest.fixture
def crl(request: pytest.FixtureRequest) -> Result:
    return _result(request)


@pytest.fixture
def ncsi_web(request: pytest.FixtureRequest) -> Result:
    return _result(request)


@pytest.fixture
def ncsi_dns(request: pytest.FixtureRequest) -> Result:
    return _result(request)


@pytest.fixture
def msoid(request: pytest.FixtureRequest) -> Result:
    return _result(request)


@pytest.fixture
def host(request: pytest.FixtureRequest) -> Result:
    return _result(request)


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
    if baseline := item.config.stash[SETTINGS].baseline:
        baseline.annotate(rec)
    item.stash[RECORD] = rec
    item.user_properties.extend(results.junit_properties(rec))
    return rec


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """A failed check reads as its explanation, not as a Python assertion (pytest never
    formats its traceback); a failure the gate tolerates (optional, or known from the
    baseline) is reported as xfail."""
    rec = _record(item)
    result = item.stash.get(RESULT, None)
    failed = result is not None and not result.passed and call.excinfo is not None
    if failed and call.when == "call" and call.excinfo.errisinstance(AssertionError):
        try:
            pytest.fail(result.explain(), pytrace=False)
        except pytest.fail.Exception:
            call.excinfo = pytest.ExceptionInfo.from_current()
    report: pytest.TestReport = yield
    fail_on = item.config.stash[SETTINGS].fail_on
    if failed and report.when == "call" and report.failed and rec:  # noqa: SIM102
        if reason := gate.tolerated(fail_on, rec):
            report.outcome, report.wasxfail = "skipped", reason
    if rec:
        report.netcheck = rec  # type: ignore[attr-defined]  # travels to the xdist controller
    return report
