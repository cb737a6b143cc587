"""NETWORK SERVICE's rights on its own registry hive, HKEY_USERS\\S-1-5-20.

The key's security descriptor is read as SDDL (`Get-Acl ... .Sddl`), which names accounts
by SID and rights by code, the same in every language (the Access list's account names and
rights are translated). The checklist wants NETWORK SERVICE to have Full Control.
"""

from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass

from netcheck.host import causes
from netcheck.host.base import (
    Data,
    HostCheck,
    ReadError,
    Reading,
    Verdict,
    fail,
    interpreter,
    judge,
)
from netcheck.host.collect import powershell

HIVE = r"HKEY_USERS\S-1-5-20"
NETWORK_SERVICE = {"NS", "S-1-5-20"}  # the SDDL alias and the SID
KEY_ALL_ACCESS = 0xF003F
GENERIC_ALL = 0x10000000
# SDDL access-right codes (sddl.h); registry keys come out as KA/KR/KW/KX or DS-style letters.
RIGHTS = {
    "GA": GENERIC_ALL,
    "GR": 0x80000000,
    "GW": 0x40000000,
    "GX": 0x20000000,
    "RC": 0x20000,
    "SD": 0x10000,
    "WD": 0x40000,
    "WO": 0x80000,
    "KA": KEY_ALL_ACCESS,
    "KR": 0x20019,
    "KW": 0x20006,
    "KX": 0x20019,
    "CC": 0x1,
    "DC": 0x2,
    "LC": 0x4,
    "SW": 0x8,
    "RP": 0x10,
    "WP": 0x20,
    "DT": 0x40,
    "LO": 0x80,
    "CR": 0x100,
    "FA": 0x1F01FF,
    "FR": 0x120089,
    "FW": 0x120116,
    "FX": 0x1200A0,
}
INHERIT_ONLY = "IO"


@dataclass(frozen=True)
class Ace:
    kind: str  # "A" allow, "D" deny, ...
    flags: tuple[str, ...]  # two-letter codes: CI, OI, IO, ID, ...
    mask: int
    sid: str

    @property
    def applies_here(self) -> bool:
        """Whether the ACE governs the key itself (not only what inherits from it)."""
        return INHERIT_ONLY not in self.flags


def dacl(sddl: str) -> list[Ace]:
    """The DACL's ACEs. ValueError when the string is not SDDL with a DACL."""
    match = re.search(r"D:([A-Z]*)((?:\([^()]*\))*)", sddl)
    if not match:
        raise ValueError("no DACL (D:) in the security descriptor")
    aces = []
    for body in re.findall(r"\(([^()]*)\)", match.group(2)):
        fields = body.split(";")
        if len(fields) < 6:
            raise ValueError(f"malformed ACE ({body})")
        kind, flags, rights, sid = fields[0], fields[1], fields[2], fields[5]
        aces.append(Ace(kind, tuple(re.findall("..", flags)), _mask(rights), sid.upper()))
    return aces


def _mask(rights: str) -> int:
    if rights.lower().startswith("0x"):
        return int(rights, 16)
    codes = re.findall("..", rights)
    unknown = [c for c in codes if c not in RIGHTS]
    if unknown or len("".join(codes)) != len(rights):
        raise ValueError(f"unknown access rights {rights!r}")
    mask = 0
    for code in codes:
        mask |= RIGHTS[code]
    return mask


def full_control(mask: int) -> bool:
    return bool(mask & GENERIC_ALL) or mask & KEY_ALL_ACCESS == KEY_ALL_ACCESS


def collect_acl(timeout: float) -> Reading:
    return Reading({"sddl": powershell(f"(Get-Acl -LiteralPath 'Registry::{HIVE}').Sddl", timeout)})


_GRANT = (
    f"In regedit (elevated, after backing up the registry) right-click {HIVE} > Permissions, "
    "add NETWORK SERVICE if it is missing, check Full Control and Read, Apply, and restart "
    "(the checklist's steps). A deny entry for NETWORK SERVICE must go too."
)


@interpreter
def interpret_acl(data: Data) -> Verdict:
    found = [s for s in data.get("sddl") or [] if isinstance(s, str)]
    if not found:
        raise ReadError(f"Get-Acl returned no security descriptor for {HIVE}")
    try:
        aces = [a for a in dacl(found[0]) if a.sid in NETWORK_SERVICE and a.applies_here]
    except ValueError as exc:
        raise ReadError(f"cannot parse the SDDL of {HIVE}: {exc}") from exc
    evidence = {"SDDL": found[0]}
    denied = [a for a in aces if a.kind == "D"]
    allowed = [a for a in aces if a.kind == "A"]
    findings = []
    if denied:
        detail = f"NETWORK SERVICE is denied access {denied[0].mask:#x} to {HIVE}"
        findings.append(fail(causes.NETWORK_SERVICE_ACL, detail, _GRANT))
    elif not allowed:
        detail = f"NETWORK SERVICE is not listed in {HIVE}'s permissions"
        findings.append(fail(causes.NETWORK_SERVICE_ACL, detail, _GRANT))
    elif not full_control(granted := functools.reduce(operator.or_, (a.mask for a in allowed))):
        detail = (
            f"NETWORK SERVICE has only {granted:#x} on {HIVE}, not Full Control "
            f"({KEY_ALL_ACCESS:#x})"
        )
        findings.append(fail(causes.NETWORK_SERVICE_ACL, detail, _GRANT))
    return judge(findings, f"NETWORK SERVICE has Full Control of {HIVE}", evidence)


CHECKS = (
    HostCheck(
        "network-service-acl",
        f"NETWORK SERVICE has Full Control of {HIVE}",
        collect_acl,
        interpret_acl,
    ),
)
