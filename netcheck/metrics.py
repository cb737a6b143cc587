"""A run as Prometheus metrics, for node_exporter's textfile collector or a Pushgateway.

`render(head, records)` turns a run (the results file's top level and its records, see
docs/results-schema.md) into the text exposition format; `write(path, text)` replaces the
metrics file atomically. The metrics follow blackbox_exporter's (`probe_success`, per-phase
durations, HTTP status, TLS version, certificate expiry) under `netcheck_`, and add what it
cannot tell: the layer and cause of a failure. Every per-check series carries the labels
CHECK_LABELS; free text (details, evidence, addresses) never becomes a label.

A skipped check has `netcheck_probe_skipped 1` and no other sample: it was not probed, so
it neither succeeded nor failed. No sample carries a timestamp: the textfile collector
refuses them, and the scrape time is the right one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from netcheck.output import write_atomically
from netcheck.result import Outcome
from netcheck.results import FAILING, Record, key

CHECK_LABELS = ("profile", "site", "check", "endpoint", "target", "required", "category")
RUN_LABELS = ("profile", "site")
OUTCOMES = tuple(o.value for o in Outcome)
INTERNAL_ERROR = "internal_error"  # the cause label of an `error` outcome (a netcheck bug)


class MetricsError(Exception):
    """A metrics file that cannot be written; one line."""


def render(head: Mapping[str, Any], records: Iterable[Record]) -> str:
    """The run in the Prometheus text exposition format (0.0.4).

    `head` is the results file's top level (`created`, `duration`, `exit_status`, `site`,
    `sites`, `profile`; other keys are ignored), `records` its `results`.
    """
    return generate_latest(_Run(head, list(records))).decode("utf-8")


def write(path: Path, text: str) -> None:
    """Replace the metrics file atomically (node_exporter's textfile collector reads `*.prom`
    files only, so it skips the temporary one). The directory must exist."""
    try:
        write_atomically(Path(path), text, make_dir=False)
    except OSError as exc:
        raise MetricsError(f"{path}: cannot write the metrics file: {exc.strerror or exc}") from exc


def _label(value: Any) -> str:
    """A label value: None is the empty value (no label), booleans as PromQL reads them, and
    what UTF-8 cannot carry replaced (lone surrogates: undecodable bytes of a command-line
    argument, or a results file's \\udcff escapes)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _timestamp(text: str | None) -> float | None:
    """Unix time of an ISO 8601 date (UTC when it names no zone); None if it is not one."""
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _http_status(text: str | None) -> int | None:
    """200 from `200 OK`."""
    code = (text or "").partition(" ")[0]
    return int(code) if code.isdigit() else None


@dataclass
class _Run:
    """A prometheus_client collector over one run; generate_latest formats what it yields."""

    head: Mapping[str, Any]
    records: list[Record]

    def collect(self) -> Iterator[Metric]:
        families = [*self._run_families(), *self._check_families()]
        return (f for f in families if f.samples)  # a family with no sample says nothing

    @property
    def profile(self) -> str:
        return _label((self.head.get("profile") or {}).get("name"))

    def _run_families(self) -> list[Metric]:
        profile = self.profile
        run = [profile, _label(self.head.get("site"))]
        start = GaugeMetricFamily(
            "netcheck_run_start_timestamp_seconds",
            "When the last netcheck run started (Unix time).",
            labels=RUN_LABELS,
        )
        if (started := _timestamp(self.head.get("created"))) is not None:
            start.add_metric(run, started)
        duration = GaugeMetricFamily(
            "netcheck_run_duration_seconds",
            "How long the last netcheck run took.",
            labels=RUN_LABELS,
        )
        if self.head.get("duration") is not None:
            duration.add_metric(run, float(self.head["duration"]))
        status = GaugeMetricFamily(
            "netcheck_run_exit_status",
            "pytest's exit status of the last run: 0 nothing failed the run, 1 something "
            "did (what counts is --fail-on), 2 interrupted, 3 internal error, 4 usage error.",
            labels=RUN_LABELS,
        )
        if self.head.get("exit_status") is not None:
            status.add_metric(run, int(self.head["exit_status"]))

        # The run's sites: those of --dist each (in --tx order), else the run's own; then
        # any other a record names.
        sites = self.head.get("sites") or []
        names = [s["name"] for s in sites] or [self.head.get("site")]
        names += [r["site"] for r in self.records if r["site"] not in names]
        counts = Counter((r["site"], r["outcome"]) for r in self.records)
        checks = GaugeMetricFamily(
            "netcheck_run_checks",
            "Checks of the last run, by site and outcome (pass, warn, fail, skip, error).",
            labels=(*RUN_LABELS, "outcome"),
        )
        for name in dict.fromkeys(names):
            for outcome in OUTCOMES:
                checks.add_metric([profile, _label(name), outcome], counts[name, outcome])
        up = GaugeMetricFamily(
            "netcheck_site_up",
            "Runs from several sites (--dist each): 1 if the site ran its checks, 0 if it "
            "could not start netcheck or its worker crashed (its results are missing).",
            labels=RUN_LABELS,
        )
        for one in sites:
            up.add_metric([profile, _label(one["name"])], 0 if one.get("error") else 1)
        return [start, duration, status, checks, up]

    def _check_families(self) -> list[Metric]:
        def gauge(name: str, documentation: str, *extra: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, documentation, labels=(*CHECK_LABELS, *extra))

        success = gauge(
            "netcheck_probe_success",
            "1 if the check passed (outcome pass or warn), 0 if it failed (fail or error); "
            "no sample for a skipped check.",
        )
        skipped = gauge(
            "netcheck_probe_skipped",
            "1 for a check that was skipped (not probed: no probe host, no domain, ...).",
        )
        failure = gauge(
            "netcheck_probe_failure",
            "1 for a failed check, with the layer and cause of its failure (cause "
            f"{INTERNAL_ERROR} and no layer: a netcheck bug, not the network).",
            "layer",
            "cause",
        )
        warning = gauge(
            "netcheck_probe_warning",
            "1 for a check that passed with a finding the profile only warns about "
            "(e.g. TLS inspection), with its layer and cause.",
            "layer",
            "cause",
        )
        duration = gauge(
            "netcheck_probe_duration_seconds", "How long the check took, DNS included."
        )
        phases = gauge(
            "netcheck_probe_phase_duration_seconds",
            "How long each phase of the check took (resolve, connect, proxy, tls, http, ...; "
            "only the phases that ran, the failing one included).",
            "phase",
        )
        http_status = gauge(
            "netcheck_probe_http_status_code",
            "HTTP status of the answer (any status from the origin passes a firewall check).",
        )
        tls_version = InfoMetricFamily(
            "netcheck_probe_tls_version",
            "TLS version negotiated with the endpoint.",
            labels=CHECK_LABELS,
        )
        cert_expiry = gauge(
            "netcheck_probe_certificate_expiry_timestamp_seconds",
            "When the certificate the endpoint presented expires (its notAfter, Unix time).",
        )
        crl_next_update = gauge(
            "netcheck_probe_crl_next_update_timestamp_seconds",
            "When the downloaded CRL is due to be replaced (its nextUpdate, Unix time).",
        )

        seen = set()
        for rec in self.records:
            if key(rec) in seen:  # one series per check, even from a results file that repeats one
                continue
            seen.add(key(rec))
            labels = [self.profile, *(_label(rec[n]) for n in CHECK_LABELS[1:])]
            outcome = rec["outcome"]
            if outcome == Outcome.SKIP:
                skipped.add_metric(labels, 1)
                continue
            success.add_metric(labels, 0 if outcome in FAILING else 1)
            if outcome == Outcome.ERROR:
                failure.add_metric([*labels, "", INTERNAL_ERROR], 1)
            elif outcome in (Outcome.FAIL, Outcome.WARN):
                which = failure if outcome == Outcome.FAIL else warning
                which.add_metric([*labels, _label(rec["layer"]), _label(rec["cause"])], 1)
            if rec["probe_time"] is not None:
                duration.add_metric(labels, float(rec["probe_time"]))
            for phase, seconds in rec["phases"].items():
                phases.add_metric([*labels, _label(phase)], float(seconds))
            evidence = rec["evidence"]
            if (status := _http_status(evidence.get("http_status"))) is not None:
                http_status.add_metric(labels, status)
            if version := evidence.get("tls_version"):
                tls_version.add_metric(labels, {"version": _label(version)})
            if (expiry := _timestamp(evidence.get("certificate_not_after"))) is not None:
                cert_expiry.add_metric(labels, expiry)
            if (next_update := _timestamp(evidence.get("crl_next_update"))) is not None:
                crl_next_update.add_metric(labels, next_update)
        return [
            success,
            skipped,
            failure,
            warning,
            duration,
            phases,
            http_status,
            tls_version,
            cert_expiry,
            crl_next_update,
        ]
