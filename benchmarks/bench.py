"""How long a full run takes, and how much memory, against curl and a sequential loop.

Run by ./benchmarks/run, inside a fresh network and mount namespace: a loopback lab (from
tests/fakenet) answers for N host names with a few servers; every tenth name resolves to an
address whose SYNs are dropped. /etc/resolv.conf is bind-mounted to the lab's DNS server,
so netcheck (system resolver, as a user runs it) and curl resolve names the same way.

Fair comparison: curl makes one DNS → TCP → TLS → GET per URL. So does netcheck's firewall
check; netcheck's default for an https URL adds a tls check (a second handshake), so the
profiles pin `checks = ["firewall"]`, and the row `netcheck +tls` shows the default.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakenet import DNSServer, Response, TestCA, WebServer, ZoneEntry, dropped_port  # noqa: E402

ORIGINS = [f"127.0.8.{i}" for i in range(1, 5)]
DROPPED = [f"127.0.9.{i}" for i in range(1, 3)]
DNS = ("127.0.0.53", 53)  # port 53: glibc (curl) cannot use another
DOMAIN = "bench.test"
CURL_PARALLEL = 64
TOOLS = ("netcheck", "netcheck -n auto", "netcheck +tls", "curl", "sequential")


def host(i: int) -> str:
    return f"h{i:04d}.{DOMAIN}"


def dropped(i: int) -> bool:
    return i % 10 == 9


def start_lab(stack: ExitStack, names: int, workdir: Path) -> tuple[Path, DNSServer]:
    """DNS for `names` hosts, four HTTPS origins, two dropping addresses; returns the CA's
    PEM file and the DNS server."""
    ca = TestCA()
    zone = {
        host(i): ZoneEntry(a=[DROPPED[i % 2] if dropped(i) else ORIGINS[i % 4]])
        for i in range(names)
    }
    dns = stack.enter_context(DNSServer(zone, *DNS))
    tls = ca.server_context(f"*.{DOMAIN}")
    for address in ORIGINS:
        server = WebServer(address, 443, tls=tls, routes={"*": Response(body=b"bench origin")})
        server.backlog = 4096  # a thousand clients connect at once
        stack.enter_context(server)
    for address in DROPPED:
        stack.enter_context(dropped_port(address, 443))
    return ca.write_pem(workdir / "ca.pem"), dns


def urls(n: int) -> list[str]:
    return [f"https://{host(i)}/" for i in range(n)]


def write_profile(path: Path, n: int, checks: str | None) -> None:
    pin = f"checks = [{checks}]\n" if checks else ""
    body = "".join(f'[[endpoint]]\nurl = "{u}"\n{pin}' for u in urls(n))
    path.write_text(f'[profile]\nname = "bench {n}"\n{body}')


@dataclass
class Measure:
    wall: float
    peak_mb: float
    ok: str  # passed / total, as the tool saw it
    outside: float | None = None  # netcheck: time not spent probing


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [p for p, parent in parents.items() if parent == pid and p not in tree]
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total * os.sysconf("SC_PAGE_SIZE")


def measure(cmd: list[str], stdin: str | None = None) -> tuple[float, float, str]:
    """Run `cmd`; wall seconds, peak resident MB of its process tree, stdout+stderr."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak, output = 0, []
    reader = threading.Thread(target=lambda: output.append(proc.communicate(stdin)[0]))
    reader.start()
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.02)
    reader.join()
    return time.monotonic() - start, peak / 2**20, "".join(output)


def pytest_counts(output: str) -> str:
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|failed|error)", output))
    total = sum(counts.values())
    return f"{counts.get('passed', 0)}/{total}"


def netcheck_args(profile: Path, ca: Path, timeout: float, out: Path) -> list[str]:
    """pytest's arguments for a netcheck run, as a user would type them."""
    return [
        f"--endpoints={profile}",
        f"--ca-bundle={ca}",
        f"--probe-timeout={timeout:g}",
        f"--html={out}",
        "-p",
        "no:hypothesispytest",  # a dev dependency's plugin: not in a user's install
    ]


def run_netcheck(profile: Path, ca: Path, timeout: float, out: Path, *args: str) -> Measure:
    cmd = [sys.executable, "-m", "pytest", *netcheck_args(profile, ca, timeout, out), *args]
    wall, peak, output = measure(cmd)
    probing = re.search(r"netcheck: \d+ checks probed in ([\d.]+) s", output)
    outside = wall - float(probing.group(1)) if probing else None
    return Measure(wall, peak, pytest_counts(output), outside)


