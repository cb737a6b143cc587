"""Office's cached answers from officeclient.microsoft.com (its configuration service).

Office keeps them under WebServiceCache, in the registry (the key the checklist names) and
in a folder of the same name. Their content is not documented, so nothing here judges it:
the entries are shown, and the checklist's remedy (delete the subkeys, restart) is for when
activation fails while the network checks pass. Nothing is deleted.
"""

from __future__ import annotations

from typing import Any

from netcheck.host.base import (
    Data,
    HostCheck,
    Reading,
    Verdict,
    folder_text,
    interpreter,
    judge,
    registry_key,
)
from netcheck.host.collect import Key, folder_summary, read_key

CACHE = (
    r"HKCU\Software\Microsoft\Office\16.0\Common\Internet\WebServiceCache\AllUsers"
    r"\officeclient.microsoft.com"
)
CACHE_FOLDER = (
    r"%LOCALAPPDATA%\Microsoft\Office\16.0\WebServiceCache\AllUsers\officeclient.microsoft.com"
)


def collect(timeout: float) -> Reading:
    return Reading(
        {
            "keys": {CACHE: read_key(Key(CACHE, subkeys=True))},
            "folder": folder_summary(CACHE_FOLDER),
        }
    )


def _summary(values: dict[str, Any]) -> str:
    return ", ".join(f"{name} = {str(value)[:60]}" for name, value in sorted(values.items()))


@interpreter
def interpret(data: Data) -> Verdict:
    cache = registry_key(data, CACHE)
    evidence = {"cache folder": folder_text(data.get("folder"))}
    if cache is None:
        return judge([], "no cached officeclient.microsoft.com entries in the registry", evidence)
    subkeys = cache.get("subkeys") or {}
    evidence |= {
        f"{CACHE}\\{name}": _summary(values) or "(no values)"
        for name, values in sorted(subkeys.items())
    }
    return judge(
        [],
        f"{len(subkeys)} cached officeclient.microsoft.com entries (shown; if "
        "activation fails while the network checks pass, the checklist deletes "
        "them)",
        evidence,
    )


CHECKS = (
    HostCheck(
        "office-webservicecache",
        "Office's cached officeclient.microsoft.com entries (shown, never changed)",
        collect,
        interpret,
    ),
)
