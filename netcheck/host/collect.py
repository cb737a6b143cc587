"""Reading Windows without changing it: registry keys (winreg), PowerShell and commands.

Everything here only reads. Commands run with a deadline and are killed when it passes;
winreg is imported where it is used, so this module imports on any system. PowerShell
output is JSON (ConvertTo-Json), whose property names and enum values do not depend on
the display language, with every non-ASCII character escaped so the console code page
cannot garble it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcheck.host.base import ReadError, Reading

_REAP = 2.0  # seconds to collect a killed command's output before giving up on it


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes


def run_command(argv: list[str], timeout: float) -> Completed:
    """Run a command with no input; past `timeout` seconds it is killed (with anything it
    started, on POSIX) and ReadError says so."""
    group: dict[str, Any] = {"start_new_session": True}  # its own process group, to kill
    if sys.platform == "win32":
        group = {"creationflags": subprocess.CREATE_NO_WINDOW}
    name = Path(argv[0]).name
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **group,
        )
    except OSError as exc:
        raise ReadError(f"cannot run {name}: {exc.strerror or exc}") from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=_REAP)
        raise ReadError(f"{name} did not answer within {timeout:g} s and was stopped") from None
    return Completed(proc.returncode, out, err)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if sys.platform == "win32":
        proc.kill()
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def system_program(*parts: str) -> str:
    """A program under %SystemRoot% by full path (not whatever PATH finds first)."""
    root = os.environ.get("SYSTEMROOT", r"C:\Windows")
    return str(Path(root, *parts))


# --- registry --------------------------------------------------------------------------

_HIVES = {"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER", "HKU": "HKEY_USERS"}


@dataclass(frozen=True)
class Key:
    """A registry key to read, as `HKLM\\...`: some values (None: all) and, with `subkeys`,
    the same values of each direct subkey."""

    path: str
    names: tuple[str, ...] | None = None
    subkeys: bool = False


def read_key(key: Key) -> dict[str, Any] | None:
    """{"values": {name: value}} (and "subkeys": {name: {values}}), None if the key does
    not exist. Binary values become hex strings. Always the 64-bit view of the registry."""
    import winreg

    hive, _, sub = key.path.partition("\\")
    try:
        with _open(getattr(winreg, _HIVES[hive]), sub) as handle:
            found: dict[str, Any] = {"values": _values(handle, key.names)}
            if key.subkeys:
                found["subkeys"] = {}
                for name in _subkey_names(handle):
                    with _open(handle, name) as subkey:
                        found["subkeys"][name] = _values(subkey, key.names)
            return found
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        raise ReadError(f"{key.path}: access denied") from exc
    except OSError as exc:
        raise ReadError(f"{key.path}: {exc.strerror or exc}") from exc


def _open(parent: Any, sub: str) -> Any:
    import winreg

    return winreg.OpenKey(parent, sub, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY)


def _values(handle: Any, names: tuple[str, ...] | None) -> dict[str, Any]:
    import winreg

    if names is None:
        count = winreg.QueryInfoKey(handle)[1]
        pairs = [winreg.EnumValue(handle, i)[:2] for i in range(count)]
    else:
        pairs = []
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                pairs.append((name, winreg.QueryValueEx(handle, name)[0]))
    return {name: value.hex() if isinstance(value, bytes) else value for name, value in pairs}


def _subkey_names(handle: Any) -> list[str]:
    import winreg

    return [winreg.EnumKey(handle, i) for i in range(winreg.QueryInfoKey(handle)[0])]


def registry_collector(*keys: Key) -> Callable[[float], Reading]:
    """A collector reading these keys: {"keys": {path: read_key(...)}}. Local registry
    reads do not block; run() still bounds them in time."""

    def collect(timeout: float) -> Reading:
        return Reading({"keys": {key.path: read_key(key) for key in keys}})

    return collect


def folder_summary(path: str) -> dict[str, Any] | None:
    """How many files a folder holds (recursively) and their size, or why that could not be
    read; None if the folder is absent."""
    folder = Path(os.path.expandvars(path))
    if not folder.is_dir():
        return None
    try:
        sizes = [p.stat().st_size for p in folder.rglob("*") if p.is_file()]
    except OSError as exc:
        return {"path": str(folder), "error": exc.strerror or str(exc)}
    return {"path": str(folder), "files": len(sizes), "bytes": sum(sizes)}


# --- PowerShell ------------------------------------------------------------------------

_ERROR = "netcheck-error "
_OLD = "netcheck-old-powershell "
# Windows PowerShell 5.1 and PowerShell 2.0 both run this; 2.0 has no ConvertTo-Json.
# Progress and warnings are silenced: the console host would print them among the JSON.
_SCRIPT = """$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
if ($PSVersionTable.PSVersion.Major -lt 3) {
  [Console]::Error.WriteLine('%(old)s' + $PSVersionTable.PSVersion); exit 3 }
