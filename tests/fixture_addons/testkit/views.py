"""Web pages of the fixture addon: the generated gadget pages."""

from __future__ import annotations

from flask import Blueprint

from core.resources import register_resource

from .api import gadgets


def register(bp: Blueprint) -> None:
    register_resource(None, bp, gadgets)
