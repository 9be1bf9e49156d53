"""Server-rendered pages: the base layout, the menu built from installed addons, error pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, render_template
from sqlalchemy import select

from core.models import Menu


def menu_items() -> list[Menu]:
    """Menus of installed addons the current user may see, in sequence order."""
    if "mosaic_menus" not in g:
        state = current_app.extensions["mosaic"]
        session = state.db.session
        rows = session.scalars(select(Menu).order_by(Menu.sequence, Menu.label)).all()
        allowed = current_app.extensions.get("mosaic_permission_check")
        g.mosaic_menus = [
            m for m in rows if allowed is None or m.permission is None or allowed(m.permission)
        ]
    return g.mosaic_menus


def html_error(status: int, detail: str) -> Any:
    return render_template("core/error.html", status=status, detail=detail), status


def init_web(app: Flask) -> None:
    app.jinja_env.globals.update(menu_items=menu_items)
    app.jinja_env.autoescape = True
