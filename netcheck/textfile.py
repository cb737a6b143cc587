"""Text files as people and Windows write them, read in one place.

`read_text` reads a file netcheck is given (a profile, the Microsoft 365 list, a baseline, a
PAC file, a CA bundle) up to a size limit and decodes it: UTF-8 with or without a byte order
mark (BOM), or UTF-16 with a BOM (what Windows PowerShell 5.1's `Out-File` and `>` write).
Anything else is an InputError of one line naming the file and what was found instead: UTF-16
without a BOM, UTF-32, binary data, or another encoding (`Set-Content` writes the ANSI code
page, e.g. Windows-1252). `decode` does the same for bytes from elsewhere (a downloaded PAC).
"""

from __future__ import annotations

import codecs
from pathlib import Path

MAX_BYTES = 16 << 20  # a results file of a few thousand checks from several sites fits
SAVE_AS = "save it as UTF-8 (or UTF-16 with a BOM)"


class InputError(ValueError):
    """Input netcheck cannot use. The message is one line: control characters are escaped."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


def printable(text: str) -> str:
    """`text` with every non-printable character (newlines, controls, lone surrogates) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def read_text(path: str | Path, *, limit: int = MAX_BYTES) -> str:
    """The file's text; InputError("<path>: <why>") if it is missing, unreadable, larger than
    `limit` bytes or not UTF-8/UTF-16 text."""
    where = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{where}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # a path holding a NUL byte
        raise InputError(f"{where}: cannot read: {exc}") from None
    if len(data) > limit:
        raise InputError(f"{where}: larger than {_size(limit)}, the limit for this file")
    return decode(data, where)


def decode(data: bytes, where: str) -> str:
    """`data` as text (see the module's docstring); InputError naming `where` otherwise."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise InputError(f"{where}: UTF-32 text: {SAVE_AS}")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}: not UTF-16 text (byte {exc.start})") from None
    if found := _without_bom(data):
        raise InputError(f"{where}: {found}: {SAVE_AS}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        raise InputError(
            f"{where}: not UTF-8 text (byte {exc.start} is 0x{byte:02x}: Windows-1252 or "
            f"another ANSI code page?): {SAVE_AS}"
        ) from None


def _without_bom(data: bytes) -> str | None:
    """What text with NUL bytes is: UTF-16 without a BOM (one byte of two NUL), or not text."""
    head = data[:4096]
    if 0 not in head:
        return None
    even, odd = head[::2].count(0), head[1::2].count(0)
    if min(even, odd) == 0 and max(even, odd) * 4 >= len(head):
        return f"UTF-16 {'LE' if odd else 'BE'} text without a byte order mark (BOM)"
    return f"binary data (a NUL byte at {head.index(0)}), not text"


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"
