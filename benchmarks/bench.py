"""netcheck against `curl --parallel` over the same URLs, at 20 to 5000 endpoints and on the
Microsoft 365 list, against real servers in the lab's network namespaces.

Run by ./benchmarks/run, itself in an empty network namespace. The lab (lab/bench.py) puts
nginx, dnsmasq and unbound in their own processes and namespaces and drops every tenth
host's SYNs at the edge's nftables; netcheck and curl run in the corporate namespace and
resolve every name with the system resolver (/etc/netns/<ns>/resolv.conf: unbound, the
corporate resolver, caching what dnsmasq answers; its cache is filled first).

Fair comparison: curl makes one DNS → TCP → TLS → GET per URL, and so does netcheck's
firewall check, so the sized profiles pin `checks = ["firewall"]`. The Microsoft 365 list
runs as `import-m365` converts it (firewall, plus tls for https URLs: two handshakes where
curl makes one). curl's connect and total timeouts are netcheck's --probe-timeout T.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import browser, measure  # noqa: E402
from lab.bench import WILDCARD, BenchLab  # noqa: E402
from lab.suite import KEEP_ENV  # noqa: E402
from netcheck import profile as profiles  # noqa: E402

M365 = REPO / "tests" / "data" / "m365-endpoints-worldwide-sample.json"
CURL_PARALLEL = 300  # the reference: curl --parallel --parallel-max 300
FAILING = ("fail", "error")
TRANSFER = re.compile(r"^(https?://\S+) (\d{3}) (\d+)$", re.MULTILINE)
# The lab's own trouble, which would make a verdict the lab's fault: datagrams or
# connections the kernel dropped in one of the lab's namespaces.
DROP_COUNTERS = (
    ("Udp", "RcvbufErrors"),
    ("Udp", "InErrors"),
    ("TcpExt", "ListenOverflows"),
    ("TcpExt", "ListenDrops"),
)


def synthetic_host(i: int) -> str:
    return f"h{i:05d}.{WILDCARD}"


@dataclass
class Target:
    """One size of the benchmark: a profile, its URLs, and which hosts are black-holed."""

    name: str  # "500", "m365"
    profile: Path
    urls: list[str]
    holes: dict[str, bool]  # host -> black-holed


@dataclass
class Run:
    target: str
    tool: str
    rep: int
    wall: float
    cpu: float
    peak_mb: float
    load: tuple[float, float]
    checks: int  # verdicts read (netcheck: checks probed; curl: transfers)
    false_failures: int  # a healthy host's check failed
    holes_passed: int  # a black-holed host's check passed
    holes_unjudged: int  # a black-holed host's check ended without a verdict (error)
    causes: dict[str, int] = field(default_factory=dict)  # failing checks per layer/cause
    span: float | None = None  # netcheck: first probe start to last probe end
    lab_drops: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict, repr=False)
    returncode: int = 0

    @property
    def outside(self) -> float | None:
        return self.wall - self.span if self.span is not None else None


# --- the profiles ---


def sized(n: int, work: Path) -> Target:
    hosts = [synthetic_host(i) for i in range(n)]
    urls = [f"https://{h}/" for h in hosts]
    body = "".join(f'[[endpoint]]\nurl = "{u}"\nchecks = ["firewall"]\n' for u in urls)
    path = work / f"profile-{n}.toml"
    path.write_text(f'[profile]\nname = "bench {n}"\n{body}')
    return Target(str(n), path, urls, {h: i % 10 == 9 for i, h in enumerate(hosts)})


def m365(source: Path, work: Path) -> Target:
    """The list as import-m365 converts it, each wildcard probed at the host its `*` names
    when replaced by `probe` (*.office.com at probe.office.com); every tenth host (sorted)
    black-holed."""
    sets = json.loads(source.read_text(encoding="utf-8"))
    wildcards = sorted({u for s in sets for u in s.get("urls", []) if "*" in u})
    out = work / "profile-m365.toml"
    cmd = [sys.executable, "-m", "netcheck", "import-m365", str(source), "-o", str(out)]
    for pattern in wildcards:
        cmd += ["--probe-host", f"{pattern}={pattern.replace('*', 'probe')}"]
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    endpoints = [e for e in profiles.load(out).endpoints if not e.skip]
    hosts = sorted({e.host for e in endpoints})
    holes = {h: i % 10 == 9 for i, h in enumerate(hosts)}
    return Target("m365", out, [e.url for e in endpoints], holes)


# --- running the tools ---


class Bench:
    def __init__(self, lab: BenchLab, opts: argparse.Namespace, work: Path) -> None:
        self.lab, self.opts, self.work = lab, opts, work
        self.env = {k: v for k, v in os.environ.items() if k in KEEP_ENV}
        if opts.pythonpath:
            self.env["PYTHONPATH"] = str(opts.pythonpath.resolve())

    def in_corp(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.lab.corp, *argv]

    def counters(self) -> Counter[str]:
        """The kernel's drop counters in each of the lab's namespaces."""
        total: Counter[str] = Counter()
        for ns in self.lab.namespaces:
            role = ns.rsplit("-", 1)[1]
            text = subprocess.run(
                ["ip", "netns", "exec", ns, "cat", "/proc/net/snmp", "/proc/net/netstat"],
                capture_output=True,
                text=True,
            ).stdout.splitlines()
            for names, values in zip(text[::2], text[1::2], strict=False):
                group, _, keys = names.partition(":")
                row = dict(zip(keys.split(), values.split(":")[1].split(), strict=False))
                for g, key in DROP_COUNTERS:
                    if g == group and key in row:
                        total[f"{role} {g}.{key}"] += int(row[key])
        return total

    @contextmanager
    def watched(self) -> Iterator[dict[str, int]]:
        drops: dict[str, int] = {}
        before = self.counters()
        yield drops
        after = self.counters()
        drops.update({k: after[k] - before[k] for k in after if after[k] > before[k]})

    def pytest(self, target: Target, html: Path, *extra: str) -> list[str]:
        """netcheck's command line, as a user types it (results.json lands beside `html`)."""
        return [
            sys.executable,
            "-m",
            "pytest",
            f"--endpoints={target.profile}",
            f"--ca-bundle={self.lab.ca_bundle}",
            f"--probe-timeout={self.opts.timeout:g}",
            f"--html={html}",
            "-p",
            "no:hypothesispytest",  # a dev dependency's plugin: not in a user's install
            *self.opts.pytest_args,
            *extra,
        ]

    def netcheck(self, target: Target, rep: int, *extra: str) -> Run:
        tool = " ".join(["netcheck", *extra])
        tag = f"{target.name}-{tool.replace(' ', '')}-{rep}"
        html = self.work / f"report-{tag}.html"
        argv = self.in_corp(*self.pytest(target, html, *extra))
        log = self.work / f"{tag}.log"
        with self.watched() as drops:
            m = measure.run(argv, log, cwd=REPO, env=self.env)
        output = log.read_text(errors="replace")
        results = json.loads(html.with_name("results.json").read_text())["results"]
        verdicts = {r["id"]: r["outcome"] for r in results if r["outcome"] != "skip"}
        wrong, holes_passed, unjudged, causes = 0, 0, 0, Counter()
        for r in results:
            if r["outcome"] == "skip":
                continue
            hole = target.holes[urlsplit(r["target"]).hostname or ""]
            failed = r["outcome"] in FAILING
            wrong += failed and not hole
            holes_passed += hole and not failed
            unjudged += hole and r["outcome"] == "error"
            if failed:
                causes[f"{'hole' if hole else 'HEALTHY'} {r['layer']}/{r['cause']}"] += 1
        probed = re.search(r"netcheck: (\d+) checks probed in ([\d.]+) s", output)
        return Run(
            target.name,
            tool,
            rep,
            m.wall,
            m.cpu,
            m.peak_mb,
            m.load,
            len(verdicts),
            wrong,
            holes_passed,
            unjudged,
            dict(causes),
            float(probed.group(2)) if probed else None,
            drops,
            verdicts,
            m.returncode,
        )

    def curl(self, target: Target, rep: int) -> Run:
        config = self.work / f"curl-{target.name}.cfg"
        config.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in target.urls))
        t = f"{self.opts.timeout:g}"
        argv = self.in_corp(
            "curl",
            "--parallel",
            "--parallel-max",
            str(CURL_PARALLEL),
            "--silent",
            "--connect-timeout",
            t,
            "--max-time",
            t,
            "--cacert",
            str(self.lab.ca_bundle),
            "--write-out",
            "%{url_effective} %{http_code} %{exitcode}\\n",
            "--stderr",  # its parallel progress meter, which --silent leaves on
            str(self.work / f"{target.name}-curl-{rep}.err"),
            "--config",
            str(config),
        )
        log = self.work / f"{target.name}-curl-{rep}.log"
        with self.watched() as drops:
            m = measure.run(argv, log, env=self.env)
        wrong, holes_passed, causes, seen = 0, 0, Counter(), 0
        for url, code, exit_code in TRANSFER.findall(log.read_text(errors="replace")):
            seen += 1
            hole = target.holes[urlsplit(url).hostname or ""]
            failed = code == "000"
            wrong += failed and not hole
            holes_passed += hole and not failed
            if failed:
                causes[f"{'hole' if hole else 'HEALTHY'} curl exit {exit_code}"] += 1
        return Run(
            target.name,
            "curl",
            rep,
            m.wall,
            m.cpu,
            m.peak_mb,
            m.load,
            seen,
            wrong,
            holes_passed,
            0,
            dict(causes),
            lab_drops=drops,
            returncode=m.returncode,
        )


