"""The formats Windows keeps its settings in, decoded: SDDL, the Connections values, Winsock's
PackedCatalogItem, DisabledComponents and the Windows version."""

from __future__ import annotations

import struct

import pytest

from netcheck.host.base import ReadError, Reading, dword
from netcheck.host.ipv6 import describe
from netcheck.host.permissions import KEY_ALL_ACCESS, dacl, full_control
from netcheck.host.proxy import decode
from netcheck.host.tls import CURRENT_VERSION, ENVIRONMENT, protocols, windows
from netcheck.host.winsock import unpack
from netcheck.winproxy import ProxySetting

# --- SDDL ---------------------------------------------------------------------------------


def test_sddl_aces_rights_and_inheritance() -> None:
    sddl = (
        "O:BAG:SYD:PAI(A;CI;KA;;;NS)(A;CIIO;GA;;;CO)(D;;CCDC;;;S-1-5-20)"
        "(A;OICIID;0x20019;;;BU)S:AI(AU;SA;KA;;;WD)"
    )
    aces = dacl(sddl)
    assert [(a.kind, a.flags, a.mask, a.sid) for a in aces] == [
        ("A", ("CI",), KEY_ALL_ACCESS, "NS"),
        ("A", ("CI", "IO"), 0x10000000, "CO"),
        ("D", (), 0x3, "S-1-5-20"),
        ("A", ("OI", "CI", "ID"), 0x20019, "BU"),
    ]  # the SACL's audit entry is not part of the DACL
    assert [a.applies_here for a in aces] == [True, False, True, True]


@pytest.mark.parametrize(
    ("rights", "full"),
    [
        ("KA", True),
        ("GA", True),
        ("0xF003F", True),
        ("CCDCLCSWRPWPSDRCWDWO", True),
        ("KR", False),
        ("KRKW", False),
        ("0x3001f", False),
    ],
)
def test_full_control(rights: str, full: bool) -> None:
    [ace] = dacl(f"D:({'A'};;{rights};;;NS)")
    assert full_control(ace.mask) is full


@pytest.mark.parametrize("sddl", ["O:SYG:SY", "D:P(A;CI;KA)", "D:(A;;ZZ;;;NS)", "D:(A;;KAK;;;NS)"])
def test_what_is_not_a_dacl_is_refused(sddl: str) -> None:
    with pytest.raises(ValueError):
        dacl(sddl)


# --- Connections values ---------------------------------------------------------------------


def blob(flags: int, *strings: str, version: int = 0x46) -> str:
    out = struct.pack("<III", version, 12, flags)
    for text in strings:
        out += struct.pack("<I", len(text)) + text.encode()
    return (out + bytes(32)).hex()


