"""What a host check is made of: a collector's Reading and an interpreter's Verdict.

Collectors run on Windows only and return what they read as plain JSON-like data (or why
they could not read it); interpreters are pure functions of a Reading, tested anywhere on
recorded readings.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from netcheck.host import causes

Outcome = Literal["pass", "fail", "warn", "unreadable"]
Data = Mapping[str, Any]


@dataclass(frozen=True)
class Reading:
    """What a collector read (JSON-like data), or why it could not read it (`error`)."""

    data: Data = field(default_factory=dict)
    error: str = ""

    def to_json(self) -> str:
        return json.dumps({"data": self.data, "error": self.error}, indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Reading:
        raw = json.loads(text)
        return cls(data=raw.get("data") or {}, error=raw.get("error") or "")


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    cause: str  # one of causes.ALL, "" on pass
    detail: str  # one line: what was found
    advice: str  # what to do, "" on pass
    evidence: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HostCheck:
    id: str  # the pytest id, e.g. "tls12-schannel"
    title: str
    collect: Callable[[float], Reading]  # Windows only; the argument is a timeout in seconds
    interpret: Callable[[Reading], Verdict]  # pure


class ReadError(Exception):
    """A collector could not read what it needs; the message says why, for the report."""


@dataclass(frozen=True)
class Finding:
    """One problem an interpreter found; a verdict gathers them."""

    outcome: Literal["fail", "warn"]
    cause: str
    detail: str
    advice: str


def fail(cause: str, detail: str, advice: str) -> Finding:
    return Finding("fail", cause, detail, advice)


def warn(cause: str, detail: str, advice: str) -> Finding:
    return Finding("warn", cause, detail, advice)


UNREADABLE_ADVICE = (
    "netcheck could not look at this setting, for the reason given. If access was denied, "
    "run netcheck from an elevated prompt; otherwise check the setting by hand as the "
    "activation checklist describes."
)


def judge(findings: Iterable[Finding], ok_detail: str, evidence: Mapping[str, str]) -> Verdict:
    """Pass with `ok_detail` when nothing was found; otherwise the worst finding's outcome
    and cause, every finding's detail, and each distinct piece of advice once."""
    found = sorted(findings, key=lambda f: f.outcome != "fail")  # stable: fails first
    if not found:
        return Verdict("pass", "", ok_detail, "", dict(evidence))
    advice = list(dict.fromkeys(f.advice for f in found))
    detail = "; ".join(f.detail for f in found)
    return Verdict(found[0].outcome, found[0].cause, detail, " ".join(advice), dict(evidence))


def unreadable(reason: str) -> Verdict:
    reason = " ".join(reason.split())  # one line
    return Verdict(
        "unreadable",
        causes.UNREADABLE,
        f"could not read: {reason}",
        UNREADABLE_ADVICE,
        {"error": reason},
    )


def interpreter(fn: Callable[[Data], Verdict]) -> Callable[[Reading], Verdict]:
    """Turn a pure function of the data read into an interpret(): a reading that failed
    becomes an `unreadable` verdict saying why; data missing what the function needs too."""

    @functools.wraps(fn)
    def interpret(reading: Reading) -> Verdict:
        if reading.error:
            return unreadable(reading.error)
        try:
            return fn(reading.data)
        except ReadError as exc:
            return unreadable(str(exc))

    return interpret


def registry_key(data: Data, path: str) -> Mapping[str, Any] | None:
    """A registry key as collect.read_key read it ("values", maybe "subkeys"); None when
    the key does not exist."""
    keys = data.get("keys")
    if not isinstance(keys, Mapping) or path not in keys:
        raise ReadError(f"the reading does not include {path}")
    return keys[path]


def key_values(data: Data, path: str) -> dict[str, Any] | None:
    """The values read under a registry key; None when the key does not exist."""
    key = registry_key(data, path)
    return None if key is None else dict(key.get("values") or {})


def dword(values: Mapping[str, Any] | None, name: str) -> int | None:
    """A DWORD value, None when it is not set (or not a number). Registry value names are
    case-insensitive: UseGlobalDNS is UseGlobalDns."""
    found = [v for k, v in (values or {}).items() if k.lower() == name.lower()]
    value = found[0] if found else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def folder_text(summary: Mapping[str, Any] | None) -> str:
    """A folder as collect.folder_summary read it."""
    if not summary:
        return "absent"
    if "error" in summary:
        return f"{summary['path']}: not readable ({summary['error']})"
    return f"{summary['files']} file(s), {summary['bytes']} bytes in {summary['path']}"


def shown(value: Any) -> str:
    """A registry value as the report shows it."""
    if value is None:
        return "not set"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:#x}" if value > 9 else str(value)
    return str(value)