# --- the table ---


@dataclass
class Row:
    target: str
    tool: str
    runs: list[Run]
    curl: list[Run]
    opened: browser.Opened | None = None
    report_mb: float = 0.0
    differ: list[int] = field(default_factory=list)  # -n 2: verdicts unlike the plain run's

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    def cells(self) -> list[str]:
        runs = self.runs
        outside = [o for r in runs if (o := r.outside) is not None]
        loads = [x for r in runs for x in r.load]
        ratio = self.wall / statistics.median(r.wall for r in self.curl) if self.curl else None
        opened = ""
        if self.opened:
            opened = f"{self.opened.seconds:.2f} ({self.report_mb:.0f} MB, {self.opened.rows} rows)"
        same = ""
        if self.differ:
            same = "same" if not any(self.differ) else f"{max(self.differ)} differ"
        return [
            self.target,
            self.tool,
            str(len(runs)),
            f"{self.wall:.2f}",
            " ".join(f"{r.wall:.1f}" for r in runs),
            f"{ratio:.2f}" if ratio is not None and self.tool != "curl" else "",
            f"{max(r.peak_mb for r in runs):.0f}",
            f"{statistics.median(r.cpu for r in runs):.1f}",
            f"{statistics.median(outside):.2f}" if outside else "",
            str(runs[0].checks),
            str(sum(r.false_failures for r in runs)),
            str(sum(r.holes_passed for r in runs)),
            str(sum(r.holes_unjudged for r in runs)),
            same,
            opened,
            f"{min(loads):.1f}-{max(loads):.1f}",
        ]


