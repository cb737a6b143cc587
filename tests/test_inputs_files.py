"""Files as Windows writes them, and files too big or too deep: every file netcheck reads
(a TOML or JSON profile, a baseline, the Microsoft 365 list for import-m365) is read whether
UTF-8, UTF-8 with a BOM or UTF-16 with a BOM; anything else, or anything beyond the limits, is
one line naming the file and what was found."""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netcheck import baseline, profile, results
from netcheck.__main__ import main
from netcheck.textfile import InputError, read_text
from tests.test_baseline import RECORD

TOML = '[profile]\nname = "café ✓"\n[[endpoint]]\nurl = "https://a.example/"\nnotes = "naïve"\n'
M365 = json.dumps(
    [{"id": 1, "urls": ["a.example"], "tcpPorts": "443", "notes": "café ✓"}], ensure_ascii=False
)
BASELINE = json.dumps(
    {"schema": results.SCHEMA, "version": results.VERSION, "created": "é", "results": [RECORD]},
    ensure_ascii=False,
)
# kind -> (file name, text, how it is read)
KINDS: dict[str, tuple[str, str, Callable[[Path], Any]]] = {
    "toml profile": ("p.toml", TOML, profile.load),
    "m365 profile": ("p.json", M365, profile.load),
    "baseline": ("r.json", BASELINE, baseline.load),
}
READABLE = {
    "UTF-8": lambda t: t.encode(),
    "UTF-8 with BOM": lambda t: codecs.BOM_UTF8 + t.encode(),
    "UTF-16 LE with BOM (PowerShell 5.1 Out-File)": lambda t: (
        codecs.BOM_UTF16_LE + t.replace("\n", "\r\n").encode("utf-16-le")
    ),
    "UTF-16 BE with BOM": lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
}
UNREADABLE = {
    "UTF-16 LE without BOM": (
        lambda t: t.encode("utf-16-le"),
        "UTF-16 LE text without a byte order mark (BOM): save it as UTF-8 (or UTF-16 with a BOM)",
    ),
    "UTF-32": (lambda t: t.encode("utf-32"), "UTF-32 text: save it as UTF-8"),
    "Windows-1252 (Set-Content)": (
        lambda t: t.encode("cp1252", errors="replace"),
        "not UTF-8 text (byte ",  # the first é
    ),
    "binary": (lambda t: b"\x00\x01\x02" + t.encode(), "binary data (a NUL byte at 0), not text"),
    "UTF-16 cut in a pair": (
        lambda t: codecs.BOM_UTF16_LE + "\U0001f600".encode("utf-16-le")[:2] + b"a\x00",
        "not UTF-16 text (byte 2)",
    ),
}


@pytest.mark.parametrize("encoding", READABLE)
@pytest.mark.parametrize("kind", KINDS)
def test_windows_encodings_are_read(tmp_path: Path, kind: str, encoding: str) -> None:
    name, text, read = KINDS[kind]
    path = tmp_path / name
    path.write_bytes(READABLE[encoding](text))
    assert read(path)


@pytest.mark.parametrize("encoding", UNREADABLE)
@pytest.mark.parametrize("kind", KINDS)
def test_other_encodings_are_one_line_naming_file_and_encoding(
    tmp_path: Path, kind: str, encoding: str
) -> None:
    name, text, read = KINDS[kind]
    encode, message = UNREADABLE[encoding]
    path = tmp_path / name
    path.write_bytes(encode(text))
    with pytest.raises(InputError) as err:
        read(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)


def test_import_m365_reads_utf16_and_refuses_ansi(tmp_path: Path, capsys) -> None:
    utf16, ansi, out = tmp_path / "utf16.json", tmp_path / "ansi.json", tmp_path / "o.toml"
    utf16.write_bytes(READABLE["UTF-16 LE with BOM (PowerShell 5.1 Out-File)"](M365))
    assert main(["import-m365", str(utf16), "-o", str(out)]) == 0
    assert [e.url for e in profile.load(out).endpoints] == ["https://a.example/"]
    ansi.write_bytes(M365.encode("cp1252", errors="replace"))
    assert main(["import-m365", str(ansi), "-o", str(out)]) == 2
    (line,) = capsys.readouterr().err.splitlines()[1:]
    assert line.startswith(f"error: {ansi}: not UTF-8 text (byte ")


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text(TOML)
    with path.open("r+b") as f:
        f.truncate(17 << 20)  # sparse: NUL bytes past the text
    with pytest.raises(profile.ProfileError) as err:
        profile.load(path)
    assert str(err.value) == f"{path}: larger than 16 MiB, the limit for this file"
    path.write_text("0123456789")
    assert read_text(path, limit=10) == "0123456789"
    with pytest.raises(InputError, match=r"larger than 9 bytes, the limit for this file$"):
        read_text(path, limit=9)


def nested(left: str, right: str, levels: int) -> str:
    return left * levels + right * levels


DEEP = [
    ("toml thousands deep", "p.toml", TOML + "x = " + nested("[", "]", 5000), "TOML nested deeper"),
    (
        "toml 40 deep in an entry",
        "p.toml",
        TOML.replace('notes = "naïve"', "notes = " + nested("[", "]", 40)),
        "endpoint[0] (https://a.example/): key 'notes': nested deeper than 32 levels",
    ),
    ("m365 thousands deep", "p.json", nested("[", "]", 100_000), "JSON nested deeper"),
    (
        "m365 40 deep in a set",
        "p.json",
        M365.replace('"443"', nested("[", "]", 40)),
        "endpoint set [0] (id 1): key 'tcpPorts': nested deeper than 32 levels",
    ),
    ("baseline thousands deep", "r.json", nested('{"a":', "}", 100_000), "JSON nested deeper"),
]


@pytest.mark.parametrize(
    ("name", "text", "message"), [d[1:] for d in DEEP], ids=[d[0] for d in DEEP]
)
def test_deep_nesting_is_one_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    read = profile.load if name.startswith("p.") else baseline.load
    with pytest.raises(InputError) as err:
        read(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)


def test_unreadable_paths(tmp_path: Path) -> None:
    for path, message in {
        tmp_path / "missing.toml": "no such file",
        tmp_path: "is a directory, not a file",
    }.items():
        with pytest.raises(InputError) as err:
            read_text(path)
        assert str(err.value) == f"{path}: {message}"
    with pytest.raises(InputError) as err:
        read_text(tmp_path / "a\x00b")  # its message, on one line, shows the NUL as \x00
    assert str(err.value) == f"{tmp_path}/a\\x00b: cannot read: embedded null byte"
