"""Web pages of the contacts addon (wired to core.resources once it lands)."""

from __future__ import annotations

from typing import Any


def register(bp: Any) -> None:
    return None