COLUMNS = (
    "endpoints",
    "tool",
    "runs",
    "wall s (median)",
    "each run s",
    "x curl",
    "peak MB",
    "CPU s",
    "outside probing s",
    "checks",
    "false failures",
    "holes passed",
    "holes without verdict",
    "-n 2 verdicts",
    "report opens in s",
    "load avg",
)


def table_head() -> str:
    return "| " + " | ".join(COLUMNS) + " |\n|" + "|".join("---" for _ in COLUMNS) + "|\n"


def targets_met(rows: list[Row], t: float) -> list[str]:
    """The issue's targets, each met or missed, with the number."""
    by = {(r.target, r.tool): r for r in rows}
    lines = []

    def verdict(ok: bool, text: str) -> None:
        lines.append(f"- {'met' if ok else 'MISSED'}: {text}")

    if row := by.get(("500", "netcheck")):
        ratio = row.wall / statistics.median(r.wall for r in row.curl)
        verdict(row.wall <= t + 3, f"500 endpoints in ≤ T + 3 s = {t + 3:g} s: {row.wall:.2f} s")
        verdict(ratio <= 1.3, f"500 endpoints ≤ 1.3 x curl: {ratio:.2f} x")
    if row := by.get(("5000", "netcheck")):
        ratio = row.wall / statistics.median(r.wall for r in row.curl)
        peak = max(r.peak_mb for r in row.runs)
        verdict(ratio <= 1.3, f"5000 endpoints ≤ 1.3 x curl --parallel-max 300: {ratio:.2f} x")
        verdict(peak < 300, f"5000 endpoints peak RSS < 300 MB: {peak:.0f} MB")
        if row.opened:
            verdict(
                row.opened.seconds <= 3, f"5000: report opens in ≤ 3 s: {row.opened.seconds:.2f} s"
            )
    if row := by.get(("m365", "netcheck")):
        verdict(row.wall <= t + 3, f"Microsoft 365 list in ≤ T + 3 s: {row.wall:.2f} s (median)")
    for name in ("m365", "5000"):
        if row := by.get((name, "netcheck")):
            bad = [r.false_failures + r.holes_passed for r in row.runs]
            verdict(
                not any(bad),
                f"{name}: no false verdict in {len(bad)} consecutive runs: {sum(bad)} false",
            )
    return lines