def test_connection_settings_follow_their_flags() -> None:
    settings = decode(blob(0x0F, "proxy:8080", "<local>", "http://wpad/wpad.dat"))
    assert settings.setting == ProxySetting("proxy:8080", "<local>", "http://wpad/wpad.dat")
    assert str(settings).endswith("automatically detect settings (flags 0xf)")
    unchecked = decode(blob(0x01, "proxy:8080", "<local>", ""))  # kept, but switched off
    assert unchecked.setting == ProxySetting()
    assert unchecked.same(decode(blob(0x01, "", "", "", version=0x3C)))
    assert not unchecked.same(decode(blob(0x09, "", "", "")))


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("46000000", "4 bytes, too short"),
        (blob(0x3, "proxy:8080")[:52], "ends before the bypass list"),
        (struct.pack("<IIII", 0x46, 1, 3, 500).hex(), "claims 500 bytes, only 0 follow"),
        (blob(0x3, "pro\x00xy", "", ""), "the proxy server holds non-text bytes"),
    ],
)
def test_corrupt_connection_settings_say_what_is_wrong(value: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        decode(value)


# --- Winsock catalog items ----------------------------------------------------------------


def packed(dll: str, chain_len: int, name: str, extra: bytes = b"") -> str:
    info = bytearray(628)  # WSAPROTOCOL_INFOW
    struct.pack_into("<i", info, 40, chain_len)
    info[116 : 116 + 2 * len(name)] = name.encode("utf-16-le")
    return (dll.encode().ljust(260, b"\0") + bytes(info) + extra).hex()


def test_packed_catalog_items() -> None:
    base = unpack(packed(r"%SystemRoot%\system32\mswsock.dll", 1, "MSAFD Tcpip [TCP/IP]"))
    assert (base.dll, base.name, base.layered) == (
        r"%SystemRoot%\system32\mswsock.dll",
        "MSAFD Tcpip [TCP/IP]",
        False,
    )
    assert unpack(packed(r"C:\lsp.dll", 0, "LSP", extra=b"\1" * 16)).layered
    assert unpack(packed(r"C:\lsp.dll", 3, "LSP over TCP")).layered
    with pytest.raises(ValueError, match="impossible protocol chain"):
        unpack(packed(r"C:\x.dll", 99, "?"))
    with pytest.raises(ValueError, match="no provider path"):
        unpack(packed("", 1, "?"))


# --- DisabledComponents and protocol masks --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "IPv6 fully enabled"),
        (0, "IPv6 fully enabled"),
        (0x20, "0x20: IPv4 preferred over IPv6"),
        (0x01, "0x1: tunnel interfaces disabled"),
        (0x11, "0x11: tunnel interfaces disabled, IPv6 disabled on all non-tunnel"),
        (0xFF, "0xff: IPv6 disabled except on the loopback interface"),
        (0xFFFFFFFF, "0xffffffff: not a valid value"),
    ],
)
def test_disabled_components_in_words(value: int | None, words: str) -> None:
    assert describe(value).startswith(words)


def test_protocol_masks() -> None:
    assert protocols(0xA80) == "0xa80 (TLS 1.0, TLS 1.1, TLS 1.2)"
    assert protocols(0x2800) == "0x2800 (TLS 1.2, TLS 1.3)"
    assert protocols(0) == "0x0 (no protocol)"
    assert protocols(None) == "not set (Windows default)"


def test_registry_value_names_ignore_case() -> None:
    assert dword({"UseGlobalDNS": 1}, "UseGlobalDns") == 1
    assert dword({"UseGlobalDns": "1"}, "UseGlobalDns") is None  # a string, not a DWORD
    assert dword(None, "X") is None


# --- The Windows version --------------------------------------------------------------------


def version(values: dict, arch: str = "AMD64") -> Reading:
    return Reading(
        {
            "keys": {
                CURRENT_VERSION: {"values": values},
                ENVIRONMENT: {"values": {"PROCESSOR_ARCHITECTURE": arch}},
            }
        }
    )


def test_windows_versions() -> None:
    win11 = windows(
        version(
            {
                "CurrentMajorVersionNumber": 10,
                "CurrentMinorVersionNumber": 0,
                "CurrentVersion": "6.3",
                "CurrentBuildNumber": "26100",
                "ProductName": "Windows 10 Enterprise",
                "InstallationType": "Client",
            },
            "ARM64",
        ).data
    )
    assert (str(win11), win11.x64, win11.legacy) == (
        "Windows 11 Enterprise (10.0, build 26100)",
        True,
        False,
    )
    server = windows(
        version(
            {
                "CurrentMajorVersionNumber": 10,
                "CurrentMinorVersionNumber": 0,
                "CurrentBuildNumber": "26100",
                "InstallationType": "Server",
                "ProductName": "Windows Server 2025 Standard",
            }
        ).data
    )
    assert str(server) == "Windows Server 2025 Standard (10.0, build 26100)"
    win81 = windows(version({"CurrentVersion": "6.3", "CurrentBuildNumber": "9600"}, "x86").data)
    assert (win81.major, win81.minor, win81.legacy, win81.x64) == (6, 3, False, False)
    vista = windows(version({"CurrentVersion": "6.0", "CurrentBuildNumber": "6002"}).data)
    assert vista.too_old and not vista.legacy


def test_no_version_is_a_read_error() -> None:
    with pytest.raises(ReadError, match="no Windows version"):
        windows(version({}).data)
