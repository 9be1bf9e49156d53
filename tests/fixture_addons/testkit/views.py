"""Web pages of the fixture addon."""

from __future__ import annotations

from flask import Blueprint


def register(bp: Blueprint) -> None:
    return None
