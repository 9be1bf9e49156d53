"""REST routes of the sales addon (wired in step 2)."""

from __future__ import annotations

from flask import Blueprint


def register(bp: Blueprint) -> None:
    return None