def run_sequential(profile: Path, ca: Path, timeout: float) -> Measure:
    wall, peak, output = measure(
        [sys.executable, "-m", "benchmarks.sequential", str(profile), str(ca), f"{timeout:g}"]
    )
    return Measure(wall, peak, output.strip().splitlines()[-1])


def run_curl(urls: list[str], ca: Path, timeout: float, config: Path) -> Measure:
    config.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in urls))
    cmd = ["curl", "--parallel", "--parallel-max", str(CURL_PARALLEL), "--silent"]
    cmd += ["--max-time", f"{timeout:g}", "--cacert", str(ca), "--write-out", "%{http_code}\n"]
    wall, peak, output = measure([*cmd, "--config", str(config)])
    codes = output.split()
    return Measure(wall, peak, f"{codes.count('200')}/{len(urls)}")


def run_tool(tool: str, n: int, work: Path, ca: Path, opts: argparse.Namespace) -> Measure | None:
    fw, both = work / f"firewall-{n}.toml", work / f"default-{n}.toml"
    html, t = work / "report.html", opts.timeout
    match tool:
        case "netcheck":
            return run_netcheck(fw, ca, t, html)
        case "netcheck -n auto":
            return run_netcheck(fw, ca, t, html, "-n", "auto")
        case "netcheck +tls":
            return run_netcheck(both, ca, t, html)
        case "curl":
            return run_curl(urls(n), ca, t, work / "curl.cfg")
    return run_sequential(fw, ca, t) if n <= opts.sequential_max else None


def profile_netcheck(n: int, work: Path, ca: Path, opts: argparse.Namespace) -> None:
    """Where a netcheck run spends its time, as pyinstrument sees it (main thread)."""
    out = opts.out / f"pyinstrument-{n}.txt"
    cmd = [sys.executable, "-m", "pyinstrument", "--show-all", "-o", str(out), "-m", "pytest"]
    cmd += netcheck_args(work / f"firewall-{n}.toml", ca, opts.timeout, work / "report.html")
    wall, _, _ = measure(cmd)
    print(f"{n} endpoints: {wall:.2f} s, profile in {out}")


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python "
        f"{platform.python_version()}, curl {curl[1]}; load average at start {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20,100,500,1000")
    parser.add_argument("--timeout", type=float, default=5.0, help="probe timeout T (s)")
    parser.add_argument(
        "--sequential-max", type=int, default=100, help="largest size for the sequential loop"
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="which rows to run")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead: profile one netcheck run per size with pyinstrument (pip install it)",
    )
    opts = parser.parse_args()
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        sys.exit("bench: run me through ./benchmarks/run (an isolated network namespace)")
    sizes = [int(s) for s in opts.sizes.split(",")]
    opts.out.mkdir(parents=True, exist_ok=True)
    work = opts.out / "work"
    work.mkdir(exist_ok=True)
    header = (
        f"# netcheck benchmark, {time.strftime('%Y-%m-%d %H:%M')}\n\n"
        f"Machine: {machine()}.\n"
        f"Probe timeout T = {opts.timeout:g} s; 10% of host names dropped (SYNs never answered); "
        f"curl --parallel-max {CURL_PARALLEL}.\n\n"
        "| endpoints | tool | wall s | peak MB | ok | outside probing s |\n"
        "|---:|---|---:|---:|---:|---:|\n"
    )
    print(header, end="", flush=True)
    rows = []
    with ExitStack() as stack:
        ca, dns = start_lab(stack, max(sizes), work)
        for n in sizes:
            write_profile(work / f"firewall-{n}.toml", n, '"firewall"')
            write_profile(work / f"default-{n}.toml", n, None)
            if opts.profile:
                profile_netcheck(n, work, ca, opts)
                continue
            for tool in (t for t in TOOLS if t in opts.tools.split(",")):
                m = run_tool(tool, n, work, ca, opts)
                if m is None:
                    row = f"| {n} | {tool} | skipped (> --sequential-max) | | | |"
                else:
                    outside = f"{m.outside:.2f}" if m.outside is not None else ""
                    row = f"| {n} | {tool} | {m.wall:.2f} | {m.peak_mb:.0f} | {m.ok} | {outside} |"
                rows.append(row)
                print(row, flush=True)
    print(f"\nDNS queries answered by the lab: {sum(dns.queries.values())}")
    if opts.profile:
        return
    text = header + "\n".join(rows) + "\n"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"bench-{stamp}.md", "latest.md"):
        (opts.out / name).write_text(text)
    print(f"written to {opts.out / 'latest.md'}")


if __name__ == "__main__":
    main()
