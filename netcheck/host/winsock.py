"""The Winsock protocol catalog: third-party layered service providers (LSPs).

Read from the registry rather than `netsh winsock show catalog` (translated): each entry
under Protocol_Catalog9\\Catalog_Entries (Catalog_Entries64 for 64-bit programs) has a
PackedCatalogItem, the provider DLL's path (MAX_PATH ANSI characters) followed by its
WSAPROTOCOL_INFOW. A protocol chain length other than 1 marks a layered provider: old
security, VPN and proxy software hooked the network that way (deprecated since Windows 8),
and a broken one is what `netsh winsock reset` clears.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from netcheck.host import causes
from netcheck.host.base import (
    Data,
    Finding,
    HostCheck,
    Verdict,
    fail,
    interpreter,
    judge,
    registry_key,
    warn,
)
from netcheck.host.collect import Key, registry_collector

CATALOG = r"HKLM\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\Protocol_Catalog9"
ENTRIES = (CATALOG + r"\Catalog_Entries", CATALOG + r"\Catalog_Entries64")
_PATH_SIZE = 260  # MAX_PATH
_CHAIN_LEN = _PATH_SIZE + 40  # WSAPROTOCOL_INFOW.ProtocolChain.ChainLen
_PROTOCOL_NAME = _PATH_SIZE + 116  # WSAPROTOCOL_INFOW.szProtocol, WCHAR[256]
_ITEM_SIZE = _PROTOCOL_NAME + 512


@dataclass(frozen=True)
class Provider:
    dll: str
    name: str
    chain_len: int

    @property
    def layered(self) -> bool:
        return self.chain_len != 1  # 0: a layered protocol; 2 and more: a chain over one


def unpack(hex_value: str) -> Provider:
    """ValueError when the item is not a PackedCatalogItem."""
    item = bytes.fromhex(hex_value)
    if len(item) < _ITEM_SIZE:
        raise ValueError(f"{len(item)} bytes instead of at least {_ITEM_SIZE}")
    dll = item[:_PATH_SIZE].split(b"\0", 1)[0].decode("latin-1")
    name = item[_PROTOCOL_NAME:_ITEM_SIZE].decode("utf-16-le", errors="replace")
    (chain_len,) = struct.unpack_from("<i", item, _CHAIN_LEN)
    if not dll or not 0 <= chain_len <= 7:  # MAX_PROTOCOL_CHAIN
        raise ValueError("no provider path or an impossible protocol chain")
    return Provider(dll, name.split("\0", 1)[0], chain_len)


_RESET = (
    "Reset Winsock as the checklist does, in an elevated Command Prompt: `netsh int ip "
    "reset`, then `netsh winsock reset`, and restart; software that installed a provider may "
    "need reinstalling afterwards."
)
_LSP = (
    "Layered providers come from old security, VPN, proxy or parental-control software: "
    f"update or uninstall it first. {_RESET}"
)


@interpreter
def interpret(data: Data) -> Verdict:
    findings: list[Finding] = []
    providers: dict[str, int] = {}  # DLL: number of entries
    layered: dict[str, list[str]] = {}  # DLL: its layered entries
    for path in ENTRIES:
        catalog = registry_key(data, path) or {}
        for entry, values in sorted((catalog.get("subkeys") or {}).items()):
            where = path.rpartition("\\")[2] + "\\" + entry
            try:
                provider = unpack(str(values.get("PackedCatalogItem", "")))
            except ValueError as exc:
                detail = f"catalog entry {where} is unreadable ({exc})"
                findings.append(fail(causes.WINSOCK_CORRUPT, detail, _RESET))
                continue
            providers[provider.dll] = providers.get(provider.dll, 0) + 1
            if provider.layered:
                layered.setdefault(provider.dll, []).append(where)
    for dll, entries in layered.items():
        detail = f"layered provider {dll} ({len(entries)} catalog entries)"
        findings.append(warn(causes.WINSOCK_LSP, detail, _LSP))
    if not providers and not findings:
        findings.append(fail(causes.WINSOCK_CORRUPT, f"no entries under {CATALOG}", _RESET))
    evidence = {"providers": ", ".join(f"{dll} ({n})" for dll, n in providers.items()) or "none"}
    evidence |= {f"layered: {dll}": ", ".join(entries) for dll, entries in layered.items()}
    count = sum(providers.values())
    return judge(findings, f"{count} Winsock catalog entries, no layered provider", evidence)


CHECKS = (
    HostCheck(
        "winsock-catalog",
        "No layered service provider in the Winsock catalog",
        registry_collector(*(Key(path, ("PackedCatalogItem",), subkeys=True) for path in ENTRIES)),
        interpret,
    ),
)
