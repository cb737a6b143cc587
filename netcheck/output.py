"""Files netcheck writes (the HTML report, results.json, JUnit XML, metrics), replaced in one
step: a reader sees the old file or the new one, never part of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str, *, make_dir: bool = True) -> None:
    """Replace `path` with `text`: a temporary file in the same directory (os.replace cannot
    cross file systems), flushed to disk, made world-readable (node_exporter and web servers
    read it as their own user), renamed over `path`. Raises OSError; leaves no temporary file.
    Without `make_dir`, a missing directory is an error (a misspelt target directory must
    not go unnoticed)."""
    if make_dir:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())  # the data is on disk before the name points at it
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone once renamed; left over by any failure