# --- the machine ---


def versions() -> str:
    def first_line(*argv: str) -> str:
        proc = subprocess.run(argv, capture_output=True, text=True)
        return (proc.stdout or proc.stderr).splitlines()[0]

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}; {first_line('curl', '--version').split(' (')[0]}; "
        f"{first_line('nginx', '-v')}; {first_line('dnsmasq', '--version').split(' Copyright')[0]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20,100,500,1000,2000,5000,m365")
    parser.add_argument("--timeout", type=float, default=2.0, help="probe timeout T (s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and tool")
    parser.add_argument("--m365-repeat", type=int, default=10, help="runs of the M365 list")
    parser.add_argument("--xdist-sizes", default="500,2000", help="sizes also run with -n 2")
    parser.add_argument("--m365", type=Path, default=M365, help="the endpoints list (JSON)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument(
        "--pytest-args",
        type=shlex.split,
        default=[],
        help="more options for netcheck's pytest, e.g. --pytest-args=--tb=line",
    )
    parser.add_argument(
        "--pythonpath",
        type=Path,
        help="netcheck's PYTHONPATH: try a patch without editing netcheck "
        "(a directory with a sitecustomize.py)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead: one netcheck run per size under py-spy (pip install py-spy)",
    )
    opts = parser.parse_args()
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        sys.exit("bench: run me through ./benchmarks/run (an isolated network namespace)")
    sizes = opts.sizes.split(",")
    work = opts.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    for old in work.iterdir():
        old.unlink()
    targets = [m365(opts.m365, work) if s == "m365" else sized(int(s), work) for s in sizes]
    names = {h: hole for t in targets for h, hole in t.holes.items()}
    m365_names = [h for t in targets if t.name == "m365" for h in t.holes]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    trials = []  # changes to netcheck's run being tried
    if opts.pythonpath:
        trials.append(f"netcheck's PYTHONPATH: {opts.pythonpath}")
    if opts.pytest_args:
        trials.append(f"netcheck's extra options: {shlex.join(opts.pytest_args)}")
    head = (
        f"# netcheck benchmark, {time.strftime('%Y-%m-%d %H:%M')}\n\n"
        f"Machine: {versions()}.\n"
        f"T = {opts.timeout:g} s (--probe-timeout; curl's --connect-timeout and --max-time); "
        f"every tenth host black-holed; curl --parallel --parallel-max {CURL_PARALLEL}; "
        f"load average at start {os.getloadavg()[0]:.1f}.\n"
        + "".join(f"On trial: {t}.\n" for t in trials)
        + "\n"
    )
    print(head, end="", flush=True)
    with BenchLab(names=names, cert_names=m365_names) as lab:
        lab.warm()
        bench = Bench(lab, opts, work)
        if opts.profile:
            from benchmarks import profile

            for target in targets:
                profile.record(bench, target)
            return
        print(table_head(), end="", flush=True)
        rows: list[Row] = []
        for target in targets:
            rows += measure_target(bench, target, opts)
            for row in rows:
                if row.target == target.name:
                    print("| " + " | ".join(row.cells()) + " |", flush=True)
    text = head + table_head() + "".join("| " + " | ".join(r.cells()) + " |\n" for r in rows)
    text += "\nTargets:\n" + "\n".join(targets_met(rows, opts.timeout)) + "\n"
    causes = failing_causes(rows)
    text += "\nFailing checks by cause (all runs):\n" + causes
    print("\nTargets:\n" + "\n".join(targets_met(rows, opts.timeout)))
    print("\nFailing checks by cause (all runs):\n" + causes, end="")
    (opts.out / f"bench-{stamp}.md").write_text(text)
    (opts.out / "latest.md").write_text(text)
    runs = [{**asdict(r), "outside": r.outside} for row in rows for r in row.runs]
    (opts.out / f"bench-{stamp}.json").write_text(json.dumps(runs, indent=1))
    print(f"\nwritten to {opts.out / 'latest.md'} and bench-{stamp}.json")