$ascii = [Text.RegularExpressions.MatchEvaluator]{ param($m) '\\u{0:x4}' -f [int][char]$m.Value }
function Out-Ascii($text) { [regex]::Replace($text, '[^\\x00-\\x7f]', $ascii) }
try {
  $result = @(& { %(body)s })
  [Console]::Out.Write((Out-Ascii (ConvertTo-Json -InputObject $result -Depth 5)))
} catch {
  $e = @{ type = $_.Exception.GetType().FullName; message = $_.Exception.Message }
  [Console]::Error.WriteLine('%(error)s' + (Out-Ascii (ConvertTo-Json -InputObject $e -Compress)))
  exit 2
}
"""

# Exception types (not translated) that deserve a hint of their own.
_HINTS = {
    "System.UnauthorizedAccessException": "access denied: run netcheck elevated",
    "System.Security.SecurityException": "access denied: run netcheck elevated",
    "System.Management.Automation.CommandNotFoundException": "no such cmdlet on this Windows",
    "System.Management.Automation.ItemNotFoundException": "not found",
}


def powershell_script(body: str) -> str:
    """The whole script around `body`, whose output becomes a JSON array."""
    return _SCRIPT % {"body": body, "old": _OLD, "error": _ERROR}


def powershell(body: str, timeout: float) -> list[Any]:
    """Run `body` in Windows PowerShell and return its output objects."""
    encoded = base64.b64encode(powershell_script(body).encode("utf-16-le")).decode()
    exe = system_program("System32", "WindowsPowerShell", "v1.0", "powershell.exe")
    argv = [exe, "-NoLogo", "-NoProfile", "-NonInteractive", "-EncodedCommand", encoded]
    return parse_powershell(run_command(argv, timeout))


def parse_powershell(done: Completed) -> list[Any]:
    """The objects in PowerShell's JSON output, or ReadError saying why there are none."""
    err = done.stderr.decode("utf-8", errors="replace")
    for line in err.splitlines():
        if line.startswith(_OLD):
            version = line[len(_OLD) :].strip() or "1.0"
            raise ReadError(
                f"PowerShell {version} has no ConvertTo-Json: install Windows Management "
                "Framework 5.1 (PowerShell 3.0 or later is needed)"
            )
        if line.startswith(_ERROR):
            with contextlib.suppress(ValueError, AttributeError):
                error = json.loads(line[len(_ERROR) :])
                kind, message = error.get("type", ""), " ".join(error.get("message", "").split())
                hint = _HINTS.get(kind, kind.rpartition(".")[2])
                raise ReadError(f"PowerShell: {hint} ({message})")
    if done.returncode != 0:
        first = next((line.strip() for line in err.splitlines() if line.strip()), "no message")
        raise ReadError(f"PowerShell failed (exit code {done.returncode}): {first}")
    text = done.stdout.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
    try:
        result = json.loads(text)
    except ValueError:
        raise ReadError(f"PowerShell's output is not JSON: {text[:80]!r}") from None
    result = _unwrap(result)
    return result if isinstance(result, list) else [result]


def _unwrap(value: Any) -> Any:
    """Windows PowerShell 5.1 sometimes serializes an array as {"value": [...], "Count": n}
    (its type data adds Count to arrays): take the array back out."""
    if isinstance(value, dict):
        if value.keys() == {"value", "Count"} and isinstance(value["value"], list):
            return _unwrap(value["value"])
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value
