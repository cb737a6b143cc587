"""Where a netcheck run's time goes: py-spy samples of every thread while it runs (only
threads doing something: not those waiting in a system call), per thread and per part of
the work. `./benchmarks/run --profile --sizes 2000,5000` writes, per size, py-spy's raw
collapsed stacks (profile-N.txt: flamegraph.pl or speedscope read them) and this summary
(profile-N.md)."""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import measure

if TYPE_CHECKING:
    from benchmarks.bench import Bench, Target

RATE = 100  # samples per second
# The part of the work a stack belongs to: the first rule with a frame in the stack wins.
PARTS = (
    ("imports", ("<frozen importlib._bootstrap",)),
    # epoll_wait sampled as busy: the thread was runnable but not running (a loaded CPU)
    ("engine: in epoll_wait", ("EpollSelector.select",)),
    ("TLS: truststore reloads the CA bundle", ("truststore/_openssl.py",)),
    ("TLS: handshake, certificate checks", ("ssl.py", "sslproto.py", "netcheck/net/tls.py")),
    ("DNS: dnspython", ("dns/",)),
    ("DNS: getaddrinfo", ("getaddrinfo",)),
    ("HTTP: h11", ("h11/",)),
    ("pytest-html", ("pytest_html/",)),
    ("results.json, terminal summary", ("netcheck/plugin/recorder.py", "netcheck/results.py")),
    ("netcheck report hooks", ("netcheck/plugin/report.py",)),
    # For each failure pytest scans every report for its teardown (terminal.py,
    # _get_teardown_reports via getreports): time grows with failures x tests.
    ("pytest: failure summary, teardown scan", ("_get_teardown_reports", "getreports")),
    ("pytest: terminal output", ("_pytest/terminal.py",)),
    ("pytest: collection, parametrization", ("pytest_collection", "pytest_generate_tests")),
    ("pytest: failure reports (tracebacks)", ("repr_failure", "_repr_failure_py")),
    ("pytest: running tests (other)", ("pytest_runtestloop",)),
    ("engine: asyncio loop, connections", ("asyncio/",)),
    ("netcheck engine (other)", ("netcheck/",)),
)
STACK = re.compile(r'^process (\d+):"[^"]*";thread \(\d+\)(?::\s*([^;]*))?;(.*) (\d+)$')


def record(bench: Bench, target: Target) -> None:
    """One netcheck run of `target` under py-spy; its summary printed and written."""
    out = bench.opts.out
    raw, html = out / f"profile-{target.name}.txt", bench.work / f"profile-{target.name}.html"
    spy = [
        shutil.which("py-spy", path=Path(sys.executable).parent) or "py-spy",
        "record",
        "--format",
        "raw",
        "--threads",
        "--subprocesses",
    ]
    spy += ["--nonblocking", "--rate", str(RATE), "--output", str(raw), "--"]
    log = bench.work / f"profile-{target.name}.log"
    m = measure.run(bench.in_corp(*spy, *bench.pytest(target, html)), log, env=bench.env)
    probed = re.search(r"netcheck: .*", log.read_text(errors="replace"))
    head = (
        f"# {target.name} endpoints under py-spy: wall {m.wall:.1f} s, "
        f"load {m.load[0]:.1f}-{m.load[1]:.1f}\n\n{probed.group(0) if probed else ''}\n\n"
    )
    text = head + summary(raw.read_text())
    (out / f"profile-{target.name}.md").write_text(text)
    print(text, flush=True)


def summary(raw: str, top: int = 12) -> str:
    """Seconds of samples per thread, per part of the work, and the busiest functions."""
    threads: Counter[str] = Counter()
    parts: Counter[tuple[str, str]] = Counter()
    leaves: Counter[tuple[str, str]] = Counter()
    for line in raw.splitlines():
        if not (match := STACK.match(line)):
            continue
        _, name, frames, count = match.groups()
        thread = re.sub(r"_\d+$", "_*", name or "MainThread")  # pool threads together
        n = int(count)
        threads[thread] += n
        stack = frames.split(";")
        part = next(
            (label for label, marks in PARTS if any(m in f for f in stack for m in marks)),
            "other",
        )
        parts[thread, part] += n
        leaves[thread, stack[-1]] += n
    lines = ["| thread | busy s | part of the work | s |", "|---|---:|---|---:|"]
    for thread, n in threads.most_common():
        mine = [(p, c) for (t, p), c in parts.most_common() if t == thread]
        for i, (part, count) in enumerate(mine):
            first = (thread, f"{n / RATE:.1f}") if i == 0 else ("", "")
            lines.append(f"| {first[0]} | {first[1]} | {part} | {count / RATE:.2f} |")
    lines += ["", "Busiest functions (self time):", ""]
    for thread in threads:
        mine = [(leaf, c) for (t, leaf), c in leaves.most_common() if t == thread][:top]
        lines.append(f"- {thread}: " + "; ".join(f"{leaf} {c / RATE:.2f} s" for leaf, c in mine))
    return "\n".join(lines) + "\n"