def measure_target(bench: Bench, target: Target, opts: argparse.Namespace) -> list[Row]:
    """curl, netcheck and (for --xdist-sizes) netcheck -n 2, interleaved, `repeat` times."""
    repeat = opts.m365_repeat if target.name == "m365" else opts.repeat
    xdist = target.name in opts.xdist_sizes.split(",")
    curl, plain, spread, differ = [], [], [], []
    for rep in range(repeat):
        curl.append(bench.curl(target, rep))
        plain.append(bench.netcheck(target, rep))
        if xdist:
            spread.append(bench.netcheck(target, rep, "-n", "2"))
            mine, theirs = plain[-1].verdicts, spread[-1].verdicts
            differ.append(sum(mine.get(k) != theirs.get(k) for k in mine.keys() | theirs.keys()))
    last = plain[-1]
    html = bench.work / f"report-{target.name}-netcheck-{last.rep}.html"
    rows = [
        Row(target.name, "curl", curl, curl),
        Row(
            target.name,
            "netcheck",
            plain,
            curl,
            browser.open_report(html),
            html.stat().st_size / 2**20,
        ),
    ]
    if xdist:
        rows.append(Row(target.name, "netcheck -n 2", spread, curl, differ=differ))
    return rows


def failing_causes(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        total: Counter[str] = Counter()
        drops: Counter[str] = Counter()
        for r in row.runs:
            total.update(r.causes)
            drops.update(r.lab_drops)
        what = ", ".join(f"{k}: {v}" for k, v in sorted(total.items()))
        lab = f"; lab kernel drops {dict(drops)}" if drops else ""
        lines.append(f"- {row.target} {row.tool}: {what or 'none'}{lab}\n")
    return "".join(lines)


if __name__ == "__main__":
    main()
