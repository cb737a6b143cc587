"""Session state of the plugin, in config.stash and item.stash (imports nothing of the plugin,
so every part of it can read the state without an import cycle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

SETTINGS = pytest.StashKey["Settings"]()
ENGINE = pytest.StashKey["Engine"]()
SYSTEM_PROXY = pytest.StashKey[dict[str, str]]()  # Windows' proxy settings, as report rows
RESULT = pytest.StashKey["Result"]()  # on an item: its check's Result
RECORD = pytest.StashKey[dict[str, Any]]()  # on an item: its check's record
# The HTML report's path and pytest-html's draft of it (None once kept after a failed write)
HTML_REPORT = pytest.StashKey[tuple["Path", "Path | None"]]()


class NetcheckWarning(UserWarning):
    """A check passed with a finding the profile only warns about (e.g. TLS inspection)."""
